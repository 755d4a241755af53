"""The scheduled result-sync run: ingest outside tasks, then queue every msgid whose sync is due.

Why the run does no paging itself: a campaign may have hundreds of msgids and a msgid thousands of members;
the run only reads a key range of the due index (gsi3 ``DUE#SYNC``, no Scan), claims each due msgid (its
due key moves to the claim's lease end, so the next run does not queue it twice) and sends one SQS message
per msgid. Workers, capped by reserved concurrency, do the WeCom paging. A claim whose message is lost or
whose worker dies simply expires and the msgid is due again.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from wecom_bundle import config, telemetry
from wecom_bundle.result_sync import ingest
from wecom_bundle.result_sync.budget import OutOfTime
from wecom_bundle.result_sync.queue import SyncMessage
from wecom_bundle.result_sync.sync_pass import LEASE_S
from wecom_bundle.wecom.errors import TransportError, WeComError

if TYPE_CHECKING:
    from wecom_bundle.result_sync.deps import SyncDeps

logger = logging.getLogger(__name__)

DUE_PAGE = 100


def run_due(deps: SyncDeps, budget_s: float, *, now: int | None = None) -> dict[str, Any]:
    """Ingest, then queue due msgids (at most ``SYNC_DUE_BATCH`` per run, default 1000, oldest first)."""
    now = int(time.time()) if now is None else now
    budget = deps.budget(budget_s, reserve_s=15.0)
    summary: dict[str, Any] = {}
    try:
        summary |= ingest.ingest_recent(deps, now, budget).as_dict()
    except (OutOfTime, WeComError, TransportError) as exc:
        # Ingestion is retried by the next run; the due msgids must still be queued now.
        logger.warning("list_v2 ingestion stopped early: %s", type(exc).__name__)
        summary["ingest_error"] = getattr(exc, "errcode", type(exc).__name__)
    summary |= queue_due(deps, now, config.env_int("SYNC_DUE_BATCH", 1000))
    summary["wecom_calls"] = budget.calls
    return summary


def queue_due(deps: SyncDeps, now: int, limit: int) -> dict[str, int]:
    """Claim and queue up to ``limit`` due msgids; answers how many were claimed and queued."""
    claimed: list[SyncMessage] = []
    start: str | None = None
    first_page = True
    while len(claimed) < limit:
        due, start = deps.repo.due_sync_msgids(now, min(DUE_PAGE, limit - len(claimed)), start)
        if first_page:
            _report_lag(due, now)
            first_page = False
        for item in due:
            token = uuid.uuid4().hex
            if deps.repo.claim_msgid_sync(item["msgid"], item["due_sk"], token, now + LEASE_S):
                claimed.append(SyncMessage(item["msgid"], token))
        if start is None:
            break
    refused = deps.send_messages(claimed) if claimed else []
    if refused:
        logger.warning(
            "%d sync messages refused by SQS: their msgids are due again after the lease", len(refused)
        )
    return {"msgids_queued": len(claimed) - len(refused), "msgids_refused": len(refused)}


def _report_lag(first_due: list[dict[str, Any]], now: int) -> None:
    """How long the oldest due msgid has waited past its sync time (0 when none is due): the dashboard's
    result-sync lag. The first page is oldest first, so its first item is the oldest."""
    due_at = first_due[0].get("next_sync_at") if first_due else None
    telemetry.seconds("ResultSyncLag", max(0, now - int(due_at)) if due_at is not None else 0)
