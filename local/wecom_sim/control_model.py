"""Control API over the simulated corp's data: contacts, console-created tasks, members sending, templates.

These are the things that happen on WeCom's side without an API call from the product: an admin adds
customers, someone creates a mass send in the admin console, members confirm tasks on their phones, another
app creates a group welcome template.
"""

from __future__ import annotations

from typing import Any

from . import groupmsg
from .control_common import (
    ControlContext,
    ControlError,
    body_of,
    optional_int,
    reply,
    required_str,
    string_list,
)
from .endpoints_templates import create_template, media_state, render
from .errors import WeComError
from .http_types import Request, Response
from .models import Chat, Customer, WelcomeTemplate
from .state import SimulatorState

OTHER_APP = "other-app"


def _member_entry(entry: Any) -> tuple[str, str | None]:
    if isinstance(entry, str) and entry:
        return entry, None
    if isinstance(entry, dict):
        return required_str(entry, "userid"), entry.get("name")
    raise ControlError(400, "members are userid strings or {userid, name} objects")


def _add_customers(state: SimulatorState, entries: Any) -> None:
    if not isinstance(entries, list):
        raise ControlError(400, "customers must be a list")
    for entry in entries:
        if not isinstance(entry, dict):
            raise ControlError(400, "customers are {external_userid, name, owner} objects")
        external_userid, owner = required_str(entry, "external_userid"), required_str(entry, "owner")
        state.ensure_member(owner)
        state.customers[external_userid] = Customer(
            external_userid=external_userid,
            name=str(entry.get("name") or external_userid),
            owner=owner,
            type=2 if entry.get("type") == 2 else 1,
            add_time=optional_int(entry, "add_time") or int(state.now()),
        )


def _add_chats(state: SimulatorState, entries: Any) -> None:
    if not isinstance(entries, list):
        raise ControlError(400, "chats must be a list")
    for entry in entries:
        if not isinstance(entry, dict):
            raise ControlError(400, "chats are {chat_id, owner, name} objects")
        chat_id, owner = required_str(entry, "chat_id"), required_str(entry, "owner")
        state.ensure_member(owner)
        state.chats[chat_id] = Chat(chat_id, owner, str(entry.get("name") or ""))


