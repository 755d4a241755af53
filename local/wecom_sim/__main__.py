"""``python -m local.wecom_sim --port 8081``: run the simulator standalone until SIGINT/SIGTERM.

Settings come from WECOM_CORP_ID, WECOM_CORP_SECRET, WECOM_CALLBACK_TOKEN and WECOM_ENCODING_AES_KEY, with the
dev defaults of ``local/settings.py`` for any that are unset. The secret is never printed.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

from local.settings import apply_dev_defaults

from .config import SimulatorConfig
from .server import start_simulator


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.wecom_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    parser.add_argument("--port", type=int, default=8081, help="port (0 = any free port)")
    parser.add_argument(
        "--callback-url", default=None, help="where pushed callbacks go (the gateway's /callback)"
    )
    parser.add_argument("--token-ttl", type=int, default=7200, help="access_token lifetime in seconds")
    parser.add_argument("--welcome-code-ttl", type=int, default=20, help="welcome_code lifetime in seconds")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def config_from_env(args: argparse.Namespace) -> SimulatorConfig:
    apply_dev_defaults()
    return SimulatorConfig(
        corp_id=os.environ["WECOM_CORP_ID"],
        corp_secret=os.environ["WECOM_CORP_SECRET"],
        callback_token=os.environ["WECOM_CALLBACK_TOKEN"],
        encoding_aes_key=os.environ["WECOM_ENCODING_AES_KEY"],
        callback_url=args.callback_url,
        token_ttl=args.token_ttl,
        welcome_code_ttl=args.welcome_code_ttl,
        verbose=args.verbose,
        customer_limit=os.environ.get("MASS_SEND_CUSTOMER_LIMIT") or "month",
    )


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    config = config_from_env(args)
    handle = start_simulator(config, host=args.host, port=args.port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"WeCom simulator on {handle.url}  (WECOM_API_BASE={handle.url})", flush=True)
    print(f"  corp id {config.corp_id}; callbacks -> {config.callback_url or '(none)'}", flush=True)
    print(f"  control API: {handle.url}/__sim/state", flush=True)
    stop.wait()
    handle.stop()
    print("WeCom simulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
