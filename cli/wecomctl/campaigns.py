"""``wecomctl campaigns``: mass-send campaigns (``/admin/campaigns``).

``create`` always sends an ``Idempotency-Key``. Unless ``--idempotency-key`` is given it is derived from the
request body (a hash of its canonical JSON), so re-running the very same command after a timeout or a crash
returns the campaign the first run created instead of messaging every customer twice. The flip side: to send
the same content to the same audience again on purpose, pass a new ``--idempotency-key``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from typing import Any

from wecomctl.audience import DEFAULT_COLUMN, read_audience
from wecomctl.campaign_views import (
    BASE,
    campaign_results,
    campaign_skipped,
    count_list,
    list_campaigns,
    show_campaign,
)
from wecomctl.context import Context
from wecomctl.http import ApiError, Response, UsageError, segment
from wecomctl.inputs import read_json_file
from wecomctl.output import format_time, key_values, time_option

KEY_PREFIX = "wecomctl-"
CREATE_HELP = """\
Create a mass-send campaign (one WeCom task per 10 000 customers), now or at --send-at.

Re-running is safe: every request carries an Idempotency-Key, by default derived from the
request content (a hash of the body), so running the same command again after a timeout or
a crash returns the campaign the first run created and messages nobody twice. To send the
same content to the same audience again on purpose, pass a new --idempotency-key.

examples:
  wecomctl campaigns create --text 'Spring sale starts today' --audience customers.csv
  wecomctl campaigns create --text 'Hi all' --chat-type group --sender zhangsan \\
      --send-at 2025-06-01T09:00
  wecomctl campaigns create --text 'New menu' --audience customers.csv --skip-capped"""
PREVIEW_HELP = """\
What 'campaigns create' with the same flags would do, without sending or storing anything:
how many customers and WeCom tasks, how many of them WeCom's per-customer cap holds back in
the current period (and which, up to 100), and warnings. With --skip-capped it shows what the
create would send once the capped customers are left out.

examples:
  wecomctl campaigns preview --text 'Spring sale starts today' --audience customers.csv
  wecomctl campaigns preview --text 'Spring sale' --audience customers.csv --skip-capped"""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``campaigns create|preview|list|show|cancel|remind|skipped|results``."""
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
        ("skipped", campaign_skipped, "the customers a --skip-capped create left out, one per line"),
    ):
        action = actions.add_parser(name, parents=[common], help=text, description=text)
        action.add_argument("campaign_id", metavar="ID")
        action.set_defaults(func=func)
    _add_results(actions, common)


