"""The built artifacts run: the layer as `sam build` makes it, in a clean python3.13, against local services.

Why: the unit suites import the package from the source tree inside a virtualenv that also holds moto,
pytest and the dev tools. A module the layer forgot (missing from requirements.txt) or a dev-only import on
a handler's path would pass every one of them and fail only when deployed. So this test:

1. builds the layer for the local architecture, ``pip install --target`` from ``layers/shared/requirements.txt``
   plus the layer's own code (what SAM's python3.13 build method puts in the layer's ``python/``); the
   dependencies are cached under ``.venv/built-layers/<hash of requirements, python, machine>`` (built into a
   temporary directory and renamed into place under a file lock, so two pytest-xdist workers never build into
   the same directory, nor read a half-built one);
2. builds a function's own dependencies the same way when its ``CodeUri`` has a ``requirements.txt`` (the admin
   function's pydantic: SAM installs them into that function's artifact only, never into the layer);
3. runs every function's sample event from ``events/`` in its own ``python3.13 -I -S`` process whose only path
   entries are the function's ``CodeUri`` (and its own dependencies), the layer and the standard library (no
   site-packages, no ``PYTHONPATH``, no current directory), against the local stack (WeCom simulator, moto's
   DynamoDB, SQS, S3).

Skipped, with the reason, when no python3.13 can be found (``pyenv`` 3.13.x or ``python3.13`` on PATH).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from local.events import samples
from local.settings import DEV_DEFAULTS
from local.stack import StackHandle
from local.template import REPO_ROOT

pytestmark = pytest.mark.integration

LAYER_DIR = REPO_ROOT / "layers" / "shared"
REQUIREMENTS = LAYER_DIR / "requirements.txt"
EVENTS_DIR = REPO_ROOT / "events"
CACHE_ROOT = REPO_ROOT / ".venv" / "built-layers"
PIP_INSTALL = ("-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile")
# Sample event file prefix -> the function it is for (longest prefix first).
EVENT_OWNERS = (
    ("result-sync-worker-", "ResultSyncWorkerFunction"),
    ("result-sync-", "ResultSyncFunction"),
    ("media-refresh-", "MediaRefreshFunction"),
    ("reminder-", "ReminderFunction"),
    ("callback-", "CallbackFunction"),
    ("admin-", "AdminFunction"),
)

# Runs inside the clean interpreter: nothing but the paths it is given, then one handler call per event.
CHILD = """
import json, sys
code_uri, layer, events_file, *own = sys.argv[1:]
sys.path[:0] = [code_uri, *own, layer]

class Context:
    function_name = "{name}"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:{name}"
    aws_request_id = "built-artifact-test"
    def get_remaining_time_in_millis(self):
        return 30000

import app
results = []
for event in json.load(open(events_file)):
    answer = app.lambda_handler(event, Context())
    results.append(answer)
