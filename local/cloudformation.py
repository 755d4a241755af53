"""CloudFormation YAML as the local stack reads it: the short tags, and intrinsics resolved to local values.

Why a module of its own: parsing `!Ref`/`!GetAtt`/`!Sub` and giving them a meaning on a laptop (logical ids as
names, fake but well-formed ARNs, the local queues' URLs) is a different idea from *what* the template
declares (functions, routes, tables, schedules: `local.template`), and both read better apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

LOCAL_ACCOUNT_ID = "000000000000"
LOCAL_REGION = "us-east-1"

FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
TABLE_TYPE = "AWS::DynamoDB::Table"
QUEUE_TYPE = "AWS::SQS::Queue"
BUCKET_TYPE = "AWS::S3::Bucket"


# ---------------------------------------------------------------- YAML with CloudFormation short tags


@dataclass(frozen=True)
class Intrinsic:
    """A CloudFormation intrinsic function (`!Ref X` or `{"Ref": "X"}`), kept as data to resolve later."""

    name: str  # "Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If", ...
    value: Any


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Tag value` into an `Intrinsic` instead of failing on unknown tags."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Intrinsic:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if name == "Fn::GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return Intrinsic(name, value)


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def as_intrinsic(value: Any) -> Intrinsic | None:
    """Recognise both the short tag and the long JSON form (`{"Fn::GetAtt": [...]}`)."""
    if isinstance(value, Intrinsic):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), *_ = value.items()
        if key == "Ref" or key.startswith("Fn::"):
            if key == "Fn::GetAtt" and isinstance(inner, str):
                inner = inner.split(".", 1)
            return Intrinsic(key, inner)
    return None


def load_yaml(path: Path | str) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML document (short tags included)."""
    with open(path, encoding="utf-8") as handle:
        doc = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(doc, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return doc


# ---------------------------------------------------------------- resolving intrinsics locally


class Unresolvable(Exception):
    """An intrinsic the local stack cannot give a meaningful value to (the variable is dropped)."""


@dataclass(frozen=True)
class Resolver:
    """Resolves the intrinsics that appear in Environment values to their local equivalents."""

    resources: dict[str, Any]
    parameters: dict[str, Any]
    region: str = LOCAL_REGION
    # Logical id -> URL of the queue the local stack created; without one, an AWS-shaped URL of the local
    # account (for code that only passes it around).
    queue_urls: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> str:
        intrinsic = as_intrinsic(value)
        if intrinsic is None:
            return _scalar_to_str(value)
        if intrinsic.name == "Ref":
            return self.ref(str(intrinsic.value))
        if intrinsic.name == "Fn::GetAtt":
            return self.get_att(*get_att_parts(intrinsic.value))
        if intrinsic.name == "Fn::Sub":
            return self.sub(intrinsic.value)
        raise Unresolvable(f"{intrinsic.name} is not evaluated locally")

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": LOCAL_ACCOUNT_ID,
            "AWS::StackName": "local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            param = self.parameters[name] or {}
            if "Default" not in param:
                raise Unresolvable(f"parameter {name} has no Default")
            return _scalar_to_str(param["Default"])
        kind = self._type_of(name)
        if kind in (TABLE_TYPE, *FUNCTION_TYPES):
            return name  # locally a table / function is named by its logical id
        if kind == QUEUE_TYPE:
            return self.queue_url(name)
        if kind == BUCKET_TYPE:
            return bucket_name(name)
        raise Unresolvable(f"Ref {name} ({kind}) has no local value")

    def get_att(self, name: str, attribute: str) -> str:
        kind = self._type_of(name)
        if kind == QUEUE_TYPE and attribute in ("Arn", "QueueName", "QueueUrl"):
            return self.queue_attribute(name, attribute)
        if attribute == "Arn":
            return local_arn(kind, name, self.region)
        raise Unresolvable(f"GetAtt {name}.{attribute} has no local value")

    def queue_url(self, name: str) -> str:
        return (
            self.queue_urls.get(name) or f"https://sqs.{self.region}.amazonaws.com/{LOCAL_ACCOUNT_ID}/{name}"
        )

    def queue_attribute(self, name: str, attribute: str) -> str:
        """Arn / QueueName / QueueUrl of a queue, consistent with its URL (moto's account is in the path)."""
        url = self.queue_url(name)
        if attribute == "QueueUrl":
            return url
        if attribute == "QueueName":
            return name
        return queue_arn(url, self.region)

    def sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], dict(value[1]))

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return self.resolve(variables[token])
            if "." in token:
                return self.get_att(*token.split(".", 1))
            return self.ref(token)

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))

    def _type_of(self, name: str) -> str:
        resource = self.resources.get(name)
        if not isinstance(resource, dict):
            raise Unresolvable(f"{name} is neither a parameter nor a resource")
        return str(resource.get("Type", ""))


def get_att_parts(value: Any) -> tuple[str, str]:
    if isinstance(value, str):
        value = value.split(".", 1)
    if not isinstance(value, list) or len(value) != 2:
        raise Unresolvable(f"malformed GetAtt {value!r}")
    return str(value[0]), str(value[1])


def _scalar_to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise Unresolvable(f"{type(value).__name__} value is not a scalar")


def local_arn(resource_type: str, logical_id: str, region: str = LOCAL_REGION) -> str:
    """A well-formed but fake ARN, so code that only passes ARNs around keeps working locally."""
    prefix = f"arn:aws:{{service}}:{region}:{LOCAL_ACCOUNT_ID}:"
    if resource_type == TABLE_TYPE:
        return prefix.format(service="dynamodb") + f"table/{logical_id}"
    if resource_type in FUNCTION_TYPES:
        return prefix.format(service="lambda") + f"function:{logical_id}"
    if resource_type == "AWS::SQS::Queue":
        return prefix.format(service="sqs") + logical_id
    if resource_type == "AWS::SNS::Topic":
        return prefix.format(service="sns") + logical_id
    return prefix.format(service="local") + logical_id


def queue_arn(queue_url: str, region: str = LOCAL_REGION) -> str:
    """The ARN of the queue at `queue_url` (`.../{account}/{name}`, the form both SQS and moto use)."""
    account, name = urlsplit(queue_url).path.strip("/").split("/")[-2:]
    return f"arn:aws:sqs:{region}:{account}:{name}"


def bucket_name(logical_id: str) -> str:
    """The local name of a template bucket (S3 names are lowercase): ``MediaBucket`` → ``local-mediabucket``."""
    return f"local-{logical_id.lower()}"
