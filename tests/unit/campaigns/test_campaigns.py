"""Campaign service against the WeCom simulator over real HTTP and moto's DynamoDB.

Chunking (25 000 customers → 3 tasks), idempotency keys, the crash between the WeCom call and the write
(repaired from get_groupmsg_list_v2), scheduled sends exactly once, cancel, transient faults, list and show.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from tests.support import AdminRefusal, Overriding, as_admin, campaign_deps
from wecom_bundle import runtime
from wecom_bundle.campaigns import cancel, create, limits, queries, reminders, repair, results, validation
from wecom_bundle.campaigns import repo as campaign_repo
from wecom_bundle.campaigns.deps import CampaignDeps
from wecom_bundle.dynamo import client as dynamo_client
from wecom_bundle.dynamo import keys
from wecom_bundle.result_sync import repo as sync_repo
from wecom_bundle.result_sync.totals import zero_totals
from wecom_bundle.validation import NotFound, ValidationError
from wecom_bundle.wecom import groupmsg

pytestmark = pytest.mark.usefixtures("moto_table")
TEXT = {"content": "双十一 85 折"}


# Creates and cancels as the admin API answers them (the service returns domain results, not statuses).
create_campaign = as_admin(create.create_campaign)
cancel_campaign = as_admin(cancel.cancel_campaign)


# Retries without pauses; SMALL: chunks of 2 recipients and parts of 1 id (every multi-chunk path with a
# handful of customers).
DEPS = campaign_deps()
SMALL = campaign_deps(chunk_size=2, part_size=1)


@pytest.fixture
def sim(wecom_sim: SimulatorHandle) -> SimulatorHandle:
    contacts(wecom_sim, {"zhangsan": [f"wm{i:05d}" for i in range(6)], "lisi": ["wmL1", "wmL2"]})
    return wecom_sim


def contacts(sim: SimulatorHandle, owners: dict[str, list[str]]) -> None:
    customers = [{"external_userid": e, "name": e, "owner": o} for o, ids in owners.items() for e in ids]
    requests.post(
        f"{sim.url}/__sim/contacts", json={"members": list(owners), "customers": customers}, timeout=30
    ).raise_for_status()


def fault(sim: SimulatorHandle, **spec: Any) -> None:
    requests.post(f"{sim.url}/__sim/faults", json=spec, timeout=5).raise_for_status()


def wecom_calls(sim: SimulatorHandle, api: str) -> list[dict[str, Any]]:
    return [c for c in calls(sim.state, api) if c["errcode"] == 0 and c["http_status"] == 200]


def sim_task(sim: SimulatorHandle, msgid: str) -> dict[str, Any]:
    return requests.get(f"{sim.url}/__sim/groupmsg/{msgid}", timeout=5).json()


def body(external_userid: list[str], **extra: Any) -> dict[str, Any]:
    return {"external_userid": external_userid, "text": TEXT, **extra}


# ---------------------------------------------------------------------------------------------- chunking
def test_25000_customers_become_three_tasks_with_msgids_and_fail_lists(sim: SimulatorHandle) -> None:
    known = {
        "zhangsan": [f"wmZ{i:05d}" for i in range(12_000)],
        "lisi": [f"wmL{i:05d}" for i in range(12_000)],
    }
    contacts(sim, known)
    audience = [e for pair in zip(known["zhangsan"], known["lisi"], strict=True) for e in pair]
    unknown = [f"wmNobody{i:04d}" for i in range(1_000)]
    for i, stranger in enumerate(unknown):  # one unknown customer every 25: in every chunk
        audience.insert(i * 25, stranger)
    assert len(audience) == 25_000

    result = create_campaign(DEPS, body(audience, name="双十一"), None)

    assert result.status == 201
    assert result.body["status"] == "active"
    msgids = result.body["msgids"]
    assert len(msgids) == 3 and len(set(msgids)) == 3
    assert sorted(result.body["fail_list"]) == sorted(unknown)
    adds = wecom_calls(sim, "add_msg_template")
    assert [len(c["body"]["external_userid"]) for c in adds] == [10_000, 10_000, 5_000]
    assert [i for c in adds for i in c["body"]["external_userid"]] == audience  # order kept, nothing twice
    assert all(c["body"]["text"] == TEXT and c["body"]["chat_type"] == "single" for c in adds)

    shown = queries.get_campaign(DEPS, result.body["campaign_id"])
    assert shown["msgids"] == msgids
    assert shown["fail_list_size"] == 1_000
    assert shown["audience_size"] == 25_000
    assert [c["audience_count"] for c in shown["chunks"]] == [10_000, 10_000, 5_000]
    per_chunk = [c["fail_count"] for c in shown["chunks"]]
    assert sum(per_chunk) == 1_000 and all(n > 0 for n in per_chunk)
    for n, msgid in enumerate(msgids, start=1):  # each chunk's fail_list is WeCom's own for that msgid
        assert (
            campaign_repo.campaign_part_ids(result.body["campaign_id"], "FAIL", n)
            == sim_task(sim, msgid)["fail_list"]
        )
        assert campaign_repo.get_msgid_owner(msgid)["chunk"] == n


@pytest.mark.usefixtures("sim")
def test_audience_items_stay_far_below_the_item_size_limit(moto_table: Any) -> None:
    ids = [f"wm{i:05d}" for i in range(6)] + [f"wmUnknown{i:05d}" for i in range(12_000)]
    result = create_campaign(DEPS, body(ids), None)
    campaign_pk = keys.campaign_pk(result.body["campaign_id"])
    items = moto_table.query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": campaign_pk}
    )
    parts = [i for i in items["Items"] if i["sk"].startswith("PART#")]
    assert {p["sk"][:9] for p in parts} == {"PART#AUD#", "PART#FAIL"}
    assert max(len(p["ids"]) for p in parts) == limits.PART_SIZE
    assert max(len(str(p).encode()) for p in items["Items"]) < 200_000


def test_sender_only_and_group_campaigns_are_one_task(sim: SimulatorHandle) -> None:
    requests.post(
        f"{sim.url}/__sim/contacts", json={"chats": [{"chat_id": "wrChat1", "owner": "zhangsan"}]}, timeout=5
    ).raise_for_status()
    single = create_campaign(DEPS, {"sender": "zhangsan", "text": TEXT}, None)
    group = create_campaign(
        DEPS, {"chat_type": "group", "sender": "zhangsan", "chat_id_list": ["wrChat1"], "text": TEXT}, None
    )
    assert len(single.body["msgids"]) == 1 and len(group.body["msgids"]) == 1
    adds = wecom_calls(sim, "add_msg_template")
    assert adds[0]["body"] == {"chat_type": "single", "sender": "zhangsan", "text": TEXT}
    assert adds[1]["body"]["chat_id_list"] == ["wrChat1"]
    assert sim_task(sim, group.body["msgids"][0])["chat_type"] == "group"


def test_tag_filter_campaign(sim: SimulatorHandle) -> None:
    tag_filter = {"group_list": [{"tag_list": ["etVIP", "etGold"]}, {"tag_list": ["etShanghai"]}]}
    result = create_campaign(DEPS, {"tag_filter": tag_filter, "text": TEXT}, None)
    assert result.body["status"] == "active" and len(result.body["msgids"]) == 1
    (add,) = wecom_calls(sim, "add_msg_template")
    assert add["body"] == {"chat_type": "single", "tag_filter": tag_filter, "text": TEXT}


# ---------------------------------------------------------------------------------------------- idempotency
def test_same_key_same_body_replays_without_a_wecom_call(sim: SimulatorHandle) -> None:
    deps = SMALL
    first = create_campaign(deps, body(["wm00000", "wm00001", "wm00002"]), "key-1")
    replay = create_campaign(deps, body(["wm00000", "wm00001", "wm00002"]), "key-1")
    assert (first.status, replay.status, replay.replayed) == (201, 200, True)
    assert replay.body == first.body
    assert len(wecom_calls(sim, "add_msg_template")) == 2


def test_same_key_other_body_is_a_conflict(sim: SimulatorHandle) -> None:
    first = create_campaign(DEPS, body(["wm00000"]), "key-2")
    with pytest.raises(AdminRefusal) as refused:
        create_campaign(DEPS, body(["wm00001"]), "key-2")
    assert (refused.value.status, refused.value.code) == (409, "idempotency_conflict")
    assert refused.value.extra["campaign_id"] == first.body["campaign_id"]
    assert len(wecom_calls(sim, "add_msg_template")) == 1


def test_without_a_key_every_post_creates(sim: SimulatorHandle) -> None:
    a = create_campaign(DEPS, body(["wm00000"]), None)
    b = create_campaign(DEPS, body(["wm00000"]), None)
    assert a.body["campaign_id"] != b.body["campaign_id"]
    assert len(wecom_calls(sim, "add_msg_template")) == 2


@pytest.mark.usefixtures("sim")
def test_keys_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGN_IDEMPOTENCY_TTL_HOURS", "1")
    now = int(time.time())
    first = create_campaign(DEPS, body(["wm00000"]), "key-3", now=now)
    held = campaign_repo.get_idempotency("key-3")
    assert held["expires_at"] == now + 3600
    later = create_campaign(DEPS, body(["wm00000"]), "key-3", now=now + 3601)
    assert later.status == 201 and later.body["campaign_id"] != first.body["campaign_id"]


def test_a_key_taken_between_check_and_write_replays_the_winner(sim: SimulatorHandle) -> None:
    """The race of two requests with one key, made deterministic: the loser's first look sees no key."""
    winner = create_campaign(DEPS, body(["wm00000"]), "key-4")
    real = campaign_repo.get_idempotency
    seen: list[str] = []

    def late_look(key: str) -> dict[str, Any] | None:
        seen.append(key)
        return None if len(seen) == 1 else real(key)

    late = campaign_deps(repo=Overriding(campaign_repo, get_idempotency=late_look))
    loser = create_campaign(late, body(["wm00000"]), "key-4")
    assert loser.replayed and loser.body["campaign_id"] == winner.body["campaign_id"]
    assert len(wecom_calls(sim, "add_msg_template")) == 1
    assert queries.list_campaigns(DEPS, {})["items"][0]["campaign_id"] == winner.body["campaign_id"]
    assert len(queries.list_campaigns(DEPS, {})["items"]) == 1


