"""Lambda SnapStart hooks for the callback: what the snapshot holds, and what it must never hold.

Why: with SnapStart, Lambda initialises the function once, when a version is published, and restores every
new execution environment from a snapshot of that memory. Import time therefore costs nothing per cold
start, but anything the snapshot holds is shared by every environment restored from it, for as long as the
version lives. So:
- before the snapshot, load what is expensive and not secret: the welcome path's modules (requests,
  botocore, the services) and botocore's service models for Secrets Manager and DynamoDB (clients built with
  placeholder credentials and thrown away, so no credential is ever resolved);
- then, and again after every restore, forget everything that is per environment or secret: cached settings
  (the WeCom secrets), callback keys, access tokens, HTTP sessions and AWS clients (open connections), and
  reseed ``random`` (back-off jitter must differ between environments restored from one snapshot).
After a restore the first request reads the secret (one GetSecretValue) and builds what it needs.

The hooks come from ``snapshot_restore_py``, which the managed Python runtime provides; elsewhere (locally,
in tests, without SnapStart) ``register`` does nothing and the functions can be called directly.
"""

from __future__ import annotations

import importlib
import random
import sys

WARM_MODULES = (
    "requests",
    "botocore.session",
    "botocore.client",
    "wecom_bundle.callback.events",
    "wecom_bundle.runtime",
    "wecom_bundle.welcome.repo",
    "wecom_bundle.wecom.token_repo",
    "wecom_bundle.wecom.token_store",
    "wecom_bundle.welcome.service",
    "wecom_bundle.wecom.client",
    "wecom_bundle.channels.lookup",
    "wecom_bundle.channels.arrivals",
)
WARM_SERVICES = ("secretsmanager", "dynamodb")
PLACEHOLDER = "snapshot-placeholder"
KEEP = ("wecom_bundle.aws",)  # its session keeps the loaded models; ``renew_session`` drops the rest


def before_snapshot() -> None:
    """Load code and models into the snapshot, then drop every secret, token, client and connection."""
    for name in WARM_MODULES:
        importlib.import_module(name)
    from wecom_bundle import aws

    for service in WARM_SERVICES:
        aws.session().create_client(
            service,
            region_name="us-east-1",
            aws_access_key_id=PLACEHOLDER,
            aws_secret_access_key=PLACEHOLDER,
        )
    forget_environment()


def after_restore() -> None:
    """A restored environment starts without anything the snapshot might have carried over."""
    forget_environment()


def forget_environment() -> None:
    """Clear every cached value and client of the layer's modules (settings, keys, tokens, sessions)."""
    from wecom_bundle import aws

    for name, module in list(sys.modules.items()):
        if not name.startswith("wecom_bundle.") or name in KEEP or module is None:
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and getattr(value, "__module__", "") == name:
                clear()
        reset = vars(module).get("reset_client")
        if callable(reset):
            reset()
    aws.renew_session()
    random.seed()


def register() -> bool:
    """Register the hooks when running under SnapStart's runtime; False elsewhere."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    return True
