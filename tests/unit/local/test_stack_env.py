"""local.stack.EnvironmentChanges: the stack undoes exactly its own changes to os.environ."""

from __future__ import annotations

import os

import pytest

from local.stack import EnvironmentChanges


def test_restore_undoes_only_the_stacks_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_TEST_KEPT", "before")
    monkeypatch.setenv("LOCAL_TEST_REMOVED", "before")
    monkeypatch.delenv("LOCAL_TEST_ADDED", raising=False)
    changes = EnvironmentChanges()
    changes["LOCAL_TEST_KEPT"] = "during"
    changes["LOCAL_TEST_KEPT"] = "during-again"
    changes.setdefault("LOCAL_TEST_ADDED", "new")
    changes.setdefault("LOCAL_TEST_REMOVED", "ignored")  # present: setdefault changes nothing
    del changes["LOCAL_TEST_REMOVED"]
    assert os.environ["LOCAL_TEST_KEPT"] == "during-again"
    assert os.environ["LOCAL_TEST_ADDED"] == "new"
    assert "LOCAL_TEST_REMOVED" not in os.environ
    monkeypatch.setenv("LOCAL_TEST_OTHER", "set by someone else meanwhile")
    changes.restore()
    assert os.environ["LOCAL_TEST_KEPT"] == "before"
    assert os.environ["LOCAL_TEST_REMOVED"] == "before"
    assert "LOCAL_TEST_ADDED" not in os.environ
    assert os.environ["LOCAL_TEST_OTHER"] == "set by someone else meanwhile"


def test_reads_go_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_TEST_READ", "x")
    changes = EnvironmentChanges()
    assert changes["LOCAL_TEST_READ"] == "x"
    assert changes.get("LOCAL_TEST_MISSING") is None
    assert "LOCAL_TEST_READ" in changes
    assert len(changes) == len(os.environ)
