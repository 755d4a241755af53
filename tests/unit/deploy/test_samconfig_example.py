"""samconfig.toml.example deploys as written: every override is a parameter of template.yaml that its
constraints accept, and each environment's parameters render in its region."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from tests.cfn_render import TEMPLATE, load_template, render

EXAMPLE = TEMPLATE.parent / "samconfig.toml.example"
ENVIRONMENTS = tuple(
    name
    for name, table in tomllib.loads(EXAMPLE.read_text(encoding="utf-8")).items()
    if isinstance(table, dict)
)


def _deploy_settings(environment: str) -> dict[str, Any]:
    config = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    return dict(config[environment]["deploy"]["parameters"])


def _overrides(environment: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in _deploy_settings(environment)["parameter_overrides"]]
    return {name: value for name, value in pairs}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_override_is_a_parameter_its_constraints_accept(environment: str) -> None:
    declared = load_template()["Parameters"]
    for name, value in _overrides(environment).items():
        assert name in declared, f"{environment}: {name} is not a parameter of template.yaml"
        rules = declared[name]
        if "AllowedValues" in rules:
            assert value in [str(v) for v in rules["AllowedValues"]], (environment, name, value)
        if "AllowedPattern" in rules:
            assert re.fullmatch(rules["AllowedPattern"], value), (environment, name, value)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_renders_in_its_region(environment: str) -> None:
    region = _deploy_settings(environment)["region"]
    overrides = _overrides(environment)
    rendered = render(overrides, region)
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    assert overrides["WeComSecretArn"].startswith(f"arn:{partition}:secretsmanager:{region}:")
    assert "CallbackDomainTarget" in rendered.outputs  # every example sets the corp's domain
