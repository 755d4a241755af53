"""WeCom's ``externalcontact/group_welcome_template/*`` calls (WeCom「入群欢迎语素材管理」: all four are POST with a JSON body).

Why a module of its own: the paths and answer shapes of this domain live in one place, while the client stays
the single owner of errcodes and token refresh (every call here goes through ``WeComClient.post``).
"""

from __future__ import annotations

from typing import Any

from wecom_bundle.wecom.client import WeComClient

BASE = "externalcontact/group_welcome_template"
CONTENT_KEYS = ("text", "image", "link", "miniprogram", "file", "video")


def add(client: WeComClient, body: dict[str, Any]) -> str:
    """Create a template; answers its ``template_id``."""
    return str(client.post(f"{BASE}/add", body)["template_id"])


def edit(client: WeComClient, template_id: str, body: dict[str, Any]) -> None:
    """Replace a template's content (only the creating app may)."""
    client.post(f"{BASE}/edit", {"template_id": template_id, **body}, owned_object=True)


def get(client: WeComClient, template_id: str) -> dict[str, Any]:
    """The template's content as WeCom holds it (an image always comes back as ``pic_url``)."""
    answer = client.post(f"{BASE}/get", {"template_id": template_id})
    return {key: answer[key] for key in CONTENT_KEYS if answer.get(key)}


def delete(client: WeComClient, template_id: str, agentid: int | None = None) -> None:
    """Delete a template (only the creating app may)."""
    body: dict[str, Any] = {"template_id": template_id}
    if agentid is not None:
        body["agentid"] = agentid
    client.post(f"{BASE}/del", body, owned_object=True)
