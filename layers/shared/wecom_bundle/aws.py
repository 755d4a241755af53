"""The one way this package makes an AWS client: botocore's low-level client, created on first use.

Why botocore and not boto3: importing boto3 costs tens of milliseconds on a cold start and the package only
needs the low-level clients. The region comes from Lambda's environment; an endpoint variable (set by the
local stack: DynamoDB, S3, SQS) points a client at a local server instead of AWS.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_session: Any = None
_session_lock = threading.Lock()
_create_lock = threading.Lock()


def session() -> Any:
    """The package's one botocore session: its loader caches the endpoint and service models, so the second
    client (DynamoDB after Secrets Manager on a cold start) costs a fraction of the first."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                import botocore.session

                _session = botocore.session.get_session()
    return _session


def region() -> str:
    """The function's region, as Lambda's environment gives it."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def client(service: str, endpoint_variable: str, **options: Any) -> Any:
    """A botocore client for ``service``; ``options`` are botocore ``Config`` settings."""
    import botocore.config

    shared = session()
    with _create_lock:  # a botocore session is not thread-safe; the clients it makes are
        return shared.create_client(
            service,
            region_name=region(),
            endpoint_url=os.environ.get(endpoint_variable) or None,
            config=botocore.config.Config(**options),
        )


def renew_session() -> None:
    """A new session without credentials or clients that keeps the old one's loaded service models.

    For SnapStart: models loaded before the snapshot are worth keeping (tens of ms per client), credentials
    are not (a restored environment gets its own, from the container credentials endpoint)."""
    global _session
    with _session_lock:
        old, _session = _session, None
    if old is not None:
        session().register_component("data_loader", old.get_component("data_loader"))


def reset_client() -> None:
    """Forget the session (tests and the local stack switch credentials and endpoints between cases)."""
    global _session
    _session = None
