"""ReminderFunction: on its EventBridge schedule, reminds members who have not sent a mass message yet.

Thin: the policy (when, how often, the 3-per-24 h cap) lives in ``wecom_bundle.reminders``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from wecom_bundle import reminders

    summary = reminders.run_due()
    logger.info("reminder run finished", extra=summary)
    return summary
