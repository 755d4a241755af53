"""What operators read of synced results: per-customer rows (paged, filtered, CSV) and per-member stats.

Why a module of its own: create, send, cancel and queries write and show campaigns; this one reads what
the result sync stored (docs/data-model.md, "Result sync") and only reads. Rows live in one partition per msgid, so a
campaign's results are the msgids' partitions one after another, then one ``fail_list`` row per customer
WeCom refused when the task was created (``add_msg_template``'s ``fail_list``: no result row ever names
them, and an operator's export must still account for them). The page cursor names the msgid (or fail
list) and the position inside it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, TypeGuard

from wecom_bundle import cursors
from wecom_bundle.campaigns.deps import CampaignDeps
from wecom_bundle.result_sync.totals import NAME_STATUS, STATUS_NAMES, sent_rate
from wecom_bundle.validation import NotFound, ValidationError, page_size

if TYPE_CHECKING:
    from wecom_bundle.campaigns.records import CampaignChunk

CSV_COLUMNS = ("msgid", "userid", "external_userid", "chat_id", "status", "send_time")
MEMBER_VIEW_LIMIT = 1000  # members listed in GET /admin/campaigns/{id}; results pages cover the rest
FAIL_LIST = "fail_list"  # the status of a row for a customer in add_msg_template's fail_list
RESULT_STATUSES = (*STATUS_NAMES.values(), FAIL_LIST)  # every status a results row (and filter) can name


@dataclass(frozen=True)
class ResultsPage:
    """A page of rows; ``zone`` is the business time zone the CSV writes its times in."""

    items: list[dict[str, Any]]
    cursor: str | None
    zone: tzinfo = field(default=UTC)

    def csv(self) -> str:
        """The rows as CSV, ``send_time`` as ISO 8601 with the business zone's offset (spreadsheets and
        people read it; epoch seconds they cannot)."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(
            {**row, "send_time": iso_time(row.get("send_time"), self.zone)} for row in self.items
        )
        return out.getvalue()


def iso_time(epoch_s: Any, zone: tzinfo) -> str | None:
    """Epoch seconds as ISO 8601 in ``zone`` with its offset (``2026-12-08T06:04:00+08:00``); None stays None."""
    if epoch_s is None or epoch_s == "":
        return None
    return datetime.fromtimestamp(int(epoch_s), zone).isoformat(timespec="seconds")


@dataclass
class _Position:
    """Where a listing stands: ``index`` over the msgids then the fail lists, ``last`` the start key inside
    a msgid's partition, ``offset`` the position inside a fail list."""

    index: int = 0
    last: dict[str, Any] | None = None
    offset: int = 0


def _scope(campaign_id: str, status: int | str | None, member: str | None) -> str:
    """A cursor continues one campaign's listing with the same filters (its start key is in that listing)."""
    return json.dumps(["results", campaign_id, status, member])


def _encode_cursor(scope: str, at: _Position) -> str:
    doc: dict[str, Any] = {"i": at.index, "k": at.last}
    if at.offset:
        doc["o"] = at.offset
    return cursors.seal(scope, doc)


def _decode_cursor(scope: str, cursor: str | None) -> _Position:
    if not cursor:
        return _Position()
    doc = cursors.unseal(scope, cursor)
    doc = doc if isinstance(doc, dict) else {}
    index, last, offset = doc.get("i"), doc.get("k"), doc.get("o", 0)
    if _is_count(index) and _is_count(offset) and (last is None or _is_key(last)):
        return _Position(index, last, offset)
    raise ValidationError("cursor", "is not a cursor this API gave out for this listing")


def _is_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_key(last: Any) -> bool:
    return (
        isinstance(last, dict)
        and set(last) == {"pk", "sk"}
        and all(isinstance(v, str) for v in last.values())
    )


def _status_filter(name: str | None) -> int | None:
    """A stored result status code, ``fail_list``, or None (every row). A RESULT_STATUSES name: the admin
    route's query model checked it."""
    return None if name is None or name == FAIL_LIST else NAME_STATUS[name]


def _chunks(deps: CampaignDeps, campaign_id: str) -> list[CampaignChunk]:
    """The campaign's chunks that hold a WeCom task (a msgid)."""
    if deps.repo.get_campaign(campaign_id) is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return [c for c in deps.repo.campaign_chunks(campaign_id) if c.get("msgid")]


def _public_row(row: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        key: row[key] for key in ("msgid", "userid", "external_userid", "chat_id", "send_time") if key in row
    }
    return {**doc, "status": STATUS_NAMES.get(int(row.get("status") or 0), "unsent")}


def results_page(deps: CampaignDeps, campaign_id: str, params: dict[str, str]) -> ResultsPage:
    """One page of a campaign's result rows, optionally of one ``status`` and one ``member`` (userid).

    The synced rows first, msgid by msgid; then, unless a member or another status is asked for, one
    ``fail_list`` row per customer WeCom refused at creation (they belong to no member).
    """
    name, member = params.get("status") or None, params.get("member") or None
    status = _status_filter(name)
    limit = page_size(params.get("limit"))
    scope = _scope(campaign_id, name if name == FAIL_LIST else status, member)
    at = _decode_cursor(scope, params.get("cursor"))
    chunks = _chunks(deps, campaign_id)
    msgids = [] if name == FAIL_LIST else [str(c["msgid"]) for c in chunks]
    failed = (
        [c for c in chunks if int(c.get("fail_count") or 0)]
        if name in (None, FAIL_LIST) and not member
        else []
    )
    items: list[dict[str, Any]] = []
    while at.index < len(msgids) and len(items) < limit:
        rows, at.last = deps.sync_repo.query_results(
            msgids[at.index], userid=member, status=status, limit=limit - len(items), start=at.last
        )
        items += [_public_row(r) for r in rows]
        if at.last is None:
            at.index += 1
    while len(msgids) <= at.index < len(msgids) + len(failed) and len(items) < limit:
        items += _fail_rows(deps, campaign_id, failed[at.index - len(msgids)], at, limit - len(items))
    more = at.index < len(msgids) + len(failed)
    return ResultsPage(items, _encode_cursor(scope, at) if more else None, deps.zone())


def _fail_rows(
    deps: CampaignDeps, campaign_id: str, chunk: CampaignChunk, at: _Position, room: int
) -> list[dict[str, Any]]:
    """Up to ``room`` rows of one chunk's fail_list from ``at.offset``; moves ``at`` past them."""
    ids = deps.repo.campaign_part_ids(campaign_id, "FAIL", int(chunk["chunk"]))
    taken = ids[at.offset : at.offset + room]
    at.offset += len(taken)
    if at.offset >= len(ids):
        at.index, at.offset = at.index + 1, 0
    return [{"msgid": str(chunk["msgid"]), "external_userid": i, "status": FAIL_LIST} for i in taken]


def member_stats(deps: CampaignDeps, chunks: list[CampaignChunk]) -> tuple[list[dict[str, Any]], bool]:
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
