"""WeCom's welcome calls: ``externalcontact/send_welcome_msg`` (WeCom「发送新客户欢迎语」) and ``externalcontact/get``.

Why a module of its own: the welcome's paths and answer shapes live here, while the client stays the single
owner of errcodes and token refresh. The callback hot path imports it, so it imports nothing but the client's
types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wecom_bundle.wecom.client import Timeout, WeComClient

SEND_WELCOME_MSG = "externalcontact/send_welcome_msg"
GET_EXTERNAL_CONTACT = "externalcontact/get"


def send_welcome_msg(client: WeComClient, body: dict[str, Any], *, timeout: Timeout) -> None:
    """Send the welcome ``body`` (its ``welcome_code``, ``text`` and ``attachments``) once.

    A refused token is raised, not retried: the caller checks its lease before *every* request it sends,
    the resend with a fresh token included (see ``WeComClient.call``).
    """
    client.post(SEND_WELCOME_MSG, body, timeout=timeout, retry_on_token_error=False)


def external_contact_name(client: WeComClient, external_userid: str, *, timeout: Timeout) -> str | None:
    """The customer's name as WeCom knows it (``external_contact.name``), or None when it has none."""
    answer = client.get(GET_EXTERNAL_CONTACT, {"external_userid": external_userid}, timeout=timeout)
    name = (answer.get("external_contact") or {}).get("name")
    return str(name) if name else None
