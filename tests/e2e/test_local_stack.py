"""The local stack over real HTTP: health, /__local/invoke, template routes, the scheduler, `make run`/`invoke`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from local.cloudformation import queue_arn
from local.dynamodb import free_port, local_client
from local.settings import DEV_DEFAULTS
from local.stack import StackHandle, start_stack
from local.template import REPO_ROOT
from wecom_bundle.callback.crypto import MsgCrypto

pytestmark = pytest.mark.e2e


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# ---------------------------------------------------------------- the real template and handlers


def test_health_once_everything_is_up(local_stack: StackHandle) -> None:
    status, _, body = http("GET", f"{local_stack.api_url}/__local/health")
    health = json.loads(body)
    assert status == 200
    assert health["status"] == "ok"
    assert health["dynamodb"]["mode"] == "moto"
    assert health["simulator"] is True
    assert health["simulator_url"] == local_stack.simulator.url  # where `wecomctl sim` finds it
    assert health["scheduler"]["running"] is True
    assert {"CallbackFunction", "AdminFunction", "ReminderFunction", "ResultSyncFunction"} <= set(
        health["functions"]
    )


def test_handlers_see_the_local_configuration(local_stack: StackHandle) -> None:
    assert local_stack.api_url.startswith("http://127.0.0.1:")
    assert os.environ["TABLE_NAME"] == "MainTable"
    assert os.environ["DYNAMODB_ENDPOINT"] == local_stack.dynamodb_endpoint
    assert os.environ["WECOM_API_BASE"] == local_stack.simulator.url.rstrip("/")
    assert os.environ["WECOM_CORP_ID"] == DEV_DEFAULTS["WECOM_CORP_ID"]
    assert "WECOM_SECRET_ID" not in os.environ
    assert os.environ["AWS_ACCESS_KEY_ID"]


@pytest.mark.parametrize("function", ["ReminderFunction", "ResultSyncFunction"])
def test_invoke_a_scheduled_function_over_http(local_stack: StackHandle, function: str) -> None:
    status, headers, body = http("POST", f"{local_stack.api_url}/__local/invoke/{function}")
    assert status == 200, body
    assert headers["Content-Type"] == "application/json"
    assert isinstance(json.loads(body), dict)


def test_invoke_in_process(local_stack: StackHandle) -> None:
    assert isinstance(local_stack.invoke("ReminderFunction"), dict)


def test_invoke_errors(local_stack: StackHandle) -> None:
    assert http("POST", f"{local_stack.api_url}/__local/invoke/NoSuchFunction")[0] == 404
    assert http("POST", f"{local_stack.api_url}/__local/invoke/ReminderFunction", b"{oops")[0] == 400


def test_unknown_route_and_method(local_stack: StackHandle) -> None:
    for method, path in (("GET", "/nowhere"), ("PUT", "/callback"), ("POST", "/admin/welcomes")):
        status, _, body = http(method, f"{local_stack.api_url}{path}")
        assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_callback_url_verification_round_trip(local_stack: StackHandle) -> None:
    crypto = MsgCrypto(
        os.environ["WECOM_CALLBACK_TOKEN"], os.environ["WECOM_ENCODING_AES_KEY"], os.environ["WECOM_CORP_ID"]
    )
    echostr = crypto.encrypt(b"echo-1234567890")
    timestamp, nonce = str(int(time.time())), "nonce123"
    query = urlencode(
        {
            "msg_signature": crypto.sign(timestamp, nonce, echostr),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }
    )
    status, headers, body = http("GET", f"{local_stack.api_url}/callback?{query}")
    assert (status, body) == (200, b"echo-1234567890")
    assert headers["Content-Type"].startswith("text/plain")


def test_rejected_callback_is_4xx_not_5xx(local_stack: StackHandle) -> None:
    status, _, _ = http(
        "GET", f"{local_stack.api_url}/callback?msg_signature=x&timestamp=1&nonce=2&echostr=abc"
    )
    assert 400 <= status < 500


def test_admin_route_round_trip_through_dynamodb(local_stack: StackHandle) -> None:
    rule = {"priority": 10, "match": {"state": "e2e"}, "text": {"content": "hello from e2e"}}
    url = f"{local_stack.api_url}/admin/welcome-rules/e2e-rule"
    status, _, body = http("PUT", url, json.dumps(rule).encode(), {"Content-Type": "application/json"})
    assert status in (200, 201), body
    status, _, body = http("GET", url)
    assert status == 200
    assert json.loads(body)["text"] == {"content": "hello from e2e"}
    status, _, body = http("GET", f"{local_stack.api_url}/admin/welcome-rules")
    assert "e2e-rule" in {item["rule_id"] for item in json.loads(body)["items"]}


# ---------------------------------------------------------------- a throwaway template and handlers

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  SecretArn: { Type: String }
Globals:
  Function:
    Timeout: 5
    Environment:
      Variables:
        TABLE_NAME: !Ref Store
        WECOM_SECRET_ID: !Ref SecretArn
        GREETING: hello
Resources:
  Store:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{ AttributeName: id, AttributeType: S }]
      KeySchema: [{ AttributeName: id, KeyType: HASH }]
      TimeToLiveSpecification: { AttributeName: ttl, Enabled: true }
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/echo/
      Handler: app.lambda_handler
      Events:
        Get: { Type: HttpApi, Properties: { Method: GET, Path: "/echo/{name}" } }
        Files: { Type: HttpApi, Properties: { Method: ANY, Path: "/files/{proxy+}" } }
  Tick:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/tick/
      Handler: app.lambda_handler
      Events:
        Often: { Type: ScheduleV2, Properties: { ScheduleExpression: rate(1 minute) } }
"""

