"""Development defaults for the local stack. These are not secrets: they exist only on a laptop."""

from __future__ import annotations

import os

DEV_DEFAULTS: dict[str, str] = {
    "WECOM_CORP_ID": "wwdevcorp00000001",
    "WECOM_CORP_SECRET": "dev-corp-secret-not-for-production",
    "WECOM_CALLBACK_TOKEN": "devtoken",
    # 43 characters of base64 that decode (with the trailing "=") to a 32-byte AES key.
    "WECOM_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "API_PORT": "3000",
    "DYNAMODB": "moto",
    "WELCOME_TIMEZONE": "Asia/Shanghai",
    "MASS_SEND_CUSTOMER_LIMIT": "month",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "POWERTOOLS_SERVICE_NAME": "wecom-bundle",
    "POWERTOOLS_METRICS_NAMESPACE": "WeComBundle",
    "POWERTOOLS_METRICS_DISABLED": "true",
    # A local DynamoDB (moto's server in this process, or DynamoDB Local on Java) shares two cores with the
    # gateway, the handlers and the simulator: under load one query can take seconds, and the 5 s AWS default
    # then times out and retries the same slow query while the first still runs (one campaign of 25 000
    # customers answered 500 that way in a busy test run).
    "DYNAMODB_READ_TIMEOUT_SECONDS": "30",
}


def apply_dev_defaults(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Fill unset variables with the dev defaults (explicit settings always win); return what was used."""
    env = os.environ if environ is None else environ
    for name, value in DEV_DEFAULTS.items():
        env.setdefault(name, value)
    return {name: env[name] for name in DEV_DEFAULTS}
