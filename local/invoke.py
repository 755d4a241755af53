"""`make invoke FN=<LogicalId> EVENT=<file>`: run one function of template.yaml now and print its result.

A callback event is a template: it is re-signed (new timestamp, nonce, CreateTime, encryption and signature)
with the stack's Token and EncodingAESKey just before it is sent, because the callback refuses a signature
older than 5 minutes. The file itself is never rewritten.

Why through HTTP even for a throwaway stack: a running `make run` stack keeps its data (and the developer sees
the handler's logs in that terminal), and going through `/__local/invoke` in both cases means the result and
the error reporting are the same either way. Only the result JSON goes to stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from local.events import is_callback_event, resign_callback
from local.settings import DEV_DEFAULTS, apply_dev_defaults
from local.template import load_template

HEALTH_TIMEOUT = 1.0
INVOKE_TIMEOUT = 960.0  # above the longest function Timeout in the template (900 s)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.invoke", description=__doc__.splitlines()[0])
    parser.add_argument("function", help="logical id of a function in template.yaml, e.g. ReminderFunction")
    parser.add_argument(
        "event", nargs="?", default="", help="event JSON file ('-' = stdin); none: a scheduled event"
    )
    return parser.parse_args(argv)


def read_event(source: str) -> bytes:
    """The event bytes (validated as JSON); empty for "send the scheduled event"."""
    if not source:
        return b""
    raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    if raw.strip():
        json.loads(raw)
    return raw


def fresh_event(body: bytes, environ: dict[str, str]) -> bytes:
    """The event to send: a callback event signed now with the keys of `environ` (dev defaults for those
    unset, as the stack uses), any other event as it is."""
    if not body.strip():
        return body
    event = json.loads(body)
    if not is_callback_event(event):
        return body
    return json.dumps(resign_callback(event, {**DEV_DEFAULTS, **environ}), ensure_ascii=False).encode("utf-8")


def running_stack(base_url: str) -> bool:
    """Whether a local stack answers its health check at `base_url`."""
    try:
        with urllib.request.urlopen(f"{base_url}/__local/health", timeout=HEALTH_TIMEOUT) as response:  # noqa: S310
            return response.status == 200
    except (OSError, ValueError):
        return False


def post_invoke(base_url: str, function: str, body: bytes) -> tuple[int, Any]:
    """POST the event to the stack's `/__local/invoke/<function>`; return (status, decoded JSON)."""
    request = urllib.request.Request(  # noqa: S310 - the URL is built from http://127.0.0.1
        f"{base_url}/__local/invoke/{function}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            return error.code, json.loads(payload or b"null")
        except ValueError:
            return error.code, {"message": payload.decode("utf-8", "replace")}


def _invoke_ephemeral(function: str, body: bytes) -> tuple[int, Any]:
    """Start a throwaway stack on a free port, invoke, stop. Handler output goes to stderr."""
    from local.stack import start_stack

    logging.basicConfig(level=os.environ.get("LOCAL_LOG_LEVEL", "WARNING").upper(), stream=sys.stderr)
    mode = os.environ.get("DYNAMODB", "moto")
    with contextlib.redirect_stdout(sys.stderr), start_stack(api_port=0, dynamodb=mode) as stack:
        return post_invoke(stack.api_url, function, body)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        body = fresh_event(read_event(args.event), dict(os.environ))
    except (OSError, ValueError) as exc:
        print(f"cannot use event {args.event!r}: {exc}", file=sys.stderr)
        return 2
    functions = sorted(load_template().functions)
    if args.function not in functions:
        print(
            f"no function {args.function!r} in template.yaml; one of: {', '.join(functions)}", file=sys.stderr
        )
        return 2
    base_url = f"http://127.0.0.1:{os.environ.get('API_PORT') or '3000'}"
    if running_stack(base_url):
        status, result = post_invoke(base_url, args.function, body)
    else:
        apply_dev_defaults()
        status, result = _invoke_ephemeral(args.function, body)
    print(json.dumps(result, indent=2, ensure_ascii=False), file=sys.stdout if status == 200 else sys.stderr)
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
