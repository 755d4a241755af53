"""「联系我」 contact ways (``externalcontact/add|get|list|update|del_contact_way``): all POST + JSON.

Rules kept (WeCom's page and global errcode list): ``type`` 1 (one member) or 2 (several) and ``scene`` 1
(mini-program button) or 2 (QR code) are required (41037/41038, invalid: 41039/41040); type 1 takes exactly
one user; no user: 41009; at most 100 users (41041); every user must be a member (40003); ``state`` and ``remark`` at most
30 characters; ``skip_verify`` defaults to true; at most 500 000 ways (41045); a type cannot change on
update; an unknown config id is 41044, a missing one 41043. A QR way's ``qr_code`` is a URL this simulator
serves (``/__sim/qr/<config_id>.png``, a real PNG).

``list_contact_way``: ``start_time`` defaults to 90 days ago, ``end_time`` to now (the page); ``limit``
defaults to 100, at most 1000 (above: the default); cursors are opaque. Chosen where the page is silent: a
span over 90 days, or an end before the start, is 40058, so a client that lists a longer range proves it
walks it in windows; a state or remark over 30 characters is 40058.
"""

from __future__ import annotations

import secrets
import struct
import zlib
from typing import Any

from . import errors
from .errors import WeComError
from .http_types import POST, ApiRoute, Request
from .models import ContactWay
from .pagination import page, resolve_limit
from .state import SimulatorState

MAX_USERS = 100
MAX_WAYS = 500_000
MAX_TEXT_CHARS = 30  # state and remark
LIST_LIMIT = (100, 1000)  # (default, maximum)
LIST_SPAN = 90 * 24 * 3600
TYPES, SCENES = (1, 2), (1, 2)


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise WeComError(errors.INVALID_PARAMETER, f"{key} must be a string of at most 30 characters")
    return value


def _users(state: SimulatorState, body: dict[str, Any], way_type: int) -> list[str]:
    users = body.get("user") or []
    if not isinstance(users, list) or not all(isinstance(u, str) and u for u in users):
        raise WeComError(errors.INVALID_PARAMETER, "user must be a list of userids")
    if not users:
        raise WeComError(errors.MISSING_USERID)
    if len(users) > MAX_USERS:
        raise WeComError(errors.CONTACT_WAY_TOO_MANY_USERS)
    if way_type == 1 and len(users) != 1:
        raise WeComError(errors.INVALID_PARAMETER, "a type 1 contact way takes exactly one user")
    unknown = [u for u in users if u not in state.members]
    if unknown:
        raise WeComError(errors.INVALID_USERID, "user is not a member")
    return list(dict.fromkeys(users))


def _skip_verify(body: dict[str, Any], default: bool) -> bool:
    value = body.get("skip_verify", default)
    if not isinstance(value, bool):
        raise WeComError(errors.INVALID_PARAMETER, "skip_verify must be true or false")
    return value


def _choice(body: dict[str, Any], key: str, allowed: tuple[int, ...], missing: int, invalid: int) -> int:
    value = body.get(key)
    if value is None:
        raise WeComError(missing)
    if isinstance(value, bool) or value not in allowed:
        raise WeComError(invalid)
    return int(value)


def _way(state: SimulatorState, body: dict[str, Any]) -> ContactWay:
    config_id = body.get("config_id")
    if not config_id or not isinstance(config_id, str):
        raise WeComError(errors.MISSING_CONFIG_ID)
    way = state.contact_ways.get(config_id)
    if way is None:
        raise WeComError(errors.INVALID_CONFIG_ID)
    return way


def qr_url(state: SimulatorState, way: ContactWay) -> str:
    return f"{state.base_url}/__sim/qr/{way.config_id}.png" if way.scene == 2 else ""


