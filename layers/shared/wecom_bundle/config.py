"""Runtime configuration: environment variables locally, one Secrets Manager secret when deployed.

Why one module: every function needs the same four WeCom settings, and a missing or malformed one must fail
fast with its *name* (never its value) instead of surfacing later as a confusing signature or token error.

Deployed, the secret is read without boto3 or Powertools Parameters (their imports cost ~250-400 ms on the
callback's first request): through the AWS Parameters and Secrets Lambda Extension's local HTTP endpoint when
the function has it (``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` set: stdlib ``http.client`` only), else with
one hand-signed GetSecretValue to Secrets Manager's endpoint (``wecom_bundle.secrets_manager``: no botocore on
the first GET without SnapStart), and through the package's one botocore session (``wecom_bundle.aws``) where
that reader cannot know the endpoint or the credentials (SnapStart's container credentials, other partitions).
During a Lambda init without SnapStart the read starts on a thread before the handler's imports
(``prefetch_settings``); docs/benchmarks.md, "Cold start", has the figures. Settings are kept for
``POWERTOOLS_PARAMETERS_MAX_AGE`` seconds, not for the container's life, and ``reread_after_rejection`` lets a
refused signature or secret pick a rotated value up at once (see docs/operations.md, "Rotate ...").

The seams (for tests and the local stack, instead of patching this module): ``SettingsCache`` takes the
``load`` it calls and the ``clock`` it ages settings on (a test puts one in force for a block with
``runtime.overriding(settings=…)``); ``load_settings`` takes the ``read_secret`` it calls.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

N = TypeVar("N", int, float)

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"
DEFAULT_MAX_AGE_S = 300
# A rejection (bad signature, refused corp secret) re-reads the secret at most this often per container:
# an attacker sending bad signatures cannot turn the callback into a Secrets Manager load generator.
REREAD_MIN_INTERVAL_S = 10.0
SECRET_TIMEOUT_S = 2.0

# Environment variable -> key inside the deployed Secrets Manager secret (JSON).
SECRET_KEYS = {
    "WECOM_CORP_ID": "corp_id",
    "WECOM_CORP_SECRET": "corp_secret",
    "WECOM_CALLBACK_TOKEN": "callback_token",
    "WECOM_ENCODING_AES_KEY": "encoding_aes_key",
}
# Optional: the callback Token/EncodingAESKey being rotated out. While set, callbacks signed with them still
# verify (WeCom signs with the old values until its console is saved). Both or neither.
PREVIOUS_KEYS = {
    "WECOM_PREVIOUS_CALLBACK_TOKEN": "previous_callback_token",
    "WECOM_PREVIOUS_ENCODING_AES_KEY": "previous_encoding_aes_key",
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
    previous_callback_token: str = ""
    previous_encoding_aes_key: str = ""
    proxy_url: str = ""  # WECOM_PROXY_URL: WeCom calls only (may hold proxy credentials: never shown)

    def __repr__(self) -> str:
        return f"WeComSettings(corp_id={self.corp_id!r}, api_base={self.api_base!r}, secrets=<hidden>)"

    def callback_keys(self) -> list[tuple[str, str]]:
        """(Token, EncodingAESKey) pairs a callback may be signed with: the current one first."""
        keys = [(self.callback_token, self.encoding_aes_key)]
        if self.previous_callback_token:
            keys.append((self.previous_callback_token, self.previous_encoding_aes_key))
        return keys


def _check_aes_key(name: str, aes_key: str) -> None:
    if len(aes_key) != 43:
        raise ConfigError(f"{name} must be exactly 43 characters")
    try:
        if len(base64.b64decode(aes_key + "=", validate=True)) != 32:
            raise ConfigError(f"{name} must decode to 32 bytes")
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{name} is not valid base64") from exc


def _check_token(name: str, token: str) -> None:
    if not token.isalnum() or len(token) > 32:
        raise ConfigError(f"{name} must be 1-32 letters or digits")


def _validate(values: dict[str, str | None], source: str) -> dict[str, str]:
    missing = [name for name in SECRET_KEYS if not values.get(name)]
    if missing:
        raise ConfigError(f"missing setting(s) {', '.join(missing)} (from {source})")
    _check_aes_key("WECOM_ENCODING_AES_KEY", str(values["WECOM_ENCODING_AES_KEY"]))
    _check_token("WECOM_CALLBACK_TOKEN", str(values["WECOM_CALLBACK_TOKEN"]))
    previous = {name: values.get(name) or "" for name in PREVIOUS_KEYS}
    if any(previous.values()):
        absent = [name for name, value in previous.items() if not value]
        if absent:
            raise ConfigError(f"{', '.join(absent)} must be set together with the other (from {source})")
        _check_token("WECOM_PREVIOUS_CALLBACK_TOKEN", str(previous["WECOM_PREVIOUS_CALLBACK_TOKEN"]))
        _check_aes_key("WECOM_PREVIOUS_ENCODING_AES_KEY", str(previous["WECOM_PREVIOUS_ENCODING_AES_KEY"]))
    return {name: str(values.get(name) or "") for name in (*SECRET_KEYS, *PREVIOUS_KEYS)}


def _api_base() -> str:
    base = os.environ.get("WECOM_API_BASE") or DEFAULT_API_BASE
    if not base.startswith(("http://", "https://")):
        raise ConfigError("WECOM_API_BASE must start with http:// or https://")
    return base.rstrip("/")


def _proxy_url() -> str:
    """WECOM_PROXY_URL, the HTTP(S) proxy every WeCom call (and no AWS call) goes through, or "".

    Checked here so a typo fails the first request naming the variable, not each WeCom call as an
    unexplained connection error; the message never repeats the value (it may carry credentials)."""
    from urllib.parse import urlsplit

    raw = os.environ.get("WECOM_PROXY_URL", "").strip()
    if not raw:
        return ""
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ConfigError("WECOM_PROXY_URL is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("WECOM_PROXY_URL must be http://host:port or https://host:port")
    if port is None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError("WECOM_PROXY_URL must name a port and nothing after it (http://host:port)")
    return raw.rstrip("/")


SecretReader = Callable[[str], dict[str, str | None]]  # secret id → setting name → value


def _from_secret(secret_id: str) -> dict[str, str | None]:
    from wecom_bundle.secrets_manager.read import secret_string

    raw = secret_string(secret_id)
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ConfigError("the secret named by WECOM_SECRET_ID is not JSON") from exc
    if not isinstance(doc, dict):
        raise ConfigError("the secret named by WECOM_SECRET_ID must be a JSON object")
    return {env: doc.get(key) for env, key in (SECRET_KEYS | PREVIOUS_KEYS).items()}


def settings_source() -> str:
    """Where ``load_settings`` reads the WeCom settings now: "environment" or "secret" (the doctor says so)."""
    from_env = all(os.environ.get(name) for name in SECRET_KEYS)
    return "environment" if from_env or not os.environ.get("WECOM_SECRET_ID") else "secret"


def load_settings(read_secret: SecretReader = _from_secret) -> WeComSettings:
    """Read the settings now (no caching): env when all four are set, else the secret in WECOM_SECRET_ID,
    read by ``read_secret`` (the extension or botocore; a test passes its own and keeps the validation)."""
    from_env = {name: os.environ.get(name) for name in (*SECRET_KEYS, *PREVIOUS_KEYS)}
    if settings_source() == "environment":
        values = _validate(from_env, "environment")
    else:
        values = _validate(read_secret(os.environ["WECOM_SECRET_ID"]), "secret WECOM_SECRET_ID")
    customer_limit_rule()  # a bad cap rule fails at load, naming it, like a bad secret
    return WeComSettings(
        corp_id=values["WECOM_CORP_ID"],
        corp_secret=values["WECOM_CORP_SECRET"],
        callback_token=values["WECOM_CALLBACK_TOKEN"],
        encoding_aes_key=values["WECOM_ENCODING_AES_KEY"],
        api_base=_api_base(),
        proxy_url=_proxy_url(),
        previous_callback_token=values["WECOM_PREVIOUS_CALLBACK_TOKEN"],
        previous_encoding_aes_key=values["WECOM_PREVIOUS_ENCODING_AES_KEY"],
    )


# ------------------------------------------------------------------------------------------------ caching
class SettingsCache:
    """``settings()``: the settings, re-read once they are ``POWERTOOLS_PARAMETERS_MAX_AGE`` seconds old.

    Why not for the container's life: a rotated secret must reach warm containers without a redeploy. Why a
    class: ``cache_clear`` (tests, the local stack and the SnapStart hooks forget it) and ``reread`` share the
    lock, so a burst of rejected requests re-reads once, not once per thread. ``load`` reads the settings
    (default ``load_settings``) and ``clock`` ages them (default ``time.monotonic``): a test passes a counting
    load and a fake clock, and puts the cache in force with ``runtime.overriding(settings=…)``.
    """

    def __init__(
        self,
        load: Callable[[], WeComSettings] = load_settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._clock = clock
        self._lock = threading.Lock()
        self._value: WeComSettings | None = None
        self._loaded_at = 0.0
        self._last_reread = float("-inf")
        # An instance attribute, not a method: `reset_layer_state` calls every module-level `cache_clear`,
        # and must not find an unbound one on the class.
        self.cache_clear = self._clear

    def __call__(self) -> WeComSettings:
        value = self._value
        if value is not None and self._clock() - self._loaded_at < _max_age():
            return value
        with self._lock:
            if self._value is None or self._clock() - self._loaded_at >= _max_age():
                self._store(self._load())
            return self._value  # type: ignore[return-value]

    def reread(self) -> bool:
        """Re-read now unless a re-read happened within REREAD_MIN_INTERVAL_S; True if anything changed."""
        with self._lock:
            now = self._clock()
            if now - self._last_reread < REREAD_MIN_INTERVAL_S:
                return False
            self._last_reread = now
            before = self._value
            try:
                self._store(self._load())
            except ConfigError:
                return False  # unreadable now: keep what we have; the rejection stands
            return before is None or _fields(before) != _fields(self._value)

    def _clear(self) -> None:
        with self._lock:
            self._value = None
            self._last_reread = float("-inf")

    def _store(self, value: WeComSettings) -> None:
        self._value = value
        self._loaded_at = self._clock()


def _fields(value: WeComSettings | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value.corp_id, value.corp_secret, *(part for pair in value.callback_keys() for part in pair))


def _max_age() -> float:
    return env_float("POWERTOOLS_PARAMETERS_MAX_AGE", DEFAULT_MAX_AGE_S)


settings = SettingsCache()


# Lambda's init types that may read the secret during init (AWS「Defined runtime environment variables」,
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime);
# never "snap-start": a snapshot must not hold the secret.
PREFETCH_INIT_TYPES = ("on-demand", "provisioned-concurrency")


def prefetch_settings() -> threading.Thread | None:
    """Start reading the deployed settings on a daemon thread, during a Lambda init without SnapStart.

    Why: the cold first answer needs the secret, and its read is mostly waiting (TLS handshake, Secrets
    Manager's answer): started before the handler's imports, it overlaps them instead of following them. Only
    when the settings come from ``WECOM_SECRET_ID`` read directly (not through the extension) and Lambda says
    the init is on-demand or provisioned;
    elsewhere (SnapStart, tests, the local stack) it does nothing. A failed read leaves no trace: the first
    request reads again and reports the error itself. Answers the thread (tests join it), or None."""
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") not in PREFETCH_INIT_TYPES:
        return None
    if not os.environ.get("WECOM_SECRET_ID") or all(os.environ.get(name) for name in SECRET_KEYS):
        return None
    if os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"):
        return None  # a localhost call, and the extension may not serve before the init ends
    thread = threading.Thread(target=_prefetch, name="settings-prefetch", daemon=True)
    thread.start()
    return thread


def _prefetch() -> None:
    try:
        settings()
    except Exception:  # the first request reads again and reports it (without a secret)
        return


def replace_settings(cache: SettingsCache) -> SettingsCache:
    """Make ``cache`` the container's ``settings`` and answer the one it replaces: the seam under
    ``runtime.overriding(settings=…)``, which puts the previous one back. Every reader calls
    ``config.settings()`` at each use and keeps no cache object, so the new one serves the next read."""
    global settings
    previous, settings = settings, cache
    return previous


def reread_after_rejection() -> bool:
    """A signature failed or WeCom refused the corp secret: read the settings again (rate-limited), so a
    rotated value is used at once. True when the settings changed (the caller retries once)."""
    return settings.reread()


def reset_client() -> None:
    """Forget the cached settings (``local.lambda_runtime.reset_layer_state`` calls this between stacks)."""
    settings.cache_clear()


def env_int(name: str, default: int) -> int:
    """An integer tunable from the environment; a malformed value fails naming the variable."""
    return _env_number(name, default, int, "an integer")


def env_float(name: str, default: float) -> float:
    """A float tunable from the environment; a malformed value fails naming the variable."""
    return _env_number(name, default, float, "a number")


def _env_number(name: str, default: N, parse: Callable[[str], N], kind: str) -> N:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be {kind}") from exc


CUSTOMER_LIMIT_RULES = ("month", "week", "day")


def customer_limit_rule() -> str:
    """``MASS_SEND_CUSTOMER_LIMIT``: the per-customer mass-send cap WeCom applies to the corp (WeCom「创建企业群发」:
    days-in-month per month by default, or 7 per ISO week, or 1 per day). Anything else is a configuration
    error naming the variable: silently assuming ``month`` would report customers uncapped who are capped."""
    raw = os.environ.get("MASS_SEND_CUSTOMER_LIMIT")
    if raw is None or raw == "":
        return "month"
    if raw not in CUSTOMER_LIMIT_RULES:
        raise ConfigError("MASS_SEND_CUSTOMER_LIMIT must be one of month, week, day")
    return raw


def welcome_timezone() -> str:
    """``WELCOME_TIMEZONE``: the corp's calendar (welcome-rule windows, the mass-send cap's periods)."""
    return os.environ.get("WELCOME_TIMEZONE") or "Asia/Shanghai"


def business_zone() -> ZoneInfo:
    """``WELCOME_TIMEZONE`` as a zone: the business time zone in which an operator's time without an offset
    (``send_at``, ``since``) is read. An unknown name fails naming the variable, not as a bare KeyError."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = welcome_timezone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"WELCOME_TIMEZONE {name!r} is not a known IANA time zone") from exc


def table_name() -> str:
    name = os.environ.get("TABLE_NAME")
    if not name:
        raise ConfigError("missing setting TABLE_NAME")
    return name