# ---------------------------------------------------------------------------------------------- crash and repair
def crash_after_first_call(deps: CampaignDeps) -> CampaignDeps:
    """``deps`` whose first msgid registration fails: WeCom created the task, then the write of its msgid
    failed (the Lambda died there)."""
    real = campaign_repo.claim_msgid
    state = {"armed": True}

    def dying(*args: Any, **kwargs: Any) -> Any:
        if state.pop("armed", False):
            raise RuntimeError("Lambda died between the WeCom call and the write")
        return real(*args, **kwargs)

    return dataclasses.replace(deps, repo=Overriding(deps.repo, claim_msgid=dying))


def list_v2(chat_type: str = "single") -> list[dict[str, Any]]:
    now = int(time.time())
    query = {"chat_type": chat_type, "start_time": now - 3600, "end_time": now + 3600, "filter_type": 2}
    pages = groupmsg.get_groupmsg_list_v2(runtime.wecom_client(), query)
    return [row for rows, _ in pages for row in rows]


def test_crash_between_call_and_write_is_linked_back_from_list_v2(
    sim: SimulatorHandle,
) -> None:
    deps = crash_after_first_call(SMALL)
    with pytest.raises(RuntimeError):
        create_campaign(deps, body(["wm00000", "wm00001", "wm00002"]), "crash-key")
    (orphan_msgid,) = [t["msgid"] for t in requests.get(f"{sim.url}/__sim/groupmsg", timeout=5).json()]
    campaign_id = campaign_repo.get_idempotency("crash-key")["campaign_id"]
    chunk = campaign_repo.campaign_chunks(campaign_id)[0]
    assert (chunk["state"], chunk.get("msgid")) == ("calling", None)
    assert chunk["fingerprint"] and chunk["first_attempt_at"] and chunk["chat_type"] == "single"

    # a task created outside the product with the same text is never taken for ours
    requests.post(
        f"{sim.url}/__sim/groupmsg/admin_task",
        json={"creator": "lisi", "create_type": 1, "external_userid": ["wmL1"], "text": TEXT},
        timeout=5,
    ).raise_for_status()
    rows = list_v2()
    assert len(rows) == 2
    too_soon = repair.link_orphan_task(deps, next(r for r in rows if r["msgid"] == orphan_msgid), "single")
    assert too_soon is None  # the call may still be answering: wait MIN_ORPHAN_AGE_S
    later = int(time.time()) + repair.MIN_ORPHAN_AGE_S + 1
    linked = [repair.link_orphan_task(deps, row, "single", now=later) for row in rows]
    assert [x for x in linked if x] == [{"campaign_id": campaign_id, "chunk": 1, "msgid": orphan_msgid}]
    assert (
        repair.link_orphan_task(
            deps, next(r for r in rows if r["msgid"] == orphan_msgid), "single", now=later
        )
        is None
    )

    # the next scheduled run resumes the stalled campaign once its lease is over: chunk 2 only
    summary = reminders.run_due(deps, now=int(time.time()) + limits.LEASE_S + 1)
    assert summary["campaigns_created"] == 1
    shown = queries.get_campaign(deps, campaign_id)
    assert shown["status"] == "active"
    assert shown["msgids"][0] == orphan_msgid and len(shown["msgids"]) == 2
    assert len(wecom_calls(sim, "add_msg_template")) == 2  # nothing created twice
    first = campaign_repo.campaign_chunks(campaign_id)[0]
    assert (first["linked_by"], first["fail_list_lost"]) == ("repair", True)


