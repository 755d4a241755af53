"""wecomctl is its own package: it declares what it imports, and installing it brings none of the layer's
libraries.

Why: operators install the CLI on their own machines (`pip install ./cli`). An import its pyproject does not
declare fails only there (the dev venv holds everything); a dependency it does not need drags the Lambda
layer's libraries onto their machines.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from local.template import REPO_ROOT

CLI = REPO_ROOT / "cli"
LAYER_IN = REPO_ROOT / "layers" / "shared" / "requirements.in"


def cli_dependencies() -> set[str]:
    """The distributions cli/pyproject.toml declares (canonical names)."""
    project = tomllib.loads((CLI / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(text).name) for text in project["dependencies"]}


def imported_modules(package: Path) -> set[str]:
    """The top-level modules imported anywhere in a package's source (absolute imports only)."""
    found: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                found |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return found


def third_party(modules: set[str], own: str) -> dict[str, set[str]]:
    """Module -> the distributions that provide it, for every module that is neither stdlib nor `own`."""
    providers = packages_distributions()
    return {
        module: {canonicalize_name(d) for d in providers.get(module, [])}
        for module in modules - set(sys.stdlib_module_names) - {own, "__future__"}
    }


def closure(names: set[str]) -> set[str]:
    """The installed distributions `names` pull in (their unconditional requirements, transitively)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return seen


def test_every_import_of_the_cli_is_stdlib_or_a_declared_dependency() -> None:
    declared = cli_dependencies()
    imports = third_party(imported_modules(CLI / "wecomctl"), own="wecomctl")
    assert imports, "the CLI imports requests and botocore; the scan found nothing"
    for module, providers in sorted(imports.items()):
        assert providers & declared, (
            f"wecomctl imports {module} ({providers or 'not installed'}): not declared"
        )


def test_the_cli_declares_nothing_it_does_not_import() -> None:
    used = set().union(*third_party(imported_modules(CLI / "wecomctl"), own="wecomctl").values())
    assert cli_dependencies() == used


def test_installing_the_cli_brings_no_layer_library_it_does_not_import() -> None:
    layer = {canonicalize_name(Requirement(line).name) for line in _requirement_lines(LAYER_IN)}
    pulled = closure(cli_dependencies())
    assert pulled & layer == cli_dependencies() & layer
    assert "boto3" in layer and "boto3" not in pulled


def test_the_root_project_no_longer_packages_the_cli() -> None:
    root = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "scripts" not in root["project"]
    assert not any("wecomctl" in p for p in root["tool"]["setuptools"]["packages"]["find"]["include"])
    cli = tomllib.loads((CLI / "pyproject.toml").read_text())["project"]
    assert cli["name"] == "wecomctl" and cli["scripts"] == {"wecomctl": "wecomctl.main:main"}


def test_the_import_scan_sees_an_undeclared_import(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("import json\nfrom pydantic import BaseModel\nfrom . import sibling\n")
    assert imported_modules(tmp_path) == {"json", "pydantic"}
    assert third_party({"json", "pydantic", "pkg"}, own="pkg") == {"pydantic": {"pydantic"}}


def _requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]
