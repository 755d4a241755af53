"""``/admin/channels``: 渠道活码, WeCom 「联系我」 QR codes whose state is the channel id."""

from __future__ import annotations

import time
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from admin_api.models.channels import CHANNEL_ID_PATTERN, ChannelBody, ChannelReconcile
from admin_api.models.common import error_responses
from admin_api.models.responses import Channel, ChannelPage, ChannelReconcileReport, ChannelWithStats
from admin_api.routes.common import as_sent, no_content, ok, query, success
from wecom_bundle import runtime, validation

router = Router()
BASE = "/admin/channels"
ChannelId = Annotated[str, Path(pattern=CHANNEL_ID_PATTERN, description="the State: 1-30 of A-Za-z0-9_-")]
Limit = Annotated[int | None, Query(ge=1, le=validation.MAX_PAGE, description="page size")]
Cursor = Annotated[str | None, Query(description="the cursor of the previous page")]


@router.get(BASE, responses={200: success("channels by id", ChannelPage), **error_responses(400)})
def list_channels(limit: Limit = None, cursor: Cursor = None):
    return ok(200, runtime.channels().list_channels(query(router.current_event)))


@router.post(
    f"{BASE}/reconcile",
    responses={200: success("the drift report", ChannelReconcileReport), **error_responses(400, 503)},
)
def reconcile_channels(body: Annotated[ChannelReconcile | None, Body()] = None):
    return ok(200, runtime.channel_reconcile().reconcile(as_sent(body)))


@router.get(
    f"{BASE}/<channel_id>",
    responses={
        200: success("the channel and its last 30 days", ChannelWithStats),
        **error_responses(400, 404),
    },
)
def get_channel(channel_id: ChannelId):
    channel = runtime.channels().get_channel(channel_id)
    # The arrival counters' reader, wired in runtime.
    return ok(200, channel | {"stats": runtime.channel_stats_reader()(channel_id, time.time())})


@router.put(
    f"{BASE}/<channel_id>",
    responses={
        200: success("updated", Channel),
        201: success("created: WeCom made the code", Channel),
        **error_responses(400, 409, 503),
    },
)
def put_channel(channel_id: ChannelId, body: Annotated[ChannelBody, Body()]):
    channel, created = runtime.channels().put_channel(channel_id, as_sent(body))
    return ok(201 if created else 200, channel)


@router.delete(
    f"{BASE}/<channel_id>",
    responses={204: success("deleted in WeCom and here"), **error_responses(400, 404, 409, 503)},
)
def delete_channel(channel_id: ChannelId):
    runtime.channels().delete_channel(channel_id)
    return no_content()
