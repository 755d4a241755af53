"""Start and stop the whole local stack: DynamoDB, SQS, the WeCom simulator, the gateway, the scheduler.

Why one function: `make run`, `make invoke`, the demo and the e2e tests must all get the *same* stack, started
in the same order (each part needs the previous one's address) and stopped in reverse, with the process
environment put back afterwards.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.cloudformation import LOCAL_REGION
from local.dynamodb import DynamoDBHandle, local_client, start_aws_services, start_dynamodb
from local.gateway import LocalGateway
from local.lambda_runtime import LocalLambdaRuntime, add_layers_to_path, apply_environment, reset_layer_state
from local.queues import SqsPoller, create_queues, delete_queues, queue_visibility, start_pollers
from local.scheduler import LocalScheduler, schedule_scale, scheduled_event
from local.settings import apply_dev_defaults
from local.template import DEFAULT_TEMPLATE, Template, load_template

log = logging.getLogger(__name__)

SIMULATOR_SETTINGS = ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")


class EnvironmentChanges(MutableMapping[str, str]):
    """os.environ, remembering the original value of every key it changes so `restore()` can undo exactly that.

    Why not snapshot-and-replace: a test may change other variables while the stack runs; only the stack's
    own changes must be rolled back.
    """

    def __init__(self) -> None:
        self._original: dict[str, str | None] = {}

    def __getitem__(self, key: str) -> str:
        return os.environ[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._original.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    def __delitem__(self, key: str) -> None:
        self._original.setdefault(key, os.environ.get(key))
        del os.environ[key]

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)

    def restore(self) -> None:
        for key, value in self._original.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._original.clear()


@dataclass
class StackHandle:
    """A running local stack. `stop()` is idempotent; the handle is also a context manager."""

    template: Template
    runtime: LocalLambdaRuntime
    dynamodb: DynamoDBHandle | None = None
    gateway: LocalGateway | None = None
    scheduler: LocalScheduler | None = None
    # The local.wecom_sim.server handle, or None when WECOM_API_BASE points elsewhere.
    simulator: Any | None = None
    wecom_api_base: str = ""
    # DynamoDB Local's files when they outlive the stack (`make run DYNAMODB=local`); None: in memory.
    dynamodb_data_dir: Path | None = None
    # moto for the services other than DynamoDB (SQS): DynamoDB's own server in moto mode.
    aws_services_endpoint: str = ""
    queue_urls: dict[str, str] = field(default_factory=dict)
    pollers: list[SqsPoller] = field(default_factory=list)
    _env: EnvironmentChanges = field(default_factory=EnvironmentChanges)
    _stoppers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        assert self.gateway is not None, "the gateway has not been started"
        return self.gateway.url

    @property
    def dynamodb_endpoint(self) -> str:
        assert self.dynamodb is not None, "DynamoDB has not been started"
        return self.dynamodb.endpoint

    @property
    def dynamodb_mode(self) -> str:
        return self.dynamodb.mode if self.dynamodb else ""

    def invoke(self, logical_id: str, event: Any = None) -> Any:
        """Run a function of the template now (no event: the scheduled event its schedule would send)."""
        if event is None:
            schedule = next((s for s in self.template.schedules if s.function_id == logical_id), None)
            event = scheduled_event(logical_id, schedule)
        return self.runtime.invoke(logical_id, event)

    def health(self) -> dict[str, Any]:
        """What `/__local/health` reports next to `"status": "ok"` (no secret values)."""
        return {
            "dynamodb": {
                "mode": self.dynamodb_mode,
                "endpoint": self.dynamodb.endpoint if self.dynamodb else None,
            },
            "wecom_api_base": self.wecom_api_base,
            "simulator": self.simulator is not None,
            # Where `wecomctl sim` finds the simulator's control API (None: WECOM_API_BASE is not ours).
            "simulator_url": self.wecom_api_base if self.simulator is not None else None,
            "scheduler": {
                "running": bool(self.scheduler and self.scheduler.running),
                "schedules": [f"{s.function_id}: {s.expression}" for s in self.template.schedules],
            },
            "sqs": {
                "endpoint": self.aws_services_endpoint or None,
                "queues": dict(self.queue_urls),
                "pollers": [poller.describe() for poller in self.pollers],
            },
            "functions": sorted(self.template.functions),
            "routes": [route.route_key for route in self.template.routes],
        }

    def stop(self) -> None:
        """Stop the parts in reverse start order, then put the environment back."""
        while self._stoppers:
            stopper = self._stoppers.pop()
            try:
                stopper()
            except Exception:
                log.exception("stopping a part of the local stack failed")
        reset_layer_state(_layer_dirs(self.template))
        self._env.restore()

    def __enter__(self) -> StackHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _layer_dirs(template: Template) -> set[Path]:
    return {layer for spec in template.functions.values() for layer in spec.layers}


def start_stack(
    *,
    api_port: int = 0,
    dynamodb: str = "moto",
    wecom_api_base: str | None = None,
    environ: Mapping[str, str] | None = None,
    template: Path | str = DEFAULT_TEMPLATE,
    dynamodb_data_dir: Path | None = None,
) -> StackHandle:
    """Start DynamoDB, the WeCom simulator (unless a WeCom API base is given), the gateway, the scheduler.

    `environ` is applied to os.environ for the life of the stack (it wins over everything); unset WeCom and
    AWS settings get the dev defaults; `DYNAMODB_ENDPOINT` in the environment means "use that DynamoDB".
    `template` exists for tests that run throwaway handlers. `dynamodb_data_dir` keeps DynamoDB Local's data
    in that folder across starts (mode "local" only; otherwise it is in memory).
    """
    env = EnvironmentChanges()
    for key, value in (environ or {}).items():
        env[key] = value
    apply_dev_defaults(env)
    env.setdefault("AWS_REGION", env.get("AWS_DEFAULT_REGION") or LOCAL_REGION)
    loaded = load_template(template, region=env["AWS_REGION"])
    stack = StackHandle(
        template=loaded,
        runtime=LocalLambdaRuntime(loaded.functions, env["AWS_REGION"]),
        dynamodb_data_dir=dynamodb_data_dir
        if dynamodb == "local" and not env.get("DYNAMODB_ENDPOINT")
        else None,
        _env=env,
    )
    try:
        _start_parts(stack, env, api_port, dynamodb, wecom_api_base)
    except BaseException:
        stack.stop()
        raise
    return stack


def _start_parts(
    stack: StackHandle, env: EnvironmentChanges, api_port: int, mode: str, wecom_api_base: str | None
) -> None:
    template = stack.template
    add_layers_to_path(template.functions.values())
    scale = schedule_scale(env)  # a malformed LOCAL_SCHEDULE_SCALE fails before anything starts
    visibility = queue_visibility(env)  # so does a malformed LOCAL_QUEUE_VISIBILITY_SECONDS

    # Bound first: a taken API_PORT fails at once, and the simulator must know the callback URL. It serves
    # only after DynamoDB and the simulator are up, and stops before them.
    gateway = LocalGateway(
        stack.runtime, template.routes, port=api_port, schedules=template.schedules, health_info=stack.health
    )
    try:
        stack.dynamodb = start_dynamodb(
            mode,
            template.tables.values(),
            endpoint=env.get("DYNAMODB_ENDPOINT"),
            data_dir=stack.dynamodb_data_dir,
        )
        stack._stoppers.append(stack.dynamodb.stop)
        env["DYNAMODB_ENDPOINT"] = stack.dynamodb.endpoint
        _start_queues(stack, env, visibility)
        _start_wecom_api(stack, env, wecom_api_base, f"{gateway.url}/callback")
    except BaseException:
        gateway.stop()
        raise
    stack.gateway = gateway
    stack._stoppers.append(gateway.stop)

    if not env.get("CALLBACK_URL"):  # the doctor's callback_url check: the gateway's /callback (plain http)
        env["CALLBACK_URL"] = f"{gateway.url}/callback"
    apply_environment(stack.template.functions.values(), env)
    _start_media_bucket(stack, env)
    reset_layer_state(_layer_dirs(template))
    gateway.start()

    stack.scheduler = LocalScheduler(template.schedules, stack.runtime.invoke, scale)
    stack.scheduler.start()
    stack._stoppers.append(stack.scheduler.stop)
    _start_pollers(stack, env["AWS_REGION"])
    gateway.mark_ready()


def _aws_services_endpoint(stack: StackHandle) -> str:
    """moto for SQS (and whatever else needs it): DynamoDB's server in moto mode, else one more, started once."""
    if not stack.aws_services_endpoint:
        if stack.dynamodb is not None and stack.dynamodb.mode == "moto":
            stack.aws_services_endpoint = stack.dynamodb.endpoint
        else:
            stack.aws_services_endpoint, stop = start_aws_services()
            stack._stoppers.append(stop)
    return stack.aws_services_endpoint


