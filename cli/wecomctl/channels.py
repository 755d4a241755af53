"""``wecomctl channels``: channels (渠道活码), WeCom 「联系我」 QR codes whose state is the channel id
(``/admin/channels``).

``put`` creates the code (one member: a single-member code, several: a multi-member one) or updates it;
``show`` prints the settings and the last 30 days of arrivals; ``qr`` downloads the QR image (to ``ID.png``
unless ``--out``; an existing file is kept unless ``--force``); ``reconcile`` compares the channels with the
codes WeCom holds and, with ``--repair``, imports, adopts and marks gone.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import requests

from wecomctl.context import Context
from wecomctl.http import ConnectError, UsageError, segment
from wecomctl.inputs import read_json_file
from wecomctl.output import Column, ZoneSource, format_time, key_values, table

BASE = "/admin/channels"
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # a QR code is a few kilobytes
COUNTERS = ("added", "welcomed", "tagged", "tag_failed", "lost")
LIST_COLUMNS = (
    Column("CHANNEL_ID", "channel_id"),
    Column("NAME", "name"),
    Column("STATUS", "status"),
    Column("MEMBERS", "members"),
    Column("TAGS", "tags", right=True),
    Column("WELCOME", "welcome"),
    Column("UPDATED", "updated"),
)
STATS_COLUMNS = (Column("DATE", "date"), *(Column(name.upper(), name, right=True) for name in COUNTERS))
REPORT_COLUMNS = (Column("DRIFT", "kind"), Column("CHANNEL_OR_STATE", "name"), Column("CONFIG_ID", "config_id"),
                  Column("DETAIL", "detail"), Column("REPAIRED", "repaired"))  # fmt: skip


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``channels put|list|show|qr|delete|reconcile``."""
    channels = commands.add_parser(
        "channels",
        help="channels (渠道活码): QR codes with their own welcome and tags",
        description="Manage channels: WeCom 「联系我」 QR codes whose state is the channel id. A customer who "
        "scans one gets the channel's welcome (ahead of every welcome rule) and its tags.",
    )
    actions = channels.add_subparsers(dest="action", required=True, metavar="ACTION")
    put = actions.add_parser("put", parents=[common], help="create or update a channel (and its QR code)")
    put.add_argument("channel_id", metavar="ID", help="the State: 1-30 of A-Za-z0-9_-")
    put.add_argument("--member", action="append", dest="members", metavar="USERID", help="repeat for several")
    put.add_argument("--tag", action="append", dest="tags", metavar="TAG_ID", help="repeat for several")
    put.add_argument("--name", help="what operators call it (default: the id)")
    put.add_argument("--remark", help="WeCom's remark of the code (≤ 30 characters)")
    put.add_argument(
        "--skip-verify",
        action=argparse.BooleanOptionalAction,
        help="add customers without the member's confirmation (default: yes)",
    )
    content = put.add_mutually_exclusive_group()
    content.add_argument(
        "--welcome-text", metavar="TEXT", help="the channel's welcome text (%%NICKNAME%% works)"
    )
    content.add_argument("--file", help="a JSON body: name, members, skip_verify, tags, welcome, remark")
    put.set_defaults(func=put_channel)
    listing = actions.add_parser("list", parents=[common], help="all channels")
    listing.add_argument("--limit", type=int, metavar="N", help="channels per page")
    listing.add_argument("--cursor", help="continue from a cursor printed by an earlier page")
    listing.add_argument("--all", action="store_true", help="follow the cursor to the last page")
    listing.set_defaults(func=list_channels)
    for name, func, text in (
        ("show", show_channel, "a channel's settings and its last 30 days"),
        ("delete", delete_channel, "delete the QR code on WeCom and the channel here"),
    ):
        action = actions.add_parser(name, parents=[common], help=text)
        action.add_argument("channel_id", metavar="ID")
        action.set_defaults(func=func)
    qr = actions.add_parser("qr", parents=[common], help="download the channel's QR image")
    qr.add_argument("channel_id", metavar="ID")
    qr.add_argument("--out", metavar="FILE", help="where to write it (default: ID.png)")
    qr.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    qr.set_defaults(func=download_qr)
    reconcile = actions.add_parser(
        "reconcile", parents=[common], help="compare the channels with the codes WeCom holds"
    )
    reconcile.add_argument(
        "--repair", action="store_true", help="import unknown codes, adopt lost ones, mark gone ones"
    )
    reconcile.set_defaults(func=reconcile_channels)


