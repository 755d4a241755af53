"""Bucket-backed attachments through the whole local stack: a file put into the stack's bucket (moto S3),
a welcome rule saved over HTTP, MediaRefreshFunction fired as the scheduler would, and encrypted callbacks
from the simulator while its clock runs through two weeks.

The stack runs in this process: its container's media cache is one on the simulator's clock (installed with
``runtime.overriding``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import pytest
import requests

from wecom_bundle import runtime
from wecom_bundle.media.cache import MediaCache

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6]
HOUR = 3600
IMAGE = b"\x89PNG\r\n\x1a\n" + b"e2e-pixels" * 40
KEY = f"welcome/{RUN}/banner.png"


@pytest.fixture
def stack(local_stack: Any) -> Iterator[Any]:
    requests.post(f"{local_stack.simulator.url}/__sim/reset", timeout=5).raise_for_status()
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT"],
        region_name=os.environ["AWS_REGION"],
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )
    s3.put_object(Bucket=os.environ["MEDIA_BUCKET"], Key=KEY, Body=IMAGE, ContentType="image/png")
    with runtime.overriding(media_cache=MediaCache(clock=local_stack.simulator.state.clock.now)):
        yield local_stack


def _calls(stack: Any, path: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{stack.simulator.url}/__sim/calls", params={"path": path}, timeout=5)
    return answer.json()


def _advance(stack: Any, seconds: int) -> None:
    requests.post(
        f"{stack.simulator.url}/__sim/clock", json={"advance": seconds}, timeout=5
    ).raise_for_status()


def test_health_and_bucket_are_up(stack: Any) -> None:
    assert requests.get(f"{stack.api_url}/__local/health", timeout=5).status_code == 200
    assert os.environ["MEDIA_BUCKET"] == "local-mediabucket"


def test_missing_object_is_a_400_over_http(stack: Any) -> None:
    body = {
        "text": {"content": "x"},
        "attachments": [{"msgtype": "file", "file": {"s3_key": f"{RUN}/no.pdf"}}],
    }
    answer = requests.put(f"{stack.api_url}/admin/welcome-rules/missing{RUN}", json=body, timeout=5)
    assert answer.status_code == 400 and "does not exist" in answer.text
    assert requests.get(f"{stack.api_url}/admin/welcome-rules/missing{RUN}", timeout=5).status_code == 404


def test_s3_image_welcome_across_simulated_weeks(stack: Any) -> None:
    rule = {
        "priority": 100,
        "match": {"state": f"media{RUN}"},
        "text": {"content": "Welcome!"},
        "attachments": [{"msgtype": "image", "image": {"s3_key": KEY}}],
    }
    answer = requests.put(f"{stack.api_url}/admin/welcome-rules/media{RUN}", json=rule, timeout=10)
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["attachments"] == rule["attachments"]  # operators see the reference, not an id
    delivered = 0
    for tick in range(1, 2 * 7 * 6 + 1):  # two weeks of the 4-hour schedule
        _advance(stack, 4 * HOUR)
        invoked = requests.post(f"{stack.api_url}/__local/invoke/MediaRefreshFunction", data=b"", timeout=30)
        assert invoked.status_code == 200, invoked.text
        if tick % 21 == 0:  # every 3.5 days
            delivered += 1
            pushed = requests.post(
                f"{stack.simulator.url}/__sim/callbacks/add_external_contact",
                json={"userid": "zhangsan", "external_userid": f"wm{delivered}{RUN}", "state": f"media{RUN}"},
                timeout=30,
            )
            assert pushed.json()["delivered"], pushed.text
    welcomes = requests.get(f"{stack.simulator.url}/__sim/welcomes", timeout=5).json()
    images = [w["body"]["attachments"][0]["image"]["media_id"] for w in welcomes]
    assert len(images) == delivered == 4 and len(set(images)) == 4
    for media_id in images:
        assert requests.get(f"{stack.simulator.url}/__sim/media/{media_id}", timeout=5).content == IMAGE
    assert not [c for c in _calls(stack, "send_welcome_msg") if c["errcode"] == 40007]
    assert not [c for c in _calls(stack, "") if c["errcode"] == 40007]


def test_s3_image_group_template_stays_valid_across_a_simulated_week(stack: Any) -> None:
    """A group welcome template is stored in WeCom with our id: the scheduled refresh edits it in time."""
    body = {"text": {"content": "欢迎 %NICKNAME%"}, "image": {"s3_key": KEY}}
    answer = requests.post(f"{stack.api_url}/admin/group-welcome-templates", json=body, timeout=10)
    assert answer.status_code == 201, answer.text
    template_id = answer.json()["template_id"]
    repointed = 0
    for _tick in range(7 * 6):  # one week of the 4-hour schedule
        _advance(stack, 4 * HOUR)
        invoked = requests.post(f"{stack.api_url}/__local/invoke/MediaRefreshFunction", data=b"", timeout=30)
        assert invoked.status_code == 200, invoked.text
        repointed += invoked.json()["templates_repointed"]
        held = requests.get(f"{stack.simulator.url}/__sim/group_welcome_templates", timeout=5).json()
        assert [t["expired"] for t in held if t["template_id"] == template_id] == [False]
    assert repointed >= 2
    got = requests.get(f"{stack.api_url}/admin/group-welcome-templates/{template_id}", timeout=10).json()
    assert got["image"] == {"s3_key": KEY} and got["in_sync"] is True
    assert requests.delete(f"{stack.api_url}/admin/group-welcome-templates/{template_id}", timeout=10).ok
