"""Mass-send tasks: splitting an audience per owning member, members confirming, the per-customer cap
(month, week or day: ``SimulatorConfig.customer_limit``).

Why this is separate from the endpoints: the same task model is created by ``add_msg_template`` (the product)
and by the control API (tasks "created in the admin console"), and is advanced only by the control API
(members confirming on their phones). ``add_msg_template`` success means a task exists, never a delivery.
"""

from __future__ import annotations

import calendar
import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from .models import GroupMsgTask, MemberTask, Recipient
from .state import SimulatorState

WECOM_TZ = timezone(timedelta(hours=8))  # WeCom's calendar (monthly cap) is China time
TASK_API_CUTOFF = 1605542400  # 2020-11-17 00:00 +08:00: get_groupmsg_task does not serve older tasks
MEMBER_UNSENT, MEMBER_SENT = 0, 2  # get_groupmsg_task
UNSENT, SENT, NOT_FRIEND, LIMIT_REACHED = 0, 1, 2, 3  # get_groupmsg_send_result
RESULT_STATUSES = frozenset({UNSENT, SENT, NOT_FRIEND, LIMIT_REACHED})
CREATE_TYPE_CORP, CREATE_TYPE_MEMBER = 0, 1

Split = tuple[dict[str, list[str]], list[str]]  # ({userid: targets}, fail_list)


class SendRefused(Exception):
    """A control call asked members to send what they cannot (cancelled task, member not in the task)."""


def split_customers(state: SimulatorState, external_userids: list[str], sender: str | None) -> Split:
    """Group customers by owning member. Unknown customers, or (with ``sender``) other members' customers,
    go to fail_list. ``sender`` alone means all of that member's customers."""
    if sender and not external_userids:
        mine = [c.external_userid for c in state.customers.values() if c.owner == sender]
        return ({sender: mine} if mine else {}), []
    by_member: dict[str, list[str]] = {}
    fail_list: list[str] = []
    for external_userid in external_userids:
        customer = state.customers.get(external_userid)
        if customer is None or (sender and customer.owner != sender):
            fail_list.append(external_userid)
        else:
            by_member.setdefault(customer.owner, []).append(external_userid)
    return by_member, fail_list


def split_chats(state: SimulatorState, sender: str, chat_ids: list[str]) -> Split:
    """A group task goes to ``sender`` only: their chats, or the listed ones they own (others fail)."""
    owned = [c.chat_id for c in state.chats.values() if c.owner == sender]
    if not chat_ids:
        return ({sender: owned} if owned else {}), []
    mine = set(owned)
    chosen = [c for c in chat_ids if c in mine]
    return ({sender: chosen} if chosen else {}), [c for c in chat_ids if c not in mine]


def create_task(
    state: SimulatorState,
    *,
    chat_type: str,
    split: Split,
    content: dict[str, Any],
    create_type: int = CREATE_TYPE_CORP,
    creator: str | None = None,
    origin: str = "api",
    create_time: int | None = None,
) -> GroupMsgTask:
    """Store a task with one share per member. Caller holds the lock."""
    by_member, fail_list = split
    members = {
        userid: MemberTask(userid, recipients={t: Recipient(t) for t in targets})
        for userid, targets in by_member.items()
    }
    task = GroupMsgTask(
        msgid=state.new_id("msg", 21),
        chat_type=chat_type,
        create_time=int(state.now()) if create_time is None else create_time,
        create_type=create_type,
        creator=creator,
        origin=origin,
        content=message_content(content),
        members=members,
        fail_list=fail_list,
    )
    state.tasks[task.msgid] = task
    return task


def message_content(body: dict[str, Any]) -> dict[str, Any]:
    """The part of a request list_v2 echoes back: text and attachments."""
    return {key: copy.deepcopy(body[key]) for key in ("text", "attachments") if body.get(key)}


def members_send(
    state: SimulatorState, task: GroupMsgTask, userids: list[str] | None, overrides: dict[str, int]
) -> list[str]:
    """Members confirm the task on their phones. Returns who sent now. Caller holds the lock.

    Each recipient ends sent, or ``overrides[target]`` (e.g. 2 not a friend, 3 monthly limit); without an
    override a removed customer is "not a friend" and one past this month's cap "limit reached".
    """
    if task.cancelled_at is not None:
        raise SendRefused("the task was cancelled")
    chosen = userids or list(task.members)
    unknown = [u for u in chosen if u not in task.members]
    if unknown:
        raise SendRefused(f"not members of this task: {', '.join(unknown)}")
    now = int(state.now())
    sent_now = []
    for userid in chosen:
        member = task.members[userid]
        if member.status == MEMBER_SENT:
            continue
        member.status, member.send_time = MEMBER_SENT, now
        for recipient in member.recipients.values():
            _deliver(state, task, recipient, overrides.get(recipient.target), now)
        sent_now.append(userid)
    return sent_now


def _deliver(
    state: SimulatorState, task: GroupMsgTask, recipient: Recipient, override: int | None, now: int
) -> None:
    status = override if override is not None else _natural_status(state, task, recipient.target, now)
    recipient.status = status
    recipient.send_time = now if status == SENT else None
    if status == SENT:  # counted in every rule's period, so the rule may change between sends
        for rule in CAP_RULES:
            state.monthly_receipts[(recipient.target, period_key(rule, now))] += 1


def _natural_status(state: SimulatorState, task: GroupMsgTask, target: str, now: int) -> int:
    if task.chat_type == "single" and target not in state.customers:
        return NOT_FRIEND
    rule = state.config.customer_limit
    if state.monthly_receipts[(target, period_key(rule, now))] >= period_limit(rule, now):
        return LIMIT_REACHED
    return SENT


CAP_RULES = ("month", "week", "day")


def period_key(rule: str, timestamp: float) -> str:
    """The cap's period (China time) of ``rule``: ``2026-12``, ``2026-W49`` or ``2026-12-05``."""
    moment = datetime.fromtimestamp(timestamp, UTC).astimezone(WECOM_TZ)
    if rule == "day":
        return moment.strftime("%Y-%m-%d")
    if rule == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return month_key(timestamp)


def period_limit(rule: str, timestamp: float) -> int:
    """Mass messages a customer may receive in the period: days in the month, 7 a week or 1 a day."""
    return {"day": 1, "week": 7}.get(rule) or days_in_month(timestamp)


def month_key(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).astimezone(WECOM_TZ).strftime("%Y-%m")


def days_in_month(timestamp: float) -> int:
    """Each customer / group receives at most this many mass messages in the month (DESIGN)."""
    moment = datetime.fromtimestamp(timestamp, UTC).astimezone(WECOM_TZ)
    return calendar.monthrange(moment.year, moment.month)[1]


def list_item(task: GroupMsgTask) -> dict[str, Any]:
    """One ``group_msg_list`` row; like the official example, ``create_time`` is a string and API-created
    tasks carry no ``creator``."""
    item: dict[str, Any] = {"msgid": task.msgid}
    if task.creator:
        item["creator"] = task.creator
    item["create_time"] = str(task.create_time)
    item["create_type"] = task.create_type
    item.update(copy.deepcopy(task.content))
    return item
