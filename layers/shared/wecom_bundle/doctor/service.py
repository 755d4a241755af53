"""``Doctor``: the set-up checks, each within its own time budget, so the answer comes well inside API
Gateway's 29 s: the secret and the token first (every WeCom check needs them), then the three WeCom APIs,
the callback URL and the table at once, in threads (about 2 + 4 + 5 s at worst).

A WeCom refusal keeps its errcode and says its fix (``wecom.setup``); ``egress_ip`` is the IP WeCom named in
a 60020 (WeCom「全局错误码」https://developer.work.weixin.qq.com/document/path/90313). Nothing here retries:
the doctor reports what a request meets now. No detail ever holds a secret: WeCom's errmsg names only the
caller's IP and a hint, a settings error names the setting, a transport error its type.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from wecom_bundle.config import ConfigError, WeComSettings
from wecom_bundle.doctor.callback_probe import Echo
from wecom_bundle.doctor.model import Check, CheckName, report
from wecom_bundle.wecom import contact_ways, follow_users, groupmsg
from wecom_bundle.wecom.client import Timeout, WeComClient
from wecom_bundle.wecom.errcodes import Errcode
from wecom_bundle.wecom.errors import SetupError, TransportError, WeComError
from wecom_bundle.wecom.setup import egress_ip, fix_for

TOKEN_BUDGET_S = 4.0
CALL_TIMEOUT: Timeout = (2.0, 3.0)  # each WeCom API check
CALLBACK_BUDGET_S = 3.0
HOUR_S, DAY_S = 3600, 86400
FIX_SETTINGS = (
    "put corp_id, corp_secret, callback_token and encoding_aes_key (43 characters) into the secret named by"
    " WECOM_SECRET_ID, as the WeCom console shows them"
)
FIX_TRANSPORT = "WeCom did not answer: check the way out (NAT, VPC routes, WECOM_PROXY_URL) and DNS"
FIX_CALLBACK = (
    "the public callback URL must reach CallbackFunction and answer WeCom's verification: check the"
    " custom domain's DNS and mapping (CallbackDomainName) and the Token/EncodingAESKey in the secret"
)
FIX_STORAGE = "check TABLE_NAME, the function's DynamoDB permissions and, in a VPC, the DynamoDB endpoint"


class CallbackProbe(Protocol):
    def __call__(self, url: str, token: str, encoding_aes_key: str, corp_id: str, timeout: float) -> Echo: ...


@dataclass(frozen=True)
class DoctorDeps:
    """What the doctor uses: a fresh settings read and where settings come from, the container's WeCom
    client, the callback probe, the table probe and a monotonic clock (seconds)."""

    load_settings: Callable[[], WeComSettings]
    settings_source: Callable[[], str]  # "environment" | "secret"
    wecom_client: Callable[[], WeComClient]
    probe_callback: CallbackProbe
    probe_storage: Callable[[], None]
    clock: Callable[[], float] = time.monotonic


class Doctor:
    def __init__(self, deps: DoctorDeps) -> None:
        self.deps = deps

    def run(self, callback_url: str | None) -> dict[str, Any]:
        """Every check, in the contract's order; ``callback_url``: where WeCom would send callbacks."""
        settings, secret = self._secret()
        if settings is None:
            rest = [_not_run(name, "the secret check failed") for name in list(CheckName)[1:]]
            return report([secret, *rest[:-1], self._storage()], None)
        token = self._token()
        with ThreadPoolExecutor(max_workers=5) as pool:
            futures = [
                pool.submit(self._wecom_check, token.ok, CheckName.CUSTOMER_CONTACT, _customer_contact),
                pool.submit(self._wecom_check, token.ok, CheckName.MASS_SEND, _mass_send),
                pool.submit(self._wecom_check, token.ok, CheckName.CONTACT_WAYS, _contact_ways),
                pool.submit(self._callback, settings, callback_url),
                pool.submit(self._storage),
            ]
            checks = [secret, token, *(future.result() for future in futures)]
        return report(checks, _egress_ip(checks))

    # ------------------------------------------------------------------------------------------ checks
    def _secret(self) -> tuple[WeComSettings | None, Check]:
        source = self.deps.settings_source()
        try:
            settings = self.deps.load_settings()
        except ConfigError as exc:
            return None, Check(CheckName.SECRET, False, str(exc), fix=FIX_SETTINGS)
        if source == "environment":
            detail = "settings from the environment (WECOM_* variables): no secret is read"
        else:
            detail = "the secret WECOM_SECRET_ID is readable and every key is well-formed"
        return settings, Check(CheckName.SECRET, True, detail)

    def _token(self) -> Check:
        started = self.deps.clock()
        try:
            self.deps.wecom_client().tokens.get(TOKEN_BUDGET_S)
        except (WeComError, TransportError) as exc:
            return _refused(CheckName.TOKEN, exc)
        except Exception as exc:
            # the shared token record (DynamoDB) did not answer: its code, never the request
            detail = f"the shared token record did not answer: {type(exc).__name__} {_aws_code(exc)}".strip()
            return Check(CheckName.TOKEN, False, detail, fix=FIX_STORAGE)
        detail = f"an access token is at hand (gettoken's, shared by every container; {self._ms(started)} ms)"
        return Check(CheckName.TOKEN, True, detail)

    def _wecom_check(self, token_ok: bool, name: CheckName, call: Callable[[WeComClient], str]) -> Check:
        if not token_ok:
            return _not_run(name, "no access token (see the token check)")
        started = self.deps.clock()
        try:
            found = call(self.deps.wecom_client())
        except (WeComError, TransportError) as exc:
            return _refused(name, exc)
        return Check(name, True, f"{found} ({self._ms(started)} ms)")

    def _callback(self, settings: WeComSettings, url: str | None) -> Check:
        if not url:
            return Check(CheckName.CALLBACK_URL, False, "no public callback URL is known", fix=FIX_CALLBACK)
        try:
            echo = self.deps.probe_callback(
                url, settings.callback_token, settings.encoding_aes_key, settings.corp_id, CALLBACK_BUDGET_S
            )
        except Exception as exc:  # requests' exceptions carry the URL and its signed query: type only
            return Check(
                CheckName.CALLBACK_URL, False, f"{url}: no answer ({type(exc).__name__})", fix=FIX_CALLBACK
            )
        if not echo.echoed:
            detail = f"{url} answered HTTP {echo.status} without the echo"
            return Check(CheckName.CALLBACK_URL, False, detail, fix=FIX_CALLBACK)
        return Check(CheckName.CALLBACK_URL, True, f"{url} echoed the verification ({echo.elapsed_ms} ms)")

    def _storage(self) -> Check:
        started = self.deps.clock()
        try:
            self.deps.probe_storage()
        except Exception as exc:  # botocore's errors: their code, never the request
            detail = f"the table did not answer: {type(exc).__name__} {_aws_code(exc)}".strip()
            return Check(CheckName.STORAGE, False, detail, fix=FIX_STORAGE)
        return Check(CheckName.STORAGE, True, f"the table answered a GetItem ({self._ms(started)} ms)")

    def _ms(self, started: float) -> int:
        return int((self.deps.clock() - started) * 1000)


