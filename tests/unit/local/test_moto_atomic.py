"""moto made atomic per DynamoDB request (local/moto_atomic.py): racing conditional writes have one winner."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
import requests

from local.dynamodb import start_aws_services
from tests.support import race

KEYS = 150
THREADS = 6


def _race_conditional_puts(client: Any, table: str) -> dict[str, int]:
    """Every thread tries to create every key with attribute_not_exists; answers wins per key."""
    wins: dict[str, int] = {}
    lock = threading.Lock()

    def work(i: int) -> None:
        for n in range(KEYS):
            key = f"k{n}"
            try:
                client.put_item(
                    TableName=table,
                    Item={"pk": {"S": key}, "sk": {"S": "x"}, "owner": {"N": str(i)}},
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except client.exceptions.ConditionalCheckFailedException:
                continue
            with lock:
                wins[key] = wins.get(key, 0) + 1

    race(THREADS, work)
    return wins


def test_in_process_conditional_writes_have_one_winner(moto_table: Any) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    wins = _race_conditional_puts(client, moto_table.name)
    assert wins == {f"k{n}": 1 for n in range(KEYS)}


@pytest.mark.usefixtures("aws_env")
def test_server_conditional_writes_have_one_winner() -> None:
    endpoint, stop = start_aws_services()
    try:
        requests.post(f"{endpoint}/moto-api/reset", timeout=5).raise_for_status()
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        client.create_table(
            TableName="Race",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        wins = _race_conditional_puts(client, "Race")
    finally:
        stop()
    assert wins == {f"k{n}": 1 for n in range(KEYS)}
