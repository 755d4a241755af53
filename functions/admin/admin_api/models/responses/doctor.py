"""The doctor's answer (DESIGN, "Deployed for real"). Answer models (see ``admin_api.models.responses``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from admin_api.models.responses.common import Answer


class DoctorCheck(Answer):
    """One set-up check, run from inside the stack (the product's own egress to WeCom)."""

    name: Literal[
        "secret", "token", "customer_contact", "mass_send", "contact_ways", "callback_url", "storage"
    ]
    ok: bool
    errcode: int | None = Field(description="WeCom's errcode when WeCom refused (e.g. 60020), else null")
    detail: str = Field(description="what the check saw (never a secret)")
    fix: str | None = Field(
        description="what to change, e.g. 'add A.B.C.D to 企业可信IP of the app'; null when ok"
    )


class DoctorReport(Answer):
    """Every check in this order: secret, token, customer_contact, mass_send, contact_ways, callback_url,
    storage."""

    ok: bool = Field(description="every check passed")
    egress_ip: str | None = Field(
        description="the IP WeCom reported in a 60020 (not in 企业可信IP), else null"
    )
    checks: list[DoctorCheck]
