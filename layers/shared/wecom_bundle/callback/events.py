"""Handlers for decrypted callback events, by (MsgType, Event, ChangeType): ``HANDLERS``.

Imported by the callback function on a POST only; the welcome machinery (botocore, requests) is loaded
on the first add-contact event, so URL verification and other events stay light.

An add-contact event whose ``State`` names a channel (``channels.lookup``, from memory) gets the channel's
welcome ahead of the rules, then, once the welcome service has answered, its arrival is counted and the
channel's tags are put on (``channels.arrivals``): tagging never runs before the welcome and never delays
it. WeCom's retries of an event the welcome service calls a duplicate do nothing more. The two loss
callbacks (``del_follow_user``, ``del_external_contact``) count ``lost`` for the channel that brought the
pair.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from wecom_bundle import config, runtime, telemetry
from wecom_bundle.callback.fields import Event
from wecom_bundle.callback.service import EventHandler

if TYPE_CHECKING:
    from wecom_bundle.channels.lookup import Channel

logger = logging.getLogger(__name__)


def _channel_of(event: Event) -> Channel | None:
    """The live channel the event's State names, or None (``find`` never raises: rules apply then)."""
    state = event.get("State")
    return runtime.channel_lookup().find(state) if state else None


def on_add_external_contact(event: Event) -> dict[str, object]:
    """A member added a customer: send the welcome while the code is alive, then the channel's part."""
    received_ms = int(time.time() * 1000)
    channel = _channel_of(event)
    if not event.get("WelcomeCode"):
        # No code: the admin console has a welcome for this member, or they already chat. Nothing to send.
        telemetry.count("WelcomeSkipped", {"reason": "no_welcome_code"})
        logger.info("add_external_contact without a welcome code")
        _arrive(channel, event, None, received_ms)
        return {"handled": True, "outcome": "no_code"}
    result = runtime.welcome_service().handle(config.settings().corp_id, event, channel)
    telemetry.count("WelcomeOutcome", {"outcome": result.outcome})
    if result.latency_ms is not None:
        telemetry.milliseconds("WelcomeLatency", result.latency_ms, {"outcome": result.outcome})
    logger.info("welcome handled", extra=result.fields())
    if result.outcome != "duplicate":  # a retry the claim refused: its first delivery does the rest
        _arrive(channel, event, result.outcome, received_ms)
    return {"handled": True, "outcome": result.outcome}


def _arrive(channel: Channel | None, event: Event, welcome_outcome: str | None, received_ms: int) -> None:
    """Count the arrival and tag the customer, after the welcome. A fault here is logged and counted, never
    raised: the welcome is done and recorded, and WeCom's retry of the event would be a duplicate anyway."""
    if channel is None:
        return
    try:
        outcome = runtime.channel_arrivals().arrive(channel, event, welcome_outcome, received_ms)
    except Exception as exc:
        logger.error("channel arrival not recorded", extra={"error": type(exc).__name__})
        telemetry.count("ChannelArrival", {"outcome": "error"})
        return
    telemetry.count("ChannelArrival", {"outcome": outcome})


def on_contact_lost(event: Event) -> dict[str, object]:
    """The customer deleted the member (``del_follow_user``) or the member the customer
    (``del_external_contact``): count ``lost`` for the channel that brought them together. A fault is
    raised (the callback answers 5xx and WeCom retries; counting is idempotent)."""
    outcome = runtime.channel_arrivals().lose(event)
    telemetry.count("ChannelLoss", {"outcome": outcome})
    logger.info("contact loss handled", extra={"outcome": outcome})
    return {"handled": True, "outcome": outcome}


HANDLERS: dict[tuple[str, str, str], EventHandler] = {
    ("event", "change_external_contact", "add_external_contact"): on_add_external_contact,
    ("event", "change_external_contact", "del_follow_user"): on_contact_lost,
    ("event", "change_external_contact", "del_external_contact"): on_contact_lost,
}
