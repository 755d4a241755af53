"""Mass send: add_msg_template, remind, cancel, and the three result APIs (list_v2, task, send_result).

Chosen behaviours where the pages are silent (also in the README table):
- more than 10 000 external_userid / 2 000 chat_id_list entries: 40058;
- nothing sendable at all (every customer unknown, or the sender has none): 41048;
- remind beyond 3 per msgid in a rolling 24 h: 45009 (WeCom's frequency-limit code);
- get_groupmsg_task for a task created before 2020-11-17: 40058;
- list_v2 over more than one month: 40058; limits above the maximum fall back to the default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import errors, groupmsg
from .errors import WeComError
from .http_types import POST, ApiRoute, Request
from .models import GroupMsgTask
from .pagination import page, resolve_limit
from .state import SimulatorState
from .validation import check_message

MAX_EXTERNAL_USERIDS = 10_000
MAX_CHAT_IDS = 2_000
REMIND_LIMIT = 3
REMIND_WINDOW = 24 * 3600
LIST_LIMIT = (50, 100)  # get_groupmsg_list_v2 (default, maximum)
TASK_LIMIT = (500, 1000)  # get_groupmsg_task and get_groupmsg_send_result
MAX_LIST_SPAN = 31 * 24 * 3600
FILTER_TYPES = {0: (groupmsg.CREATE_TYPE_CORP,), 1: (groupmsg.CREATE_TYPE_MEMBER,), 2: (0, 1)}


def _str_list(body: dict[str, Any], key: str, maximum: int) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise WeComError(errors.INVALID_PARAMETER, f"{key} must be a list of strings")
    if len(value) > maximum:
        raise WeComError(errors.INVALID_PARAMETER, f"{key} holds more than {maximum} entries")
    return list(dict.fromkeys(value))


def _task(state: SimulatorState, body: dict[str, Any]) -> GroupMsgTask:
    msgid = body.get("msgid")
    if not msgid or not isinstance(msgid, str):
        raise WeComError(errors.MISSING_MSGID)
    task = state.tasks.get(msgid)
    if task is None:
        raise WeComError(errors.INVALID_MSGID)
    return task


def _sender(state: SimulatorState, body: dict[str, Any]) -> str | None:
    sender = body.get("sender") or None
    if sender is not None and (not isinstance(sender, str) or sender not in state.members):
        raise WeComError(errors.INVALID_USERID, "unknown sender")
    return sender


def add_msg_template(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    chat_type = body.get("chat_type") or "single"
    if chat_type not in ("single", "group"):
        raise WeComError(errors.INVALID_PARAMETER, "chat_type must be single or group")
    with state.lock:
        check_message(state, body)
        sender = _sender(state, body)
        split = _audience(state, body, chat_type, sender)
        if not split[0]:
            raise WeComError(errors.NO_SENDABLE_CUSTOMER)
        task = groupmsg.create_task(state, chat_type=chat_type, split=split, content=body)
        return errors.ok(fail_list=task.fail_list, msgid=task.msgid)


def _audience(
    state: SimulatorState, body: dict[str, Any], chat_type: str, sender: str | None
) -> groupmsg.Split:
    if chat_type == "group":
        if not sender:
            raise WeComError(errors.INVALID_PARAMETER, "sender is required when chat_type is group")
        return groupmsg.split_chats(state, sender, _str_list(body, "chat_id_list", MAX_CHAT_IDS))
    external_userids = _str_list(body, "external_userid", MAX_EXTERNAL_USERIDS)
    tag_filter = body.get("tag_filter") if not external_userids else None  # ignored with external_userid
    if not external_userids and not sender and not tag_filter:
        raise WeComError(
            errors.INVALID_PARAMETER, "external_userid, sender and tag_filter cannot all be empty"
        )
    if tag_filter and not sender:  # no tag model: a tag filter selects every customer of the corp
        return groupmsg.split_customers(state, list(state.customers), None)
    return groupmsg.split_customers(state, external_userids, sender)


def remind_groupmsg_send(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    with state.lock:
        task = _task(state, body)
        now = state.now()
        recent = [at for at in task.reminders if at > now - REMIND_WINDOW]
        if len(recent) >= REMIND_LIMIT:
            raise WeComError(errors.RATE_LIMITED, "at most 3 reminders per msgid in 24 hours")
        task.reminders.append(now)
        return errors.ok()


def cancel_groupmsg_send(state: SimulatorState, req: Request) -> dict[str, Any]:
    """Stop the unsent part; idempotent (already-sent messages are not recalled)."""
    body = req.wecom_json()
    with state.lock:
        task = _task(state, body)
        if task.cancelled_at is None:
            task.cancelled_at = state.now()
        return errors.ok()


def _int_field(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WeComError(errors.INVALID_PARAMETER, f"{key} is required (unix seconds)")
    return value


def get_groupmsg_list_v2(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    chat_type = body.get("chat_type")
    if chat_type not in ("single", "group"):
        raise WeComError(errors.INVALID_PARAMETER, "chat_type is required: single or group")
    start, end = _int_field(body, "start_time"), _int_field(body, "end_time")
    if end < start or end - start > MAX_LIST_SPAN:
        raise WeComError(errors.INVALID_PARAMETER, "end_time must follow start_time by at most one month")
    filter_type = body.get("filter_type", 2)
    if filter_type not in FILTER_TYPES:
        raise WeComError(errors.INVALID_PARAMETER, "filter_type must be 0, 1 or 2")
    creator = body.get("creator") or None
    limit = resolve_limit(body.get("limit"), *LIST_LIMIT)
    with state.lock:
        tasks = sorted(
            (
                t
                for t in state.tasks.values()
                if t.chat_type == chat_type
                and start <= t.create_time <= end
                and t.create_type in FILTER_TYPES[filter_type]
                and (creator is None or t.creator == creator)
            ),
            key=lambda t: (t.create_time, t.msgid),
        )
        scope = f"list\n{chat_type}\n{start}\n{end}\n{filter_type}\n{creator}"
        rows, next_cursor = page(
            tasks,
            state.cursor_key,
            scope,
            body.get("cursor"),
            limit,
            trailing_empty=state.trailing_empty_page,
        )
        return errors.ok(next_cursor=next_cursor, group_msg_list=[groupmsg.list_item(t) for t in rows])


def get_groupmsg_task(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    limit = resolve_limit(body.get("limit"), *TASK_LIMIT)
    with state.lock:
        task = _task(state, body)
        if task.create_time < groupmsg.TASK_API_CUTOFF:
            raise WeComError(errors.INVALID_PARAMETER, "tasks created before 2020-11-17 are not supported")
        members = list(task.members.values())
        rows, next_cursor = page(
            members,
            state.cursor_key,
            f"task\n{task.msgid}",
            body.get("cursor"),
            limit,
            trailing_empty=state.trailing_empty_page,
        )
        task_list = [_with_send_time({"userid": m.userid, "status": m.status}, m.send_time) for m in rows]
        return errors.ok(next_cursor=next_cursor, task_list=task_list)


def get_groupmsg_send_result(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    userid = body.get("userid")
    if not userid or not isinstance(userid, str):
        raise WeComError(errors.MISSING_USERID)
    limit = resolve_limit(body.get("limit"), *TASK_LIMIT)
    with state.lock:
        task = _task(state, body)
        member = task.members.get(userid)
        recipients = list(member.recipients.values()) if member else []
        scope = f"result\n{task.msgid}\n{userid}"
        rows, next_cursor = page(
            recipients,
            state.cursor_key,
            scope,
            body.get("cursor"),
            limit,
            trailing_empty=state.trailing_empty_page,
        )
        key = "external_userid" if task.chat_type == "single" else "chat_id"  # never both
        send_list = [
            _with_send_time({key: r.target, "userid": userid, "status": r.status}, r.send_time) for r in rows
        ]
        return errors.ok(next_cursor=next_cursor, send_list=send_list)


def _with_send_time(row: dict[str, Any], send_time: int | None) -> dict[str, Any]:
    """WeCom returns send_time only for rows that were sent."""
    if send_time is not None:
        row["send_time"] = send_time
    return row


_HANDLERS: dict[str, Callable[[SimulatorState, Request], dict[str, Any]]] = {
    "add_msg_template": add_msg_template,
    "remind_groupmsg_send": remind_groupmsg_send,
    "cancel_groupmsg_send": cancel_groupmsg_send,
    "get_groupmsg_list_v2": get_groupmsg_list_v2,
    "get_groupmsg_task": get_groupmsg_task,
    "get_groupmsg_send_result": get_groupmsg_send_result,
}
ROUTES: dict[str, ApiRoute] = {
    f"externalcontact/{name}": ApiRoute(POST, fn) for name, fn in _HANDLERS.items()
}
