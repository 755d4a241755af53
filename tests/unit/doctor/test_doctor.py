"""``POST /admin/doctor`` through the real AdminFunction, the WeCom simulator over HTTP and moto: every check
named and ordered as DESIGN says, a WeCom refusal keeping its errcode and fix, egress_ip from a 60020, the
callback check made as WeCom's URL verification against the real CallbackFunction."""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from local.events import http_event
from local.http_server import QuietThreadingHTTPServer
from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from tests.support import call_json, function_under_test, sim_control

pytestmark = pytest.mark.usefixtures("moto_table")
NAMES = ["secret", "token", "customer_contact", "mass_send", "contact_ways", "callback_url", "storage"]


@pytest.fixture
def callback_server() -> Iterator[str]:
    """The callback's public URL: a loopback HTTP server in front of the real CallbackFunction."""
    handler = function_under_test("CallbackFunction")

    class Forward(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            answer = handler(http_event("GET", url.path, dict(parse_qsl(url.query))))
            body = (answer.get("body") or "").encode()
            self.send_response(answer["statusCode"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = QuietThreadingHTTPServer(("127.0.0.1", 0), Forward)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback"
    server.shutdown()
    server.server_close()


@pytest.fixture
def doctor(
    wecom_sim: SimulatorHandle,  # noqa: ARG001  (the simulator the admin function calls)
    callback_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    monkeypatch.setenv("CALLBACK_URL", callback_server)
    admin = function_under_test("AdminFunction")

    def run() -> dict[str, Any]:
        status, answer = call_json(admin, "POST", "/admin/doctor")
        assert status == 200, answer
        importlib.import_module("admin_api.models.responses").DoctorReport.model_validate(answer)
        assert [c["name"] for c in answer["checks"]] == NAMES
        return dict(answer)

    return run


def _by_name(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in answer["checks"]}


def test_every_check_passes_against_a_well_set_up_corp(doctor: Any) -> None:
    answer = doctor()
    assert answer["ok"] is True and answer["egress_ip"] is None
    checks = _by_name(answer)
    assert all(c["ok"] and c["errcode"] is None and c["fix"] is None for c in checks.values())
    assert "environment" in checks["secret"]["detail"]
    assert "echoed the verification" in checks["callback_url"]["detail"]


def test_an_untrusted_ip_fails_the_api_checks_with_60020_and_names_the_ip(
    doctor: Any, wecom_sim: SimulatorHandle
) -> None:
    sim_control(wecom_sim, "trusted_ips", {"ips": ["203.0.113.7"]})
    answer = doctor()
    checks = _by_name(answer)
    assert answer["ok"] is False and answer["egress_ip"] == "127.0.0.1"
    assert checks["token"]["ok"] is True  # gettoken answers an untrusted IP; the token's use is refused
    for name in ("customer_contact", "mass_send", "contact_ways"):
        assert (checks[name]["ok"], checks[name]["errcode"]) == (False, 60020)
        assert checks[name]["fix"] == "add 127.0.0.1 to 企业可信IP of the app"
    assert checks["callback_url"]["ok"] and checks["storage"]["ok"] and checks["secret"]["ok"]


def test_a_refused_gettoken_fails_the_token_check_and_skips_the_wecom_calls(
    doctor: Any, wecom_sim: SimulatorHandle
) -> None:
    sim_control(wecom_sim, "trusted_ips", {"ips": ["203.0.113.7"], "gettoken": True})
    answer = doctor()
    checks = _by_name(answer)
    assert (checks["token"]["ok"], checks["token"]["errcode"]) == (False, 60020)
    assert answer["egress_ip"] == "127.0.0.1"
    assert all(checks[n]["detail"].startswith("not run") for n in ("customer_contact", "mass_send"))
    assert [c["path"] for c in calls(wecom_sim.state, "")] == ["/cgi-bin/gettoken"]


def test_a_wrong_secret_keeps_its_errcode(doctor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WECOM_CORP_SECRET", "not-the-apps-secret")
    token = _by_name(doctor())["token"]
    assert (token["ok"], token["errcode"]) == (False, 40001)
    assert "corp_secret" in token["fix"] and "not-the-apps-secret" not in json.dumps(token)


def test_an_unreadable_secret_fails_the_secret_check_naming_no_value(
    doctor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WECOM_CORP_SECRET")
    monkeypatch.setenv("WECOM_SECRET_ID", "wecom/missing")
    answer = doctor()
    checks = _by_name(answer)
    assert checks["secret"]["ok"] is False and "WECOM_SECRET_ID" in checks["secret"]["fix"]
    assert all(checks[n]["detail"].startswith("not run") for n in NAMES[1:-1])
    assert checks["storage"]["ok"] is True and answer["ok"] is False


def test_a_callback_that_does_not_echo_fails(doctor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WECOM_CALLBACK_TOKEN", "adifferenttoken")  # the doctor signs with it, the URL is ours
    monkeypatch.setenv("CALLBACK_URL", "http://127.0.0.1:9/callback")  # nothing listens on the discard port
    check = _by_name(doctor())["callback_url"]
    assert check["ok"] is False and "no answer" in check["detail"] and check["fix"]


def test_storage_fails_when_the_table_does_not_answer(doctor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    check = _by_name(doctor())["storage"]
    assert check["ok"] is False and "ResourceNotFoundException" in check["detail"]


@pytest.mark.parametrize(
    ("configured", "domain", "url"),
    [
        (
            "https://cb.corp.example/callback",
            "abc.execute-api.cn-north-1.amazonaws.com.cn",
            "https://cb.corp.example/callback",
        ),
        (
            "",
            "abc.execute-api.us-east-1.amazonaws.com",
            "https://abc.execute-api.us-east-1.amazonaws.com/callback",
        ),
        ("", "evil.example/x?y=", None),
        ("", None, None),
        ("ftp://cb.corp.example/callback", "x.example", None),
    ],
)
def test_the_callback_url_is_the_configured_one_else_this_apis_domain(
    monkeypatch: pytest.MonkeyPatch, configured: str, domain: str | None, url: str | None
) -> None:
    function_under_test("AdminFunction")  # puts the admin function's modules on the path
    route = importlib.import_module("admin_api.routes.doctor")
    monkeypatch.setenv("CALLBACK_URL", configured)
    assert route.callback_url(domain) == url
