"""`make run`: the local stack in the foreground until Ctrl+C or SIGTERM.

Why it prints its configuration: a developer should see at a glance where the API, DynamoDB and the WeCom API
are and which routes and schedules came out of template.yaml — secrets are shown only as "set".
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from local.settings import apply_dev_defaults
from local.stack import StackHandle, start_stack
from local.template import REPO_ROOT

log = logging.getLogger("local.run")

DEFAULT_DATA_DIR = REPO_ROOT / ".local-data" / "dynamodb"
SECRET_SETTINGS = ("WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")


def configure_logging() -> None:
    """Stack logs to stderr (LOCAL_LOG_LEVEL, default INFO); stdout stays for the summary and handler logs."""
    logging.basicConfig(
        level=os.environ.get("LOCAL_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def describe(stack: StackHandle) -> str:
    """The human summary of a running stack. Never contains a secret value."""
    secrets = ", ".join(f"{name}={'set' if os.environ.get(name) else 'MISSING'}" for name in SECRET_SETTINGS)
    api = "built-in simulator" if stack.simulator is not None else "external"
    lines = [
        "WeCom bundle local stack is up",
        f"  API            {stack.api_url}   (callback URL: {stack.api_url}/callback)",
        f"  DynamoDB       {stack.dynamodb_mode} at {stack.dynamodb_endpoint}   tables: {', '.join(stack.template.tables)}",
        f"  WeCom API      {stack.wecom_api_base}   ({api})",
        f"  Media bucket   {os.environ.get('MEDIA_BUCKET', '(none)')} at {os.environ.get('S3_ENDPOINT', 'AWS')}",
        f"  Corp ID        {os.environ.get('WECOM_CORP_ID', '')}",
        f"  Secrets        {secrets}",
        f"  Time zone      {os.environ.get('WELCOME_TIMEZONE', '')}",
        "  Routes",
        *(
            f"    {route.method:<7}{route.path:<48}-> {route.function_id} (auth {route.auth})"
            for route in stack.template.routes
        ),
        "  Schedules" + ("" if stack.template.schedules else "   (none)"),
        *(
            f"    {schedule.function_id:<24}{schedule.expression}"
            + ("" if schedule.enabled else "  (disabled)")
            for schedule in stack.template.schedules
        ),
        *_queue_lines(stack),
        f"  Local          GET {stack.api_url}/__local/health   POST {stack.api_url}/__local/invoke/<LogicalId>",
        *_data_lines(stack),
        *_simulator_lines(stack),
        "Press Ctrl+C to stop.",
    ]
    return "\n".join(lines)


def _data_lines(stack: StackHandle) -> list[str]:
    """Where the data lives and whether it outlives this run, so a restart forgets nothing by surprise."""
    if stack.dynamodb_data_dir is not None:
        return [
            f"  Data           kept in {stack.dynamodb_data_dir} across restarts"
            f"   (wipe: make clean-data, or rm -rf {stack.dynamodb_data_dir})"
        ]
    if stack.dynamodb_mode == "moto":
        return [
            "  Data           in memory, lost on exit   (DYNAMODB=local keeps it in .local-data/dynamodb/)"
        ]
    return []


def _simulator_lines(stack: StackHandle) -> list[str]:
    """The simulator's address as a shell line to paste (its port is chosen afresh on every start)."""
    if stack.simulator is None:
        return []
    paste = 'WeCom simulator: paste this into another terminal (or: eval "$(.venv/bin/wecomctl sim env)")'
    return [paste, f"export SIM={stack.wecom_api_base}"]


def _queue_lines(stack: StackHandle) -> list[str]:
    """The queues (and who consumes each), and where the functions reach SQS (AWS_ENDPOINT_URL_SQS)."""
    queues = stack.template.queues
    if not queues:
        return ["  Queues   (none)"]
    consumers = {source.queue: source for source in stack.template.sqs_sources}
    lines = [f"  Queues         SQS (moto) at {stack.aws_services_endpoint}   (AWS_ENDPOINT_URL_SQS)"]
    for name, queue in queues.items():
        source = consumers.get(name)
        target = f"-> {source.function_id} (batch {source.batch_size})" if source else "(not polled)"
        redrive = f"; dead letters -> {queue.dead_letter_queue}" if queue.dead_letter_queue else ""
        lines.append(f"    {name:<32}{target}{redrive}")
    return lines


def _on_signal(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    return handler


def data_dir() -> Path | None:
    """DynamoDB Local's files for `make run` (DYNAMODB_DATA_DIR, default .local-data/dynamodb); moto keeps
    nothing."""
    if os.environ.get("DYNAMODB") != "local" or os.environ.get("DYNAMODB_ENDPOINT"):
        return None
    return Path(os.environ.get("DYNAMODB_DATA_DIR") or DEFAULT_DATA_DIR).absolute()


def busy_port_message(port: int) -> str:
    """What a taken API_PORT says: the port and the setting that moves it (no traceback)."""
    return f"port {port} is in use (set API_PORT to another port, e.g. API_PORT={port + 1} make run)"


def main() -> int:
    configure_logging()
    apply_dev_defaults()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal(stop))
    try:
        port = int(os.environ["API_PORT"])
    except ValueError:
        print("API_PORT must be a port number", file=sys.stderr)
        return 2
    try:
        stack = start_stack(api_port=port, dynamodb=os.environ["DYNAMODB"], dynamodb_data_dir=data_dir())
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            log.error("the local stack could not start: %s: %s", type(exc).__name__, exc)
            return 1
        print(busy_port_message(port), file=sys.stderr)
        return 1
    except Exception as exc:
        log.error("the local stack could not start: %s: %s", type(exc).__name__, exc)
        return 1
    try:
        print(describe(stack), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        stack.stop()
    print("Local stack stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
