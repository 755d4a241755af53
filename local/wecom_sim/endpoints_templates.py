"""Group welcome templates (``group_welcome_template/add|edit|get|del``): all POST + JSON (WeCom「入群欢迎语素材管理」).

Rules kept: at most 100 per corp, counting every app's (41055); only the creating app may edit or delete
(another app's template: 48002, our pick); non-text parts are mutually exclusive by priority and the losers are
dropped silently; ``get`` of a GET request is refused like any POST API called without a body (40063).
Unknown template ids: 40037 (our pick). Temporary media ids are checked on add/edit (40007 when expired);
``media_state`` tells the control API whether a stored template's media has expired since (WeCom would then
show new groups a broken attachment: the product must edit the template with fresh ids in time).
"""

from __future__ import annotations

from typing import Any

from . import errors
from .errors import WeComError
from .http_types import POST, ApiRoute, Request
from .models import SELF_APP, WelcomeTemplate
from .state import SimulatorState
from .validation import template_content

MAX_TEMPLATES = 100


def create_template(state: SimulatorState, body: dict[str, Any], owner_app: str) -> WelcomeTemplate:
    """Validate and store a template. Caller holds the lock; also used by the control API (other apps)."""
    content = template_content(state, body)
    if len(state.templates) >= MAX_TEMPLATES:
        raise WeComError(errors.TEMPLATE_LIMIT_REACHED)
    notify = body.get("notify", 1)
    template = WelcomeTemplate(
        template_id=state.new_id("msg", 21),
        content=content,
        owner_app=owner_app,
        notify=0 if notify == 0 else 1,
        created_at=state.now(),
    )
    state.templates[template.template_id] = template
    return template


def _template(state: SimulatorState, body: dict[str, Any], *, owned: bool) -> WelcomeTemplate:
    template_id = body.get("template_id")
    if not template_id or not isinstance(template_id, str):
        raise WeComError(errors.INVALID_PARAMETER, "template_id is required")
    template = state.templates.get(template_id)
    if template is None:
        raise WeComError(errors.INVALID_TEMPLATE_ID)
    if owned and template.owner_app != SELF_APP:
        raise WeComError(errors.API_FORBIDDEN, "only the app that created a template may change it")
    return template


def add(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    with state.lock:
        return errors.ok(template_id=create_template(state, body, SELF_APP).template_id)


def edit(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    with state.lock:
        template = _template(state, body, owned=True)
        template.content = template_content(state, body)
        return errors.ok()


def get(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    with state.lock:
        return errors.ok(**render(state, _template(state, body, owned=False)))


def delete(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    with state.lock:
        del state.templates[_template(state, body, owned=True).template_id]
        return errors.ok()


MEDIA_FIELDS = (
    ("image", "media_id"),
    ("miniprogram", "pic_media_id"),
    ("file", "media_id"),
    ("video", "media_id"),
)


def media_state(state: SimulatorState, template: WelcomeTemplate) -> list[dict[str, Any]]:
    """Each temporary media id the template holds, with its expiry on the simulator clock."""
    held = []
    for part, field in MEDIA_FIELDS:
        media_id = (template.content.get(part) or {}).get(field)
        if not media_id:
            continue
        media = state.media.get(media_id)
        expires_at = media.created_at + state.config.media_ttl if media else None
        expired = expires_at is None or state.now() >= expires_at
        held.append(
            {"field": f"{part}.{field}", "media_id": media_id, "expires_at": expires_at, "expired": expired}
        )
    return held


def render(state: SimulatorState, template: WelcomeTemplate) -> dict[str, Any]:
    """What ``get`` shows: an image always as a ``pic_url`` (WeCom turns a media_id into its URL)."""
    content = {key: dict(value) for key, value in template.content.items()}
    image = content.get("image")
    if image is not None:
        media_id = image.get("media_id")
        content["image"] = {
            "pic_url": f"{state.base_url}/__sim/media/{media_id}" if media_id else image["pic_url"]
        }
    return content


ROUTES: dict[str, ApiRoute] = {
    f"externalcontact/group_welcome_template/{name}": ApiRoute(POST, fn)
    for name, fn in {"add": add, "edit": edit, "get": get, "del": delete}.items()
}