def _start_queues(stack: StackHandle, env: EnvironmentChanges, visibility: int) -> None:
    """Create the template's queues, export AWS_ENDPOINT_URL_SQS, and re-resolve `!Ref Queue` to their URLs.

    The template is read again because the functions' environments can only name a queue's real URL (and
    moto's account in its ARN) once the queue exists.
    """
    if not stack.template.queues:
        return
    endpoint = _aws_services_endpoint(stack)
    env["AWS_ENDPOINT_URL_SQS"] = endpoint
    client = local_client("sqs", endpoint, env["AWS_REGION"])
    stack.queue_urls = create_queues(client, stack.template.queues.values(), visibility, env["AWS_REGION"])
    stack._stoppers.append(lambda: delete_queues(client, stack.queue_urls))
    stack.template = load_template(stack.template.path, region=env["AWS_REGION"], queue_urls=stack.queue_urls)
    stack.runtime.functions = dict(stack.template.functions)


def _start_pollers(stack: StackHandle, region: str) -> None:
    """One poller per SQS event source, feeding the function through the stack's runtime like Lambda."""
    if not stack.queue_urls:
        return
    stack.pollers = start_pollers(
        stack.template.sqs_sources,
        stack.queue_urls,
        lambda: local_client("sqs", stack.aws_services_endpoint, region),
        stack.runtime.invoke,
        region,
    )
    stack._stoppers.extend(poller.stop for poller in stack.pollers)