def test_resuming_sender_repairs_its_own_lost_answer(
    sim: SimulatorHandle,
) -> None:
    deps = crash_after_first_call(SMALL)
    with pytest.raises(RuntimeError):
        create_campaign(deps, body(["wm00000", "wm00001", "wm00002"]), None)
    assert reminders.run_due(deps, now=int(time.time()) + 10)["campaigns_claimed"] == 0  # lease still held
    reminders.run_due(deps, now=int(time.time()) + limits.LEASE_S + 1)
    (campaign,) = queries.list_campaigns(deps, {})["items"]
    shown = queries.get_campaign(deps, campaign["campaign_id"])
    assert shown["status"] == "active" and len(shown["msgids"]) == 2
    assert len(wecom_calls(sim, "add_msg_template")) == 2
    assert len(calls(sim.state, "get_groupmsg_list_v2")) == 1


@pytest.mark.usefixtures("sim")
def test_an_authoritative_answer_takes_back_a_msgid_a_repair_guessed_wrong() -> None:
    """Two chunks of identical content: the repair of A may guess B's task; B's own answer wins."""
    now = int(time.time())
    spec = {"chat_type": "single", "text": TEXT, "attachments": []}
    fingerprint = repair.content_fingerprint(**spec)
    for cid in ("cmp-a", "cmp-b"):
        chunk = {
            "campaign_id": cid,
            "chunk": 1,
            "state": "pending",
            "chat_type": "single",
            "fingerprint": fingerprint,
        }
        campaign_repo.create_campaign_items({"campaign_id": cid, "status": "creating"}, [chunk], None, now)
        campaign_repo.start_chunk_call(cid, 1, fingerprint, now - 60, now - 60)
    assert repair.link(DEPS, "cmp-a", 1, "msgB", None, "repair")
    assert repair.link(DEPS, "cmp-b", 1, "msgB", 0, "call")
    assert campaign_repo.get_msgid_owner("msgB")["campaign_id"] == "cmp-b"
    a_chunk, b_chunk = campaign_repo.campaign_chunks("cmp-a")[0], campaign_repo.campaign_chunks("cmp-b")[0]
    assert (a_chunk["state"], a_chunk.get("msgid")) == ("calling", None)
    assert (b_chunk["state"], b_chunk["msgid"]) == ("sent", "msgB")
    assert [c["campaign_id"] for c in campaign_repo.unlinked_chunks(fingerprint, now - 3600, now)] == [
        "cmp-a"
    ]


