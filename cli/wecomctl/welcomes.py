"""``wecomctl welcomes``: the welcome log (``GET /admin/welcomes``), newest first.

The log answers pages with a ``cursor``; ``--all`` follows it to the end, otherwise the next cursor is
printed on stderr so a long log can be walked by hand with ``--cursor``.
"""

from __future__ import annotations

import argparse
from typing import Any

from wecomctl.context import Context
from wecomctl.output import Column, ZoneSource, format_time, time_option

PATH = "/admin/welcomes"
COLUMNS = (
    Column("TIME", "time"),
    Column("CUSTOMER", "external_userid"),
    Column("MEMBER", "userid"),
    Column("STATE", "state"),
    Column("RULE", "rule_id"),
    Column("OUTCOME", "outcome"),
    Column("ERRCODE", "errcode", right=True),
    Column("LATENCY_MS", "latency_ms", right=True),
)


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``welcomes``."""
    parser = commands.add_parser(
        "welcomes",
        parents=[common],
        help="the welcome log: what each new customer got",
        description="List welcome outcomes (sent, already_sent, expired, failed, no_rule), newest first. "
        "latency_ms runs from the event's CreateTime to WeCom's answer (the welcome code lives 20 s).",
    )
    parser.add_argument("--customer", metavar="EXT", help="only this customer (external_userid)")
    parser.add_argument("--member", metavar="USERID", help="only customers added by this member")
    parser.add_argument("--state", help="only this channel state")
    parser.add_argument(
        "--since", metavar="WHEN", help="not before WHEN: epoch seconds or ISO 8601 (no offset = local time)"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="records per page, 1-100 (API default 50)")
    parser.add_argument("--cursor", help="continue from a cursor printed by an earlier page")
    parser.add_argument("--all", action="store_true", help="follow the cursor to the last page")
    parser.set_defaults(func=list_welcomes)


def list_welcomes(args: argparse.Namespace, ctx: Context) -> int:
    query = {
        "external_userid": args.customer,
        "userid": args.member,
        "state": args.state,
        "since": time_option(args.since, "--since") if args.since else None,
        "limit": args.limit,
        "cursor": args.cursor,
    }
    return ctx.list_pages(
        PATH, query, follow=args.all, columns=COLUMNS, shape=_row, empty="no welcome records"
    )


def _row(record: dict[str, Any], zone: ZoneSource) -> dict[str, Any]:
    return {**record, "time": format_time(record.get("create_time"), zone)}
