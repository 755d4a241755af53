"""The one WeCom client against the simulator over real HTTP: errcodes, token refresh, pagination."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from local.settings import DEV_DEFAULTS
from local.wecom_sim.server import SimulatorHandle
from tests.support import dev_simulator
from wecom_bundle.wecom.client import WeComClient, fetch_token, new_session
from wecom_bundle.wecom.errors import RateLimitError, TokenError, TransportError, WeComError


class MemoryTokens:
    """A per-test token source that really calls gettoken (the shared DynamoDB one is tested elsewhere)."""

    def __init__(self, base: str) -> None:
        self.base, self.token, self.fetches, self.invalidated = base, "", 0, []
        self.session = new_session()

    def get(self, timeout: float) -> str:
        if not self.token:
            self.fetches += 1
            self.token, _ = fetch_token(
                self.session,
                self.base,
                DEV_DEFAULTS["WECOM_CORP_ID"],
                DEV_DEFAULTS["WECOM_CORP_SECRET"],
                timeout,
            )
        return self.token

    def invalidate(self, token: str) -> None:
        self.invalidated.append(token)
        self.token = ""


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    handle = dev_simulator()
    yield handle
    handle.stop()


@pytest.fixture
def client(sim: SimulatorHandle) -> WeComClient:
    return WeComClient(sim.url, MemoryTokens(sim.url))


def _fault(sim: SimulatorHandle, **spec: object) -> None:
    requests.post(f"{sim.url}/__sim/faults", json=spec, timeout=5).raise_for_status()


def test_wrong_secret_is_a_typed_error(sim: SimulatorHandle) -> None:
    with pytest.raises(WeComError) as caught:
        fetch_token(new_session(), sim.url, DEV_DEFAULTS["WECOM_CORP_ID"], "wrong-secret", 5)
    assert caught.value.errcode == 40001
    assert "wrong-secret" not in str(caught.value)


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_token_errors_refresh_once_and_retry(sim: SimulatorHandle, client: WeComClient, errcode: int) -> None:
    requests.post(
        f"{sim.url}/__sim/contacts",
        json={"customers": [{"external_userid": "wmA", "name": "A", "owner": "u1"}]},
        timeout=5,
    )
    client.get("externalcontact/get", {"external_userid": "wmA"})
    _fault(sim, path="externalcontact/get", errcode=errcode, times=1)
    answer = client.get("externalcontact/get", {"external_userid": "wmA"})
    assert answer["external_contact"]["name"] == "A"
    assert client.tokens.fetches == 2
    assert len(client.tokens.invalidated) == 1


def test_second_token_error_is_raised(sim: SimulatorHandle, client: WeComClient) -> None:
    _fault(sim, path="externalcontact/get", errcode=42001, times=2)
    with pytest.raises(TokenError) as caught:
        client.get("externalcontact/get", {"external_userid": "wmA"})
    assert caught.value.errcode == 42001


def test_a_caller_may_resend_after_a_token_error_itself(sim: SimulatorHandle, client: WeComClient) -> None:
    _fault(sim, path="externalcontact/send_welcome_msg", errcode=40014, times=1)
    with pytest.raises(TokenError) as caught:
        client.post("externalcontact/send_welcome_msg", {"welcome_code": "C"}, retry_on_token_error=False)
    assert caught.value.errcode == 40014
    assert (
        len(client.tokens.invalidated) == 1
    )  # the refused token is dropped; the next request gets a new one
    calls = requests.get(f"{sim.url}/__sim/calls", params={"path": "send_welcome_msg"}, timeout=5).json()
    assert len(calls) == 1  # and nothing was resent behind the caller's back


def test_rate_limits_and_transport_faults_are_typed(sim: SimulatorHandle, client: WeComClient) -> None:
    _fault(sim, path="externalcontact/get", errcode=45033, times=1)
    with pytest.raises(RateLimitError) as limited:
        client.get("externalcontact/get", {"external_userid": "wmA"})
    assert limited.value.retryable
    _fault(sim, path="externalcontact/get", http_status=502, times=1)
    with pytest.raises(TransportError) as bad_gateway:
        client.get("externalcontact/get", {"external_userid": "wmA"})
    assert bad_gateway.value.status == 502
    _fault(sim, path="externalcontact/get", delay_ms=1500, times=1)
    with pytest.raises(TransportError) as slow:
        client.get("externalcontact/get", {"external_userid": "wmA"}, timeout=(0.5, 0.5))
    assert "access_token" not in str(slow.value)


def test_unreachable_wecom_is_a_transport_error() -> None:
    client = WeComClient("http://127.0.0.1:9", MemoryTokens("http://127.0.0.1:9"))
    with pytest.raises(TransportError):
        client.get("externalcontact/get", {"external_userid": "x"}, timeout=(0.5, 0.5))


def test_pagination_follows_cursor_to_the_last_page(sim: SimulatorHandle, client: WeComClient) -> None:
    customers = [{"external_userid": f"wm{i:03d}", "name": f"c{i}", "owner": "u1"} for i in range(25)]
    requests.post(f"{sim.url}/__sim/contacts", json={"customers": customers}, timeout=5).raise_for_status()
    created = client.post(
        "externalcontact/add_msg_template",
        {
            "chat_type": "single",
            "external_userid": [c["external_userid"] for c in customers],
            "text": {"content": "hello"},
        },
    )
    requests.post(f"{sim.url}/__sim/groupmsg/{created['msgid']}/send", json={}, timeout=5).raise_for_status()
    pages = list(
        client.paginate(
            "externalcontact/get_groupmsg_send_result",
            {"msgid": created["msgid"], "userid": "u1", "limit": 10},
            "send_list",
        )
    )
    assert [len(items) for items, _ in pages] == [10, 10, 5]
    assert pages[-1][1] == ""
    assert len({row["external_userid"] for items, _ in pages for row in items}) == 25
