"""The reminders' DynamoDB access patterns: the campaign's reminder turn, the per-msgid ledger of slots
(3 per rolling 24 h) and the reminder events operators see (docs/data-model.md, "Campaigns")."""

from __future__ import annotations

from typing import Any, Protocol

from wecom_bundle.campaigns.reminder_policy import WINDOW_MS
from wecom_bundle.dynamo.client import client
from wecom_bundle.dynamo.codec import encode_item
from wecom_bundle.dynamo.keys import (
    DUE_REMIND,
    SLOT_PREFIX,
    campaign_key,
    campaign_pk,
    due_sk,
    reminder_event_sk,
    reminder_pk,
    slot_key,
)
from wecom_bundle.dynamo.table import (
    query_all,
    table_name,
    update,
)


# --- reminders: the campaign's turn, the per-msgid ledger, the events operators see
def claim_reminder_turn(campaign_id: str, expected_at: int, next_at: int | None) -> bool:
    """Take this reminder turn (one scheduled run per turn): move the due key to the next turn, or out of
    the index when the policy has no next turn. False when another run already took it."""
    sets: dict[str, Any] = {"last_remind_turn_at": expected_at}
    removes: tuple[str, ...] = ()
    if next_at is None:
        removes = ("gsi3pk", "gsi3sk", "next_remind_at")
    else:
        sets |= {"next_remind_at": next_at, "gsi3sk": due_sk(next_at, campaign_id)}
    return (
        update(
            encode_item(campaign_key(campaign_id)),
            sets,
            removes=removes,
            condition="next_remind_at = :expected AND gsi3pk = :due",
            values={"expected": expected_at, "due": DUE_REMIND},
        )
        is not None
    )


def stop_campaign_reminders(campaign_id: str, reason: str) -> None:
    """No more scheduled reminders (past stop_after, completed, nothing unsent): leave the due index."""
    update(
        encode_item(campaign_key(campaign_id)),
        {"reminders_stopped": reason},
        removes=("gsi3pk", "gsi3sk", "next_remind_at"),
        condition="gsi3pk = :due",
        values={"due": DUE_REMIND},
    )


def reminder_slots(msgid: str) -> dict[int, dict[str, Any]]:
    """The msgid's reminder ledger: slot number → {at_ms, owner, trigger} (missing slots are empty)."""
    rows = query_all(reminder_pk(msgid), SLOT_PREFIX)
    return {int(row["slot"]): row for row in rows}


def claim_reminder_slot(
    msgid: str, slot: int, now_ms: int, owner: str, fields: dict[str, Any]
) -> dict[str, Any] | None:
    """Claim one of the msgid's slots if it is empty or its reminder is older than 24 h (conditional write:
    two claimers of one slot cannot both win). Answers the slot's previous values ({} when it was empty),
    or None when refused. ``expires_at`` lets TTL drop the ledger once it no longer constrains anything."""
    return update(
        encode_item(slot_key(msgid, slot)),
        {
            **fields,
            "msgid": msgid,
            "slot": slot,
            "at_ms": now_ms,
            "owner": owner,
            "expires_at": (now_ms + 2 * WINDOW_MS) // 1000,
        },
        condition="attribute_not_exists(at_ms) OR at_ms <= :cutoff",
        values={"cutoff": now_ms - WINDOW_MS},
        returns="UPDATED_OLD",
    )


def release_reminder_slot(msgid: str, slot: int, owner: str, previous_at_ms: int | None) -> None:
    """Give a slot back after WeCom definitely did not remind (restores the previous reminder's time)."""
    sets: dict[str, Any] = {"owner": f"released:{owner}"}
    removes: tuple[str, ...] = ()
    if previous_at_ms is None:
        removes = ("at_ms",)
    else:
        sets["at_ms"] = previous_at_ms
    update(
        encode_item(slot_key(msgid, slot)),
        sets,
        removes=removes,
        condition="#owner = :owner",
        names={"#owner": "owner"},
        values={"owner": owner},
    )


def put_reminder_event(campaign_id: str, msgid: str, at_ms: int, trigger: str, outcome: str) -> None:
    """One line of the campaign's reminder history (shown by GET /admin/campaigns/{id})."""
    item = {
        "pk": campaign_pk(campaign_id),
        "sk": reminder_event_sk(at_ms, msgid),
        "kind": "reminder",
        "msgid": msgid,
        "at": at_ms // 1000,
        "at_ms": at_ms,
        "trigger": trigger,
        "outcome": outcome,
    }
    client().put_item(TableName=table_name(), Item=encode_item(item))


class ReminderRepo(Protocol):
    """What the reminders need of the table: this module satisfies it (the wiring passes the module)."""

    def claim_reminder_turn(self, campaign_id: str, expected_at: int, next_at: int | None) -> bool: ...
    def stop_campaign_reminders(self, campaign_id: str, reason: str) -> None: ...
    def reminder_slots(self, msgid: str) -> dict[int, dict[str, Any]]: ...
    def claim_reminder_slot(
        self, msgid: str, slot: int, now_ms: int, owner: str, fields: dict[str, Any]
    ) -> dict[str, Any] | None: ...
    def release_reminder_slot(
        self, msgid: str, slot: int, owner: str, previous_at_ms: int | None
    ) -> None: ...
    def put_reminder_event(
        self, campaign_id: str, msgid: str, at_ms: int, trigger: str, outcome: str
    ) -> None: ...