# ---------------------------------------------------------------------------------------------- faults
def test_transient_faults_are_retried_without_duplicates(sim: SimulatorHandle) -> None:
    fault(sim, path="add_msg_template", errcode=45033, times=1)
    fault(sim, path="add_msg_template", http_status=502, times=1)
    result = create_campaign(DEPS, body(["wm00000"]), None)
    assert result.status == 201 and len(result.body["msgids"]) == 1
    assert len(wecom_calls(sim, "add_msg_template")) == 1
    assert len(calls(sim.state, "get_groupmsg_list_v2")) == 1  # after the 502: was it created after all?


def test_wecom_down_leaves_the_campaign_to_the_scheduled_function(sim: SimulatorHandle) -> None:
    deps = SMALL
    fault(sim, path="add_msg_template", http_status=503, times=50)
    result = create_campaign(deps, body(["wm00000", "wm00001", "wm00002"]), None)
    assert (result.status, result.body["status"], result.body["msgids"]) == (202, "creating", [])
    requests.delete(f"{sim.url}/__sim/faults", timeout=5).raise_for_status()
    assert reminders.run_due(deps)["campaigns_created"] == 1  # lease released: due at once
    shown = queries.get_campaign(deps, result.body["campaign_id"])
    assert shown["status"] == "active" and len(shown["msgids"]) == 2