def build_channel(args: argparse.Namespace) -> dict[str, Any]:
    """The body from ``--file`` with the flags laid over it (the API validates the rest)."""
    body = read_json_file(args.file, "channel") if args.file else {}
    if not isinstance(body, dict):
        raise UsageError(f"channel file {args.file} must hold a JSON object")
    flags = {"members": args.members, "tags": args.tags, "name": args.name, "remark": args.remark}
    body |= {key: value for key, value in flags.items() if value is not None}
    if args.skip_verify is not None:
        body["skip_verify"] = args.skip_verify
    if args.welcome_text is not None:
        body["welcome"] = {"text": {"content": args.welcome_text}}
    body.setdefault("name", args.channel_id)
    if not body.get("members"):
        raise UsageError("a channel needs at least one --member (or members in --file)")
    return body


# ------------------------------------------------------------------------------------------ handlers
def put_channel(args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.request("PUT", f"{BASE}/{segment(args.channel_id)}", body=build_channel(args))
    doc = response.json() or {}
    for warning in doc.get("warnings") or []:
        ctx.note(f"warning: {warning}")
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    verb = "created" if response.status == 201 else "updated"
    ctx.out(
        f"{verb} channel {args.channel_id}: config_id {doc.get('config_id')}\nQR code: {doc.get('qr_code')}"
    )
    return 0


def list_channels(args: argparse.Namespace, ctx: Context) -> int:
    query = {"limit": args.limit, "cursor": args.cursor}
    return ctx.list_pages(BASE, query, follow=args.all, columns=LIST_COLUMNS, shape=_row, empty="no channels")


def show_channel(args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.get(f"{BASE}/{segment(args.channel_id)}")
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    ctx.out(describe(response.json(), ctx.zone))
    return 0


def delete_channel(args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.request("DELETE", f"{BASE}/{segment(args.channel_id)}")
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    ctx.out(f"deleted channel {args.channel_id} (its QR code no longer works)")
    return 0


def download_qr(args: argparse.Namespace, ctx: Context) -> int:
    """Write the QR image the channel's ``qr_code`` URL serves (WeCom's, public: no signing)."""
    target = args.out or f"{args.channel_id}.png"
    if os.path.exists(target) and not args.force:
        raise UsageError(f"{target} exists: choose another --out or add --force")
    url = (ctx.client.get(f"{BASE}/{segment(args.channel_id)}").json() or {}).get("qr_code")
    if not url:
        raise UsageError(f"channel {args.channel_id} has no QR code yet (its creation did not finish)")
    image = _fetch(url, ctx.client.timeout)
    with open(target, "wb" if args.force else "xb") as out:
        out.write(image)
    ctx.out(f"wrote {target} ({len(image)} bytes)")
    return 0


def _fetch(url: str, timeout: float) -> bytes:
    try:
        answer = requests.get(url, timeout=timeout, stream=True)
        answer.raise_for_status()
        image = answer.raw.read(MAX_IMAGE_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise ConnectError(f"cannot download the QR image: {type(exc).__name__}") from exc
    if len(image) > MAX_IMAGE_BYTES or not image:
        raise ConnectError("the QR image answer is empty or too large")
    return bytes(image)


def reconcile_channels(args: argparse.Namespace, ctx: Context) -> int:
    """Exit 0 when the channels match WeCom (or the repair settled what it can), else 1 (for cron)."""
    response = ctx.client.request("POST", f"{BASE}/reconcile", body={"repair": True} if args.repair else None)
    doc = response.json() or {}
    if ctx.json_mode:
        ctx.raw(response)
    else:
        ctx.out(_report(doc))
    return 0 if doc.get("in_sync") else 1


# ------------------------------------------------------------------------------------------ views
def describe(doc: dict[str, Any], zone: ZoneSource) -> str:
    """Settings, then the stats table (30 days and the totals)."""
    welcome = doc.get("welcome") or {}
    pairs = [
        ("channel_id", doc.get("channel_id")),
        ("name", doc.get("name")),
        ("status", doc.get("status")),
        ("members", ", ".join(doc.get("members") or [])),
        ("skip_verify", doc.get("skip_verify")),
        ("tags", ", ".join(doc.get("tags") or []) or "-"),
        ("welcome", (welcome.get("text") or {}).get("content") or ("attachments only" if welcome else "-")),
        ("attachments", len(welcome.get("attachments") or [])),
        ("remark", doc.get("remark") or "-"),
        ("config_id", doc.get("config_id")),
        ("qr_code", doc.get("qr_code")),
        ("updated", format_time(doc.get("updated_at_ms"), zone)),
    ]
    stats = doc.get("stats") or {}
    rows = [*stats.get("days", []), {"date": "TOTAL", **(stats.get("totals") or {})}]
    return key_values(pairs) + "\n\n" + table(rows, STATS_COLUMNS)


def _row(doc: dict[str, Any], zone: ZoneSource) -> dict[str, Any]:
    return {
        "channel_id": doc.get("channel_id"),
        "name": doc.get("name"),
        "status": doc.get("status"),
        "members": ", ".join(doc.get("members") or []),
        "tags": len(doc.get("tags") or []),
        "welcome": "yes" if doc.get("welcome") else "-",
        "updated": format_time(doc.get("updated_at_ms"), zone),
    }


def _report(doc: dict[str, Any]) -> str:
    checked = doc.get("checked") or {}
    lines = [f"checked {checked.get('wecom', 0)} codes on WeCom and {checked.get('channels', 0)} channels"]
    rows = [
        *({"kind": "unknown_in_store", "name": u.get("state"), "config_id": u.get("config_id"),
           "detail": "importable" if u.get("importable") else u.get("reason"), "repaired": u.get("repaired")}
          for u in doc.get("unknown_in_store", [])),
        *({"kind": "gone_in_wecom", "name": g.get("channel_id"), "config_id": g.get("config_id"),
           "detail": "", "repaired": g.get("repaired")} for g in doc.get("gone_in_wecom", [])),
        *({"kind": "differs", "name": d.get("channel_id"), "config_id": d.get("config_id"),
           "detail": ", ".join(sorted(d.get("fields") or {})), "repaired": None} for d in doc.get("differs", [])),
        *({"kind": "pending", "name": p.get("channel_id"), "config_id": p.get("config_id"),
           "detail": "in flight" if p.get("in_flight") else "", "repaired": p.get("repaired")}
          for p in doc.get("pending", [])),
        *({"kind": "duplicate", "name": d.get("channel_id"), "config_id": d.get("config_id"),
           "detail": f"kept {d.get('kept')}" + (f": {d['reason']}" if d.get("reason") else ""),
           "repaired": d.get("repaired")} for d in doc.get("duplicates", [])),
    ]  # fmt: skip
    for row in rows:
        row["repaired"] = "" if row["repaired"] is None else ("yes" if row["repaired"] else "NO")
    lines.append(table(rows, REPORT_COLUMNS) if rows else "in sync: every channel matches its code on WeCom")
    lines += [f"unchecked {u.get('config_id')}: {u.get('reason')}" for u in doc.get("unchecked", [])]
    return "\n".join(lines)
