"""``wecomctl doctor``: the deployment's set-up checks (``POST /admin/doctor``), run inside the stack so WeCom
sees the product's own egress IP.

Prints one row per check (secret, token, customer_contact, mass_send, contact_ways, callback_url, storage),
then the IP WeCom reported in a 60020 and each failed check's fix in full, and exits 0 when every check
passed, 1 otherwise (2 when the API could not be reached, as every command). ``--json`` prints the answer as
the API sent it, with the same exit code.
"""

from __future__ import annotations

import argparse
from typing import Any

from wecomctl.context import Context
from wecomctl.output import Column, table

PATH = "/admin/doctor"
COLUMNS = (
    Column("CHECK", "name"),
    Column("RESULT", "result"),
    Column("ERRCODE", "errcode", right=True),
    Column("DETAIL", "detail", max_width=90),
)


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``doctor``."""
    parser = commands.add_parser(
        "doctor",
        parents=[common],
        help="check the deployment's WeCom set-up (secret, token, APIs, callback URL, table)",
        description="Run the set-up checks from inside the stack (the same egress IP as the product's WeCom "
        "calls) and print what to fix. Exit 0 when every check passes, 1 otherwise.",
    )
    parser.set_defaults(func=run_doctor)


def run_doctor(_args: argparse.Namespace, ctx: Context) -> int:
    response = ctx.client.request("POST", PATH, body={})
    answer = response.json()
    if ctx.json_mode:
        ctx.raw(response)
    else:
        ctx.out(render(answer))
    return 0 if answer.get("ok") is True else 1


def render(answer: dict[str, Any]) -> str:
    """The checks as a table, then the egress IP WeCom reported and each failed check's fix."""
    checks = list(answer.get("checks") or [])
    rows = [{**c, "result": "ok" if c.get("ok") else "FAIL"} for c in checks]
    lines = [table(rows, COLUMNS)]
    if answer.get("egress_ip"):
        lines.append(f"egress IP WeCom saw: {answer['egress_ip']}")
    lines += [f"fix {c['name']}: {c['fix']}" for c in checks if not c.get("ok") and c.get("fix")]
    failed = sum(1 for c in checks if not c.get("ok"))
    lines.append("all checks passed" if answer.get("ok") else f"{failed} of {len(checks)} checks failed")
    return "\n".join(lines)
