"""Cold import time of the callback and admin handlers: a fresh interpreter per sample, as a Lambda cold
start has.

Measured inside each child around ``import app`` only (interpreter start-up is not ours to shrink). The
callback's first POST additionally loads the welcome machinery (botocore, requests); that is reported
separately.

Why a baseline tree in the same run: a cold import moves by tens of percent with the machine's load, so a
figure from another day proves nothing about a change. The functions and layer of ``BASELINE_COMMIT`` (a reference
build with a flat layer and a hand-written admin document) are extracted with ``git archive`` and sampled
interleaved with the working tree; the ratio of the two medians is the comparison (target for the
callback: within 10 %). The admin function's baseline had no pydantic; it pays for its models on purpose.
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

# The reference build: a flat layer, the same callback features (a commit of this repository).
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
sys.path[:0] = [{function!r}, {layer!r}]
t0 = time.perf_counter()
import app
t1 = time.perf_counter()
for name in {then!r}:
    importlib.import_module(name)
t2 = time.perf_counter()
print(json.dumps({{"handler_ms": (t1 - t0) * 1000, "then_ms": (t2 - t1) * 1000,
                   "pydantic": "pydantic" in sys.modules}}))
"""


def _child_code(root: Path, function: str, then: tuple[str, ...] = ()) -> str:
    return _CHILD.format(
        function=str(root / "functions" / function), layer=str(root / "layers/shared"), then=then
    )


def _sample(code: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _extract_baseline(into: Path) -> bool:
    """The baseline's functions and layer under ``into``; False when git or the commit is not available."""
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", BASELINE_COMMIT, "functions", "layers/shared"],
            check=True,
            capture_output=True,
            cwd=ROOT,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return True


def _median(samples: list[dict[str, float]], key: str) -> float:
    return statistics.median(doc[key] for doc in samples[1:])  # the first run also writes .pyc files


def _interleaved(codes: dict[str, str], samples: int) -> dict[str, list[dict[str, float]]]:
    """Every code sampled in turn, ``samples + 1`` times, so all of them see the same machine load."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in codes}
    for _ in range(samples + 1):
        for name, code in codes.items():
            runs[name].append(_sample(code))
    return runs


def measure(samples: int = 15) -> dict[str, object]:
    codes = {
        "callback": _child_code(ROOT, "callback", WELCOME_PATH_NOW),
        "admin": _child_code(ROOT, "admin"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        if _extract_baseline(Path(tmp)):
            codes["callback_baseline"] = _child_code(Path(tmp), "callback", WELCOME_PATH_BASELINE)
            codes["admin_baseline"] = _child_code(Path(tmp), "admin")
        runs = _interleaved(codes, samples)
    callback = runs["callback"]
    result: dict[str, object] = {
        "samples": samples,
        "handler_import_ms_p50": _median(callback, "handler_ms"),
        "handler_import_ms_max": max(doc["handler_ms"] for doc in callback[1:]),
        "welcome_path_import_ms_p50": _median(callback, "then_ms"),
        "callback_loads_pydantic": any(doc["pydantic"] for doc in callback),
        "admin_import_ms_p50": _median(runs["admin"], "handler_ms"),
        "admin_imports_pydantic": all(doc["pydantic"] for doc in runs["admin"]),
    }
    if "callback_baseline" not in runs:
        result["baseline_commit"] = "unavailable (no git history in this checkout)"
        return result
    result["baseline_commit"] = BASELINE_COMMIT
    base_callback = _median(runs["callback_baseline"], "handler_ms")
    result["baseline_handler_import_ms_p50"] = base_callback
    result["baseline_welcome_path_import_ms_p50"] = _median(runs["callback_baseline"], "then_ms")
    result["handler_import_over_baseline"] = round(result["handler_import_ms_p50"] / base_callback, 3)  # type: ignore[operator]
    base_admin = _median(runs["admin_baseline"], "handler_ms")
    result["baseline_admin_import_ms_p50"] = base_admin
    result["admin_import_over_baseline"] = round(result["admin_import_ms_p50"] / base_admin, 3)  # type: ignore[operator]
    return result
