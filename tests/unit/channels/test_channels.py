"""Channel routes of AdminFunction in-process (payload 2.0 events) against moto and the WeCom simulator.

Validation answers 400 naming the field before WeCom sees anything and stores nothing; the first PUT writes
its intent before ``add_contact_way`` and a crash between WeCom's answer and our write is repaired (by the
next PUT, or by reconcile) from WeCom's list + get by state: one code, adopted; later PUTs send only what
changed; DELETE is idempotent towards WeCom; reconcile reports and repairs drift.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from tests.support import Overriding, call_json, function_under_test, race, table_snapshot
from wecom_bundle import runtime
from wecom_bundle.channels import repo
from wecom_bundle.channels.reconcile import ChannelReconciler
from wecom_bundle.channels.service import INTENT_GRACE_MS
from wecom_bundle.domain_errors import InvalidState
from wecom_bundle.wecom import contact_ways
from wecom_bundle.wecom.client import WeComClient

BASE = "/admin/channels"
MEMBERS = ["zhangsan", "lisi", "wangwu"]
LINK = {"msgtype": "link", "link": {"title": "t", "url": "https://example.com/"}}


@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


@pytest.fixture
def sim(wecom_sim: SimulatorHandle, moto_table: Any) -> SimulatorHandle:  # noqa: ARG001
    requests.post(f"{wecom_sim.url}/__sim/contacts", json={"members": MEMBERS}, timeout=5).raise_for_status()
    return wecom_sim


@pytest.fixture
def call(admin: Any) -> Any:
    def _call(method: str, path: str, body: Any = None, *, query: dict[str, str] | None = None) -> Any:
        rest = path[len(BASE) + 1 :] if path.startswith(BASE + "/") else ""
        params = {"channel_id": rest} if rest and rest != "reconcile" else None
        return call_json(admin, method, path, body, params=params, query=query)

    return _call


def _ways(sim: SimulatorHandle) -> dict[str, Any]:
    with sim.state.lock:
        return {w.config_id: dataclasses.asdict(w) for w in sim.state.contact_ways.values()}


def _calls(sim: SimulatorHandle, name: str = "") -> list[dict[str, Any]]:
    return [c for c in calls(sim.state) if c["path"].endswith(f"{name}_contact_way")]


def _body(**changes: Any) -> dict[str, Any]:
    return {"name": "Shanghai expo", "members": ["zhangsan"], **changes}


def _put(call: Any, channel_id: str = "expo", **changes: Any) -> dict[str, Any]:
    status, doc = call("PUT", f"{BASE}/{channel_id}", _body(**changes))
    assert status in (200, 201), doc
    return dict(doc)


# ------------------------------------------------------------------------------------------------ validation
VALIDATION = [
    ("expo", {}, "name"),
    ("expo", _body(name=""), "name"),
    ("expo", _body(name="x" * 65), "name"),
    ("expo", {"name": "n"}, "members"),
    ("expo", _body(members=[]), "members"),
    ("expo", _body(members=[f"u{i}" for i in range(101)]), "members"),
    ("expo", _body(members=["u" * 65]), "members[0]"),
    ("expo", _body(members=[7]), "members[0]"),
    ("expo", _body(members=["zhangsan", "lisi", "zhangsan"]), "members"),
    ("expo", _body(remark="备" * 31), "remark"),
    ("expo", _body(skip_verify="yes"), "skip_verify"),
    ("expo", _body(tags=[f"et{i}" for i in range(101)]), "tags"),
    ("expo", _body(tags=["has space"]), "tags[0]"),
    ("expo", _body(tags=["et1", "et1"]), "tags"),
    ("expo", _body(welcome={}), "welcome.text"),
    ("expo", _body(welcome={"text": {"content": ""}}), "welcome.text"),
    ("expo", _body(welcome={"text": {"content": "好" * 1334}}), "welcome.text.content"),
    ("expo", _body(welcome={"text": {"content": "x"}, "attachments": [LINK] * 10}), "welcome.attachments"),
    ("expo", _body(welcome={"attachments": [{"msgtype": "link"}]}), "welcome.attachments[0].link"),
    ("expo", _body(welcome={"text": {"content": "x"}, "colour": 1}), "welcome.colour"),
    ("expo", _body(colour="red"), "colour"),
    ("bad id", _body(), "channel_id"),
    ("x" * 31, _body(), "channel_id"),
]


def test_invalid_put_is_400_naming_the_field_stores_nothing_and_calls_no_wecom(
    call: Any, sim: SimulatorHandle, moto_table: Any
) -> None:
    """Every case on one table (one loop, not one moto table per case): none may store or call anything."""
    for channel_id, body, field in VALIDATION:
        status, doc = call("PUT", f"{BASE}/{channel_id}", body)
        assert (status, doc["error"]["code"], doc["error"]["field"]) == (400, "invalid_request", field), doc
        assert table_snapshot(moto_table) == [], field
        assert _calls(sim) == [], field


@pytest.mark.usefixtures("sim")
def test_a_remark_is_counted_in_characters_as_wecom_counts_it(call: Any) -> None:
    assert _put(call, remark="备" * 30)["remark"] == "备" * 30


# ------------------------------------------------------------------------------------------------ create
def test_first_put_creates_one_qr_code_with_the_channel_id_as_state(call: Any, sim: SimulatorHandle) -> None:
    welcome = {"text": {"content": "欢迎 %NICKNAME%"}, "attachments": [LINK]}
    status, doc = call(
        "PUT", f"{BASE}/expo", _body(remark="hall B", tags=["et1"], welcome=welcome, skip_verify=False)
    )
    assert status == 201, doc
    assert doc["config_id"] and doc["qr_code"].startswith(sim.url)
    assert doc["status"] == "active" and doc["created_at_ms"] <= doc["updated_at_ms"]
    [add] = _calls(sim, "add")
    assert add["body"] == {
        "type": contact_ways.TYPE_SINGLE,
        "scene": contact_ways.SCENE_QR,
        "state": "expo",
        "user": ["zhangsan"],
        "skip_verify": False,
        "remark": "hall B",
    }
    item = repo.get_channel("expo")
    assert item == {
        "channel_id": "expo",
        "name": "Shanghai expo",
        "members": ["zhangsan"],
        "skip_verify": False,
        "tags": ["et1"],
        "welcome": {"text": {"content": "欢迎 %NICKNAME%"}, "attachments": [LINK]},  # as rules store it
        "remark": "hall B",
        "config_id": doc["config_id"],
        "qr_code": doc["qr_code"],
        "status": "active",
        "created_at_ms": doc["created_at_ms"],
        "updated_at_ms": doc["updated_at_ms"],
    }
    image = requests.get(doc["qr_code"], timeout=5)
    assert image.headers["Content-Type"] == "image/png" and image.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_several_members_make_a_multi_member_code_and_defaults_apply(call: Any, sim: SimulatorHandle) -> None:
    doc = _put(call, "walk-in_2", members=["zhangsan", "lisi"])
    [way] = _ways(sim).values()
    assert (way["type"], way["users"], way["skip_verify"], way["state"]) == (
        2,
        ["zhangsan", "lisi"],
        True,
        "walk-in_2",
    )
    assert (doc["tags"], doc["skip_verify"]) == ([], True) and "welcome" not in doc and "remark" not in doc


@pytest.mark.usefixtures("sim")
def test_get_answers_the_channel_with_thirty_days_of_stats(call: Any) -> None:
    created = _put(call)
    status, doc = call("GET", f"{BASE}/expo")
    assert status == 200
    stats = doc.pop("stats")
    assert doc == created
    assert len(stats["days"]) == 30 and stats["days"][0]["date"] < stats["days"][-1]["date"]
    assert stats["totals"] == {"added": 0, "welcomed": 0, "tagged": 0, "tag_failed": 0, "lost": 0}
    assert call("GET", f"{BASE}/nope")[0] == 404


def test_wecom_refusal_keeps_its_errcode_and_stores_nothing(call: Any, sim: SimulatorHandle) -> None:
    status, doc = call("PUT", f"{BASE}/expo", _body(members=["nobody"]))
    assert (status, doc["error"]["code"], doc["error"]["errcode"]) == (400, "wecom_error", 40003)
    assert repo.all_channels() == [] and _ways(sim) == {}  # the intent went with the refusal


def test_concurrent_puts_of_a_new_id_make_one_code(sim: SimulatorHandle) -> None:
    service = runtime.channels()

    def put(_i: int) -> str:
        try:
            service.put_channel("expo", _body())
        except InvalidState:
            return "conflict"
        return "created"

    assert sorted(race(2, put)) == ["conflict", "created"]
    assert len(_calls(sim, "add")) == 1 and len(_ways(sim)) == 1


# ------------------------------------------------------------------------------------------------ crash repair
def _failing(name: str) -> Any:
    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, name)

    return fail


@contextmanager
def _service(**changes: Any) -> Iterator[None]:
    """The admin function's channel service with its repository or clock changed for the block."""
    current = runtime.channels()
    with runtime.overriding(channels=dataclasses.replace(current, **changes)):
        yield


