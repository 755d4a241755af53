"""The admin API on models: pydantic stays out of the callback, the refusal mapping, and the request shapes
the models alone would get wrong (a list body, empty query values)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from local.template import REPO_ROOT
from tests.support import call_json, function_under_test

pytestmark = pytest.mark.usefixtures("moto_table")

# A fresh interpreter (other tests' imports cannot leak in): moto, the simulator, a default rule, and one
# add-contact event through the real CallbackFunction, welcomed by the simulator.
_WELCOME_CHILD = """
import json, os, sys, time
from local.settings import DEV_DEFAULTS
os.environ.update({**DEV_DEFAULTS, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "TABLE_NAME": "MainTable"})
for name in ("WECOM_SECRET_ID", "DYNAMODB_ENDPOINT", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)
import boto3
from moto import mock_aws
from local.dynamodb import create_tables
from local.events import add_contact_fields, callback_post_event
from local.template import load_template
from local.wecom_sim.endpoints_welcome import issue_welcome_code
from tests.support import dev_simulator, function_under_test
sim = dev_simulator()
os.environ["WECOM_API_BASE"] = sim.url
try:
    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name="us-east-1"), load_template().tables.values())
        from wecom_bundle.welcome import repo
        repo.put_rule({"rule_id": "default", "priority": 0, "match": {}, "text": {"content": "Hi"}})
        before = "pydantic" in sys.modules
        handler = function_under_test("CallbackFunction")
        now = int(time.time())
        with sim.state.lock:  # a welcome code the simulator accepts (valid 20 s from now)
            code = issue_welcome_code(sim.state, "zhangsan", "wmSampleCustomer", now)
        fields = add_contact_fields(DEV_DEFAULTS, external_userid="wmSampleCustomer", welcome_code=code, create_time=now)
        answer = handler(callback_post_event(DEV_DEFAULTS, fields))
        print(json.dumps({"status": answer["statusCode"], "welcomed": len(sim.state.delivered_welcomes()),
                          "before": before, "after": "pydantic" in sys.modules}))
finally:
    sim.stop()
"""


def test_a_full_welcome_through_the_callback_never_imports_pydantic() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _WELCOME_CHILD], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT
    )
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert (doc["status"], doc["welcomed"]) == (200, 1), doc  # a real welcome went out
    assert doc == {"status": 200, "welcomed": 1, "before": False, "after": False}


def test_the_admin_function_does_use_pydantic() -> None:
    """The other side of the test above: the admin function's import brings pydantic (the models)."""
    probe = (
        f"import sys; sys.path[:0] = [{str(REPO_ROOT / 'functions/admin')!r}, {str(REPO_ROOT / 'layers/shared')!r}]\n"
        "import app; print('pydantic' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "True"


@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


@pytest.mark.parametrize("body", [[{"text": {"content": "hi"}}], ["x"], 7, "text"])
def test_a_body_that_is_not_an_object_is_refused_as_body(admin: Any, body: Any) -> None:
    """Powertools alone would validate a list's first item as the body."""
    status, doc = call_json(admin, "PUT", "/admin/welcome-rules/r1", body, params={"rule_id": "r1"})
    assert (status, doc["error"]["field"]) == (400, "body")


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/admin/welcomes", {"limit": "", "since": "", "state": ""}),
        ("/admin/campaigns", {"status": "", "limit": ""}),
    ],
)
def test_empty_query_values_mean_not_given(admin: Any, path: str, query: dict[str, str]) -> None:
    status, doc = call_json(admin, "GET", path, query=query)
    assert status == 200 and doc["items"] == [], doc


def test_a_model_refusal_is_the_contract_400_never_422(admin: Any) -> None:
    body = {"text": {"content": "x"}, "match": {"weekdays": [1, 9]}, "priority": "high"}
    status, doc = call_json(admin, "PUT", "/admin/welcome-rules/r1", body, params={"rule_id": "r1"})
    assert status == 400
    assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message", "field"}
    assert doc["error"]["code"] == "invalid_request" and doc["error"]["field"] in (
        "priority",
        "match.weekdays",
    )
    assert "high" not in doc["error"]["message"]


def test_a_wrong_limit_names_limit(admin: Any) -> None:
    for value in ("0", "101", "ten"):
        status, doc = call_json(admin, "GET", "/admin/welcomes", query={"limit": value})
        assert (status, doc["error"]["field"]) == (400, "limit")
        assert value not in doc["error"]["message"]
