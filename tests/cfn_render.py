"""template.yaml as one deployment sees it: the SAM transform, then its Conditions and every Fn::If decided.

Why: what a parameter or the partition switches on or off (SnapStart and X-Ray in aws-cn, VpcConfig per
EgressMode, the custom domain) is decided by Conditions that only a deployment evaluates; the raw YAML holds
both branches of every choice. The transform is SAM's own (samtranslator, the library `sam validate` and
CloudFormation's transform run); the evaluator below is deliberately small: Fn::If, Fn::Equals, Fn::Not,
Fn::And, Fn::Or, Condition, and Ref to a parameter or a pseudo parameter. Anything else in a condition is an
error rather than a guess. Other intrinsics (Ref to a resource, GetAtt, Sub) are left as they are, with their
contents decided.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.cloudformation import Intrinsic, load_yaml

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"

ParameterValue = str | list[str]


def long_form(node: Any) -> Any:
    """The local stack's parse (short tags as `Intrinsic`) in CloudFormation's JSON form: ``{"Ref": x}``,
    ``{"Fn::GetAtt": [r, a]}``, ``{"Condition": c}``..."""
    if isinstance(node, Intrinsic):
        return {"Condition" if node.name == "Fn::Condition" else node.name: long_form(node.value)}
    if isinstance(node, dict):
        return {key: long_form(value) for key, value in node.items()}
    if isinstance(node, list):
        return [long_form(item) for item in node]
    return node


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data, short tags in their long form."""
    doc = long_form(load_yaml(path))
    assert isinstance(doc, dict)
    return doc


def partition_of(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws"


class _NoValue:
    """AWS::NoValue: the property or list item it stands for is removed."""


NO_VALUE = _NoValue()


class ConditionError(ValueError):
    """A condition uses something this evaluator does not decide (it refuses instead of guessing)."""


@dataclass(frozen=True)
class Conditions:
    """The template's Conditions decided for one set of parameter values (pseudo parameters included)."""

    definitions: Mapping[str, Any]
    values: Mapping[str, ParameterValue]

    def holds(self, name: str) -> bool:
        if name not in self.definitions:
            raise ConditionError(f"no condition named {name}")
        return self._decide(self.definitions[name])

    def _decide(self, expression: Any) -> bool:
        if not isinstance(expression, dict) or len(expression) != 1:
            raise ConditionError(f"not a condition function: {expression!r}")
        ((function, args),) = expression.items()
        if function == "Condition":
            return self.holds(str(args))
        if function == "Fn::Equals":
            left, right = args
            return self.value(left) == self.value(right)
        if function == "Fn::Not":
            (inner,) = args
            return not self._decide(inner)
        if function == "Fn::And":
            return all(self._decide(inner) for inner in args)
        if function == "Fn::Or":
            return any(self._decide(inner) for inner in args)
        if function == "Fn::EachMemberEquals":  # Rules only: every member of a list parameter is the value
            members, expected = self.value(args[0]), self.value(args[1])
            return all(member == expected for member in members) if isinstance(members, list) else False
        raise ConditionError(f"{function} is not evaluated here")

    def failed_rules(self, rules: Mapping[str, Any]) -> dict[str, list[str]]:
        """The template's Rules that refuse these parameters: rule name → the refused assertions' texts."""
        failed: dict[str, list[str]] = {}
        for name, rule in rules.items():
            if "RuleCondition" in rule and not self._decide(rule["RuleCondition"]):
                continue
            refused = [a["AssertDescription"] for a in rule["Assertions"] if not self._decide(a["Assert"])]
            if refused:
                failed[name] = refused
        return failed

    def value(self, operand: Any) -> ParameterValue:
        """A literal, or a Ref to a parameter or pseudo parameter."""
        if isinstance(operand, bool):
            return "true" if operand else "false"
        if isinstance(operand, str | int | float):
            return str(operand)
        if isinstance(operand, dict) and set(operand) == {"Ref"}:
            name = operand["Ref"]
            if name not in self.values:
                raise ConditionError(f"Ref {name} is neither a parameter nor a pseudo parameter")
            return self.values[name]
        raise ConditionError(f"cannot evaluate {operand!r} in a condition")

    def resolve(self, node: Any) -> Any:
        """``node`` with every Fn::If decided and every AWS::NoValue removed."""
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            return self.resolve(when_true if self.holds(name) else when_false)
        if node == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}