def test_store_write_failing_after_wecoms_answer_is_repaired_by_the_next_put(
    call: Any, sim: SimulatorHandle
) -> None:
    with _service(repo=Overriding(repo, activate_channel=_failing("PutItem"))):
        status, doc = call("PUT", f"{BASE}/expo", _body())
    assert status == 201 and doc["stored"] is False and doc["config_id"]
    assert repo.get_channel("expo")["status"] == "pending"  # type: ignore[index]
    again = _put(call, remark="fixed")
    assert again["config_id"] == doc["config_id"] and again["status"] == "active"
    assert len(_calls(sim, "add")) == 1 and list(_ways(sim)) == [doc["config_id"]]
    assert _ways(sim)[doc["config_id"]]["remark"] == "fixed"  # the adopted code follows the PUT


def test_store_write_failing_after_wecoms_answer_is_repaired_by_reconcile(
    call: Any, sim: SimulatorHandle
) -> None:
    with _service(repo=Overriding(repo, activate_channel=_failing("PutItem"))):
        doc = call("PUT", f"{BASE}/expo", _body())[1]
    report = call("POST", f"{BASE}/reconcile", {"repair": True})[1]
    assert report["pending"] == [
        {"channel_id": "expo", "config_id": doc["config_id"], "in_flight": False, "repaired": True}
    ]
    assert report["unknown_in_store"] == []  # the code is the intent's, not an unknown one
    stored = repo.get_channel("expo")
    assert stored is not None and (stored["status"], stored["config_id"]) == ("active", doc["config_id"])
    assert len(_calls(sim, "add")) == 1 and list(_ways(sim)) == [doc["config_id"]]


