"""Group welcome template routes of AdminFunction in-process (payload 2.0 events) against moto and the simulator.

Validation answers 400 naming the field before WeCom sees anything; WeCom's refusals keep their errcode (cap →
409 with the count, another app's template → 403); the mirror never changes when WeCom refuses, and when the
mirror write fails after WeCom succeeded, ``reconcile`` reports the drift and ``repair`` fixes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from tests.support import call_json, function_under_test
from wecom_bundle import runtime
from wecom_bundle.group_templates import repo
from wecom_bundle.group_templates.reconcile import INTENT_GRACE_MS

pytestmark = pytest.mark.usefixtures("moto_table")
BASE = "/admin/group-welcome-templates"
LINK = {"title": "t", "url": "https://example.com/"}
MINI = {"title": "t", "pic_media_id": "m", "appid": "wx1", "page": "/p"}


@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


@pytest.fixture
def call(admin: Any) -> Any:
    def _call(method: str, path: str, body: Any = None, *, raw: str | None = None) -> tuple[int, Any]:
        parts = path.split("/")
        params = {"template_id": parts[3]} if len(parts) > 3 and parts[3] != "reconcile" else None
        return call_json(admin, method, path, body, params=params, raw=raw)

    return _call


def _wecom_calls(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return [c for c in calls(sim.state) if "group_welcome_template" in c["path"]]


def _sim_templates(sim: SimulatorHandle) -> dict[str, Any]:
    with sim.state.lock:
        return {t.template_id: dict(t.content) for t in sim.state.templates.values()}


def _other_app_template(sim: SimulatorHandle, text: str = "other") -> str:
    answer = requests.post(
        f"{sim.url}/__sim/group_welcome_templates", json={"text": {"content": text}}, timeout=5
    )
    answer.raise_for_status()
    return str(answer.json()["template_id"])


def _fault(sim: SimulatorHandle, api: str, **fault: Any) -> None:
    requests.post(
        f"{sim.url}/__sim/faults", json={"path": f"group_welcome_template/{api}", **fault}, timeout=5
    ).raise_for_status()


class _FailingRepo:
    """The mirror's repository with one write failing as DynamoDB would; everything else is ``base``."""

    def __init__(self, base: Any, failing: str) -> None:
        self.base, self.failing = base, failing

    def __getattr__(self, name: str) -> Any:
        if name != self.failing:
            return getattr(self.base, name)

        def fail(*_args: Any, **_kwargs: Any) -> None:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, name)

        return fail


@contextmanager
def _storage_fault(*names: str) -> Iterator[None]:
    """The admin function gets a service (installed in the wiring) whose mirror writes ``names`` fail."""
    current = runtime.group_templates()
    failing = current.repo
    for name in names:
        failing = _FailingRepo(failing, name)
    with runtime.overriding(group_templates=dataclasses.replace(current, repo=failing)):
        yield


def _upload(kind: str) -> str:
    """A media id the simulator knows (it checks every media id a template names)."""
    files = {"media": (f"x.{kind}", b"\x89PNG fake bytes", "application/octet-stream")}
    answer = runtime.wecom_client().call("POST", "media/upload", params={"type": kind}, files=files)
    return str(answer["media_id"])


def _create(call: Any, text: str = "欢迎 %NICKNAME%", **parts: Any) -> dict[str, Any]:
    status, doc = call("POST", BASE, {"text": {"content": text}, **parts})
    assert status == 201, doc
    return doc