def test_wecom_refusal_fails_the_campaign_with_its_errcode(sim: SimulatorHandle) -> None:
    with pytest.raises(AdminRefusal) as refused:
        create_campaign(DEPS, body(["wm00000"], sender="nobody"), "refused-key")
    assert (refused.value.status, refused.value.code, refused.value.extra["errcode"]) == (
        400,
        "wecom_error",
        40003,
    )
    campaign_id = refused.value.extra["campaign_id"]
    assert queries.get_campaign(DEPS, campaign_id)["status"] == "failed"
    with pytest.raises(AdminRefusal) as replayed:
        create_campaign(DEPS, body(["wm00000"], sender="nobody"), "refused-key")
    assert replayed.value.extra == refused.value.extra
    assert len(calls(sim.state, "add_msg_template")) == 1


# ---------------------------------------------------------------------------------------------- scheduled
def test_future_send_at_is_scheduled_and_sent_once_when_due(sim: SimulatorHandle) -> None:
    deps = SMALL
    now = int(time.time())
    result = create_campaign(deps, body(["wm00000", "wm00001", "wm00002"], send_at=now + 3600), None)
    assert (result.status, result.body["status"], result.body["msgids"]) == (201, "scheduled", [])
    assert result.body["send_at"] == now + 3600
    assert reminders.run_due(deps, now=now + 3599)["campaigns_claimed"] == 0
    assert calls(sim.state, "add_msg_template") == []
    assert reminders.run_due(deps, now=now + 3600)["campaigns_created"] == 1
    assert reminders.run_due(deps, now=now + 3700)["campaigns_claimed"] == 0
    assert len(wecom_calls(sim, "add_msg_template")) == 2
    shown = queries.get_campaign(deps, result.body["campaign_id"])
    assert shown["status"] == "active" and len(shown["msgids"]) == 2 and shown["send_at"] == now + 3600


@pytest.mark.usefixtures("sim")
def test_iso_send_at_and_past_send_at() -> None:
    now = int(time.time())
    at = datetime.fromtimestamp(now + 86_400, timezone(timedelta(hours=8))).isoformat()
    future = create_campaign(DEPS, body(["wm00000"], send_at=at), None, now=now)
    assert future.body["status"] == "scheduled" and future.body["send_at"] == now + 86_400
    past = create_campaign(DEPS, body(["wm00001"], send_at=now - 60), None)
    assert past.body["status"] == "active"


