"""``wecomctl sim``: drive the WeCom simulator of the local stack (``make run``) the way WeCom would act.

``add-customer`` makes a member add a customer (the simulator pushes the encrypted, signed
add_external_contact callback to the stack, exactly as WeCom does); ``send`` makes the members send a
campaign's WeCom tasks; ``clock`` reads or advances the simulator's clock; ``env`` prints the simulator's
address as a shell line. The simulator is found through the gateway's ``/__local/health``, so no port has to
be copied from the ``make run`` log. Why local only: a deployed stack talks to the real WeCom, whose members
act on their phones; there is nothing to drive, and the command says so instead of trying.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Any

import requests

from wecomctl.context import Context
from wecomctl.http import ApiError, ConnectError, UsageError, error_from_response, is_loopback, segment
from wecomctl.output import format_time, key_values

HEALTH_PATH = "/__local/health"
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Simulator:
    """The local stack's WeCom simulator: its base URL and the per-request timeout."""

    url: str
    timeout: float

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST to the control API (``/__sim/<path>``); its JSON answer, or ApiError with its message."""
        return self._call("POST", path, body)

    def get(self, path: str) -> Any:
        return self._call("GET", path, None)

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        url = f"{self.url}/__sim/{path}"
        try:
            answer = requests.request(method, url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ConnectError(
                f"cannot reach the WeCom simulator at {self.url}: {type(exc).__name__}"
            ) from exc
        if answer.status_code >= 400:
            raise _simulator_error(answer)
        return answer.json()


def _simulator_error(answer: requests.Response) -> ApiError:
    """The control API answers ``{"error": "text"}``: keep the text as the message."""
    try:
        message = answer.json().get("error")
    except ValueError:
        message = None
    if isinstance(message, str):
        return ApiError(answer.status_code, "simulator_refused", message, body=answer.content)
    return error_from_response(answer.status_code, answer.content)


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``sim env|add-customer|send|clock``."""
    sim = commands.add_parser(
        "sim",
        help="local stack only: act as WeCom (add a customer, members send, move the clock)",
        description="Drive the WeCom simulator of the local stack (make run). It is found through the "
        "gateway's /__local/health; a deployed stack (a non-loopback --api) is refused.",
    )
    actions = sim.add_subparsers(dest="action", required=True, metavar="ACTION")
    env = actions.add_parser("env", parents=[common], help="print `export SIM=<simulator URL>` for a shell")
    env.set_defaults(func=sim_env)
    add = actions.add_parser(
        "add-customer",
        parents=[common],
        help="a member adds a customer: the signed add_external_contact callback reaches the stack",
    )
    add.add_argument("external_userid", metavar="EXTERNAL_USERID", help="the new customer's id, e.g. wmTour1")
    add.add_argument(
        "--member", metavar="USERID", help="the member who adds them (with --channel: one of its)"
    )
    add.add_argument("--name", help="the customer's WeCom name (what %%NICKNAME%% becomes)")
    origin = add.add_mutually_exclusive_group()
    origin.add_argument(
        "--state", metavar="S", help="the State the event carries (a 「联系我」 code's state)"
    )
    origin.add_argument("--channel", metavar="ID", help="the customer scanned this channel's QR code")
    add.set_defaults(func=add_customer)
    send = actions.add_parser("send", parents=[common], help="the members send a campaign's WeCom tasks")
    send.add_argument("campaign_id", metavar="CAMPAIGN_ID")
    send.add_argument(
        "--member", action="append", dest="members", metavar="USERID", help="only these members (repeat)"
    )
    send.set_defaults(func=send_campaign)
    clock = actions.add_parser("clock", parents=[common], help="the simulator's clock; --advance moves it")
    clock.add_argument("--advance", metavar="DURATION", help="forward by e.g. 90s, 15m, 1h, 2d (no unit: s)")
    clock.set_defaults(func=move_clock)


# ------------------------------------------------------------------------------ finding the simulator
def local_api(args: argparse.Namespace) -> str:
    """The gateway URL the command works on; a non-loopback ``--api`` (a deployed stack) is refused."""
    from wecomctl.main import default_api  # the entry point owns the default; imported late (it imports us)

    base = (args.api or default_api()).rstrip("/")
    if not is_loopback(base):
        raise UsageError(
            f"wecomctl sim drives the local stack's WeCom simulator only; {base} is not a local stack "
            "(on a deployed stack, WeCom and its members act for real)"
        )
    return base


def find_simulator(args: argparse.Namespace) -> Simulator:
    """The simulator URL from the gateway's ``/__local/health`` (clear errors when there is none)."""
    base = local_api(args)
    try:
        answer = requests.get(f"{base}{HEALTH_PATH}", timeout=args.timeout)
    except requests.RequestException as exc:
        raise ConnectError(
            f"cannot reach the local stack at {base} (is `make run` running?): {type(exc).__name__}"
        ) from exc
    if answer.status_code == 404:
        raise UsageError(f"{base} answers no {HEALTH_PATH}: it is not the local stack (make run)")
    if answer.status_code != 200:
        raise ConnectError(f"the local stack at {base} is not ready (HTTP {answer.status_code}); try again")
    try:
        url = answer.json().get("simulator_url")
    except (ValueError, AttributeError):
        url = None
    if not isinstance(url, str) or not url:
        raise UsageError(
            f"the local stack at {base} talks to an external WeCom API (WECOM_API_BASE), not the simulator"
        )
    return Simulator(url.rstrip("/"), args.timeout)


