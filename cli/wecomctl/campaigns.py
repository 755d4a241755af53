"""``wecomctl campaigns``: mass-send campaigns (``/admin/campaigns``).

``create`` always sends an ``Idempotency-Key``. Unless ``--idempotency-key`` is given it is derived from the
request body (a hash of its canonical JSON), so re-running the very same command after a timeout or a crash
returns the campaign the first run created instead of messaging every customer twice. The flip side: to send
the same content to the same audience again on purpose, pass a new ``--idempotency-key``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from typing import Any, TextIO

from wecomctl.audience import DEFAULT_COLUMN, read_audience
from wecomctl.context import Context
from wecomctl.http import ApiError, Response, UsageError, segment
from wecomctl.inputs import read_json_file
from wecomctl.output import Column, format_time, key_values, local_iso, one_line, table

BASE = "/admin/campaigns"
KEY_PREFIX = "wecomctl-"
CUSTOMER_STATUS = {0: "unsent", 1: "sent", 2: "not_friend", 3: "limit_reached"}
CREATE_HELP = """\
Create a mass-send campaign (one WeCom task per 10 000 customers), now or at --send-at.

Re-running is safe: every request carries an Idempotency-Key, by default derived from the
request content (a hash of the body), so running the same command again after a timeout or
a crash returns the campaign the first run created and messages nobody twice. To send the
same content to the same audience again on purpose, pass a new --idempotency-key.

examples:
  wecomctl campaigns create --text 'Spring sale starts today' --audience customers.csv
  wecomctl campaigns create --text 'Hi all' --chat-type group --sender zhangsan \\
      --send-at 2025-06-01T09:00"""
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


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``campaigns create|list|show|cancel|remind|results``."""
    campaigns = commands.add_parser(
        "campaigns",
        help="mass-send campaigns: create, follow, cancel, remind",
        description="Mass-send campaigns (WeCom add_msg_template). A campaign becomes one WeCom task per "
        "10 000 customers; members confirm on their phones, so 'created' is not 'delivered': follow it "
        "with 'show' and 'results'.",
    )
    actions = campaigns.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add_create(actions, common)
    listing = actions.add_parser("list", parents=[common], help="campaigns, newest first")
    listing.add_argument(
        "--status", help="only this status: scheduled, creating, active, completed, cancelled or failed"
    )
    _add_paging(listing, "campaigns")
    listing.set_defaults(func=list_campaigns)
    for name, func, text in (
        ("show", show_campaign, "status, msgids, delivery funnel and reminders of one campaign"),
        ("cancel", cancel_campaign, "cancel: members who have not sent yet cannot send any more"),
        ("remind", remind_campaign, "remind the members who have not sent yet (≤ 3 per msgid per 24 h)"),
    ):
        action = actions.add_parser(name, parents=[common], help=text, description=text)
        action.add_argument("campaign_id", metavar="ID")
        action.set_defaults(func=func)
    _add_results(actions, common)


