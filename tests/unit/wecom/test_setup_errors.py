"""Setup errcodes (60020 untrusted IP, 48002, 60011, a refused corp id or secret) are not transient: never
retried, no gettoken loop, each welcome recorded ``failed`` with the errcode at once, one ERROR line per
errcode per minute naming the fix, the metric WeComSetupError under [service] and [service, errcode]."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from local.events import add_contact_fields, callback_post_event
from local.settings import DEV_DEFAULTS
from local.wecom_sim import faults
from local.wecom_sim.calllog import calls
from local.wecom_sim.endpoints_welcome import issue_welcome_code
from local.wecom_sim.server import SimulatorHandle
from tests.support import call_json, function_under_test, race
from wecom_bundle.wecom import setup, token_repo, token_store
from wecom_bundle.wecom.client import WeComClient, fetch_token, new_session
from wecom_bundle.wecom.errors import SetupError, WeComError
from wecom_bundle.wecom.token_store import SharedTokenProvider
from wecom_bundle.welcome import repo as welcome_repo

pytestmark = pytest.mark.usefixtures("moto_table")
UNTRUSTED = (
    "not allow to access from your ip, hint: [1688706313500611129503023], from ip: 198.51.100.4, "
    "more info at https://open.work.weixin.qq.com/devtool/query?e=60020"
)
ENV = {
    k: DEV_DEFAULTS[k]
    for k in ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")
}


class FakeClock:
    """Epoch milliseconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now_ms = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now_ms


class RefusingGettoken:
    """gettoken as WeCom answers it from an untrusted IP (the HTTP itself: the simulator tests below)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, timeout: float) -> tuple[str, int]:  # noqa: ARG002
        self.calls += 1
        raise SetupError(60020, UNTRUSTED, "gettoken")


class Reports:
    def __init__(self) -> None:
        self.errors: list[SetupError] = []

    def report(self, error: SetupError) -> None:
        self.errors.append(error)


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A setup refusal is answered at once: any wait in the token store fails the test."""

    def refuse_to_sleep(seconds: float) -> None:
        raise AssertionError(f"the token store waited {seconds} s on a setup refusal")

    monkeypatch.setattr(token_store.time, "sleep", refuse_to_sleep)


@pytest.mark.usefixtures("no_waiting")
def test_a_burst_of_welcomes_costs_few_gettoken_calls_and_nobody_waits() -> None:
    clock, fetch, reports = FakeClock(), RefusingGettoken(), Reports()
    containers = [
        SharedTokenProvider("corp#app", fetch, clock, repo=token_repo, reporter=reports) for _ in range(3)
    ]
    refusals = 0
    for step in range(200):  # 20 s of failures, 100 ms apart, 30 welcomes each step over three containers
        for i in range(30):
            with pytest.raises(SetupError) as refused:
                containers[(step + i) % 3].get(timeout=15)
            assert refused.value.errcode == 60020 and setup.egress_ip(refused.value.errmsg) == "198.51.100.4"
            refusals += 1
        clock.now_ms += 100
    assert refusals == 6000
    assert 1 <= fetch.calls <= 30  # 1 s doubling to 8 s: about 5
    assert fetch.calls == 5
    assert len(reports.errors) == fetch.calls  # each real refusal reported once, never a replayed one


@pytest.mark.usefixtures("no_waiting")
def test_another_container_reads_the_refusal_from_the_record_without_calling_gettoken() -> None:
    clock, fetch = FakeClock(), RefusingGettoken()
    with pytest.raises(SetupError):
        SharedTokenProvider("corp#app", fetch, clock).get(timeout=5)
    other = RefusingGettoken()
    with pytest.raises(SetupError) as refused:
        SharedTokenProvider("corp#app", other, clock).get(timeout=5)
    assert other.calls == 0 and refused.value.errcode == 60020


