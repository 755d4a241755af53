"""``POST /admin/doctor``: the set-up checks from inside the stack (``wecom_bundle.doctor``).

The callback URL checked is the one WeCom is given: ``CALLBACK_URL`` (the template sets it to the custom
domain's ``/callback``; the local stack to its gateway's), else ``https://<this request's domain>/callback``.
The domain comes from API Gateway's request context (a Host header locally), so it is checked as a host name
before anything is sent to it.
"""

from __future__ import annotations

import os
import re

from aws_lambda_powertools.event_handler.api_gateway import Router

from admin_api.models.responses import DoctorReport
from admin_api.routes.common import ok, success
from wecom_bundle import runtime

router = Router()
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?")


def callback_url(domain_name: str | None) -> str | None:
    """Where WeCom sends callbacks: CALLBACK_URL, else this API's own domain; None when neither is usable."""
    configured = os.environ.get("CALLBACK_URL", "").strip()
    if configured:
        return configured if configured.startswith(("https://", "http://")) else None
    if domain_name and _HOST.fullmatch(domain_name):
        return f"https://{domain_name}/callback"
    return None


@router.post(
    "/admin/doctor",
    responses={200: success("every check, ok or not (ok: all passed; egress_ip from a 60020)", DoctorReport)},
)
def doctor():
    context = router.current_event.get("requestContext") or {}
    domain = context.get("domainName") if isinstance(context, dict) else None
    return ok(200, runtime.doctor().run(callback_url(domain if isinstance(domain, str) else None)))
