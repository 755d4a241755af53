"""Local SQS in the whole stack: queues from the template, functions that send with plain boto3, the poller.

A throwaway template: `Producer` sends its event to `Work` through `!Ref Work` and AWS_ENDPOINT_URL_SQS (as
deployed code does); `Worker` consumes `Work` (ReportBatchItemFailures) and logs every delivery; `Work`
redrives to `Dead` after 2 receives. LOCAL_QUEUE_VISIBILITY_SECONDS=1 makes retries take a second.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.cloudformation import queue_arn
from local.dynamodb import local_client
from local.stack import StackHandle, start_stack
from local.template import REPO_ROOT

pytestmark = pytest.mark.e2e

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1800
      RedrivePolicy: { deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 2 }
  Dead:
    Type: AWS::SQS::Queue
  Producer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/producer/
      Handler: app.lambda_handler
      Environment: { Variables: { WORK_QUEUE_URL: !Ref Work } }
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/worker/
      Handler: app.lambda_handler
      Environment: { Variables: { WORK_QUEUE_ARN: !GetAtt Work.Arn } }
      Events:
        Queue:
          Type: SQS
          Properties: { Queue: !GetAtt Work.Arn, BatchSize: 1, FunctionResponseTypes: [ReportBatchItemFailures] }
"""

PRODUCER = """
import json
import os

import boto3


def lambda_handler(event, context):
    answer = boto3.client("sqs").send_message(QueueUrl=os.environ["WORK_QUEUE_URL"], MessageBody=json.dumps(event))
    return {"messageId": answer["MessageId"]}
"""

WORKER = """
import json
import os


def lambda_handler(event, context):
    (record,) = event["Records"]
    body = json.loads(record["body"])
    count = int(record["attributes"]["ApproximateReceiveCount"])
    with open(os.environ["DELIVERY_LOG"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"id": body["id"], "count": count, "arn": record["eventSourceARN"]}) + "\\n")
    if body["mode"] == "raise":
        raise RuntimeError("always fails")
    if body["mode"] == "fail-once" and count == 1:
        return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    return {"batchItemFailures": []}
"""


def start_throwaway(tmp_path: Path, environ: dict[str, str] | None = None) -> tuple[StackHandle, Path]:
    (tmp_path / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    for name, source in (("producer", PRODUCER), ("worker", WORKER)):
        (tmp_path / "fn" / name).mkdir(parents=True)
        (tmp_path / "fn" / name / "app.py").write_text(textwrap.dedent(source), encoding="utf-8")
    log = tmp_path / "deliveries.jsonl"
    stack = start_stack(
        template=tmp_path / "template.yaml",
        wecom_api_base="http://127.0.0.1:9",
        environ={"LOCAL_QUEUE_VISIBILITY_SECONDS": "1", "DELIVERY_LOG": str(log), **(environ or {})},
    )
    return stack, log


@pytest.fixture(scope="module")
def sqs_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StackHandle, Path]]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("DYNAMODB_ENDPOINT", "WECOM_API_BASE", "WECOM_SECRET_ID", "AWS_ENDPOINT_URL_SQS"):
            patch.delenv(name, raising=False)
        stack, log = start_throwaway(tmp_path_factory.mktemp("sqs"))
        try:
            yield stack, log
        finally:
            stack.stop()
    assert "AWS_ENDPOINT_URL_SQS" not in os.environ  # the environment was put back


def deliveries(log: Path, message_id: str) -> list[dict[str, Any]]:
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [entry for entry in map(json.loads, lines) if entry["id"] == message_id]


def wait_for(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout:.0f}s")


def queue_depth(stack: StackHandle, queue: str) -> int:
    attributes = local_client("sqs", stack.aws_services_endpoint).get_queue_attributes(
        QueueUrl=stack.queue_urls[queue],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def dead_letters(stack: StackHandle) -> list[dict[str, Any]]:
    answer = local_client("sqs", stack.aws_services_endpoint).receive_message(
        QueueUrl=stack.queue_urls["Dead"], MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return [json.loads(message["Body"]) for message in answer.get("Messages", [])]


def test_a_message_a_function_sends_is_delivered_once_and_deleted(
    sqs_stack: tuple[StackHandle, Path],
) -> None:
    stack, log = sqs_stack
    stack.invoke("Producer", {"id": "ok-1", "mode": "ok"})
    (delivery,) = wait_for(lambda: deliveries(log, "ok-1"))
    assert delivery == {"id": "ok-1", "count": 1, "arn": queue_arn(stack.queue_urls["Work"])}
    wait_for(lambda: queue_depth(stack, "Work") == 0)
    assert os.environ["AWS_ENDPOINT_URL_SQS"] == stack.aws_services_endpoint == stack.dynamodb_endpoint


def test_a_reported_failure_is_redelivered_after_the_visibility_timeout(
    sqs_stack: tuple[StackHandle, Path],
) -> None:
    stack, log = sqs_stack
    stack.invoke("Producer", {"id": "retry-1", "mode": "fail-once"})
    wait_for(lambda: len(deliveries(log, "retry-1")) == 2)
    assert [entry["count"] for entry in deliveries(log, "retry-1")] == [1, 2]
    wait_for(lambda: queue_depth(stack, "Work") == 0)


def test_a_message_that_always_fails_ends_in_the_dead_letter_queue(
    sqs_stack: tuple[StackHandle, Path],
) -> None:
    stack, log = sqs_stack
    stack.invoke("Producer", {"id": "poison-1", "mode": "raise"})
    parked = wait_for(lambda: dead_letters(stack))
    assert parked == [{"id": "poison-1", "mode": "raise"}]
    assert [entry["count"] for entry in deliveries(log, "poison-1")] == [1, 2]  # maxReceiveCount: 2


def test_health_lists_queues_and_pollers_and_direct_invoke_bypasses_the_queue(
    sqs_stack: tuple[StackHandle, Path],
) -> None:
    stack, log = sqs_stack
    with urllib.request.urlopen(f"{stack.api_url}/__local/health", timeout=5) as response:
        sqs = json.loads(response.read())["sqs"]
    assert sqs["endpoint"] == stack.aws_services_endpoint
    assert sqs["queues"] == stack.queue_urls and set(sqs["queues"]) == {"Work", "Dead"}
    (poller,) = sqs["pollers"]
    assert (poller["function"], poller["queue"], poller["batch_size"], poller["running"]) == (
        "Worker",
        "Work",
        1,
        True,
    )
    event = json.loads((REPO_ROOT / "events" / "result-sync-worker-sqs.json").read_text(encoding="utf-8"))
    event["Records"][0]["body"] = json.dumps({"id": "direct-1", "mode": "ok"})
    request = urllib.request.Request(
        f"{stack.api_url}/__local/invoke/Worker", data=json.dumps(event).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read()) == {"batchItemFailures": []}
    assert deliveries(log, "direct-1") == [
        {"id": "direct-1", "count": 1, "arn": event["Records"][0]["eventSourceARN"]}
    ]
