"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import calendar
import functools
import importlib.util
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local.events import http_event
from local.lambda_runtime import load_handler, make_context
from local.settings import DEV_DEFAULTS
from local.template import REPO_ROOT, load_template
from local.wecom_sim.server import SimulatorConfig, SimulatorHandle, start_simulator
from wecom_bundle.domain_errors import DomainError, InvalidField, NotFound

ADMIN_REFUSALS = Path(__file__).resolve().parents[1] / "functions" / "admin" / "refusals.py"


def function_under_test(logical_id: str) -> Callable[[dict[str, Any]], Any]:
    """The handler template.yaml declares for ``logical_id``, imported fresh (like a cold container) by the
    local runtime, called with a Lambda-like context."""
    spec = load_template().functions[logical_id]
    handler = load_handler(spec)
    return lambda event: handler(event, make_context(spec))


# What the callback's first GET must not load (Powertools itself imports the bare ``botocore`` package).
SDK_MODULES = (
    "boto3",
    "botocore.session",
    "botocore.client",
    "botocore.auth",
    "aws_lambda_powertools.utilities.parameters",
)
_FIRST_ANSWER = (
    "import json, sys\n"
    f"sys.path[:0] = [{str(REPO_ROOT / 'functions/callback')!r}, {str(REPO_ROOT / 'layers/shared')!r}]\n"
    "import app\n"
    "class Context:\n"
    "    function_name, memory_limit_in_mb, aws_request_id = 'cb', 1024, 'r'\n"
    "    invoked_function_arn = 'arn:aws:lambda:us-east-1:000000000000:function:cb'\n"
    "answer = app.lambda_handler(json.loads(sys.stdin.read()), Context())\n"
    f"print(json.dumps({{'answer': answer, 'loaded': [m for m in {SDK_MODULES!r} if m in sys.modules]}}))\n"
)


def first_callback_answer(event: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """The callback's answer to ``event`` in a fresh interpreter with only ``environ`` (a cold start), and
    which of ``SDK_MODULES`` it loaded: ``{"answer": ..., "loaded": [...]}``."""
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_ANSWER],
        input=json.dumps(event),
        env={"PATH": "/usr/bin:/bin", "POWERTOOLS_SERVICE_NAME": "test", **environ},
        capture_output=True,
        text=True,
        check=True,
    )
    doc: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return doc


def admin_document() -> dict[str, Any]:
    """The OpenAPI document the admin function serves (generated from its models)."""
    status, doc = call_json(function_under_test("AdminFunction"), "GET", "/admin/openapi.json")
    assert status == 200, doc
    return dict(doc)


def call_json(
    handler: Callable[[dict[str, Any]], Any],
    method: str,
    path: str,
    body: Any = None,
    *,
    params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw: str | None = None,
) -> tuple[int, Any]:
    """One JSON request to an HTTP handler as a payload 2.0 event: (status, decoded body or None)."""
    payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
    answer = handler(http_event(method, path, query, payload, {"content-type": "application/json"}, params))
    text = answer.get("body") or ""
    return answer["statusCode"], json.loads(text) if text else None


def dev_simulator(corp_secret: str | None = None) -> SimulatorHandle:
    """A WeCom simulator on a free loopback port with the dev settings (optionally another app secret)."""
    return start_simulator(
        SimulatorConfig(
            DEV_DEFAULTS["WECOM_CORP_ID"],
            corp_secret or DEV_DEFAULTS["WECOM_CORP_SECRET"],
            DEV_DEFAULTS["WECOM_CALLBACK_TOKEN"],
            DEV_DEFAULTS["WECOM_ENCODING_AES_KEY"],
        )
    )


def emf_records(out: str, metric: str) -> list[dict[str, Any]]:
    """The CloudWatch Embedded Metric Format records in captured stdout that carry ``metric``."""
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [record for record in records if metric in record]


def metric_dimensions(record: dict[str, Any]) -> list[list[str]]:
    """An EMF record's dimension sets, each sorted (CloudWatch matches an alarm on the exact set)."""
    return [sorted(dims) for dims in record["_aws"]["CloudWatchMetrics"][0]["Dimensions"]]


