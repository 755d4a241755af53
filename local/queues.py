"""Local SQS: the template's queues in moto, and pollers that feed them to functions as Lambda's SQS source does.

Why real SQS API calls (moto's server) rather than an in-memory list: the functions send with boto3 exactly as
deployed (`AWS_ENDPOINT_URL_SQS` points botocore at moto), and visibility timeouts, receive counts and the
redrive to the dead-letter queue are SQS's own semantics, not a re-implementation of them.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from local.cloudformation import LOCAL_REGION, queue_arn
from local.template import QueueSpec, SqsSourceSpec

log = logging.getLogger(__name__)

Invoke = Callable[[str, Any], Any]

VISIBILITY_SETTING = "LOCAL_QUEUE_VISIBILITY_SECONDS"
DEFAULT_VISIBILITY_SECONDS = 5
MAX_VISIBILITY_SECONDS = 43_200  # SQS's limit (12 hours)
RECEIVE_LIMIT = 10  # ReceiveMessage returns at most 10 messages


# ---------------------------------------------------------------- creating the queues


def queue_visibility(environ: Mapping[str, str] | None = None) -> int:
    """LOCAL_QUEUE_VISIBILITY_SECONDS (default 5): the visibility timeout of every local queue.

    Why an override: the template's 1800 s (6x the worker's timeout, right for Lambda) would make a local
    retry, and the redrive after maxReceiveCount, take hours to observe.
    """
    raw = (os.environ if environ is None else environ).get(VISIBILITY_SETTING) or str(
        DEFAULT_VISIBILITY_SECONDS
    )
    try:
        seconds = int(raw)
    except ValueError as exc:
        raise ValueError(f"{VISIBILITY_SETTING} must be a whole number of seconds") from exc
    if not 0 <= seconds <= MAX_VISIBILITY_SECONDS:
        raise ValueError(f"{VISIBILITY_SETTING} must be between 0 and {MAX_VISIBILITY_SECONDS}")
    return seconds


def create_queues(client: Any, queues: Iterable[QueueSpec], visibility: int, region: str) -> dict[str, str]:
    """Create the template's queues (dead-letter queues first, so a redrive policy can name their ARN).

    Returns logical id -> queue URL as the server reports it (moto puts its account id in the path).
    """
    pending = {queue.logical_id: queue for queue in queues}
    urls: dict[str, str] = {}
    while pending:
        ready = [q for q in pending.values() if q.dead_letter_queue is None or q.dead_letter_queue in urls]
        if not ready:
            raise ValueError(f"dead-letter queues missing or in a cycle: {', '.join(sorted(pending))}")
        for queue in ready:
            attributes = _queue_attributes(queue, visibility, urls, region)
            urls[queue.logical_id] = client.create_queue(QueueName=queue.logical_id, Attributes=attributes)[
                "QueueUrl"
            ]
            del pending[queue.logical_id]
    return urls


def delete_queues(client: Any, queue_urls: Mapping[str, str]) -> None:
    """Delete the queues the stack created (on stop).

    Why: every moto server of a process shares one in-memory backend, so queues (and their messages) would
    otherwise outlive the stack and leak into the next one started in the same process (tests, the demo).
    """
    for url in queue_urls.values():
        try:
            client.delete_queue(QueueUrl=url)
        except Exception as exc:  # the server may already be gone; nothing is left to clean then
            log.debug("deleting %s failed: %s", url, exc)


def _queue_attributes(
    queue: QueueSpec, visibility: int, urls: Mapping[str, str], region: str
) -> dict[str, str]:
    attributes = {"VisibilityTimeout": str(visibility)}
    if queue.retention_period is not None:
        attributes["MessageRetentionPeriod"] = str(queue.retention_period)
    if queue.dead_letter_queue is not None:
        target = queue_arn(urls[queue.dead_letter_queue], region)
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": target, "maxReceiveCount": queue.max_receive_count or 10}
        )
    return attributes


# ---------------------------------------------------------------- the Lambda event


def sqs_event(
    messages: Iterable[dict[str, Any]], source_arn: str, region: str = LOCAL_REGION
) -> dict[str, Any]:
    """The event Lambda's SQS event source sends for these ReceiveMessage messages."""
    return {"Records": [sqs_record(message, source_arn, region) for message in messages]}


