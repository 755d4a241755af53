"""``wecom.contact_ways`` against the simulator: the listing walks every 90-day window (WeCom's default span,
which the simulator enforces) and every page of each, up to a page WeCom answers empty behind a cursor."""

from __future__ import annotations

import itertools
import math

import pytest
import requests

from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from wecom_bundle import runtime
from wecom_bundle.wecom import contact_ways

pytestmark = pytest.mark.usefixtures("moto_table")  # the shared token lives in the table
DAY = 24 * 3600


def test_listing_walks_every_window_and_page_without_gaps(wecom_sim: SimulatorHandle) -> None:
    sim = wecom_sim.url
    requests.post(f"{sim}/__sim/contacts", json={"members": ["zhangsan"]}, timeout=5).raise_for_status()
    requests.post(f"{sim}/__sim/groupmsg/pagination", json={"trailing_empty_page": True}, timeout=5)
    client = runtime.wecom_client()
    made = []
    for _ in range(3):  # codes 100 days apart: never two in one window
        made.append(contact_ways.add(client, {"type": 1, "state": "s", "user": ["zhangsan"]})["config_id"])
        requests.post(f"{sim}/__sim/clock", json={"advance": 100 * DAY}, timeout=5).raise_for_status()
    now = int(wecom_sim.state.now())
    listed = list(contact_ways.list_config_ids(client, contact_ways.LIST_FLOOR, now))
    assert sorted(listed) == sorted(made)
    windows = math.ceil((now - contact_ways.LIST_FLOOR + 1) / contact_ways.LIST_WINDOW_SECONDS)
    # the token expired while the clock moved 300 days: its first call is answered 42001 and sent again
    bodies = [c["body"] for c in calls(wecom_sim.state, "list_contact_way") if c["errcode"] == 0]
    assert len(bodies) == windows + len(made)  # one page per window, and the empty page behind each code's
    starts = sorted({(b["start_time"], b["end_time"]) for b in bodies})
    assert starts[0][0] == contact_ways.LIST_FLOOR and starts[-1][1] == now
    assert all(later[0] == earlier[1] + 1 for earlier, later in itertools.pairwise(starts))
