"""gettoken down (HTTP 500) while welcomes arrive: gettoken calls are bounded by time,
not by the number of welcomes and their retries, and once gettoken answers again welcomes are sent.
Through the real CallbackFunction, the simulator over HTTP and moto."""

from __future__ import annotations

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
from wecom_bundle.welcome import repo as welcome_repo

pytestmark = pytest.mark.usefixtures("moto_table")
ENV = {
    k: DEV_DEFAULTS[k]
    for k in ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")
}
WELCOMES = 10
AGE_S = 16  # the codes have ~2.5 s left (20 s minus the 1.5 s safety margin): the test stays short


def _callback(handler: Any, sim: SimulatorHandle, i: int, age_s: float) -> dict[str, Any]:
    create_time = int(time.time() - age_s)
    with sim.state.lock:
        code = issue_welcome_code(sim.state, "zhangsan", f"wm{i}", create_time)
    fields = add_contact_fields(ENV, external_userid=f"wm{i}", welcome_code=code, create_time=create_time)
    return dict(handler(callback_post_event(ENV, fields)))


def test_gettoken_outage_is_not_hammered_and_welcomes_resume(wecom_sim: SimulatorHandle) -> None:
    welcome_repo.put_rule(
        {"rule_id": "r", "priority": 0, "match": {}, "text": {"content": "hi"}, "attachments": []}
    )
    handler = function_under_test("CallbackFunction")
    faults.add(
        wecom_sim.state, faults.parse_fault({"path": "gettoken", "http_status": 500, "times": 100_000})
    )

    answers = race(WELCOMES, lambda i: _callback(handler, wecom_sim, i, AGE_S))

    assert all(answer["statusCode"] == 200 for answer in answers)
    # ~2.5 s of retries by 10 welcomes: before, every retry of every welcome called gettoken (~100 calls);
    # now one call per back-off (>= 0.25, 0.5, 1 s ...) for everyone
    assert 1 <= len(calls(wecom_sim.state, "gettoken")) <= 6
    _, log = call_json(
        function_under_test("AdminFunction"), "GET", "/admin/welcomes", query={"userid": "zhangsan"}
    )
    assert {r["outcome"] for r in log["items"]} == {"expired"} and len(log["items"]) == WELCOMES

    faults.clear(wecom_sim.state)  # gettoken recovers
    answer = _callback(handler, wecom_sim, 99, 0)
    assert answer["statusCode"] == 200
    assert [w.external_userid for w in wecom_sim.state.welcomes] == ["wm99"]


def test_a_welcome_that_expired_in_a_gettoken_outage_says_so(wecom_sim: SimulatorHandle) -> None:
    welcome_repo.put_rule(
        {"rule_id": "r", "priority": 0, "match": {}, "text": {"content": "hi"}, "attachments": []}
    )
    faults.add(
        wecom_sim.state, faults.parse_fault({"path": "gettoken", "http_status": 500, "times": 100_000})
    )
    assert _callback(function_under_test("CallbackFunction"), wecom_sim, 1, 15)["statusCode"] == 200
    _, log = call_json(
        function_under_test("AdminFunction"), "GET", "/admin/welcomes", query={"userid": "zhangsan"}
    )
    assert log["items"][0]["outcome"] == "expired"
    assert log["items"][0]["first_error"] == "gettoken: HTTP 500"
