"""Large counter reads: every item of a read split over concurrent BatchGetItem calls, and a preview whose
reads outlast its time budget refused with ``OverTimeBudget`` (503 ``over_time_budget``) instead of running
into the gateway's 29 s.

The cap here is the real one (``runtime.cap_check``: the customers' counters on moto), since the budget is
carried by its reads.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support import call_json, function_under_test
from wecom_bundle import runtime
from wecom_bundle.campaigns import preview
from wecom_bundle.domain_errors import OverTimeBudget
from wecom_bundle.dynamo import client as dynamo_client
from wecom_bundle.dynamo import table
from wecom_bundle.dynamo.codec import encode_item

pytestmark = pytest.mark.usefixtures("moto_table")


def _keys(count: int) -> list[dict[str, Any]]:
    return [encode_item({"pk": f"BENCH#{i}", "sk": "X"}) for i in range(count)]


def test_a_read_of_many_batches_answers_every_item_once() -> None:
    stored = _keys(250)
    for start in range(0, len(stored), 25):
        writes = [{"PutRequest": {"Item": item | {"n": {"N": "1"}}}} for item in stored[start : start + 25]]
        dynamo_client.client().batch_write_item(RequestItems={table.table_name(): writes})
    found = table.batch_get(stored + _keys(420)[250:])  # 670 keys: 7 calls, 420 absent
    assert sorted(item["pk"] for item in found) == sorted(f"BENCH#{i}" for i in range(250))


def test_a_read_past_its_deadline_starts_no_call() -> None:
    client = dynamo_client.client()
    calls: list[int] = []

    def count(**_: Any) -> None:
        calls.append(1)

    client.meta.events.register("before-call.dynamodb.BatchGetItem", count)
    try:
        with pytest.raises(table.DeadlinePassed):
            table.batch_get(_keys(300), deadline=time.monotonic() - 1)
    finally:
        client.meta.events.unregister("before-call.dynamodb.BatchGetItem", count)
    assert calls == []


def _body(count: int) -> dict[str, Any]:
    return {"name": "big", "external_userid": [f"wm{i}" for i in range(count)], "text": {"content": "hi"}}


def test_a_preview_over_its_budget_is_refused_naming_the_budget() -> None:
    with pytest.raises(OverTimeBudget) as refused:
        preview.preview_campaign(runtime.campaign_deps(), _body(300), budget_s=0)
    assert refused.value.budget_s == 0
    assert "300 customers" in refused.value.message and "0 s budget" in refused.value.message


def test_a_preview_within_its_budget_counts_every_customer() -> None:
    answer = preview.preview_campaign(runtime.campaign_deps(), _body(300))
    assert (answer["audience_size"], answer["quota"]["capped"], answer["quota"]["pending"]) == (300, 0, 0)


def test_the_admin_api_answers_over_time_budget_as_503(monkeypatch: pytest.MonkeyPatch) -> None:
    admin = function_under_test("AdminFunction")
    monkeypatch.setattr(preview, "PREVIEW_BUDGET_S", 0.0)
    status, doc = call_json(admin, "POST", "/admin/campaigns/preview", _body(300))
    assert (status, doc["error"]["code"], doc["error"]["budget_s"]) == (503, "over_time_budget", 0.0)