# ------------------------------------------------------------------------------------- the WeCom calls
def _customer_contact(client: WeComClient) -> str:
    members = follow_users.get_follow_user_list(client, timeout=CALL_TIMEOUT)
    return f"{len(members)} members have the customer-contact feature"


def _mass_send(client: WeComClient) -> str:
    now = int(time.time())
    query = {"chat_type": "single", "start_time": now - HOUR_S, "end_time": now, "limit": 100}
    rows, _cursor = next(iter(groupmsg.get_groupmsg_list_v2(client, query, timeout=CALL_TIMEOUT)))
    return f"get_groupmsg_list_v2 answered {len(rows)} tasks of the last hour on its first page"


def _contact_ways(client: WeComClient) -> str:
    now = int(time.time())
    ids = contact_ways.list_page(client, now - DAY_S, now, limit=100, timeout=CALL_TIMEOUT)
    return f"list_contact_way answered {len(ids)} contact ways of the last day on its first page"


# ------------------------------------------------------------------------------------------ results
def _refused(name: CheckName, exc: WeComError | TransportError) -> Check:
    if isinstance(exc, TransportError):
        return Check(name, False, f"no answer from WeCom: {exc.reason}", fix=FIX_TRANSPORT)
    detail = f"WeCom refused {exc.path}: errcode {exc.errcode}, {exc.errmsg}"
    if isinstance(exc, SetupError):
        return Check(name, False, detail, exc.errcode, fix_for(exc))
    fix = f"see errcode {exc.errcode} in WeCom「全局错误码」https://developer.work.weixin.qq.com/document/path/90313"
    return Check(name, False, detail, exc.errcode, fix)


def _aws_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _not_run(name: CheckName, why: str) -> Check:
    return Check(name, False, f"not run: {why}", fix=f"fix the check it depends on first ({why})")


def _egress_ip(checks: list[Check]) -> str | None:
    """The IP WeCom reported in the first 60020 among the checks."""
    for check in checks:
        if check.errcode == Errcode.UNTRUSTED_IP:
            return egress_ip(check.detail)
    return None