# ------------------------------------------------------------------------------------------------ validation
VALIDATION_MATRIX = [
    ({}, "text"),
    ({"text": {"content": ""}}, "text"),
    ({"text": {"content": "好" * 1001}}, "text.content"),  # 3003 bytes in UTF-8
    ({"text": {"content": "x"}, "colour": "red"}, "colour"),
    ({"text": {"content": "x", "extra": 1}}, "text.extra"),
    ({"text": "hello"}, "text"),
    ({"link": {"title": "t" * 129, "url": "https://x/"}}, "link.title"),
    ({"link": {"title": "t", "url": "https://x/", "desc": "d" * 513}}, "link.desc"),
    ({"link": {"title": "t"}}, "link.url"),
    ({"link": {"url": "https://x/"}}, "link.title"),
    ({"miniprogram": {**MINI, "title": "标" * 22}}, "miniprogram.title"),  # 66 bytes
    *[({"miniprogram": {k: v for k, v in MINI.items() if k != key}}, f"miniprogram.{key}") for key in MINI],
    ({"image": {}}, "image.media_id"),
    ({"file": {}}, "file.media_id"),
    ({"video": {"media_id": ""}}, "video.media_id"),
    ({"image": {"pic_url": "https://x/y.png"}, "link": LINK}, "link"),
    ({"link": LINK, "miniprogram": MINI}, "miniprogram"),
    ({"file": {"media_id": "f"}, "video": {"media_id": "v"}}, "video"),
    ({"text": {"content": "x"}, "notify": 2}, "notify"),
    ({"text": {"content": "x"}, "notify": True}, "notify"),
    ({"text": {"content": "x"}, "agentid": "1000014"}, "agentid"),
]


@pytest.mark.parametrize(("body", "field"), VALIDATION_MATRIX)
def test_invalid_create_is_400_naming_the_field_and_reaches_nobody(
    call: Any, wecom_sim: SimulatorHandle, body: dict[str, Any], field: str
) -> None:
    status, doc = call("POST", BASE, body)
    assert status == 400, doc
    assert doc["error"]["code"] == "invalid_request"
    assert doc["error"]["field"] == field
    assert _wecom_calls(wecom_sim) == []
    assert repo.list_group_templates() == [] and repo.group_template_intents() == []


@pytest.mark.usefixtures("wecom_sim")
def test_several_parts_are_refused_with_wecoms_silent_priority_explained(call: Any) -> None:
    status, doc = call("POST", BASE, {"text": {"content": "x"}, "video": {"media_id": "v"}, "link": LINK})
    assert status == 400
    message = doc["error"]["message"]
    assert "silently keep only link" in message
    assert "image > link > miniprogram > file > video" in message
    assert "drop video" in message


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("PUT", {"text": {"content": "x"}, "notify": 0}, "notify"),
        ("PUT", {"link": {"title": "t"}}, "link.url"),
    ],
)
def test_invalid_edit_is_400_and_changes_nothing(
    call: Any, wecom_sim: SimulatorHandle, method: str, body: dict[str, Any], field: str
) -> None:
    created = _create(call, "before")
    before = repo.get_group_template(created["template_id"])
    status, doc = call(method, f"{BASE}/{created['template_id']}", body)
    assert (status, doc["error"]["field"]) == (400, field)
    assert repo.get_group_template(created["template_id"]) == before
    assert [c["path"].rsplit("/", 1)[1] for c in _wecom_calls(wecom_sim)] == ["add"]


@pytest.mark.usefixtures("wecom_sim")
def test_bad_json_body_is_400(call: Any) -> None:
    assert call("POST", BASE, raw="{not json")[1]["error"]["field"] == "body"
    assert call("POST", BASE, [1])[1]["error"]["field"] == "body"


