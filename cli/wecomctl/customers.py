"""``wecomctl customers show ID``: one customer's welcomes, mass messages and the cap
(``GET /admin/customers/{external_userid}``).

The mass messages come a page at a time, newest first; ``--all`` follows the cursor to the end, otherwise
the next cursor is printed on stderr for ``--cursor``. The quota line answers support's first question
before a campaign goes out: how many more can this customer receive in this period?
"""

from __future__ import annotations

import argparse
from typing import Any

from wecomctl.context import Context
from wecomctl.http import segment
from wecomctl.output import Column, ZoneSource, format_time, table

BASE = "/admin/customers"
WELCOME_COLUMNS = (
    Column("TIME", "time"),
    Column("MEMBER", "userid"),
    Column("STATE", "state"),
    Column("RULE", "rule_id"),
    Column("OUTCOME", "outcome"),
)
MESSAGE_COLUMNS = (
    Column("SENT", "time"),
    Column("CAMPAIGN", "campaign_id"),
    Column("MSGID", "msgid"),
    Column("MEMBER", "userid"),
    Column("STATUS", "status"),
)


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``customers show``."""
    parser = commands.add_parser("customers", parents=[common], help="one customer's history and cap")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser(
        "show",
        parents=[common],
        help="welcomes, mass messages and the quota of one customer",
        description="What this customer got from the corp: welcomes, every synced mass message (ours, the "
        "admin console's and members' own), and WeCom's per-customer cap in the current period.",
    )
    show.add_argument("external_userid", metavar="ID", help="the customer's external_userid")
    show.add_argument("--limit", type=int, metavar="N", help="mass messages per page, 1-100 (API default 50)")
    show.add_argument("--cursor", help="continue from a cursor printed by an earlier page")
    show.add_argument("--all", action="store_true", help="follow the cursor to the last page")
    show.set_defaults(func=show_customer)


def show_customer(args: argparse.Namespace, ctx: Context) -> int:
    query = {"limit": args.limit, "cursor": args.cursor}
    pages = list(ctx.client.pages(f"{BASE}/{segment(args.external_userid)}", query, follow=args.all))
    if ctx.json_mode and not args.all:
        ctx.raw(pages[0])
        return 0
    first = pages[0].json()
    messages = [m for page in pages for m in page.json().get("mass_messages", [])]
    cursor = pages[-1].json().get("cursor")
    if ctx.json_mode:
        ctx.dump({**first, "mass_messages": messages, "cursor": cursor})
        return 0
    ctx.out(f"customer {first['external_userid']}")
    ctx.out(quota_line(first["quota"]))
    ctx.out("")
    ctx.out(_section("welcomes", first["welcomes"], WELCOME_COLUMNS, "create_time", ctx.zone))
    ctx.out("")
    ctx.out(_section("mass messages", messages, MESSAGE_COLUMNS, "send_time", ctx.zone))
    if cursor:
        ctx.note(f"more: add --cursor {cursor} (or --all)")
    return 0


def quota_line(quota: dict[str, Any]) -> str:
    """``quota: 3/31 received in 2026-12 (month), 28 remaining, 1 pending``, and ``CAPPED`` when capped."""
    line = (
        f"quota: {quota['received']}/{quota['limit']} received in {quota['period']} ({quota['rule']}), "
        f"{quota['remaining']} remaining, {quota['pending']} pending"
    )
    return f"{line} - CAPPED" if quota["capped"] else line


def _section(
    title: str, rows: list[dict[str, Any]], columns: tuple[Column, ...], time_key: str, zone: ZoneSource
) -> str:
    if not rows:
        return f"{title}: none"
    shaped = [{**row, "time": format_time(row.get(time_key), zone)} for row in rows]
    return f"{title}:\n{table(shaped, columns)}"
