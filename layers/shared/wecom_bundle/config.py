"""Runtime configuration: environment variables locally, one Secrets Manager secret when deployed.

Why one module: every function needs the same four WeCom settings, and a missing or malformed one must fail
fast with its *name* (never its value) instead of surfacing later as a confusing signature or token error.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"

# Environment variable -> key inside the deployed Secrets Manager secret (JSON).
SECRET_KEYS = {
    "WECOM_CORP_ID": "corp_id",
    "WECOM_CORP_SECRET": "corp_secret",
    "WECOM_CALLBACK_TOKEN": "callback_token",
    "WECOM_ENCODING_AES_KEY": "encoding_aes_key",
}


class ConfigError(RuntimeError):
    """A setting is missing or malformed. The message names the setting, never its value."""


@dataclass(frozen=True, repr=False)
class WeComSettings:
    """The four WeCom secrets plus the API origin. ``repr`` is hidden so a stray log line leaks nothing."""

    corp_id: str
    corp_secret: str
    callback_token: str
    encoding_aes_key: str
    api_base: str

    def __repr__(self) -> str:
        return f"WeComSettings(corp_id={self.corp_id!r}, api_base={self.api_base!r}, secrets=<hidden>)"


def _validate(values: dict[str, str | None], source: str) -> dict[str, str]:
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ConfigError(f"missing setting(s) {', '.join(missing)} (from {source})")
    aes_key = str(values["WECOM_ENCODING_AES_KEY"])
    if len(aes_key) != 43:
        raise ConfigError("WECOM_ENCODING_AES_KEY must be exactly 43 characters")
    try:
        if len(base64.b64decode(aes_key + "=", validate=True)) != 32:
            raise ConfigError("WECOM_ENCODING_AES_KEY must decode to 32 bytes")
    except (binascii.Error, ValueError) as exc:
        raise ConfigError("WECOM_ENCODING_AES_KEY is not valid base64") from exc
    token = str(values["WECOM_CALLBACK_TOKEN"])
    if not token.isalnum() or len(token) > 32:
        raise ConfigError("WECOM_CALLBACK_TOKEN must be 1-32 letters or digits")
    return {name: str(value) for name, value in values.items()}


def _api_base() -> str:
    base = os.environ.get("WECOM_API_BASE") or DEFAULT_API_BASE
    if not base.startswith(("http://", "https://")):
        raise ConfigError("WECOM_API_BASE must start with http:// or https://")
    return base.rstrip("/")


def _from_secret(secret_id: str) -> dict[str, str | None]:
    # Imported here: Powertools Parameters pulls in boto3, which the local path does not need.
    from aws_lambda_powertools.utilities import parameters

    max_age = int(os.environ.get("POWERTOOLS_PARAMETERS_MAX_AGE", "300"))
    try:
        raw = parameters.get_secret(secret_id, max_age=max_age)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigError("cannot read the secret named by WECOM_SECRET_ID") from exc
    try:
        doc = json.loads(raw) if isinstance(raw, str | bytes) else raw
    except ValueError as exc:
        raise ConfigError("the secret named by WECOM_SECRET_ID is not JSON") from exc
    if not isinstance(doc, dict):
        raise ConfigError("the secret named by WECOM_SECRET_ID must be a JSON object")
    return {env: doc.get(key) for env, key in SECRET_KEYS.items()}


def load_settings() -> WeComSettings:
    """Read the settings now (no caching): env when all four are set, else the secret in WECOM_SECRET_ID."""
    from_env = {name: os.environ.get(name) for name in SECRET_KEYS}
    secret_id = os.environ.get("WECOM_SECRET_ID")
    if all(from_env.values()) or not secret_id:
        values = _validate(from_env, "environment")
    else:
        values = _validate(_from_secret(secret_id), "secret WECOM_SECRET_ID")
    return WeComSettings(
        corp_id=values["WECOM_CORP_ID"],
        corp_secret=values["WECOM_CORP_SECRET"],
        callback_token=values["WECOM_CALLBACK_TOKEN"],
        encoding_aes_key=values["WECOM_ENCODING_AES_KEY"],
        api_base=_api_base(),
    )


@lru_cache(maxsize=1)
def settings() -> WeComSettings:
    """Settings for the life of the container. Powertools already caches the secret for its max age."""
    return load_settings()


def env_int(name: str, default: int) -> int:
    """An integer tunable from the environment; a malformed value fails naming the variable."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer") from exc


def env_float(name: str, default: float) -> float:
    """A float tunable from the environment; a malformed value fails naming the variable."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number") from exc


def table_name() -> str:
    name = os.environ.get("TABLE_NAME")
    if not name:
        raise ConfigError("missing setting TABLE_NAME")
    return name
