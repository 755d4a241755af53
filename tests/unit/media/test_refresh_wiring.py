"""The media refresh knows its content holders only through what the wiring passes in.

Why: naming its holders' modules in strings (imported at run time to dodge an import cycle) would hide the
dependency from every tool. ``runtime.media_refresh`` passes every source and hook in, so the refresh module imports no holder, no
holder imports the refresh, and nothing is looked up by module name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from wecom_bundle import runtime
from wecom_bundle.media import refresh

LAYER = Path(refresh.__file__).resolve().parents[1]


def _modules_after_import(module: str) -> list[str]:
    """The layer's modules a fresh interpreter holds after importing ``module`` (no other test's imports)."""
    probe = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        "import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith('wecom_bundle'))))\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"PYTHONPATH": str(LAYER.parent)},
    )
    return list(json.loads(answer.stdout))


def test_the_refresh_imports_no_content_holder_and_names_none() -> None:
    loaded = _modules_after_import("wecom_bundle.media.refresh")
    holders = ("wecom_bundle.group_templates", "wecom_bundle.campaigns", "welcome")
    assert [m for m in loaded if any(holder in m for holder in holders)] == []
    assert "import_module" not in Path(refresh.__file__).read_text(encoding="utf-8")


def test_the_wiring_passes_every_holder_in() -> None:
    wired = runtime.media_refresh()
    assert set(wired.sources) == {"welcome_rules", "campaigns", "group_templates"}
    assert set(wired.after_refresh) == {"group_templates"}


def test_the_domain_packages_import_nothing_by_themselves() -> None:
    for package in ("wecom_bundle.media", "wecom_bundle.group_templates"):
        assert _modules_after_import(package) == ["wecom_bundle", package]
