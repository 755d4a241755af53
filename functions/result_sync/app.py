"""ResultSyncFunction: on its EventBridge schedule, ingests tasks created outside the product and queues
every msgid whose result sync is due (one SQS message each, for ResultSyncWorkerFunction).

Thin: what is due and how it is found live in ``wecom_bundle.result_sync.fanout``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from wecom_bundle import runtime
    from wecom_bundle.result_sync import fanout

    # Stop 30 s before Lambda's timeout; what is left is due again at the next tick.
    budget_s = max(1.0, context.get_remaining_time_in_millis() / 1000 - 30)
    summary = fanout.run_due(runtime.sync_deps(), budget_s)
    logger.info("result sync run finished", extra=summary)
    return summary