outside = sorted(
    name for name, module in sys.modules.items()
    if name != "__main__" and getattr(module, "__file__", None) and not module.__file__.startswith(tuple(sys.path[:2 + len(own)]) + (sys.prefix, sys.base_prefix))
)
report = {{"results": results, "outside": outside, "path": sys.path, "pydantic": "pydantic" in sys.modules}}
print(json.dumps(report, default=str))
"""


def _python313() -> str | None:
    """python3.13 from pyenv (newest 3.13.x) or PATH; None when there is none."""
    pyenv = shutil.which("pyenv")
    if pyenv:
        versions = subprocess.run(
            [pyenv, "versions", "--bare"], capture_output=True, text=True
        ).stdout.split()
        found = sorted(
            (v for v in versions if v.startswith("3.13.") and v[5:].isdigit()), key=lambda v: int(v[5:])
        )
        if found:
            prefix = subprocess.run(
                [pyenv, "prefix", found[-1]], capture_output=True, text=True
            ).stdout.strip()
            if prefix and Path(prefix, "bin", "python3.13").is_file():
                return str(Path(prefix, "bin", "python3.13"))
    on_path = shutil.which("python3.13")
    if on_path and subprocess.run([on_path, "-c", "pass"], capture_output=True).returncode == 0:
        return on_path
    return None


def _cache_key(python: str, requirements: Path = REQUIREMENTS) -> str:
    interpreter = subprocess.run(
        [python, "-I", "-c", "import platform, sys; print(sys.version, platform.machine())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return hashlib.sha256(requirements.read_bytes() + interpreter.encode()).hexdigest()[:20]


def built_dependencies(python: str, requirements: Path = REQUIREMENTS) -> Path:
    """The layer's (or a function's) dependencies, pip-installed for this interpreter; built once per
    requirements hash."""
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    final = CACHE_ROOT / _cache_key(python, requirements)
    with open(CACHE_ROOT / f"{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second worker waits here, then finds the finished build
        if final.is_dir():
            return final
        building = Path(tempfile.mkdtemp(prefix=f"{final.name}.", dir=CACHE_ROOT))
        try:
            subprocess.run(
                [python, *PIP_INSTALL, "--target", str(building), "-r", str(requirements)],
                check=True,
                capture_output=True,
                text=True,
            )
            os.rename(building, final)  # atomic: nobody ever sees a half-built layer
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
    return final


def assemble_layer(dependencies: Path, into: Path) -> Path:
    """The layer's ``python/`` directory: the cached dependencies plus the package's current code."""
    layer = into / "python"
    shutil.copytree(dependencies, layer, symlinks=True)
    shutil.copytree(
        LAYER_DIR / "wecom_bundle", layer / "wecom_bundle", ignore=shutil.ignore_patterns("__pycache__")
    )
    return layer


def _events_by_function() -> dict[str, list[dict[str, Any]]]:
    """Every sample file of events/, grouped by function; callback samples re-signed now (the files carry the
    time they were signed, and the callback refuses requests older than 5 minutes)."""
    fresh = samples(dict(DEV_DEFAULTS))
    grouped: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(EVENTS_DIR.glob("*.json")):
        owner = next(fn for prefix, fn in EVENT_OWNERS if path.name.startswith(prefix))
        event = fresh[path.name] if path.name.startswith("callback-") else json.loads(path.read_text())
        grouped.setdefault(owner, []).append(event)
    return grouped


@pytest.fixture(scope="module")
def python313() -> str:
    python = _python313()
    if python is None:
        pytest.skip("no python3.13 (pyenv 3.13.x or python3.13 on PATH): the built layer cannot be tested")
    return python


@pytest.fixture(scope="module")
def layer(python313: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble_layer(built_dependencies(python313), tmp_path_factory.mktemp("built-layer"))


def test_every_function_has_a_sample_event(local_stack: StackHandle) -> None:
    assert set(_events_by_function()) == set(local_stack.template.functions)


def test_built_handlers_run_their_sample_events(
    python313: str, layer: Path, local_stack: StackHandle, tmp_path: Path
) -> None:
    events = _events_by_function()
    for name, spec in sorted(local_stack.template.functions.items()):
        events_file = tmp_path / f"{name}.json"
        events_file.write_text(json.dumps(events[name]))
        script = tmp_path / f"{name}.py"
        script.write_text(CHILD.format(name=name))
        environ = {**os.environ, **spec.environment, "PYTHONDONTWRITEBYTECODE": "1"}
        own = spec.code_uri / "requirements.txt"
        own_dependencies = [str(built_dependencies(python313, own))] if own.is_file() else []
        done = subprocess.run(
            [
                python313,
                "-I",
                "-S",
                str(script),
                str(spec.code_uri),
                str(layer),
                str(events_file),
                *own_dependencies,
            ],
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["outside"] == [], f"{name} imported modules from outside the layer: {report['outside']}"
        assert not any("site-packages" in entry for entry in report["path"]), name
        # pydantic is the admin function's own (its requirements.txt), in no other function's path.
        assert report["pydantic"] is (name == "AdminFunction"), name
        for event, answer in zip(events[name], report["results"], strict=True):
            if "routeKey" in event:  # HTTP: answered, and not with an error
                assert answer["statusCode"] < 400, f"{name} {event['routeKey']}: {answer}"
            else:
                assert answer is None or isinstance(answer, dict), f"{name}: {answer!r}"
