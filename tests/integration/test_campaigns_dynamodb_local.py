"""Campaign races against AWS DynamoDB Local (real conditional writes and transactions) and the simulator.

- one Idempotency-Key sent by many requests at once creates one campaign and one set of WeCom tasks;
- a scheduled campaign raced by concurrent scheduled runs is created on WeCom exactly once;
- reminders raced by concurrent scheduled runs, manual reminders and direct ledger claims never exceed
  3 per msgid in any rolling 24 h, in our ledger and at WeCom.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from tests.support import AdminRefusal, as_admin, campaign_deps, dev_simulator, race
from wecom_bundle import runtime
from wecom_bundle.campaigns import create, queries, reminders
from wecom_bundle.campaigns import repo as campaign_repo
from wecom_bundle.dynamo import client as dynamo_client

pytestmark = pytest.mark.integration
# Creates and reminders as the admin API answers them (the services return domain results, not statuses).
create_campaign = as_admin(create.create_campaign)
remind_campaign = as_admin(reminders.remind_campaign)
DAY_MS = 86_400_000
DEPS = campaign_deps(chunk_size=2)  # retries without pauses; chunks of 2 recipients


@pytest.fixture
def sim(
    dynamodb_local: Any,
    aws_env: dict[str, str],  # noqa: ARG001
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SimulatorHandle]:
    monkeypatch.setenv("DYNAMODB_ENDPOINT", dynamodb_local.endpoint)
    # An app secret of our own: its shared token record (keyed by corp and secret digest) is not the one the
    # other suites on this worker-wide DynamoDB Local use, so no stale token of ours reaches them.
    secret = f"campaign-races-{uuid.uuid4().hex}"
    monkeypatch.setenv("WECOM_CORP_SECRET", secret)
    dynamo_client.reset_client()
    handle = dev_simulator(corp_secret=secret)
    monkeypatch.setenv("WECOM_API_BASE", handle.url)
    runtime.reset()
    customers = [{"external_userid": f"wm{i}", "name": f"c{i}", "owner": "zhangsan"} for i in range(5)]
    requests.post(
        f"{handle.url}/__sim/contacts", json={"members": ["zhangsan"], "customers": customers}, timeout=5
    ).raise_for_status()
    yield handle
    handle.stop()
    runtime.reset()
    dynamo_client.reset_client()


def unique_text() -> dict[str, str]:
    """Each test's content differs: DynamoDB Local is shared by the session."""
    return {"content": f"race {time.time_ns()}"}


