"""What operators read of synced results: per-customer rows (paged, filtered, CSV) and per-member stats.

Why a module of its own: create, send, cancel and queries write and show campaigns; this one reads what
the result sync stored (docs/data-model.md, "Result sync") and only reads. Rows live in one partition per msgid, so a
campaign's results are the msgids' partitions one after another; the page cursor names the msgid and the
position inside it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from wecom_bundle import cursors
from wecom_bundle.campaigns.deps import CampaignDeps
from wecom_bundle.result_sync.totals import NAME_STATUS, STATUS_NAMES, sent_rate
from wecom_bundle.validation import NotFound, ValidationError, page_size

CSV_COLUMNS = ("msgid", "userid", "external_userid", "chat_id", "status", "send_time")
MEMBER_VIEW_LIMIT = 1000  # members listed in GET /admin/campaigns/{id}; results pages cover the rest


@dataclass(frozen=True)
class ResultsPage:
    items: list[dict[str, Any]]
    cursor: str | None

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.items)
        return out.getvalue()


def _scope(campaign_id: str, status: int | None, member: str | None) -> str:
    """A cursor continues one campaign's listing with the same filters (its start key is in that listing)."""
    return json.dumps(["results", campaign_id, status, member])


def _encode_cursor(scope: str, index: int, last: dict[str, Any] | None) -> str:
    return cursors.seal(scope, {"i": index, "k": last})


def _decode_cursor(scope: str, cursor: str | None) -> tuple[int, dict[str, Any] | None]:
    if not cursor:
        return 0, None
    doc = cursors.unseal(scope, cursor)
    index, last = (doc.get("i"), doc.get("k")) if isinstance(doc, dict) else (None, None)
    if (
        not isinstance(index, int)
        or isinstance(index, bool)
        or index < 0
        or not (last is None or _is_key(last))
    ):
        raise ValidationError("cursor", "is not a cursor this API gave out for this listing")
    return index, last


def _is_key(last: Any) -> bool:
    return (
        isinstance(last, dict)
        and set(last) == {"pk", "sk"}
        and all(isinstance(v, str) for v in last.values())
    )


def _status_filter(params: dict[str, str]) -> int | None:
    status = params.get("status") or None  # a NAME_STATUS key: the admin route's query model checked it
    return None if status is None else NAME_STATUS[status]


def _msgids(deps: CampaignDeps, campaign_id: str) -> list[str]:
    if deps.repo.get_campaign(campaign_id) is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return [str(c["msgid"]) for c in deps.repo.campaign_chunks(campaign_id) if c.get("msgid")]


def _public_row(row: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        key: row[key] for key in ("msgid", "userid", "external_userid", "chat_id", "send_time") if key in row
    }
    return {**doc, "status": STATUS_NAMES.get(int(row.get("status") or 0), "unsent")}


def results_page(deps: CampaignDeps, campaign_id: str, params: dict[str, str]) -> ResultsPage:
    """One page of a campaign's result rows, optionally of one ``status`` and one ``member`` (userid)."""
    status, member = _status_filter(params), params.get("member") or None
    limit = page_size(params.get("limit"))
    scope = _scope(campaign_id, status, member)
    index, last = _decode_cursor(scope, params.get("cursor"))
    msgids = _msgids(deps, campaign_id)
    items: list[dict[str, Any]] = []
    while index < len(msgids) and len(items) < limit:
        rows, last = deps.sync_repo.query_results(
            msgids[index], userid=member, status=status, limit=limit - len(items), start=last
        )
        items += [_public_row(r) for r in rows]
        if last is None:
            index += 1
    more = index < len(msgids)
    return ResultsPage(items, _encode_cursor(scope, index, last) if more else None)


def member_stats(deps: CampaignDeps, chunks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Per member of each msgid: status, send time, customers by status and the sent rate (capped)."""
    members: list[dict[str, Any]] = []
    for chunk in chunks:
        if not chunk.get("msgid"):
            continue
        for item in deps.sync_repo.sync_members(str(chunk["msgid"])):
            counts = item.get("results") or {}
            doc = {
                "msgid": chunk["msgid"],
                "userid": item["userid"],
                "status": "sent" if item.get("status") == 2 else "unsent",
                "send_time": item.get("send_time"),
                "customers": counts,
                "sent_rate": sent_rate(counts),
            }
            members.append({k: v for k, v in doc.items() if v is not None})
            if len(members) >= MEMBER_VIEW_LIMIT:
                return members, True
    return members, False


def sync_states(deps: CampaignDeps, msgids: list[str]) -> list[dict[str, Any]]:
    """Where each msgid's sync stands (operators: "when was this last pulled, when next?")."""
    found = deps.sync_repo.msgid_items(msgids)
    keys = ("sync_state", "last_synced_at", "next_sync_at", "sync_errcode")
    return [
        {"msgid": m, **{k: found[m][k] for k in keys if found.get(m, {}).get(k) is not None}} for m in msgids
    ]
