"""``wecomctl doctor`` against a recording HTTP server: the request, the table, the fixes and the exit code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.cli import test_commands
from tests.unit.cli.test_commands import FakeApi

api = test_commands.api  # the recording server, as the other command tests use it


PASSING = {
    "ok": True,
    "egress_ip": None,
    "checks": [
        {"name": name, "ok": True, "errcode": None, "detail": f"{name} fine", "fix": None}
        for name in (
            "secret",
            "token",
            "customer_contact",
            "mass_send",
            "contact_ways",
            "callback_url",
            "storage",
        )
    ],
}
UNTRUSTED = {
    **PASSING,
    "ok": False,
    "egress_ip": "198.51.100.4",
    "checks": [
        *PASSING["checks"][:2],
        {
            "name": "customer_contact",
            "ok": False,
            "errcode": 60020,
            "detail": "WeCom refused externalcontact/get_follow_user_list: errcode 60020, not allow to access",
            "fix": "add 198.51.100.4 to 企业可信IP of the app",
        },
        *PASSING["checks"][3:],
    ],
}


def test_doctor_exits_0_when_every_check_passes(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [(200, PASSING)]
    assert api.run("doctor") == 0
    (sent,) = api.requests
    assert (sent.method, sent.path) == ("POST", "/admin/doctor")
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["CHECK", "RESULT", "ERRCODE", "DETAIL"]
    assert [line.split()[:2] for line in out[1:8]] == [[c["name"], "ok"] for c in PASSING["checks"]]
    assert out[-1] == "all checks passed"


def test_doctor_exits_1_and_prints_the_fix_and_the_ip(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.replies = [(200, UNTRUSTED)]
    assert api.run("doctor") == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("customer_contact"))
    assert row.split()[1:3] == ["FAIL", "60020"]
    assert "egress IP WeCom saw: 198.51.100.4" in out
    assert "fix customer_contact: add 198.51.100.4 to 企业可信IP of the app" in out
    assert out.rstrip().endswith("1 of 7 checks failed")


def test_doctor_json_prints_the_answer_with_the_same_exit_code(
    api: FakeApi,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.replies = [(200, UNTRUSTED)]
    assert api.run("--json", "doctor") == 1
    answer: Any = json.loads(capsys.readouterr().out)
    assert answer == UNTRUSTED


def test_doctor_without_the_api_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    from wecomctl.main import main

    assert main(["--api", "http://127.0.0.1:9", "doctor"]) == 2
    assert "cannot reach the admin API" in capsys.readouterr().err
