"""The one way tests substitute a collaborator of the container: ``runtime.overriding``.

Why a test of the seam itself: a substitute left in force by a failing test would leak into every later
test in the process; and a second seam (a module-global setter) would make two ways to do one thing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import FakeCaps
from wecom_bundle import config, runtime
from wecom_bundle.channels.lookup import ChannelLookup

LAYER = Path(__file__).resolve().parents[3] / "layers" / "shared" / "wecom_bundle"


def test_blocks_nest_and_each_exit_restores_what_was_in_force() -> None:
    outer, inner = FakeCaps({"wm1"}), FakeCaps({"wm2"})
    lookup = ChannelLookup(load=lambda _channel_id: None)
    built_lookup = runtime.channel_lookup()
    with runtime.overriding(cap_check=outer):
        assert runtime.cap_check() is outer
        with runtime.overriding(cap_check=inner, channel_lookup=lookup):
            assert runtime.cap_check() is inner and runtime.channel_lookup() is lookup
        assert runtime.cap_check() is outer and runtime.channel_lookup() is built_lookup
    assert runtime.cap_check() is not outer


@pytest.mark.usefixtures("aws_env")
def test_a_failing_block_still_restores_the_settings() -> None:
    before = config.settings
    with (
        pytest.raises(RuntimeError),
        runtime.overriding(settings=config.SettingsCache(load=config.load_settings)),
    ):
        assert config.settings is not before
        raise RuntimeError("the test body failed")
    assert config.settings is before


def test_the_layer_has_no_module_global_setters() -> None:
    """Substitution goes through ``runtime.overriding`` only: no ``use_*`` function anywhere in the layer."""
    setters = [
        f"{path.relative_to(LAYER)}:{node.name}"
        for path in LAYER.rglob("*.py")
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("use_")
    ]
    assert len(list(LAYER.rglob("*.py"))) > 30  # the scan really reads the layer
    assert setters == []
