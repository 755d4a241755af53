"""Setup errors reported once, with the fix: one ERROR line per errcode per container per minute, and the
metric ``WeComSetupError`` ([service] for the alarm, [service, errcode] to tell them apart) for each refusal
WeCom really answered.

Why here: a setup error (untrusted IP, a secret without the API's permission, a wrong corp id or secret)
stays until a person changes the WeCom console or the secret; the welcome, the campaign and the sync each
see it, and the operator must read *what to change* once, not an errcode per request. The codes and what
WeCom means by them: WeCom「全局错误码」https://developer.work.weixin.qq.com/document/path/90313; the trusted
IP rule: WeCom「企业可信IP」(self-built apps created since 2022-06-20), whose refusal names the caller's IP in
its errmsg ("not allow to access from your ip, hint: [...], from ip: A.B.C.D, more info at ...").
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
import time
from collections.abc import Callable

from wecom_bundle import telemetry
from wecom_bundle.wecom.errcodes import Errcode
from wecom_bundle.wecom.errors import SetupError

logger = logging.getLogger(__name__)

METRIC = "WeComSetupError"
DIMENSION_SETS = [["service"], ["service", "errcode"]]
LOG_INTERVAL_S = 60.0
_FROM_IP = re.compile(r"from ip:\s*([0-9A-Fa-f:.]+)")

FIXES: dict[int, str] = {
    Errcode.API_FORBIDDEN: "the app's secret may not call {path}: give the app the 客户联系 API permission"
    " (客户联系 → API → 可调用接口的应用) or use the 客户联系 secret",
    Errcode.NO_PRIVILEGE: "the app cannot see this member or department: widen the app's 可见范围",
    Errcode.INVALID_CREDENTIAL: "WeCom refused the app secret: put the app's Secret into corp_secret",
    Errcode.INVALID_CORPID: "WeCom refused the corp id: put the 企业ID (我的企业) into corp_id",
    Errcode.INVALID_AGENTID: "WeCom refused the app behind the secret: check the app exists and corp_secret is its",
}


def egress_ip(errmsg: str) -> str | None:
    """The caller's IP WeCom reports in an errmsg ("from ip: A.B.C.D"), or None."""
    match = _FROM_IP.search(errmsg)
    if not match:
        return None
    try:
        return str(ipaddress.ip_address(match.group(1).rstrip(".")))
    except ValueError:
        return None


def fix_for(error: SetupError) -> str:
    """What a person changes to end ``error`` (never a secret: only the IP and path WeCom named)."""
    if error.errcode == Errcode.UNTRUSTED_IP:
        ip = egress_ip(error.errmsg) or "this deployment's egress IP (wecomctl doctor shows it)"
        return f"add {ip} to 企业可信IP of the app"
    template = FIXES.get(error.errcode, "check the app's configuration in the WeCom admin console")
    return template.format(path=error.path)


class SetupReporter:
    """Emits the metric for each refusal and one ERROR line per errcode per ``interval_s`` (per container).
    ``clock`` (monotonic seconds) is a seam for tests."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, interval_s: float = LOG_INTERVAL_S
    ) -> None:
        self._clock = clock
        self._interval_s = interval_s
        self._logged_at: dict[int, float] = {}
        self._lock = threading.Lock()
        # An instance attribute, not a method (as ``config.SettingsCache``): a cold start (the local stack's
        # ``reset_layer_state``) calls every module-level ``cache_clear`` and must not find the class's.
        self.cache_clear = self._forget

    def report(self, error: SetupError) -> None:
        telemetry.count_by(METRIC, {"errcode": str(error.errcode)}, DIMENSION_SETS)
        if self._due(error.errcode):
            logger.error(
                "WeCom setup error %s on %s: %s",
                error.errcode,
                error.path,
                fix_for(error),
                extra={"errcode": error.errcode, "path": error.path, "egress_ip": egress_ip(error.errmsg)},
            )

    def _forget(self) -> None:
        with self._lock:
            self._logged_at.clear()

    def _due(self, errcode: int) -> bool:
        with self._lock:
            now = self._clock()
            last = self._logged_at.get(errcode)
            if last is not None and now - last < self._interval_s:
                return False
            self._logged_at[errcode] = now
            return True


REPORTER = SetupReporter()  # the container's: every WeCom call of the container reports here