def sim_control(sim: SimulatorHandle, path: str, body: dict[str, Any]) -> Any:
    """POST ``body`` to the simulator's test-control API (``/__sim/{path}``); its JSON answer (an error
    status raises)."""
    import requests

    answer = requests.post(f"{sim.url}/__sim/{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


def race(workers: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` on ``workers`` threads released together; results in worker order; no errors."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [], errors
    return results


def table_snapshot(table: Any) -> list[dict[str, Any]]:
    """Every item of a (small, test) DynamoDB table, in key order: compare before and after a refused
    request to show it changed nothing."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda item: (str(item.get("pk")), str(item.get("sk"))))


def no_sleep(_seconds: float) -> None:
    """Retries without pauses (a test asserts what is retried, not how long it waits)."""


def campaign_deps(**changes: Any) -> Any:
    """The campaign services' collaborators as ``runtime`` wires them, retrying without pauses; ``changes``
    replaces fields (smaller chunks, a repository with a fault injected: see ``Overriding``)."""
    import dataclasses

    from wecom_bundle import runtime

    return dataclasses.replace(runtime.campaign_deps(), **{"sleep": no_sleep, **changes})


def sync_deps(campaigns: Any = None, **changes: Any) -> Any:
    """The result sync's collaborators as ``runtime`` wires them, backing off without pauses, with
    ``campaigns`` (default: ``campaign_deps()``) for the campaign side; ``changes`` replaces fields."""
    import dataclasses

    from wecom_bundle import runtime

    fields = {"sleep": no_sleep, "campaigns": campaigns or campaign_deps(), **changes}
    return dataclasses.replace(runtime.sync_deps(), **fields)


class Overriding:
    """A repository (module) with some functions replaced, every other one the real one: how a test
    injects a fault into one access pattern without patching the module."""

    def __init__(self, real: Any, **functions: Callable[..., Any]) -> None:
        self._real = real
        self._functions = functions

    def __getattr__(self, name: str) -> Any:
        if name in self._functions:
            return self._functions[name]
        return getattr(self._real, name)


def with_campaign_customers(sim: SimulatorHandle) -> SimulatorHandle:
    """The simulator knowing member zhangsan and customers wm0..wm2: the setting every admin campaign test
    starts from."""
    customers = [{"external_userid": f"wm{i}", "name": f"c{i}", "owner": "zhangsan"} for i in range(3)]
    sim_control(sim, "contacts", {"members": ["zhangsan"], "customers": customers})
    return sim


# ------------------------------------------------------------------------------------ services as the admin API
@functools.cache
def admin_refusals() -> ModuleType:
    """The admin function's table from domain errors to HTTP (``functions/admin/refusals.py``), imported
    from its file: only the admin function has it on its path."""
    spec = importlib.util.spec_from_file_location("admin_refusals_under_test", ADMIN_REFUSALS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class AdminAnswer:
    """A service's result with the status the admin function answers it with."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


class AdminRefusal(Exception):
    """A domain error as the admin function answers it: status, contract code, message, extra fields."""

    def __init__(self, status: int, code: str, message: str, extra: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def as_admin(service: Callable[..., Any]) -> Callable[..., Any]:
    """``service`` seen through the admin function's table, for tests that state the HTTP contract of a
    service call (a create's 201/202/200, a refusal's 409 and extra fields) without an HTTP event.
    InvalidField and NotFound pass through as raised: those tests assert the domain error itself."""
    # Imported here: conftest imports this module before any test.
    from wecom_bundle.campaigns.create import CreateResult

    table = admin_refusals()

    @functools.wraps(service)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = service(*args, **kwargs)
        except (InvalidField, NotFound):
            raise
        except DomainError as exc:
            status, doc = table.error_answer(exc)
            extra = {k: v for k, v in doc["error"].items() if k not in ("code", "message")}
            raise AdminRefusal(status, doc["error"]["code"], doc["error"]["message"], extra) from exc
        if isinstance(result, CreateResult):
            status = table.create_status(creating=result.creating, replayed=result.replayed)
            return AdminAnswer(status, result.body, result.replayed)
        return result

    return call


class DynamoWrites:
    """Items written through one DynamoDB client, counted by a botocore hook on that client.

    Why here and not in the layer: "an unchanged re-sync writes nothing" is a claim about cost that tests
    assert on; production code keeps no counters for tests. Counts every item a write call touched:
    PutItem, UpdateItem and DeleteItem one each (refused conditional writes too: they cost a write),
    TransactWriteItems one per entry, BatchWriteItem the items DynamoDB processed (not those it handed back).
    """

    def __init__(self) -> None:
        self.items = 0
        self._lock = threading.Lock()
        self._events: Any = None

    def install(self, client: Any) -> DynamoWrites:
        """Start counting the writes of ``client`` (e.g. ``dynamo.client.client()``); answers self."""
        self._events = client.meta.events
        self._events.register("before-parameter-build.dynamodb", self._before, unique_id=f"{self._hook_id}-b")
        self._events.register("after-call.dynamodb", self._after, unique_id=f"{self._hook_id}-a")
        return self

    def uninstall(self) -> None:
        if self._events is not None:
            self._events.unregister("before-parameter-build.dynamodb", unique_id=f"{self._hook_id}-b")
            self._events.unregister("after-call.dynamodb", unique_id=f"{self._hook_id}-a")
            self._events = None

    @property
    def _hook_id(self) -> str:
        """botocore keys unique ids per emitter, not per event: each hook gets its own suffix."""
        return f"dynamo-writes-{id(self)}"

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        """Note how many items the call asks to write (the parsed answer alone does not say)."""
        context[self._hook_id] = _items_sent(model.name, params)

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        handed_back = sum(len(requests) for requests in (parsed.get("UnprocessedItems") or {}).values())
        with self._lock:
            self.items += context.get(self._hook_id, 0) - handed_back


def _items_sent(operation: str, params: dict[str, Any]) -> int:
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return 1
    if operation == "TransactWriteItems":
        return len(params.get("TransactItems", []))
    if operation == "BatchWriteItem":
        return sum(len(requests) for requests in params.get("RequestItems", {}).values())
    return 0


# ------------------------------------------------------------------------------------ the per-customer cap
@dataclass
class FakeCaps:
    """A ``campaigns.cap.CapCheck`` whose capped (and pending) customers a test chooses: the campaign
    services' side of the cap without the customers package. Periods are UTC calendar periods (the real
    reader's are in ``WELCOME_TIMEZONE``); ``asked`` records every id list it was asked about."""

    capped_ids: set[str] = field(default_factory=set)
    pending_ids: set[str] = field(default_factory=set)
    rule: str = "day"
    asked: list[list[str]] = field(default_factory=list)

    def limit(self, now: int) -> int:
        if self.rule == "month":
            moment = time.gmtime(now)
            return calendar.monthrange(moment.tm_year, moment.tm_mon)[1]
        return 7 if self.rule == "week" else 1

    def period(self, now: int) -> str:
        form = {"month": "%Y-%m", "week": "%G-W%V", "day": "%Y-%m-%d"}[self.rule]
        return time.strftime(form, time.gmtime(now))

    def within(self, deadline: float) -> FakeCaps:  # noqa: ARG002
        """No reads to stop: the same fake."""
        return self

    def capped(self, external_userids: Sequence[str], now: int) -> list[str]:  # noqa: ARG002
        self.asked.append(list(external_userids))
        return [i for i in dict.fromkeys(external_userids) if i in self.capped_ids]

    def pending(self, external_userids: Sequence[str], now: int) -> int:  # noqa: ARG002
        return len(set(external_userids) & self.pending_ids)


def put_channel_record(
    channel_id: str,
    *,
    welcome: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    status: str = "active",
) -> dict[str, Any]:
    """Store a channel item as the channels' admin API stores it (the shared contract: ``pk = CHANNEL``,
    ``sk = CHANNEL#{id}``), so the callback side can be tested without the admin side."""
    from wecom_bundle.dynamo.client import client
    from wecom_bundle.dynamo.codec import encode_item
    from wecom_bundle.dynamo.keys import channel_key
    from wecom_bundle.dynamo.table import table_name

    item: dict[str, Any] = {
        "channel_id": channel_id,
        "name": f"channel {channel_id}",
        "members": ["zhangsan"],
        "skip_verify": True,
        "tags": list(tags or []),
        "remark": "",
        "config_id": f"cfg-{channel_id}",
        "qr_code": f"https://wework.qpic.cn/{channel_id}.png",
        "status": status,
        "created_at_ms": 1,
        "updated_at_ms": 1,
    }
    if welcome is not None:
        item["welcome"] = welcome
    client().put_item(TableName=table_name(), Item=encode_item({**channel_key(channel_id), **item}))
    return item