def added(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return [c for c in calls(sim.state, "add_msg_template") if c["errcode"] == 0]


def test_one_key_raced_by_many_requests_creates_one_campaign(sim: SimulatorHandle) -> None:
    body = {"external_userid": ["wm0", "wm1", "wm2"], "text": unique_text()}
    key = f"race-{time.time_ns()}"

    def post(_i: int) -> tuple[int, str]:
        try:
            result = create_campaign(DEPS, body, key)
        except AdminRefusal as exc:  # the key is being used right now, by the winner
            assert exc.code == "idempotency_conflict"
            return 409, exc.extra.get("campaign_id", "")
        return result.status, result.body["campaign_id"]

    answers = race(8, post)
    winner = campaign_repo.get_idempotency(key)["campaign_id"]
    assert {cid for _, cid in answers if cid} == {winner}
    statuses = [status for status, _ in answers]
    assert statuses.count(201) == 1  # the creator; the others replayed (202 while it was still creating)
    assert set(statuses) <= {200, 201, 202}
    assert len(added(sim)) == 2  # two chunks, once
    assert queries.get_campaign(DEPS, winner)["status"] == "active"


def test_a_scheduled_campaign_raced_by_scheduled_runs_is_created_once(sim: SimulatorHandle) -> None:
    now = int(time.time())
    body = {
        "external_userid": ["wm0", "wm1", "wm2", "wm3", "wm4"],
        "text": unique_text(),
        "send_at": now + 60,
    }
    created = create_campaign(DEPS, body, None, now=now)
    assert created.body["status"] == "scheduled"

    summaries = race(6, lambda _i: reminders.run_due(DEPS, now=now + 61))

    assert sum(s["campaigns_claimed"] for s in summaries) >= 1
    shown = queries.get_campaign(DEPS, created.body["campaign_id"])
    assert shown["status"] == "active" and len(shown["msgids"]) == 3
    ours = [c for c in added(sim) if c["body"]["text"] == body["text"]]
    assert len(ours) == 3  # three chunks, each created exactly once
    assert sorted(i for c in ours for i in c["body"]["external_userid"]) == body["external_userid"]


def _rolling_max(times_ms: list[int]) -> int:
    """The most reminders of one msgid inside any 24 h window."""
    ordered = sorted(times_ms)
    return max((sum(1 for t in ordered if start <= t < start + DAY_MS) for start in ordered), default=0)


def slots_of(msgid: str) -> list[tuple[int, Any, Any, Any]]:
    """A msgid's reminder ledger: (slot, at_ms, trigger, owner) per slot."""
    slots = DEPS.reminders.reminder_slots(msgid)
    return [(n, s.get("at_ms"), s.get("trigger"), s.get("owner")) for n, s in sorted(slots.items())]


def remind_errcodes(sim: SimulatorHandle) -> dict[int, int]:
    """How many reminder calls WeCom refused, by errcode."""
    refused = [c["errcode"] for c in calls(sim.state, "remind_groupmsg_send") if c["errcode"]]
    return {code: refused.count(code) for code in sorted(set(refused))}


def failed_reminders(results: list[Any]) -> list[dict[str, Any]]:
    """The outcomes of direct and manual reminders whose WeCom call failed (their slots were given back)."""
    outcomes: list[dict[str, Any]] = []
    for result in results:
        if isinstance(result, list):  # direct remind_msgid calls
            outcomes += [outcome.as_dict() for outcome in result]
        elif isinstance(result, dict) and "outcomes" in result:  # a manual remind that reminded
            outcomes += result["outcomes"]
    return [outcome for outcome in outcomes if outcome["result"] == "failed"]


def test_reminder_cap_holds_under_concurrent_scheduled_and_manual_reminders(sim: SimulatorHandle) -> None:
    policy = {"first_after_minutes": 0, "every_minutes": 1}
    body = {"external_userid": ["wm0", "wm1", "wm2"], "text": unique_text(), "reminders": policy}
    created = create_campaign(DEPS, body, None)
    campaign_id, msgids = created.body["campaign_id"], created.body["msgids"]
    sent_at = int(campaign_repo.get_campaign(campaign_id)["sent_at"])

    def storm(offset_s: int) -> Callable[[int], Any]:
        def work(i: int) -> Any:
            kind = i % 3
            if kind == 0:  # overlapping scheduled runs, at different ticks
                return reminders.run_due(DEPS, now=sent_at + offset_s + 60 * (i // 3))
            if kind == 1:  # operators pressing "remind"
                try:
                    return remind_campaign(DEPS, campaign_id, None, now_ms=(sent_at + offset_s) * 1000 + i)
                except AdminRefusal as exc:
                    # Which rule broke, if one does: the refusal, the ledger as it is right after it, and
                    # WeCom's refusals of reminders so far (a failed call releases its slot).
                    ledgers = [slots_of(m) for m in msgids]
                    refusal = (exc.code, exc.extra, sent_at, offset_s, i, ledgers, remind_errcodes(sim))
                    assert (
                        exc.code == "reminder_limit" and exc.extra["next_allowed_at"] > sent_at + offset_s
                    ), refusal
                    return exc.code
            # a scheduled run that somehow skipped the turn claim: only the ledger stands in its way
            return [
                reminders.remind_msgid(
                    DEPS, campaign_id, m, "scheduled", now_ms=(sent_at + offset_s) * 1000 + i
                )
                for m in msgids
            ]

        return work

    assert failed_reminders(race(15, storm(0))) == []
    events = queries.get_campaign(DEPS, campaign_id)["reminders"]
    for msgid in msgids:
        mine = [e for e in events if e["msgid"] == msgid]
        assert len(mine) == 3, events  # the cap is reached, never passed
    assert {e["trigger"] for e in events} <= {"manual", "scheduled"}

    requests.post(f"{sim.url}/__sim/clock", json={"advance": 86_400}, timeout=5).raise_for_status()
    # Every token the product holds is now expired at WeCom: the 42001s cost no reminder (each call retries
    # once with a new token; a retry handed the rejected token again failed and gave its slot back).
    assert failed_reminders(race(15, storm(86_400))) == []
    assert failed_reminders(race(6, storm(86_400 + 3600))) == []  # an hour later: still inside the 2nd window

    events = campaign_repo.campaign_view(campaign_id)[2]
    for msgid in msgids:
        # "uncertain" (no answer from WeCom, e.g. a very slow machine) counts: it holds its slot
        times = [int(e["at_ms"]) for e in events if e["msgid"] == msgid]
        assert len(times) == 6, events
        assert _rolling_max(times) == 3
        task = requests.get(f"{sim.url}/__sim/groupmsg/{msgid}", timeout=5).json()
        assert len(task["reminders"]) <= 6
        assert _rolling_max([int(at * 1000) for at in task["reminders"]]) <= 3
    assert [c for c in calls(sim.state, "remind_groupmsg_send") if c["errcode"] == 45009] == []
