"""Exactly-once welcome and the shared token lease, raced by threads against AWS DynamoDB Local.

moto serialises requests; DynamoDB Local implements conditional writes like the real service, so the races
here are real races.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.wecom_sim.endpoints_welcome import issue_welcome_code
from local.wecom_sim.server import SimulatorHandle
from tests.support import race
from wecom_bundle import runtime
from wecom_bundle.dynamo import client as dynamo_client
from wecom_bundle.wecom.token_store import SharedTokenProvider
from wecom_bundle.welcome import repo as welcome_repo
from wecom_bundle.welcome.rules import RuleCache
from wecom_bundle.welcome.service import WelcomeService, WelcomeSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def on_dynamodb_local(
    dynamodb_local: Any,
    aws_env: dict[str, str],  # noqa: ARG001
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    monkeypatch.setenv("DYNAMODB_ENDPOINT", dynamodb_local.endpoint)
    dynamo_client.reset_client()
    yield
    dynamo_client.reset_client()


@pytest.fixture
def sim(on_dynamodb_local: None, wecom_sim: SimulatorHandle) -> SimulatorHandle:  # noqa: ARG001
    return wecom_sim


def test_racing_invocations_of_one_event_send_exactly_once(
    sim: SimulatorHandle, aws_env: dict[str, str]
) -> None:
    corp = aws_env["WECOM_CORP_ID"]
    suffix = uuid.uuid4().hex[:8]
    welcome_repo.put_rule(
        {
            "rule_id": f"race-{suffix}",
            "priority": 0,
            "match": {},
            "text": {"content": "hello"},
            "attachments": [],
        }
    )
    settings = WelcomeSettings("Asia/Shanghai", 1500, 6000, 180)
    # each "container" has its own client, token cache and rule cache, like separate Lambdas
    containers = [WelcomeService(runtime.wecom_client(), RuleCache(welcome_repo.list_rules, 5), settings)]
    for _ in range(7):
        runtime.reset()
        containers.append(
            WelcomeService(runtime.wecom_client(), RuleCache(welcome_repo.list_rules, 5), settings)
        )
    events = []
    for n in range(5):
        create_time = int(time.time())
        with sim.state.lock:
            code = issue_welcome_code(sim.state, "zhangsan", f"wm{suffix}{n}", create_time)
        events.append(
            {
                "ToUserName": corp,
                "MsgType": "event",
                "Event": "change_external_contact",
                "ChangeType": "add_external_contact",
                "UserID": "zhangsan",
                "ExternalUserID": f"wm{suffix}{n}",
                "State": "web",
                "WelcomeCode": code,
                "CreateTime": str(create_time),
            }
        )
    for event in events:
        outcomes = race(8, lambda i, event=event: containers[i].handle(corp, event).outcome)
        assert sorted(outcomes) == ["duplicate"] * 7 + ["sent"]
    delivered = [w for w in sim.state.delivered_welcomes() if w["external_userid"].startswith(f"wm{suffix}")]
    assert len(delivered) == 5
    assert len({w["welcome_code"] for w in delivered}) == 5
    calls = requests.get(f"{sim.url}/__sim/calls", params={"path": "send_welcome_msg"}, timeout=5).json()
    # A token left in DynamoDB Local by an earlier test is unknown to this simulator: that first call is
    # answered 40014 and retried with a fresh token. What counts is what WeCom accepted.
    accepted = [c for c in calls if c["errcode"] == 0]
    assert len(accepted) == 5  # and no second attempt at any code
    assert len({c["body"]["welcome_code"] for c in accepted}) == 5
    assert sim.state.gettoken_calls == 1  # eight cold containers shared one token


@pytest.mark.usefixtures("on_dynamodb_local")
def test_token_lease_race_fetches_once() -> None:
    scope = f"corp#{uuid.uuid4().hex[:8]}"
    fetched: list[int] = []
    lock = threading.Lock()

    def fetch(timeout: float) -> tuple[str, int]:  # noqa: ARG001
        with lock:
            fetched.append(1)
        time.sleep(0.3)
        return "TOKEN-RACE", 7200

    providers = [SharedTokenProvider(scope, fetch) for _ in range(16)]
    tokens = race(16, lambda i: providers[i].get(timeout=5))
    assert tokens == ["TOKEN-RACE"] * 16
    assert len(fetched) == 1


@pytest.mark.usefixtures("on_dynamodb_local")
def test_claims_race_to_one_winner() -> None:
    key = f"race#{uuid.uuid4().hex}"
    now = int(time.time() * 1000)
    wins = race(12, lambda i: welcome_repo.claim_welcome(key, f"owner-{i}", now, now + 6000, {}).won)
    assert wins.count(True) == 1


@pytest.mark.usefixtures("on_dynamodb_local")
def test_failing_gettoken_is_shared_by_racing_containers() -> None:
    """gettoken down: eight containers of four threads each retry for 2 s; the shared
    back-off (>= 0.25 s, 0.5 s, 1 s ...) bounds the calls by time, not by the 32 callers."""
    from wecom_bundle.wecom.errors import TransportError

    scope = f"corp#{uuid.uuid4().hex[:8]}"
    fetched: list[int] = []

    def fetch(timeout: float) -> tuple[str, int]:  # noqa: ARG001
        fetched.append(1)  # list.append is atomic
        raise TransportError("gettoken", "HTTP 500", 500)

    providers = [SharedTokenProvider(scope, fetch) for _ in range(8)]
    stop_at = time.monotonic() + 2.0

    def caller(i: int) -> int:
        refused = 0
        while time.monotonic() < stop_at:
            with pytest.raises(TransportError):
                providers[i % 8].get(timeout=0.3)
            refused += 1
        return refused

    refusals = race(32, caller)
    assert 1 <= len(fetched) <= 8, len(fetched)
    assert sum(refusals) > 4 * len(fetched)
