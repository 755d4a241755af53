"""Read template.yaml into plain specs for the local stack.

Why: the local gateway, scheduler and tables must be *derived* from the SAM template, never declared a second
time, so local and deployed behaviour (routes, schedules, key schemas) cannot drift apart. The YAML tags and
the local meaning of intrinsics live in `local.cloudformation`; this module holds what the template declares.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.cloudformation import (
    FUNCTION_TYPES,
    LOCAL_REGION,
    QUEUE_TYPE,
    TABLE_TYPE,
    Resolver,
    Unresolvable,
    as_intrinsic,
    get_att_parts,
    load_yaml,
)

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"

# Variables that must not reach the local handlers even though the template sets them: locally the WeCom
# settings come from env vars, and a secret id would make the config module call Secrets Manager.
LOCAL_DROPPED_VARIABLES = frozenset({"WECOM_SECRET_ID"})

LAYER_TYPES = {"AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"}
SCHEDULE_EVENT_TYPES = {"Schedule", "ScheduleV2"}


# ---------------------------------------------------------------- specs


@dataclass(frozen=True)
class FunctionSpec:
    """What the in-process runtime needs to load and call one function."""

    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_size: int
    layers: tuple[Path, ...] = ()


@dataclass(frozen=True)
class RouteSpec:
    """One HttpApi route; `path` keeps the template's `{param}` / `{proxy+}` placeholders."""

    method: str  # upper case, or "ANY"
    path: str  # "/callback", "/admin/{id}", or "$default"
    function_id: str
    auth: str  # "NONE", "AWS_IAM", or an authorizer name
    event_name: str

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class ScheduleSpec:
    """One Schedule/ScheduleV2 event of a function."""

    function_id: str
    event_name: str
    kind: str  # "Schedule" (EventBridge rule) or "ScheduleV2" (EventBridge Scheduler)
    expression: str  # "rate(30 minutes)", "cron(0 9 * * ? *)"
    input: str | None = None
    enabled: bool = True
    timezone: str | None = None  # ScheduleExpressionTimezone (ScheduleV2); cron is UTC without it


@dataclass(frozen=True)
class SqsSourceSpec:
    """One SQS event source of a function (the queue is a logical id when the template references one)."""

    function_id: str
    event_name: str
    queue: str
    batch_size: int = 10
    # FunctionResponseTypes has ReportBatchItemFailures: only then does Lambda read `batchItemFailures`.
    report_batch_item_failures: bool = False


@dataclass(frozen=True)
class QueueSpec:
    """An AWS::SQS::Queue (locally named by its logical id); the dead-letter queue is a logical id too."""

    logical_id: str
    visibility_timeout: int | None = None
    retention_period: int | None = None
    dead_letter_queue: str | None = None
    max_receive_count: int | None = None


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table as boto3 `create_table` kwargs plus its TTL attribute."""

    logical_id: str
    create_kwargs: dict[str, Any]
    ttl_attribute: str | None = None

    @property
    def name(self) -> str:
        return str(self.create_kwargs["TableName"])


@dataclass(frozen=True)
class Template:
    """Everything the local stack reads from template.yaml."""

    path: Path
    functions: dict[str, FunctionSpec]
    routes: list[RouteSpec]
    schedules: list[ScheduleSpec]
    sqs_sources: list[SqsSourceSpec]
    tables: dict[str, TableSpec]
    parameters: dict[str, Any] = field(default_factory=dict)
    queues: dict[str, QueueSpec] = field(default_factory=dict)


def resolve_environment(
    variables: dict[str, Any], resolver: Resolver, owner: str = "Globals"
) -> dict[str, str]:
    """Resolve one Environment.Variables map; unresolvable or locally dropped variables are left out."""
    resolved: dict[str, str] = {}
    for name, value in (variables or {}).items():
        if name in LOCAL_DROPPED_VARIABLES:
            log.debug("%s: %s is dropped locally (settings come from env vars)", owner, name)
            continue
        try:
            resolved[name] = resolver.resolve(value)
        except Unresolvable as exc:
            log.debug("%s: %s dropped: %s", owner, name, exc)
    return resolved


# ---------------------------------------------------------------- sections of the template


def _function_specs(
    doc: dict[str, Any], resolver: Resolver, root: Path, layer_dirs: dict[str, Path]
) -> dict[str, FunctionSpec]:
    globals_fn = (doc.get("Globals") or {}).get("Function") or {}
    global_env = ((globals_fn.get("Environment") or {}).get("Variables")) or {}
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in _resources_of(doc, FUNCTION_TYPES):
        props = resource.get("Properties") or {}
        own_env = ((props.get("Environment") or {}).get("Variables")) or {}
        environment = resolve_environment({**global_env, **own_env}, resolver, logical_id)
        # SAM adds a function's own Layers to the Globals ones (lists are additive), it does not replace them.
        layers = [*(globals_fn.get("Layers") or []), *(props.get("Layers") or [])]
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_uri=(root / str(props.get("CodeUri", ".")).rstrip("/")).resolve(),
            handler=str(props.get("Handler", globals_fn.get("Handler", "app.lambda_handler"))),
            environment=environment,
            timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            memory_size=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
            layers=tuple(_layer_paths(layers, layer_dirs)),
        )
    return specs


def _layer_paths(layers: list[Any], layer_dirs: dict[str, Path]) -> list[Path]:
    paths = []
    for layer in layers:
        intrinsic = as_intrinsic(layer)
        if intrinsic and intrinsic.name == "Ref" and intrinsic.value in layer_dirs:
            paths.append(layer_dirs[str(intrinsic.value)])
        else:
            log.debug("layer %r is not a local layer of this template", layer)
    return paths


def _layer_dirs(doc: dict[str, Any], root: Path) -> dict[str, Path]:
    return {
        logical_id: (root / str((resource.get("Properties") or {}).get("ContentUri", "."))).resolve()
        for logical_id, resource in _resources_of(doc, LAYER_TYPES)
    }


def _events_of(doc: dict[str, Any], types: set[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(function id, event name, event properties) of every function event whose Type is in `types`."""
    found = []
    for logical_id, resource in _resources_of(doc, FUNCTION_TYPES):
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event_name, event in events.items():
            if isinstance(event, dict) and event.get("Type") in types:
                found.append(
                    (logical_id, event_name, {"Type": event["Type"], **(event.get("Properties") or {})})
                )
    return found


