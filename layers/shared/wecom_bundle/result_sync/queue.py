"""The result-sync work queue (SQS): one message per msgid sync pass.

Why SQS between the scheduled function and the workers: the scheduled run only finds what is due, the
workers do the WeCom paging; the worker's reserved concurrency caps parallel WeCom calls (45033), failed
passes are retried by SQS, and a message that keeps failing lands in the dead-letter queue with an alarm.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from wecom_bundle import aws

_client: Any = None
_BATCH = 10  # SendMessageBatch maximum


@dataclass(frozen=True)
class SyncMessage:
    msgid: str
    token: str  # names the sync pass the scheduled run claimed; a stale message is dropped

    def encode(self) -> str:
        return json.dumps({"msgid": self.msgid, "token": self.token}, separators=(",", ":"))

    @classmethod
    def decode(cls, body: str) -> SyncMessage:
        """Parse a queue message; anything else is a poison message (ValueError → retries → DLQ)."""
        try:
            doc = json.loads(body)
        except (TypeError, ValueError) as exc:
            raise ValueError("sync message is not JSON") from exc
        if not isinstance(doc, dict):
            raise ValueError("sync message is not an object")
        msgid, token = doc.get("msgid"), doc.get("token")
        if not isinstance(msgid, str) or not msgid or not isinstance(token, str) or not token:
            raise ValueError("sync message needs msgid and token")
        return cls(msgid, token)


def _sqs() -> Any:
    global _client
    if _client is None:
        _client = aws.client("sqs", "AWS_ENDPOINT_URL_SQS", retries={"mode": "standard", "max_attempts": 5})
    return _client


def reset_client() -> None:
    global _client
    _client = None


def queue_url() -> str:
    url = os.environ.get("RESULT_SYNC_QUEUE_URL")
    if not url:
        from wecom_bundle.config import ConfigError

        raise ConfigError("RESULT_SYNC_QUEUE_URL is not set (the result-sync queue)")
    return url


def send(messages: list[SyncMessage], delay_s: int = 0) -> list[SyncMessage]:
    """Queue messages in batches of 10; answers the ones SQS refused (their claims lapse and the next
    scheduled run queues them again, so nothing is lost)."""
    refused: list[SyncMessage] = []
    for start in range(0, len(messages), _BATCH):
        batch = messages[start : start + _BATCH]
        entries = [
            {"Id": str(i), "MessageBody": m.encode(), "DelaySeconds": delay_s} for i, m in enumerate(batch)
        ]
        answer = _sqs().send_message_batch(QueueUrl=queue_url(), Entries=entries)
        refused += [batch[int(f["Id"])] for f in answer.get("Failed", [])]
    return refused
