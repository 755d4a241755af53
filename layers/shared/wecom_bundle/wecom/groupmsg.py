"""WeCom's mass-send calls (``externalcontact/*groupmsg*`` and ``add_msg_template``, WeCom's 「企业群发」 pages).

Why a module of its own: every path of the mass-send domain is written here once (``get_groupmsg_list_v2``
serves both the campaign repair and the result ingest); the callers keep their own timeouts and retry
policies, the client owns errcodes, token refresh and the cursor loop. The list calls answer page by page:
(rows, next_cursor), so a caller can checkpoint the cursor and resume after a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wecom_bundle.wecom.client import Retry, Timeout, WeComClient

ADD_MSG_TEMPLATE = "externalcontact/add_msg_template"
CANCEL_GROUPMSG_SEND = "externalcontact/cancel_groupmsg_send"
REMIND_GROUPMSG_SEND = "externalcontact/remind_groupmsg_send"
GET_GROUPMSG_LIST_V2 = "externalcontact/get_groupmsg_list_v2"
GET_GROUPMSG_TASK = "externalcontact/get_groupmsg_task"
GET_GROUPMSG_SEND_RESULT = "externalcontact/get_groupmsg_send_result"


# get_groupmsg_send_result's per-customer (or group chat) status, and the names the admin API shows for it.
class ResultStatus(IntEnum):
    """WeCom's numbers, stored as they come; ``RESULT_STATUS_NAMES`` holds the names operators see."""

    UNSENT = 0
    SENT = 1
    NOT_FRIEND = 2
    LIMIT_REACHED = 3


RESULT_UNSENT, RESULT_SENT, RESULT_NOT_FRIEND, RESULT_LIMIT_REACHED = tuple(ResultStatus)
RESULT_STATUS_NAMES: dict[int, str] = {
    RESULT_UNSENT: "unsent",
    RESULT_SENT: "sent",
    RESULT_NOT_FRIEND: "not_friend",
    RESULT_LIMIT_REACHED: "limit_reached",
}

Page = tuple[list[dict[str, Any]], str]  # (rows, next_cursor); "" after the last page


def add_msg_template(client: WeComClient, body: dict[str, Any], *, timeout: Timeout) -> dict[str, Any]:
    """Create a mass-send task; answers WeCom's ``msgid`` and ``fail_list`` (the whole answer, as recorded)."""
    return client.post(ADD_MSG_TEMPLATE, body, timeout=timeout)


def cancel_groupmsg_send(client: WeComClient, msgid: str, *, timeout: Timeout) -> None:
    """Stop a task's unsent messages (idempotent in WeCom: cancelling twice is fine)."""
    client.post(CANCEL_GROUPMSG_SEND, {"msgid": msgid}, timeout=timeout)


def remind_groupmsg_send(client: WeComClient, msgid: str, *, timeout: Timeout) -> None:
    """Remind the members who have not sent a task yet (WeCom: at most 3 a day per msgid, else 45009)."""
    client.post(REMIND_GROUPMSG_SEND, {"msgid": msgid}, timeout=timeout)


def get_groupmsg_list_v2(
    client: WeComClient, query: dict[str, Any], *, timeout: Timeout | None = None, retry: Retry | None = None
) -> Iterator[Page]:
    """The corp's tasks matching ``query`` (chat_type, start_time, end_time, filter_type, limit), page by page."""
    return client.paginate(GET_GROUPMSG_LIST_V2, query, "group_msg_list", timeout=timeout, retry=retry)


def get_groupmsg_task(
    client: WeComClient, msgid: str, *, limit: int, cursor: str = "", retry: Retry | None = None
) -> Iterator[Page]:
    """Each member's send status for ``msgid``, page by page from ``cursor``."""
    body = {"msgid": msgid, "limit": limit}
    return client.paginate(GET_GROUPMSG_TASK, body, "task_list", cursor=cursor, retry=retry)


def get_groupmsg_send_result(
    client: WeComClient, msgid: str, userid: str, *, limit: int, cursor: str = "", retry: Retry | None = None
) -> Iterator[Page]:
    """One member's per-customer results for ``msgid``, page by page from ``cursor``."""
    body = {"msgid": msgid, "userid": userid, "limit": limit}
    return client.paginate(GET_GROUPMSG_SEND_RESULT, body, "send_list", cursor=cursor, retry=retry)
