"""``make demo``: start the local stack, play a short welcome scenario through the real HTTP and
encrypted-callback paths, print what happened, and exit 0 when everything went as expected.

Scenario: WeCom verifies the callback URL; operators put four welcome rules; six customers add members
through different channels (one during a rule's time window, one outside every specific rule, one with a
VIP member); WeCom retries one callback; another app holds one welcome code for a moment (41096); a
customer arrives without a welcome code (the admin console has one configured).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests

from local.settings import apply_dev_defaults
from local.stack import StackHandle, start_stack


def _window_around_now(tz: str) -> tuple[str, str]:
    now = datetime.now(ZoneInfo(tz))
    return (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=1)).strftime("%H:%M")


def _rules(tz: str) -> dict[str, dict[str, Any]]:
    start, end = _window_around_now(tz)
    return {
        "default": {"priority": 0, "text": {"content": "Hi %NICKNAME%, thanks for adding us!"}},
        "expo": {
            "priority": 10,
            "match": {"state_prefix": "expo-"},
            "text": {"content": "%NICKNAME%, welcome to our booth! Here is the catalogue."},
            "attachments": [
                {
                    "msgtype": "link",
                    "link": {"title": "Catalogue 2026", "url": "https://example.com/catalogue"},
                }
            ],
        },
        "this-hour": {
            "priority": 5,
            "match": {"state": "web", "time_from": start, "time_to": end},
            "text": {"content": f"Hello %NICKNAME%! (sent between {start} and {end})"},
        },
        "vip-desk": {
            "priority": 20,
            "match": {"userid": "wangwu"},
            "text": {"content": "Dear %NICKNAME%, your VIP adviser here."},
        },
    }


CUSTOMERS = [
    ("zhangsan", "wmAnn", "Ann", "expo-shanghai"),
    ("zhangsan", "wmBen", "Ben", "expo-beijing"),
    ("lisi", "wmCai", "Cai", "web"),
    ("lisi", "wmDai", "Dai", "qr-poster"),
    ("wangwu", "wmEve", "Eve", "web"),
]


def _play(stack: StackHandle) -> list[str]:
    api, sim = stack.api_url, stack.simulator.url
    problems: list[str] = []
    verify = requests.post(f"{sim}/__sim/callbacks/verify_url", json={}, timeout=10).json()
    print(
        f"URL verification: answered {verify['body']!r} in {verify['elapsed_ms']:.0f} ms "
        f"({'ok' if verify['ok'] else 'WRONG'})"
    )
    if not verify["ok"]:
        problems.append("URL verification failed")
    for rule_id, rule in _rules(os.environ.get("WELCOME_TIMEZONE", "Asia/Shanghai")).items():
        requests.put(f"{api}/admin/welcome-rules/{rule_id}", json=rule, timeout=10).raise_for_status()
    print(f"Put {len(_rules('UTC'))} welcome rules through the admin API.")
    requests.post(
        f"{sim}/__sim/faults", json={"path": "send_welcome_msg", "errcode": 41096, "times": 2}, timeout=5
    ).raise_for_status()
    pushes = {}
    for userid, ext, name, state in CUSTOMERS:
        pushes[ext] = requests.post(
            f"{sim}/__sim/callbacks/add_external_contact",
            timeout=30,
            json={"userid": userid, "external_userid": ext, "name": name, "state": state},
        ).json()
    retry = requests.post(
        f"{sim}/__sim/callbacks/raw", json={"fields": pushes["wmCai"]["fields"]}, timeout=30
    ).json()
    print(
        f"WeCom retried wmCai's callback: answered {retry['attempts'][-1]['status']} "
        f"{retry['attempts'][-1].get('body')!r}"
    )
    requests.post(
        f"{sim}/__sim/callbacks/add_external_contact",
        timeout=30,
        json={
            "userid": "lisi",
            "external_userid": "wmFei",
            "name": "Fei",
            "state": "web",
            "with_welcome_code": False,
        },
    )
    print("wmFei arrived without a welcome code (admin-console welcome): nothing to send, nothing logged.")
    return problems + _report(stack)


def _report(stack: StackHandle) -> list[str]:
    log = requests.get(f"{stack.api_url}/admin/welcomes", params={"limit": "50"}, timeout=10).json()["items"]
    delivered = {
        w["external_userid"]: w
        for w in requests.get(f"{stack.simulator.url}/__sim/welcomes", timeout=10).json()
    }
    header = ("customer", "member", "channel", "rule", "outcome", "attempts", "latency", "text received")
    rows = [
        (
            r["external_userid"],
            r["userid"],
            r["state"],
            r.get("rule_id") or "-",
            r["outcome"],
            str(r.get("attempts", "")),
            f"{r.get('latency_ms') or 0} ms",
            ((delivered.get(r["external_userid"]) or {}).get("rendered_text") or "-")[:48],
        )
        for r in log
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    sends = [
        c
        for c in requests.get(
            f"{stack.simulator.url}/__sim/calls", params={"path": "send_welcome_msg"}, timeout=10
        ).json()
        if c["errcode"] == 0
    ]
    print(
        f"\n{len(sends)} welcomes accepted by WeCom for {len(CUSTOMERS)} customers with codes "
        f"(one callback delivered twice, one code busy twice with 41096)."
    )
    expected = {
        "wmAnn": "expo",
        "wmBen": "expo",
        "wmCai": "this-hour",
        "wmDai": "default",
        "wmEve": "vip-desk",
    }
    outcome = {r["external_userid"]: (r.get("rule_id"), r["outcome"]) for r in log}
    problems = [
        f"{ext}: expected rule {rule}, got {outcome.get(ext)}"
        for ext, rule in expected.items()
        if outcome.get(ext) != (rule, "sent")
    ]
    if len(sends) != len(CUSTOMERS):
        problems.append(f"expected {len(CUSTOMERS)} accepted sends, saw {len(sends)}")
    return problems


def main() -> int:
    apply_dev_defaults()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the table below is the demo's output
    stack = start_stack(api_port=0)
    print(f"Local stack up: API {stack.api_url}, WeCom simulator {stack.simulator.url}\n")
    try:
        problems = _play(stack)
    finally:
        stack.stop()
    for problem in problems:
        print(f"UNEXPECTED: {problem}")
    print("\nDemo finished: everything as expected." if not problems else "\nDemo finished with problems.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