def post_contacts(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """Upsert members, customers (with their owner) and chats; ``remove_customers`` deletes (not a friend)."""
    body = body_of(req)
    state = ctx.state
    with state.lock:
        if body.get("replace"):
            state.members.clear()
            state.customers.clear()
            state.chats.clear()
        members = body.get("members") or []
        if not isinstance(members, list):
            raise ControlError(400, "members must be a list")
        for entry in members:
            state.ensure_member(*_member_entry(entry))
        _add_customers(state, body.get("customers") or [])
        _add_chats(state, body.get("chats") or [])
        for external_userid in string_list(body, "remove_customers"):
            state.customers.pop(external_userid, None)
        return _contacts(state)


def get_contacts(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    with ctx.state.lock:
        return _contacts(ctx.state)


def _contacts(state: SimulatorState) -> Response:
    return reply(
        {
            "members": [vars(m) for m in state.members.values()],
            "customers": [vars(c) for c in state.customers.values()],
            "chats": [vars(c) for c in state.chats.values()],
        }
    )


def admin_task(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """A task created outside the product (admin console: create_type 0, or a member: create_type 1).

    Body: ``creator`` (required), ``chat_type``, ``create_type``, ``external_userid`` / ``sender`` /
    ``chat_id_list``, ``text``, ``attachments``, ``create_time`` (e.g. before 2020-11-17).
    """
    body = body_of(req)
    creator = required_str(body, "creator")
    chat_type = body.get("chat_type") or "single"
    create_type = body.get("create_type", groupmsg.CREATE_TYPE_CORP)
    if chat_type not in ("single", "group") or create_type not in (0, 1):
        raise ControlError(400, "chat_type must be single|group and create_type 0|1")
    state = ctx.state
    with state.lock:
        state.ensure_member(creator)
        sender = body.get("sender") or None
        if chat_type == "group":
            split = groupmsg.split_chats(state, sender or creator, string_list(body, "chat_id_list"))
        else:
            sender = sender or (creator if create_type == groupmsg.CREATE_TYPE_MEMBER else None)
            split = groupmsg.split_customers(state, string_list(body, "external_userid"), sender)
        create_time = optional_int(body, "create_time")
        task = groupmsg.create_task(
            state,
            chat_type=chat_type,
            split=split,
            content=body,
            create_type=create_type,
            creator=creator,
            origin="console",
            create_time=create_time,
        )
        return reply({"msgid": task.msgid, "fail_list": task.fail_list, "task": task.as_dict()}, 201)


STATUS_NAMES = {
    "unsent": groupmsg.UNSENT,
    "sent": groupmsg.SENT,
    "not_friend": groupmsg.NOT_FRIEND,
    "limit_reached": groupmsg.LIMIT_REACHED,
}


def _statuses(body: dict[str, Any]) -> dict[str, int]:
    """Per-recipient outcomes, as numbers (0..3) or names (unsent, sent, not_friend, limit_reached)."""
    given = {**(body.get("customer_status") or {}), **(body.get("chat_status") or {})}
    statuses = {target: STATUS_NAMES.get(v, v) if isinstance(v, str) else v for target, v in given.items()}
    if not all(isinstance(v, int) and v in groupmsg.RESULT_STATUSES for v in statuses.values()):
        raise ControlError(400, "statuses are 0/unsent, 1/sent, 2/not_friend, 3/limit_reached")
    return statuses


def members_send(ctx: ControlContext, req: Request, params: dict[str, str]) -> Response:
    """Members confirm a task: ``{"userids": [...] (default all), "customer_status": {"ext": 2}}``."""
    body = body_of(req)
    state = ctx.state
    with state.lock:
        task = state.tasks.get(params["msgid"])
        if task is None:
            raise ControlError(404, "unknown msgid")
        try:
            sent = groupmsg.members_send(state, task, string_list(body, "userids") or None, _statuses(body))
        except groupmsg.SendRefused as exc:
            raise ControlError(409, str(exc)) from None
        return reply({"msgid": task.msgid, "sent": sent, "task": task.as_dict()})


def get_task(ctx: ControlContext, req: Request, params: dict[str, str]) -> Response:
    with ctx.state.lock:
        task = ctx.state.tasks.get(params["msgid"])
        if task is None:
            raise ControlError(404, "unknown msgid")
        return reply(task.as_dict())


def list_tasks(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    with ctx.state.lock:
        return reply([t.as_dict() for t in ctx.state.tasks.values()])


def welcomes(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    return reply(ctx.state.delivered_welcomes())


def post_template(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """A group welcome template created by another app (``owner_app``, default "other-app")."""
    body = body_of(req)
    owner_app = body.get("owner_app") or OTHER_APP
    with ctx.state.lock:
        try:
            template = create_template(ctx.state, body, str(owner_app))
        except WeComError as exc:
            return reply({"error": str(exc), "errcode": exc.errcode}, 400)
        return reply({"template_id": template.template_id, "owner_app": template.owner_app}, 201)


def list_templates(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """Every template as stored, as ``get`` renders it, and its media: ``expired`` when any id it holds is."""
    with ctx.state.lock:
        return reply([_template_doc(ctx, t) for t in ctx.state.templates.values()])


def _template_doc(ctx: ControlContext, template: WelcomeTemplate) -> dict[str, Any]:
    held = media_state(ctx.state, template)
    return template.as_dict() | {
        "rendered": render(ctx.state, template),
        "media": held,
        "expired": any(m["expired"] for m in held),
    }


def get_tags(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """The corp's tag library: ``{tag_id: name}``."""
    with ctx.state.lock:
        return reply(dict(ctx.state.corp_tags))


def post_tags(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """``{"tags": {tag_id: name}}`` adds tags to the library; ``{"remove": [tag_id]}`` deletes some."""
    body = body_of(req)
    given = body.get("tags") or {}
    if not isinstance(given, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in given.items()
    ):
        raise ControlError(400, "tags must be an object of tag id -> name")
    with ctx.state.lock:
        ctx.state.corp_tags.update(given)
        for tag_id in string_list(body, "remove"):
            ctx.state.corp_tags.pop(tag_id, None)
        return reply(dict(ctx.state.corp_tags))


def pagination(ctx: ControlContext, req: Request, _: dict[str, str]) -> Response:
    """``{"trailing_empty_page": true}``: every paginated answer ends with an empty page behind a cursor."""
    value = body_of(req).get("trailing_empty_page")
    if not isinstance(value, bool):
        raise ControlError(400, "trailing_empty_page must be true or false")
    with ctx.state.lock:
        ctx.state.trailing_empty_page = value
    return reply({"trailing_empty_page": value})


ROUTES = {
    ("POST", "/__sim/groupmsg/pagination"): pagination,
    ("POST", "/__sim/contacts"): post_contacts,
    ("GET", "/__sim/contacts"): get_contacts,
    ("GET", "/__sim/tags"): get_tags,
    ("POST", "/__sim/tags"): post_tags,
    ("POST", "/__sim/groupmsg/admin_task"): admin_task,
    ("GET", "/__sim/groupmsg"): list_tasks,
    ("GET", "/__sim/welcomes"): welcomes,
    ("POST", "/__sim/group_welcome_templates"): post_template,
    ("GET", "/__sim/group_welcome_templates"): list_templates,
}
PATTERNS = {
    ("POST", r"/__sim/groupmsg/(?P<msgid>[^/]+)/send"): members_send,
    ("GET", r"/__sim/groupmsg/(?P<msgid>[^/]+)"): get_task,
}