def test_the_circuit_closes_once_gettoken_answers_again() -> None:
    clock, fetch = FakeClock(), RefusingGettoken()
    with pytest.raises(SetupError):
        SharedTokenProvider("corp#app", fetch, clock).get(timeout=5)
    clock.now_ms += token_store.SETUP_BACKOFF_BASE_MS  # the console was fixed meanwhile
    assert SharedTokenProvider("corp#app", lambda _timeout: ("FIXED", 7200), clock).get(timeout=5) == "FIXED"
    record = token_repo.get_token("corp#app") or {}
    assert "setup_errcode" not in record and "refresh_backoff_until_ms" not in record


def _client(sim: SimulatorHandle, reports: Reports) -> WeComClient:
    """The real transport against the simulator, reporting to ``reports``."""
    session = new_session()
    corp_id, secret = ENV["WECOM_CORP_ID"], ENV["WECOM_CORP_SECRET"]
    tokens = SharedTokenProvider(
        "corp#sim", lambda _timeout: fetch_token(session, sim.url, corp_id, secret, 5)
    )
    return WeComClient(sim.url, tokens, session, reports)


def test_setup_errcodes_on_an_api_call_are_raised_once_and_reported(wecom_sim: SimulatorHandle) -> None:
    reports = Reports()
    client = _client(wecom_sim, reports)
    for code in (60020, 48002, 60011):
        faults.add(wecom_sim.state, faults.parse_fault({"path": "get_follow_user_list", "errcode": code}))
        with pytest.raises(SetupError) as refused:
            client.get("externalcontact/get_follow_user_list", {})
        assert refused.value.errcode == code and not refused.value.retryable
    assert [e.errcode for e in reports.errors] == [60020, 48002, 60011]
    assert len(calls(wecom_sim.state, "get_follow_user_list")) == 3  # one request each: no retry


def test_48002_on_another_apps_object_keeps_its_meaning(wecom_sim: SimulatorHandle) -> None:
    reports = Reports()
    client = _client(wecom_sim, reports)
    faults.add(wecom_sim.state, faults.parse_fault({"path": "group_welcome_template/edit", "errcode": 48002}))
    with pytest.raises(WeComError) as refused:
        client.post("externalcontact/group_welcome_template/edit", {"template_id": "t"}, owned_object=True)
    assert refused.value.errcode == 48002 and not isinstance(refused.value, SetupError)
    assert reports.errors == []


