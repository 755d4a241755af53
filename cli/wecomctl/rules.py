"""``wecomctl rules``: the 1:1 welcome rules (``/admin/welcome-rules``).

``put`` takes a whole rule from ``--file`` or builds one from flags; flags given with ``--file`` override the
file's fields, so a checked-in rule can be tried with another text without editing it. Validation is left to
the API (it is the one source of truth and answers with the failing field).
"""

from __future__ import annotations

import argparse
from typing import Any

from wecomctl.context import Context
from wecomctl.http import UsageError, segment
from wecomctl.inputs import read_json_file
from wecomctl.output import Column, ZoneSource, format_time, key_values, table

BASE = "/admin/welcome-rules"
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
PUT_HELP = """\
Create or replace rule ID from --file (the API's JSON body) and/or flags; flags override
the file's fields. The API validates the rule and names the failing field.

example:
  wecomctl rules put expo --text 'Hi %NICKNAME%, welcome to our booth' --priority 10 \\
      --state-prefix expo- --weekdays 1,2,3,4,5 --time-from 09:00 --time-to 18:00"""
LIST_COLUMNS = (
    Column("RULE_ID", "rule_id"),
    Column("PRIORITY", "priority", right=True),
    Column("MATCH", "match"),
    Column("TEXT", "text"),
    Column("ATTACHMENTS", "attachments", right=True),
    Column("UPDATED", "updated"),
)


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``rules list|get|put|delete``."""
    rules = commands.add_parser(
        "rules",
        help="welcome rules: which 1:1 welcome a new customer gets",
        description="Manage the welcome rules. Among the rules that match a new customer (channel state, "
        "member, weekday, time window; every match field optional, AND-ed), the highest priority wins.",
    )
    actions = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="all rules, highest priority first").set_defaults(
        func=list_rules
    )
    get = actions.add_parser("get", parents=[common], help="one rule, in full")
    get.add_argument("rule_id", metavar="ID")
    get.set_defaults(func=get_rule)
    _add_put(actions, common)
    delete = actions.add_parser("delete", parents=[common], help="delete a rule")
    delete.add_argument("rule_id", metavar="ID")
    delete.set_defaults(func=delete_rule)


def _add_put(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    put = actions.add_parser(
        "put",
        parents=[common],
        help="create or replace a rule",
        description=PUT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    put.add_argument("rule_id", metavar="ID", help="1-64 letters, digits, '.', '_' or '-'")
    put.add_argument("--file", help="a JSON rule body: priority, match, text, attachments, description")
    put.add_argument("--text", help="welcome text (may contain %%NICKNAME%%)")
    put.add_argument("--attachments", metavar="FILE", help="a JSON list of send_welcome_msg attachments")
    put.add_argument("--priority", type=int, help="higher wins among matching rules (default 0)")
    put.add_argument("--description", help="a note for operators")
    put.add_argument("--state", help="match the channel code (联系我 state) exactly")
    put.add_argument("--state-prefix", metavar="PREFIX", help="match channel codes starting with PREFIX")
    put.add_argument("--userid", help="match customers added by this member")
    put.add_argument("--weekdays", type=weekdays, help="match these ISO weekdays, e.g. 1,2,3,4,5 (Mon-Fri)")
    put.add_argument("--time-from", metavar="HH:MM", help="match from this local time (with --time-to)")
    put.add_argument("--time-to", metavar="HH:MM", help="match until this local time")
    put.set_defaults(func=put_rule)


def weekdays(text: str) -> list[int]:
    """``1,2,3`` → [1, 2, 3]; argparse reports a ValueError as a usage error naming the option."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError("use ISO weekday numbers like 1,2,3,4,5 (1 = Monday)") from exc


