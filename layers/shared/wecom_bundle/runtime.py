"""Per-container wiring: settings → shared token provider → WeCom client, built on first use.

Why lazily: the callback's URL verification (GET) needs none of this, and each piece costs import time
(requests, botocore) that a cold start should only pay when a request really needs it. Why rebuilt when the
corp id, corp secret or API origin change: settings are re-read every ``POWERTOOLS_PARAMETERS_MAX_AGE``
seconds (and at once when WeCom refuses the secret), and a rotated secret must take effect without a redeploy.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

from wecom_bundle import config

if TYPE_CHECKING:
    from wecom_bundle.wecom.client import WeComClient
    from wecom_bundle.welcome.admin import WelcomeAdmin
    from wecom_bundle.welcome.service import WelcomeService

_lock = threading.Lock()
_client: WeComClient | None = None
_built_for: tuple[str, str, str] = ("", "", "")


def _identity(settings: config.WeComSettings) -> tuple[str, str, str]:
    return (settings.api_base, settings.corp_id, settings.corp_secret)


def _fetch_token(session: object, timeout: float) -> tuple[str, int]:
    """gettoken with the current settings; a refused secret re-reads the secret (rate-limited) and retries."""
    from wecom_bundle.wecom.client import fetch_token
    from wecom_bundle.wecom.errcodes import SECRET_REFUSED_ERRCODES
    from wecom_bundle.wecom.errors import WeComError

    settings = config.settings()
    try:
        return fetch_token(session, settings.api_base, settings.corp_id, settings.corp_secret, timeout)  # type: ignore[arg-type]
    except WeComError as exc:
        if exc.errcode not in SECRET_REFUSED_ERRCODES or not config.reread_after_rejection():
            raise
    settings = config.settings()
    return fetch_token(session, settings.api_base, settings.corp_id, settings.corp_secret, timeout)  # type: ignore[arg-type]


def _build(settings: config.WeComSettings) -> WeComClient:
    from wecom_bundle.wecom import token_repo
    from wecom_bundle.wecom.client import WeComClient, new_session
    from wecom_bundle.wecom.token_store import SharedTokenProvider, token_scope

    session = new_session()
    tokens = SharedTokenProvider(
        token_scope(settings.corp_id, settings.corp_secret),
        lambda timeout: _fetch_token(session, timeout),
        repo=token_repo,
    )
    return WeComClient(settings.api_base, tokens, session)


def wecom_client() -> WeComClient:
    """The container's WeCom client; a new one (new token scope) once the corp id, secret or origin change."""
    global _client, _built_for
    settings = config.settings()
    with _lock:
        if _client is None or _built_for != _identity(settings):
            _client, _built_for = _build(settings), _identity(settings)
        return _client


def reset_client() -> None:
    """Forget the client (``local.lambda_runtime.reset_layer_state`` and the SnapStart hooks call this)."""
    global _client, _built_for
    with _lock:
        _client, _built_for = None, ("", "", "")


def reset() -> None:
    """Forget the wiring (tests change settings and endpoints between cases)."""
    reset_client()
    config.settings.cache_clear()


# Services receive their collaborators (repository, WeCom API, clock, sleep, settings); the builders below
# assemble them once per container. Imports stay inside each builder: the callback pays only for its own.


# ----------------------------------------------------------------------------------------------- welcome
@functools.lru_cache(maxsize=1)
def welcome_service() -> WelcomeService:
    """The container's welcome service: the welcome repository, a rule cache on it, the WeCom client and its
    welcome API area, the settings. Built on the first add-contact event (URL verification and other events
    never pay for it)."""
    from wecom_bundle.wecom import welcome as wecom_welcome
    from wecom_bundle.welcome import repo
    from wecom_bundle.welcome.rules import RuleCache
    from wecom_bundle.welcome.service import WelcomeService, WelcomeSettings

    rules = RuleCache(repo.list_rules, config.env_float("WELCOME_RULES_CACHE_SECONDS", 5.0))
    return WelcomeService(wecom_client(), rules, WelcomeSettings.from_env(), repo=repo, api=wecom_welcome)


@functools.lru_cache(maxsize=1)
def welcome_admin() -> WelcomeAdmin:
    """The admin API's welcome operations: the welcome repository, the media cache (bucket objects must exist,
    saving warms their ids), the container's WeCom client (asked per save) and the wall clock."""
    import time

    from wecom_bundle import media
    from wecom_bundle.welcome import repo
    from wecom_bundle.welcome.admin import WelcomeAdmin

    return WelcomeAdmin(repo, media, wecom_client, time.time)


# ----------------------------------------------------------------------------------------------- campaigns
# (campaigns, reminders and result sync builders)


# ----------------------------------------------------------------------------------------------- group templates
# (group templates and media builders)