ECHO = """
import json
import os

import boto3


def lambda_handler(event, context):
    client = boto3.client("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT"])
    table = client.describe_table(TableName=os.environ["TABLE_NAME"])["Table"]
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "cookies": ["seen=1"],
        "body": json.dumps({
            "routeKey": event["routeKey"],
            "pathParameters": event.get("pathParameters"),
            "query": event.get("queryStringParameters"),
            "greeting": os.environ["GREETING"],
            "secret_id": os.environ.get("WECOM_SECRET_ID"),
            "wecom_api_base": os.environ.get("WECOM_API_BASE"),
            "key": table["KeySchema"][0]["AttributeName"],
            "function": context.function_name,
        }),
    }
"""

TICK = """
import json
import os


def lambda_handler(event, context):
    with open(os.environ["TICK_FILE"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"source": event["source"], "detail": event["detail"]}) + "\\n")
    return {"ticked": True}
"""


@pytest.fixture
def throwaway_stack(tmp_path: Path) -> Iterator[tuple[StackHandle, Path]]:
    (tmp_path / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    for name, source in (("echo", ECHO), ("tick", TICK)):
        (tmp_path / "fn" / name).mkdir(parents=True)
        (tmp_path / "fn" / name / "app.py").write_text(textwrap.dedent(source), encoding="utf-8")
    ticks = tmp_path / "ticks.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        for name in ("DYNAMODB_ENDPOINT", "WECOM_API_BASE", "WECOM_SECRET_ID", "TABLE_NAME"):
            patch.delenv(name, raising=False)
        stack = start_stack(
            template=tmp_path / "template.yaml",
            wecom_api_base="http://127.0.0.1:9",
            environ={"LOCAL_SCHEDULE_SCALE": "300", "TICK_FILE": str(ticks)},  # rate(1 minute) -> 0.2 s
        )
        try:
            yield stack, ticks
        finally:
            stack.stop()
    assert "TICK_FILE" not in os.environ and "LOCAL_SCHEDULE_SCALE" not in os.environ


def test_route_round_trip_with_throwaway_handlers(throwaway_stack: tuple[StackHandle, Path]) -> None:
    stack, _ = throwaway_stack
    assert stack.simulator is None  # a WeCom API base was given
    assert json.loads(http("GET", f"{stack.api_url}/__local/health")[2])["simulator_url"] is None
    status, headers, body = http("GET", f"{stack.api_url}/echo/w%C3%B6rld?x=1&x=2")
    answer = json.loads(body)
    assert status == 200
    assert headers["Set-Cookie"] == "seen=1"
    assert answer == {
        "routeKey": "GET /echo/{name}",
        "pathParameters": {"name": "wörld"},
        "query": {"x": "1,2"},
        "greeting": "hello",
        "secret_id": None,
        "wecom_api_base": "http://127.0.0.1:9",
        "key": "id",  # the table came from this template
        "function": "Echo",
    }
    status, _, body = http("DELETE", f"{stack.api_url}/files/a/b.txt")
    assert json.loads(body)["pathParameters"] == {"proxy": "a/b.txt"}


def test_scheduler_fires_with_the_scheduler_event(throwaway_stack: tuple[StackHandle, Path]) -> None:
    _, ticks = throwaway_stack
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not ticks.exists() or len(ticks.read_text().splitlines()) < 2):
        time.sleep(0.05)
    lines = [json.loads(line) for line in ticks.read_text().splitlines()]
    assert len(lines) >= 2
    assert lines[0] == {"source": "aws.scheduler", "detail": "{}"}


