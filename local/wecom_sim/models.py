"""Records of the simulated corp: contacts, welcome codes, deliveries, mass-send tasks, templates, media.

Plain dataclasses with no rules of their own: the rules live in the endpoint modules and ``groupmsg``, and every
mutation happens under ``SimulatorState.lock``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SELF_APP = "self"  # the app whose secret the product uses; templates of any other app are read-only to it


@dataclass
class Member:
    userid: str
    name: str


@dataclass
class Customer:
    """An external contact with one owning member (WeCom routes mass sends to the last member who chatted)."""

    external_userid: str
    name: str
    owner: str
    type: int = 1  # 1 = WeChat user, 2 = WeCom user
    add_state: str = ""
    add_time: int = 0
    tags: list[str] = field(default_factory=list)  # corp tag ids the member put on them (mark_tag)


@dataclass
class Chat:
    chat_id: str
    owner: str
    name: str = ""


@dataclass
class WelcomeCode:
    code: str
    userid: str
    external_userid: str
    create_time: int
    delivered_at: float | None = None


@dataclass
class DeliveredWelcome:
    welcome_code: str
    external_userid: str
    userid: str
    body: dict[str, Any]
    rendered_text: str | None
    at: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Media:
    media_id: str
    type: str
    filename: str
    content_type: str
    data: bytes
    created_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "media_id": self.media_id,
            "type": self.type,
            "filename": self.filename,
            "size": len(self.data),
            "created_at": self.created_at,
        }


@dataclass
class Recipient:
    """One customer (external_userid) or one group chat (chat_id) of a member's share of a task."""

    target: str
    status: int = 0  # 0 not sent, 1 sent, 2 not a friend, 3 monthly limit reached
    send_time: int | None = None


@dataclass
class MemberTask:
    userid: str
    status: int = 0  # 0 not sent, 2 sent (get_groupmsg_task)
    send_time: int | None = None
    recipients: dict[str, Recipient] = field(default_factory=dict)


@dataclass
class GroupMsgTask:
    msgid: str
    chat_type: str
    create_time: int
    create_type: int  # 0 created by the corp (API or admin console), 1 created by a member
    creator: str | None
    origin: str  # "api" or "console"
    content: dict[str, Any]
    members: dict[str, MemberTask]
    fail_list: list[str]
    cancelled_at: float | None = None
    reminders: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "msgid": self.msgid,
            "chat_type": self.chat_type,
            "create_time": self.create_time,
            "create_type": self.create_type,
            "creator": self.creator,
            "origin": self.origin,
            "content": self.content,
            "fail_list": list(self.fail_list),
            "cancelled_at": self.cancelled_at,
            "reminders": list(self.reminders),
            "members": [
                {
                    "userid": member.userid,
                    "status": member.status,
                    "send_time": member.send_time,
                    "recipients": [asdict(r) for r in member.recipients.values()],
                }
                for member in self.members.values()
            ],
        }


@dataclass
class WelcomeTemplate:
    template_id: str
    content: dict[str, Any]
    owner_app: str
    notify: int
    created_at: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ContactWay:
    """A 「联系我」 code made through the API (only those carry a ``state``)."""

    config_id: str
    type: int  # 1 single member, 2 several
    scene: int  # 1 mini-program button, 2 QR code
    users: list[str]
    state: str
    remark: str
    skip_verify: bool
    created_at: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Fault:
    """Applied to the next ``times`` calls whose API path ends with ``path`` ("" or "*" matches every call)."""

    path: str
    times: int = 1
    errcode: int | None = None
    errmsg: str | None = None
    http_status: int | None = None
    delay_ms: int = 0

    def matches(self, api: str) -> bool:
        return self.path in ("", "*") or api.endswith(self.path.lstrip("/").removeprefix("cgi-bin/"))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CallRecord:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    errcode: int | None
    http_status: int
    at: float
    duration_ms: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PushRecord:
    """One simulated WeCom push to the callback URL, with every attempt WeCom would make."""

    kind: str
    url: str
    fields: dict[str, Any]
    attempts: list[dict[str, Any]]
    delivered: bool
    at: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
