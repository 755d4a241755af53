"""What ``wecomctl campaigns list|show|results`` print: tables, the delivery funnel, and the results CSV.

Why apart from the commands that change things (``create``, ``cancel``, ``remind`` in ``wecomctl.campaigns``):
reading a campaign is mostly layout (columns, shares, counts of long lists), and that is easier to follow,
and to test against the API's documents, on its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any, TextIO

from wecomctl.context import Context
from wecomctl.http import UsageError, segment
from wecomctl.output import Column, ZoneSource, format_time, iso_time, key_values, one_line, table

BASE = "/admin/campaigns"
CUSTOMER_STATUS = {0: "unsent", 1: "sent", 2: "not_friend", 3: "limit_reached"}
LIST_COLUMNS = (
    Column("CAMPAIGN_ID", "campaign_id"),
    Column("STATUS", "status"),
    Column("NAME", "name", max_width=32),
    Column("CHAT", "chat_type"),
    Column("AUDIENCE", "audience_size", right=True),
    Column("MSGIDS", "msgid_count", right=True),
    Column("CUSTOMERS_SENT", "customers_sent", right=True),
    Column("CREATED", "created"),
)
RESULT_COLUMNS = (
    Column("MSGID", "msgid", max_width=24),
    Column("MEMBER", "userid"),
    Column("RECIPIENT", "recipient"),
    Column("STATUS", "status_name"),
    Column("SEND_TIME", "send_time"),
)
CSV_COLUMNS = ("msgid", "userid", "external_userid", "chat_id", "status", "send_time")  # as ?format=csv
MEMBER_STAGES = ("sent", "unsent")
CUSTOMER_STAGES = ("sent", "unsent", "not_friend", "limit_reached")
MEMBER_COLUMNS = (
    Column("MEMBER", "userid"),
    Column("STATUS", "status"),
    Column("SEND_TIME", "send_time"),
    Column("SENT", "c_sent"),
    Column("UNSENT", "c_unsent"),
    Column("NOT_FRIEND", "c_not_friend"),
    Column("LIMIT", "c_limit_reached"),
    Column("RATE", "rate"),
)
REMINDER_COLUMNS = (
    Column("AT", "at"),
    Column("MSGID", "msgid", max_width=24),
    Column("TRIGGER", "trigger"),
    Column("OUTCOME", "outcome"),
)


# ------------------------------------------------------------------------------------- list and show
def list_campaigns(args: argparse.Namespace, ctx: Context) -> int:
    query = {"status": args.status, "limit": args.limit, "cursor": args.cursor}
    return ctx.list_pages(
        BASE, query, follow=args.all, columns=LIST_COLUMNS, shape=_list_row, empty="no campaigns"
    )


def campaign_skipped(args: argparse.Namespace, ctx: Context) -> int:
    """Every customer a ``--skip-capped`` create left out, one external_userid per line (all pages): a list
    to hand to support or to a later campaign."""
    path = f"{BASE}/{segment(args.campaign_id)}/skipped"
    for response in ctx.client.pages(path, {}, follow=True):
        if ctx.json_mode:
            ctx.raw(response)
            continue
        for external_userid in (response.json() or {}).get("items") or []:
            ctx.out(external_userid)
    return 0


def show_campaign(args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.get(f"{BASE}/{segment(args.campaign_id)}")
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    ctx.out(describe(response.json(), ctx.zone))
    return 0


def describe(doc: dict[str, Any], zone: ZoneSource) -> str:
    """One campaign for humans: identity and status, the delivery funnel, then the reminders."""
    pairs: list[tuple[str, Any]] = [
        ("campaign_id", doc.get("campaign_id")),
        ("name", doc.get("name")),
        ("status", doc.get("status")),
        ("chat_type", doc.get("chat_type")),
        ("sender", doc.get("sender")),
        ("text", (doc.get("text") or {}).get("content")),
        ("attachments", len(doc.get("attachments") or [])),
        ("audience", doc.get("audience_size")),
        ("created", format_time(doc.get("created_at"), zone)),
        ("send_at", format_time(doc.get("send_at"), zone)),
        ("sent_at", format_time(doc.get("sent_at"), zone)),
        ("msgids", count_list(doc.get("msgids"))),
        ("fail_list", _fail_count(doc)),
        ("chunks", _chunk_states(doc.get("chunks"))),
    ]
    if doc.get("skipped_capped") is not None:  # created with --skip-capped
        pairs.insert(8, ("skipped_capped", doc["skipped_capped"]))
    pairs += [(k, format_time(doc[k], zone)) for k in ("cancelled_at", "next_remind_at") if doc.get(k)]
    if doc.get("errcode") is not None:
        pairs.append(("wecom_error", f"{doc['errcode']} {doc.get('errmsg', '')}".strip()))
    synced = doc.get("totals_synced_at")
    heading = (
        f"delivery (synced {format_time(synced, zone)}):"
        if synced
        else "delivery (not synced from WeCom yet):"
    )
    delivery = heading + "\n" + funnel(doc.get("totals") or {})
    return "\n\n".join(
        [key_values(pairs), delivery, _members(doc, zone), _reminders(doc.get("reminders"), zone)]
    )


def _members(doc: dict[str, Any], zone: ZoneSource) -> str:
    """Per member: sent or not, when, and what became of their customers (as last synced)."""
    members = doc.get("members") or []
    if not members:
        return "members: none synced yet"
    rows = [
        {
            **m,
            "send_time": format_time(m.get("send_time"), zone),
            **{f"c_{k}": (m.get("customers") or {}).get(k, 0) for k in CUSTOMER_STAGES},
            "rate": "" if m.get("sent_rate") is None else f"{100 * m['sent_rate']:.1f}%",
        }
        for m in members
    ]
    more = " (first 1000; see `wecomctl campaigns results --member`)" if doc.get("members_truncated") else ""
    return f"members: {len(members)}{more}\n" + table(rows, MEMBER_COLUMNS)


def _chunk_states(chunks: Any) -> str | None:
    """``3 (sent 2, failed 1)``: one WeCom task per 10 000 recipients, and how far each got."""
    if not isinstance(chunks, list) or not chunks:
        return None
    states: dict[str, int] = {}
    for chunk in chunks:
        states[str(chunk.get("state", "?"))] = states.get(str(chunk.get("state", "?")), 0) + 1
    return f"{len(chunks)} (" + ", ".join(f"{state} {count}" for state, count in states.items()) + ")"


def funnel(totals: dict[str, Any]) -> str:
    """Members then customers, each stage with its count and share of its total (zeros before a sync).

    Laid out by hand rather than with ``table``: the indentation of the stages is the point of it.
    """
    rows: list[tuple[str, int, str]] = []
    for group, keys in (("members", MEMBER_STAGES), ("customers", CUSTOMER_STAGES)):
        counts = totals.get(group) or {}
        values = [int(counts.get(key) or 0) for key in keys]
        total = sum(values)
        rows.append((group, total, ""))
        rows += [
            (f"  {k}", v, f"{100 * v / total:.1f}%" if total else "")
            for k, v in zip(keys, values, strict=True)
        ]
    name_width = max(len(name) for name, _, _ in rows)
    count_width = max(len(str(count)) for _, count, _ in rows)
    return "\n".join(
        f"{name.ljust(name_width)}  {str(count).rjust(count_width)}  {share.rjust(6)}".rstrip()
        for name, count, share in rows
    )


def _reminders(reminders: Any, zone: ZoneSource) -> str:
    items = reminders if isinstance(reminders, list) else (reminders or {}).get("items") or []
    if not items:
        return "reminders: none yet"
    rows = [{**r, "at": format_time(r.get("at_ms") or r.get("at"), zone)} for r in items]
    return f"reminders: {len(items)}\n" + table(rows, REMINDER_COLUMNS)


# ------------------------------------------------------------------------------------------- results
def campaign_results(args: argparse.Namespace, ctx: Context) -> int:
    path = f"{BASE}/{segment(args.campaign_id)}/results"
    query = {"status": args.status, "member": args.member, "limit": args.limit, "cursor": args.cursor}
    if args.csv:
        return _write_csv(ctx, path, query, args.csv)
    return ctx.list_pages(
        path, query, follow=args.all, columns=RESULT_COLUMNS, shape=_result_row, empty="no results yet"
    )


def _write_csv(ctx: Context, path: str, query: dict[str, Any], target: str) -> int:
    """Every page of results as one CSV, built from the JSON pages so a long result set is never cut short.

    The columns are those of the API's own ``?format=csv`` first, then any further field the rows carry;
    ``send_time`` is ISO 8601 in the business zone, as the API's CSV writes it.
    """
    rows = [
        {**row, "send_time": iso_time(row.get("send_time"), ctx.zone)}
        for page in ctx.client.pages(path, query, follow=True)
        for row in page.json().get("items", [])
    ]
    fields = list(dict.fromkeys([*CSV_COLUMNS, *(key for row in rows for key in row)]))
    if target == "-":
        _csv_rows(sys.stdout, fields, rows)
    else:
        try:
            with open(target, "w", encoding="utf-8", newline="") as out:
                _csv_rows(out, fields, rows)
        except OSError as exc:
            raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from exc
        ctx.note(f"wrote {len(rows)} results to {target}")
    return 0


def _csv_rows(out: TextIO, fields: list[str], rows: list[dict[str, Any]]) -> None:
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                for k, v in row.items()
            }
        )


# -------------------------------------------------------------------------------------------- shared
def _list_row(doc: dict[str, Any], zone: ZoneSource) -> dict[str, Any]:
    customers = (doc.get("totals") or {}).get("customers") or {}
    return {
        **doc,
        "created": format_time(doc.get("created_at"), zone),
        "msgid_count": len(doc.get("msgids") or []) if "msgids" in doc else doc.get("msgid_count"),
        "customers_sent": customers.get("sent"),
    }


def _result_row(doc: dict[str, Any], zone: ZoneSource) -> dict[str, Any]:
    status = doc.get("status")
    return {
        **doc,
        "recipient": doc.get("external_userid") or doc.get("chat_id"),
        "status_name": CUSTOMER_STATUS.get(status, status) if isinstance(status, int) else status,
        "send_time": format_time(doc.get("send_time"), zone),
    }


def count_list(values: Any) -> str:
    """``5: a, b, c, …``: a list's size and first items (create, show and remind print msgid lists so)."""
    if not isinstance(values, list):
        return one_line(values)
    if not values:
        return "0"
    shown = ", ".join(str(v) for v in values[:3])
    return f"{len(values)}: {shown}" + (", …" if len(values) > 3 else "")


def _fail_count(doc: dict[str, Any]) -> Any:
    if isinstance(doc.get("fail_list"), list):
        return len(doc["fail_list"])
    return doc.get("fail_count", doc.get("fail_list_size"))
