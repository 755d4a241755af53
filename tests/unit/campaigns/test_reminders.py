"""Reminders: the policy, the 3-per-24 h ledger, manual and scheduled reminders, WeCom's own refusals.

Against the WeCom simulator over real HTTP (its remind cap runs on its own clock, moved along with ours) and
moto's DynamoDB. The races of concurrent runs are in tests/integration (DynamoDB Local).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from tests.support import AdminRefusal, as_admin, campaign_deps
from wecom_bundle.campaigns import cancel, create, queries, reminder_repo, reminders
from wecom_bundle.campaigns import repo as campaign_repo
from wecom_bundle.campaigns.reminder_policy import ReminderPolicy, next_allowed_at, policy_from
from wecom_bundle.dynamo import keys
from wecom_bundle.validation import NotFound, ValidationError

pytestmark = pytest.mark.usefixtures("moto_table")
# Manual reminders as the admin API answers them (the service raises domain errors, not statuses).
remind_campaign = as_admin(reminders.remind_campaign)
DAY_MS = 86_400_000


# Retries without pauses, chunks of 2 recipients (a campaign of 3 customers is two tasks).
DEPS = campaign_deps(chunk_size=2)


@pytest.fixture
def sim(wecom_sim: SimulatorHandle) -> SimulatorHandle:
    customers = [{"external_userid": f"wm{i}", "name": f"c{i}", "owner": "zhangsan"} for i in range(4)]
    requests.post(
        f"{wecom_sim.url}/__sim/contacts", json={"members": ["zhangsan"], "customers": customers}, timeout=5
    ).raise_for_status()
    return wecom_sim


def active_campaign(policy: dict[str, Any] | None = None) -> tuple[str, list[str], int]:
    """A campaign of two tasks (chunks of 2): (campaign_id, msgids, sent_at)."""
    doc: dict[str, Any] = {"external_userid": ["wm0", "wm1", "wm2"], "text": {"content": "hi"}}
    if policy is not None:
        doc["reminders"] = policy
    created = create.create_campaign(DEPS, doc, None)
    assert created.body["status"] == "active" and len(created.body["msgids"]) == 2
    campaign = campaign_repo.get_campaign(created.body["campaign_id"])
    return created.body["campaign_id"], created.body["msgids"], int(campaign["sent_at"])


def advance_sim(sim: SimulatorHandle, seconds: int) -> None:
    requests.post(f"{sim.url}/__sim/clock", json={"advance": seconds}, timeout=5).raise_for_status()


def fault(sim: SimulatorHandle, **spec: Any) -> None:
    requests.post(f"{sim.url}/__sim/faults", json=spec, timeout=5).raise_for_status()


def accepted_reminds(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return [
        c for c in calls(sim.state, "remind_groupmsg_send") if c["errcode"] == 0 and c["http_status"] == 200
    ]


def slots(msgid: str) -> list[int | None]:
    held = reminder_repo.reminder_slots(msgid)
    return [held.get(i, {}).get("at_ms") for i in range(3)]


# ---------------------------------------------------------------------------------------------- policy
def test_policy_defaults() -> None:
    """Absent or null fields take the default; a bad policy is the admin model's 400
    (tests/unit/admin/test_entry_shapes.py::test_bad_reminder_policies_are_400)."""
    assert policy_from(None) == ReminderPolicy(120, 360, 72, True)
    assert policy_from({"every_minutes": 60}) == ReminderPolicy(120, 60, 72, True)
    assert policy_from({"every_minutes": None, "enabled": False}) == ReminderPolicy(120, 360, 72, False)


def test_policy_turns() -> None:
    policy = ReminderPolicy(first_after_minutes=120, every_minutes=360, stop_after_hours=72)
    assert policy.first_turn(0) == 7200
    assert policy.next_turn(0, 7200) == 7200 + 21600
    assert policy.next_turn(0, 72 * 3600 - 60) is None
    assert ReminderPolicy(enabled=False).first_turn(0) is None
    assert ReminderPolicy(first_after_minutes=600, stop_after_hours=1).first_turn(0) is None


def test_next_allowed_at() -> None:
    now = 10 * DAY_MS
    assert next_allowed_at([None, None, None], now) == now // 1000
    assert next_allowed_at([now - 5, now - DAY_MS, now - 7], now) == now // 1000  # one left the window
    assert next_allowed_at([now - 5000, now - 3000, now - 7000], now) == (now - 7000 + DAY_MS) // 1000


# ---------------------------------------------------------------------------------------------- manual
def test_manual_reminders_stop_at_three_per_msgid_per_rolling_24h(sim: SimulatorHandle) -> None:
    campaign_id, msgids, _ = active_campaign()
    t0 = int(time.time() * 1000)
    for hour in range(3):
        answer = remind_campaign(DEPS, campaign_id, None, now_ms=t0 + hour * 3_600_000)
        assert sorted(answer["reminded"]) == sorted(msgids)
    with pytest.raises(AdminRefusal) as refused:
        remind_campaign(DEPS, campaign_id, None, now_ms=t0 + 3 * 3_600_000)
    assert (refused.value.status, refused.value.code) == (429, "reminder_limit")
    assert refused.value.extra["next_allowed_at"] == -(-(t0 + DAY_MS) // 1000)
    assert len(accepted_reminds(sim)) == 6

    advance_sim(sim, 86_400)
    answer = remind_campaign(DEPS, campaign_id, None, now_ms=t0 + DAY_MS)  # t0's slot left the window
    assert sorted(answer["reminded"]) == sorted(msgids)
    with pytest.raises(AdminRefusal) as again:
        remind_campaign(DEPS, campaign_id, None, now_ms=t0 + DAY_MS + 1_800_000)
    assert again.value.extra["next_allowed_at"] == -(-(t0 + 3_600_000 + DAY_MS) // 1000)
    assert [
        c for c in calls(sim.state, "remind_groupmsg_send") if c["errcode"] == 45009
    ] == []  # never WeCom's cap

    shown = queries.get_campaign(DEPS, campaign_id)["reminders"]
    assert len(shown) == 8 and {r["trigger"] for r in shown} == {"manual"}
    assert {r["msgid"] for r in shown} == set(msgids)


def test_chosen_msgids_only(sim: SimulatorHandle) -> None:
    campaign_id, msgids, _ = active_campaign()
    answer = remind_campaign(DEPS, campaign_id, {"msgids": [msgids[1]]})
    assert answer["reminded"] == [msgids[1]]
    assert [c["body"]["msgid"] for c in accepted_reminds(sim)] == [msgids[1]]
    with pytest.raises(ValidationError) as refused:
        remind_campaign(DEPS, campaign_id, {"msgids": ["msg-not-ours"]})
    assert refused.value.field == "msgids"
    # an unknown key is the admin model's 400: test_entry_shapes.py::test_a_remind_body_with_an_unknown_key_is_400


def test_wecom_45009_keeps_the_slot_and_refuses(sim: SimulatorHandle) -> None:
    campaign_id, msgids, _ = active_campaign()
    fault(sim, path="remind_groupmsg_send", errcode=45009, times=1)
    outcome = reminders.remind_msgid(DEPS, campaign_id, msgids[0], "manual")
    assert (outcome.result, outcome.errcode) == ("refused", 45009)
    assert sum(t is not None for t in slots(msgids[0])) == 1  # counted: WeCom saw reminders we did not
    for _ in range(2):
        assert reminders.remind_msgid(DEPS, campaign_id, msgids[0], "manual").result == "sent"
    refused = reminders.remind_msgid(DEPS, campaign_id, msgids[0], "manual")
    assert refused.result == "refused" and refused.next_allowed_at is not None


def test_other_refusals_release_the_slot(sim: SimulatorHandle) -> None:
    campaign_id, msgids, _ = active_campaign()
    fault(sim, path="remind_groupmsg_send", errcode=41047, times=1)
    assert reminders.remind_msgid(DEPS, campaign_id, msgids[0], "manual").result == "failed"
    assert slots(msgids[0]) == [None, None, None]
    for _ in range(3):
        assert reminders.remind_msgid(DEPS, campaign_id, msgids[0], "manual").result == "sent"


def test_busy_is_retried_and_a_lost_answer_counts(sim: SimulatorHandle) -> None:
    campaign_id, msgids, _ = active_campaign()
    fault(sim, path="remind_groupmsg_send", errcode=45033, times=1)
    assert reminders.remind_msgid(DEPS, campaign_id, msgids[0], "manual").result == "sent"
    fault(sim, path="remind_groupmsg_send", http_status=502, times=1)
    assert reminders.remind_msgid(DEPS, campaign_id, msgids[0], "manual").result == "uncertain"
    assert sum(t is not None for t in slots(msgids[0])) == 2
    outcomes = [r["outcome"] for r in queries.get_campaign(DEPS, campaign_id)["reminders"]]
    assert outcomes == ["sent", "uncertain"]


def test_manual_refusals(sim: SimulatorHandle) -> None:
    with pytest.raises(NotFound):
        remind_campaign(DEPS, "cmp-nope", None)
    now = int(time.time())
    scheduled = create.create_campaign(
        DEPS, {"external_userid": ["wm0"], "text": {"content": "x"}, "send_at": now + 600}, None
    )
    with pytest.raises(AdminRefusal) as refused:
        remind_campaign(DEPS, scheduled.body["campaign_id"], None)
    assert (refused.value.status, refused.value.code) == (409, "invalid_state")
    assert calls(sim.state, "remind_groupmsg_send") == []


# ---------------------------------------------------------------------------------------------- scheduled
def test_scheduled_reminders_follow_the_policy(sim: SimulatorHandle) -> None:
    campaign_id, _, sent_at = active_campaign(
        {"first_after_minutes": 60, "every_minutes": 120, "stop_after_hours": 5}
    )
    assert campaign_repo.get_campaign(campaign_id)["next_remind_at"] == sent_at + 3600
    assert reminders.run_due(DEPS, now=sent_at + 3599)["campaigns_checked"] == 0
    turn1 = reminders.run_due(DEPS, now=sent_at + 3600)
    assert (turn1["campaigns_checked"], turn1["reminders_sent"]) == (1, 2)
    assert reminders.run_due(DEPS, now=sent_at + 3600)["reminders_sent"] == 0  # the turn is taken
    assert reminders.run_due(DEPS, now=sent_at + 3600 + 7199)["campaigns_checked"] == 0
    assert reminders.run_due(DEPS, now=sent_at + 3600 + 7200)["reminders_sent"] == 2
    assert reminders.run_due(DEPS, now=sent_at + 3600 + 14400)["reminders_sent"] == 2  # at stop_after exactly
    assert campaign_repo.get_campaign(campaign_id).get("next_remind_at") is None  # no turn after stop_after
    assert reminders.run_due(DEPS, now=sent_at + 10 * 3600)["campaigns_checked"] == 0
    shown = queries.get_campaign(DEPS, campaign_id)["reminders"]
    assert len(shown) == 6 and {r["trigger"] for r in shown} == {"scheduled"}
    assert len(accepted_reminds(sim)) == 6


def test_scheduled_and_manual_share_the_cap(sim: SimulatorHandle) -> None:
    campaign_id, _, sent_at = active_campaign({"first_after_minutes": 0, "every_minutes": 30})
    now_ms = sent_at * 1000
    remind_campaign(DEPS, campaign_id, None, now_ms=now_ms)
    remind_campaign(DEPS, campaign_id, None, now_ms=now_ms + 1000)
    assert reminders.run_due(DEPS, now=sent_at + 2)["reminders_sent"] == 2
    summary = reminders.run_due(DEPS, now=sent_at + 2 + 1800)  # the next turn: every_minutes after the last
    assert (summary["reminders_sent"], summary["reminders_refused"]) == (0, 2)
    with pytest.raises(AdminRefusal) as refused:
        remind_campaign(DEPS, campaign_id, None, now_ms=now_ms + 3000)
    assert refused.value.code == "reminder_limit"
    assert len(accepted_reminds(sim)) == 6


def test_disabled_cancelled_and_synced_campaigns_get_no_scheduled_reminder(
    sim: SimulatorHandle, moto_table: Any
) -> None:
    disabled, _, sent_at = active_campaign({"enabled": False})
    assert campaign_repo.get_campaign(disabled).get("next_remind_at") is None
    cancelled, _, _ = active_campaign()
    cancel.cancel_campaign(DEPS, cancelled)
    partly, msgids, _ = active_campaign()
    synced, _, _ = active_campaign()
    key = {"pk": keys.campaign_pk(partly), "sk": keys.chunk_sk(1)}
    moto_table.update_item(
        Key=key, UpdateExpression="SET members_unsent = :z", ExpressionAttributeValues={":z": 0}
    )
    moto_table.update_item(
        Key={"pk": keys.campaign_pk(synced), "sk": "CAMPAIGN"},
        UpdateExpression="SET totals_synced_at = :t, totals.members.unsent = :z",
        ExpressionAttributeValues={":t": sent_at, ":z": 0},
    )
    summary = reminders.run_due(DEPS, now=sent_at + 3 * 3600)
    assert summary["reminders_sent"] == 1  # only the partly synced campaign's second msgid
    assert [c["body"]["msgid"] for c in accepted_reminds(sim)] == [msgids[1]]
    assert campaign_repo.get_campaign(synced)["reminders_stopped"] == "no unsent members"
    with pytest.raises(AdminRefusal) as refused:
        remind_campaign(DEPS, synced, None)
    assert refused.value.code == "nothing_to_remind"
