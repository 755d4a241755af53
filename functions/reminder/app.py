"""ReminderFunction: on its EventBridge schedule, creates the scheduled campaigns that are due (exactly once)
and reminds members who have not sent a mass message yet.

Thin: the policy (when, how often, the 3-per-24 h cap) lives in ``wecom_bundle.campaigns.reminders``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from wecom_bundle import runtime
    from wecom_bundle.campaigns import reminders

    # Stop taking new work 30 s before Lambda's timeout; what is left is due again at the next tick.
    budget_s = max(1.0, context.get_remaining_time_in_millis() / 1000 - 30)
    summary = reminders.run_due(runtime.campaign_deps(), budget_s=budget_s)
    logger.info("reminder run finished", extra=summary)
    return summary
