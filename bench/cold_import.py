"""Cold import time of the callback handler: a fresh interpreter per sample, as a Lambda cold start has.

Measured inside each child around ``import app`` only (interpreter start-up is not ours to shrink). The
first POST additionally loads the welcome machinery (botocore, requests); that is reported separately.

Why a baseline tree in the same run: a cold import moves by tens of percent with the machine's load, so a
figure from another day proves nothing about a change. The callback and layer of ``BASELINE_COMMIT`` (main
before the package-per-domain restructure, issue 11) are extracted with ``git archive`` and sampled
interleaved with today's tree; the ratio of the two medians is the comparison (target: within 10 %).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The last main before the layer moved into per-domain packages (CI passed at that commit).
BASELINE_COMMIT = "321164f"

# What the first welcome loads after the handler (the callback imports these lazily, on the first POST).
WELCOME_PATH_NOW = (
    "wecom_bundle.callback.events",
    "wecom_bundle.runtime",
    "wecom_bundle.welcome.service",
    "wecom_bundle.welcome.repo",
    "wecom_bundle.wecom.token_repo",
    "botocore.session",
    "requests",
)
WELCOME_PATH_BASELINE = (
    "wecom_bundle.callback_events",
    "wecom_bundle.runtime",
    "wecom_bundle.welcome_service",
    "wecom_bundle.storage",
    "botocore.session",
    "requests",
)

_CHILD = """
import importlib, sys, time, json
sys.path[:0] = [{callback!r}, {layer!r}]
t0 = time.perf_counter()
import app
t1 = time.perf_counter()
for name in {welcome_path!r}:
    importlib.import_module(name)
t2 = time.perf_counter()
print(json.dumps({{"handler_ms": (t1 - t0) * 1000, "welcome_path_ms": (t2 - t1) * 1000}}))
"""


def _child_code(root: Path, welcome_path: tuple[str, ...]) -> str:
    return _CHILD.format(
        callback=str(root / "functions/callback"),
        layer=str(root / "layers/shared"),
        welcome_path=welcome_path,
    )


def _sample(code: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _extract_baseline(into: Path) -> bool:
    """The baseline's callback and layer under ``into``; False when git or the commit is not available."""
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", BASELINE_COMMIT, "functions/callback", "layers/shared"],
            check=True,
            capture_output=True,
            cwd=ROOT,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return True


def _series(samples: list[dict[str, float]], key: str) -> list[float]:
    return [doc[key] for doc in samples[1:]]  # the first run also writes .pyc files: not a cold start


def measure(samples: int = 15) -> dict[str, object]:
    now_code = _child_code(ROOT, WELCOME_PATH_NOW)
    with tempfile.TemporaryDirectory() as tmp:
        baseline_code = (
            _child_code(Path(tmp), WELCOME_PATH_BASELINE) if _extract_baseline(Path(tmp)) else None
        )
        now, baseline = [], []
        for _ in range(samples + 1):  # interleaved, so both trees see the same machine load
            now.append(_sample(now_code))
            if baseline_code is not None:
                baseline.append(_sample(baseline_code))
    handler = _series(now, "handler_ms")
    result: dict[str, object] = {
        "samples": samples,
        "handler_import_ms_p50": statistics.median(handler),
        "handler_import_ms_max": max(handler),
        "welcome_path_import_ms_p50": statistics.median(_series(now, "welcome_path_ms")),
    }
    if baseline:
        base_handler = statistics.median(_series(baseline, "handler_ms"))
        result["baseline_commit"] = BASELINE_COMMIT
        result["baseline_handler_import_ms_p50"] = base_handler
        result["baseline_welcome_path_import_ms_p50"] = statistics.median(
            _series(baseline, "welcome_path_ms")
        )
        result["handler_import_over_baseline"] = round(statistics.median(handler) / base_handler, 3)
    else:
        result["baseline_commit"] = "unavailable (no git history in this checkout)"
    return result