def _crashed_intent(channel_id: str, age_ms: int) -> str:
    """What a Lambda that died right after WeCom's answer leaves: the intent, and WeCom's code."""
    now = int(time.time() * 1000) - age_ms
    intent = {"channel_id": channel_id, **_body(), "skip_verify": True, "tags": []}
    assert repo.put_channel_intent(intent | {"status": "pending", "created_at_ms": now, "updated_at_ms": now})
    answer = contact_ways.add(
        runtime.wecom_client(), {"type": 1, "state": channel_id, "user": ["zhangsan"], "skip_verify": True}
    )
    return answer["config_id"]


def test_a_crash_between_wecoms_answer_and_our_write_is_adopted_by_the_next_put(
    call: Any, sim: SimulatorHandle
) -> None:
    other = contact_ways.add(runtime.wecom_client(), {"type": 1, "state": "other", "user": ["lisi"]})
    config_id = _crashed_intent("expo", age_ms=0)
    status, doc = call("PUT", f"{BASE}/expo", _body())
    assert (status, doc["error"]["code"]) == (409, "invalid_state")  # the add may still be answering
    later = int(time.time() * 1000) + INTENT_GRACE_MS
    with _service(clock_ms=lambda: later):
        adopted = _put(call)
    assert adopted["config_id"] == config_id and adopted["status"] == "active"
    assert len(_calls(sim, "add")) == 2  # ours (before the crash) and the other code's: none since
    assert set(_ways(sim)) == {config_id, other["config_id"]}


