"""The one way this package makes an AWS client: botocore's low-level client, created on first use.

Why botocore and not boto3: importing boto3 costs tens of milliseconds on a cold start and the package only
needs the low-level clients. The region comes from Lambda's environment; an endpoint variable (set by the
local stack: DynamoDB, S3, SQS) points a client at a local server instead of AWS.
"""

from __future__ import annotations

import os
from typing import Any


def client(service: str, endpoint_variable: str, **options: Any) -> Any:
    """A botocore client for ``service``; ``options`` are botocore ``Config`` settings."""
    import botocore.config
    import botocore.session

    return botocore.session.get_session().create_client(
        service,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        endpoint_url=os.environ.get(endpoint_variable) or None,
        config=botocore.config.Config(**options),
    )
