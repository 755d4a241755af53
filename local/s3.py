"""The local S3 for the media bucket: moto's server, shared with the embedded DynamoDB when that is moto.

Why moto: it needs nothing installed and answers the same botocore calls the functions make (HeadObject,
GetObject), so bucket-backed attachments work on a laptop exactly as deployed.
"""

from __future__ import annotations

from typing import Any

from local.dynamodb import DynamoDBHandle, start_moto


def s3_client(endpoint: str, region: str) -> Any:
    import boto3
    import botocore.config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )


def start_s3(dynamodb: DynamoDBHandle | None, endpoint: str | None) -> DynamoDBHandle:
    """An S3 endpoint: the given one, the moto server DynamoDB already runs on, or a new moto server."""
    if endpoint:
        return DynamoDBHandle("external", endpoint.rstrip("/"))
    if dynamodb is not None and dynamodb.mode == "moto":
        return DynamoDBHandle("moto", dynamodb.endpoint)  # one moto server serves every service
    return start_moto()


def create_bucket(endpoint: str, region: str, bucket: str) -> None:
    """Create the bucket (versioned, like the deployed one) unless it exists."""
    client = s3_client(endpoint, region)
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        client.create_bucket(Bucket=bucket, **extra)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
