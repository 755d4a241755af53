"""local.gateway (with local.apigw_routes and local.apigw_payload): routing, the payload 2.0 event, response mapping, and the server's own answers (404/413/500)."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.apigw_payload import HttpRequest, MalformedResponse, build_event, is_text_content, to_http_response
from local.apigw_routes import RouteMatch, match_route
from local.gateway import MAX_PAYLOAD_BYTES, LocalGateway
from local.lambda_runtime import LocalLambdaRuntime
from local.template import FunctionSpec, RouteSpec, ScheduleSpec


def route(method: str, path: str, fn: str = "Fn", auth: str = "NONE") -> RouteSpec:
    return RouteSpec(method, path, fn, auth, f"{method}{path}")


ROUTES = [
    route("GET", "/callback"),
    route("POST", "/callback"),
    route("GET", "/items/{id}"),
    route("GET", "/items/special"),
    route("DELETE", "/items/{id}"),
    route("GET", "/items/{id}/parts/{part}"),
    route("ANY", "/files/{proxy+}"),
    route("GET", "/files/readme"),
]


# ---------------------------------------------------------------- routing


@pytest.mark.parametrize(
    ("method", "path", "expected", "params"),
    [
        ("GET", "/callback", "GET /callback", {}),
        ("POST", "/callback", "POST /callback", {}),
        ("GET", "/items/special", "GET /items/special", {}),  # exact beats {id}
        ("GET", "/items/a%20b", "GET /items/{id}", {"id": "a b"}),
        ("DELETE", "/items/42", "DELETE /items/{id}", {"id": "42"}),
        ("GET", "/items/1/parts/x", "GET /items/{id}/parts/{part}", {"id": "1", "part": "x"}),
        ("GET", "/files/readme", "GET /files/readme", {}),
        ("PUT", "/files/a/b/c.txt", "ANY /files/{proxy+}", {"proxy": "a/b/c.txt"}),
        ("GET", "/files/readme/more", "ANY /files/{proxy+}", {"proxy": "readme/more"}),
    ],
)
def test_route_selection(method: str, path: str, expected: str, params: dict[str, str]) -> None:
    found = match_route(ROUTES, method, path)
    assert found is not None
    assert found.route.route_key == expected
    assert found.path_parameters == params


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/callback"),  # known path, undeclared method: HTTP APIs answer 404, not 405
        ("GET", "/nope"),
        ("GET", "/items"),
        ("GET", "/items/"),
        ("GET", "/items/1/2"),
        ("GET", "/callback/extra"),
        ("GET", "/files/"),
    ],
)
def test_no_route(method: str, path: str) -> None:
    assert match_route(ROUTES, method, path) is None


def test_default_route_catches_the_rest_last() -> None:
    routes = [*ROUTES, route("ANY", "$default")]
    assert match_route(routes, "PUT", "/callback").route.route_key == "$default"
    assert match_route(routes, "GET", "/callback").route.route_key == "GET /callback"


# ---------------------------------------------------------------- the event


def make_event(**overrides: Any) -> dict[str, Any]:
    request = HttpRequest(
        method=overrides.pop("method", "POST"),
        target=overrides.pop("target", "/items/7?b=2&a=1&a=x%20y&flag"),
        headers=overrides.pop(
            "headers",
            [
                ("Host", "127.0.0.1:3000"),
                ("User-Agent", "pytest"),
                ("Content-Type", "application/json"),
                ("X-Multi", "one"),
                ("x-multi", "two"),
                ("Cookie", "a=1; b=2"),
            ],
        ),
        body=overrides.pop("body", b'{"k": "v"}'),
        source_ip="127.0.0.1",
    )
    match = overrides.pop("match", RouteMatch(route("POST", "/items/{id}"), {"id": "7"}))
    return build_event(request, match, request_id="req-1", now=1_700_000_000.123)


def test_payload_2_fields() -> None:
    event = make_event()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /items/{id}"
    assert event["rawPath"] == "/items/7"
    assert event["rawQueryString"] == "b=2&a=1&a=x%20y&flag"
    assert event["queryStringParameters"] == {"a": "1,x y", "b": "2", "flag": ""}
    assert event["pathParameters"] == {"id": "7"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-multi"] == "one,two"
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    assert event["body"] == '{"k": "v"}'
    assert event["isBase64Encoded"] is False


def test_request_context() -> None:
    context = make_event()["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/items/7",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest",
    }
    assert context["requestId"] == "req-1"
    assert context["routeKey"] == "POST /items/{id}"
    assert context["stage"] == "$default"
    assert context["timeEpoch"] == 1_700_000_000_123
    assert context["time"] == "14/Nov/2023:22:13:20 +0000"
    assert context["domainName"] == "127.0.0.1:3000"
    assert context["accountId"] and context["apiId"]
    assert "authorizer" not in context


def test_iam_routes_carry_a_local_caller() -> None:
    event = make_event(match=RouteMatch(route("POST", "/items/{id}", auth="AWS_IAM"), {"id": "7"}))
    assert event["requestContext"]["authorizer"]["iam"]["userArn"].startswith("arn:aws:iam::")


def test_no_query_no_cookies_no_body_fields() -> None:
    event = make_event(
        method="GET",
        target="/callback",
        headers=[("Host", "h")],
        body=b"",
        match=RouteMatch(route("GET", "/callback"), {}),
    )
    for absent in ("queryStringParameters", "pathParameters", "cookies", "body"):
        assert absent not in event
    assert event["rawQueryString"] == ""
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("text/xml", True),
        ("text/plain; charset=utf-8", True),
        ("application/json", True),
        ("application/problem+json", True),
        ("application/xml", True),
        ("application/x-www-form-urlencoded", True),
        ("application/octet-stream", False),
        ("image/png", False),
        (None, False),
    ],
)
def test_binary_bodies_are_base64(content_type: str | None, text: bool) -> None:
    assert is_text_content(content_type) is text
    headers = [("Content-Type", content_type)] if content_type else []
    event = make_event(headers=headers, body=b"<xml>\xe4\xbd\xa0</xml>")
    assert event["isBase64Encoded"] is (not text)
    decoded = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    assert decoded == b"<xml>\xe4\xbd\xa0</xml>"


def test_text_body_that_is_not_utf8_is_base64() -> None:
    event = make_event(body=b"\xff\xfe")
    assert event["isBase64Encoded"] is True


# ---------------------------------------------------------------- the response


def test_full_result_maps_to_http() -> None:
    response = to_http_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-Flag": True},
            "multiValueHeaders": {"X-Many": ["1", "2"]},
            "cookies": ["s=1; HttpOnly"],
            "body": "created",
        }
    )
    assert response.status == 201
    assert ("Content-Type", "text/plain") in response.headers
    assert ("X-Flag", "true") in response.headers
    assert [v for k, v in response.headers if k == "X-Many"] == ["1", "2"]
    assert ("Set-Cookie", "s=1; HttpOnly") in response.headers
    assert response.body == b"created"


def test_base64_body_is_decoded() -> None:
    raw = bytes(range(256))
    response = to_http_response(
        {"statusCode": 200, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    )
    assert response.body == raw


@pytest.mark.parametrize("result", [{"items": [1]}, "hello", [1, 2], None])
def test_result_without_status_code_is_200_json(result: Any) -> None:
    response = to_http_response(result)
    assert response.status == 200
    assert ("Content-Type", "application/json") in response.headers
    assert json.loads(response.body) == result


def test_hop_by_hop_headers_from_the_handler_are_dropped() -> None:
    response = to_http_response(
        {"statusCode": 200, "headers": {"Content-Length": "999", "Connection": "close"}}
    )
    assert response.headers == []
    assert response.body == b""


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "abc"},
        {"statusCode": 99},
        {"statusCode": 200, "headers": {"X": "a\r\nInjected: 1"}},
        {"statusCode": 200, "body": "!!", "isBase64Encoded": True},
    ],
)
def test_malformed_results(result: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponse):
        to_http_response(result)


# ---------------------------------------------------------------- the server, with throwaway handlers

HANDLERS = {
    "echo": """
        import json

        def lambda_handler(event, context):
            return {"statusCode": 200, "headers": {"content-type": "application/json"},
                    "body": json.dumps({"event": event, "remaining": context.get_remaining_time_in_millis()})}
    """,
    "boom": """
        def lambda_handler(event, context):
            raise ValueError("kaput")
    """,
    "plain": """
        def lambda_handler(event, context):
            return {"ok": True, "got": event}
    """,
    "bad": """
        def lambda_handler(event, context):
            return {"statusCode": "teapot"}
    """,
}


def write_functions(root: Path) -> dict[str, FunctionSpec]:
    specs = {}
    for name, source in HANDLERS.items():
        code = root / name
        code.mkdir()
        (code / "app.py").write_text(textwrap.dedent(source), encoding="utf-8")
        logical_id = f"{name.title()}Function"
        specs[logical_id] = FunctionSpec(logical_id, code, "app.lambda_handler", {}, 5, 128)
    return specs


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[LocalGateway]:
    functions = write_functions(tmp_path)
    routes = [
        route("GET", "/echo/{id}", "EchoFunction"),
        route("POST", "/echo", "EchoFunction"),
        route("GET", "/boom", "BoomFunction"),
        route("GET", "/plain", "PlainFunction"),
        route("GET", "/bad", "BadFunction"),
    ]
    schedules = [ScheduleSpec("PlainFunction", "Tick", "ScheduleV2", "rate(1 minute)")]
    server = LocalGateway(
        LocalLambdaRuntime(functions), routes, schedules=schedules, health_info=lambda: {"extra": 1}
    )
    server.start()
    yield server
    server.stop()


def call(
    gateway: LocalGateway,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_server_binds_loopback_only(gateway: LocalGateway) -> None:
    assert gateway.url.startswith("http://127.0.0.1:")


def test_round_trip_through_a_handler(gateway: LocalGateway) -> None:
    status, headers, body = call(gateway, "GET", "/echo/x%2Fy?q=1&q=2", headers={"Cookie": "c=3"})
    assert status == 200
    assert headers["apigw-requestid"]
    event = json.loads(body)["event"]
    assert event["pathParameters"] == {"id": "x/y"}
    assert event["queryStringParameters"] == {"q": "1,2"}
    assert event["cookies"] == ["c=3"]
    assert event["requestContext"]["requestId"] == headers["apigw-requestid"]
    assert 0 < json.loads(body)["remaining"] <= 5000


def test_chunked_request_body(gateway: LocalGateway) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    connection.request(
        "POST",
        "/echo",
        body=iter([b"<xml>", b"hi</xml>"]),
        headers={"Content-Type": "text/xml"},
        encode_chunked=True,
    )
    event = json.loads(connection.getresponse().read())["event"]
    connection.close()
    assert event["body"] == "<xml>hi</xml>"


def test_unknown_route_and_wrong_method_are_404(gateway: LocalGateway) -> None:
    for method, path in (("GET", "/nowhere"), ("DELETE", "/echo/1"), ("GET", "/echo")):
        status, _, body = call(gateway, method, path)
        assert (status, json.loads(body)) == (404, {"message": "Not Found"})


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "FOO", "CONNECT", "MKCOL"])
@pytest.mark.parametrize("path", ["/echo/1", "/echo", "/nowhere", "/__local/health"])
def test_any_other_method_is_the_gateways_json_404(gateway: LocalGateway, method: str, path: str) -> None:
    """API Gateway answers an unmatched route or method with 404 {"message": "Not Found"}; the stdlib server
    would answer 501 with an HTML page for a method it has no ``do_`` handler for."""
    status, headers, body = call(gateway, method, path)
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    assert headers["Content-Type"].startswith("application/json")


def test_handler_exception_is_500_and_logged_without_the_body(
    gateway: LocalGateway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="local.gateway"):
        status, _, body = call(gateway, "GET", "/boom?secret=q1", body=b"top-secret-body")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    assert "ValueError: kaput" in caplog.text  # the traceback is there
    assert "top-secret-body" not in caplog.text
    assert "q1" not in caplog.text


def test_malformed_handler_result_is_500(gateway: LocalGateway) -> None:
    status, _, body = call(gateway, "GET", "/bad")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_result_without_status_code_over_http(gateway: LocalGateway) -> None:
    status, headers, body = call(gateway, "GET", "/plain")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["ok"] is True


def test_payload_over_10_mb_is_413(gateway: LocalGateway) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    connection.putrequest("POST", "/echo")
    connection.putheader("Content-Length", str(MAX_PAYLOAD_BYTES + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read()) == {"message": "Request Entity Too Large"}
    connection.close()


def test_health_is_503_until_ready(gateway: LocalGateway) -> None:
    status, _, body = call(gateway, "GET", "/__local/health")
    assert (status, json.loads(body)) == (503, {"status": "starting"})
    gateway.mark_ready()
    status, _, body = call(gateway, "GET", "/__local/health")
    assert (status, json.loads(body)) == (200, {"status": "ok", "extra": 1})


def test_invoke_with_an_event(gateway: LocalGateway) -> None:
    status, _, body = call(gateway, "POST", "/__local/invoke/PlainFunction", body=b'{"a": 1}')
    assert (status, json.loads(body)) == (200, {"ok": True, "got": {"a": 1}})


def test_invoke_without_a_body_sends_the_scheduled_event(gateway: LocalGateway) -> None:
    status, _, body = call(gateway, "POST", "/__local/invoke/PlainFunction")
    event = json.loads(body)["got"]
    assert status == 200
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.scheduler"
    assert event["resources"][0].endswith(":schedule/default/PlainFunction-Tick")


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/__local/invoke/NoSuchFunction", b"{}", 404),
        ("/__local/invoke/PlainFunction", b"{not json", 400),
    ],
)
def test_invoke_errors(gateway: LocalGateway, path: str, body: bytes, status: int) -> None:
    assert call(gateway, "POST", path, body=body)[0] == status


def test_invoke_reports_the_error_type(gateway: LocalGateway) -> None:
    status, _, body = call(gateway, "POST", "/__local/invoke/BoomFunction", body=b"{}")
    assert status == 500
    assert json.loads(body)["errorType"] == "ValueError"
    assert "kaput" not in body.decode()


def test_unknown_local_endpoint_is_404(gateway: LocalGateway) -> None:
    assert call(gateway, "GET", "/__local/invoke/PlainFunction")[0] == 404
    assert call(gateway, "GET", "/__local/nothing")[0] == 404


def test_head_has_no_body(gateway: LocalGateway) -> None:
    status, headers, body = call(gateway, "HEAD", "/nowhere")
    assert status == 404
    assert body == b""
    assert int(headers["Content-Length"]) > 0
