"""``wecomctl sim``: against a real WeCom simulator and a stand-in gateway (``/__local/health``, the two admin
lookups, and ``/callback`` answering the simulator's pushes).

What is pinned here: the simulator is found through the gateway's health answer; a customer added through the
CLI reaches the callback URL as a signed push; a channel's config_id and a campaign's msgids come from the
admin API; the clock moves by the duration given; a deployed stack, a stack without the simulator and bad
input are refused with a clear line and exit 2, before anything is sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from local.http_server import QuietThreadingHTTPServer
from local.settings import DEV_DEFAULTS
from local.wecom_sim.server import SimulatorConfig, SimulatorHandle, start_simulator
from wecomctl.main import main
from wecomctl.sim import parse_duration


@dataclass
class Gateway:
    """The local gateway's few answers ``wecomctl sim`` needs; every request path is recorded."""

    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    paths: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""
    server: QuietThreadingHTTPServer | None = None

    def start(self) -> None:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urlsplit(self.path).path
                gateway.paths.append((self.command, path))
                status, doc = gateway.answers.get(path, (404, {"message": "Not Found"}))
                data = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = QuietThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def run(self, *argv: str) -> int:
        return main(["--api", self.url, "--timeout", "10", *argv])


@pytest.fixture
def stack() -> Iterator[tuple[Gateway, SimulatorHandle]]:
    """A gateway whose health names a simulator that pushes its callbacks back to the gateway."""
    gateway = Gateway()
    gateway.start()
    sim = start_simulator(
        SimulatorConfig(
            DEV_DEFAULTS["WECOM_CORP_ID"],
            DEV_DEFAULTS["WECOM_CORP_SECRET"],
            DEV_DEFAULTS["WECOM_CALLBACK_TOKEN"],
            DEV_DEFAULTS["WECOM_ENCODING_AES_KEY"],
            callback_url=f"{gateway.url}/callback",
            callback_attempts=1,
        )
    )
    gateway.answers["/__local/health"] = (200, {"status": "ok", "simulator": True, "simulator_url": sim.url})
    gateway.answers["/callback"] = (200, "success")
    yield gateway, sim
    sim.stop()
    gateway.stop()


def _wecom(sim: SimulatorHandle, api: str, body: dict[str, Any]) -> dict[str, Any]:
    """Call the simulator's WeCom API as the product would (token first)."""
    token = requests.get(
        f"{sim.url}/cgi-bin/gettoken",
        params={"corpid": DEV_DEFAULTS["WECOM_CORP_ID"], "corpsecret": DEV_DEFAULTS["WECOM_CORP_SECRET"]},
        timeout=5,
    ).json()["access_token"]
    answer: dict[str, Any] = requests.post(
        f"{sim.url}/cgi-bin/{api}", params={"access_token": token}, json=body, timeout=5
    ).json()
    assert answer["errcode"] == 0, answer
    return answer


