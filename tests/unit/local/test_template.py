"""local.template: what the local stack reads from template.yaml (the real one, and edge cases in small ones)."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from local.cloudformation import LOCAL_ACCOUNT_ID, Intrinsic, load_yaml, local_arn, queue_arn
from local.scheduler import parse_rate
from local.template import REPO_ROOT, load_template

CONTRACT_FUNCTIONS = {"CallbackFunction", "AdminFunction", "ReminderFunction", "ResultSyncFunction"}


@pytest.fixture(scope="module")
def real():
    return load_template()


# ---------------------------------------------------------------- the real template.yaml


def test_every_contract_function_is_loaded_with_its_code(real) -> None:
    assert set(real.functions) >= CONTRACT_FUNCTIONS
    for logical_id in CONTRACT_FUNCTIONS:
        spec = real.functions[logical_id]
        assert spec.handler == "app.lambda_handler"
        assert spec.code_uri.parent == REPO_ROOT / "functions"
        assert spec.timeout > 0 and spec.memory_size >= 128
        assert REPO_ROOT / "layers" / "shared" in spec.layers


def test_function_settings_override_globals(real) -> None:
    raw = load_yaml(REPO_ROOT / "template.yaml")
    callback = raw["Resources"]["CallbackFunction"]["Properties"]
    assert real.functions["CallbackFunction"].timeout == callback["Timeout"]
    assert real.functions["CallbackFunction"].memory_size == callback.get(
        "MemorySize", raw["Globals"]["Function"]["MemorySize"]
    )


def test_environment_is_resolved_for_local_use(real) -> None:
    for spec in real.functions.values():
        env = spec.environment
        assert env["TABLE_NAME"] == "MainTable"  # !Ref MainTable -> the local table (its logical id)
        assert env["WECOM_API_BASE"] == "https://qyapi.weixin.qq.com"  # parameter Default
        assert env["WELCOME_TIMEZONE"] == "Asia/Shanghai"
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert "WECOM_SECRET_ID" not in env  # locally the settings come from env vars
        assert all(isinstance(value, str) for value in env.values())


def test_callback_routes_are_public_and_admin_routes_iam(real) -> None:
    routes = {(r.method, r.path): r for r in real.routes}
    assert routes["GET", "/callback"].function_id == "CallbackFunction"
    assert routes["POST", "/callback"].auth == "NONE"
    assert routes["GET", "/callback"].route_key == "GET /callback"
    for method in ("GET", "PUT", "DELETE"):
        route = routes[method, "/admin/welcome-rules/{rule_id}"]
        assert (route.function_id, route.auth) == ("AdminFunction", "AWS_IAM")
    assert all(r.auth == "AWS_IAM" for r in real.routes if r.path.startswith("/admin"))


def test_schedules_of_the_scheduled_functions(real) -> None:
    by_function = {s.function_id: s for s in real.schedules}
    assert {"ReminderFunction", "ResultSyncFunction"} <= set(by_function)
    for schedule in by_function.values():
        assert schedule.enabled
        assert schedule.kind in ("Schedule", "ScheduleV2")
        assert parse_rate(schedule.expression) >= 60


def test_main_table_becomes_create_table_kwargs(real) -> None:
    table = real.tables["MainTable"]
    kwargs = table.create_kwargs
    assert table.name == kwargs["TableName"] == "MainTable"
    assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in kwargs
    assert kwargs["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    indexes = {index["IndexName"]: index for index in kwargs["GlobalSecondaryIndexes"]}
    assert {"gsi1", "gsi2", "gsi3"} <= set(indexes)
    assert indexes["gsi1"]["Projection"] == {"ProjectionType": "ALL"}
    defined = {a["AttributeName"] for a in kwargs["AttributeDefinitions"]}
    for index in indexes.values():
        assert {k["AttributeName"] for k in index["KeySchema"]} <= defined
    assert table.ttl_attribute == "expires_at"


# ---------------------------------------------------------------- edge cases in a small template

SMALL = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  SecretArn: { Type: String }
  Base: { Type: String, Default: https://example.invalid }
  Flag: { Type: String, Default: "on", AllowedValues: ["on", "off"] }
  Count: { Type: Number, Default: 7 }
Conditions:
  IsOn: !Equals [!Ref Flag, "on"]
Globals:
  Function:
    Timeout: 10
    MemorySize: 256
    Layers: [!Ref Shared]
    Environment:
      Variables:
        TABLE_NAME: !Ref Data
        WECOM_SECRET_ID: !Ref SecretArn
        BASE: !Ref Base
        COUNT: !Ref Count
        OVERRIDDEN: global
        ENABLED: true
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: AWS_IAM
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties: { ContentUri: layers/x/ }
  Queue:
    Type: AWS::SQS::Queue
  Data:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PROVISIONED
      ProvisionedThroughput: { ReadCapacityUnits: 2, WriteCapacityUnits: 3 }
      AttributeDefinitions:
        - { AttributeName: id, AttributeType: S }
        - { AttributeName: at, AttributeType: N }
        - { AttributeName: kind, AttributeType: S }
      KeySchema:
        - { AttributeName: id, KeyType: HASH }
        - { AttributeName: at, KeyType: RANGE }
      LocalSecondaryIndexes:
        - IndexName: byKind
          KeySchema:
            - { AttributeName: id, KeyType: HASH }
            - { AttributeName: kind, KeyType: RANGE }
          Projection: { ProjectionType: INCLUDE, NonKeyAttributes: [note] }
      GlobalSecondaryIndexes:
        - IndexName: kindIndex
          KeySchema:
            - { AttributeName: kind, KeyType: HASH }
          Projection: { ProjectionType: KEYS_ONLY }
  Web:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/web
      Handler: pkg.main.handle
      Timeout: 3
      Environment:
        Variables:
          OVERRIDDEN: own
          QUEUE_ARN: !GetAtt Queue.Arn
          TABLE_ARN: { "Fn::GetAtt": [Data, Arn] }
          TABLE_STREAM: !GetAtt Data.StreamArn
          QUEUE_URL: !Ref Queue
          WHERE: !Sub "${AWS::Region}/${Data}/${Data.Arn}/${!Literal}"
          SUB_LIST: !Sub ["${A}-${Base}", { A: !Ref Count }]
          CHOSEN: !If [IsOn, a, b]
      Events:
        Get:
          Type: HttpApi
          Properties: { ApiId: !Ref Api, Method: get, Path: "/items/{id}" }
        Open:
          Type: HttpApi
          Properties: { ApiId: !Ref Api, Method: POST, Path: /items, Auth: { Authorizer: NONE } }
        Anything:
          Type: HttpApi
          Properties: { ApiId: !Ref Api, Method: ANY, Path: "/files/{proxy+}" }
        Fallback:
          Type: HttpApi
        Work:
          Type: SQS
          Properties: { Queue: !GetAtt Queue.Arn, BatchSize: 5 }
  Tick:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/tick/
      Handler: app.lambda_handler
      Events:
        Hourly:
          Type: Schedule
          Properties: { Schedule: rate(1 hour), Input: '{"job": "hourly"}' }
        Nightly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 2 * * ? *)
            ScheduleExpressionTimezone: Asia/Shanghai
        Paused:
          Type: ScheduleV2
          Properties: { ScheduleExpression: rate(5 minutes), State: DISABLED }
"""


