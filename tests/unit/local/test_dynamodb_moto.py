"""local.dynamodb without Java: the embedded moto server, table creation from the template, mode selection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from local.dynamodb import (
    DynamoDBHandle,
    create_tables,
    dynamodb_client,
    free_port,
    start_dynamodb,
    start_moto,
    wait_until_answers,
)
from local.template import load_template


@pytest.fixture
def moto_server(aws_env: dict[str, str]) -> Iterator[DynamoDBHandle]:  # noqa: ARG001
    handle = start_moto()
    # moto keeps one set of backends per process, shared by every server and mock_aws in it: a table left by
    # an earlier test on this worker would already exist here. Start from nothing, as a new stack does.
    requests.post(f"{handle.endpoint}/moto-api/reset", timeout=5).raise_for_status()
    yield handle
    handle.stop()


def test_moto_listens_on_loopback(moto_server: DynamoDBHandle) -> None:
    assert moto_server.mode == "moto"
    assert moto_server.endpoint.startswith("http://127.0.0.1:")
    wait_until_answers(moto_server.endpoint, timeout=5)


def test_tables_come_from_the_template_with_indexes_and_ttl(moto_server: DynamoDBHandle) -> None:
    template = load_template()
    client = dynamodb_client(moto_server.endpoint)
    assert create_tables(client, template.tables.values()) == ["MainTable"]
    table = client.describe_table(TableName="MainTable")["Table"]
    expected = template.tables["MainTable"].create_kwargs
    assert table["KeySchema"] == expected["KeySchema"]
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {
        i["IndexName"] for i in expected["GlobalSecondaryIndexes"]
    }
    ttl = client.describe_time_to_live(TableName="MainTable")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    # idempotent: a second run creates nothing and does not fail on the enabled TTL
    assert create_tables(client, template.tables.values()) == []


@pytest.mark.usefixtures("aws_env")
def test_start_dynamodb_modes() -> None:
    template = load_template()
    started = start_dynamodb("moto", template.tables.values())
    try:
        assert started.tables == ["MainTable"]
        borrowed = start_dynamodb("local", template.tables.values(), endpoint=started.endpoint + "/")
        assert (borrowed.mode, borrowed.endpoint, borrowed.tables) == (
            "external",
            started.endpoint,
            ["MainTable"],
        )
        borrowed.stop()  # stops nothing: the endpoint still answers
        wait_until_answers(started.endpoint, timeout=5)
    finally:
        started.stop()
        started.stop()  # idempotent


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="DYNAMODB must be one of"):
        start_dynamodb("dynalite", [])


def test_wait_gives_up_on_a_closed_port() -> None:
    with pytest.raises(TimeoutError):
        wait_until_answers(f"http://127.0.0.1:{free_port()}", timeout=0.3)
