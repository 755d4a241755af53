"""``wecomctl`` entry point: global options, the command tree, and errors turned into exit codes.

Exit codes (scripts rely on them): 0 success; 1 the API answered with an error (its code and message are on
stderr); 2 usage, file, connection or credential problems (nothing was done on the server, or nothing is
known to have been done).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from wecomctl import (
    __version__,
    campaigns,
    channels,
    customers,
    doctor,
    group_templates,
    rules,
    sim,
    welcomes,
)
from wecomctl.context import Context
from wecomctl.http import DEFAULT_TIMEOUT, ApiClient, ApiError, CliError

EPILOG = """\
The local stack (make run) is used by default and needs no credentials. With --api pointing anywhere
else, every request is SigV4-signed (service execute-api) with your AWS credentials from the usual
chain (AWS_PROFILE, SSO, environment, instance role).

exit codes: 0 ok · 1 the API refused (code and message on stderr) · 2 usage, file, connection or
credentials problem"""


def default_api() -> str:
    """The local stack's gateway: ``make run`` listens on 127.0.0.1:$API_PORT (3000 by default)."""
    return f"http://127.0.0.1:{os.environ.get('API_PORT') or '3000'}"


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The options every command takes. On subcommands their defaults are suppressed, so
    ``wecomctl --json rules list`` and ``wecomctl rules list --json`` mean the same."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--api", metavar="URL", default=default(None), help=f"admin API base URL (default: {default_api()})"
    )
    group.add_argument(
        "--json", action="store_true", default=default(False), help="print the API's JSON as is (for scripts)"
    )
    group.add_argument(
        "--region", default=default(None), help="AWS region for signing (default: from the URL or AWS config)"
    )
    group.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        default=default(DEFAULT_TIMEOUT),
        help=f"per-request timeout (default {DEFAULT_TIMEOUT:g})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wecomctl",
        description="Operate the WeCom customer-messaging bundle: welcome rules, the welcome log,\n"
        "mass-send campaigns, group welcome templates and channels (渠道活码), and check the set-up (doctor).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (rules, welcomes, campaigns, group_templates, customers, channels, doctor, sim):
        module.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run one command, map failures to exit codes. Never prints a traceback for expected errors."""
    args = build_parser().parse_args(argv)
    ctx = Context(
        make_client=lambda: ApiClient(args.api or default_api(), region=args.region, timeout=args.timeout),
        json_mode=args.json,
    )
    try:
        return int(args.func(args, ctx))
    except ApiError as error:
        _report_api_error(ctx, error)
        return error.exit_code
    except CliError as error:
        ctx.note(f"wecomctl: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        ctx.note("wecomctl: interrupted")
        return 130
    except BrokenPipeError:
        # `wecomctl welcomes --all | head`: the reader left; not an error worth a traceback. Point stdout
        # at devnull so the interpreter's final flush does not raise again (Python docs, signal module).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _report_api_error(ctx: Context, error: ApiError) -> None:
    """``--json``: the API's error document as is on stderr; otherwise one readable line."""
    if ctx.json_mode and error.body:
        ctx.note(error.body.decode("utf-8", errors="replace").rstrip("\n"))
    else:
        ctx.note(error.describe())


if __name__ == "__main__":
    sys.exit(main())
