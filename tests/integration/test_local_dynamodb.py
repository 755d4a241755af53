"""AWS DynamoDB Local really starts from the npm package, on loopback, with the template's tables.

Why against the real engine: moto forgives schema mistakes (undeclared key attributes, bad projections) that
DynamoDB rejects; the template's table must be creatable by AWS's own implementation.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest

from local.dynamodb import (
    DynamoDBHandle,
    create_tables,
    dynamodb_client,
    start_dynamodb_local,
    wait_until_answers,
)
from local.stack import start_stack
from local.template import load_template

pytestmark = pytest.mark.integration


@pytest.fixture
def client(dynamodb_local: DynamoDBHandle):
    return dynamodb_client(dynamodb_local.endpoint, region="us-east-1")


def test_it_is_dynamodb_local_on_loopback(dynamodb_local: DynamoDBHandle) -> None:
    assert dynamodb_local.endpoint.startswith("http://127.0.0.1:")
    request = urllib.request.Request(dynamodb_local.endpoint, data=b"{}", method="POST")
    request.add_header("X-Amz-Target", "DynamoDB_20120810.ListTables")
    request.add_header("Content-Type", "application/x-amz-json-1.0")
    request.add_header(
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # DynamoDB Local does not check signatures
        assert "MainTable" in json.loads(response.read())["TableNames"]


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it only picks a source address
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_it_does_not_listen_on_other_interfaces(dynamodb_local: DynamoDBHandle) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to probe")
    port = int(dynamodb_local.endpoint.rsplit(":", 1)[1])
    with socket.socket() as sock, pytest.raises(OSError):
        sock.settimeout(2)
        sock.connect((address, port))


def test_template_tables_exist_with_indexes_and_ttl(client) -> None:
    template = load_template()
    for spec in template.tables.values():
        table = client.describe_table(TableName=spec.name)["Table"]
        expected = spec.create_kwargs
        assert table["TableStatus"] == "ACTIVE"
        assert table["KeySchema"] == expected["KeySchema"]
        assert table["BillingModeSummary"]["BillingMode"] == expected["BillingMode"]
        assert sorted(table["AttributeDefinitions"], key=str) == sorted(
            expected["AttributeDefinitions"], key=str
        )
        indexes = {index["IndexName"]: index for index in table.get("GlobalSecondaryIndexes", [])}
        for wanted in expected.get("GlobalSecondaryIndexes", []):
            index = indexes[wanted["IndexName"]]
            assert index["KeySchema"] == wanted["KeySchema"]
            assert index["Projection"] == wanted["Projection"]
            assert index["IndexStatus"] == "ACTIVE"
        if spec.ttl_attribute:
            ttl = client.describe_time_to_live(TableName=spec.name)["TimeToLiveDescription"]
            assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": spec.ttl_attribute}


def test_creating_again_is_a_no_op(client) -> None:
    assert create_tables(client, load_template().tables.values()) == []


def test_a_gsi_answers_queries(client) -> None:
    item = {
        "pk": {"S": "IT#1"},
        "sk": {"S": "A"},
        "gsi1pk": {"S": "IT-GSI"},
        "gsi1sk": {"S": "001"},
        "expires_at": {"N": "4102444800"},
    }
    client.put_item(TableName="MainTable", Item=item)
    found = client.query(
        TableName="MainTable",
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": "IT-GSI"}},
    )["Items"]
    assert [row["pk"]["S"] for row in found] == ["IT#1"]


def test_a_second_instance_starts_and_really_stops() -> None:
    process = start_dynamodb_local()
    endpoint = process.endpoint
    wait_until_answers(endpoint, timeout=5)
    process.stop()
    process.stop()  # idempotent
    with pytest.raises(TimeoutError):
        wait_until_answers(endpoint, timeout=1)


def test_the_stack_runs_on_dynamodb_local(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DYNAMODB_ENDPOINT", "WECOM_API_BASE", "WECOM_SECRET_ID", "TABLE_NAME"):
        monkeypatch.delenv(name, raising=False)
    with start_stack(api_port=0, dynamodb="local") as stack:
        assert stack.dynamodb_mode == "local"
        with urllib.request.urlopen(f"{stack.api_url}/__local/health", timeout=5) as response:
            health = json.loads(response.read())
        assert health["dynamodb"] == {"mode": "local", "endpoint": stack.dynamodb_endpoint}
        with urllib.request.urlopen(f"{stack.api_url}/admin/welcome-rules", timeout=30) as response:
            assert response.status == 200
            assert "items" in json.loads(response.read())
        endpoint = stack.dynamodb_endpoint
    with pytest.raises(TimeoutError):
        wait_until_answers(endpoint, timeout=1)


def _put_rule(api_url: str, rule_id: str) -> None:
    body = json.dumps({"text": {"content": "kept"}, "priority": 1}).encode()
    request = urllib.request.Request(
        f"{api_url}/admin/welcome-rules/{rule_id}",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 201)


def _rule_ids(api_url: str) -> list[str]:
    with urllib.request.urlopen(f"{api_url}/admin/welcome-rules", timeout=30) as response:
        return [rule["rule_id"] for rule in json.loads(response.read())["items"]]


def test_a_data_folder_keeps_the_data_across_two_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`make run DYNAMODB=local`: what one run wrote, the next run reads (the tables are not created again)."""
    for name in ("DYNAMODB_ENDPOINT", "WECOM_API_BASE", "WECOM_SECRET_ID", "TABLE_NAME"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "dynamodb"
    with start_stack(api_port=0, dynamodb="local", dynamodb_data_dir=data) as first:
        assert first.dynamodb_data_dir == data
        _put_rule(first.api_url, "kept-rule")
    assert any(data.iterdir()), "DynamoDB Local wrote its files into the folder"
    with start_stack(api_port=0, dynamodb="local", dynamodb_data_dir=data) as second:
        assert _rule_ids(second.api_url) == ["kept-rule"]