@pytest.fixture
def small(tmp_path: Path):
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(SMALL), encoding="utf-8")
    return load_template(path, region="eu-west-1")


def test_short_tags_load_as_intrinsics(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(SMALL, encoding="utf-8")
    doc = load_yaml(path)
    assert doc["Conditions"]["IsOn"] == Intrinsic("Fn::Equals", [Intrinsic("Ref", "Flag"), "on"])
    web_env = doc["Resources"]["Web"]["Properties"]["Environment"]["Variables"]
    assert web_env["QUEUE_ARN"] == Intrinsic("Fn::GetAtt", ["Queue", "Arn"])
    assert web_env["CHOSEN"] == Intrinsic("Fn::If", ["IsOn", "a", "b"])


@pytest.mark.usefixtures("caplog")
def test_env_resolution_rules(small) -> None:
    env = small.functions["Web"].environment
    assert env["TABLE_NAME"] == "Data"
    assert env["BASE"] == "https://example.invalid"
    assert env["COUNT"] == "7"
    assert env["ENABLED"] == "true"
    assert env["OVERRIDDEN"] == "own"
    assert env["QUEUE_ARN"] == f"arn:aws:sqs:eu-west-1:{LOCAL_ACCOUNT_ID}:Queue"
    assert env["TABLE_ARN"] == local_arn("AWS::DynamoDB::Table", "Data", "eu-west-1")
    assert env["WHERE"] == f"eu-west-1/Data/{env['TABLE_ARN']}/${{Literal}}"
    assert env["SUB_LIST"] == "7-https://example.invalid"
    assert env["QUEUE_URL"] == f"https://sqs.eu-west-1.amazonaws.com/{LOCAL_ACCOUNT_ID}/Queue"
    for dropped in ("WECOM_SECRET_ID", "TABLE_STREAM", "CHOSEN"):
        assert dropped not in env
    assert small.functions["Tick"].environment["OVERRIDDEN"] == "global"


def test_unresolvable_values_are_noted_at_debug_level(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(SMALL, encoding="utf-8")
    with caplog.at_level(logging.DEBUG, logger="local.template"):
        load_template(path)
    assert "CHOSEN dropped" in caplog.text
    assert "WECOM_SECRET_ID is dropped locally" in caplog.text


def test_function_fields(small, tmp_path: Path) -> None:
    web = small.functions["Web"]
    assert web.code_uri == (tmp_path / "src" / "web").resolve()
    assert web.handler == "pkg.main.handle"
    assert (web.timeout, web.memory_size) == (3, 256)
    assert web.layers == ((tmp_path / "layers" / "x").resolve(),)
    assert small.functions["Tick"].timeout == 10


def test_routes_methods_auth_and_default(small) -> None:
    routes = {r.event_name: r for r in small.routes}
    assert (routes["Get"].method, routes["Get"].path, routes["Get"].auth) == ("GET", "/items/{id}", "AWS_IAM")
    assert routes["Open"].auth == "NONE"
    assert routes["Anything"].route_key == "ANY /files/{proxy+}"
    assert routes["Fallback"].route_key == "$default"


def test_schedules_kinds_inputs_and_state(small) -> None:
    by_name = {s.event_name: s for s in small.schedules}
    assert by_name["Hourly"].kind == "Schedule"
    assert by_name["Hourly"].input == '{"job": "hourly"}'
    assert by_name["Nightly"].expression == "cron(0 2 * * ? *)"
    assert by_name["Nightly"].timezone == "Asia/Shanghai"
    assert by_name["Paused"].enabled is False


def test_sqs_sources(small) -> None:
    (source,) = small.sqs_sources
    assert (source.function_id, source.queue, source.batch_size) == ("Web", "Queue", 5)
    assert source.report_batch_item_failures is False


def test_queue_refs_resolve_to_the_queues_the_stack_created(small) -> None:
    url = "http://127.0.0.1:5123/123456789012/Queue"
    loaded = load_template(small.path, region="eu-west-1", queue_urls={"Queue": url})
    env = loaded.functions["Web"].environment
    assert env["QUEUE_URL"] == url
    assert env["QUEUE_ARN"] == "arn:aws:sqs:eu-west-1:123456789012:Queue"  # moto's account, from the URL
    assert queue_arn(url, "eu-west-1") == env["QUEUE_ARN"]


def test_the_real_queues_and_their_consumer(real) -> None:
    work, dead = real.queues["ResultSyncQueue"], real.queues["ResultSyncDeadLetterQueue"]
    assert (work.visibility_timeout, work.retention_period) == (1800, 345600)
    assert (work.dead_letter_queue, work.max_receive_count) == ("ResultSyncDeadLetterQueue", 5)
    assert dead.dead_letter_queue is None and dead.retention_period == 1209600
    (source,) = [s for s in real.sqs_sources if s.function_id == "ResultSyncWorkerFunction"]
    assert (source.queue, source.batch_size, source.report_batch_item_failures) == (
        "ResultSyncQueue",
        1,
        True,
    )
    expected = f"https://sqs.us-east-1.amazonaws.com/{LOCAL_ACCOUNT_ID}/ResultSyncQueue"
    for function in ("ResultSyncFunction", "ResultSyncWorkerFunction"):
        assert real.functions[function].environment["RESULT_SYNC_QUEUE_URL"] == expected


def test_provisioned_table_with_local_and_global_indexes(small) -> None:
    kwargs = small.tables["Data"].create_kwargs
    assert kwargs["ProvisionedThroughput"] == {"ReadCapacityUnits": 2, "WriteCapacityUnits": 3}
    (lsi,) = kwargs["LocalSecondaryIndexes"]
    assert lsi["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]}
    assert "ProvisionedThroughput" not in lsi
    (gsi,) = kwargs["GlobalSecondaryIndexes"]
    assert gsi["ProvisionedThroughput"] == {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    assert small.tables["Data"].ttl_attribute is None


def test_a_document_that_is_not_a_template_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a CloudFormation template"):
        load_template(path)
