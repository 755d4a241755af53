"""Minimal ``multipart/form-data`` parsing for the media uploads (the stdlib ``cgi`` module is gone in 3.13).

The email package already implements MIME multipart; a form-data body is one such message once its
Content-Type header is put in front of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass(frozen=True)
class FilePart:
    field: str
    filename: str
    content_type: str
    data: bytes


def parse_files(content_type: str, body: bytes) -> dict[str, FilePart]:
    """Return the file parts by form field name; empty when the body is not multipart/form-data."""
    if not content_type.lower().startswith("multipart/form-data"):
        return {}
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = message_from_bytes(head + body, policy=policy.HTTP)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        return {}
    files: dict[str, FilePart] = {}
    for part in message.iter_parts():
        field = part.get_param("name", header="content-disposition")
        if not isinstance(field, str):
            continue
        payload = part.get_payload(decode=True)
        files[field] = FilePart(
            field=field,
            filename=part.get_filename() or "",
            content_type=part.get_content_type(),
            data=payload if isinstance(payload, bytes) else b"",
        )
    return files
