"""The trusted-IP rule through ``make run``'s stack: with the simulator's knob on, welcomes fail at once with
60020, one ERROR line names the IP, gettoken is not hammered, and ``wecomctl doctor`` exits 1 with the 60020
check and ``egress_ip``; with it off, ``wecomctl doctor`` exits 0 (its callback check a real signed GET to the
local gateway's /callback)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.stack import StackHandle
from tests.e2e.test_wecomctl_e2e import Cli

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]
STACK_ENVIRON = {"WELCOME_RULES_CACHE_SECONDS": "0"}
FIX = "add 127.0.0.1 to 企业可信IP of the app"


def _sim(stack: StackHandle, method: str, path: str, body: Any = None) -> Any:
    answer = requests.request(method, f"{stack.simulator.url}/__sim/{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


@pytest.fixture
def stack(local_stack: StackHandle) -> Iterator[StackHandle]:
    _sim(local_stack, "POST", "reset")  # also takes the trusted-IP list away
    rule = {"priority": 1, "match": {}, "text": {"content": "hi"}}
    assert requests.put(f"{local_stack.api_url}/admin/welcome-rules/setup{RUN}", json=rule, timeout=30).ok
    yield local_stack
    _sim(local_stack, "POST", "reset")
    requests.delete(f"{local_stack.api_url}/admin/welcome-rules/setup{RUN}", timeout=30)


def _welcomes(stack: StackHandle, userid: str) -> list[dict[str, Any]]:
    """The member's whole welcome log, page by page."""
    items: list[dict[str, Any]] = []
    params = {"userid": userid}
    while True:
        answer = requests.get(f"{stack.api_url}/admin/welcomes", params=params, timeout=30)
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        if not answer.json().get("cursor"):
            return items
        params = {"userid": userid, "cursor": answer.json()["cursor"]}


def _setup_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and FIX in r.getMessage()]


def test_untrusted_ip_fails_welcomes_at_once_logs_the_ip_once_and_spares_gettoken(
    stack: StackHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    _sim(stack, "POST", "trusted_ips", {"ips": ["203.0.113.7"], "gettoken": True})
    member = f"su{RUN}"
    started = time.monotonic()
    pushed = 0
    while time.monotonic() - started < 20:  # 20 s of welcomes, four a second, each refused
        body = {"userid": member, "external_userid": f"sc{RUN}{pushed}", "async": True}
        _sim(stack, "POST", "callbacks/add_external_contact", body)
        pushed += 1
        time.sleep(0.25)
    deadline = time.monotonic() + 30
    while len(_welcomes(stack, member)) < pushed and time.monotonic() < deadline:
        time.sleep(0.2)

    log = _welcomes(stack, member)
    assert len(log) == pushed >= 40
    assert {(w["outcome"], w["errcode"]) for w in log} == {("failed", 60020)}
    assert all(w["latency_ms"] < 5000 for w in log)  # at once: never waiting out the 20 s of a welcome code
    gettoken = [c for c in _sim(stack, "GET", "calls", None) if c["path"].endswith("gettoken")]
    assert 1 <= len(gettoken) <= 30
    assert _sim(stack, "GET", "welcomes") == []
    assert len(_setup_lines(caplog)) == 1  # one ERROR line per container per minute, naming the IP


def test_doctor_fails_with_60020_and_the_egress_ip_then_passes_once_the_ip_is_trusted(
    stack: StackHandle,
) -> None:
    cli = Cli(stack)
    _sim(stack, "POST", "trusted_ips", {"ips": ["203.0.113.7"]})
    refused = cli("doctor")
    assert refused.code == 1, refused
    # customer_contact refused with 60020; or, while gettoken's circuit from an earlier refusal is still
    # open (at most 8 s), the token check with the same 60020 and the WeCom checks not run
    failed = [line.split() for line in refused.out.splitlines() if line.split()[1:3] == ["FAIL", "60020"]]
    assert failed and failed[0][0] in ("token", "customer_contact"), refused.out
    assert "egress IP WeCom saw: 127.0.0.1" in refused.out and f"fix {failed[0][0]}: {FIX}" in refused.out
    as_json = cli("--json", "doctor")
    answer = json.loads(as_json.out)
    assert as_json.code == 1 and answer["egress_ip"] == "127.0.0.1" and answer["ok"] is False

    _sim(stack, "POST", "trusted_ips", {"ips": ["127.0.0.1"]})  # the IP added to 企业可信IP
    deadline = time.monotonic() + 20  # a refused gettoken is tried again within 8 s
    while (passed := cli("doctor")).code != 0 and time.monotonic() < deadline:
        time.sleep(1)
    assert passed.code == 0, passed
    assert passed.out.rstrip().endswith("all checks passed")
    callback = next(line for line in passed.out.splitlines() if line.startswith("callback_url"))
    assert f"{stack.api_url}/callback echoed the verification" in callback
