"""Cold import time of the callback and admin handlers: a fresh interpreter per sample, as a Lambda cold
start has.

Measured inside each child around ``import app`` only (interpreter start-up is not ours to shrink). The
first POST additionally loads the welcome machinery (botocore, requests); that is reported separately.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import sys, time, json
sys.path[:0] = [{callback!r}, {layer!r}]
t0 = time.perf_counter()
import app
t1 = time.perf_counter()
import wecom_bundle.callback_events, wecom_bundle.runtime, wecom_bundle.storage, botocore.session, requests
t2 = time.perf_counter()
print(json.dumps({{"handler_ms": (t1 - t0) * 1000, "welcome_path_ms": (t2 - t1) * 1000}}))
"""


_ADMIN_CHILD = """
import sys, time, json
sys.path[:0] = [{admin!r}, {layer!r}]
t0 = time.perf_counter()
import app
t1 = time.perf_counter()
print(json.dumps({{"admin_ms": (t1 - t0) * 1000, "pydantic": "pydantic" in sys.modules}}))
"""


def measure_admin(samples: int = 15) -> dict[str, float | bool]:
    """The admin handler's ``import app`` (routes, models and the resolver), median of fresh interpreters."""
    code = _ADMIN_CHILD.format(admin=str(ROOT / "functions/admin"), layer=str(ROOT / "layers/shared"))
    times, pydantic = [], False
    for _ in range(samples + 1):
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
        )
        doc = json.loads(out.stdout.strip().splitlines()[-1])
        times.append(doc["admin_ms"])
        pydantic = doc["pydantic"]
    times = times[1:]  # the first run also writes .pyc files: not a cold start
    return {
        "admin_import_ms_p50": statistics.median(times),
        "admin_import_ms_max": max(times),
        "admin_imports_pydantic": pydantic,
    }


def measure(samples: int = 15) -> dict[str, float]:
    code = _CHILD.format(callback=str(ROOT / "functions/callback"), layer=str(ROOT / "layers/shared"))
    handler, welcome = [], []
    for _ in range(samples + 1):
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
        )
        doc = json.loads(out.stdout.strip().splitlines()[-1])
        handler.append(doc["handler_ms"])
        welcome.append(doc["welcome_path_ms"])
    handler, welcome = handler[1:], welcome[1:]  # the first run also writes .pyc files: not a cold start
    return {
        "samples": samples,
        "handler_import_ms_p50": statistics.median(handler),
        "handler_import_ms_max": max(handler),
        "welcome_path_import_ms_p50": statistics.median(welcome),
        **measure_admin(samples),
    }
