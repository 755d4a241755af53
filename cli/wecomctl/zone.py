"""The stack's business time zone (``WELCOME_TIMEZONE``), as the CLI learns it: from the stack itself.

Why from the stack and not from the operator's environment: the stack reads every time typed without an
offset in its own zone and counts its days in it. A CLI that guessed (the host's zone, or its own
``WELCOME_TIMEZONE`` with the same default) would print other times than the stack means as soon as the
stack is deployed with another zone. ``GET /admin/health`` names the zone; it is asked once per run, and
only when a time is about to be printed (``--json`` prints the API's epoch seconds and never asks).
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wecomctl.http import ApiClient, ApiError

HEALTH = "/admin/health"


def stack_zone(client: ApiClient) -> tzinfo:
    """The zone ``GET /admin/health`` names; UTC when the stack names none this machine knows (every time
    is printed with its offset, so a UTC time is still the right instant, only not the business wall clock)."""
    try:
        doc = client.get(HEALTH).json()
    except ApiError:
        return UTC
    name = doc.get("timezone") if isinstance(doc, dict) else None
    if not isinstance(name, str):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
