"""WeCom's media uploads: ``media/upload?type=image|video|file`` (temporary, 3 days) and ``media/uploadimg``
(a permanent image URL). Both are multipart: WeCom reads the file from the form field ``media``.

Why a module of its own: the upload paths and answer fields live here; the media cache (``wecom_bundle.media``)
decides what to upload and when, the client owns errcodes and token refresh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wecom_bundle.wecom.client import Timeout, WeComClient

UPLOAD = "media/upload"
UPLOAD_IMG = "media/uploadimg"


def upload(
    client: WeComClient, kind: str, filename: str, data: bytes, content_type: str, *, timeout: Timeout
) -> str:
    """Upload temporary media of ``kind`` (image, video or file); answers its ``media_id``."""
    answer = client.upload(UPLOAD, kind, filename, data, content_type, timeout)
    return str(answer.get("media_id"))


def upload_img(
    client: WeComClient, filename: str, data: bytes, content_type: str, *, timeout: Timeout
) -> str:
    """Upload an image for good; answers its ``url`` (what ``pic_url`` fields take)."""
    answer = client.upload(UPLOAD_IMG, None, filename, data, content_type, timeout)
    return str(answer.get("url"))