def build_rule(args: argparse.Namespace) -> dict[str, Any]:
    """The PUT body: the file's rule (if any) with the flags laid over it."""
    body = read_json_file(args.file, "rule") if args.file else {}
    if not isinstance(body, dict):
        raise UsageError(f"rule file {args.file} must hold a JSON object")
    if args.text is not None:
        body["text"] = {"content": args.text}
    if args.attachments:
        body["attachments"] = read_json_file(args.attachments, "attachments")
    for key in ("priority", "description"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    match = dict(body.get("match") or {})
    for key in ("state", "state_prefix", "userid", "weekdays", "time_from", "time_to"):
        if getattr(args, key) is not None:
            match[key] = getattr(args, key)
    if match or "match" in body:
        body["match"] = match
    if not body:
        raise UsageError("nothing to put: give --file or at least --text / --attachments")
    return body


# ------------------------------------------------------------------------------------------ handlers
def list_rules(_args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.get(BASE)
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    items = response.json().get("items", [])
    if not items:
        ctx.out("no welcome rules (new customers get no welcome from this app)")
        return 0
    ctx.out(table([_row(rule, ctx.zone) for rule in items], LIST_COLUMNS))
    return 0


def get_rule(args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.get(f"{BASE}/{segment(args.rule_id)}")
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    ctx.out(describe(response.json(), ctx.zone))
    return 0


def put_rule(args: argparse.Namespace, ctx: Context) -> int:
    body = build_rule(args)
    response = ctx.client.request("PUT", f"{BASE}/{segment(args.rule_id)}", body=body)
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    verb = "created" if response.status == 201 else "replaced"
    ctx.out(f"{verb} rule {args.rule_id}")
    ctx.out(describe(response.json(), ctx.zone))
    return 0


def delete_rule(args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.request("DELETE", f"{BASE}/{segment(args.rule_id)}")
    if ctx.json_mode:
        ctx.raw(response)
        return 0
    ctx.out(f"deleted rule {args.rule_id}")
    return 0


# ------------------------------------------------------------------------------------------- shaping
def describe(rule: dict[str, Any], zone: ZoneSource) -> str:
    """One rule for humans: the summary fields, then the full text and the attachments."""
    pairs: list[tuple[str, Any]] = [
        ("rule_id", rule.get("rule_id")),
        ("priority", rule.get("priority", 0)),
        ("match", summarize_match(rule.get("match") or {})),
        ("description", rule.get("description")),
        ("attachments", [_attachment(a) for a in rule.get("attachments") or []]),
        ("updated", format_time(rule.get("updated_at_ms"), zone)),
    ]
    text = (rule.get("text") or {}).get("content")
    return key_values(pairs) + ("\ntext:\n" + _indent(text) if text else "\ntext: -")


def summarize_match(match: dict[str, Any]) -> str:
    """``state=expo userid=u1 Mon-Fri 09:00-18:00``; an empty match is the default rule."""
    parts = [f"{k}={match[k]}" for k in ("state", "state_prefix", "userid") if match.get(k)]
    if match.get("weekdays"):
        parts.append(_days(match["weekdays"]))
    if match.get("time_from"):
        parts.append(f"{match['time_from']}-{match.get('time_to', '')}")
    return " ".join(parts) or "(default: any)"


def _days(days: list[int]) -> str:
    """Consecutive weekdays as a range (Mon-Fri), others listed (Mon,Wed)."""
    ordered = sorted(set(days))
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{WEEKDAY_NAMES[ordered[0] - 1]}-{WEEKDAY_NAMES[ordered[-1] - 1]}"
    return ",".join(WEEKDAY_NAMES[d - 1] if 1 <= d <= 7 else str(d) for d in ordered)


def _attachment(attachment: dict[str, Any]) -> str:
    kind = attachment.get("msgtype", "?")
    detail = attachment.get(kind) or {}
    return f"{kind}:{detail.get('title') or detail.get('media_id') or detail.get('pic_url') or ''}".rstrip(
        ":"
    )


def _row(rule: dict[str, Any], zone: ZoneSource) -> dict[str, Any]:
    return {
        "rule_id": rule.get("rule_id"),
        "priority": rule.get("priority", 0),
        "match": summarize_match(rule.get("match") or {}),
        "text": (rule.get("text") or {}).get("content"),
        "attachments": len(rule.get("attachments") or []),
        "updated": format_time(rule.get("updated_at_ms"), zone),
    }


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
