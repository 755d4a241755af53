"""MediaRefreshFunction: on its EventBridge schedule, re-uploads bucket-backed attachments before WeCom's
3-day media expiry, so welcomes and campaigns never have to upload on their own send path.

Thin: what is referenced and when an id is due live in ``wecom_bundle.media.refresh`` (wired by ``runtime.media_refresh``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    from wecom_bundle import runtime

    # Stop taking new objects 30 s before Lambda's timeout; what is left is due again at the next tick.
    budget_s = max(1.0, context.get_remaining_time_in_millis() / 1000 - 30)
    summary = runtime.media_refresh().run(budget_s=budget_s)
    logger.info("media refresh finished", extra=summary)
    return summary
