"""Run the template's Lambda handlers in-process, the way the Lambda Python runtime would call them.

Why in-process: no Docker and no per-request process start, yet each handler still gets what Lambda gives it —
its own module (loaded once, like a warm container), a context object with a deadline, its environment, and
JSON in / JSON out (so a handler that returns something Lambda could not serialise fails here too).
"""

from __future__ import annotations

import contextlib
import decimal
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local.cloudformation import LOCAL_REGION, local_arn
from local.template import FunctionSpec

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]


class UnknownFunction(KeyError):
    """The logical id is not a function of the template."""


class HandlerLoadError(RuntimeError):
    """The handler module or function could not be loaded (missing file, import error, missing attribute)."""


@dataclass
class LambdaContext:
    """The attributes and method of Lambda's Python context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_seconds: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the function's Timeout, as Lambda reports it (never negative)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def make_context(spec: FunctionSpec, region: str = LOCAL_REGION) -> LambdaContext:
    """A fresh context per invocation: a new request id and a deadline from the function's Timeout."""
    return LambdaContext(
        function_name=spec.logical_id,
        memory_limit_in_mb=spec.memory_size,
        invoked_function_arn=local_arn("AWS::Serverless::Function", spec.logical_id, region),
        aws_request_id=str(uuid.uuid4()),
        timeout_seconds=spec.timeout,
    )


_IMPORT_LOCK = threading.Lock()


def load_handler(spec: FunctionSpec, module_name: str | None = None) -> Handler:
    """Import `CodeUri/<module>.py` under a module name unique to the function and return its handler.

    A unique name keeps four `app.py` files from shadowing each other in `sys.modules`; the CodeUri directory
    sits on sys.path only while importing, so sibling modules resolve like they do in the Lambda package.
    """
    module_path, _, attribute = spec.handler.rpartition(".")
    if not module_path or not attribute:
        raise HandlerLoadError(f"{spec.logical_id}: Handler {spec.handler!r} is not <module>.<function>")
    source = spec.code_uri.joinpath(*module_path.split(".")).with_suffix(".py")
    if not source.is_file():
        raise HandlerLoadError(f"{spec.logical_id}: handler file {source} does not exist")
    name = module_name or f"_local_lambda_{spec.logical_id}_{uuid.uuid4().hex[:8]}"
    module = _import_file(name, source, spec.code_uri)
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise HandlerLoadError(f"{spec.logical_id}: {source.name} has no callable {attribute!r}")
    return handler


def _import_file(name: str, source: Path, code_dir: Path) -> ModuleType:
    module_spec = importlib.util.spec_from_file_location(name, source)
    if module_spec is None or module_spec.loader is None:
        raise HandlerLoadError(f"cannot import {source}")
    module = importlib.util.module_from_spec(module_spec)
    with _IMPORT_LOCK:
        sys.path.insert(0, str(code_dir))
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException as exc:
            sys.modules.pop(name, None)
            raise HandlerLoadError(f"importing {source} failed: {type(exc).__name__}") from exc
        finally:
            _remove_path(str(code_dir))
    return module


def _remove_path(entry: str) -> None:
    with contextlib.suppress(ValueError):
        sys.path.remove(entry)


def add_layers_to_path(functions: Iterable[FunctionSpec]) -> None:
    """Put each layer's directory on sys.path, like Lambda mounts layers under /opt/python."""
    for spec in functions:
        for layer in spec.layers:
            if str(layer) not in sys.path:
                sys.path.append(str(layer))


def apply_environment(functions: Iterable[FunctionSpec], environ: Any = None) -> dict[str, str]:
    """Merge the functions' resolved environments into `environ` (default os.environ) with setdefault.

    Explicit settings win over template defaults. All handlers share one process, so a variable that two
    functions set differently keeps the first value (logged at debug level).
    """
    env = os.environ if environ is None else environ
    applied: dict[str, str] = {}
    for spec in functions:
        for name, value in spec.environment.items():
            if name in applied and applied[name] != value:
                log.debug(
                    "%s sets %s differently; the shared process keeps the first value", spec.logical_id, name
                )
            if name not in env:
                env[name] = value
                applied[name] = value
    return applied


def reset_layer_state(layer_dirs: Iterable[Path]) -> None:
    """Give the layer's already-imported modules a cold start: clear their lru_caches, call `reset_client()`.

    Why: a test session starts several stacks in one process, each with new endpoints (DynamoDB, WeCom API);
    cached settings or clients from the previous stack would silently talk to a server that is gone. In Lambda
    every new container starts with fresh modules, so this only removes a local-only artefact.
    """
    roots = tuple(str(Path(d).resolve()) + os.sep for d in layer_dirs)
    if not roots:
        return
    for module in list(sys.modules.values()):
        source = getattr(module, "__file__", None) or ""
        if not source.startswith(roots):
            continue
        for value in list(vars(module).values()):
            if (
                callable(getattr(value, "cache_clear", None))
                and getattr(value, "__module__", "") == module.__name__
            ):
                value.cache_clear()
        reset_client = vars(module).get("reset_client")
        if callable(reset_client):
            reset_client()


def _lambda_json_default(value: Any) -> Any:
    """The Lambda Python runtime serialises Decimal (what DynamoDB returns) as a number; nothing else extra."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def json_roundtrip(value: Any) -> Any:
    """Pass a value through JSON like Lambda does at its boundary (copies events, rejects odd results)."""
    return json.loads(json.dumps(value, default=_lambda_json_default))


class LocalLambdaRuntime:
    """Holds the template's functions and calls them; handlers are imported lazily, once, like a cold start."""

    def __init__(self, functions: Mapping[str, FunctionSpec], region: str = LOCAL_REGION) -> None:
        self.functions = dict(functions)
        self.region = region
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()

    def handler(self, logical_id: str) -> Handler:
        """The loaded handler of a function (imported on first use)."""
        spec = self.spec(logical_id)
        with self._lock:
            if logical_id not in self._handlers:
                self._handlers[logical_id] = load_handler(spec)
            return self._handlers[logical_id]

    def spec(self, logical_id: str) -> FunctionSpec:
        try:
            return self.functions[logical_id]
        except KeyError:
            raise UnknownFunction(logical_id) from None

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Call the function with a JSON copy of `event`; return its JSON-normalised result.

        Exceptions from the handler propagate unchanged (the callers decide how Lambda would report them).
        """
        spec = self.spec(logical_id)
        handler = self.handler(logical_id)
        context = make_context(spec, self.region)
        started = time.monotonic()
        try:
            result = handler(json_roundtrip(event), context)
        finally:
            elapsed = time.monotonic() - started
            if elapsed > spec.timeout:
                log.warning(
                    "%s ran %.1fs, over its %ss Timeout (Lambda would kill it)",
                    logical_id,
                    elapsed,
                    spec.timeout,
                )
        return json_roundtrip(result)