def test_one_error_line_per_errcode_per_minute_and_a_metric_each_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "wecom-bundle")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "WeComBundle")
    now = [0.0]
    reporter = setup.SetupReporter(clock=lambda: now[0])
    caplog.set_level(logging.ERROR, logger=setup.__name__)
    for second in range(0, 120, 2):  # two minutes of refusals, one every 2 s
        now[0] = float(second)
        reporter.report(SetupError(60020, UNTRUSTED, "externalcontact/send_welcome_msg"))
    reporter.report(SetupError(40013, "invalid corpid, hint: [x], from ip: 198.51.100.4", "gettoken"))

    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        lines[:2]
        == [
            "WeCom setup error 60020 on externalcontact/send_welcome_msg: add 198.51.100.4 to 企业可信IP of the app"
        ]
        * 2
    )
    assert len(lines) == 3 and "corp_id" in lines[2]
    assert ENV["WECOM_CORP_SECRET"] not in " ".join(lines)

    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(emf) == 61
    directive = emf[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "WeComBundle"
    assert directive["Dimensions"] == [["service"], ["service", "errcode"]]
    assert directive["Metrics"] == [{"Name": "WeComSetupError", "Unit": "Count"}]
    assert (emf[0]["service"], emf[0]["errcode"], emf[0]["WeComSetupError"]) == ("wecom-bundle", "60020", 1)
    assert emf[-1]["errcode"] == "40013"


@pytest.mark.parametrize(
    ("errmsg", "ip"),
    [(UNTRUSTED, "198.51.100.4"), ("from ip: 2001:db8::1, more", "2001:db8::1"), ("no ip here", None)],
)
def test_the_egress_ip_is_read_from_wecoms_errmsg(errmsg: str, ip: str | None) -> None:
    assert setup.egress_ip(errmsg) == ip


# ------------------------------------------------------------------ through the callback, over real HTTP
def _callback(handler: Any, sim: SimulatorHandle, i: int) -> dict[str, Any]:
    create_time = int(time.time())
    with sim.state.lock:
        code = issue_welcome_code(sim.state, "zhangsan", f"wm{i}", create_time)
    fields = add_contact_fields(ENV, external_userid=f"wm{i}", welcome_code=code, create_time=create_time)
    return dict(handler(callback_post_event(ENV, fields)))


def _welcome_log() -> list[dict[str, Any]]:
    _, log = call_json(
        function_under_test("AdminFunction"), "GET", "/admin/welcomes", query={"userid": "zhangsan"}
    )
    return list(log["items"])


@pytest.mark.parametrize(("knob", "errcode"), [({"gettoken": True}, 60020), ({"gettoken": False}, 60020)])
def test_welcomes_from_an_untrusted_ip_fail_at_once_with_60020(
    wecom_sim: SimulatorHandle, knob: dict[str, bool], errcode: int
) -> None:
    welcome_repo.put_rule(
        {"rule_id": "r", "priority": 0, "match": {}, "text": {"content": "hi"}, "attachments": []}
    )
    with wecom_sim.state.lock:
        wecom_sim.state.trusted_ips = frozenset({"203.0.113.7"})
        wecom_sim.state.trusted_ips_gettoken = knob["gettoken"]
    handler = function_under_test("CallbackFunction")

    answers = race(10, lambda i: _callback(handler, wecom_sim, i))

    assert all(answer["statusCode"] == 200 for answer in answers)
    log = _welcome_log()
    assert len(log) == 10
    assert {(r["outcome"], r["errcode"]) for r in log} == {("failed", errcode)}
    assert all(r["attempts"] <= 1 for r in log)  # never retried
    assert len(calls(wecom_sim.state, "gettoken")) <= 30  # the circuit (exact figures: the fake-clock test)
    assert wecom_sim.state.welcomes == []


def test_a_refused_secret_fails_every_welcome_after_one_gettoken(wecom_sim: SimulatorHandle) -> None:
    """40001 from gettoken: the secret is read again (unchanged here: the environment), the refusal stands,
    and the circuit answers every other welcome without calling gettoken."""
    welcome_repo.put_rule(
        {"rule_id": "r", "priority": 0, "match": {}, "text": {"content": "hi"}, "attachments": []}
    )
    faults.add(wecom_sim.state, faults.parse_fault({"path": "gettoken", "errcode": 40001, "times": 1000}))
    handler = function_under_test("CallbackFunction")

    answers = [_callback(handler, wecom_sim, i) for i in range(5)]

    assert all(answer["statusCode"] == 200 for answer in answers)
    assert {(r["outcome"], r["errcode"]) for r in _welcome_log()} == {("failed", 40001)}
    assert len(calls(wecom_sim.state, "gettoken")) == 1


def test_a_token_that_still_works_is_used_while_gettoken_is_refused() -> None:
    """A rotated-away secret refused by gettoken 10 minutes before the old token expires: the old token
    serves until it expires, then the refusal stands."""
    clock = FakeClock()
    fresh = SharedTokenProvider("corp#app", lambda _timeout: ("OLD", 500), clock)  # inside the refresh window
    assert fresh.get(timeout=5) == "OLD"
    refused = RefusingGettoken()
    other = SharedTokenProvider("corp#app", refused, clock)
    assert other.get(timeout=5) == "OLD" and refused.calls == 1  # refresh tried, refused, old token used
    assert other.get(timeout=5) == "OLD" and refused.calls == 1  # the circuit: no second call
    clock.now_ms += 500_000
    with pytest.raises(SetupError):
        other.get(timeout=5)
