"""The local media bucket: moto's S3 shares the moto DynamoDB server, or gets its own next to DynamoDB Local."""

from __future__ import annotations

import pytest

from local.dynamodb import DynamoDBHandle
from local.s3 import create_bucket, s3_client, start_s3
from local.template import load_template


def test_bucket_ref_resolves_to_a_local_name() -> None:
    env = load_template().functions["CallbackFunction"].environment
    assert env["MEDIA_BUCKET"] == "local-mediabucket"


def test_moto_dynamodb_server_is_reused() -> None:
    dynamodb = DynamoDBHandle("moto", "http://127.0.0.1:1")
    assert start_s3(dynamodb, None).endpoint == dynamodb.endpoint
    assert start_s3(dynamodb, "http://s3.local:9/").endpoint == "http://s3.local:9"


@pytest.mark.usefixtures("aws_env")
def test_own_moto_server_next_to_dynamodb_local() -> None:
    s3 = start_s3(DynamoDBHandle("local", "http://127.0.0.1:1"), None)
    try:
        assert s3.mode == "moto" and s3.endpoint != "http://127.0.0.1:1"
        create_bucket(s3.endpoint, "us-east-1", "local-mediabucket")
        create_bucket(s3.endpoint, "us-east-1", "local-mediabucket")  # idempotent
        client = s3_client(s3.endpoint, "us-east-1")
        assert client.get_bucket_versioning(Bucket="local-mediabucket")["Status"] == "Enabled"
    finally:
        s3.stop()
