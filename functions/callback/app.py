"""CallbackFunction: WeCom's encrypted callbacks (GET URL verification, POST events).

Thin by design: parse the HTTP event, call the layer's callback service, shape the answer. Imports only
what every request needs (crypto, hardened XML, the logger); the welcome machinery loads on the first event
that needs it. Rejections answer 4xx with a short reason and are logged without the payload.
"""

from __future__ import annotations

from typing import Any

from wecom_bundle import config

# Without SnapStart the first answer waits for the secret: its read starts here, so it overlaps the imports
# below instead of following them (no-op under SnapStart, locally and in tests; see config.prefetch_settings).
config.prefetch_settings()

from aws_lambda_powertools import Logger  # noqa: E402 - after the prefetch has started, on purpose

from wecom_bundle import apigw, snapstart  # noqa: E402
from wecom_bundle.callback.service import (  # noqa: E402
    CallbackRejected,
    CallbackRequest,
    dispatch,
    open_event,
    parse_query,
    verify_url,
)

logger = Logger()
snapstart.register()  # under SnapStart: warm code into the snapshot, keep secrets and connections out of it


def _query(event: dict[str, Any]) -> dict[str, str]:
    raw = event.get("rawQueryString")
    if raw is not None:
        return parse_query(raw)
    return {k: str(v) for k, v in (event.get("queryStringParameters") or {}).items()}


def _receive(event: dict[str, Any]) -> dict[str, Any]:
    try:
        body = apigw.raw_body(event)
    except apigw.BodyError as exc:
        raise CallbackRejected(400, str(exc)) from None
    decrypted = open_event(CallbackRequest(_query(event), body))
    logger.append_keys(
        msg_type=decrypted.get("MsgType"),
        event=decrypted.get("Event"),
        change_type=decrypted.get("ChangeType"),
    )
    from wecom_bundle.callback.events import HANDLERS  # on the first POST only

    dispatch(decrypted, HANDLERS)
    return apigw.text(200, "success")


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    http_method = apigw.method(event)
    try:
        if http_method == "GET":
            return apigw.text(200, verify_url(_query(event)))
        if http_method == "POST":
            return _receive(event)
        raise CallbackRejected(405, "method not allowed")
    except CallbackRejected as exc:
        logger.warning(
            "callback rejected",
            extra={"status": exc.status, "reason": exc.reason, "code": exc.code, "field": exc.field},
        )
        return apigw.text(exc.status, exc.reason)
