"""The hashed locks agree with their inputs and with each other.

Why: `make setup`, `sam build` and the SAM CLI venv install only from the locks (pip --require-hashes). A pin
edited in a .in file without `make lock`, a lock edited by hand, or a layer that runs other versions than the
tests do would pass every other test and surface only as a different SDK in production. These checks read
the files as pip does and fail on any such drift.
"""

from __future__ import annotations

from importlib.metadata import requires, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from local.template import REPO_ROOT

LAYER_IN = REPO_ROOT / "layers" / "shared" / "requirements.in"
LAYER_LOCK = REPO_ROOT / "layers" / "shared" / "requirements.txt"
ADMIN_IN = REPO_ROOT / "functions" / "admin" / "requirements.in"
ADMIN_LOCK = REPO_ROOT / "functions" / "admin" / "requirements.txt"
DEV_IN = REPO_ROOT / "requirements" / "dev.in"
DEV_LOCK = REPO_ROOT / "requirements" / "dev.lock"
SAM_IN = REPO_ROOT / "requirements" / "sam.in"
SAM_LOCK = REPO_ROOT / "requirements" / "sam.lock"
LOCKS = {LAYER_IN: LAYER_LOCK, ADMIN_IN: ADMIN_LOCK, DEV_IN: DEV_LOCK, SAM_IN: SAM_LOCK}


class LockEntry:
    """One requirement of a lock: its name, exact version, environment marker and hashes."""

    def __init__(self, line: str) -> None:
        spec, *hashes = (part.strip() for part in line.split("--hash="))
        self.requirement = Requirement(spec)
        self.name = canonicalize_name(self.requirement.name)
        pins = [s.version for s in self.requirement.specifier if s.operator == "=="]
        self.version = Version(pins[0]) if len(pins) == 1 else None
        self.hashes = hashes


def lock_entries(path: Path) -> list[LockEntry]:
    """The requirements of a lock, continuation lines joined and comments dropped (as pip reads them)."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line and not pending:
            continue
        pending += line.removesuffix("\\") + " "
        if not line.endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    assert not pending, f"{path.name}: a continued line runs off the end"
    return [LockEntry(line) for line in logical if line]


def versions(path: Path) -> dict[str, set[Version | None]]:
    """Package name -> the versions a lock pins (a universal lock may pin two, under exclusive markers)."""
    found: dict[str, set[Version | None]] = {}
    for entry in lock_entries(path):
        found.setdefault(entry.name, set()).add(entry.version)
    return found


def input_pins(path: Path) -> list[Requirement]:
    """The requirements of a .in file, following its `-r` includes (relative to the including file)."""
    pins: list[Requirement] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins += input_pins((path.parent / line[3:].strip()).resolve())
        elif line:
            pins.append(Requirement(line))
    return pins


@pytest.mark.parametrize("lock", list(LOCKS.values()), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_entry_is_pinned_exactly_with_hashes(lock: Path) -> None:
    entries = lock_entries(lock)
    assert len(entries) >= 2, lock
    for entry in entries:
        assert entry.version is not None, f"{lock.name}: {entry.requirement} is not pinned with =="
        assert entry.hashes, f"{lock.name}: {entry.name} has no hash"
        assert all(h.startswith("sha256:") and len(h) == len("sha256:") + 64 for h in entry.hashes), (
            entry.name
        )


@pytest.mark.parametrize("source", list(LOCKS), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_input_pin_is_locked_at_that_version(source: Path) -> None:
    locked = versions(LOCKS[source])
    for requirement in input_pins(source):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} from {source.name} is missing from {LOCKS[source].name}: make lock"
        for pinned in locked[name]:
            assert pinned in requirement.specifier, (
                f"{name}: {source.name} says {requirement.specifier}, lock {pinned}"
            )


@pytest.mark.parametrize("lambda_lock", [LAYER_LOCK, ADMIN_LOCK], ids=["layer", "admin"])
def test_the_lambda_runs_the_versions_the_tests_use(lambda_lock: Path) -> None:
    dev = versions(DEV_LOCK)
    for name, pinned in versions(lambda_lock).items():
        assert name in dev, f"{name} is in {lambda_lock.name} but not in dev.lock"
        assert pinned <= dev[name], f"{name}: Lambda {pinned}, tests {dev[name]}"


def test_pydantic_is_the_admin_functions_own() -> None:
    assert "pydantic" in versions(ADMIN_LOCK)
    assert "pydantic" not in versions(LAYER_LOCK)


def botocore_floor(boto3_requirements: list[str]) -> Version:
    """The lowest botocore the installed boto3 release accepts (its metadata: botocore>=X,<Y)."""
    for text in boto3_requirements:
        requirement = Requirement(text)
        if requirement.name == "botocore" and requirement.marker is None:
            floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
            assert len(floors) == 1, text
            return floors[0]
    raise AssertionError("the installed boto3 does not require botocore")


def test_boto3_and_botocore_are_one_release_in_every_lock() -> None:
    # The release scheme, read from the boto3 the tests run: boto3 X.Y.Z requires botocore >= X.Y.Z, the
    # botocore released with it. Any other botocore is the newest of the line, untested with that boto3.
    installed = Version(version("boto3"))
    assert botocore_floor(requires("boto3") or []) == installed
    assert versions(DEV_LOCK)["boto3"] == {installed}
    for lock in LOCKS.values():
        locked = versions(lock)
        if "boto3" in locked:
            assert locked["botocore"] == locked["boto3"], f"{lock.name}: boto3 {locked['boto3']}"


def test_botocore_floor_reads_the_lower_bound() -> None:
    assert botocore_floor(["jmespath>=0.7.1", "botocore<1.45.0,>=1.44.18"]) == Version("1.44.18")
    with pytest.raises(AssertionError):
        botocore_floor(["jmespath>=0.7.1"])


def test_a_lock_entry_without_a_hash_is_seen(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("a==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n    # via x\nb==2.0\nc>=1\n")
    entries = lock_entries(lock)
    assert [(e.name, e.version, len(e.hashes)) for e in entries] == [
        ("a", Version("1.0"), 1),
        ("b", Version("2.0"), 0),
        ("c", None, 0),
    ]
