"""Every transaction (``dynamo.table.transact``: channel counters, campaign intents, ingested tasks, group
template records): a refused condition means "done already", a conflict is retried briefly, anything else is
raised (the real DynamoDB answers, stubbed on the layer's own client)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from wecom_bundle.dynamo import table
from wecom_bundle.dynamo.client import client

pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture
def stub() -> Iterator[Stubber]:
    with Stubber(client()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _cancelled(stub: Stubber, *codes: str) -> None:
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        http_status_code=400,
        modeled_fields={"CancellationReasons": [{"Code": code} for code in codes]},
    )


WRITES: list[dict[str, Any]] = [
    {"ConditionCheck": {"TableName": "MainTable", "Key": {}, "ConditionExpression": "x"}}
]


def test_a_refused_condition_answers_false(stub: Stubber) -> None:
    _cancelled(stub, "ConditionalCheckFailed", "None")
    assert table.transact(WRITES) is False


def test_conflicts_are_retried_until_the_transaction_goes_through(stub: Stubber) -> None:
    pauses: list[float] = []
    _cancelled(stub, "None", "TransactionConflict")
    _cancelled(stub, "TransactionConflict", "None")
    stub.add_response("transact_write_items", {})
    assert table.transact(WRITES, sleep=pauses.append) is True
    assert len(pauses) == 2 and all(0 < p < 1 for p in pauses)


def test_endless_conflicts_and_other_faults_are_raised(stub: Stubber) -> None:
    for _ in range(table.TRANSACT_ATTEMPTS):
        _cancelled(stub, "TransactionConflict", "None")
    with pytest.raises(Exception, match="TransactionCanceled"):
        table.transact(WRITES, sleep=lambda _s: None)
    stub.add_client_error(
        "transact_write_items", service_error_code="ValidationException", http_status_code=400
    )
    with pytest.raises(Exception, match="ValidationException"):
        table.transact(WRITES)
