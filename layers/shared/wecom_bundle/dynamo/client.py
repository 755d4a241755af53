"""The per-container DynamoDB client.

botocore's low-level client (no boto3 import on the hot path), created lazily once per container with short
timeouts and botocore's standard retry mode (throttling and 5xx are retried there).
"""

from __future__ import annotations

from typing import Any

from wecom_bundle import aws, config

_client: Any = None


def client() -> Any:
    """The per-container DynamoDB client (endpoint from ``DYNAMODB_ENDPOINT`` when set, e.g. locally)."""
    global _client
    if _client is None:
        _client = aws.client(
            "dynamodb",
            "DYNAMODB_ENDPOINT",
            connect_timeout=2,
            # 5 s is far above DynamoDB's latency in AWS; the local stack raises it (see local/settings.py).
            read_timeout=config.env_float("DYNAMODB_READ_TIMEOUT_SECONDS", 5.0),
            retries={"mode": "standard", "max_attempts": 4},
            max_pool_connections=32,
            tcp_keepalive=True,
        )
    return _client


def reset_client() -> None:
    """Forget the client (tests switch endpoints and mocks between cases; SnapStart drops it before a
    snapshot: ``local.lambda_runtime.reset_layer_state`` and ``snapstart.forget_environment`` call this)."""
    global _client
    _client = None


def is_condition_failure(exc: Exception) -> bool:
    """True for a refused conditional write (the expected way to lose a race), False for real faults."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")
