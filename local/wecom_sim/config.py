"""Simulator settings. Re-exported by ``server`` (the public import path is ``local.wecom_sim.server``).

Why its own module: the state, the endpoints and the callback pusher all read it, and the HTTP plumbing in
``server`` imports all of them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(repr=False)
class SimulatorConfig:
    """What the simulated corp looks like and how WeCom's timing behaves.

    ``repr`` hides the secrets: a config printed in a test failure or a log line must not leak them.
    """

    corp_id: str
    corp_secret: str
    callback_token: str
    encoding_aes_key: str
    callback_url: str | None = None  # where pushed callbacks go (the gateway's /callback)
    token_ttl: int = 7200
    welcome_code_ttl: int = 20
    callback_timeout: float = 5.0  # WeCom waits 5 s for a callback answer before retrying
    callback_attempts: int = 3  # ... and tries 3 times in all
    url_verify_timeout: float = 1.0  # URL verification must answer within 1 s
    media_ttl: int = 3 * 24 * 3600  # temporary media ids live 3 days
    # The corp's per-customer mass-send cap (WeCom「创建企业群发」): month (days in the month), week (7) or day (1).
    # The local stack sets it from MASS_SEND_CUSTOMER_LIMIT; ``POST /__sim/customer_limit`` changes it.
    customer_limit: str = "month"
    verbose: bool = False  # log every HTTP request to stderr

    def __repr__(self) -> str:
        return (
            f"SimulatorConfig(corp_id={self.corp_id!r}, callback_url={self.callback_url!r}, "
            f"token_ttl={self.token_ttl}, welcome_code_ttl={self.welcome_code_ttl}, secrets=<hidden>)"
        )
