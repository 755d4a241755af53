"""gettoken down for 20 s while 20 welcomes keep arriving, then up again: how many gettoken calls the
outage costs, and how soon after recovery the first welcome is delivered.

Method: ``start_stack`` (moto DynamoDB server, simulator, gateway on 127.0.0.1; the token cache starts cold).
The simulator answers every ``gettoken`` with HTTP 500 for OUTAGE_S seconds. WORKERS threads each post a
fresh signed add-contact callback (a new customer and welcome code, CreateTime = now) through the gateway,
wait for its answer and post the next, so WORKERS welcomes are in flight throughout the outage, each
retrying until its code's deadline. The gettoken calls the simulator logged during the outage are counted;
then the fault is cleared and the time from that moment to the first ``send_welcome_msg`` the simulator
accepts is measured (the same loopback clock on both sides).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

from local.events import add_contact_fields, callback_post_event
from local.settings import DEV_DEFAULTS, apply_dev_defaults
from local.stack import start_stack
from local.wecom_sim import faults
from local.wecom_sim.calllog import calls
from local.wecom_sim.endpoints_welcome import issue_welcome_code

OUTAGE_S, WORKERS, RECOVERY_WAIT_S = 20.0, 20, 30.0


def run() -> dict[str, Any]:
    apply_dev_defaults()
    stack = start_stack(api_port=0)
    try:
        return _outage(stack)
    finally:
        stack.stop()


def _callback(stack: Any, ext: str) -> dict[str, Any]:
    create_time = int(time.time())
    with stack.simulator.state.lock:
        code = issue_welcome_code(stack.simulator.state, "zhangsan", ext, create_time)
    fields = add_contact_fields(
        dict(DEV_DEFAULTS), external_userid=ext, welcome_code=code, create_time=create_time
    )
    return callback_post_event(dict(DEV_DEFAULTS), fields)


def _outage(stack: Any) -> dict[str, Any]:
    state = stack.simulator.state
    requests.put(
        f"{stack.api_url}/admin/welcome-rules/default", json={"text": {"content": "Welcome!"}}, timeout=10
    ).raise_for_status()
    faults.add(state, faults.parse_fault({"path": "gettoken", "http_status": 500, "times": 10**9}))
    stop, posted = threading.Event(), [0] * WORKERS

    def worker(i: int) -> None:
        session = requests.Session()
        while not stop.is_set():
            event = _callback(stack, f"wmOutage{i:02d}x{posted[i]:04d}")
            posted[i] += 1
            session.post(
                f"{stack.api_url}/callback?{event['rawQueryString']}",
                data=event["body"].encode(),
                headers={"Content-Type": "text/xml"},
                timeout=60,
            )

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(WORKERS)]
    started = time.time()
    for thread in threads:
        thread.start()
    time.sleep(OUTAGE_S)  # the outage itself: a bench measures time, it does not wait for a condition
    during = len(calls(state, "gettoken"))
    delivered_during = len(state.delivered_welcomes())
    faults.clear(state)
    recovered_at = time.time()
    first = _first_welcome_after(state, recovered_at)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return {
        "token_outage_s": round(recovered_at - started, 1),
        "token_outage_concurrent_welcomes": WORKERS,
        "token_outage_callbacks_posted": sum(posted),
        "token_outage_gettoken_calls": during,
        "token_outage_welcomes_delivered_during": delivered_during,
        "token_recovery_first_welcome_ms": None if first is None else round((first - recovered_at) * 1000),
    }


def _first_welcome_after(state: Any, moment: float) -> float | None:
    """When the simulator accepted the first welcome after ``moment`` (None if none within the wait)."""
    give_up = time.monotonic() + RECOVERY_WAIT_S
    while time.monotonic() < give_up:
        times = [w["at"] for w in state.delivered_welcomes() if w["at"] >= moment]
        if times:
            return min(times)
        time.sleep(0.01)
    return None


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
