"""ResultSyncFunction: on its EventBridge schedule, pulls member task status and per-customer send results.

Thin: what is due and how it is synced live in ``wecom_bundle.result_sync``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from wecom_bundle import result_sync

    summary = result_sync.run_due(deadline_ms=context.get_remaining_time_in_millis())
    logger.info("result sync run finished", extra=summary)
    return summary
