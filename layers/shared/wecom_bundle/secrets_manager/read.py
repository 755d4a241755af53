"""The secret's string from Secrets Manager, by the cheapest way the environment allows.

Why apart from ``config``: three transports (the Parameters and Secrets Extension on localhost, one GetSecretValue
signed by hand, botocore) are a concern of their own; ``config`` only parses what they return. Loaded on the
first read of a deployed secret, never at import. Errors name ``WECOM_SECRET_ID``, never the secret.
"""

from __future__ import annotations

import json
import os

from wecom_bundle.config import SECRET_TIMEOUT_S, ConfigError


def secret_string(secret_id: str) -> str:
    """The SecretString of ``secret_id``: through the extension when Lambda runs one, else read directly."""
    port = os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
    return _secret_via_extension(secret_id, port) if port else _secret_direct(secret_id)


def _secret_via_extension(secret_id: str, port: str) -> str:
    """GET the secret from the Parameters and Secrets Lambda Extension on localhost (stdlib only)."""
    import http.client
    from urllib.parse import quote

    if not port.isdigit():
        raise ConfigError("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT must be a port number")
    connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=SECRET_TIMEOUT_S)
    try:
        connection.request(
            "GET",
            f"/secretsmanager/get?secretId={quote(secret_id, safe='')}",
            headers={"X-Aws-Parameters-Secrets-Token": os.environ.get("AWS_SESSION_TOKEN", "")},
        )
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise ConfigError("cannot read the secret named by WECOM_SECRET_ID (extension unreachable)") from exc
    finally:
        connection.close()
    if response.status != 200:
        raise ConfigError(
            f"cannot read the secret named by WECOM_SECRET_ID (extension HTTP {response.status})"
        )
    try:
        return str(json.loads(body)["SecretString"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError("the extension's answer for WECOM_SECRET_ID has no SecretString") from exc


def _secret_direct(secret_id: str) -> str:
    """GetSecretValue signed by hand when Lambda's environment names the endpoint and credentials, else botocore."""
    from wecom_bundle import aws
    from wecom_bundle.secrets_manager import endpoint

    target = endpoint.resolve(os.environ, aws.region())
    if target is None:
        return _secret_via_botocore(secret_id)
    from wecom_bundle.secrets_manager.get_secret import SecretReadError, get_secret_string

    try:
        return get_secret_string(target, secret_id, SECRET_TIMEOUT_S)
    except SecretReadError as exc:
        raise ConfigError(f"cannot read the secret named by WECOM_SECRET_ID: {exc.reason}") from None


def _secret_via_botocore(secret_id: str) -> str:
    """GetSecretValue with the package's shared botocore session (endpoint: AWS_ENDPOINT_URL_SECRETS_MANAGER)."""
    from wecom_bundle import aws

    try:
        client = aws.client(
            "secretsmanager",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            connect_timeout=SECRET_TIMEOUT_S,
            read_timeout=SECRET_TIMEOUT_S,
            retries={"mode": "standard", "max_attempts": 2},
        )
        return str(client.get_secret_value(SecretId=secret_id)["SecretString"])
    except Exception as exc:  # botocore's errors are generated per client; the message is not ours to echo
        raise ConfigError("cannot read the secret named by WECOM_SECRET_ID") from exc