def render(state: SimulatorState, way: ContactWay) -> dict[str, Any]:
    """``get_contact_way``'s ``contact_way`` object."""
    doc: dict[str, Any] = {
        "config_id": way.config_id,
        "type": way.type,
        "scene": way.scene,
        "remark": way.remark,
        "skip_verify": way.skip_verify,
        "state": way.state,
        "user": list(way.users),
        "party": [],
        "is_temp": False,
    }
    if way.scene == 2:
        doc["qr_code"] = qr_url(state, way)
    return doc


def add(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    way_type = _choice(body, "type", TYPES, errors.MISSING_CONTACT_WAY_TYPE, errors.INVALID_CONTACT_WAY_TYPE)
    scene = _choice(body, "scene", SCENES, errors.MISSING_CONTACT_WAY_SCENE, errors.INVALID_CONTACT_WAY_SCENE)
    with state.lock:
        way = ContactWay(
            config_id=secrets.token_hex(16),
            type=way_type,
            scene=scene,
            users=_users(state, body, way_type),
            state=_text(body, "state"),
            remark=_text(body, "remark"),
            skip_verify=_skip_verify(body, True),
            created_at=int(state.now()),
        )
        if len(state.contact_ways) >= MAX_WAYS:
            raise WeComError(errors.CONTACT_WAY_LIMIT_REACHED)
        state.contact_ways[way.config_id] = way
        answer = {"config_id": way.config_id}
        return errors.ok(**answer, **({"qr_code": qr_url(state, way)} if scene == 2 else {}))


def get(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    with state.lock:
        return errors.ok(contact_way=render(state, _way(state, body)))


def update(state: SimulatorState, req: Request) -> dict[str, Any]:
    """Each field given replaces the way's (a type never changes)."""
    body = req.wecom_json()
    with state.lock:
        way = _way(state, body)
        users = _users(state, body, way.type) if "user" in body else way.users
        remark = _text(body, "remark") if "remark" in body else way.remark
        way_state = _text(body, "state") if "state" in body else way.state
        way.skip_verify = _skip_verify(body, way.skip_verify)
        way.users, way.remark, way.state = users, remark, way_state
        return errors.ok()


def delete(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    with state.lock:
        del state.contact_ways[_way(state, body).config_id]
        return errors.ok()


def _time(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key)
    if value is None or value == 0:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WeComError(errors.INVALID_PARAMETER, f"{key} must be epoch seconds")
    return value


def list_ways(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    with state.lock:
        now = int(state.now())
        start, end = _time(body, "start_time", now - LIST_SPAN), _time(body, "end_time", now)
        if end < start or end - start > LIST_SPAN:
            raise WeComError(errors.INVALID_PARAMETER, "start_time..end_time must span at most 90 days")
        limit = resolve_limit(body.get("limit"), *LIST_LIMIT)
        ids = sorted(
            (w.created_at, w.config_id) for w in state.contact_ways.values() if start <= w.created_at <= end
        )
        rows, cursor = page(
            [{"config_id": config_id} for _, config_id in ids],
            state.cursor_key,
            f"list_contact_way|{start}|{end}",
            body.get("cursor"),
            limit,
            trailing_empty=state.trailing_empty_page,
        )
        return errors.ok(contact_way=rows, next_cursor=cursor)


# ------------------------------------------------------------------------------------------------ the QR image
def qr_png(config_id: str, size: int = 25) -> bytes:
    """A small real PNG (black and white modules drawn from the id), so a download gets an image."""
    seed = zlib.crc32(config_id.encode())
    rows = []
    for y in range(size):
        bits = [((seed >> ((x * 7 + y * 13) % 31)) ^ (x * y)) & 1 for x in range(size)]
        rows.append(b"\x00" + bytes(0 if bit else 255 for bit in bits))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


ROUTES: dict[str, ApiRoute] = {
    f"externalcontact/{name}_contact_way": ApiRoute(POST, fn)
    for name, fn in {"add": add, "get": get, "list": list_ways, "update": update, "del": delete}.items()
}
