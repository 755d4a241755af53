"""Handlers for decrypted callback events, by (MsgType, Event, ChangeType): ``HANDLERS``.

Imported by the callback function on a POST only; the welcome machinery (botocore, requests) is loaded
on the first add-contact event, so URL verification and other events stay light.
"""

from __future__ import annotations

import logging

from wecom_bundle import config, runtime, telemetry
from wecom_bundle.callback.fields import Event
from wecom_bundle.callback.service import EventHandler

logger = logging.getLogger(__name__)


def on_add_external_contact(event: Event) -> dict[str, object]:
    """A member added a customer: send the welcome while the code is alive."""
    if not event.get("WelcomeCode"):
        # No code: the admin console has a welcome for this member, or they already chat. Nothing to send.
        telemetry.count("WelcomeSkipped", {"reason": "no_welcome_code"})
        logger.info("add_external_contact without a welcome code")
        return {"handled": True, "outcome": "no_code"}
    result = runtime.welcome_service().handle(config.settings().corp_id, event)
    telemetry.count("WelcomeOutcome", {"outcome": result.outcome})
    if result.latency_ms is not None:
        telemetry.milliseconds("WelcomeLatency", result.latency_ms, {"outcome": result.outcome})
    logger.info("welcome handled", extra=result.fields())
    return {"handled": True, "outcome": result.outcome}


HANDLERS: dict[tuple[str, str, str], EventHandler] = {
    ("event", "change_external_contact", "add_external_contact"): on_add_external_contact,
}