# ------------------------------------------------------------------------------------------------ happy path
def test_create_get_list_edit_delete_are_mirrored(call: Any, wecom_sim: SimulatorHandle) -> None:
    created = _create(call, "欢迎 %NICKNAME%", link=LINK, notify=0)
    template_id = created["template_id"]
    assert created["warnings"] == [] and created["mirrored"] is True
    assert _sim_templates(wecom_sim)[template_id] == {"text": {"content": "欢迎 %NICKNAME%"}, "link": LINK}
    record = repo.get_group_template(template_id)
    assert record is not None
    assert record["content"] == {"text": {"content": "欢迎 %NICKNAME%"}, "link": LINK}
    assert (record["notify"], record["origin"], record["created_by_app"]) == (0, "admin_api", True)
    assert record["created_at_ms"] <= record["updated_at_ms"]
    assert repo.group_template_intents() == []

    status, got = call("GET", f"{BASE}/{template_id}")
    assert status == 200
    assert (got["text"], got["link"], got["notify"], got["in_sync"]) == (
        {"content": "欢迎 %NICKNAME%"}, LINK, 0, True,
    )  # fmt: skip
    status, listed = call("GET", BASE)
    assert (status, [t["template_id"] for t in listed["items"]], listed["count"]) == (200, [template_id], 1)

    mini = {**MINI, "pic_media_id": _upload("image")}
    status, edited = call("PUT", f"{BASE}/{template_id}", {"text": {"content": "Hi"}, "miniprogram": mini})
    assert status == 200, edited
    assert _sim_templates(wecom_sim)[template_id] == {"text": {"content": "Hi"}, "miniprogram": mini}
    after = repo.get_group_template(template_id)
    assert after is not None
    assert after["content"] == {"text": {"content": "Hi"}, "miniprogram": mini}
    assert (after["notify"], after["created_at_ms"]) == (0, record["created_at_ms"])  # kept from creation

    status, _ = call("DELETE", f"{BASE}/{template_id}")
    assert status == 204
    assert template_id not in _sim_templates(wecom_sim)
    assert repo.get_group_template(template_id) is None
    assert call("GET", f"{BASE}/{template_id}")[0] == 404


@pytest.mark.usefixtures("wecom_sim")
def test_an_image_by_media_id_stays_in_sync_although_wecom_answers_a_url(call: Any) -> None:
    media_id = _upload("image")
    template_id = _create(call, "pic", image={"media_id": media_id})["template_id"]
    status, got = call("GET", f"{BASE}/{template_id}")
    assert status == 200
    assert got["image"] == {"media_id": media_id}  # the mirror's source content
    assert set(got["wecom"]["image"]) == {"pic_url"} and got["in_sync"] is True
    assert repo.get_group_template(template_id)["content"]["image"] == {"media_id": media_id}  # type: ignore[index]
    assert call("POST", f"{BASE}/reconcile")[1]["in_sync"] is True


def test_notify_defaults_to_wecoms_default(call: Any, wecom_sim: SimulatorHandle) -> None:
    created = _create(call)
    assert created["notify"] == 1
    (add,) = [c for c in _wecom_calls(wecom_sim) if c["path"].endswith("/add")]
    assert "notify" not in add["body"]  # WeCom's own default applies


@pytest.mark.parametrize("spelling", ["%nickname%", "%Nickname%", "%NICKname%"])
def test_wrongly_cased_nickname_is_created_with_a_warning(
    call: Any, wecom_sim: SimulatorHandle, spelling: str
) -> None:
    created = _create(call, f"Hi {spelling} and %NICKNAME%")
    (warning,) = created["warnings"]
    assert spelling in warning and "case-sensitive" in warning
    assert created["template_id"] in _sim_templates(wecom_sim)


# ------------------------------------------------------------------------------------------------ WeCom refusals
def test_the_101st_template_is_409_with_errcode_and_count(call: Any, wecom_sim: SimulatorHandle) -> None:
    for i in range(40):
        _other_app_template(wecom_sim, f"other {i}")
    ours = [_create(call, f"ours {i}")["template_id"] for i in range(60)]
    status, doc = call("POST", BASE, {"text": {"content": "one too many"}})
    assert status == 409
    error = doc["error"]
    assert (error["code"], error["errcode"], error["count"], error["limit"]) == (
        "template_limit_reached", 41055, 60, 100,
    )  # fmt: skip
    assert "at most 100" in error["message"]
    assert sorted(t["template_id"] for t in repo.list_group_templates()) == sorted(ours)
    assert repo.group_template_intents() == []  # the refused add left no intent


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_another_apps_template_is_403_with_wecoms_errcode(
    call: Any, wecom_sim: SimulatorHandle, method: str
) -> None:
    template_id = _other_app_template(wecom_sim, "theirs")
    status, doc = call(
        method, f"{BASE}/{template_id}", {"text": {"content": "mine"}} if method == "PUT" else None
    )
    assert status == 403
    assert (doc["error"]["code"], doc["error"]["errcode"]) == ("not_template_owner", 48002)
    assert "only the app that created" in doc["error"]["message"]
    assert _sim_templates(wecom_sim)[template_id] == {"text": {"content": "theirs"}}
    assert repo.get_group_template(template_id) is None
    status, got = call("GET", f"{BASE}/{template_id}")  # reading is allowed
    assert (status, got["mirrored"], got["text"]) == (200, False, {"content": "theirs"})


