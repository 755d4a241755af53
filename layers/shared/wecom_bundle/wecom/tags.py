"""WeCom's customer tag calls: ``externalcontact/mark_tag`` (编辑客户企业标签).

Why a module of its own: the path and the body's shape live here, the client stays the one owner of
errcodes and token refresh. The callback imports it after a channel's welcome (tags on arrival), so it
imports nothing but the client's types.

WeCom's rules (official page 编辑客户企业标签): ``userid`` is the member who added the customer and
``external_userid`` must be that member's customer (else 84061); ``add_tag`` and ``remove_tag`` are tag ids
of the corp's tag library (an unknown id: 40068) and may not both be empty; a member may put at most 3 000
tags on one customer. Adding a tag the customer already has is not an error, so a repeated call is harmless.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from wecom_bundle.wecom.client import Timeout, WeComClient

MARK_TAG = "externalcontact/mark_tag"


def mark_tag(
    client: WeComClient,
    userid: str,
    external_userid: str,
    add_tag: Sequence[str],
    *,
    timeout: Timeout,
) -> None:
    """Put the tags ``add_tag`` on the member's customer (nothing is removed)."""
    body = {"userid": userid, "external_userid": external_userid, "add_tag": list(add_tag)}
    client.post(MARK_TAG, body, timeout=timeout)
