"""``wecomctl group-templates``: group welcome templates (``/admin/group-welcome-templates``).

The admin API mirrors WeCom's ``group_welcome_template/*``. A template holds text plus at most one other part
(WeCom would silently keep only the first of image > link > miniprogram > file > video: the API refuses such a
body and says why). The API's ``warnings`` (e.g. a ``%nickname%`` WeCom will not replace) go to stderr.
``reconcile`` compares the DynamoDB mirror with WeCom and, with ``--repair``, makes the mirror follow WeCom.
Parts may name a media-bucket object (``{"image": {"s3_key": ...}}``): ``get`` shows that source content.
"""

from __future__ import annotations

import argparse
from typing import Any

from wecomctl.context import Context
from wecomctl.http import UsageError, segment
from wecomctl.inputs import read_json_file
from wecomctl.output import Column, ZoneSource, format_time, key_values, table

BASE = "/admin/group-welcome-templates"
PARTS = ("image", "link", "miniprogram", "file", "video")  # WeCom's priority order
LIST_COLUMNS = (
    Column("TEMPLATE_ID", "template_id", max_width=40),
    Column("TEXT", "text"),
    Column("PART", "part"),
    Column("UPDATED", "updated"),
)
REPORT_COLUMNS = (
    Column("DRIFT", "kind"),
    Column("TEMPLATE_OR_INTENT", "template_id", max_width=40),
    Column("REPAIR", "repair"),
)


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``group-templates list|get|create|edit|delete|reconcile``."""
    templates = commands.add_parser(
        "group-templates",
        help="group welcome templates (入群欢迎语素材)",
        description="Manage the group welcome templates on WeCom (at most 100 per corp; only the app "
        "that created a template may edit or delete it).",
    )
    actions = templates.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="all templates").set_defaults(func=list_templates)
    for name, func, text in (
        ("get", get_template, "one template, in full"),
        ("delete", delete_template, "delete a template on WeCom and here"),
    ):
        action = actions.add_parser(name, parents=[common], help=text)
        action.add_argument("template_id", metavar="ID")
        action.set_defaults(func=func)
    create = actions.add_parser("create", parents=[common], help="create a template")
    _content_options(create)
    create.add_argument(
        "--notify",
        action=argparse.BooleanOptionalAction,
        help="tell members to apply the template to their groups (WeCom's default: yes; creation only)",
    )
    create.set_defaults(func=create_template)
    edit = actions.add_parser("edit", parents=[common], help="replace a template's content")
    edit.add_argument("template_id", metavar="ID")
    _content_options(edit)
    edit.set_defaults(func=edit_template, notify=None)
    reconcile = actions.add_parser(
        "reconcile", parents=[common], help="compare the mirror with WeCom (and --repair the mirror)"
    )
    reconcile.add_argument(
        "--repair", action="store_true", help="make the mirror follow WeCom (WeCom itself is never changed)"
    )
    reconcile.set_defaults(func=reconcile_templates)


def _content_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", help="a JSON body: text, one of image|link|miniprogram|file|video, notify")
    parser.add_argument("--text", help="template text (≤ 3000 bytes; %%NICKNAME%% is case-sensitive)")


def build_template(args: argparse.Namespace) -> dict[str, Any]:
    """The body from ``--file`` with ``--text``/``--notify`` laid over it (the API validates the rest)."""
    body = read_json_file(args.file, "template") if args.file else {}
    if not isinstance(body, dict):
        raise UsageError(f"template file {args.file} must hold a JSON object")
    if args.text is not None:
        body["text"] = {"content": args.text}
    if args.notify is not None:
        body["notify"] = 1 if args.notify else 0
    if not any(body.get(key) for key in ("text", *PARTS)):
        raise UsageError(
            "a template needs --text and/or --file with an image, link, miniprogram, file or video"
        )
    return body


def _warn(ctx: Context, doc: dict[str, Any]) -> None:
    for warning in doc.get("warnings") or []:
        ctx.note(f"warning: {warning}")


# ------------------------------------------------------------------------------------------ handlers
def list_templates(_args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.get(BASE)
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    items = (response.json() or {}).get("items", [])
    ctx.out(
        table([_row(t, ctx.zone) for t in items], LIST_COLUMNS) if items else "no group welcome templates"
    )
    return 0


def get_template(args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.get(f"{BASE}/{segment(args.template_id)}")
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    ctx.out(describe(response.json(), ctx.zone))
    return 0


def create_template(args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.request("POST", BASE, body=build_template(args))
    doc = response.json() or {}
    _warn(ctx, doc)
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    ctx.out(f"created group welcome template {doc.get('template_id')}")
    return 0


def edit_template(args: argparse.Namespace, ctx: Context) -> int:
    body = build_template(args)
    response = ctx.client.request("PUT", f"{BASE}/{segment(args.template_id)}", body=body)
    _warn(ctx, response.json() or {})
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    ctx.out(f"updated group welcome template {args.template_id}")
    return 0


def delete_template(args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.request("DELETE", f"{BASE}/{segment(args.template_id)}")
    _warn(ctx, response.json() or {})
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    ctx.out(f"deleted group welcome template {args.template_id}")
    return 0


def reconcile_templates(args: argparse.Namespace, ctx: Context) -> int:
    """Exit 0 when the mirror matches WeCom (or every drift was repaired), else 1 (for cron and scripts)."""
    body = {"repair": True} if args.repair else None
    response = ctx.client.request("POST", f"{BASE}/reconcile", body=body)
    doc = response.json() or {}
    if ctx.json_mode:
        ctx.raw(response)
    else:
        ctx.out(_report(doc))
    settled = all(d.get("repaired") for d in doc.get("drift", [])) and not doc.get("unchecked")
    return 0 if doc.get("in_sync") or (args.repair and settled) else 1


def _report(doc: dict[str, Any]) -> str:
    checked = doc.get("checked") or {}
    lines = [
        f"checked {checked.get('templates', 0)} mirrored templates and {checked.get('intents', 0)} open adds"
    ]
    rows = [
        {
            "kind": d.get("kind"),
            "template_id": d.get("template_id") or d.get("intent_id"),
            "repair": (d.get("repair") if d.get("repaired") else "NOT repaired") if "repaired" in d else "",
        }
        for d in doc.get("drift", [])
    ]
    lines.append(table(rows, REPORT_COLUMNS) if rows else "no drift: the mirror matches WeCom")
    lines += [f"unchecked {u.get('template_id')}: {u.get('reason')}" for u in doc.get("unchecked", [])]
    if doc.get("in_flight"):
        lines.append(f"{doc['in_flight']} add(s) still in flight: run again in a minute")
    return "\n".join(lines)


def describe(doc: dict[str, Any], zone: ZoneSource) -> str:
    """One template: its source content (bucket references as written); when the media refresh could not
    edit it in WeCom, why (its attachment will expire)."""
    part = next((p for p in PARTS if doc.get(p)), None)
    pairs = [
        ("template_id", doc.get("template_id")),
        ("text", (doc.get("text") or {}).get("content")),
        (part or "part", doc.get(part) if part else None),
        ("notify", doc.get("notify")),
        ("origin", doc.get("origin")),
        ("mirrored", doc.get("mirrored")),
        ("in_sync", doc.get("in_sync")),
        ("updated", format_time(doc.get("updated_at_ms") or doc.get("updated_at"), zone)),
    ]
    if doc.get("media_refresh_error"):
        pairs.append(("media_error", doc["media_refresh_error"]))
    return key_values(pairs)


def _row(doc: dict[str, Any], zone: ZoneSource) -> dict[str, Any]:
    return {
        "template_id": doc.get("template_id"),
        "text": (doc.get("text") or {}).get("content"),
        "part": next((p for p in PARTS if doc.get(p)), None),
        "updated": format_time(doc.get("updated_at_ms") or doc.get("updated_at"), zone),
    }