def _route_specs(doc: dict[str, Any]) -> list[RouteSpec]:
    routes = []
    for function_id, event_name, props in _events_of(doc, {"HttpApi"}):
        method = str(props.get("Method", "ANY")).upper()
        path = str(props.get("Path", "$default"))
        auth = str(((props.get("Auth") or {}).get("Authorizer")) or _default_authorizer(doc))
        routes.append(RouteSpec("ANY" if path == "$default" else method, path, function_id, auth, event_name))
    return routes


def _default_authorizer(doc: dict[str, Any]) -> str:
    """The HttpApi's DefaultAuthorizer, if any; otherwise routes are open ("NONE")."""
    for _, resource in _resources_of(doc, {"AWS::Serverless::HttpApi"}):
        auth = (resource.get("Properties") or {}).get("Auth") or {}
        if auth.get("DefaultAuthorizer"):
            return str(auth["DefaultAuthorizer"])
    return "NONE"


def _schedule_specs(doc: dict[str, Any]) -> list[ScheduleSpec]:
    schedules = []
    for function_id, event_name, props in _events_of(doc, SCHEDULE_EVENT_TYPES):
        expression = props.get("Schedule") or props.get("ScheduleExpression")
        if not isinstance(expression, str):
            log.debug("%s.%s: schedule expression is not a literal; skipped", function_id, event_name)
            continue
        enabled = props.get("Enabled", True) is not False and props.get("State", "ENABLED") != "DISABLED"
        raw_input = props.get("Input")
        schedules.append(
            ScheduleSpec(
                function_id=function_id,
                event_name=event_name,
                kind=str(props["Type"]),
                expression=expression.strip(),
                input=raw_input if isinstance(raw_input, str) else None,
                enabled=enabled,
                timezone=props.get("ScheduleExpressionTimezone") or None,
            )
        )
    return schedules


def _sqs_specs(doc: dict[str, Any]) -> list[SqsSourceSpec]:
    sources = []
    for function_id, event_name, props in _events_of(doc, {"SQS"}):
        queue = props.get("Queue")
        intrinsic = as_intrinsic(queue)
        if intrinsic is not None:
            queue = intrinsic.value[0] if intrinsic.name == "Fn::GetAtt" else intrinsic.value
        reports = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
        batch_size = int(props.get("BatchSize", 10))
        sources.append(SqsSourceSpec(function_id, event_name, str(queue), batch_size, reports))
    return sources


def _queue_specs(doc: dict[str, Any]) -> dict[str, QueueSpec]:
    return {
        logical_id: queue_spec(logical_id, resource.get("Properties") or {})
        for logical_id, resource in _resources_of(doc, {QUEUE_TYPE})
    }


