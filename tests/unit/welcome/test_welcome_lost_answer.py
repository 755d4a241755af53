"""The connection drops after WeCom delivered the welcome: the retry's 41051 still reads
``already_sent``, but the log keeps ``attempts`` and the first attempt's error, so an operator can tell that
our own first attempt probably delivered it. Through CallbackFunction, the simulator and AdminFunction."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from local.events import add_contact_fields, callback_post_event
from local.settings import DEV_DEFAULTS
from local.wecom_sim.endpoints_welcome import issue_welcome_code
from local.wecom_sim.server import SimulatorHandle
from tests.support import call_json, function_under_test
from wecom_bundle import runtime
from wecom_bundle.welcome import repo as welcome_repo

pytestmark = pytest.mark.usefixtures("moto_table")
ENV = {
    k: DEV_DEFAULTS[k]
    for k in ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")
}


class AnswerLostAfterDelivery(HTTPAdapter):
    """Real HTTP to the simulator; the first send_welcome_msg is delivered there, then its answer is lost
    (as when the connection resets after WeCom processed the request)."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self.dropped = 0

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().send(request, *args, **kwargs)
        if "send_welcome_msg" in str(request.url) and not self.dropped:
            self.dropped += 1
            raise requests.ConnectionError("connection reset by peer after the request was processed")
        return response


def _welcome(sim: SimulatorHandle) -> str:
    create_time = int(time.time())
    with sim.state.lock:
        code = issue_welcome_code(sim.state, "zhangsan", "wmC", create_time)
    fields = add_contact_fields(ENV, external_userid="wmC", welcome_code=code, create_time=create_time)
    assert function_under_test("CallbackFunction")(callback_post_event(ENV, fields))["statusCode"] == 200
    return code


def test_a_lost_answer_after_delivery_is_logged_with_its_first_error(wecom_sim: SimulatorHandle) -> None:
    welcome_repo.put_rule(
        {"rule_id": "r", "priority": 0, "match": {}, "text": {"content": "hi"}, "attachments": []}
    )
    adapter = AnswerLostAfterDelivery()
    runtime.wecom_client().session.mount(wecom_sim.url, adapter)
    code = _welcome(wecom_sim)
    assert adapter.dropped == 1
    assert [w.welcome_code for w in wecom_sim.state.welcomes] == [code]  # delivered once, by the first try
    status, log = call_json(
        function_under_test("AdminFunction"), "GET", "/admin/welcomes", query={"userid": "zhangsan"}
    )
    assert status == 200
    record = log["items"][0]
    assert (record["outcome"], record["errcode"]) == ("already_sent", 41051)
    assert (record["attempts"], record["first_error"]) == (2, "ConnectionError")


def test_a_first_time_success_has_no_first_error(wecom_sim: SimulatorHandle) -> None:
    welcome_repo.put_rule(
        {"rule_id": "r", "priority": 0, "match": {}, "text": {"content": "hi"}, "attachments": []}
    )
    _welcome(wecom_sim)
    _, log = call_json(
        function_under_test("AdminFunction"), "GET", "/admin/welcomes", query={"userid": "zhangsan"}
    )
    assert (log["items"][0]["outcome"], log["items"][0]["attempts"], log["items"][0]["first_error"]) == (
        "sent",
        1,
        None,
    )
