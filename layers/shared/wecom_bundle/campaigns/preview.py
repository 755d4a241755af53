"""What a ``POST /admin/campaigns`` with this body would do, and how WeCom's per-customer cap bears on it.

Why a service of its own that reuses create's pieces: a preview is only worth having if it equals the create
that follows. It runs the same validation (``create.validated_spec``: the same 400s), the same cap rules
(``cap.check_send_at``), the same removal (``cap.uncapped``) and the same split (``create.audience_slices``
with ``deps.chunk_size``), and then stops: no WeCom call, no write (not even an idempotency record).

The answer: ``audience_size`` and ``chunks`` are what create would send (with ``skip_capped``: after the
capped customers are left out); ``quota`` counts the requested customers (``capped`` of them are capped now,
``pending`` have a message still unsent in a running task, ``capped_sample`` lists up to 100 capped ids).
When WeCom chooses the recipients (a sender's or a tag_filter's customers) or they are group chats (the
counters are per customer), the counts are null and ``warnings`` says why.
"""

from __future__ import annotations

import time
from typing import Any

from wecom_bundle.campaigns import cap, create
from wecom_bundle.campaigns.deps import CampaignDeps
from wecom_bundle.campaigns.limits import PREVIEW_BUDGET_S
from wecom_bundle.domain_errors import OverTimeBudget
from wecom_bundle.dynamo.table import DeadlinePassed

WECOM_CHOOSES = (
    "WeCom chooses the customers of a sender or tag_filter audience when the task is created: "
    "audience_size and the quota counts are unknown (null)"
)
GROUPS_UNCOUNTED = (
    "the cap also applies to each group chat, but only customers are counted here: the quota counts are null"
)


def preview_campaign(
    deps: CampaignDeps, body: Any, *, now: int | None = None, budget_s: float | None = None
) -> dict[str, Any]:
    """The preview of a create body (see the module docstring); raises exactly the create's 400s, and
    ``OverTimeBudget`` when its counter reads cannot finish within ``budget_s`` (``PREVIEW_BUDGET_S``)."""
    started = time.monotonic()
    budget_s = PREVIEW_BUDGET_S if budget_s is None else budget_s
    now = deps.now() if now is None else now
    spec = create.validated_spec(deps, body, now)
    try:
        return _preview(deps, deps.cap().within(started + budget_s), spec, now)
    except DeadlinePassed as exc:
        size = len(spec["external_userid"] or ())
        raise OverTimeBudget(
            f"the preview of {size} customers could not read their cap counters within its {budget_s:g} s "
            "budget (the API answers within 29 s): preview a smaller audience, or try again when the table "
            "is less busy",
            budget_s,
        ) from exc


def _preview(deps: CampaignDeps, caps: cap.CapCheck, spec: dict[str, Any], now: int) -> dict[str, Any]:
    cap.check_send_at(caps, spec, now)
    quota: dict[str, Any] = {
        "rule": caps.rule,
        "limit": caps.limit(now),
        "period": caps.period(now),
        "capped": None,
        "pending": None,
        "capped_sample": None,
    }
    warnings = _later_period(caps, spec, now)
    if spec["chat_type"] == "group":
        listed = spec["chat_id_list"]
        audience = len(listed) if listed else None
        chunks = len(create.audience_slices(listed, deps.chunk_size))
        return _answer(audience, chunks, quota, [*warnings, GROUPS_UNCOUNTED])
    if not spec["external_userid"]:
        return _answer(None, 1, quota, [*warnings, WECOM_CHOOSES])
    return _customers(deps, caps, spec, now, quota, warnings)


def _customers(
    deps: CampaignDeps,
    caps: cap.CapCheck,
    spec: dict[str, Any],
    now: int,
    quota: dict[str, Any],
    warnings: list[str],
) -> dict[str, Any]:
    """An explicit customer list: the counts, and what create would send."""
    ids = spec["external_userid"]
    capped = cap.capped_among(caps, ids, now)
    pending = caps.pending(ids, now)
    quota |= {"capped": len(capped), "pending": pending, "capped_sample": capped[: cap.SAMPLE_SIZE]}
    sending = cap.uncapped(ids, capped) if spec["skip_capped"] else ids
    chunks = len(create.audience_slices(sending, deps.chunk_size)) if sending else 0
    if not sending:
        warnings.append("every customer is capped: create with skip_capped would refuse (audience_capped)")
    elif capped and not spec["skip_capped"]:
        warnings.append(
            f"{len(capped)} customers are capped: WeCom will not deliver to them (limit_reached); "
            "skip_capped leaves them out"
        )
    if pending:
        warnings.append(
            f"{pending} customers have a message still unsent in a running task: they may be capped by the "
            "time this campaign is sent"
        )
    return _answer(len(sending), chunks, quota, warnings)


def _later_period(caps: cap.CapCheck, spec: dict[str, Any], now: int) -> list[str]:
    """A campaign scheduled into a later period (without skip_capped, which refuses that) meets a renewed
    quota: say that the counts are today's."""
    send_at = spec["send_at"]
    if send_at is not None and send_at > now and caps.period(send_at) != caps.period(now):
        return [f"send_at falls in a later period than {caps.period(now)}: the quota counts are today's"]
    return []


def _answer(audience: int | None, chunks: int, quota: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    return {"audience_size": audience, "chunks": chunks, "quota": quota, "warnings": warnings}