# ------------------------------------------------------------------------------------------ commands
def sim_env(args: argparse.Namespace, ctx: Context) -> int:
    """``eval "$(wecomctl sim env)"`` sets SIM for curl-ing the simulator's control API."""
    simulator = find_simulator(args)
    if ctx.json_mode:
        ctx.dump({"simulator_url": simulator.url})
    else:
        ctx.out(f"export SIM={simulator.url}")
    return 0


def add_customer(args: argparse.Namespace, ctx: Context) -> int:
    """Push the add_external_contact callback; exit 1 when the stack did not answer it with HTTP 200."""
    simulator = find_simulator(args)
    body = _contact_body(args, ctx)
    doc = simulator.post("callbacks/add_external_contact", body)
    fields = doc.get("fields") or {}
    if ctx.json_mode:
        ctx.dump(doc)
    else:
        ctx.out(
            key_values(
                [
                    ("customer", fields.get("ExternalUserID")),
                    ("member", fields.get("UserID")),
                    ("state", fields.get("State") or "-"),
                    ("callback", _delivery(doc)),
                ]
            )
        )
    if doc.get("pushed") and not doc.get("delivered"):
        ctx.note("wecomctl: the stack did not answer the callback with HTTP 200 (see the make run log)")
        return 1
    return 0


def _contact_body(args: argparse.Namespace, ctx: Context) -> dict[str, Any]:
    """The control API's body: member and State, or the channel's config_id (looked up in the admin API)."""
    body: dict[str, Any] = {"external_userid": args.external_userid}
    if args.name:
        body["name"] = args.name
    if args.member:
        body["userid"] = args.member
    if args.channel:
        channel = ctx.client.get(f"/admin/channels/{segment(args.channel)}").json() or {}
        if not channel.get("config_id"):
            raise UsageError(
                f"channel {args.channel} has no QR code on WeCom yet (status {channel.get('status')})"
            )
        body["config_id"] = channel["config_id"]
    elif not args.member:
        raise UsageError("add-customer needs --member USERID (or --channel ID, whose first member is used)")
    if args.state:
        body["state"] = args.state
    return body


def _delivery(doc: dict[str, Any]) -> str:
    """How the push went: delivered or not, with the HTTP status of each attempt."""
    if not doc.get("pushed"):
        return "not pushed (the simulator has no callback URL)"
    statuses = ", ".join(str(a.get("status") or a.get("error") or "?") for a in doc.get("attempts") or [])
    verdict = "delivered" if doc.get("delivered") else "NOT delivered"
    return f"{verdict} (HTTP {statuses})"


def send_campaign(args: argparse.Namespace, ctx: Context) -> int:
    """Every WeCom task (msgid) of the campaign is confirmed by its members in the simulator."""
    simulator = find_simulator(args)
    campaign = ctx.client.get(f"/admin/campaigns/{segment(args.campaign_id)}").json() or {}
    msgids = [m for m in campaign.get("msgids") or [] if isinstance(m, str)]
    if not msgids:
        raise UsageError(
            f"campaign {args.campaign_id} has no WeCom task yet (status {campaign.get('status')}): "
            "nothing for members to send"
        )
    body: dict[str, Any] = {"userids": args.members} if args.members else {}
    results = [simulator.post(f"groupmsg/{segment(msgid)}/send", body) for msgid in msgids]
    if ctx.json_mode:
        ctx.dump(results)
        return 0
    for result in results:
        sent = result.get("sent")
        who = ", ".join(sent) if isinstance(sent, list) and sent else str(sent if sent is not None else "-")
        ctx.out(f"msgid {result.get('msgid')}: sent by {who}")
    ctx.note("delivery results reach the campaign with the next sync pass (wecomctl campaigns show ID)")
    return 0


def move_clock(args: argparse.Namespace, ctx: Context) -> int:
    """``--advance``: forward only (the simulator's clock never goes back); without it, the current time."""
    simulator = find_simulator(args)
    if args.advance is None:
        doc = simulator.get("clock")
    else:
        doc = simulator.post("clock", {"advance": parse_duration(args.advance)})
    if ctx.json_mode:
        ctx.dump(doc)
    else:
        offset = doc.get("offset")
        shown = f"{offset:g}" if isinstance(offset, int | float) else offset
        ctx.out(key_values([("now", format_time(doc.get("now"), ctx.zone)), ("offset_seconds", shown)]))
    return 0


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``1h``, ``2d`` or bare seconds → seconds (positive)."""
    match = DURATION.match(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise UsageError(f"--advance must be a positive duration like 90s, 15m, 1h or 2d, got {text!r}")
    return float(match.group(1)) * UNIT_SECONDS[match.group(2)]