def queue_spec(logical_id: str, props: dict[str, Any]) -> QueueSpec:
    """The queue attributes the local stack reproduces; a dead-letter target must be a queue of the template."""
    redrive = props.get("RedrivePolicy") or {}
    target = as_intrinsic(redrive.get("deadLetterTargetArn"))
    dead_letter = None
    if target is not None and target.name == "Fn::GetAtt":
        dead_letter = get_att_parts(target.value)[0]
    elif redrive:
        log.warning("%s: dead-letter target is not a GetAtt of a queue here; no redrive locally", logical_id)
    return QueueSpec(
        logical_id=logical_id,
        visibility_timeout=_optional_int(props.get("VisibilityTimeout")),
        retention_period=_optional_int(props.get("MessageRetentionPeriod")),
        dead_letter_queue=dead_letter,
        max_receive_count=_optional_int(redrive.get("maxReceiveCount")) if dead_letter else None,
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None or as_intrinsic(value) is not None else int(value)


def _table_specs(doc: dict[str, Any]) -> dict[str, TableSpec]:
    return {
        logical_id: table_spec(logical_id, resource.get("Properties") or {})
        for logical_id, resource in _resources_of(doc, {TABLE_TYPE})
    }


def table_spec(logical_id: str, props: dict[str, Any]) -> TableSpec:
    """Map AWS::DynamoDB::Table properties to boto3 `create_table` kwargs (locally named by logical id)."""
    billing = str(props.get("BillingMode", "PROVISIONED"))
    kwargs: dict[str, Any] = {
        "TableName": logical_id,
        "AttributeDefinitions": [dict(item) for item in props["AttributeDefinitions"]],
        "KeySchema": [dict(item) for item in props["KeySchema"]],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = _throughput(props.get("ProvisionedThroughput"))
    for cfn_key, boto_key in (
        ("GlobalSecondaryIndexes", "GlobalSecondaryIndexes"),
        ("LocalSecondaryIndexes", "LocalSecondaryIndexes"),
    ):
        indexes = props.get(cfn_key)
        if indexes:
            global_index = cfn_key.startswith("Global")
            kwargs[boto_key] = [_index(index, billing, global_index) for index in indexes]
    ttl = props.get("TimeToLiveSpecification") or {}
    ttl_attribute = ttl.get("AttributeName") if ttl.get("Enabled") in (True, "true") else None
    return TableSpec(logical_id, kwargs, ttl_attribute)


def _index(index: dict[str, Any], billing: str, global_index: bool) -> dict[str, Any]:
    projection = dict(index.get("Projection") or {"ProjectionType": "ALL"})
    built: dict[str, Any] = {
        "IndexName": index["IndexName"],
        "KeySchema": [dict(item) for item in index["KeySchema"]],
        "Projection": projection,
    }
    if global_index and billing == "PROVISIONED":
        built["ProvisionedThroughput"] = _throughput(index.get("ProvisionedThroughput"))
    return built


def _throughput(value: dict[str, Any] | None) -> dict[str, int]:
    value = value or {}
    return {
        "ReadCapacityUnits": int(value.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(value.get("WriteCapacityUnits", 5)),
    }


def _resources_of(doc: dict[str, Any], types: set[str]) -> list[tuple[str, dict[str, Any]]]:
    resources = doc.get("Resources") or {}
    return [
        (name, res) for name, res in resources.items() if isinstance(res, dict) and res.get("Type") in types
    ]


# ---------------------------------------------------------------- entry point


def load_template(
    path: Path | str = DEFAULT_TEMPLATE,
    *,
    region: str = LOCAL_REGION,
    queue_urls: Mapping[str, str] | None = None,
) -> Template:
    """Parse template.yaml into the specs the local stack runs from.

    `queue_urls` (logical id -> URL of the local queue) makes `!Ref Queue` and `!GetAtt Queue.Arn` in the
    functions' environments point at the queues the stack created.
    """
    path = Path(path).resolve()
    doc = load_yaml(path)
    parameters = doc.get("Parameters") or {}
    resolver = Resolver(
        resources=doc.get("Resources") or {},
        parameters=parameters,
        region=region,
        queue_urls=dict(queue_urls or {}),
    )
    root = path.parent
    return Template(
        path=path,
        functions=_function_specs(doc, resolver, root, _layer_dirs(doc, root)),
        routes=_route_specs(doc),
        schedules=_schedule_specs(doc),
        sqs_sources=_sqs_specs(doc),
        tables=_table_specs(doc),
        parameters=parameters,
        queues=_queue_specs(doc),
    )