def test_a_taken_port_fails_before_anything_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_TEST_MARKER", raising=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            start_stack(api_port=taken.getsockname()[1], environ={"LOCAL_TEST_MARKER": "1"})
    assert "LOCAL_TEST_MARKER" not in os.environ  # the environment was put back


# ---------------------------------------------------------------- `make run` and `make invoke` as processes


def _subprocess_env(port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WECOM_API_BASE", "DYNAMODB_ENDPOINT", "WECOM_SECRET_ID")
    }
    env.update({"API_PORT": str(port), "PYTHONUNBUFFERED": "1"})
    return env


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, dict[str, str]]]:  # noqa: ARG001
    port = free_port()
    env = _subprocess_env(port)
    process = subprocess.Popen(
        [sys.executable, "-m", "local.run"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if http("GET", f"{base}/__local/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("make run did not become healthy in 60 s")
        yield process, base, env
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_exits_cleanly_on_signals(
    running: tuple[subprocess.Popen[str], str, dict[str, str]], signum: int
) -> None:
    process, base, _ = running
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "local stack is up" in stdout
    assert f"{base}/callback" in stdout
    assert "Local stack stopped." in stdout
    for secret in ("WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY"):
        assert DEV_DEFAULTS[secret] not in stdout + stderr
    assert "Traceback" not in stderr


def test_invoke_cli_uses_the_running_stack(
    running: tuple[subprocess.Popen[str], str, dict[str, str]],
) -> None:
    _, _, env = running
    result = subprocess.run(
        [sys.executable, "-m", "local.invoke", "ReminderFunction"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), dict)


def test_invoke_cli_starts_an_ephemeral_stack(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(_scheduled_event_from_file()), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "local.invoke", "ResultSyncFunction", str(event)],
        cwd=REPO_ROOT,
        env=_subprocess_env(free_port()),  # nothing listens there
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), dict)  # stdout holds only the result


def test_invoke_cli_fails_on_a_handler_error(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("[1, 2, 3]", encoding="utf-8")  # not an HTTP event: the admin router cannot route it
    result = subprocess.run(
        [sys.executable, "-m", "local.invoke", "AdminFunction", str(event)],
        cwd=REPO_ROOT,
        env=_subprocess_env(free_port()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "errorType" in result.stderr


def _scheduled_event_from_file() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "000000000000",
        "time": "2024-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [
            "arn:aws:scheduler:us-east-1:000000000000:schedule/default/ResultSyncFunction-Every15Minutes"
        ],
        "detail": "{}",
    }


def test_the_result_sync_queue_is_wired_for_both_functions(local_stack: StackHandle) -> None:
    url = local_stack.queue_urls["ResultSyncQueue"]
    assert os.environ["RESULT_SYNC_QUEUE_URL"] == url
    assert url.startswith(local_stack.dynamodb_endpoint + "/")
    assert local_stack.runtime.spec("ResultSyncWorkerFunction").environment["RESULT_SYNC_QUEUE_URL"] == url
    redrive = json.loads(
        local_client("sqs", local_stack.aws_services_endpoint).get_queue_attributes(
            QueueUrl=url, AttributeNames=["RedrivePolicy"]
        )["Attributes"]["RedrivePolicy"]
    )
    assert redrive == {
        "deadLetterTargetArn": queue_arn(local_stack.queue_urls["ResultSyncDeadLetterQueue"]),
        "maxReceiveCount": 5,
    }
    assert [p["function"] for p in local_stack.health()["sqs"]["pollers"]] == ["ResultSyncWorkerFunction"]
