"""``POST /admin/campaigns/preview`` and ``skip_capped``.

The preview equals what the create then does (audience, chunks, skipped customers); ``skip_capped`` sends
WeCom exactly the uncapped ids (the simulator's received ``add_msg_template`` bodies) and keeps the skipped
ones; the preview's 400s are the create's (driven with the same hostile bodies); a preview calls nothing in
WeCom and writes nothing. The per-customer cap is a ``FakeCaps`` (the customers package provides the real
one): these tests are about what the campaign services do with its answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.events import http_event
from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from tests.support import (
    AdminRefusal,
    DynamoWrites,
    FakeCaps,
    as_admin,
    campaign_deps,
    function_under_test,
    with_campaign_customers,
)
from tests.unit.campaigns.test_campaign_admin import VALIDATION_MATRIX
from wecom_bundle import runtime
from wecom_bundle.campaigns import cap, create, preview, queries
from wecom_bundle.campaigns import repo as campaign_repo
from wecom_bundle.dynamo import client as dynamo_client
from wecom_bundle.validation import ValidationError

pytestmark = pytest.mark.usefixtures("moto_table")
TEXT = {"content": "hello"}
CAMPAIGNS = "/admin/campaigns"
PREVIEW = "/admin/campaigns/preview"


@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


@pytest.fixture
def caps() -> Iterator[FakeCaps]:
    """wm1 is capped (the simulator knows wm0..wm2)."""
    fake = FakeCaps({"wm1"}, pending_ids={"wm2"})
    with runtime.overriding(cap_check=fake):
        yield fake


@pytest.fixture
def sim(wecom_sim: SimulatorHandle, caps: FakeCaps) -> SimulatorHandle:  # noqa: ARG001
    return with_campaign_customers(wecom_sim)


@pytest.fixture
def call(admin: Any) -> Any:
    def _call(path: str, body: Any = None, *, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        payload = json.dumps(body) if body is not None else None
        event = http_event(
            "POST", path, None, payload, {"content-type": "application/json", **(headers or {})}
        )
        answer = admin(event)
        return answer["statusCode"], json.loads(answer.get("body") or "null")

    return _call


def _sent_ids(sim: SimulatorHandle) -> list[list[str]]:
    """The external_userid of every add_msg_template body the simulator received, call by call."""
    return [c["body"]["external_userid"] for c in calls(sim.state, "add_msg_template")]


# ---------------------------------------------------------------------------------------------- the 400s
SKIP_CAPPED_RULES = [
    ({"sender": "zhangsan", "text": TEXT, "skip_capped": True}, "skip_capped"),
    ({"tag_filter": {"group_list": [{"tag_list": ["t"]}]}, "text": TEXT, "skip_capped": True}, "skip_capped"),
    (
        {
            "chat_type": "group",
            "sender": "zhangsan",
            "chat_id_list": ["wr1"],
            "text": TEXT,
            "skip_capped": True,
        },
        "skip_capped",
    ),
    ({"external_userid": ["wm0"], "text": TEXT, "skip_capped": "yes"}, "skip_capped"),
    (
        {"external_userid": ["wm0"], "text": TEXT, "skip_capped": True, "send_at": time.time() + 3 * 86400},
        "skip_capped",
    ),
]


def test_the_preview_refuses_what_create_refuses_with_the_same_400(sim: SimulatorHandle, call: Any) -> None:
    """Every case of create's validation matrix, and the skip_capped rules, on one table (one loop, not one
    moto table per case: the cases share nothing but the table, which none of them may change)."""
    for body, field in VALIDATION_MATRIX + SKIP_CAPPED_RULES:
        writes = DynamoWrites().install(dynamo_client.client())
        try:
            previewed = call(PREVIEW, body)
            assert writes.items == 0, field
        finally:
            writes.uninstall()
        created = call(CAMPAIGNS, body)
        assert previewed == created, field
        assert previewed[0] == 400 and previewed[1]["error"]["field"] == field, (field, previewed)
        assert calls(sim.state, "") == [], field  # not even gettoken


@pytest.mark.usefixtures("sim")
def test_a_bad_idempotency_key_is_the_same_400(call: Any) -> None:
    body = {"external_userid": ["wm0"], "text": TEXT}
    headers = {"Idempotency-Key": "a b"}
    assert call(PREVIEW, body, headers=headers) == call(CAMPAIGNS, body, headers=headers)
    assert call(PREVIEW, body, headers=headers)[1]["error"]["field"] == "Idempotency-Key"


# ------------------------------------------------------------------------------------ nothing called, stored
def test_a_preview_calls_nothing_in_wecom_and_writes_nothing(sim: SimulatorHandle, call: Any) -> None:
    body = {"external_userid": ["wm0", "wm1", "wm2", "wm0"], "text": TEXT, "skip_capped": True}
    writes = DynamoWrites().install(dynamo_client.client())
    try:
        status, doc = call(PREVIEW, body, headers={"Idempotency-Key": "preview-1"})
    finally:
        writes.uninstall()
    assert status == 200, doc
    assert writes.items == 0
    assert calls(sim.state, "") == []
    assert campaign_repo.get_idempotency("preview-1") is None
    assert doc == {
        "audience_size": 2,
        "chunks": 1,
        "quota": {
            "rule": "day",
            "limit": 1,
            "period": FakeCaps().period(int(time.time())),
            "capped": 1,
            "pending": 1,
            "capped_sample": ["wm1"],
        },
        "warnings": [doc["warnings"][0]],
    }
    assert "unsent in a running task" in doc["warnings"][0]
    # the key was not taken: a create with it is a new campaign
    assert call(CAMPAIGNS, body, headers={"Idempotency-Key": "preview-1"})[0] == 201


@pytest.mark.usefixtures("sim")
def test_without_skip_capped_the_preview_counts_and_warns(call: Any) -> None:
    status, doc = call(PREVIEW, {"external_userid": ["wm0", "wm1", "wm2"], "text": TEXT})
    assert status == 200
    assert (doc["audience_size"], doc["chunks"], doc["quota"]["capped"]) == (3, 1, 1)
    assert any("skip_capped leaves them out" in w for w in doc["warnings"])


@pytest.mark.parametrize(
    ("body", "audience", "chunks"),
    [
        ({"sender": "zhangsan", "text": TEXT}, None, 1),
        ({"tag_filter": {"group_list": [{"tag_list": ["t"]}]}, "text": TEXT}, None, 1),
        ({"chat_type": "group", "sender": "zhangsan", "text": TEXT}, None, 1),
        ({"chat_type": "group", "sender": "zhangsan", "chat_id_list": ["wr1", "wr2"], "text": TEXT}, 2, 1),
    ],
)
def test_when_wecom_chooses_the_customers_the_counts_are_null_and_a_warning_says_why(
    sim: SimulatorHandle, call: Any, body: dict[str, Any], audience: int | None, chunks: int
) -> None:
    status, doc = call(PREVIEW, body)
    assert status == 200, doc
    assert (doc["audience_size"], doc["chunks"]) == (audience, chunks)
    quota = doc["quota"]
    assert (quota["rule"], quota["limit"]) == ("day", 1)
    assert quota["capped"] is quota["pending"] is quota["capped_sample"] is None
    assert doc["warnings"] and ("WeCom chooses" in doc["warnings"][0] or "group chat" in doc["warnings"][0])
    assert calls(sim.state, "") == []


@pytest.mark.usefixtures("moto_table")
def test_the_sample_lists_at_most_100_capped_ids_and_the_count_all() -> None:
    ids = [f"wm{i:04d}" for i in range(250)]
    deps = campaign_deps(cap=lambda: FakeCaps(set(ids[:240])))
    doc = preview.preview_campaign(deps, {"external_userid": ids, "text": TEXT, "skip_capped": True})
    assert doc["quota"]["capped"] == 240
    assert doc["quota"]["capped_sample"] == ids[: cap.SAMPLE_SIZE]
    assert doc["audience_size"] == 10


# ------------------------------------------------------------------------------ preview == what create does
def test_preview_equals_what_create_then_does(sim: SimulatorHandle, caps: FakeCaps) -> None:
    """Chunks of two: seven customers, three capped → five sent in three add_msg_template calls."""
    audience = ["wm0", "wmA", "wm1", "wmB", "wmC", "wmD", "wm2"]
    caps.capped_ids = {"wm1", "wmB", "wmD"}
    deps = campaign_deps(chunk_size=2, part_size=2, cap=lambda: caps)
    body = {"external_userid": audience, "text": TEXT, "skip_capped": True}

    previewed = preview.preview_campaign(deps, body)
    created = create.create_campaign(deps, body, "same-1")

    sent = _sent_ids(sim)
    assert previewed["audience_size"] == sum(len(ids) for ids in sent) == 4
    assert previewed["chunks"] == len(sent) == len(created.body["msgids"]) == 2
    assert [i for ids in sent for i in ids] == ["wm0", "wmA", "wmC", "wm2"]
    assert created.body["skipped_capped"] == previewed["quota"]["capped"] == 3
    skipped = campaign_repo.campaign_part_ids(created.body["campaign_id"], "SKIP", 0)
    assert skipped == previewed["quota"]["capped_sample"] == ["wm1", "wmB", "wmD"]


def test_without_skip_capped_the_preview_equals_the_full_create(sim: SimulatorHandle, caps: FakeCaps) -> None:
    deps = campaign_deps(chunk_size=2, cap=lambda: caps)
    body = {"external_userid": ["wm0", "wm1", "wm2"], "text": TEXT}
    previewed = preview.preview_campaign(deps, body)
    created = create.create_campaign(deps, body, None)
    assert (previewed["audience_size"], previewed["chunks"]) == (3, 2)
    assert len(created.body["msgids"]) == 2 and [i for ids in _sent_ids(sim) for i in ids] == [
        "wm0",
        "wm1",
        "wm2",
    ]


# ----------------------------------------------------------------------------------------- skip_capped
def test_skip_capped_sends_exactly_the_uncapped_ids_and_keeps_the_skipped(
    sim: SimulatorHandle, call: Any
) -> None:
    body = {"external_userid": ["wm0", "wm1", "wm2"], "text": TEXT, "skip_capped": True}
    status, created = call(CAMPAIGNS, body, headers={"Idempotency-Key": "skip-1"})
    assert status == 201, created
    assert created["skipped_capped"] == 1
    assert _sent_ids(sim) == [["wm0", "wm2"]]
    campaign_id = created["campaign_id"]
    assert campaign_repo.campaign_part_ids(campaign_id, "SKIP", 0) == ["wm1"]
    shown = runtime_campaign(campaign_id)
    assert (shown["skipped_capped"], shown["audience_size"]) == (1, 2)


def runtime_campaign(campaign_id: str) -> dict[str, Any]:
    return queries.get_campaign(runtime.campaign_deps(), campaign_id)


def test_a_replayed_skip_capped_create_answers_the_first_decision(
    sim: SimulatorHandle, call: Any, caps: FakeCaps
) -> None:
    body = {"external_userid": ["wm0", "wm1", "wm2"], "text": TEXT, "skip_capped": True}
    first = call(CAMPAIGNS, body, headers={"Idempotency-Key": "skip-2"})
    asked = len(caps.asked)
    caps.capped_ids = {"wm0", "wm2"}  # the counters move on; the decision was made once
    replay = call(CAMPAIGNS, body, headers={"Idempotency-Key": "skip-2"})
    assert replay == (200, first[1]) and first[1]["skipped_capped"] == 1
    assert len(caps.asked) == asked  # not asked again
    assert _sent_ids(sim) == [["wm0", "wm2"]]
    other = call(CAMPAIGNS, {**body, "skip_capped": False}, headers={"Idempotency-Key": "skip-2"})
    assert (other[0], other[1]["error"]["code"]) == (409, "idempotency_conflict")


def test_when_every_customer_is_capped_create_refuses_and_sends_nothing(
    sim: SimulatorHandle, call: Any, caps: FakeCaps
) -> None:
    caps.capped_ids = {"wm0", "wm1"}
    body = {"external_userid": ["wm0", "wm1"], "text": TEXT, "skip_capped": True}
    writes = DynamoWrites().install(dynamo_client.client())
    try:
        status, doc = call(CAMPAIGNS, body, headers={"Idempotency-Key": "skip-3"})
    finally:
        writes.uninstall()
    assert status == 409 and doc["error"]["code"] == "audience_capped"
    assert (doc["error"]["count"], doc["error"]["period"]) == (2, caps.period(int(time.time())))
    assert writes.items == 0 and calls(sim.state, "add_msg_template") == []
    previewed = call(PREVIEW, body)[1]
    assert (previewed["audience_size"], previewed["chunks"]) == (0, 0)
    assert any("would refuse" in w for w in previewed["warnings"])


@pytest.mark.usefixtures("moto_table")
def test_the_refusal_has_its_row_in_the_admin_table() -> None:
    deps = campaign_deps(cap=lambda: FakeCaps({"wm0"}))
    with pytest.raises(AdminRefusal) as refused:
        as_admin(create.create_campaign)(
            deps, {"external_userid": ["wm0"], "text": TEXT, "skip_capped": True}, None
        )
    assert (refused.value.status, refused.value.code) == (409, "audience_capped")


def test_without_the_flag_nothing_changes_and_the_cap_is_never_asked(sim: SimulatorHandle, call: Any) -> None:
    never = FakeCaps({"wm0"})
    with runtime.overriding(cap_check=never):
        status, created = call(CAMPAIGNS, {"external_userid": ["wm0", "wm1"], "text": TEXT})
    assert status == 201 and set(created) == {"campaign_id", "status", "msgids", "fail_list"}
    assert never.asked == [] and _sent_ids(sim) == [["wm0", "wm1"]]
    assert "skipped_capped" not in runtime_campaign(created["campaign_id"])


@pytest.mark.usefixtures("sim", "call")
def test_a_create_without_the_flag_needs_no_cap_wiring() -> None:
    def unwired() -> Any:
        raise AssertionError("the cap was built for a create without skip_capped")

    deps = campaign_deps(cap=unwired)
    assert create.create_campaign(deps, {"external_userid": ["wm0"], "text": TEXT}, None).body["msgids"]


@pytest.mark.usefixtures("sim")
def test_a_long_skipped_list_is_kept_in_parts() -> None:
    ids = [f"wm{i}" for i in range(3)] + [f"wmX{i}" for i in range(5)]
    deps = campaign_deps(part_size=2, cap=lambda: FakeCaps({f"wmX{i}" for i in range(5)}))
    created = create.create_campaign(deps, {"external_userid": ids, "text": TEXT, "skip_capped": True}, None)
    campaign_id = created.body["campaign_id"]
    assert campaign_repo.campaign_part_ids(campaign_id, "SKIP", 0) == [f"wmX{i}" for i in range(5)]
    assert created.body["skipped_capped"] == 5


@pytest.mark.usefixtures("sim")
def test_skip_capped_with_send_at_in_the_current_period_is_scheduled() -> None:
    now = int(time.time())
    caps = FakeCaps({"wm1"}, rule="month")
    deps = campaign_deps(cap=lambda: caps)
    body = {"external_userid": ["wm0", "wm1"], "text": TEXT, "skip_capped": True, "send_at": now + 60}
    if caps.period(now + 60) != caps.period(now):  # the last minute of a month: the rule refuses it
        with pytest.raises(ValidationError):
            create.create_campaign(deps, body, None, now=now)
        return
    created = create.create_campaign(deps, body, None, now=now)
    assert created.body["status"] == "scheduled" and created.body["skipped_capped"] == 1
    assert campaign_repo.campaign_part_ids(created.body["campaign_id"], "AUD", 1) == ["wm0"]


# ------------------------------------------------------------------------------------------ who was skipped
@pytest.mark.usefixtures("sim")
def test_the_skipped_customers_are_paged_one_part_at_a_time(admin: Any) -> None:
    skipped = [f"wmX{i}" for i in range(5)]
    deps = campaign_deps(part_size=2, cap=lambda: FakeCaps(set(skipped)))
    body = {"external_userid": ["wm0", *skipped], "text": TEXT, "skip_capped": True}
    campaign_id = create.create_campaign(deps, body, None).body["campaign_id"]
    pages, cursor = [], None
    while True:
        page = queries.skipped_page(deps, campaign_id, {"cursor": cursor} if cursor else {})
        pages.append(page["items"])
        cursor = page["cursor"]
        if cursor is None:
            break
    assert pages == [skipped[:2], skipped[2:4], skipped[4:]]

    def get(path: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
        params = {"campaign_id": path.split("/")[3]}
        answer = admin(http_event("GET", path, query, None, {}, params))
        return answer["statusCode"], json.loads(answer["body"])

    assert get(f"{CAMPAIGNS}/{campaign_id}/skipped") == (
        200,
        {"items": skipped[:2], "cursor": page_cursor(deps, campaign_id)},
    )
    other = create.create_campaign(deps, {"external_userid": ["wm0"], "text": TEXT}, None).body["campaign_id"]
    assert get(f"{CAMPAIGNS}/{other}/skipped") == (200, {"items": [], "cursor": None})
    foreign = page_cursor(deps, campaign_id)  # a cursor of another campaign's list
    status, doc = get(f"{CAMPAIGNS}/{other}/skipped", {"cursor": foreign})
    assert (status, doc["error"]["field"]) == (400, "cursor")
    assert get(f"{CAMPAIGNS}/cmp-nope/skipped")[0] == 404


def page_cursor(deps: Any, campaign_id: str) -> str:
    return str(queries.skipped_page(deps, campaign_id, {})["cursor"])


def test_skip_capped_costs_one_write_per_part_of_skipped_ids(sim: SimulatorHandle) -> None:
    """The same two customers sent to, with and without a skipped one: the only extra write is its SKIP part
    (the record's count rides in the create's transaction)."""
    deps = campaign_deps(cap=lambda: FakeCaps({"wm1"}))
    create.create_campaign(deps, {"external_userid": ["wm0"], "text": TEXT}, None)  # the token is cached

    def writes_of(body: dict[str, Any]) -> int:
        writes = DynamoWrites().install(dynamo_client.client())
        try:
            create.create_campaign(deps, body, None)
        finally:
            writes.uninstall()
        return writes.items

    plain = writes_of({"external_userid": ["wm0", "wm2"], "text": TEXT})
    skipping = writes_of({"external_userid": ["wm0", "wm1", "wm2"], "text": TEXT, "skip_capped": True})
    assert skipping - plain == 1
    assert _sent_ids(sim)[-2:] == [["wm0", "wm2"], ["wm0", "wm2"]]


@pytest.mark.usefixtures("sim")
def test_a_preview_scheduled_into_a_later_period_says_the_counts_are_todays(call: Any) -> None:
    body = {"external_userid": ["wm0", "wm1"], "text": TEXT, "send_at": int(time.time()) + 3 * 86400}
    status, doc = call(PREVIEW, body)
    assert status == 200 and doc["quota"]["capped"] == 1
    assert any("later period" in w for w in doc["warnings"])
    assert call(PREVIEW, {**body, "skip_capped": True})[1]["error"]["field"] == "skip_capped"
