"""``make demo`` must keep working: it is the newcomer's first look at the product."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_demo_runs_and_reports_success() -> None:
    done = subprocess.run([sys.executable, "-m", "local.demo"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "everything as expected" in done.stdout
    assert "vip-desk" in done.stdout
    assert '"level"' not in done.stdout  # the table, not log lines