def _add_create(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    create = actions.add_parser(
        "create",
        parents=[common],
        help="create a campaign (safe to re-run: see --idempotency-key)",
        description=CREATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    create.add_argument("--text", help="message text (≤ 4000 bytes)")
    create.add_argument("--attachments", metavar="FILE", help="a JSON list of add_msg_template attachments")
    create.add_argument(
        "--audience",
        metavar="FILE",
        help="recipients: one external_userid per line, or a CSV with a header (see --column); blank lines, "
        "#-comments, a BOM and duplicates are ignored; '-' reads stdin. With --chat-type group it lists "
        "chat_ids instead. Without it, every customer of --sender is targeted",
    )
    create.add_argument(
        "--column", help=f"the CSV column to read (default {DEFAULT_COLUMN}; chat_id for group)"
    )
    create.add_argument("--sender", metavar="USERID", help="the member who sends (required for group)")
    create.add_argument("--chat-type", choices=("single", "group"), help="default: single")
    create.add_argument("--name", help="a name for operators")
    create.add_argument(
        "--send-at", metavar="WHEN", help="schedule: ISO 8601 (no offset = local time) or epoch"
    )
    create.add_argument("--file", help="a JSON body with further add_msg_template fields; flags override it")
    create.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="default: derived from the request content, so re-running the same command returns the "
        "same campaign and sends nothing twice; pass a new key to send identical content again on purpose",
    )
    create.set_defaults(func=create_campaign)


def _add_results(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    results = actions.add_parser(
        "results",
        parents=[common],
        help="per-customer (or per-chat) results of a campaign",
        description="Per-recipient send results as last synced from WeCom: unsent, sent, not_friend, "
        "limit_reached. --csv writes every result (all pages) to FILE.",
    )
    results.add_argument("campaign_id", metavar="ID")
    results.add_argument("--status", help="only this status (unsent, sent, not_friend, limit_reached)")
    results.add_argument("--member", help="only this member's (userid) customers")
    results.add_argument("--csv", metavar="FILE", help="write all results as CSV to FILE ('-' = stdout)")
    _add_paging(results, "results")
    results.set_defaults(func=campaign_results)


def _add_paging(parser: argparse.ArgumentParser, noun: str) -> None:
    parser.add_argument("--limit", type=int, metavar="N", help=f"{noun} per page")
    parser.add_argument("--cursor", help="continue from a cursor printed by an earlier page")
    parser.add_argument("--all", action="store_true", help="follow the cursor to the last page")


# ---------------------------------------------------------------------------------------------- create
def build_campaign(args: argparse.Namespace) -> dict[str, Any]:
    """The POST body: ``--file`` (if any), then the flags; the audience goes where the chat type wants it."""
    body = read_json_file(args.file, "campaign") if args.file else {}
    if not isinstance(body, dict):
        raise UsageError(f"campaign file {args.file} must hold a JSON object")
    body["chat_type"] = args.chat_type or body.get("chat_type") or "single"
    if args.text is not None:
        body["text"] = {"content": args.text}
    if args.attachments:
        body["attachments"] = read_json_file(args.attachments, "attachments")
    if args.audience:
        group = body["chat_type"] == "group"
        column = args.column or ("chat_id" if group else DEFAULT_COLUMN)
        body["chat_id_list" if group else "external_userid"] = read_audience(args.audience, column)
    for key in ("sender", "name"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    if args.send_at:
        body["send_at"] = local_iso(args.send_at, "--send-at")
    if not body.get("text") and not body.get("attachments"):
        raise UsageError("a campaign needs --text and/or --attachments")
    return body


def idempotency_key(body: dict[str, Any]) -> str:
    """A key that is the same for the same request content and differs otherwise (canonical JSON hash)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return KEY_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def create_campaign(args: argparse.Namespace, ctx: Context) -> int:
    body = build_campaign(args)
    key = args.idempotency_key or idempotency_key(body)
    try:
        response = ctx.client.request("POST", BASE, body=body, headers={"Idempotency-Key": key})
    except ApiError as error:
        if error.code == "idempotency_conflict" and not ctx.json_mode:
            error.message += " (pass a new --idempotency-key to create another campaign)"
        raise
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    doc = response.json()
    ctx.out(f"campaign {doc.get('campaign_id')} {_created_verb(response)}")
    pairs: list[tuple[str, Any]] = [
        ("status", doc.get("status")),
        ("audience", len(body.get("external_userid") or body.get("chat_id_list") or []) or "by sender"),
        ("send_at", format_time(doc.get("send_at"))),
        ("msgids", _count_list(doc.get("msgids"))),
        ("fail_list", _count_list(doc.get("fail_list"))),
        ("idempotency_key", key),
    ]
    pairs += [
        (f"chunk {e.get('chunk')}", f"WeCom errcode {e.get('errcode')} {e.get('errmsg', '')}")
        for e in doc.get("chunk_errors") or []
    ]
    ctx.out(key_values(pairs))
    return 0


def _created_verb(response: Response) -> str:
    """201 created, 202 still creating (the schedule finishes it), 200 or a replay header: created before."""
    replayed = any(k.lower() == "idempotent-replayed" and v == "true" for k, v in response.headers.items())
    if replayed or response.status == 200:
        return "was already created by an earlier run (same idempotency key): nothing new was sent"
    if response.status == 202:
        return "is being created: the remaining WeCom tasks are finished by the scheduled function"
    return "created"


# ------------------------------------------------------------------------------------- list and show
def list_campaigns(args: argparse.Namespace, ctx: Context) -> int:
    query = {"status": args.status, "limit": args.limit, "cursor": args.cursor}
    return ctx.list_pages(
        BASE, query, follow=args.all, columns=LIST_COLUMNS, shape=_list_row, empty="no campaigns"
    )


def show_campaign(args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.get(f"{BASE}/{segment(args.campaign_id)}")
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    ctx.out(describe(response.json()))
    return 0


def describe(doc: dict[str, Any]) -> str:
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
        ("created", format_time(doc.get("created_at"))),
        ("send_at", format_time(doc.get("send_at"))),
        ("sent_at", format_time(doc.get("sent_at"))),
        ("msgids", _count_list(doc.get("msgids"))),
        ("fail_list", _fail_count(doc)),
        ("chunks", _chunk_states(doc.get("chunks"))),
    ]
    pairs += [(k, format_time(doc[k])) for k in ("cancelled_at", "next_remind_at") if doc.get(k)]
    if doc.get("errcode") is not None:
        pairs.append(("wecom_error", f"{doc['errcode']} {doc.get('errmsg', '')}".strip()))
    synced = doc.get("totals_synced_at")
    heading = (
        f"delivery (synced {format_time(synced)}):" if synced else "delivery (not synced from WeCom yet):"
    )
    delivery = heading + "\n" + funnel(doc.get("totals") or {})
    return "\n\n".join([key_values(pairs), delivery, _members(doc), _reminders(doc.get("reminders"))])


def _members(doc: dict[str, Any]) -> str:
    """Per member: sent or not, when, and what became of their customers (as last synced)."""
    members = doc.get("members") or []
    if not members:
        return "members: none synced yet"
    rows = [
        {
            **m,
            "send_time": format_time(m.get("send_time")),
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


def _reminders(reminders: Any) -> str:
    items = reminders if isinstance(reminders, list) else (reminders or {}).get("items") or []
    if not items:
        return "reminders: none yet"
    rows = [{**r, "at": format_time(r.get("at_ms") or r.get("at"))} for r in items]
    return f"reminders: {len(items)}\n" + table(rows, REMINDER_COLUMNS)


# ------------------------------------------------------------------------------------ cancel, remind
def cancel_campaign(args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.request("POST", f"{BASE}/{segment(args.campaign_id)}/cancel")
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    doc = response.json() or {}
    ctx.out(f"campaign {args.campaign_id}: {doc.get('status', 'cancelled')}")
    return 0


def remind_campaign(args: argparse.Namespace, ctx: Context) -> int:
    """A 429 means WeCom's cap (3 per msgid per 24 h) or the campaign's policy refused: say when to retry."""
    try:
        response = ctx.client.request("POST", f"{BASE}/{segment(args.campaign_id)}/remind")
    except ApiError as error:
        if error.status == 429 and error.next_allowed_at is not None and not ctx.json_mode:
            error.message += f" — next reminder allowed at {format_time(error.next_allowed_at)}"
        raise
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    doc = response.json() or {}
    ctx.out(f"campaign {args.campaign_id}: reminded {_count_list(doc.get('reminded') or [])}")
    for kind in ("refused", "failed"):
        for item in doc.get(kind) or []:
            detail = item.get("next_allowed_at")
            when = f", next allowed at {format_time(detail)}" if detail else ""
            ctx.note(f"{kind}: {item.get('msgid')}{when}")
    return 0


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

    The columns are those of the API's own ``?format=csv`` first, then any further field the rows carry.
    """
    rows = [
        row for page in ctx.client.pages(path, query, follow=True) for row in page.json().get("items", [])
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
def _list_row(doc: dict[str, Any]) -> dict[str, Any]:
    customers = (doc.get("totals") or {}).get("customers") or {}
    return {
        **doc,
        "created": format_time(doc.get("created_at")),
        "msgid_count": len(doc.get("msgids") or []) if "msgids" in doc else doc.get("msgid_count"),
        "customers_sent": customers.get("sent"),
    }


def _result_row(doc: dict[str, Any]) -> dict[str, Any]:
    status = doc.get("status")
    return {
        **doc,
        "recipient": doc.get("external_userid") or doc.get("chat_id"),
        "status_name": CUSTOMER_STATUS.get(status, status) if isinstance(status, int) else status,
        "send_time": format_time(doc.get("send_time")),
    }


def _count_list(values: Any) -> str:
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
