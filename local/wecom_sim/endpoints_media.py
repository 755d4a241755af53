"""Media: ``media/upload`` (temporary, 3 days) and ``media/uploadimg`` (permanent image URL).

Temporary media expire on the simulator clock; any send that names an expired one gets 40007 (see
``validation.require_media``). Sizes follow WeCom's upload limits (image/video 10 MB, voice 2 MB, file 20 MB,
at least 5 bytes; uploadimg 2 MB).
"""

from __future__ import annotations

from typing import Any

from . import errors
from .errors import WeComError
from .http_types import POST, ApiRoute, Request
from .models import Media
from .multipart import FilePart, parse_files
from .state import SimulatorState

MB = 1024 * 1024
MIN_BYTES = 5
UPLOAD_LIMITS = {  # type -> (max bytes, errcode when out of range)
    "image": (10 * MB, errors.INVALID_IMAGE_SIZE),
    "voice": (2 * MB, errors.INVALID_FILE_SIZE),
    "video": (10 * MB, errors.INVALID_VIDEO_SIZE),
    "file": (20 * MB, errors.INVALID_FILE_SIZE),
}
UPLOADIMG_LIMIT = 2 * MB


def _file_part(req: Request) -> FilePart:
    files = parse_files(req.content_type, req.body)
    part = files.get("media") or next(iter(files.values()), None)
    if part is None or not part.data:
        raise WeComError(errors.EMPTY_MEDIA, "multipart field 'media' is missing or empty")
    return part


def _check_size(part: FilePart, maximum: int, errcode: int) -> None:
    if not MIN_BYTES <= len(part.data) <= maximum:
        raise WeComError(errcode, f"size must be {MIN_BYTES} bytes to {maximum} bytes")


def upload(state: SimulatorState, req: Request) -> dict[str, Any]:
    kind = req.query.get("type", "")
    if kind not in UPLOAD_LIMITS:
        raise WeComError(errors.INVALID_UPLOAD_TYPE, "type must be image, voice, video or file")
    part = _file_part(req)
    _check_size(part, *UPLOAD_LIMITS[kind])
    with state.lock:
        media = _store(state, state.media, kind, part, prefix="3")
        # created_at is a string in WeCom's answer; clients that int() it must keep doing so.
        return errors.ok(type=kind, media_id=media.media_id, created_at=str(int(media.created_at)))


def uploadimg(state: SimulatorState, req: Request) -> dict[str, Any]:
    part = _file_part(req)
    _check_size(part, UPLOADIMG_LIMIT, errors.INVALID_IMAGE_SIZE)
    with state.lock:
        image = _store(state, state.images, "image", part, prefix="img")
        return errors.ok(url=f"{state.base_url}/__sim/img/{image.media_id}")


def _store(state: SimulatorState, into: dict[str, Media], kind: str, part: FilePart, prefix: str) -> Media:
    media = Media(
        media_id=state.new_id(prefix, 33),
        type=kind,
        filename=part.filename,
        content_type=part.content_type,
        data=part.data,
        created_at=state.now(),
    )
    into[media.media_id] = media
    return media


ROUTES: dict[str, ApiRoute] = {
    "media/upload": ApiRoute(POST, upload),
    "media/uploadimg": ApiRoute(POST, uploadimg),
}