@pytest.mark.usefixtures("wecom_sim")
def test_unknown_template_is_404_with_errcode(call: Any) -> None:
    for method in ("GET", "DELETE"):
        status, doc = call(method, f"{BASE}/msgUNKNOWN")
        assert (status, doc["error"]["errcode"]) == (404, 40037)


def test_delete_of_a_template_already_gone_in_wecom_cleans_the_mirror(
    call: Any, wecom_sim: SimulatorHandle
) -> None:
    template_id = _create(call)["template_id"]
    with wecom_sim.state.lock:
        del wecom_sim.state.templates[template_id]  # e.g. deleted in the admin console
    assert call("DELETE", f"{BASE}/{template_id}")[0] == 204
    assert repo.get_group_template(template_id) is None


# ------------------------------------------------------------------------------------------------ mirror consistency
@pytest.mark.parametrize("fault", [{"errcode": 45009}, {"errcode": 40058}, {"http_status": 502}])
def test_failed_wecom_calls_leave_the_mirror_unchanged(
    call: Any, wecom_sim: SimulatorHandle, fault: dict[str, Any]
) -> None:
    template_id = _create(call, "kept")["template_id"]
    before = repo.list_group_templates()
    for api, method, body in (
        ("edit", "PUT", {"text": {"content": "changed"}}),
        ("del", "DELETE", None),
    ):
        _fault(wecom_sim, api, **fault)
        status, doc = call(method, f"{BASE}/{template_id}", body)
        assert status in (400, 503), doc
        assert doc["error"].get("errcode") == fault.get("errcode")
    _fault(wecom_sim, "add", **fault)
    status, doc = call("POST", BASE, {"text": {"content": "new"}})
    assert status in (400, 503)
    assert repo.list_group_templates() == before
    assert _sim_templates(wecom_sim) == {template_id: {"text": {"content": "kept"}}}
    # a refusal ends the add's intent; no answer keeps it (the add may have landed) for reconcile
    assert len(repo.group_template_intents()) == (1 if "http_status" in fault else 0)


def test_add_whose_mirror_write_fails_is_reported_and_repaired(call: Any, wecom_sim: SimulatorHandle) -> None:
    with _storage_fault("record_group_template_added"):
        created = _create(call, "lost")
    assert created["mirrored"] is False
    assert any("reconcile" in w for w in created["warnings"])
    template_id = created["template_id"]
    assert template_id in _sim_templates(wecom_sim)
    assert call("GET", BASE)[1]["items"] == []

    status, report = call("POST", f"{BASE}/reconcile")
    assert status == 200
    assert report["in_sync"] is False
    assert [(d["kind"], d["template_id"]) for d in report["drift"]] == [("missing_in_mirror", template_id)]
    assert repo.get_group_template(template_id) is None  # a report alone repairs nothing

    status, repaired = call("POST", f"{BASE}/reconcile", {"repair": True})
    assert (status, repaired["drift"][0]["repaired"]) == (200, True)
    record = repo.get_group_template(template_id)
    assert record is not None
    assert (record["content"], record["created_by_app"]) == ({"text": {"content": "lost"}}, True)
    assert repo.group_template_intents() == []
    assert call("POST", f"{BASE}/reconcile")[1]["in_sync"] is True


