"""SnapStart hooks: the snapshot holds code and botocore models, never a secret, a token or a connection."""

from __future__ import annotations

import gc
import secrets
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from local.events import callback_get_event
from local.settings import DEV_DEFAULTS
from tests.support import function_under_test
from wecom_bundle import aws, config, runtime, snapstart
from wecom_bundle.callback import keys as callback_keys
from wecom_bundle.dynamo import client as dynamo_client


def _holds(values: Any, needle: str) -> bool:
    # Strict: a str equal to the needle (``unittest.mock.ANY`` compares equal to everything).
    return any(type(value) is str and value == needle for value in values)


def _holders_of(needle: str) -> list[str]:
    """Names of live containers (dicts, lists, tuples, sets, objects' __dict__) that hold ``needle``."""
    gc.collect()
    found = []
    for obj in gc.get_objects():
        if isinstance(obj, dict):
            hit = _holds(obj.values(), needle) or _holds(obj.keys(), needle)
        elif isinstance(obj, list | tuple | set | frozenset):
            hit = _holds(obj, needle)
        else:
            try:  # proxies (e.g. Flask's, from moto's server) may refuse even to show their __dict__
                attributes = object.__getattribute__(obj, "__dict__")
            except Exception:
                attributes = None
            hit = isinstance(attributes, dict) and _holds(attributes.values(), needle)
        if hit:
            found.append(type(obj).__name__)
    return found


Halves = dict[str, tuple[str, str]]


@pytest.fixture
def deployed(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, moto_table: Any) -> Iterator[Halves]:  # noqa: ARG001
    """Deployed settings whose token and corp secret exist, whole, only inside the layer: the test keeps
    halves and joins them only to search for them. The container's settings cache reads the secret through
    ``from_secret`` (in force through ``runtime.overriding``; the previous cache is back afterwards)."""
    halves = {
        "token": ("tok" + secrets.token_hex(4), secrets.token_hex(4)),
        "corp_secret": ("sec-" + secrets.token_hex(6), secrets.token_hex(6)),
    }
    for name in ("WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("WECOM_SECRET_ID", "arn:aws:secretsmanager:us-east-1:123456789012:secret:wecom")

    def from_secret(_secret_id: str) -> dict[str, str | None]:
        return {
            "WECOM_CORP_ID": DEV_DEFAULTS["WECOM_CORP_ID"],
            "WECOM_CORP_SECRET": "".join(halves["corp_secret"]),
            "WECOM_CALLBACK_TOKEN": "".join(halves["token"]),
            "WECOM_ENCODING_AES_KEY": DEV_DEFAULTS["WECOM_ENCODING_AES_KEY"],
        }

    with runtime.overriding(settings=config.SettingsCache(load=lambda: config.load_settings(from_secret))):
        yield halves


def _verify(handler: Any, halves: Halves) -> int:
    env = {**DEV_DEFAULTS, "WECOM_CALLBACK_TOKEN": "".join(halves["token"])}
    return int(handler(callback_get_event(env))["statusCode"])


def test_before_snapshot_loads_code_and_models_and_keeps_no_secret_client_or_connection(
    deployed: Halves,
) -> None:
    handler = function_under_test("CallbackFunction")
    assert _verify(handler, deployed) == 200  # an init that did serve a request
    runtime.wecom_client()  # a token provider and an HTTP session
    dynamo_client.client()  # a DynamoDB client
    assert _holders_of("".join(deployed["token"])) and _holders_of("".join(deployed["corp_secret"]))
    loader = aws.session().get_component("data_loader")

    snapstart.before_snapshot()

    assert _holders_of("".join(deployed["token"])) == []
    assert _holders_of("".join(deployed["corp_secret"])) == []
    assert runtime._client is None and dynamo_client._client is None and callback_keys._built == []
    assert config.settings._value is None
    assert aws.session().get_component("data_loader") is loader  # models kept ...
    assert aws.session()._credentials is None  # ... credentials not
    for name in snapstart.WARM_MODULES:
        assert name in sys.modules

    snapstart.after_restore()
    assert _verify(handler, deployed) == 200  # the first request after a restore reads the secret again


def test_register_uses_the_runtime_hooks_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    assert snapstart.register() is False  # no snapshot_restore_py outside Lambda: nothing registered
    registered: dict[str, Any] = {}
    fake = types.ModuleType("snapshot_restore_py")
    fake.register_before_snapshot = lambda fn: registered.setdefault("before", fn)  # type: ignore[attr-defined]
    fake.register_after_restore = lambda fn: registered.setdefault("after", fn)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)
    assert snapstart.register() is True
    assert registered == {"before": snapstart.before_snapshot, "after": snapstart.after_restore}