def test_naive_send_at_is_wall_clock_time_in_the_business_zone(
    sim: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``2026-12-12T10:00`` means 10:00 in WELCOME_TIMEZONE (02:00 UTC in Shanghai), not 10:00 UTC."""
    now = int(datetime(2026, 12, 8, tzinfo=UTC).timestamp())
    shanghai = create_campaign(DEPS, body(["wm00000"], send_at="2026-12-12T10:00"), None, now=now)
    assert shanghai.body["send_at"] == int(datetime(2026, 12, 12, 2, tzinfo=UTC).timestamp())
    monkeypatch.setenv("WELCOME_TIMEZONE", "Europe/London")
    london = create_campaign(campaign_deps(), body(["wm00001"], send_at="2026-12-12T10:00"), None, now=now)
    assert london.body["send_at"] == int(datetime(2026, 12, 12, 10, tzinfo=UTC).timestamp())
    assert calls(sim.state, "add_msg_template") == []


def test_send_at_more_than_five_minutes_ago_is_refused_and_nothing_is_stored(sim: SimulatorHandle) -> None:
    now = int(time.time())
    for typo in ("2020-12-12T10:00", now - validation.SEND_AT_PAST_GRACE_S - 1):
        with pytest.raises(ValidationError) as refused:
            create_campaign(DEPS, body(["wm00000"], send_at=typo), "typo-key")
        assert refused.value.field == "send_at"
    assert campaign_repo.get_idempotency("typo-key") is None
    assert queries.list_campaigns(DEPS, {})["items"] == []
    assert calls(sim.state, "") == []
    edge = create_campaign(DEPS, body(["wm00000"], send_at=now - validation.SEND_AT_PAST_GRACE_S + 5), None)
    assert edge.body["status"] == "active"  # within the grace: sent now


@pytest.mark.usefixtures("sim")
def test_a_late_retry_of_a_scheduled_create_answers_what_it_created() -> None:
    """The key is looked up before the past-time rule: a create retried after its send_at has passed (its
    answer was lost) gets the campaign it made, not a 400, and nothing new is stored."""
    now = int(time.time())
    scheduled = body(["wm00000"], send_at=now + 600)
    first = create_campaign(DEPS, scheduled, "late-key", now=now)
    assert first.body["status"] == "scheduled"
    later = now + 600 + validation.SEND_AT_PAST_GRACE_S + 60
    again = create_campaign(DEPS, scheduled, "late-key", now=later)
    assert again.body["campaign_id"] == first.body["campaign_id"]
    assert len(queries.list_campaigns(DEPS, {})["items"]) == 1
    with pytest.raises(ValidationError) as refused:  # without the key, the same body is a typo by now
        create_campaign(DEPS, scheduled, None, now=later)
    assert refused.value.field == "send_at"


# ---------------------------------------------------------------------------------------------- cancel
def test_cancel_reaches_wecom_for_every_msgid_and_keeps_sent_counts(
    sim: SimulatorHandle, moto_table: Any
) -> None:
    deps = SMALL
    created = create_campaign(deps, body(["wm00000", "wm00001", "wm00002", "wm00003", "wm00004"]), None)
    campaign_id, msgids = created.body["campaign_id"], created.body["msgids"]
    requests.post(f"{sim.url}/__sim/groupmsg/{msgids[0]}/send", json={}, timeout=5).raise_for_status()
    totals = {
        "members": {"sent": 1, "unsent": 2},
        "customers": {"sent": 2, "unsent": 3, "not_friend": 0, "limit_reached": 0},
    }
    moto_table.update_item(  # what the result sync will write
        Key={"pk": keys.campaign_pk(campaign_id), "sk": "CAMPAIGN"},
        UpdateExpression="SET totals = :t",
        ExpressionAttributeValues={":t": totals},
    )
    fault(sim, path="cancel_groupmsg_send", http_status=502, times=1)

    answer = cancel_campaign(deps, campaign_id)

    assert answer["status"] == "cancelled" and sorted(answer["cancelled"]) == sorted(msgids)
    assert answer["failed"] == []
    assert sorted(c["body"]["msgid"] for c in wecom_calls(sim, "cancel_groupmsg_send")) == sorted(msgids)
    assert all(sim_task(sim, m)["cancelled_at"] for m in msgids)
    shown = queries.get_campaign(deps, campaign_id)
    assert shown["status"] == "cancelled" and shown["totals"] == totals
    again = cancel_campaign(deps, campaign_id)
    assert sorted(again["cancelled"]) == sorted(msgids)
    assert len(wecom_calls(sim, "cancel_groupmsg_send")) == 3  # idempotent: nothing re-sent
    assert reminders.run_due(deps, now=int(time.time()) + 3 * 3600)["reminders_sent"] == 0


def test_cancel_a_scheduled_campaign_makes_no_wecom_call(sim: SimulatorHandle) -> None:
    now = int(time.time())
    created = create_campaign(DEPS, body(["wm00000"], send_at=now + 600), None)
    answer = cancel_campaign(DEPS, created.body["campaign_id"])
    assert answer == {
        "campaign_id": created.body["campaign_id"],
        "status": "cancelled",
        "msgids": [],
        "cancelled": [],
        "failed": [],
    }
    assert reminders.run_due(DEPS, now=now + 601)["campaigns_claimed"] == 0
    assert calls(sim.state, "") == []


@pytest.mark.usefixtures("sim")
def test_cancel_unknown_or_failed() -> None:
    with pytest.raises(NotFound):
        cancel_campaign(DEPS, "cmp-nope")
    with pytest.raises(AdminRefusal) as refused:
        create_campaign(DEPS, body(["wm00000"], sender="nobody"), None)
    with pytest.raises(AdminRefusal) as invalid:
        cancel_campaign(DEPS, refused.value.extra["campaign_id"])
    assert invalid.value.code == "invalid_state"


def test_cancel_of_a_completed_campaign_is_refused_and_changes_nothing(sim: SimulatorHandle) -> None:
    created = create_campaign(DEPS, body(["wm00000"]), None)
    campaign_id = created.body["campaign_id"]
    totals = {"members": {"sent": 1, "unsent": 0}, "customers": {**zero_totals()["customers"], "sent": 1}}
    assert sync_repo.record_campaign_totals(campaign_id, totals, int(time.time()), True)  # what the sync does
    with pytest.raises(AdminRefusal) as refused:
        cancel_campaign(DEPS, campaign_id)
    assert (refused.value.status, refused.value.code) == (409, "invalid_state")
    assert "completed" in refused.value.message
    shown = queries.get_campaign(DEPS, campaign_id)
    assert shown["status"] == "completed" and shown.get("cancelled_at") is None
    assert calls(sim.state, "cancel_groupmsg_send") == []


def test_a_sync_completing_the_campaign_during_a_cancel_wins(sim: SimulatorHandle) -> None:
    """The status read first said ``active``; the sync completed it before the conditional write: refused."""
    created = create_campaign(DEPS, body(["wm00000"]), None)
    campaign_id = created.body["campaign_id"]
    real = campaign_repo.mark_campaign_cancelled

    def complete_then_cancel(cid: str, now: int) -> dict[str, Any] | None:
        sync_repo.record_campaign_totals(cid, zero_totals(), now, True)
        return real(cid, now)

    deps = dataclasses.replace(
        DEPS, repo=Overriding(campaign_repo, mark_campaign_cancelled=complete_then_cancel)
    )
    with pytest.raises(AdminRefusal) as refused:
        cancel_campaign(deps, campaign_id)
    assert refused.value.code == "invalid_state"
    assert queries.get_campaign(DEPS, campaign_id)["status"] == "completed"
    assert calls(sim.state, "cancel_groupmsg_send") == []


def test_cancel_while_creating_cancels_what_the_sender_creates_next(sim: SimulatorHandle) -> None:
    """A cancel lands between two chunks: the sender stops, and cancels the task it had just created."""
    real = campaign_repo.record_chunk_sent

    def record_then_cancel(campaign_id: str, chunk: int, *args: Any) -> bool:
        recorded: bool = real(campaign_id, chunk, *args)
        if chunk == 1:
            campaign_repo.mark_campaign_cancelled(campaign_id, int(time.time()))
        return recorded

    deps = dataclasses.replace(SMALL, repo=Overriding(campaign_repo, record_chunk_sent=record_then_cancel))
    result = create_campaign(deps, body(["wm00000", "wm00001", "wm00002"]), None)
    assert result.body["status"] == "cancelled" and len(result.body["msgids"]) == 1
    assert len(wecom_calls(sim, "add_msg_template")) == 1
    assert [c["body"]["msgid"] for c in wecom_calls(sim, "cancel_groupmsg_send")] == result.body["msgids"]


# ---------------------------------------------------------------------------------------------- read
@pytest.mark.usefixtures("sim")
def test_list_newest_first_by_status_and_paginated() -> None:
    now = int(time.time())
    ids = [
        create_campaign(DEPS, body(["wm00000"], name=f"c{i}"), None, now=now + i).body["campaign_id"]
        for i in range(3)
    ]
    scheduled = create_campaign(DEPS, body(["wm00001"], send_at=now + 3600), None, now=now + 3)
    listed = queries.list_campaigns(DEPS, {})
    assert [c["campaign_id"] for c in listed["items"]] == [scheduled.body["campaign_id"], *reversed(ids)]
    assert listed["cursor"] is None
    first = listed["items"][1]
    assert first["status"] == "active" and first["name"] == "c2" and first["origin"] == "admin_api"
    assert first["totals"] == zero_totals() and first["msgid_count"] == 1
    assert [c["campaign_id"] for c in queries.list_campaigns(DEPS, {"status": "scheduled"})["items"]] == [
        scheduled.body["campaign_id"]
    ]
    page1 = queries.list_campaigns(DEPS, {"status": "active", "limit": "2"})
    page2 = queries.list_campaigns(DEPS, {"status": "active", "limit": "2", "cursor": page1["cursor"]})
    assert [c["campaign_id"] for c in page1["items"] + page2["items"]] == list(reversed(ids))


@pytest.mark.usefixtures("sim")
def test_show_has_the_contract_fields() -> None:
    created = create_campaign(DEPS, body(["wm00000", "wmGhost"], name="n"), None)
    shown = queries.get_campaign(DEPS, created.body["campaign_id"])
    for key in (
        "status",
        "name",
        "origin",
        "chat_type",
        "created_at",
        "send_at",
        "msgids",
        "fail_list_size",
        "reminders",
        "totals",
    ):
        assert key in shown
    assert shown["fail_list_size"] == 1 and shown["reminders"] == []
    assert shown["totals"] == {
        "members": {"sent": 0, "unsent": 0},
        "customers": {"sent": 0, "unsent": 0, "not_friend": 0, "limit_reached": 0},
    }
    with pytest.raises(NotFound):
        queries.get_campaign(DEPS, "cmp-nope")


@pytest.mark.usefixtures("sim")
def test_results_are_empty_until_the_result_sync() -> None:
    created = create_campaign(DEPS, body(["wm00000"]), None)
    cid = created.body["campaign_id"]
    page = results.results_page(DEPS, cid, {})
    assert (page.items, page.cursor) == ([], None)
    assert page.csv() == ",".join(results.CSV_COLUMNS) + "\n"
    with pytest.raises(NotFound):
        results.results_page(DEPS, "cmp-nope", {})


@pytest.mark.usefixtures("sim")
def test_results_end_with_one_fail_list_row_per_refused_customer() -> None:
    """WeCom's fail_list at creation has no result row: the listing (and its CSV) still names each one,
    after the synced rows, paged like them; a member filter or another status leaves them out."""
    created = create_campaign(
        SMALL, body(["wm00000", "wmGhost1", "wm00001", "wmGhost2", "wm00002", "wmGhost3"]), None
    )
    cid = created.body["campaign_id"]
    assert sorted(created.body["fail_list"]) == ["wmGhost1", "wmGhost2", "wmGhost3"]
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = results.results_page(SMALL, cid, {"limit": "2", **({"cursor": cursor} if cursor else {})})
        assert len(page.items) <= 2
        seen += page.items
        cursor = page.cursor
        if cursor is None:
            break
    assert sorted(r["external_userid"] for r in seen) == ["wmGhost1", "wmGhost2", "wmGhost3"]
    assert {r["status"] for r in seen} == {results.FAIL_LIST}
    assert {r["msgid"] for r in seen} <= set(created.body["msgids"])
    only = results.results_page(SMALL, cid, {"status": "fail_list"})
    assert len(only.items) == 3 and only.cursor is None
    assert results.results_page(SMALL, cid, {"status": "sent"}).items == []
    assert results.results_page(SMALL, cid, {"member": "zhangsan"}).items == []
    csv_lines = only.csv().strip().split("\n")
    assert len(csv_lines) == 4 and all(line.split(",")[4] == "fail_list" for line in csv_lines[1:])


def test_results_csv_writes_times_as_iso_8601_in_the_business_zone() -> None:
    row = {"msgid": "m1", "userid": "u1", "external_userid": "wm1", "status": "sent", "send_time": 1795219200}
    text = results.ResultsPage([row, {**row, "send_time": None}], None, ZoneInfo("Asia/Shanghai")).csv()
    assert text.split("\n")[1:3] == ["m1,u1,wm1,,sent,2026-11-21T08:00:00+08:00", "m1,u1,wm1,,sent,"]


@pytest.mark.usefixtures("sim")
def test_no_scan_in_the_campaign_code(monkeypatch: pytest.MonkeyPatch) -> None:
    client = dynamo_client.client()
    monkeypatch.setattr(client, "scan", lambda **_kw: pytest.fail("Scan"), raising=False)
    now = int(time.time())
    created = create_campaign(DEPS, body(["wm00000"]), "k", now=now)
    queries.list_campaigns(DEPS, {"status": "active"})
    queries.get_campaign(DEPS, created.body["campaign_id"])
    assert reminders.run_due(DEPS, now=now + 3 * 3600)["reminders_sent"] == 1
