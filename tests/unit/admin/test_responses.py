"""Every success answer of the admin API matches the response model its document names.

Each route is driven through the admin function (payload 2.0 events, moto, the WeCom simulator) with
realistic data: a rule with attachments, a welcome log, a campaign sent and synced, reminded and cancelled, a
scheduled one, one whose creation is resumed later (202), a replayed create, group templates created, read,
edited and deleted (also with a failing mirror), and reconcile reports with drift. Every answer is validated
with the model the generated document names for its route, method and status; the test also checks that every
documented success (but 204 and the CSV answer) names a model, and that each one was seen in a real answer.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
from pydantic import BaseModel

from local.events import add_contact_fields, callback_post_event, http_event
from local.lambda_runtime import load_handler, make_context
from local.settings import DEV_DEFAULTS
from local.template import load_template
from local.wecom_sim.endpoints_welcome import issue_welcome_code
from local.wecom_sim.server import SimulatorHandle
from tests.support import (
    FakeCaps,
    function_under_test,
    sim_control,
    sync_deps,
    with_campaign_customers,
)
from wecom_bundle import runtime
from wecom_bundle.media.cache import MediaCache
from wecom_bundle.result_sync import fanout, sync_pass
from wecom_bundle.result_sync.queue import SyncMessage

pytestmark = pytest.mark.usefixtures("moto_table")
RULES = "/admin/welcome-rules"
CAMPAIGNS = "/admin/campaigns"
TEMPLATES = "/admin/group-welcome-templates"
CUSTOMERS = "/admin/customers"
CHANNELS = "/admin/channels"
PATH_PARAMS = {
    RULES: "rule_id",
    CAMPAIGNS: "campaign_id",
    TEMPLATES: "template_id",
    CUSTOMERS: "external_userid",
    CHANNELS: "channel_id",
}


@dataclasses.dataclass
class Recorder:
    """Calls the admin function and keeps every success answer with the documented route it came from."""

    handler: Any
    spec: Any
    answers: list[tuple[str, str, int, Any]] = dataclasses.field(default_factory=list)

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: int | None = None,
        expect: int | None = None,
    ) -> Any:
        route, params = _route(path)
        event = http_event(
            method,
            path,
            query,
            None if body is None else json.dumps(body),
            {"content-type": "application/json", **(headers or {})},
            params,
        )
        spec = self.spec if timeout_s is None else dataclasses.replace(self.spec, timeout=timeout_s)
        answer = self.handler(event, make_context(spec))
        status, text = answer["statusCode"], answer.get("body") or ""
        if expect is not None:  # a refusal the scenario needs (its answer is not a success answer)
            assert status == expect, text
            return json.loads(text)
        assert status < 300, text
        is_json = answer.get("headers", {}).get("Content-Type", "").startswith("application/json")
        doc = json.loads(text) if text and is_json else text
        if status != 204 and is_json:
            self.answers.append((route, method.lower(), status, doc))
        return status, doc


def _route(path: str) -> tuple[str, dict[str, str] | None]:
    """``/admin/campaigns/c1/remind`` → (``/admin/campaigns/{campaign_id}/remind``, {campaign_id: c1})."""
    for base, name in PATH_PARAMS.items():
        rest = path[len(base) + 1 :].split("/", 1) if path.startswith(base + "/") else None
        if rest and rest[0] not in ("reconcile", "preview"):
            tail = f"/{rest[1]}" if len(rest) > 1 else ""
            return f"{base}/{{{name}}}{tail}", {name: rest[0]}
    return path, None


@pytest.fixture(scope="module")
def spec() -> Any:
    return load_template().functions["AdminFunction"]


@pytest.fixture(scope="module")
def handler(spec: Any) -> Any:
    return load_handler(spec)


@pytest.fixture
def call(handler: Any, spec: Any) -> Recorder:
    return Recorder(handler, spec)


@pytest.fixture
def document(call: Recorder) -> dict[str, Any]:
    status, doc = call("GET", "/admin/openapi.json")
    assert status == 200
    return dict(doc)


@pytest.fixture
def responses_module(handler: Any) -> ModuleType:  # noqa: ARG001
    """The module the admin function documents its answers with (imported by the handler above)."""
    return importlib.import_module("admin_api.models.responses")


@pytest.fixture
def sim(wecom_sim: SimulatorHandle, sync_queue: tuple[Any, str]) -> SimulatorHandle:  # noqa: ARG001
    return with_campaign_customers(wecom_sim)


# ------------------------------------------------------------------------------------------------ the check
def _documented_json(document: dict[str, Any]) -> Iterator[tuple[str, str, int, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if 200 <= int(status) < 300 and int(status) != 204:
                    yield path, method, int(status), response.get("content", {})


def _model(
    document: dict[str, Any], module: ModuleType, route: str, method: str, status: int
) -> type[BaseModel]:
    content = document["paths"][route][method]["responses"][str(status)].get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    assert "$ref" in schema, f"{method.upper()} {route} {status} documents no model"
    name = schema["$ref"].rsplit("/", 1)[-1]
    model = getattr(module, name)
    assert issubclass(model, BaseModel)
    return model


def _check(call: Recorder, document: dict[str, Any], module: ModuleType) -> set[tuple[str, str, int]]:
    """Every recorded answer validates with its documented model; answers the routes+statuses seen."""
    for route, method, status, answer in call.answers:
        _model(document, module, route, method, status).model_validate(answer)
    return {(route, method, status) for route, method, status, _ in call.answers}


def test_every_documented_success_names_a_model(
    document: dict[str, Any], responses_module: ModuleType
) -> None:
    documented = list(_documented_json(document))
    assert len(documented) >= 20
    for path, method, status, content in documented:
        assert "application/json" in content, (path, method, status)
        _model(document, responses_module, path, method, status)
        assert set(content) <= {"application/json", "text/csv"}


# --------------------------------------------------------------------------------------------- welcome
def _welcome(sim: SimulatorHandle, external_userid: str, state: str, *, valid_code: bool = True) -> None:
    """One add-contact event through the real CallbackFunction (the welcome log as the service writes it)."""
    now = int(time.time())
    with sim.state.lock:
        code = issue_welcome_code(sim.state, "zhangsan", external_userid, now) if valid_code else "UNKNOWN"
    fields = add_contact_fields(
        DEV_DEFAULTS, external_userid=external_userid, state=state, welcome_code=code, create_time=now
    )
    assert (
        function_under_test("CallbackFunction")(callback_post_event(DEV_DEFAULTS, fields))["statusCode"]
        == 200
    )


def test_welcome_answers_match_their_models(
    call: Recorder, document: dict[str, Any], responses_module: ModuleType, sim: SimulatorHandle
) -> None:
    rule = {
        "priority": 10,
        "description": "expo visitors",
        "match": {"state_prefix": "expo-", "weekdays": [1, 2, 3, 4, 5, 6, 7]},
        "text": {"content": "你好 %NICKNAME%"},
        "attachments": [
            {"msgtype": "link", "link": {"title": "t", "url": "https://example.com/", "desc": "d"}},
            {
                "msgtype": "miniprogram",
                "miniprogram": {"title": "m", "pic_media_id": _upload("image"), "appid": "wx", "page": "/"},
            },
        ],
    }
    assert call("PUT", f"{RULES}/expo", rule)[0] == 201
    assert call("PUT", f"{RULES}/expo", {**rule, "priority": 20})[0] == 200
    image = {"msgtype": "image", "image": {"media_id": _upload("image")}}
    call("PUT", f"{RULES}/default", {"attachments": [image]})
    night = {"match": {"state": "never", "time_from": "22:00", "time_to": "06:00"}, "text": {"content": "zz"}}
    call("PUT", f"{RULES}/night", night)
    call("GET", RULES)
    call("GET", "/admin/health")
    call("GET", f"{RULES}/expo")
    _welcome(sim, "wmC1", "expo-1")
    _welcome(sim, "wmC2", "web", valid_code=False)
    _welcome(sim, "wmC3", "")
    _, page = call("GET", "/admin/welcomes", query={"limit": "2"})
    assert len(page["items"]) == 2 and page["cursor"]
    rest = call("GET", "/admin/welcomes", query={"cursor": page["cursor"]})[1]
    outcomes = {(w["external_userid"], w["outcome"], w["rule_id"]) for w in page["items"] + rest["items"]}
    assert outcomes == {("wmC1", "sent", "expo"), ("wmC2", "failed", "default"), ("wmC3", "sent", "default")}

    seen = _check(call, document, responses_module)
    assert seen == {
        ("/admin/openapi.json", "get", 200),
        ("/admin/health", "get", 200),
        (f"{RULES}/{{rule_id}}", "put", 201),
        (f"{RULES}/{{rule_id}}", "put", 200),
        (RULES, "get", 200),
        (f"{RULES}/{{rule_id}}", "get", 200),
        ("/admin/welcomes", "get", 200),
    }


# ------------------------------------------------------------------------------------------- customers
def test_customer_answers_match_their_models(
    call: Recorder, document: dict[str, Any], responses_module: ModuleType, sim: SimulatorHandle
) -> None:
    sim_control(
        sim,
        "contacts",
        {"members": ["zhangsan"], "customers": [{"external_userid": "wmC1", "owner": "zhangsan"}]},
    )
    call("PUT", f"{RULES}/default", {"text": {"content": "hi"}})
    _welcome(sim, "wmC1", "")
    for _ in range(2):
        msgid = call("POST", CAMPAIGNS, {"external_userid": ["wmC1"], "text": {"content": "x"}})[1]["msgids"][
            0
        ]
    sim_control(sim, f"groupmsg/{msgid}/send", {"userids": ["zhangsan"]})
    _sync(int(time.time()))
    page = call("GET", f"{CUSTOMERS}/wmC1", query={"limit": "1"})[1]
    assert len(page["welcomes"]) == 1 and len(page["mass_messages"]) == 1 and page["cursor"]
    rest = call("GET", f"{CUSTOMERS}/wmC1", query={"cursor": page["cursor"]})[1]
    statuses = {m["status"] for m in page["mass_messages"] + rest["mass_messages"]}
    assert statuses == {"sent", "unsent"} and rest["quota"]["received"] == 1
    call("GET", f"{CUSTOMERS}/wmNEVER")
    assert (f"{CUSTOMERS}/{{external_userid}}", "get", 200) in _check(call, document, responses_module)


# ------------------------------------------------------------------------------------------- campaigns
def _sync(now: int) -> None:
    """One scheduled result sync (ingest, queue the due msgids), then the worker until the queue is empty."""
    deps = sync_deps()
    fanout.run_due(deps, 60, now=now)
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="ResultSyncQueue")["QueueUrl"]
    for _ in range(20):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return
        for message in messages:
            msg = SyncMessage.decode(message["Body"])
            sync_pass.sync_msgid(deps, msg.msgid, msg.token, deps.budget(120), now=now)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the sync queue never drained")


CAMPAIGN = {
    "name": "spring sale",
    "external_userid": ["wm0", "wm1", "wm2", "wm3"],
    "text": {"content": "sale %NICKNAME%"},
    "attachments": [
        {
            "msgtype": "link",
            "link": {"title": "t", "url": "https://example.com/", "picurl": "https://e/p.png"},
        },
    ],
    "reminders": {"first_after_minutes": 60, "every_minutes": 120},
}


def test_campaign_answers_match_their_models(
    call: Recorder, document: dict[str, Any], responses_module: ModuleType, sim: SimulatorHandle
) -> None:
    customers = [
        {"external_userid": f"wm{i}", "name": f"c{i}", "owner": ("zhangsan", "lisi")[i % 2]} for i in range(4)
    ]
    sim_control(sim, "contacts", {"members": ["zhangsan", "lisi"], "customers": customers})
    image = {"msgtype": "image", "image": {"media_id": _upload("image")}}
    campaign = {**CAMPAIGN, "attachments": [*CAMPAIGN["attachments"], image]}
    status, created = call("POST", CAMPAIGNS, campaign, headers={"Idempotency-Key": "sale-1"})
    assert status == 201 and created["status"] == "active"
    assert call("POST", CAMPAIGNS, campaign, headers={"Idempotency-Key": "sale-1"})[0] == 200
    campaign_id, (msgid,) = created["campaign_id"], created["msgids"]
    later = {"chat_type": "group", "sender": "zhangsan", "chat_id_list": ["wr1"], "text": {"content": "x"}}
    assert call("POST", CAMPAIGNS, {**later, "send_at": int(time.time()) + 3600})[0] == 201
    assert call("POST", CAMPAIGNS, {**campaign, "name": "resumed"}, timeout_s=1)[0] == 202

    refused = {**campaign, "attachments": [{"msgtype": "image", "image": {"media_id": "UNKNOWN"}}]}
    assert call("POST", CAMPAIGNS, refused, expect=400)["error"]["errcode"] == 40007
    reminded = call("POST", f"{CAMPAIGNS}/{campaign_id}/remind")[1]
    assert reminded["reminded"] == [msgid]
    sim_control(
        sim, f"groupmsg/{msgid}/send", {"userids": ["zhangsan"], "customer_status": {"wm0": 1, "wm2": 2}}
    )
    _sync(int(time.time()))
    again = call("POST", f"{CAMPAIGNS}/{campaign_id}/remind", {"msgids": [msgid]})[1]
    assert again["outcomes"] == [{"msgid": msgid, "result": "sent"}]

    shown = call("GET", f"{CAMPAIGNS}/{campaign_id}")[1]
    assert shown["members"] and shown["sync"] and shown["reminders"] and shown["totals_synced_at"]
    page = call("GET", CAMPAIGNS, query={"limit": "2"})[1]
    call("GET", CAMPAIGNS, query={"cursor": page["cursor"]})
    call("GET", CAMPAIGNS, query={"status": "scheduled"})
    failed = call("GET", CAMPAIGNS, query={"status": "failed"})[1]["items"]
    assert [c["errcode"] for c in failed] == [40007]
    rows = call("GET", f"{CAMPAIGNS}/{campaign_id}/results", query={"format": "json", "limit": "3"})[1]
    assert len(rows["items"]) == 3 and rows["cursor"]
    call("GET", f"{CAMPAIGNS}/{campaign_id}/results", query={"cursor": rows["cursor"]})
    call("GET", f"{CAMPAIGNS}/{campaign_id}/results", query={"status": "sent", "member": "zhangsan"})
    assert call("GET", f"{CAMPAIGNS}/{campaign_id}/results", query={"format": "csv"})[1].startswith("msgid,")
    assert call("POST", f"{CAMPAIGNS}/{campaign_id}/cancel")[1]["cancelled"] == [msgid]
    call("GET", f"{CAMPAIGNS}/{campaign_id}")
    with runtime.overriding(cap_check=FakeCaps({"wm3"}, pending_ids={"wm0"})):
        skipping = {**campaign, "name": "skip", "skip_capped": True}
        assert call("POST", f"{CAMPAIGNS}/preview", skipping)[1]["quota"]["capped_sample"] == ["wm3"]
        by_sender = {"sender": "zhangsan", "text": {"content": "x"}}
        assert call("POST", f"{CAMPAIGNS}/preview", by_sender)[1]["audience_size"] is None
        skipped = call("POST", CAMPAIGNS, skipping)[1]
        assert skipped["skipped_capped"] == 1
        assert call("GET", f"{CAMPAIGNS}/{skipped['campaign_id']}")[1]["skipped_capped"] == 1
        assert call("GET", f"{CAMPAIGNS}/{skipped['campaign_id']}/skipped")[1]["items"] == ["wm3"]

    seen = _check(call, document, responses_module)
    assert seen == {
        (f"{CAMPAIGNS}/preview", "post", 200),
        (f"{CAMPAIGNS}/{{campaign_id}}/skipped", "get", 200),
        (CAMPAIGNS, "post", 201),
        (CAMPAIGNS, "post", 200),
        (CAMPAIGNS, "post", 202),
        (CAMPAIGNS, "get", 200),
        (f"{CAMPAIGNS}/{{campaign_id}}", "get", 200),
        (f"{CAMPAIGNS}/{{campaign_id}}/remind", "post", 200),
        (f"{CAMPAIGNS}/{{campaign_id}}/cancel", "post", 200),
        (f"{CAMPAIGNS}/{{campaign_id}}/results", "get", 200),
        ("/admin/openapi.json", "get", 200),
    }


# ------------------------------------------------------------------------------------- group templates
@contextmanager
def _mirror_writes_fail(*names: str) -> Iterator[None]:
    """The admin function's template service with the mirror writes ``names`` failing as DynamoDB would."""
    from botocore.exceptions import ClientError

    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "PutItem")

    current = runtime.group_templates()
    failing = type(
        "FailingRepo",
        (),
        {"__getattr__": lambda _self, name: fail if name in names else getattr(current.repo, name)},
    )()
    with runtime.overriding(group_templates=dataclasses.replace(current, repo=failing)):
        yield