def _start_media_bucket(stack: StackHandle, env: EnvironmentChanges) -> None:
    """moto's S3 (the DynamoDB moto server, or its own) with the bucket MEDIA_BUCKET names; exports S3_ENDPOINT."""
    from local.s3 import create_bucket, start_s3

    if not env.get("MEDIA_BUCKET"):
        return
    s3 = start_s3(stack.dynamodb, env.get("S3_ENDPOINT"))
    stack._stoppers.append(s3.stop)
    env["S3_ENDPOINT"] = s3.endpoint
    create_bucket(s3.endpoint, env["AWS_REGION"], env["MEDIA_BUCKET"])


def _start_wecom_api(
    stack: StackHandle, env: EnvironmentChanges, wecom_api_base: str | None, callback_url: str
) -> None:
    """Use the WeCom API base given (argument, then WECOM_API_BASE) or start the simulator; export it."""
    external_api = wecom_api_base or env.get("WECOM_API_BASE")
    if external_api:
        stack.wecom_api_base = external_api.rstrip("/")
    else:
        stack.simulator = _start_simulator(env, callback_url)
        stack._stoppers.append(stack.simulator.stop)
        stack.wecom_api_base = str(stack.simulator.url).rstrip("/")
    env["WECOM_API_BASE"] = stack.wecom_api_base


def _start_simulator(env: Mapping[str, str], callback_url: str) -> Any:
    """The WeCom simulator, configured with the same corp and callback settings the handlers read."""
    from local.wecom_sim.server import SimulatorConfig, start_simulator

    config = SimulatorConfig(
        corp_id=env["WECOM_CORP_ID"],
        corp_secret=env["WECOM_CORP_SECRET"],
        callback_token=env["WECOM_CALLBACK_TOKEN"],
        encoding_aes_key=env["WECOM_ENCODING_AES_KEY"],
        callback_url=callback_url,
        customer_limit=env.get("MASS_SEND_CUSTOMER_LIMIT") or "month",
    )
    return start_simulator(config, host="127.0.0.1", port=0)