def test_a_repair_wecom_could_not_answer_frees_the_intent_for_the_next_put(
    call: Any, sim: SimulatorHandle
) -> None:
    config_id = _crashed_intent("expo", age_ms=INTENT_GRACE_MS + 1000)
    fault = {"path": "list_contact_way", "http_status": 502}
    requests.post(f"{sim.url}/__sim/faults", json=fault, timeout=5).raise_for_status()
    status, doc = call("PUT", f"{BASE}/expo", _body())
    assert (status, doc["error"]["code"]) == (503, "wecom_unavailable")
    assert _put(call)["config_id"] == config_id  # at once, not after another grace period
    assert len(_ways(sim)) == 1


@pytest.mark.usefixtures("sim")
def test_reconcile_repair_adopts_a_crashed_intents_code(call: Any) -> None:
    config_id = _crashed_intent("expo", age_ms=INTENT_GRACE_MS + 1000)
    _crashed_intent("fresh", age_ms=0)
    report = call("POST", f"{BASE}/reconcile")[1]
    assert {(p["channel_id"], p["in_flight"]) for p in report["pending"]} == {
        ("expo", False),
        ("fresh", True),
    }
    assert report["unknown_in_store"] == [] and report["in_sync"] is False
    repaired = call("POST", f"{BASE}/reconcile", {"repair": True})[1]
    assert [p.get("repaired") for p in repaired["pending"] if p["channel_id"] == "expo"] == [True]
    stored = repo.get_channel("expo")
    assert stored is not None and (stored["status"], stored["config_id"]) == ("active", config_id)
    assert repo.get_channel("fresh")["status"] == "pending"  # type: ignore[index]


def test_no_answer_to_add_frees_the_intent_and_the_retry_makes_one_code(
    call: Any, sim: SimulatorHandle
) -> None:
    fault = {"path": "add_contact_way", "http_status": 502}
    requests.post(f"{sim.url}/__sim/faults", json=fault, timeout=5).raise_for_status()
    status, doc = call("PUT", f"{BASE}/expo", _body())
    assert (status, doc["error"]["code"]) == (503, "wecom_unavailable")
    assert repo.get_channel("expo")["updated_at_ms"] == 0  # type: ignore[index]
    assert _put(call)["status"] == "active"
    assert len(_ways(sim)) == 1


class _Impatient(WeComClient):
    """The container's client with a 1 s read timeout, so a test can outwait it against a slow WeCom."""

    def post(
        self,
        path: str,
        body: dict[str, Any],
        timeout: Any = None,  # noqa: ARG002  (the real signature's; the override's own is fixed)
        *,
        retry_on_token_error: bool = True,
    ) -> dict[str, Any]:
        return super().post(path, body, (1.0, 1.0), retry_on_token_error=retry_on_token_error)


