"""docs/tour.md runs as written: its ``bash`` blocks, command by command, against ``make run``.

The first block must be ``make run``: the test runs it (on a free ``API_PORT``, as the tour says a taken port
is moved) and waits for its ``export SIM=`` line. Every other command runs in one bash process, so the shell
variables the tour sets (``SIM``, ``CAMPAIGN``) carry on as in a terminal; each must exit 0, and the key
outputs the tour promises are checked. The tracked sample events must come out unchanged.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from local.dynamodb import free_port
from local.template import REPO_ROOT

pytestmark = pytest.mark.e2e

TOUR = REPO_ROOT / "docs" / "tour.md"
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.DOTALL | re.MULTILINE)
MARK = "@@tour-step"
START_TIMEOUT = 120.0
# What the tour says each command shows (a command is picked by a piece of its text).
EXPECTED = {
    "sim add-customer wmTour1": ["delivered (HTTP 200)"],
    "welcomes --customer wmTour1": ["wmTour1", "sent"],
    "__sim/welcomes": ["Hi Ann, welcome!"],
    "channels put expo": ["created channel expo: config_id"],
    "channels show expo": ["config_id:", "TOTAL"],
    "sim add-customer wmTour2 --channel expo": ["state:    expo", "delivered (HTTP 200)"],
    "customers show wmTour2": ["wmTour2", "channel:expo"],
    "sim send $CAMPAIGN": ["sent by zhangsan"],
    "campaigns show $CAMPAIGN": ["campaign_id:    cmp-", "msgids:         1:"],
    "sim clock --advance 3h": ["offset_seconds: 10800"],
    "sim add-customer wmTour3": ["delivered (HTTP 200)"],
    "__sim/state": ['"clock_offset": 10800', '"tokens_issued": 2'],
    "make invoke FN=CallbackFunction": ['"statusCode": 200', '"body": "success"'],
}
# The stack's settings come from the tour's commands and API_PORT only.
FOREIGN_SETTINGS = (
    "WECOM_API_BASE", "WECOM_SECRET_ID", "DYNAMODB", "DYNAMODB_ENDPOINT", "DYNAMODB_DATA_DIR", "MEDIA_BUCKET",
    "S3_ENDPOINT", "AWS_ENDPOINT_URL_SQS", "SIM",
)  # fmt: skip


def tour_commands(text: str) -> list[str]:
    """The commands of every ``bash`` block: comment lines dropped, ``\\`` continuations joined."""
    commands: list[str] = []
    for block in BLOCK.findall(text):
        pending = ""
        for line in block.splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending += line
            if pending.endswith("\\"):
                pending = pending[:-1]
                continue
            commands.append(pending.strip())
            pending = ""
    return commands


@dataclass
class Step:
    command: str
    code: int
    output: str


def run_script(commands: list[str], env: dict[str, str]) -> list[Step]:
    """Run the commands in one bash (state carries on), each followed by a marker with its exit status."""
    lines = ["set -o pipefail"]
    for index, command in enumerate(commands):
        lines += [command, f'echo "{MARK} {index} $?"']
    done = subprocess.run(
        ["bash", "-c", "\n".join(lines)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    steps, output = [], done.stdout
    for index, command in enumerate(commands):
        before, found, output = output.partition(f"{MARK} {index} ")
        assert found, f"the tour stopped before {command!r}:\n{before}"
        code, _, output = output.partition("\n")
        steps.append(Step(command, int(code), before))
    return steps


@pytest.fixture(scope="module")
def tour_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_SETTINGS}
    return {**env, "API_PORT": str(free_port()), "PYTHONIOENCODING": "utf-8"}


@pytest.fixture(scope="module")
def make_run(tour_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``make run`` as the tour starts it; yields what it printed once it was up (stopped with Ctrl+C)."""
    log = tmp_path_factory.mktemp("tour") / "make-run.log"
    with open(log, "w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            ["make", "run"],
            cwd=REPO_ROOT,
            env=tour_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield _wait_for_start(process, log)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait_for_start(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        if "Press Ctrl+C to stop." in text:
            return text
        assert process.poll() is None, f"make run exited with {process.returncode}:\n{text}"
        time.sleep(0.2)
    raise AssertionError(f"make run did not come up within {START_TIMEOUT:.0f} s")


def test_the_tour_runs_as_written(make_run: str, tour_env: dict[str, str]) -> None:
    commands = tour_commands(TOUR.read_text(encoding="utf-8"))
    assert commands[0] == "make run", "the tour starts the stack first"
    sim = re.search(r"^export SIM=(http://127\.0\.0\.1:\d+)$", make_run, re.MULTILINE)
    assert sim, "make run prints the simulator's address as a line to paste"
    assert requests.get(f"{sim.group(1)}/__sim/health", timeout=5).json()["ok"] is True
    assert "in memory, lost on exit" in make_run
    unchecked = [piece for piece in EXPECTED if not any(piece in command for command in commands)]
    assert not unchecked, f"the tour no longer has these checked steps: {unchecked}"

    steps = run_script(commands[1:], tour_env)

    for step in steps:
        assert step.code == 0, f"{step.command!r} exited {step.code}:\n{step.output}"
        for piece, shown in EXPECTED.items():
            if piece in step.command:
                missing = [text for text in shown if text not in step.output]
                assert not missing, f"{step.command!r} did not show {missing}:\n{step.output}"
    status = subprocess.run(
        ["git", "status", "--porcelain", "events/"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert status.stdout == "", "no tracked sample event was rewritten"


def test_commands_are_read_like_a_shell_reads_them() -> None:
    text = "intro\n```bash\n# note\nmake run\n\na \\\n  b  # c\n```\n```console\nnot run\n```\n"
    assert tour_commands(text) == ["make run", "a   b  # c"]


def test_the_readme_tour_is_the_tested_tour() -> None:
    """The README's tour block is the start of docs/tour.md's: its commands are run by the test above, in the
    same order, so the README's copy cannot rot either."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    readme_commands = tour_commands(section)
    tour = tour_commands(TOUR.read_text(encoding="utf-8"))
    assert readme_commands, "the README's tour has a bash block"
    start = tour.index(readme_commands[0])
    assert tour[start : start + len(readme_commands)] == readme_commands
