"""Local SQS when DynamoDB is not moto: the stack starts its own moto server for SQS and stops it again.

Uses the session's DynamoDB Local (as DYNAMODB_ENDPOINT) so no second JVM starts; `DYNAMODB=local` takes the
same path (any DynamoDB that is not the embedded moto gets a separate moto for the other AWS services).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from local.dynamodb import DynamoDBHandle, wait_until_answers
from tests.e2e.test_local_sqs import dead_letters, deliveries, start_throwaway, wait_for

pytestmark = pytest.mark.integration


def test_with_dynamodb_local_sqs_gets_its_own_moto_which_stops_with_the_stack(
    dynamodb_local: DynamoDBHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("WECOM_API_BASE", "WECOM_SECRET_ID", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)
    threads_before = set(threading.enumerate())
    stack, log = start_throwaway(tmp_path, {"DYNAMODB_ENDPOINT": dynamodb_local.endpoint})
    with stack:
        assert stack.dynamodb_endpoint == dynamodb_local.endpoint
        assert stack.aws_services_endpoint not in ("", dynamodb_local.endpoint)
        stack.invoke("Producer", {"id": "ddb-local-1", "mode": "raise"})
        assert wait_for(lambda: dead_letters(stack)) == [{"id": "ddb-local-1", "mode": "raise"}]
        assert [entry["count"] for entry in deliveries(log, "ddb-local-1")] == [1, 2]
        endpoint = stack.aws_services_endpoint
    with pytest.raises(TimeoutError):
        wait_until_answers(endpoint, timeout=1)
    leaked = [t for t in set(threading.enumerate()) - threads_before if t.name.startswith("sqs-")]
    assert leaked == []
