"""The SAM template honours the contract of DESIGN.md (routes, auth, runtime, table, logs, schedules, layer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cfn_render import TEMPLATE, load_template

FUNCTIONS = (
    "CallbackFunction",
    "AdminFunction",
    "ReminderFunction",
    "ResultSyncFunction",
    "MediaRefreshFunction",
)
SCHEDULED = ("ReminderFunction", "ResultSyncFunction", "MediaRefreshFunction")
# Functions that read the media bucket (resolve or refresh bucket-backed attachments).
MEDIA_READERS = ("CallbackFunction", "AdminFunction", "ReminderFunction", "MediaRefreshFunction")

# DESIGN.md, "HTTP routes": every admin route of the contract (the template may declare more).
ADMIN_ROUTES = {
    ("GET", "/admin/openapi.json"),
    ("PUT", "/admin/welcome-rules/{rule_id}"),
    ("GET", "/admin/welcome-rules"),
    ("GET", "/admin/welcome-rules/{rule_id}"),
    ("DELETE", "/admin/welcome-rules/{rule_id}"),
    ("GET", "/admin/welcomes"),
    ("POST", "/admin/campaigns"),
    ("GET", "/admin/campaigns"),
    ("GET", "/admin/campaigns/{campaign_id}"),
    ("POST", "/admin/campaigns/{campaign_id}/cancel"),
    ("POST", "/admin/campaigns/{campaign_id}/remind"),
    ("GET", "/admin/campaigns/{campaign_id}/results"),
    ("POST", "/admin/group-welcome-templates"),
    ("GET", "/admin/group-welcome-templates"),
    ("GET", "/admin/group-welcome-templates/{template_id}"),
    ("PUT", "/admin/group-welcome-templates/{template_id}"),
    ("DELETE", "/admin/group-welcome-templates/{template_id}"),
    ("POST", "/admin/doctor"),
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


def _http_routes(resources: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path, function logical id, event properties) of every HttpApi event."""
    routes = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                props = event["Properties"]
                routes.append((props["Method"].upper(), props["Path"], logical_id, props))
    return routes


def _ref_target(value: Any) -> str:
    assert isinstance(value, dict) and set(value) == {"Ref"}, f"expected a !Ref, got {value!r}"
    return value["Ref"]


def _getatt_target(value: Any) -> list[str]:
    assert isinstance(value, dict) and set(value) == {"Fn::GetAtt"}, f"expected a !GetAtt, got {value!r}"
    return value["Fn::GetAtt"]


def test_template_is_sam(template: dict[str, Any]) -> None:
    assert template["Transform"] == "AWS::Serverless-2016-10-31"


def test_loader_expands_cloudformation_tags(tmp_path: Path) -> None:
    source = tmp_path / "t.yaml"
    source.write_text(
        "a: !Ref X\nb: !GetAtt T.Arn\nc: !Sub '${T.Arn}/index/*'\nd: !If [C, 1, 2]\ne: !Condition C\n"
    )
    assert load_template(source) == {
        "a": {"Ref": "X"},
        "b": {"Fn::GetAtt": ["T", "Arn"]},
        "c": {"Fn::Sub": "${T.Arn}/index/*"},
        "d": {"Fn::If": ["C", 1, 2]},
        "e": {"Condition": "C"},
    }


def test_functions_run_python313_on_arm64(template: dict[str, Any], resources: dict[str, Any]) -> None:
    glob = template["Globals"]["Function"]
    assert glob["Runtime"] == "python3.13"
    assert glob["Architectures"] == ["arm64"]
    for name in FUNCTIONS:
        assert resources[name]["Type"] == "AWS::Serverless::Function", name
        props = resources[name]["Properties"]
        assert props.get("Runtime", glob["Runtime"]) == "python3.13", name
        assert props.get("Architectures", glob["Architectures"]) == ["arm64"], name
        assert props["Handler"] == "app.lambda_handler", name
        assert props["CodeUri"].startswith("functions/"), name


def test_every_function_uses_the_shared_layer_and_contract_settings(template: dict[str, Any]) -> None:
    glob = template["Globals"]["Function"]
    assert {"Ref": "SharedLayer"} in glob["Layers"]
    env = glob["Environment"]["Variables"]
    for var in ("TABLE_NAME", "WECOM_SECRET_ID", "WECOM_API_BASE", "WELCOME_TIMEZONE"):
        assert var in env, var
    assert env["TABLE_NAME"] == {"Ref": "MainTable"}
    assert env["WECOM_SECRET_ID"] == {"Ref": "WeComSecretArn"}
    assert env["MEDIA_BUCKET"] == {"Ref": "MediaBucket"}


def test_callback_routes_are_public_and_go_to_the_callback_function(resources: dict[str, Any]) -> None:
    callback = [r for r in _http_routes(resources) if r[1] == "/callback"]
    assert sorted((method, fn) for method, _, fn, _ in callback) == [
        ("GET", "CallbackFunction"),
        ("POST", "CallbackFunction"),
    ]
    for _, _, _, props in callback:
        assert props["Auth"]["Authorizer"] == "NONE"
        assert _ref_target(props["ApiId"]) == "HttpApi"