@pytest.mark.usefixtures("wecom_sim")
def test_edit_and_delete_whose_mirror_write_fails_are_reported_and_repaired(call: Any) -> None:
    edited_id = _create(call, "old")["template_id"]
    deleted_id = _create(call, "doomed")["template_id"]
    with _storage_fault("put_group_template", "delete_group_template"):
        status, edited = call("PUT", f"{BASE}/{edited_id}", {"text": {"content": "new"}})
        assert (status, edited["mirrored"]) == (200, False)
        status, deleted = call("DELETE", f"{BASE}/{deleted_id}")
        assert (status, deleted["mirrored"], deleted["deleted"]) == (200, False, True)

    report = call("POST", f"{BASE}/reconcile")[1]
    kinds = {d["template_id"]: d for d in report["drift"]}
    assert kinds[edited_id]["kind"] == "content_differs"
    assert (kinds[edited_id]["mirror"], kinds[edited_id]["wecom"]) == (
        {"text": {"content": "old"}}, {"text": {"content": "new"}},
    )  # fmt: skip
    assert kinds[deleted_id]["kind"] == "missing_in_wecom"

    call("POST", f"{BASE}/reconcile", {"repair": True})
    record = repo.get_group_template(edited_id)
    assert record is not None and record["content"] == {"text": {"content": "new"}}
    assert repo.get_group_template(deleted_id) is None
    assert call("POST", f"{BASE}/reconcile")[1]["in_sync"] is True


@pytest.mark.usefixtures("wecom_sim")
def test_add_whose_answer_is_lost_is_reported_after_the_grace_period(call: Any) -> None:
    with _storage_fault("record_group_template_added", "note_group_template_intent_id"):
        created = _create(call, "unnamed")
    assert created["mirrored"] is False
    fresh = call("POST", f"{BASE}/reconcile")[1]
    assert (fresh["drift"], fresh["in_flight"]) == ([], 1)  # may still be waiting for WeCom

    (intent,) = repo.group_template_intents()
    later = int(intent["started_at_ms"]) + INTENT_GRACE_MS
    reconciler = dataclasses.replace(runtime.group_template_reconcile(), clock_ms=lambda: later)
    report = reconciler.reconcile({"repair": True})
    (drift,) = report["drift"]
    assert (drift["kind"], drift["template_id"], drift["mirror"]) == (
        "add_unconfirmed", None, {"text": {"content": "unnamed"}},
    )  # fmt: skip
    assert "admin console" in drift["repair"]
    assert repo.group_template_intents() == []


def test_reconcile_reports_templates_wecom_could_not_answer_for(
    call: Any, wecom_sim: SimulatorHandle
) -> None:
    template_id = _create(call)["template_id"]
    _fault(wecom_sim, "get", http_status=502)
    report = call("POST", f"{BASE}/reconcile", {"repair": True})[1]
    assert report["drift"] == []
    assert [u["template_id"] for u in report["unchecked"]] == [template_id]
    assert report["in_sync"] is False
    assert repo.get_group_template(template_id) is not None


@pytest.mark.usefixtures("wecom_sim")
@pytest.mark.parametrize("body", [{"repair": "yes"}, {"fix": True}, [True]])
def test_reconcile_body_is_validated(call: Any, body: Any) -> None:
    status, doc = call("POST", f"{BASE}/reconcile", body)
    assert status == 400
    assert doc["error"]["field"] in ("repair", "body")


_SCALAR = st.none() | st.booleans() | st.integers(-5, 2**40) | st.text(max_size=8)
_PART = st.dictionaries(
    st.sampled_from(
        ["media_id", "pic_url", "title", "url", "desc", "picurl", "appid", "page", "pic_media_id"]
    ),
    _SCALAR,
    max_size=4,
)
_BODY = st.dictionaries(
    st.sampled_from(["text", "image", "link", "miniprogram", "file", "video", "notify", "agentid", "other"]),
    _SCALAR | _PART | st.fixed_dictionaries({"content": _SCALAR}),
    max_size=4,
)


@pytest.mark.usefixtures("wecom_sim")
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_BODY)
def test_fuzzed_template_writes_never_answer_5xx(call: Any, body: Any) -> None:
    status, doc = call("POST", BASE, body)
    assert status in (201, 400), doc
    if status == 400:
        assert set(doc["error"]) >= {"code", "message"}
        assert repo.group_template_intents() == []
    else:
        assert repo.get_group_template(doc["template_id"]) is not None
        assert call("DELETE", f"{BASE}/{doc['template_id']}")[0] == 204
