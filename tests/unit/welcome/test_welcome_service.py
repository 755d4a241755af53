"""The instant welcome against the WeCom simulator over real HTTP and moto's DynamoDB.

Covers every outcome, nickname fill and fallback, retries within the deadline, dedupe and the shared token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from local.settings import DEV_DEFAULTS
from local.wecom_sim.endpoints_welcome import issue_welcome_code
from local.wecom_sim.server import SimulatorHandle
from tests.support import race
from wecom_bundle import runtime
from wecom_bundle.wecom import welcome as wecom_welcome
from wecom_bundle.welcome import repo as welcome_repo
from wecom_bundle.welcome.claim import event_key
from wecom_bundle.welcome.rules import RuleCache
from wecom_bundle.welcome.service import WelcomeService, WelcomeSettings, render_text

pytestmark = pytest.mark.usefixtures("moto_table")
CORP = DEV_DEFAULTS["WECOM_CORP_ID"]


@pytest.fixture
def sim(wecom_sim: SimulatorHandle) -> SimulatorHandle:
    requests.post(
        f"{wecom_sim.url}/__sim/contacts",
        json={
            "members": ["zhangsan", "lisi"],
            "customers": [
                {"external_userid": "wmAlice", "name": "Alice", "owner": "zhangsan"},
                {"external_userid": "wmBob", "name": "Bob", "owner": "lisi"},
            ],
        },
        timeout=5,
    ).raise_for_status()
    return wecom_sim


class SwitchableRepo:
    """The welcome repository's event functions as attributes a test may replace: the service receives its
    repository, so a test hands it this one instead of patching the module."""

    def __init__(self) -> None:
        self.claim_welcome: Callable[..., Any] = welcome_repo.claim_welcome
        self.renew_welcome_lease: Callable[..., Any] = welcome_repo.renew_welcome_lease
        self.record_welcome_outcome: Callable[..., Any] = welcome_repo.record_welcome_outcome


@pytest.fixture
def repo() -> SwitchableRepo:
    return SwitchableRepo()


@pytest.fixture
def service(repo: SwitchableRepo) -> WelcomeService:
    settings = WelcomeSettings(
        timezone="Asia/Shanghai", safety_margin_ms=1500, lease_ms=6000, log_retention_days=180
    )
    return WelcomeService(
        runtime.wecom_client(), RuleCache(welcome_repo.list_rules, 0.0), settings, repo=repo
    )


def _rule(rule_id: str = "default", content: str = "Hi %NICKNAME%, welcome!", **extra: Any) -> None:
    welcome_repo.put_rule(
        {
            "rule_id": rule_id,
            "priority": 0,
            "match": {},
            "text": {"content": content},
            "attachments": [],
            **extra,
        }
    )


def _event(
    sim: SimulatorHandle, ext: str = "wmAlice", user: str = "zhangsan", age_s: float = 0.0, state: str = "web"
) -> dict[str, str]:
    create_time = int(time.time() - age_s)
    with sim.state.lock:
        code = issue_welcome_code(sim.state, user, ext, create_time)
    return {
        "ToUserName": CORP,
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": "add_external_contact",
        "UserID": user,
        "ExternalUserID": ext,
        "State": state,
        "WelcomeCode": code,
        "CreateTime": str(create_time),
    }


def _fault(sim: SimulatorHandle, **spec: Any) -> None:
    requests.post(f"{sim.url}/__sim/faults", json=spec, timeout=5).raise_for_status()


def _sends(sim: SimulatorHandle) -> list[dict[str, Any]]:
    calls = requests.get(f"{sim.url}/__sim/calls", params={"path": "send_welcome_msg"}, timeout=5).json()
    return calls["calls"] if isinstance(calls, dict) else calls


def _delivered(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return sim.state.delivered_welcomes()


def test_sent_with_nickname_and_logged(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule()
    event = _event(sim)
    result = service.handle(CORP, event)
    assert (result.outcome, result.rule_id, result.attempts) == ("sent", "default", 1)
    delivered = _delivered(sim)
    assert len(delivered) == 1
    assert delivered[0]["body"]["text"] == {"content": "Hi Alice, welcome!"}
    assert delivered[0]["body"]["welcome_code"] == event["WelcomeCode"]
    record = welcome_repo.get_welcome(event_key(CORP, event))
    assert record["outcome"] == "sent"
    assert record["rule_id"] == "default"
    assert 0 <= record["latency_ms"] < 5000
    assert record["external_userid"] == "wmAlice"
    assert record["expires_at"] > time.time() + 179 * 86400


def test_nickname_lookup_failure_removes_placeholder(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule(content="Hi %NICKNAME%, welcome!")
    _fault(sim, path="externalcontact/get", errcode=-1)
    assert service.handle(CORP, _event(sim)).outcome == "sent"
    assert _delivered(sim)[0]["body"]["text"] == {"content": "Hi, welcome!"}


def test_slow_nickname_lookup_does_not_delay_the_welcome(
    sim: SimulatorHandle, service: WelcomeService
) -> None:
    _rule(content="%NICKNAME% 您好")
    _fault(sim, path="externalcontact/get", delay_ms=5000)
    started = time.monotonic()
    assert service.handle(CORP, _event(sim)).outcome == "sent"
    assert time.monotonic() - started < 3.0
    assert _delivered(sim)[0]["body"]["text"] == {"content": "您好"}


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        ("Hi %NICKNAME%, welcome", None, "Hi, welcome"),
        ("%NICKNAME%您好", None, "您好"),
        ("%NICKNAME% 您好", None, "您好"),
        ("Dear %NICKNAME%", "Bob", "Dear Bob"),
        ("no placeholder", None, "no placeholder"),
        ("%nickname% stays", None, "%nickname% stays"),
    ],
)
def test_render_text(content: str, name: str | None, expected: str) -> None:
    assert render_text(content, name) == expected


def test_already_sent_is_a_success(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule()
    event = _event(sim)
    runtime.wecom_client().post(
        "externalcontact/send_welcome_msg",
        {"welcome_code": event["WelcomeCode"], "text": {"content": "from another app"}},
    )
    result = service.handle(CORP, event)
    assert (result.outcome, result.errcode) == ("already_sent", 41051)
    assert welcome_repo.get_welcome(event_key(CORP, event))["outcome"] == "already_sent"


def test_41096_is_retried_until_it_goes_through(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule()
    _fault(sim, path="externalcontact/send_welcome_msg", errcode=41096, times=2)
    result = service.handle(CORP, _event(sim))
    assert (result.outcome, result.attempts) == ("sent", 3)
    assert len(_delivered(sim)) == 1


def test_41096_until_the_deadline_expires(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule()
    _fault(sim, path="externalcontact/send_welcome_msg", errcode=41096, times=1000)
    event = _event(sim, age_s=16)  # 4 s of code life left, 2.5 s before our safety margin
    started = time.monotonic()
    result = service.handle(CORP, event)
    assert result.outcome == "expired"
    assert result.errcode == 41096
    assert result.attempts > 2
    assert time.monotonic() - started < 4.0  # gave up before the code died, leaving the margin
    assert welcome_repo.get_welcome(event_key(CORP, event))["outcome"] == "expired"


@pytest.mark.parametrize("fault", [{"http_status": 502}, {"errcode": -1}, {"errcode": 45009}])
def test_transient_faults_are_retried(sim: SimulatorHandle, service: WelcomeService, fault: dict) -> None:
    _rule()
    _fault(sim, path="externalcontact/send_welcome_msg", times=1, **fault)
    result = service.handle(CORP, _event(sim))
    assert (result.outcome, result.attempts) == ("sent", 2)


def test_token_expiry_refreshes_once_and_sends(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule()
    assert service.handle(CORP, _event(sim, ext="wmBob", user="lisi")).outcome == "sent"
    before = sim.state.gettoken_calls
    requests.post(f"{sim.url}/__sim/tokens/expire", timeout=5).raise_for_status()
    result = service.handle(CORP, _event(sim))
    assert result.outcome == "sent"
    assert sim.state.gettoken_calls == before + 1


class RecordingWelcomeApi:
    """The real welcome calls, recording the timeout each ``send_welcome_msg`` attempt was given."""

    def __init__(self) -> None:
        self.timeouts: list[tuple[float, float]] = []

    def send_welcome_msg(self, client: Any, body: dict[str, Any], *, timeout: Any) -> None:
        self.timeouts.append(timeout)
        wecom_welcome.send_welcome_msg(client, body, timeout=timeout)

    def external_contact_name(self, client: Any, external_userid: str, *, timeout: Any) -> str | None:
        return wecom_welcome.external_contact_name(client, external_userid, timeout=timeout)


def test_slow_wecom_past_the_deadline_expires(sim: SimulatorHandle, service: WelcomeService) -> None:
    """Each attempt's HTTP timeout is cut from the time left (never the 4 s per-attempt read timeout), so a
    WeCom slower than the code's life ends the welcome at its deadline. Asserted on the timeouts given, not on
    the wall clock, which a busy machine stretches."""
    _rule(content="no nickname here")
    _fault(sim, path="externalcontact/send_welcome_msg", delay_ms=6000, times=5)
    event = _event(sim, age_s=17)  # 1.5 s before the safety margin
    api = RecordingWelcomeApi()
    service.api = api
    result = service.handle(CORP, event)
    assert result.outcome == "expired"
    assert api.timeouts, "the send was attempted"
    # connect and read timeouts within the 1.5 s left (the per-attempt caps are 1 s and 4 s)
    assert all(connect <= 1.0 and read <= 1.5 for connect, read in api.timeouts)


def test_expired_on_arrival_sends_nothing(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule()
    result = service.handle(CORP, _event(sim, age_s=30))
    assert result.outcome == "expired"
    assert _sends(sim) == []


def test_no_rule_sends_nothing(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule(match={"state": "expo"})
    event = _event(sim, state="web")
    assert service.handle(CORP, event).outcome == "no_rule"
    assert _sends(sim) == []
    assert welcome_repo.get_welcome(event_key(CORP, event))["outcome"] == "no_rule"


def test_other_errcodes_fail_with_their_code(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule()
    _fault(sim, path="externalcontact/send_welcome_msg", errcode=40003, times=1)
    result = service.handle(CORP, _event(sim))
    assert (result.outcome, result.errcode, result.attempts) == ("failed", 40003, 1)


def test_attachments_are_sent_as_stored(sim: SimulatorHandle, service: WelcomeService) -> None:
    link = {"msgtype": "link", "link": {"title": "Catalogue", "url": "https://example.com/c"}}
    welcome_repo.put_rule({"rule_id": "att", "priority": 1, "match": {}, "attachments": [link]})
    assert service.handle(CORP, _event(sim)).outcome == "sent"
    body = _delivered(sim)[0]["body"]
    assert body["attachments"] == [link]
    assert "text" not in body


def test_duplicate_delivery_sends_once(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule()
    event = _event(sim)
    assert service.handle(CORP, event).outcome == "sent"
    again = service.handle(CORP, event)
    assert again.outcome == "duplicate"
    assert len(_sends(sim)) == 1


def test_same_second_adds_by_two_customers_are_two_welcomes(
    sim: SimulatorHandle, service: WelcomeService
) -> None:
    _rule()
    first = _event(sim, ext="wmAlice")
    second = {**_event(sim, ext="wmBob"), "CreateTime": first["CreateTime"]}
    assert service.handle(CORP, first).outcome == "sent"
    assert service.handle(CORP, second).outcome == "sent"
    assert len(_delivered(sim)) == 2


def test_concurrent_invocations_send_once(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule()
    event = _event(sim)
    outcomes = race(8, lambda _i: service.handle(CORP, event).outcome)
    assert sorted(outcomes) == ["duplicate"] * 7 + ["sent"]
    assert len(_sends(sim)) == 1


def test_crashed_attempt_can_be_taken_over_after_its_lease(
    sim: SimulatorHandle, service: WelcomeService
) -> None:
    _rule()
    event = _event(sim)
    now = int(time.time() * 1000)
    assert welcome_repo.claim_welcome(event_key(CORP, event), "crashed-owner", now - 7000, now - 1000, {}).won
    result = service.handle(CORP, event)
    assert result.outcome == "sent"
    assert len(_delivered(sim)) == 1


def test_retry_on_the_same_container_needs_no_dynamodb(
    sim: SimulatorHandle, service: WelcomeService, repo: SwitchableRepo
) -> None:
    _rule()
    event = _event(sim)
    assert service.handle(CORP, event).outcome == "sent"
    repo.claim_welcome = lambda *_a, **_k: pytest.fail("DynamoDB claim for a known retry")
    assert service.handle(CORP, event).outcome == "duplicate"


def test_refused_while_pending_is_rechecked_later(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule()
    event = _event(sim)
    now = int(time.time() * 1000)
    assert welcome_repo.claim_welcome(event_key(CORP, event), "other-container", now, now + 500, {}).won
    assert service.handle(CORP, event).outcome == "duplicate"  # the other container is still on it
    time.sleep(0.6)  # ... and then it crashed: its lease runs out
    assert service.handle(CORP, event).outcome == "sent"  # this container was not fooled by its memory
    assert len(_delivered(sim)) == 1


def test_a_failed_claim_is_forgotten_so_the_retry_can_claim(
    sim: SimulatorHandle, service: WelcomeService, repo: SwitchableRepo
) -> None:
    _rule()
    event = _event(sim)
    real_claim = welcome_repo.claim_welcome

    def throttled(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("ProvisionedThroughputExceeded")

    repo.claim_welcome = throttled
    with pytest.raises(RuntimeError):
        service.handle(CORP, event)
    repo.claim_welcome = real_claim
    assert service.handle(CORP, event).outcome == "sent"


# ------------------------------------------------------------------------------ dedupe key
def _key_event(ext: str, user: str, create_time: str | int = 1_700_000_000) -> dict[str, Any]:
    return {
        "ExternalUserID": ext,
        "UserID": user,
        "ChangeType": "add_external_contact",
        "CreateTime": create_time,
    }


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("wmA#zhangsan", "lisi"), ("wmA", "zhangsan#lisi")),
        (("wmA", "b#add_external_contact#1"), ("wmA#b", "add_external_contact#1")),
        (("wm1:2", "x"), ("wm1", "2:x")),
        (("wm|A", "x"), ("wm", "A|x")),
    ],
)
def test_dedupe_keys_of_different_events_never_collide(first: tuple, second: tuple) -> None:
    assert event_key(CORP, _key_event(*first)) != event_key(CORP, _key_event(*second))


def test_one_event_has_one_dedupe_key_however_createtime_is_typed() -> None:
    keys = {event_key(CORP, _key_event("wmA", "zhangsan", t)) for t in (1_700_000_000, "1700000000")}
    assert len(keys) == 1


def test_dedupe_key_parts_are_length_prefixed() -> None:
    key = event_key(CORP, _key_event("wmA#b", "zhangsan"))
    assert key == f"{len(CORP)}:{CORP}|5:wmA#b|8:zhangsan|20:add_external_contact|10:1700000000"


# ------------------------------------------------------------------------------ deadline
class FakeTime:
    """A clock that only sleeping moves (HTTP calls take no fake time): a 20 s budget runs in a moment.
    Sleeping past ``limit_s`` fails the test at once instead of letting a runaway loop run for an hour."""

    def __init__(self, limit_s: float) -> None:
        self.start_ms = int(time.time() * 1000)
        self.now_ms = self.start_ms
        self.limit_ms = limit_s * 1000

    def clock(self) -> int:
        return self.now_ms

    def sleep(self, seconds: float) -> None:
        self.now_ms += int(seconds * 1000)
        if self.now_ms - self.start_ms > self.limit_ms:
            pytest.fail(f"still retrying {self.limit_ms / 1000} s after receipt")


def _record_timeouts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    client, seen = runtime.wecom_client(), []
    real_post = client.post

    def post(path: str, body: dict[str, Any], timeout: Any = None, **options: Any) -> dict[str, Any]:
        if path.endswith("send_welcome_msg"):
            seen.append(timeout)
        return real_post(path, body, timeout=timeout, **options)

    monkeypatch.setattr(client, "post", post)
    return seen


@pytest.mark.parametrize("create_time", ["in an hour", "in 2106"])  # ids stable across xdist workers
def test_future_create_time_cannot_stretch_the_deadline(
    sim: SimulatorHandle, monkeypatch: pytest.MonkeyPatch, create_time: str
) -> None:
    ahead_s = 3600 if create_time == "in an hour" else 2**32 - 1 - int(time.time())
    _rule(content="no nickname here")
    _fault(sim, path="externalcontact/send_welcome_msg", errcode=41096, times=10_000)
    fake = FakeTime(limit_s=20)
    settings = WelcomeSettings("Asia/Shanghai", safety_margin_ms=1500, lease_ms=6000, log_retention_days=180)
    service = WelcomeService(
        runtime.wecom_client(), RuleCache(welcome_repo.list_rules, 0.0), settings, fake.clock, fake.sleep
    )
    timeouts = _record_timeouts(monkeypatch)
    event = _event(sim, age_s=-ahead_s)
    result = service.handle(CORP, event)
    assert (result.outcome, result.errcode) == ("expired", 41096)
    assert fake.now_ms - fake.start_ms <= 18_500  # receipt + 20 s - the safety margin
    assert all(connect <= 1.0 and read <= 4.0 for connect, read in timeouts)  # each attempt capped
    assert len(timeouts) < 40  # backed off to the end: no burst of calls in the last moments
    record = welcome_repo.get_welcome(event_key(CORP, event))
    assert record["outcome"] == "expired"
    assert 0 <= record["latency_ms"] <= 18_500  # counted from receipt, not from a CreateTime to come


def test_far_future_create_time_is_sent_and_recorded(sim: SimulatorHandle, service: WelcomeService) -> None:
    _rule(content="no nickname here")
    event = _event(sim, age_s=-(2**32 - 1 - int(time.time())))
    result = service.handle(CORP, event)
    assert result.outcome == "sent"
    assert len(_delivered(sim)) == 1
    record = welcome_repo.get_welcome(event_key(CORP, event))
    assert (record["outcome"], record["create_time"]) == ("sent", 2**32 - 1)
    assert 0 <= record["latency_ms"] < 5000


def test_outcome_is_recorded_when_sending_breaks_unexpectedly(
    sim: SimulatorHandle, service: WelcomeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    _rule(content="no nickname here")

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise OverflowError("timeout doesn't fit into C timeval")  # what a huge timeout did after the send

    monkeypatch.setattr(runtime.wecom_client(), "post", broken)
    event = _event(sim)
    assert service.handle(CORP, event).outcome == "failed"
    assert welcome_repo.get_welcome(event_key(CORP, event))["outcome"] == "failed"
    assert service.handle(CORP, event).outcome == "duplicate"  # and WeCom's retry finds it finished


# ------------------------------------------------------------------------------ lease
def test_lease_outlives_the_attempt_in_flight(sim: SimulatorHandle) -> None:
    """Container A waits on a slow WeCom longer than the claim's lease; container B, whose clock says A's
    claim lease has run out, must still not take the event over while A's attempt is in flight."""
    _rule(content="no nickname here")
    _fault(sim, path="externalcontact/send_welcome_msg", delay_ms=2500, times=1)
    settings = WelcomeSettings("Asia/Shanghai", safety_margin_ms=1500, lease_ms=500, log_retention_days=180)
    first = WelcomeService(runtime.wecom_client(), RuleCache(welcome_repo.list_rules, 0.0), settings)
    later = WelcomeService(
        runtime.wecom_client(),
        RuleCache(welcome_repo.list_rules, 0.0),
        settings,
        clock=lambda: int(time.time() * 1000) + 1500,  # past the claim's 500 ms, inside one attempt
    )
    event = _event(sim)
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(first.handle(CORP, event)))
    worker.start()
    give_up = time.monotonic() + 10
    while sim.state.faults and time.monotonic() < give_up:  # the slow fault is taken: A's call is in flight
        time.sleep(0.01)
    assert not sim.state.faults
    assert later.handle(CORP, event).outcome == "duplicate"
    worker.join(timeout=15)
    assert [r.outcome for r in results] == ["sent"]
    assert len(_sends(sim)) == 1


