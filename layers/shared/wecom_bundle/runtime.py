"""Per-container wiring: settings → shared token provider → WeCom client, built once on first use.

Why lazily: the callback's URL verification (GET) needs none of this, and each piece costs import time
(requests, botocore) that a cold start should only pay when a request really needs it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from wecom_bundle import config

if TYPE_CHECKING:
    from wecom_bundle.wecom.client import WeComClient


@lru_cache(maxsize=1)
def wecom_client() -> WeComClient:
    from wecom_bundle.token_store import SharedTokenProvider, token_scope
    from wecom_bundle.wecom.client import WeComClient, fetch_token, new_session

    settings = config.settings()
    session = new_session()

    def fetch(timeout: float) -> tuple[str, int]:
        return fetch_token(session, settings.api_base, settings.corp_id, settings.corp_secret, timeout)

    tokens = SharedTokenProvider(token_scope(settings.corp_id, settings.corp_secret), fetch)
    return WeComClient(settings.api_base, tokens, session)


def reset() -> None:
    """Forget the wiring (tests change settings and endpoints between cases)."""
    wecom_client.cache_clear()
    config.settings.cache_clear()
