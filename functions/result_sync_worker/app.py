"""ResultSyncWorkerFunction: syncs the msgids the scheduled ResultSyncFunction queued, one SQS message each.

Thin: the sync itself (pages, checkpoints, only-changes writes, aggregates) lives in
``wecom_bundle.result_sync.sync_pass``. A message that fails is reported back to SQS alone (partial batch response);
SQS retries it after the visibility timeout and parks it in the dead-letter queue after 5 receives.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
# Stop pulling pages this long before Lambda's timeout: the checkpoint write and the continuation message
# must still fit.
SAFETY_MS = 20_000


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    from wecom_bundle import runtime
    from wecom_bundle.result_sync import sync_pass

    deps = runtime.sync_deps()

    def sync(record: SQSRecord) -> dict[str, Any]:
        deadline_ms = context.get_remaining_time_in_millis() - SAFETY_MS
        summary = sync_pass.sync_message(deps, record.body, budget_ms=max(1_000, deadline_ms))
        logger.info("msgid synced", extra=summary)
        return summary

    return process_partial_response(event=event, record_handler=sync, processor=processor, context=context)