@dataclass(frozen=True)
class Rendered:
    """The resources and outputs one deployment creates (those whose Condition holds), fully decided."""

    resources: dict[str, Any]
    outputs: dict[str, Any]
    conditions: Conditions

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}

    def properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources[logical_id].get("Properties", {}))


class _NoManagedPolicies:
    """The transform asks IAM for managed policy names only when a template names one; this one does not."""

    def load(self) -> dict[str, str]:
        return {}


@contextlib.contextmanager
def _region(region: str) -> Iterator[None]:
    """SAM takes the region (and from it the partition of the ARNs it writes) from the boto session."""
    from samtranslator.translator.arn_generator import ArnGenerator

    saved_env = os.environ.get("AWS_DEFAULT_REGION")
    saved_region = ArnGenerator.BOTO_SESSION_REGION_NAME
    os.environ["AWS_DEFAULT_REGION"] = region
    ArnGenerator.BOTO_SESSION_REGION_NAME = region
    try:
        yield
    finally:
        ArnGenerator.BOTO_SESSION_REGION_NAME = saved_region
        if saved_env is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved_env


def parameter_values(
    template: Mapping[str, Any], given: Mapping[str, str], region: str
) -> dict[str, ParameterValue]:
    """Defaults overlaid with ``given``; CommaDelimitedList values as lists; the pseudo parameters."""
    values: dict[str, ParameterValue] = {}
    for name, declaration in template.get("Parameters", {}).items():
        raw = given.get(name, declaration.get("Default"))
        if raw is None:
            raise ValueError(f"parameter {name} has no default: give it")
        text = str(raw)
        values[name] = text.split(",") if declaration["Type"] == "CommaDelimitedList" else text
    unknown = set(given) - set(values)
    if unknown:
        raise ValueError(f"not parameters of the template: {sorted(unknown)}")
    partition = partition_of(region)
    values["AWS::Region"] = region
    values["AWS::Partition"] = partition
    values["AWS::URLSuffix"] = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return values


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    """The template as `sam package` hands it on: local code folders become S3 locations (as `sam validate`
    does too: the transform accepts only those)."""
    doc = copy.deepcopy(template)
    uri_of = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}
    for resource in doc["Resources"].values():
        key = uri_of.get(resource["Type"])
        if key and isinstance(resource["Properties"].get(key), str):
            resource["Properties"][key] = f"s3://packaged/{resource['Properties'][key].strip('/')}"
    return doc


def transformed(given: Mapping[str, str], region: str, path: Path = TEMPLATE) -> dict[str, Any]:
    """The CloudFormation template SAM makes of template.yaml in ``region`` with ``given`` parameters."""
    from samtranslator.translator.transform import transform

    with _region(region):
        return transform(packaged(load_template(path)), dict(given), _NoManagedPolicies())  # type: ignore[arg-type]


def refusals(given: Mapping[str, str], region: str, path: Path = TEMPLATE) -> dict[str, list[str]]:
    """What the template's Rules refuse for ``given`` parameters (CloudFormation checks them before it
    creates anything); empty when the parameters fit together."""
    template = load_template(path)
    conditions = Conditions(template.get("Conditions", {}), parameter_values(template, given, region))
    return conditions.failed_rules(template.get("Rules", {}))


def render(given: Mapping[str, str], region: str, path: Path = TEMPLATE) -> Rendered:
    """What a deployment in ``region`` with ``given`` parameters creates."""
    cfn = transformed(given, region, path)
    conditions = Conditions(cfn.get("Conditions", {}), parameter_values(cfn, given, region))
    resources = {
        name: conditions.resolve(resource)
        for name, resource in cfn["Resources"].items()
        if "Condition" not in resource or conditions.holds(resource["Condition"])
    }
    outputs = {
        name: conditions.resolve(output)
        for name, output in cfn.get("Outputs", {}).items()
        if "Condition" not in output or conditions.holds(output["Condition"])
    }
    return Rendered(resources, outputs, conditions)