def test_admin_routes_are_iam_signed_and_go_to_the_admin_function(resources: dict[str, Any]) -> None:
    admin = [r for r in _http_routes(resources) if r[1].startswith("/admin")]
    declared = {(method, path) for method, path, _, _ in admin}
    missing = ADMIN_ROUTES - declared
    assert not missing, f"contract routes missing from template.yaml: {sorted(missing)}"
    for method, path, fn, props in admin:
        assert fn == "AdminFunction", (method, path)
        assert props["Auth"]["Authorizer"] == "AWS_IAM", (method, path)
        assert _ref_target(props["ApiId"]) == "HttpApi", (method, path)


def test_routes_are_unique_and_only_callback_or_admin(resources: dict[str, Any]) -> None:
    routes = [(method, path) for method, path, _, _ in _http_routes(resources)]
    assert len(routes) == len(set(routes)), "a method/path is declared twice"
    for _, path in routes:
        assert path == "/callback" or path.startswith("/admin/"), path


def test_http_api_defaults_to_iam(resources: dict[str, Any]) -> None:
    api = resources["HttpApi"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    auth = api["Properties"]["Auth"]
    # `Authorizer: NONE` on /callback is only valid (and only means "public") with an IAM default.
    assert auth["EnableIamAuthorizer"] is True
    assert auth["DefaultAuthorizer"] == "AWS_IAM"


def test_table_contract(resources: dict[str, Any]) -> None:
    table = resources["MainTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    indexes = {gsi["IndexName"]: gsi for gsi in props["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"gsi1", "gsi2", "gsi3"}
    for name, gsi in indexes.items():
        assert gsi["KeySchema"] == [
            {"AttributeName": f"{name}pk", "KeyType": "HASH"},
            {"AttributeName": f"{name}sk", "KeyType": "RANGE"},
        ]
        assert gsi["Projection"]["ProjectionType"] == "ALL"
    attributes = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert attributes == {
        key: "S" for key in ("pk", "sk", *(f"gsi{i}{k}" for i in (1, 2, 3) for k in ("pk", "sk")))
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_logs_to_its_own_group_with_retention(
    resources: dict[str, Any], function: str
) -> None:
    log_group_id = _ref_target(resources[function]["Properties"]["LoggingConfig"]["LogGroup"])
    log_group = resources[log_group_id]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    others = [
        name
        for name in FUNCTIONS
        if name != function
        and _ref_target(resources[name]["Properties"]["LoggingConfig"]["LogGroup"]) == log_group_id
    ]
    assert not others, f"{function} shares its log group with {others}"


@pytest.mark.parametrize("function", SCHEDULED)
def test_scheduled_functions_have_a_schedule_and_dead_letters(
    resources: dict[str, Any], function: str
) -> None:
    props = resources[function]["Properties"]
    schedules = [e["Properties"] for e in props["Events"].values() if e["Type"] == "ScheduleV2"]
    assert schedules, f"{function} has no ScheduleV2 event"
    for schedule in schedules:
        assert schedule["ScheduleExpression"].startswith(("rate(", "cron("))
        assert schedule.get("State", "ENABLED") == "ENABLED"
        assert _getatt_target(schedule["DeadLetterConfig"]["Arn"])[0] == "ScheduledDeadLetterQueue"
    dlq = props["DeadLetterQueue"]
    assert dlq["Type"] == "SQS"
    queue_id, attribute = _getatt_target(dlq["TargetArn"])
    assert attribute == "Arn"
    assert resources[queue_id]["Type"] == "AWS::SQS::Queue"


def test_dead_letters_raise_an_alarm(resources: dict[str, Any]) -> None:
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched = [
        _getatt_target(d["Value"])[0]
        for alarm in alarms
        for d in alarm.get("Dimensions", [])
        if d["Name"] == "QueueName"
    ]
    assert "ScheduledDeadLetterQueue" in watched
    assert "ResultSyncDeadLetterQueue" in watched


def test_result_sync_fans_out_through_sqs_with_a_dead_letter_queue(resources: dict[str, Any]) -> None:
    queue = resources["ResultSyncQueue"]["Properties"]
    redrive = queue["RedrivePolicy"]
    assert _getatt_target(redrive["deadLetterTargetArn"]) == ["ResultSyncDeadLetterQueue", "Arn"]
    assert redrive["maxReceiveCount"] >= 3
    worker = resources["ResultSyncWorkerFunction"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]  # AWS's advice for Lambda event sources
    source = worker["Events"]["SyncQueue"]
    assert source["Type"] == "SQS"
    assert _getatt_target(source["Properties"]["Queue"]) == ["ResultSyncQueue", "Arn"]
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "ReservedConcurrentExecutions" in worker  # the cap on parallel WeCom calls (45033)
    for function in ("ResultSyncFunction", "ResultSyncWorkerFunction"):
        env = resources[function]["Properties"]["Environment"]["Variables"]
        assert env["RESULT_SYNC_QUEUE_URL"] == {"Ref": "ResultSyncQueue"}


def test_layer_is_built_by_sam_for_python313_arm64(resources: dict[str, Any]) -> None:
    layer = resources["SharedLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"
    props = layer["Properties"]
    assert props["ContentUri"].rstrip("/") == "layers/shared"
    assert props["CompatibleRuntimes"] == ["python3.13"]
    assert props["CompatibleArchitectures"] == ["arm64"]
    assert (TEMPLATE.parent / "layers" / "shared" / "requirements.txt").is_file()


def test_callback_runs_with_snapstart_unless_it_reads_the_secret_through_the_extension(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    props = resources["CallbackFunction"]["Properties"]
    assert props["AutoPublishAlias"]  # SnapStart applies to published versions; the routes call the alias
    assert props["SnapStart"] == {"ApplyOn": {"Fn::If": ["CallbackSnapStart", "PublishedVersions", "None"]}}
    assert template["Conditions"]["CallbackSnapStart"] == {
        "Fn::And": [
            {"Fn::Not": [{"Condition": "InChina"}]},
            {"Fn::Not": [{"Condition": "UseSecretsExtension"}]},
        ]
    }
    condition = "UseSecretsExtension"
    assert template["Parameters"]["SecretsExtensionLayerArn"]["Default"] == ""
    assert props["Layers"] == [
        {"Fn::If": [condition, {"Ref": "SecretsExtensionLayerArn"}, {"Ref": "AWS::NoValue"}]}
    ]
    env = props["Environment"]["Variables"]
    assert env["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"]["Fn::If"][0] == condition
    assert env["PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED"]["Fn::If"][1] == "false"
    hooks = (TEMPLATE.parent / "functions" / "callback" / "app.py").read_text()
    assert "snapstart.register()" in hooks


@pytest.mark.parametrize("function", FUNCTIONS)
def test_policies_are_scoped(resources: dict[str, Any], function: str) -> None:
    for policy in resources[function]["Properties"]["Policies"]:
        if "AWSSecretsManagerGetSecretValuePolicy" in policy:
            assert policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"] == {"Ref": "WeComSecretArn"}
            continue
        if "SQSSendMessagePolicy" in policy:  # the result-sync fan-out: its own work queue only
            assert policy["SQSSendMessagePolicy"]["QueueName"] == {
                "Fn::GetAtt": ["ResultSyncQueue", "QueueName"]
            }
            continue
        if "S3ReadPolicy" in policy:
            assert function in MEDIA_READERS, f"{function} reads the media bucket without a reason"
            assert policy["S3ReadPolicy"] == {"BucketName": {"Ref": "MediaBucket"}}, function
            continue
        assert set(policy) == {"Statement"}, f"{function}: unexpected policy {policy!r}"
        for statement in policy["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            assert all("*" not in action for action in actions), f"{function}: wildcard action {actions}"
            assert all(action.startswith("dynamodb:") for action in actions), f"{function}: {actions}"
            assert statement["Resource"] == [
                {"Fn::GetAtt": ["MainTable", "Arn"]},
                {"Fn::Sub": "${MainTable.Arn}/index/*"},
            ], function


def test_media_bucket_is_private_encrypted_versioned_and_tls_only(resources: dict[str, Any]) -> None:
    bucket = resources["MediaBucket"]
    assert bucket["Type"] == "AWS::S3::Bucket"
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] in ("AES256", "aws:kms")
    policy = next(r["Properties"] for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy")
    assert policy["Bucket"] == {"Ref": "MediaBucket"}
    deny = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in deny)


@pytest.mark.parametrize("function", MEDIA_READERS)
def test_media_readers_may_read_the_bucket(resources: dict[str, Any], function: str) -> None:
    policies = resources[function]["Properties"]["Policies"]
    assert {"S3ReadPolicy": {"BucketName": {"Ref": "MediaBucket"}}} in policies


def test_media_refresh_runs_well_inside_the_three_day_expiry(resources: dict[str, Any]) -> None:
    """Due at 60 h, used until 70 h: the period must leave at least two runs in between."""
    props = resources["MediaRefreshFunction"]["Properties"]
    (expression,) = [e["Properties"]["ScheduleExpression"] for e in props["Events"].values()]
    amount, unit = expression.removeprefix("rate(").removesuffix(")").split()
    hours = int(amount) * {"minute": 1 / 60, "minutes": 1 / 60, "hour": 1, "hours": 1}[unit]
    assert hours <= 5
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert any(
        {"Name": "FunctionName", "Value": {"Ref": "MediaRefreshFunction"}} in a.get("Dimensions", [])
        for a in alarms
    )
