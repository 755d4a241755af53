"""local.queues against a real moto server: queue creation, the Lambda SQS event, and the poller's semantics.

The poller is driven one `poll_once()` at a time on queues whose visibility timeout is 0, so a message that
was not deleted is visible again at once and every assertion is deterministic (no sleeping).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from local.cloudformation import queue_arn
from local.dynamodb import local_client, start_aws_services
from local.queues import (
    DEFAULT_VISIBILITY_SECONDS,
    SqsPoller,
    create_queues,
    failed_message_ids,
    queue_visibility,
    sqs_event,
)
from local.template import QueueSpec, SqsSourceSpec

REGION = "us-east-1"


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    endpoint, stop = start_aws_services()
    try:
        yield local_client("sqs", endpoint, REGION)
    finally:
        stop()


@pytest.fixture
def queues(sqs: Any, request: pytest.FixtureRequest) -> dict[str, str]:
    """A work queue (redrive to its DLQ after 2 receives) and the DLQ, fresh for each test, visibility 0."""
    prefix = request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:60]
    specs = [
        QueueSpec(f"{prefix}Work", 1800, 345600, dead_letter_queue=f"{prefix}Dead", max_receive_count=2),
        QueueSpec(f"{prefix}Dead", retention_period=1209600),
    ]
    urls = create_queues(sqs, specs, visibility=0, region=REGION)
    return {"work": urls[f"{prefix}Work"], "dead": urls[f"{prefix}Dead"]}


def _poller(sqs: Any, url: str, invoke: Any, batch_size: int = 10, reports: bool = True) -> SqsPoller:
    source = SqsSourceSpec("Worker", "Queue", url.rsplit("/", 1)[-1], batch_size, reports)
    return SqsPoller(source, sqs, url, invoke, region=REGION, wait_seconds=0)


def _bodies_in(sqs: Any, url: str) -> list[str]:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return sorted(message["Body"] for message in answer.get("Messages", []))


# ---------------------------------------------------------------- settings and queue creation


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, DEFAULT_VISIBILITY_SECONDS), ("", DEFAULT_VISIBILITY_SECONDS), ("0", 0)]
)
def test_visibility_setting(raw: str | None, expected: int) -> None:
    environ = {} if raw is None else {"LOCAL_QUEUE_VISIBILITY_SECONDS": raw}
    assert queue_visibility(environ) == expected


@pytest.mark.parametrize("raw", ["soon", "1.5", "-1", "43201"])
def test_malformed_visibility_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="LOCAL_QUEUE_VISIBILITY_SECONDS"):
        queue_visibility({"LOCAL_QUEUE_VISIBILITY_SECONDS": raw})


def test_queues_are_created_with_the_local_visibility_and_the_redrive_to_the_dlq(
    sqs: Any, queues: dict[str, str]
) -> None:
    work = sqs.get_queue_attributes(QueueUrl=queues["work"], AttributeNames=["All"])["Attributes"]
    dead = sqs.get_queue_attributes(QueueUrl=queues["dead"], AttributeNames=["All"])["Attributes"]
    assert work["VisibilityTimeout"] == "0"  # the override, not the template's 1800
    assert work["MessageRetentionPeriod"] == "345600"
    assert json.loads(work["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead["QueueArn"],
        "maxReceiveCount": 2,
    }
    assert dead["MessageRetentionPeriod"] == "1209600"
    for name in ("work", "dead"):
        attributes = work if name == "work" else dead
        assert queue_arn(queues[name], REGION) == attributes["QueueArn"]  # the resolver's ARN is moto's


def test_a_missing_dead_letter_queue_is_named(sqs: Any) -> None:
    with pytest.raises(ValueError, match="Orphan"):
        create_queues(sqs, [QueueSpec("Orphan", dead_letter_queue="Nowhere")], visibility=0, region=REGION)


# ---------------------------------------------------------------- the event


def test_event_has_lambdas_sqs_record_shape(sqs: Any, queues: dict[str, str]) -> None:
    sqs.send_message(
        QueueUrl=queues["work"],
        MessageBody='{"msgid": "msg1"}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "sync"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    (message,) = sqs.receive_message(
        QueueUrl=queues["work"], AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    arn = queue_arn(queues["work"], REGION)
    (record,) = sqs_event([message], arn, REGION)["Records"]
    assert record["messageId"] == message["MessageId"]
    assert record["receiptHandle"] == message["ReceiptHandle"]
    assert record["body"] == '{"msgid": "msg1"}'
    assert record["md5OfBody"] == hashlib.md5(b'{"msgid": "msg1"}').hexdigest()
    assert record["md5OfMessageAttributes"] == message["MD5OfMessageAttributes"]
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == ("aws:sqs", arn, REGION)
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    for name in ("SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"):
        assert record["attributes"][name]
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "sync",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["blob"]["binaryValue"] == base64.b64encode(b"\x00\x01").decode()


@pytest.mark.parametrize(
    ("result", "reports", "failed"),
    [
        (None, True, set()),
        ({}, True, set()),
        ({"batchItemFailures": []}, True, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, True, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, False, set()),  # not declared: answer ignored
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, True, {"a", "b"}),  # unknown id: all failed
        ({"batchItemFailures": [{"itemIdentifier": None}]}, True, {"a", "b"}),
    ],
)
def test_failed_message_ids(result: Any, reports: bool, failed: set[str]) -> None:
    assert failed_message_ids(result, ["a", "b"], reports) == failed


# ---------------------------------------------------------------- the poller


def test_success_deletes_the_batch(sqs: Any, queues: dict[str, str]) -> None:
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=queues["work"], MessageBody=body)
    events: list[dict[str, Any]] = []
    poller = _poller(sqs, queues["work"], lambda _fn, event: events.append(event))
    assert poller.poll_once() == 2
    assert sorted(record["body"] for record in events[0]["Records"]) == ["one", "two"]
    assert poller.poll_once() == 0
    assert poller.counts == {"received": 2, "deleted": 2, "failed": 0}


def test_a_partial_batch_failure_redelivers_only_the_failed_message(sqs: Any, queues: dict[str, str]) -> None:
    for body in ("good", "bad"):
        sqs.send_message(QueueUrl=queues["work"], MessageBody=body)
    seen: list[tuple[str, str]] = []

    def handler(_function: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.extend((r["body"], r["attributes"]["ApproximateReceiveCount"]) for r in event["Records"])
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "bad"]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    poller = _poller(sqs, queues["work"], handler)
    assert poller.poll_once() == 2
    assert poller.poll_once() == 1  # only "bad" came back
    assert sorted(seen[:2]) == [("bad", "1"), ("good", "1")]
    assert seen[2:] == [("bad", "2")]
    assert poller.counts == {"received": 3, "deleted": 1, "failed": 2}


def test_a_handler_that_raises_leaves_the_whole_batch(sqs: Any, queues: dict[str, str]) -> None:
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=queues["work"], MessageBody=body)

    def handler(_function: str, _event: Any) -> None:
        raise RuntimeError("WeCom is down")

    poller = _poller(sqs, queues["work"], handler)
    assert poller.poll_once() == 2
    assert poller.counts == {"received": 2, "deleted": 0, "failed": 2}
    assert _bodies_in(sqs, queues["work"]) == ["one", "two"]


def test_a_message_that_always_fails_ends_in_the_dlq_after_max_receive_count(
    sqs: Any, queues: dict[str, str]
) -> None:
    sqs.send_message(QueueUrl=queues["work"], MessageBody="poison")
    counts: list[str] = []

    def handler(_function: str, event: dict[str, Any]) -> None:
        counts.append(event["Records"][0]["attributes"]["ApproximateReceiveCount"])
        raise ValueError("cannot sync")

    poller = _poller(sqs, queues["work"], handler, batch_size=1)
    assert [poller.poll_once() for _ in range(3)] == [1, 1, 0]  # the third receive redrives it (moto)
    assert counts == ["1", "2"]
    assert _bodies_in(sqs, queues["dead"]) == ["poison"]
    assert _bodies_in(sqs, queues["work"]) == []


def test_the_poller_thread_stops(sqs: Any, queues: dict[str, str]) -> None:
    poller = _poller(sqs, queues["work"], lambda _fn, _event: None)
    poller.wait_seconds = 1
    poller.start()
    assert poller.running and poller.describe()["running"]
    poller.stop(timeout=5)
    assert not poller.running
    assert poller._thread is not None and not poller._thread.is_alive()