def _wait_for_codes(sim: SimulatorHandle, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(_ways(sim)) < count:
        assert time.monotonic() < deadline, "the simulator's delayed add_contact_way never completed"
        time.sleep(0.05)


def test_a_retry_while_a_slow_add_may_still_complete_adds_no_second_code(
    call: Any, sim: SimulatorHandle
) -> None:
    """WeCom answers add_contact_way after our timeout but makes the code: the retry the 503 asks for must
    neither add a second code while the first add may still complete, nor lose the one WeCom made."""
    shared = runtime.wecom_client()
    impatient = _Impatient(shared.api_base, shared.tokens, shared.session)
    fault = {"path": "add_contact_way", "delay_ms": 2500}
    requests.post(f"{sim.url}/__sim/faults", json=fault, timeout=5).raise_for_status()
    with _service(wecom=lambda: impatient):
        status, doc = call("PUT", f"{BASE}/expo", _body())
        assert (status, doc["error"]["code"]) == (503, "wecom_unavailable")
        assert "may still" in doc["error"]["message"]
        status, doc = call("PUT", f"{BASE}/expo", _body())  # at once, as an operator would
    assert (status, doc["error"]["code"]) == (409, "invalid_state"), doc
    assert "retry in" in doc["error"]["message"]
    _wait_for_codes(sim, 1)
    later = int(time.time() * 1000) + INTENT_GRACE_MS
    with _service(clock_ms=lambda: later):
        adopted = _put(call)
    assert len(_calls(sim, "add")) == 1 and list(_ways(sim)) == [adopted["config_id"]]
    assert adopted["status"] == "active"


def test_reconcile_settles_two_codes_an_intent_got_by_keeping_the_smallest_config_id(
    call: Any, sim: SimulatorHandle
) -> None:
    """An intent past its grace period with two codes of its state (a slow add that completed, and a
    retry's): the smallest config id is adopted, the other deleted in WeCom; while the intent is in flight
    nothing is touched."""
    first = _crashed_intent("expo", age_ms=0)
    second = contact_ways.add(runtime.wecom_client(), {"type": 1, "state": "expo", "user": ["zhangsan"]})
    kept, other = sorted([first, second["config_id"]])
    in_flight = call("POST", f"{BASE}/reconcile", {"repair": True})[1]
    assert in_flight["duplicates"] == [] and in_flight["unknown_in_store"] == []
    assert len(_ways(sim)) == 2 and len(_calls(sim, "del")) == 0
    later = int(time.time() * 1000) + INTENT_GRACE_MS
    reconciler = ChannelReconciler(repo=repo, wecom=runtime.wecom_client, clock_ms=lambda: later)
    report = reconciler.reconcile({"repair": True})
    assert report["duplicates"] == [
        {"channel_id": "expo", "config_id": other, "kept": kept, "repaired": True}
    ]
    assert [(p["config_id"], p.get("repaired")) for p in report["pending"]] == [(kept, True)]
    stored = repo.get_channel("expo")
    assert stored is not None and (stored["status"], stored["config_id"]) == ("active", kept)
    assert list(_ways(sim)) == [kept] and len(_calls(sim, "del")) == 1


# ------------------------------------------------------------------------------------------------ update
def test_a_later_put_sends_only_what_changed_in_wecoms_fields(call: Any, sim: SimulatorHandle) -> None:
    created = _put(call, members=["zhangsan", "lisi"], remark="r1")
    status, doc = call("PUT", f"{BASE}/expo", _body(members=["lisi", "zhangsan", "wangwu"], remark="r1"))
    assert status == 200 and doc["config_id"] == created["config_id"]
    [update] = _calls(sim, "update")
    assert update["body"] == {"config_id": created["config_id"], "user": ["lisi", "zhangsan", "wangwu"]}
    _put(call, members=["lisi", "zhangsan", "wangwu"], remark="r1", name="renamed", tags=["et9"])
    assert len(_calls(sim, "update")) == 1  # only our own fields changed: WeCom is not called
    stored = repo.get_channel("expo")
    assert stored is not None and (stored["name"], stored["tags"]) == ("renamed", ["et9"])
    _put(call, members=["lisi", "zhangsan", "wangwu"])  # the remark is cleared on WeCom too
    assert _calls(sim, "update")[-1]["body"] == {"config_id": created["config_id"], "remark": ""}
    assert "remark" not in repo.get_channel("expo")  # type: ignore[operator]


@pytest.mark.usefixtures("sim")
def test_an_update_racing_another_is_a_409_not_a_500(call: Any) -> None:
    _put(call, remark="r1")
    with _service(repo=Overriding(repo, replace_channel=lambda *_args: False)):  # another PUT won the write
        status, doc = call("PUT", f"{BASE}/expo", _body(remark="r2"))
    assert (status, doc["error"]["code"]) == (409, "invalid_state")
    assert "PUT it again" in doc["error"]["message"]


def test_a_code_cannot_change_between_single_and_multi_member(call: Any, sim: SimulatorHandle) -> None:
    _put(call)
    before = repo.get_channel("expo")
    status, doc = call("PUT", f"{BASE}/expo", _body(members=["zhangsan", "lisi"]))
    assert (status, doc["error"]["field"]) == (400, "members")
    assert repo.get_channel("expo") == before and _calls(sim, "update") == []


# ------------------------------------------------------------------------------------------------ list, delete
@pytest.mark.usefixtures("sim")
def test_list_is_paginated_with_a_signed_cursor(call: Any) -> None:
    for channel_id in ("a", "b", "c"):
        _put(call, channel_id)
    status, first = call("GET", BASE, query={"limit": "2"})
    assert status == 200 and [c["channel_id"] for c in first["items"]] == ["a", "b"]
    second = call("GET", BASE, query={"limit": "2", "cursor": first["cursor"]})[1]
    assert [c["channel_id"] for c in second["items"]] == ["c"]
    assert call("GET", BASE, query={"cursor": first["cursor"][:-2] + "xx"})[1]["error"]["field"] == "cursor"


def test_delete_removes_the_code_and_is_idempotent_towards_wecom(call: Any, sim: SimulatorHandle) -> None:
    first, second = _put(call, "a"), _put(call, "b")
    assert call("DELETE", f"{BASE}/a")[0] == 204
    assert set(_ways(sim)) == {second["config_id"]} and repo.get_channel("a") is None
    assert call("DELETE", f"{BASE}/a")[0] == 404
    contact_ways.delete(runtime.wecom_client(), second["config_id"])  # deleted by another tool
    assert call("DELETE", f"{BASE}/b")[0] == 204 and repo.get_channel("b") is None
    assert first["config_id"] not in _ways(sim)


def test_deleting_a_crashed_intent_deletes_the_code_wecom_made_for_it(
    call: Any, sim: SimulatorHandle
) -> None:
    _crashed_intent("expo", age_ms=INTENT_GRACE_MS + 1000)
    assert call("DELETE", f"{BASE}/expo")[0] == 204
    assert _ways(sim) == {} and repo.get_channel("expo") is None


# ------------------------------------------------------------------------------------------------ reconcile
def test_reconcile_reports_drift_and_repairs_the_store(call: Any, sim: SimulatorHandle) -> None:
    kept, gone, changed = _put(call, "kept"), _put(call, "gone"), _put(call, "changed", remark="r")
    client = runtime.wecom_client()
    contact_ways.delete(client, gone["config_id"])
    contact_ways.update(client, changed["config_id"], {"remark": "edited elsewhere"})
    walkin = contact_ways.add(client, {"type": 1, "state": "walkin", "user": ["lisi"]})
    contact_ways.add(client, {"type": 1, "state": "not a channel!", "user": ["lisi"]})
    second = contact_ways.add(
        client, {"type": 1, "state": "kept", "user": ["lisi"]}
    )  # a second code for "kept"

    report = call("POST", f"{BASE}/reconcile")[1]
    assert report["repair"] is False and report["in_sync"] is False
    assert report["gone_in_wecom"] == [{"channel_id": "gone", "config_id": gone["config_id"]}]
    assert report["differs"] == [
        {
            "channel_id": "changed",
            "config_id": changed["config_id"],
            "fields": {"remark": {"store": "r", "wecom": "edited elsewhere"}},
        }
    ]
    unknown = {u["state"]: u["importable"] for u in report["unknown_in_store"]}
    assert unknown == {"walkin": True, "not a channel!": False}
    assert report["duplicates"] == [
        {"channel_id": "kept", "config_id": second["config_id"], "kept": kept["config_id"]}
    ]
    assert report["checked"] == {"wecom": 5, "channels": 3}
    assert repo.get_channel("walkin") is None  # a report changes nothing

    repaired = call("POST", f"{BASE}/reconcile", {"repair": True})[1]
    assert [u.get("repaired") for u in repaired["unknown_in_store"] if u["state"] == "walkin"] == [True]
    imported = repo.get_channel("walkin")
    assert imported is not None
    assert (imported["name"], imported["config_id"], imported["status"]) == (
        "walkin",
        walkin["config_id"],
        "active",
    )
    assert repo.get_channel("gone")["status"] == "gone"  # type: ignore[index]
    assert repo.get_channel("kept")["config_id"] == kept["config_id"]  # type: ignore[index]
    assert [d.get("repaired") for d in repaired["duplicates"]] == [True]
    assert second["config_id"] not in _ways(sim) and kept["config_id"] in _ways(sim)  # deleted in WeCom
    after = call("POST", f"{BASE}/reconcile")[1]
    assert after["gone_in_wecom"] == [] and after["duplicates"] == [] and len(after["unknown_in_store"]) == 1

    status, recreated = call("PUT", f"{BASE}/gone", _body())  # a gone channel gets a new code
    assert status == 201 and recreated["config_id"] not in (None, gone["config_id"])
