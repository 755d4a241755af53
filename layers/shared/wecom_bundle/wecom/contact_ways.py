"""WeCom's 「联系我」 calls: ``externalcontact/add|get|list|update|del_contact_way`` (all POST + JSON).

Why a module of its own: the paths and answer shapes of contact ways live in one place; the client stays the
single owner of errcodes, token refresh and pagination. Only QR codes (scene 2) are made here: a channel is a
code printed on a poster, never a mini-program button or a temporary chat.

``list_contact_way`` answers only config ids, of ways created after 2021-07-10 (WeCom's page), filtered by
creation time; ``start_time`` defaults to 90 days ago. ``list_config_ids`` walks a longer range in windows of
``LIST_WINDOW_SECONDS`` and every page of each, so no way is missed whatever WeCom's cap on the span.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wecom_bundle.wecom.client import Timeout, WeComClient

BASE = "externalcontact"
SCENE_QR = 2  # 1: a button in a mini program, 2: a QR code
TYPE_SINGLE, TYPE_MULTI = 1, 2  # one member / several members
LIST_PAGE = 1000  # list_contact_way's largest page
LIST_FLOOR = 1_625_846_400  # 2021-07-10 00:00 (UTC+8): list_contact_way serves nothing created before
LIST_WINDOW_SECONDS = 90 * 24 * 3600  # the span WeCom's page gives as its default range


def add(client: WeComClient, body: dict[str, Any]) -> dict[str, str]:
    """Create a QR contact way; answers ``config_id`` and ``qr_code`` (keep the id: WeCom's console does not
    show ways made through the API, and without it the way can be neither edited nor deleted)."""
    answer = client.post(f"{BASE}/add_contact_way", {**body, "scene": SCENE_QR})
    return {"config_id": str(answer["config_id"]), "qr_code": str(answer.get("qr_code") or "")}


def get(client: WeComClient, config_id: str) -> dict[str, Any]:
    """One contact way as WeCom holds it (``config_id``, ``type``, ``scene``, ``user``, ``state``, ...)."""
    return dict(client.post(f"{BASE}/get_contact_way", {"config_id": config_id})["contact_way"])


def update(client: WeComClient, config_id: str, changes: dict[str, Any]) -> None:
    """Change ``user``, ``remark``, ``skip_verify`` or ``state`` (each given one replaces WeCom's)."""
    client.post(f"{BASE}/update_contact_way", {"config_id": config_id, **changes})


def delete(client: WeComClient, config_id: str) -> None:
    client.post(f"{BASE}/del_contact_way", {"config_id": config_id})


def list_config_ids(client: WeComClient, start: int, end: int) -> Iterator[str]:
    """Every config id of the ways created in [start, end] (epoch seconds), window by window, page by page."""
    window_start = max(start, LIST_FLOOR)
    while window_start <= end:
        window_end = min(end, window_start + LIST_WINDOW_SECONDS - 1)
        body = {"start_time": window_start, "end_time": window_end, "limit": LIST_PAGE}
        for items, _cursor in client.paginate(f"{BASE}/list_contact_way", body, "contact_way"):
            yield from (str(item["config_id"]) for item in items if item.get("config_id"))
        window_start = window_end + 1


def list_page(client: WeComClient, start: int, end: int, *, limit: int, timeout: Timeout) -> list[str]:
    """The config ids on the first page of the ways created in [start, end] (a span within one window):
    enough to see that the call is allowed, within ``timeout``."""
    body = {"start_time": max(start, LIST_FLOOR), "end_time": end, "limit": limit}
    answer = client.post(f"{BASE}/list_contact_way", body, timeout=timeout)
    return [str(item["config_id"]) for item in answer.get("contact_way") or [] if item.get("config_id")]
