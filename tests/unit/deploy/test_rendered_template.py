"""What one deployment of template.yaml creates, per partition and EgressMode (SAM's transform, conditions
decided: tests/cfn_render.py).

The raw-YAML checks live in tests/unit/shared/test_sam_template.py; these ask what CloudFormation would
create in ap-southeast-1 (aws) and cn-north-1 / cn-northwest-1 (aws-cn) for the parameters a company gives.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest

from tests.cfn_render import Rendered, refusals, render

AWS_REGION = "ap-southeast-1"
CHINA_REGIONS = ("cn-north-1", "cn-northwest-1")
REGIONS = (AWS_REGION, *CHINA_REGIONS)
MODES = ("direct", "nat", "vpc", "proxy")

# Every function that calls WeCom (read from the code): the callback sends welcomes; the admin API creates
# campaigns, templates, contact ways and runs the doctor; the reminder reminds and sends scheduled
# campaigns; the result sync ingests get_groupmsg_list_v2 and the worker pages results; the media refresh
# uploads media. A function that never calls WeCom would be left out of the VPC and of the proxy.
WECOM_CALLERS = frozenset(
    {
        "CallbackFunction",
        "AdminFunction",
        "ReminderFunction",
        "ResultSyncFunction",
        "ResultSyncWorkerFunction",
        "MediaRefreshFunction",
    }
)
VPC_SUBNETS = "subnet-0aa00000000000001,subnet-0bb00000000000002"
VPC_GROUPS = "sg-0cc00000000000003"
PROXY = "http://proxy.corp.example:3128"
DOMAIN = "wecom.example.cn"
ZONE = "Z0123456789ABCDEFGHIJ"


def _secret(region: str) -> str:
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    return f"arn:{partition}:secretsmanager:{region}:123456789012:secret:wecom-AbCdEf"


def _certificate(region: str) -> str:
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    return f"arn:{partition}:acm:{region}:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"


def _mode_parameters(mode: str) -> dict[str, str]:
    extra = {"vpc": {"EgressSubnetIds": VPC_SUBNETS, "EgressSecurityGroupIds": VPC_GROUPS}}
    extra["proxy"] = {"EgressProxyUrl": PROXY}
    return {"EgressMode": mode, **extra.get(mode, {})}


@functools.cache
def _rendered(region: str, **given: str) -> Rendered:
    return render({"WeComSecretArn": _secret(region), **given}, region)


def deployment(region: str, mode: str = "direct", **given: str) -> Rendered:
    """What a stack in ``region`` with ``mode`` (and its inputs) and ``given`` parameters creates."""
    return _rendered(region, **_mode_parameters(mode), **given)


def _functions(rendered: Rendered) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in rendered.of_type("AWS::Lambda::Function").items()}


def _sub(rendered: Rendered, value: Any) -> str:
    """An Fn::Sub (or a literal) with the parameters and pseudo parameters put in; ${Resource} stays."""
    if isinstance(value, str):
        return value
    text = value["Fn::Sub"]
    values = rendered.conditions.values

    def put(match: re.Match[str]) -> str:
        name = match.group(1)
        known = values.get(name)
        return known if isinstance(known, str) else match.group(0)

    return re.sub(r"\$\{([^}!]+)\}", put, text)


# ---------------------------------------------------------------- one template for both partitions


@pytest.mark.parametrize("region", CHINA_REGIONS)
@pytest.mark.parametrize("mode", MODES)
def test_china_runs_without_snapstart_and_xray(region: str, mode: str) -> None:
    functions = _functions(deployment(region, mode))
    assert set(functions) >= WECOM_CALLERS
    for name, props in functions.items():
        assert props.get("SnapStart", {}).get("ApplyOn", "None") == "None", name
        assert props.get("TracingConfig", {}).get("Mode") != "Active", name


@pytest.mark.parametrize("mode", MODES)
def test_aws_keeps_snapstart_on_the_callback_and_tracing_everywhere(mode: str) -> None:
    functions = _functions(deployment(AWS_REGION, mode))
    assert functions["CallbackFunction"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    for name, props in functions.items():
        assert props["TracingConfig"] == {"Mode": "Active"}, name


def test_the_secrets_extension_still_turns_snapstart_off_in_aws() -> None:
    layer = "arn:aws:lambda:ap-southeast-1:044395824272:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:12"
    callback = _functions(deployment(AWS_REGION, SecretsExtensionLayerArn=layer))["CallbackFunction"]
    assert callback["SnapStart"] == {"ApplyOn": "None"}
    assert {"Ref": "SecretsExtensionLayerArn"} in callback["Layers"]


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


@pytest.mark.parametrize("region", REGIONS)
def test_every_arn_follows_the_partition(region: str) -> None:
    rendered = deployment(
        region, "nat", CallbackDomainName=DOMAIN, CallbackCertificateArn=_certificate(region)
    )
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    literal_arns = [
        s
        for s in _strings({**rendered.resources, "Outputs": rendered.outputs})
        if s.startswith("arn:") and not s.startswith("arn:${AWS::Partition}:")
    ]
    assert literal_arns, "the managed policy ARNs SAM writes are literal"
    assert all(arn.startswith(f"arn:{partition}:") for arn in literal_arns), literal_arns


@pytest.mark.parametrize("region", REGIONS)
def test_roles_trust_the_service_principals_of_both_partitions(region: str) -> None:
    """IAM service principals of Lambda and EventBridge Scheduler are `<service>.amazonaws.com` in aws-cn
    too; the partition shows only in ARNs."""
    principals = set()
    for role in deployment(region, "nat").of_type("AWS::IAM::Role").values():
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            principals.update(statement["Principal"]["Service"])
    assert principals == {"lambda.amazonaws.com", "scheduler.amazonaws.com"}


# ---------------------------------------------------------------- egress


@pytest.mark.parametrize("region", REGIONS)
def test_nat_puts_exactly_the_wecom_callers_in_the_private_subnets(region: str) -> None:
    functions = _functions(deployment(region, "nat"))
    in_vpc = {name for name, props in functions.items() if "VpcConfig" in props}
    assert in_vpc == WECOM_CALLERS
    for name in in_vpc:
        assert functions[name]["VpcConfig"] == {
            "SubnetIds": [{"Ref": "EgressPrivateSubnetA"}, {"Ref": "EgressPrivateSubnetB"}],
            "SecurityGroupIds": [{"Ref": "EgressSecurityGroup"}],
        }, name


@pytest.mark.parametrize("region", REGIONS)
def test_vpc_mode_uses_the_company_subnets_and_groups(region: str) -> None:
    rendered = deployment(region, "vpc")
    functions = _functions(rendered)
    in_vpc = {name for name, props in functions.items() if "VpcConfig" in props}
    assert in_vpc == WECOM_CALLERS
    for name in in_vpc:
        assert functions[name]["VpcConfig"] == {
            "SubnetIds": {"Ref": "EgressSubnetIds"},
            "SecurityGroupIds": {"Ref": "EgressSecurityGroupIds"},
        }, name
    assert rendered.conditions.values["EgressSubnetIds"] == VPC_SUBNETS.split(",")
    assert not [r for r in rendered.resources.values() if r["Type"].startswith("AWS::EC2::")]


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("mode", ["direct", "proxy"])
def test_direct_and_proxy_keep_every_function_out_of_any_vpc(region: str, mode: str) -> None:
    rendered = deployment(region, mode)
    assert not [name for name, props in _functions(rendered).items() if "VpcConfig" in props]
    assert not [r for r in rendered.resources.values() if r["Type"].startswith("AWS::EC2::")]
    assert "EgressIps" not in rendered.outputs


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("count", [1, 2])
def test_nat_gateways_and_elastic_ips_follow_the_count(region: str, count: int) -> None:
    rendered = deployment(region, "nat", EgressNatGatewayCount=str(count))
    gateways = rendered.of_type("AWS::EC2::NatGateway")
    ips = rendered.of_type("AWS::EC2::EIP")
    assert len(gateways) == len(ips) == count
    public = {"EgressPublicSubnetA", "EgressPublicSubnetB"}
    for gateway in gateways.values():
        assert gateway["Properties"]["SubnetId"]["Ref"] in public
        assert gateway["Properties"]["AllocationId"]["Fn::GetAtt"][0] in ips
    # both private route tables leave through a NAT gateway of this stack, one per zone when there are two
    routes = [
        r["Properties"]
        for r in rendered.of_type("AWS::EC2::Route").values()
        if "NatGatewayId" in r["Properties"]
    ]
    assert {r["RouteTableId"]["Ref"] for r in routes} == {
        "EgressPrivateRouteTableA",
        "EgressPrivateRouteTableB",
    }
    assert len({r["NatGatewayId"]["Ref"] for r in routes}) == count
    value = rendered.outputs["EgressIps"]["Value"]
    listed = value["Fn::Join"][1] if "Fn::Join" in value else [value]
    assert sorted(ref["Ref"] for ref in listed) == sorted(ips)


@pytest.mark.parametrize("region", REGIONS)
def test_nat_reaches_dynamodb_and_s3_through_gateway_endpoints(region: str) -> None:
    rendered = deployment(region, "nat")
    endpoints = [r["Properties"] for r in rendered.of_type("AWS::EC2::VPCEndpoint").values()]
    services = sorted(_sub(rendered, e["ServiceName"]) for e in endpoints)
    assert services == [f"com.amazonaws.{region}.dynamodb", f"com.amazonaws.{region}.s3"]
    private_tables = [{"Ref": "EgressPrivateRouteTableA"}, {"Ref": "EgressPrivateRouteTableB"}]
    for endpoint in endpoints:
        assert endpoint["VpcEndpointType"] == "Gateway"
        assert endpoint["RouteTableIds"] == private_tables
    # the functions' subnets use exactly those route tables
    associations = {
        a["Properties"]["SubnetId"]["Ref"]: a["Properties"]["RouteTableId"]["Ref"]
        for a in rendered.of_type("AWS::EC2::SubnetRouteTableAssociation").values()
    }
    assert associations["EgressPrivateSubnetA"] == "EgressPrivateRouteTableA"
    assert associations["EgressPrivateSubnetB"] == "EgressPrivateRouteTableB"


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("mode", MODES)
def test_the_proxy_url_reaches_only_the_wecom_callers_and_only_in_proxy_mode(region: str, mode: str) -> None:
    functions = _functions(deployment(region, mode))
    with_proxy = {
        name for name, props in functions.items() if "WECOM_PROXY_URL" in props["Environment"]["Variables"]
    }
    assert with_proxy == (WECOM_CALLERS if mode == "proxy" else set())
    for name in with_proxy:
        assert functions[name]["Environment"]["Variables"]["WECOM_PROXY_URL"] == {"Ref": "EgressProxyUrl"}


REFUSED = {
    "vpc without subnets or groups": (
        {"EgressMode": "vpc"},
        {"VpcModeNeedsSubnetsAndGroups": 2},
    ),
    "vpc without groups": (
        {"EgressMode": "vpc", "EgressSubnetIds": VPC_SUBNETS},
        {"VpcModeNeedsSubnetsAndGroups": 1},
    ),
    "proxy without a url": ({"EgressMode": "proxy"}, {"ProxyModeNeedsUrl": 1}),
    "a domain without a certificate": ({"CallbackDomainName": DOMAIN}, {"CallbackDomainNeedsCertificate": 1}),
    "a zone without a domain": ({"CallbackHostedZoneId": ZONE}, {"HostedZoneNeedsDomain": 1}),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_parameters_that_do_not_fit_together_are_refused_before_anything_is_made(case: str) -> None:
    given, expected = REFUSED[case]
    region = CHINA_REGIONS[0]
    failed = refusals({"WeComSecretArn": _secret(region), **given}, region)
    assert {name: len(texts) for name, texts in failed.items()} == expected
    texts = [text for refused in failed.values() for text in refused]
    assert all(re.search(r"\b(Egress|Callback)[A-Za-z]+\b", text) for text in texts), texts  # names the input


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_with_its_inputs_is_accepted(mode: str) -> None:
    given = {
        **_mode_parameters(mode),
        "CallbackDomainName": DOMAIN,
        "CallbackCertificateArn": _certificate(AWS_REGION),
    }
    assert refusals({"WeComSecretArn": _secret(AWS_REGION), **given}, AWS_REGION) == {}


# ---------------------------------------------------------------- the corp's callback domain


@pytest.mark.parametrize("region", REGIONS)
def test_without_a_domain_the_callback_url_is_the_execute_api_one(region: str) -> None:
    rendered = deployment(region)
    for kind in ("AWS::ApiGatewayV2::DomainName", "AWS::ApiGatewayV2::ApiMapping", "AWS::Route53::RecordSet"):
        assert not rendered.of_type(kind), kind
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    url = _sub(rendered, rendered.outputs["CallbackUrl"]["Value"])
    assert url == f"https://${{HttpApi}}.execute-api.{region}.{suffix}/callback"
    assert _functions(rendered)["AdminFunction"]["Environment"]["Variables"]["CALLBACK_URL"] == ""
    assert "CallbackDomainTarget" not in rendered.outputs


@pytest.mark.parametrize("region", REGIONS)
def test_a_domain_puts_the_api_on_it_and_the_callback_url_too(region: str) -> None:
    rendered = deployment(region, CallbackDomainName=DOMAIN, CallbackCertificateArn=_certificate(region))
    (domain,) = rendered.of_type("AWS::ApiGatewayV2::DomainName").values()
    assert domain["Properties"]["DomainName"] == {"Ref": "CallbackDomainName"}
    (config,) = domain["Properties"]["DomainNameConfigurations"]
    assert config == {
        "EndpointType": "REGIONAL",
        "CertificateArn": {"Ref": "CallbackCertificateArn"},
        "SecurityPolicy": "TLS_1_2",
    }
    (mapping,) = rendered.of_type("AWS::ApiGatewayV2::ApiMapping").values()
    assert mapping["Properties"]["ApiId"] == {"Ref": "HttpApi"}
    stage = mapping["Properties"]["Stage"]["Ref"]
    assert rendered.resources[stage]["Properties"]["StageName"] == "$default"
    assert not rendered.of_type("AWS::Route53::RecordSet")  # DNS elsewhere: a CNAME to the target
    assert rendered.outputs["CallbackDomainTarget"]["Value"] == {
        "Fn::GetAtt": ["CallbackDomain", "RegionalDomainName"]
    }
    assert _sub(rendered, rendered.outputs["CallbackUrl"]["Value"]) == f"https://{DOMAIN}/callback"
    admin_env = _functions(rendered)["AdminFunction"]["Environment"]["Variables"]
    assert _sub(rendered, admin_env["CALLBACK_URL"]) == f"https://{DOMAIN}/callback"


def test_a_hosted_zone_adds_the_alias_record() -> None:
    region = CHINA_REGIONS[0]
    rendered = deployment(
        region,
        CallbackDomainName=DOMAIN,
        CallbackCertificateArn=_certificate(region),
        CallbackHostedZoneId=ZONE,
    )
    (record,) = rendered.of_type("AWS::Route53::RecordSet").values()
    props = record["Properties"]
    assert props["HostedZoneId"] == {"Ref": "CallbackHostedZoneId"}
    assert props["Name"] == {"Ref": "CallbackDomainName"}
    assert props["Type"] == "A"
    assert props["AliasTarget"]["DNSName"] == {"Fn::GetAtt": ["CallbackDomain", "RegionalDomainName"]}
    assert props["AliasTarget"]["HostedZoneId"] == {"Fn::GetAtt": ["CallbackDomain", "RegionalHostedZoneId"]}


def test_the_doctor_route_is_declared_iam_signed_on_the_admin_function() -> None:
    rendered = deployment(AWS_REGION)
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in rendered.of_type("AWS::ApiGatewayV2::Route").values()
    }
    body = rendered.properties("HttpApi").get("Body", {})
    paths = body.get("paths", {})
    doctor = paths.get("/admin/doctor", {}).get("post") if paths else routes.get("POST /admin/doctor")
    assert doctor, "POST /admin/doctor is not a route of the HTTP API"
    integration = json.dumps(doctor.get("x-amazon-apigateway-integration", doctor))
    assert "AdminFunction" in integration
    assert doctor.get("security") == [{"AWS_IAM": []}]


# ---------------------------------------------------------------- alarms and dashboard


def _alarms(rendered: Rendered) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in rendered.of_type("AWS::CloudWatch::Alarm").items()}


@pytest.mark.parametrize("region", REGIONS)
def test_alarms_reach_the_address_given(region: str) -> None:
    rendered = deployment(region, AlarmEmail="oncall@example.com")
    (subscription,) = rendered.of_type("AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    # CloudWatch cannot publish to a topic under the AWS managed SNS key
    assert "KmsMasterKeyId" not in rendered.properties("AlarmTopic")
    for name, alarm in _alarms(rendered).items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    assert not deployment(region).of_type("AWS::SNS::Subscription")


def _single_metric_alarm(rendered: Rendered, metric: str) -> dict[str, Any]:
    (alarm,) = [a for a in _alarms(rendered).values() if a.get("MetricName") == metric]
    return alarm


def test_setup_errors_signature_failures_and_5xx_raise_alarms() -> None:
    rendered = deployment(CHINA_REGIONS[0])
    setup = _single_metric_alarm(rendered, "WeComSetupError")
    assert (setup["Namespace"], setup["Dimensions"]) == (
        "WeComBundle",
        [{"Name": "service", "Value": "wecom-bundle"}],
    )
    signature = _single_metric_alarm(rendered, "CallbackRejected")
    assert signature["Dimensions"] == [
        {"Name": "service", "Value": "wecom-bundle"},
        {"Name": "reason", "Value": "signature"},
    ]
    assert signature["Threshold"] == {"Ref": "CallbackSignatureAlarmThreshold"}
    server = _single_metric_alarm(rendered, "5xx")
    assert server["Namespace"] == "AWS/ApiGateway"
    assert {"Name": "ApiId", "Value": {"Ref": "HttpApi"}} in server["Dimensions"]
    queues = {
        d["Value"]["Fn::GetAtt"][0]
        for a in _alarms(rendered).values()
        for d in a.get("Dimensions", [])
        if d["Name"] == "QueueName"
    }
    assert queues == {"ScheduledDeadLetterQueue", "ResultSyncDeadLetterQueue"}


def test_the_welcome_alarm_is_a_rate_over_a_tunable_window() -> None:
    rendered = deployment(CHINA_REGIONS[1])
    (alarm,) = [a for a in _alarms(rendered).values() if "Metrics" in a]
    stats = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert set(stats) == {"sent", "failed", "expired"}
    for outcome, stat in stats.items():
        assert stat["Metric"]["Namespace"] == "WeComBundle"
        assert stat["Metric"]["MetricName"] == "WelcomeOutcome"
        assert stat["Metric"]["Dimensions"] == [
            {"Name": "service", "Value": "wecom-bundle"},
            {"Name": "outcome", "Value": outcome},
        ]
        assert (stat["Stat"], stat["Period"]) == ("Sum", {"Ref": "WelcomeAlarmPeriodSeconds"})
    (returned,) = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    expression = _sub(rendered, returned["Expression"])
    assert expression == "IF(tried >= 5, 100 * (FILL(failed, 0) + FILL(expired, 0)) / tried, 0)"
    assert alarm["Threshold"] == {"Ref": "WelcomeFailureAlarmPercent"}


@pytest.mark.parametrize("region", REGIONS)
def test_the_dashboard_shows_the_product_and_no_xray(region: str) -> None:
    rendered = deployment(region)
    (dashboard,) = rendered.of_type("AWS::CloudWatch::Dashboard").values()
    body = _sub(rendered, dashboard["Properties"]["DashboardBody"])
    body = re.sub(r"\$\{[^}]+\}", "placeholder", body)  # resource names, known only when deployed
    widgets = json.loads(body)["widgets"]
    metrics = {m[1] for w in widgets for m in w["properties"]["metrics"] if m[0] != "..." and m[0] != "."}
    assert {
        "WelcomeOutcome",
        "WelcomeLatency",
        "ResultSyncLag",
        "CampaignCreated",
        "WeComSetupError",
    } <= metrics
    latency = next(w for w in widgets if "WelcomeLatency" in json.dumps(w))
    assert {"p50", "p99"} <= set(re.findall(r'"stat": "(p\d+)"', json.dumps(latency)))
    assert all(w["properties"]["region"] == region for w in widgets)
    assert "xray" not in body.lower() and "trace" not in body.lower()