def test_env_prints_the_simulator_as_a_shell_line(
    stack: tuple[Gateway, SimulatorHandle], capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, sim = stack
    assert gateway.run("sim", "env") == 0
    assert capsys.readouterr().out == f"export SIM={sim.url}\n"
    assert gateway.paths == [("GET", "/__local/health")]


def test_add_customer_pushes_a_signed_callback_to_the_stack(
    stack: tuple[Gateway, SimulatorHandle], capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, sim = stack
    code = gateway.run(
        "sim", "add-customer", "wmAnn", "--member", "zhangsan", "--name", "Ann", "--state", "web"
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "delivered (HTTP 200)" in out and "zhangsan" in out and "web" in out
    assert ("POST", "/callback") in gateway.paths
    (push,) = requests.get(f"{sim.url}/__sim/callbacks", timeout=5).json()
    assert push["fields"]["ExternalUserID"] == "wmAnn" and push["fields"]["State"] == "web"
    assert push["fields"]["WelcomeCode"]
    contacts = requests.get(f"{sim.url}/__sim/contacts", timeout=5).json()
    assert any(c["external_userid"] == "wmAnn" and c["name"] == "Ann" for c in contacts["customers"])


def test_add_customer_exits_1_when_the_stack_refuses_the_callback(
    stack: tuple[Gateway, SimulatorHandle], capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, _ = stack
    gateway.answers["/callback"] = (400, "bad signature")
    assert gateway.run("sim", "add-customer", "wmAnn", "--member", "zhangsan") == 1
    captured = capsys.readouterr()
    assert "NOT delivered (HTTP 400)" in captured.out
    assert "did not answer the callback with HTTP 200" in captured.err


def test_add_customer_through_a_channel_uses_its_config_id(
    stack: tuple[Gateway, SimulatorHandle], capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, sim = stack
    requests.post(f"{sim.url}/__sim/contacts", json={"members": ["lisi"]}, timeout=5).raise_for_status()
    way = _wecom(
        sim, "externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": ["lisi"], "state": "expo"}
    )
    gateway.answers["/admin/channels/expo"] = (200, {"channel_id": "expo", "config_id": way["config_id"]})
    assert gateway.run("sim", "add-customer", "wmBo", "--channel", "expo", "--name", "Bo") == 0
    (push,) = requests.get(f"{sim.url}/__sim/callbacks", timeout=5).json()
    assert push["fields"]["State"] == "expo" and push["fields"]["UserID"] == "lisi"
    assert ("GET", "/admin/channels/expo") in gateway.paths
    assert "lisi" in capsys.readouterr().out


def test_add_customer_refuses_a_channel_without_a_code_and_a_missing_member(
    stack: tuple[Gateway, SimulatorHandle], capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, sim = stack
    gateway.answers["/admin/channels/expo"] = (200, {"channel_id": "expo", "status": "failed"})
    assert gateway.run("sim", "add-customer", "wmBo", "--channel", "expo") == 2
    assert "channel expo has no QR code on WeCom yet (status failed)" in capsys.readouterr().err
    assert gateway.run("sim", "add-customer", "wmBo") == 2
    assert "needs --member USERID" in capsys.readouterr().err
    assert gateway.run("sim", "add-customer", "wmBo", "--channel", "nope") == 1  # the admin API's 404
    assert requests.get(f"{sim.url}/__sim/callbacks", timeout=5).json() == []


def test_send_makes_the_members_send_every_task_of_the_campaign(
    stack: tuple[Gateway, SimulatorHandle], capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, sim = stack
    requests.post(
        f"{sim.url}/__sim/contacts",
        json={"customers": [{"external_userid": "wmA", "name": "A", "owner": "zhangsan"}]},
        timeout=5,
    ).raise_for_status()
    task = _wecom(
        sim, "externalcontact/add_msg_template", {"external_userid": ["wmA"], "text": {"content": "hi"}}
    )
    gateway.answers["/admin/campaigns/cmp_1"] = (200, {"campaign_id": "cmp_1", "msgids": [task["msgid"]]})
    assert gateway.run("sim", "send", "cmp_1") == 0
    assert f"msgid {task['msgid']}: sent by zhangsan" in capsys.readouterr().out
    shares = requests.get(f"{sim.url}/__sim/groupmsg/{task['msgid']}", timeout=5).json()
    assert json.dumps(shares).count('"status": 2') >= 1  # the member's share is sent


def test_send_refuses_a_campaign_without_a_task(
    stack: tuple[Gateway, SimulatorHandle], capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, _ = stack
    gateway.answers["/admin/campaigns/cmp_2"] = (
        200,
        {"campaign_id": "cmp_2", "status": "scheduled", "msgids": []},
    )
    assert gateway.run("sim", "send", "cmp_2") == 2
    assert "campaign cmp_2 has no WeCom task yet (status scheduled)" in capsys.readouterr().err


def test_clock_advances_by_the_duration_given(
    stack: tuple[Gateway, SimulatorHandle], capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, sim = stack
    assert gateway.run("sim", "clock", "--advance", "1h") == 0
    assert requests.get(f"{sim.url}/__sim/clock", timeout=5).json()["offset"] == 3600
    assert "offset_seconds: 3600" in capsys.readouterr().out
    assert gateway.run("sim", "clock", "--advance", "0m") == 2
    assert "--advance must be a positive duration" in capsys.readouterr().err
    assert requests.get(f"{sim.url}/__sim/clock", timeout=5).json()["offset"] == 3600


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172_800), ("1.5h", 5400)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_deployed_stack_is_refused_before_any_request(capsys: pytest.CaptureFixture[str]) -> None:
    api = "https://abc123.execute-api.ap-east-1.amazonaws.com"
    assert main(["--api", api, "sim", "clock", "--advance", "1h"]) == 2
    err = capsys.readouterr().err
    assert "drives the local stack's WeCom simulator only" in err and api in err


def test_a_stack_without_the_simulator_or_no_stack_at_all(
    stack: tuple[Gateway, SimulatorHandle], capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, _ = stack
    gateway.answers["/__local/health"] = (200, {"status": "ok", "simulator": False, "simulator_url": None})
    assert gateway.run("sim", "env") == 2
    assert "talks to an external WeCom API" in capsys.readouterr().err
    del gateway.answers["/__local/health"]
    assert gateway.run("sim", "env") == 2
    assert "it is not the local stack" in capsys.readouterr().err
    gateway.stop()
    assert gateway.run("sim", "env") == 2
    assert "is `make run` running?" in capsys.readouterr().err
    gateway.start()  # the fixture stops it again
