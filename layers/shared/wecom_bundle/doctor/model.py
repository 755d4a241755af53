"""The doctor's answer: ``{"ok", "egress_ip", "checks": [{"name", "ok", "errcode", "detail", "fix"}]}``, the
check names in the order they run (DESIGN, "Deployed for real": a contract other tests read)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class CheckName(StrEnum):
    SECRET = "secret"  # noqa: S105 - a check's name: readable, every key well-formed
    TOKEN = "token"  # noqa: S105 - a check's name: gettoken
    CUSTOMER_CONTACT = "customer_contact"  # externalcontact/get_follow_user_list
    MASS_SEND = "mass_send"  # get_groupmsg_list_v2 for the last hour
    CONTACT_WAYS = "contact_ways"  # list_contact_way for the last day
    CALLBACK_URL = "callback_url"  # a signed URL-verification GET to the public callback URL
    STORAGE = "storage"  # the table answers


@dataclass(frozen=True)
class Check:
    """One check's result. ``errcode``: WeCom's, when WeCom refused; ``fix``: what to change (None when ok)."""

    name: CheckName
    ok: bool
    detail: str
    errcode: int | None = None
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "name": str(self.name)}


def report(checks: list[Check], egress_ip: str | None) -> dict[str, Any]:
    """The answer: ok when every check passed; ``egress_ip`` is the IP WeCom reported in a 60020 (else None)."""
    return {"ok": all(c.ok for c in checks), "egress_ip": egress_ip, "checks": [c.as_dict() for c in checks]}