def _add_create(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """``create`` and ``preview``: one set of flags (``_add_request_flags``), so a preview is always asked
    with exactly what the create would send."""
    for name, text, description, func in (
        ("create", "create a campaign (safe to re-run: see --idempotency-key)", CREATE_HELP, create_campaign),
        (
            "preview",
            "what 'create' with the same flags would do: audience, WeCom tasks, capped customers",
            PREVIEW_HELP,
            preview_campaign,
        ),
    ):
        parser = actions.add_parser(
            name,
            parents=[common],
            help=text,
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_request_flags(parser)
        parser.set_defaults(func=func)


def _add_request_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that make the request (``build_campaign`` and the Idempotency-Key), shared by ``create``
    and ``preview``: a create command line previews by changing its one word."""
    parser.add_argument("--text", help="message text (≤ 4000 bytes)")
    parser.add_argument("--attachments", metavar="FILE", help="a JSON list of add_msg_template attachments")
    parser.add_argument(
        "--audience",
        metavar="FILE",
        help="recipients: one external_userid per line, or a CSV with a header (see --column); blank lines, "
        "#-comments, a BOM and duplicates are ignored; '-' reads stdin. With --chat-type group it lists "
        "chat_ids instead. Without it, every customer of --sender is targeted",
    )
    parser.add_argument(
        "--column", help=f"the CSV column to read (default {DEFAULT_COLUMN}; chat_id for group)"
    )
    parser.add_argument("--sender", metavar="USERID", help="the member who sends (required for group)")
    parser.add_argument("--chat-type", choices=("single", "group"), help="default: single")
    parser.add_argument("--name", help="a name for operators")
    parser.add_argument(
        "--send-at", metavar="WHEN", help="schedule: ISO 8601 (no offset = local time) or epoch"
    )
    parser.add_argument("--file", help="a JSON body with further add_msg_template fields; flags override it")
    parser.add_argument(
        "--skip-capped",
        action="store_true",
        help="leave out the customers WeCom's per-customer cap (MASS_SEND_CUSTOMER_LIMIT) holds back in the "
        "current period; needs --audience of customers",
    )
    parser.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="default: derived from the request content, so re-running the same command returns the "
        "same campaign and sends nothing twice; pass a new key to send identical content again on purpose "
        "(preview checks it and stores nothing)",
    )


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
def build_campaign(args: argparse.Namespace, ctx: Context) -> dict[str, Any]:
    """The POST body: ``--file`` (if any), then the flags; the audience goes where the chat type wants it
    (how many ids the file gave is said on stderr, before anything is sent)."""
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
        audience = read_audience(args.audience, column)
        ctx.note(audience.summary(args.audience))
        body["chat_id_list" if group else "external_userid"] = audience.ids
    for key in ("sender", "name"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    if args.send_at:
        body["send_at"] = time_option(args.send_at, "--send-at")
    if args.skip_capped:
        body["skip_capped"] = True
    if not body.get("text") and not body.get("attachments"):
        raise UsageError("a campaign needs --text and/or --attachments")
    return body


def idempotency_key(body: dict[str, Any]) -> str:
    """A key that is the same for the same request content and differs otherwise (canonical JSON hash)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return KEY_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def create_campaign(args: argparse.Namespace, ctx: Context) -> int:
    body = build_campaign(args, ctx)
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
        ("send_at", format_time(doc.get("send_at"), ctx.zone)),
        ("msgids", count_list(doc.get("msgids"))),
        ("fail_list", count_list(doc.get("fail_list"))),
        ("idempotency_key", key),
    ]
    if doc.get("skipped_capped") is not None:
        pairs.insert(2, ("skipped_capped", doc["skipped_capped"]))
    pairs += [
        (f"chunk {e.get('chunk')}", f"WeCom errcode {e.get('errcode')} {e.get('errmsg', '')}")
        for e in doc.get("chunk_errors") or []
    ]
    ctx.out(key_values(pairs))
    return 0


def preview_campaign(args: argparse.Namespace, ctx: Context) -> int:
    """The API's preview of the body ``create`` would send (a given Idempotency-Key is checked, not taken)."""
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    response = ctx.client.request("POST", f"{BASE}/preview", body=build_campaign(args, ctx), headers=headers)
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    doc = response.json()
    quota = doc.get("quota") or {}
    pairs: list[tuple[str, Any]] = [
        ("audience", _or_unknown(doc.get("audience_size"))),
        ("wecom_tasks", doc.get("chunks")),
        ("cap", f"{quota.get('limit')} per {quota.get('rule')} (period {quota.get('period')})"),
        ("capped", _or_unknown(quota.get("capped"))),
        ("pending", _or_unknown(quota.get("pending"))),
    ]
    sample = quota.get("capped_sample") or []
    if sample:
        more = (quota.get("capped") or 0) - len(sample)
        pairs.append(("capped_ids", ", ".join(sample) + (f" … and {more} more" if more > 0 else "")))
    ctx.out(key_values(pairs))
    for warning in doc.get("warnings") or []:
        ctx.note(f"warning: {warning}")
    return 0


def _or_unknown(value: Any) -> Any:
    return "unknown (WeCom chooses)" if value is None else value


def _created_verb(response: Response) -> str:
    """201 created, 202 still creating (the schedule finishes it), 200 or a replay header: created before."""
    replayed = any(k.lower() == "idempotent-replayed" and v == "true" for k, v in response.headers.items())
    if replayed or response.status == 200:
        return "was already created by an earlier run (same idempotency key): nothing new was sent"
    if response.status == 202:
        return "is being created: the remaining WeCom tasks are finished by the scheduled function"
    return "created"


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
            error.message += f" — next reminder allowed at {format_time(error.next_allowed_at, ctx.zone)}"
        raise
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    doc = response.json() or {}
    ctx.out(f"campaign {args.campaign_id}: reminded {count_list(doc.get('reminded') or [])}")
    for kind in ("refused", "failed"):
        for item in doc.get(kind) or []:
            detail = item.get("next_allowed_at")
            when = f", next allowed at {format_time(detail, ctx.zone)}" if detail else ""
            ctx.note(f"{kind}: {item.get('msgid')}{when}")
    return 0