def test_warm_path_is_two_dynamodb_round_trips(sim: SimulatorHandle) -> None:
    _rule()  # with %NICKNAME%: the name lookup happens between the claim and the send
    repo = SwitchableRepo()
    service = WelcomeService(
        runtime.wecom_client(),
        RuleCache(welcome_repo.list_rules, 0.0),
        WelcomeSettings.from_env(),
        repo=repo,
    )
    service.handle(CORP, _event(sim, ext="wmBob", user="lisi"))  # warms the token
    repo.renew_welcome_lease = lambda *_a, **_k: pytest.fail("the claim's lease covers the first attempt")
    assert service.handle(CORP, _event(sim)).outcome == "sent"


def test_every_send_request_is_covered_by_the_lease_even_after_a_refused_token(
    sim: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused token makes a second request (after a fresh token, here a slow ``gettoken``): it too must
    be covered by a lease that outlives its timeouts, which an internal resend in the client was not."""
    _rule(content="no nickname here")
    settings = WelcomeSettings("Asia/Shanghai", safety_margin_ms=1500, lease_ms=500, log_retention_days=180)
    service = WelcomeService(runtime.wecom_client(), RuleCache(welcome_repo.list_rules, 0.0), settings)
    assert service.handle(CORP, _event(sim, ext="wmBob", user="lisi")).outcome == "sent"  # a token in memory
    requests.post(f"{sim.url}/__sim/tokens/expire", timeout=5).raise_for_status()  # WeCom revokes it
    _fault(sim, path="gettoken", delay_ms=1500, times=1)
    event = _event(sim)
    session, uncovered, sent = runtime.wecom_client().session, [], []
    real_request = session.request

    def request(method: str, url: str, **kwargs: Any) -> Any:
        if "send_welcome_msg" in url:
            connect, read = kwargs["timeout"]
            lease_until = welcome_repo.get_welcome(event_key(CORP, event))["lease_until_ms"]
            sent.append(url)
            if lease_until < time.time() * 1000 + (connect + read) * 1000:
                uncovered.append(lease_until)
        return real_request(method, url, **kwargs)

    monkeypatch.setattr(session, "request", request)
    assert service.handle(CORP, event).outcome == "sent"
    assert len(sent) == 2  # refused (40014), then resent with a fresh token
    assert uncovered == []