def sqs_record(message: dict[str, Any], source_arn: str, region: str = LOCAL_REGION) -> dict[str, Any]:
    """One `Records` entry: SQS's names in Lambda's camelCase, attribute values as Lambda spells them."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute


def failed_message_ids(result: Any, batch_ids: list[str], reports_failures: bool) -> set[str]:
    """The messages of a batch Lambda would keep, given the handler's answer (the handler did not raise).

    Without ReportBatchItemFailures the answer is ignored and the whole batch succeeded; with it, the ids
    listed in `batchItemFailures` failed, and an id that is not in the batch fails the whole batch.
    """
    if not reports_failures or not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures") or []
    ids = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures}
    if not ids <= set(batch_ids):
        log.warning("batchItemFailures names ids outside the batch: the whole batch failed")
        return set(batch_ids)
    return {str(item) for item in ids}


# ---------------------------------------------------------------- the poller


class SqsPoller:
    """One thread per SQS event source: receive a batch, invoke the function, delete what succeeded.

    Failed messages are not touched: they become visible again after the visibility timeout, and SQS (moto)
    moves a message to the dead-letter queue once it has been received maxReceiveCount times.
    """

    def __init__(
        self,
        source: SqsSourceSpec,
        client: Any,
        queue_url: str,
        invoke: Invoke,
        *,
        region: str = LOCAL_REGION,
        wait_seconds: int = 1,
    ) -> None:
        self.source = source
        self.client = client
        self.queue_url = queue_url
        self.queue_arn = queue_arn(queue_url, region)
        self.invoke = invoke
        self.region = region
        self.wait_seconds = wait_seconds
        self.counts = {"received": 0, "deleted": 0, "failed": 0}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def describe(self) -> dict[str, Any]:
        """What health reports about this poller."""
        return {
            "function": self.source.function_id,
            "queue": self.source.queue,
            "batch_size": self.source.batch_size,
            "running": self.running,
            **self.counts,
        }

    def start(self) -> None:
        name = f"sqs-{self.source.function_id}-{self.source.event_name}"
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end and wait for it (at most one long poll plus one running invocation)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("%s is still running at shutdown; not waiting for it", self._thread.name)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("polling %s for %s failed", self.source.queue, self.source.function_id)
                self._stop.wait(1.0)

    def poll_once(self) -> int:
        """Receive one batch (long poll of `wait_seconds`) and deliver it; return how many messages came."""
        answer = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(self.source.batch_size, RECEIVE_LIMIT)),
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages") or []
        if messages:
            self._deliver(messages)
        return len(messages)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        ids = [message["MessageId"] for message in messages]
        self.counts["received"] += len(messages)
        try:
            result = self.invoke(self.source.function_id, sqs_event(messages, self.queue_arn, self.region))
        except Exception:
            log.exception(
                "%s failed on %d SQS message(s); they will be retried", self.source.function_id, len(ids)
            )
            failed = set(ids)
        else:
            failed = failed_message_ids(result, ids, self.source.report_batch_item_failures)
        done = [message for message in messages if message["MessageId"] not in failed]
        if done:
            self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        self.counts["deleted"] += len(done)
        self.counts["failed"] += len(failed)


def start_pollers(
    sources: Iterable[SqsSourceSpec],
    queue_urls: Mapping[str, str],
    client_factory: Callable[[], Any],
    invoke: Invoke,
    region: str = LOCAL_REGION,
) -> list[SqsPoller]:
    """A running poller for every SQS event source whose queue is a queue of the template."""
    pollers = []
    for source in sources:
        url = queue_urls.get(source.queue)
        if url is None:
            log.warning(
                "%s: queue %s is not a queue of the template; not polled", source.function_id, source.queue
            )
            continue
        poller = SqsPoller(source, client_factory(), url, invoke, region=region)
        poller.start()
        pollers.append(poller)
    return pollers