def _upload(kind: str) -> str:
    files = {"media": (f"x.{kind}", b"\x89PNG fake bytes", "application/octet-stream")}
    return str(
        runtime.wecom_client().call("POST", "media/upload", params={"type": kind}, files=files)["media_id"]
    )


@pytest.fixture
def bucket_image(sim: SimulatorHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The media bucket (moto's S3) with one image, its key; the media cache on the simulator's clock."""
    monkeypatch.setenv("MEDIA_BUCKET", "media-bucket")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="media-bucket")
    s3.put_object(
        Bucket="media-bucket", Key="welcome/banner.png", Body=b"\x89PNG fake", ContentType="image/png"
    )
    with runtime.overriding(media_cache=MediaCache(clock=sim.state.clock.now)):
        yield "welcome/banner.png"


def test_group_template_answers_match_their_models(
    call: Recorder,
    document: dict[str, Any],
    responses_module: ModuleType,
    sim: SimulatorHandle,
    bucket_image: str,
) -> None:
    link = {"title": "t", "url": "https://example.com/", "desc": "d"}
    status, created = call(
        "POST", TEMPLATES, {"text": {"content": "欢迎 %NICKNAME%"}, "link": link, "notify": 0}
    )
    assert status == 201
    image = call("POST", TEMPLATES, {"image": {"media_id": _upload("image")}, "agentid": 1000002})[1]
    mini = {"title": "m", "pic_media_id": _upload("image"), "appid": "wx1", "page": "/p"}
    call("PUT", f"{TEMPLATES}/{image['template_id']}", {"text": {"content": "new"}, "miniprogram": mini})
    call("GET", TEMPLATES)
    call("GET", f"{TEMPLATES}/{created['template_id']}")
    call("GET", f"{TEMPLATES}/{image['template_id']}")
    foreign = requests.post(
        f"{sim.url}/__sim/group_welcome_templates", json={"text": {"content": "x"}}, timeout=5
    )
    assert call("GET", f"{TEMPLATES}/{foreign.json()['template_id']}")[1]["mirrored"] is False
    with _mirror_writes_fail("put_group_template", "delete_group_template"):
        assert call("PUT", f"{TEMPLATES}/{created['template_id']}", {"text": {"content": "edited"}})[1][
            "warnings"
        ]
        assert call("DELETE", f"{TEMPLATES}/{image['template_id']}")[0] == 200
    report = call("POST", f"{TEMPLATES}/reconcile")[1]
    assert {d["kind"] for d in report["drift"]} == {"content_differs", "missing_in_wecom"}
    with _mirror_writes_fail("record_group_template_added"):
        assert call("POST", TEMPLATES, {"text": {"content": "lost"}})[1]["mirrored"] is False
    report = call("POST", f"{TEMPLATES}/reconcile")[1]
    assert {d["kind"] for d in report["drift"]} == {
        "content_differs",
        "missing_in_wecom",
        "missing_in_mirror",
    }
    assert call("POST", f"{TEMPLATES}/reconcile", {"repair": True})[1]["drift"][0]["repaired"] is True
    assert call("DELETE", f"{TEMPLATES}/{created['template_id']}")[0] == 204

    bucket = bucket_image
    from_bucket = call("POST", TEMPLATES, {"image": {"s3_key": bucket}, "text": {"content": "hi"}})[1]
    assert from_bucket["wecom_media"]
    gone = call("POST", TEMPLATES, {"image": {"s3_key": bucket}})[1]["template_id"]
    with sim.state.lock:
        del sim.state.templates[gone]  # deleted in the admin console
    requests.post(f"{sim.url}/__sim/clock", json={"advance": 61 * 3600}, timeout=5).raise_for_status()
    assert runtime.media_refresh().run()["templates_gone"] == 1
    listed = call("GET", TEMPLATES)[1]["items"]
    assert [t["media_refresh_error"]["reason"] for t in listed if t["template_id"] == gone] == ["gone"]
    call("GET", f"{TEMPLATES}/{from_bucket['template_id']}")
    fault = {"path": "group_welcome_template/get", "http_status": 502}
    requests.post(f"{sim.url}/__sim/faults", json=fault, timeout=5).raise_for_status()
    assert call("POST", f"{TEMPLATES}/reconcile")[1]["unchecked"]

    seen = _check(call, document, responses_module)
    assert seen == {
        (TEMPLATES, "post", 201),
        (TEMPLATES, "get", 200),
        (f"{TEMPLATES}/{{template_id}}", "get", 200),
        (f"{TEMPLATES}/{{template_id}}", "put", 200),
        (f"{TEMPLATES}/{{template_id}}", "delete", 200),
        (f"{TEMPLATES}/reconcile", "post", 200),
        ("/admin/openapi.json", "get", 200),
    }


# ------------------------------------------------------------------------------------------- channels
def test_channel_answers_match_their_models(
    call: Recorder, document: dict[str, Any], responses_module: ModuleType, sim: SimulatorHandle
) -> None:
    from wecom_bundle.channels import repo as channel_repo
    from wecom_bundle.wecom import contact_ways

    sim_control(sim, "contacts", {"members": ["lisi"]})
    welcome = {
        "text": {"content": "欢迎 %NICKNAME%"},
        "attachments": [{"msgtype": "link", "link": {"title": "t", "url": "https://example.com/"}}],
    }
    body = {"name": "expo", "members": ["zhangsan"], "tags": ["et1"], "welcome": welcome, "remark": "r"}
    assert call("PUT", f"{CHANNELS}/expo", body)[0] == 201
    assert call("PUT", f"{CHANNELS}/expo", {**body, "remark": "r2"})[0] == 200
    call("PUT", f"{CHANNELS}/multi", {"name": "m", "members": ["zhangsan", "lisi"]})
    call("GET", CHANNELS, query={"limit": "1"})
    stats = call("GET", f"{CHANNELS}/expo")[1]["stats"]
    assert len(stats["days"]) == 30
    now = int(time.time() * 1000) - 60_000
    channel_repo.put_channel_intent(
        {"channel_id": "crashed", "name": "c", "members": ["lisi"], "skip_verify": True, "tags": []}
        | {"status": "pending", "created_at_ms": now, "updated_at_ms": now}
    )
    client = runtime.wecom_client()
    contact_ways.add(client, {"type": 1, "state": "crashed", "user": ["lisi"]})
    contact_ways.add(client, {"type": 1, "state": "walkin", "user": ["lisi"]})
    contact_ways.update(client, call("GET", f"{CHANNELS}/multi")[1]["config_id"], {"remark": "x"})
    contact_ways.delete(client, call("GET", f"{CHANNELS}/expo")[1]["config_id"])
    report = call("POST", f"{CHANNELS}/reconcile")[1]
    assert all(report[k] for k in ("unknown_in_store", "gone_in_wecom", "differs", "pending"))
    repaired = call("POST", f"{CHANNELS}/reconcile", {"repair": True})[1]
    assert repaired["pending"][0]["repaired"] is True
    assert call("DELETE", f"{CHANNELS}/multi")[0] == 204

    seen = _check(call, document, responses_module)
    assert seen == {
        (CHANNELS, "get", 200),
        (f"{CHANNELS}/{{channel_id}}", "get", 200),
        (f"{CHANNELS}/{{channel_id}}", "put", 200),
        (f"{CHANNELS}/{{channel_id}}", "put", 201),
        (f"{CHANNELS}/reconcile", "post", 200),
        ("/admin/openapi.json", "get", 200),
    }
