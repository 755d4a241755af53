"""Bucket-backed attachments: the media cache, uploads the simulator really receives, the welcome budget, 40007
recovery, campaigns, and the scheduled refresh keeping ids alive across simulated weeks.

moto serves DynamoDB and S3 in-process; the WeCom simulator answers over real HTTP. The container's media
cache is one built on the simulator's clock (in force through ``runtime.overriding``), so advancing the
simulator ages the cached ids too.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
import requests

from local.settings import DEV_DEFAULTS
from local.wecom_sim.calllog import calls
from local.wecom_sim.endpoints_welcome import issue_welcome_code
from local.wecom_sim.server import SimulatorHandle
from tests.support import campaign_deps, function_under_test, race
from wecom_bundle import runtime
from wecom_bundle.campaigns import create
from wecom_bundle.campaigns import repo as campaign_repo
from wecom_bundle.content import validate_attachments
from wecom_bundle.dynamo import client as dynamo_client
from wecom_bundle.media import cache as media
from wecom_bundle.media import repo as media_repo
from wecom_bundle.media.cache import MediaCache, MediaRef, MediaUnavailable, Settings
from wecom_bundle.validation import ValidationError
from wecom_bundle.welcome import repo as welcome_repo
from wecom_bundle.welcome.admin import WelcomeAdmin
from wecom_bundle.welcome.rules import RuleCache
from wecom_bundle.welcome.service import WelcomeService, WelcomeSettings

pytestmark = pytest.mark.usefixtures("moto_table")
BUCKET = "test-media"
HOUR = 3600
DAY = 86_400
PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 50
PDF = b"%PDF-1.4 brochure" * 20
IMAGE_REF = MediaRef("image", "welcome/banner.png")


@pytest.fixture
def sim(
    moto_table: Any,  # noqa: ARG001 - moto's S3 must be up before the bucket is filled
    wecom_sim: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SimulatorHandle]:
    """Simulator + bucket; the container's media cache lives on the simulator's clock."""
    monkeypatch.setenv("MEDIA_BUCKET", BUCKET)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="welcome/banner.png", Body=PNG, ContentType="image/png")
    s3.put_object(Bucket=BUCKET, Key="docs/brochure.pdf", Body=PDF, ContentType="application/pdf")
    requests.post(
        f"{wecom_sim.url}/__sim/contacts",
        json={
            "members": ["zhangsan"],
            "customers": [
                {"external_userid": f"wm{i}", "name": f"c{i}", "owner": "zhangsan"} for i in range(40)
            ],
        },
        timeout=5,
    ).raise_for_status()
    with runtime.overriding(media_cache=MediaCache(clock=wecom_sim.state.clock.now)):
        yield wecom_sim


def cache() -> MediaCache:
    """The container's media cache (the one on the simulator's clock)."""
    return runtime.media_cache()


class SavingWithoutWarmUp:
    """The media cache as saving a rule sees it, minus the warm-up: the rule is stored, nothing is cached."""

    def check_exist(self, attachments: Iterable[dict[str, Any]] | None) -> None:
        cache().check_exist(attachments)

    def refs_in(self, attachments: Iterable[dict[str, Any]] | None) -> list[MediaRef]:
        return media.refs_in(attachments)

    def warm(self, attachments: Iterable[dict[str, Any]] | None, client: Any) -> None:
        """Nothing is uploaded ahead of the first send."""


def admin_without_warm_up() -> WelcomeAdmin:
    return WelcomeAdmin(welcome_repo, SavingWithoutWarmUp(), runtime.wecom_client, time.time)


def sim_ms(sim: SimulatorHandle) -> Callable[[], int]:
    return lambda: int(sim.state.clock.now() * 1000)


def service(sim: SimulatorHandle, clock: Callable[[], int] | None = None) -> WelcomeService:
    """A welcome service living on the simulator's clock (deadlines and cache ages agree), or on ``clock``."""
    settings = WelcomeSettings(
        timezone="Asia/Shanghai", safety_margin_ms=1500, lease_ms=6000, log_retention_days=1
    )
    return WelcomeService(
        runtime.wecom_client(),
        RuleCache(welcome_repo.list_rules, 0.0),
        settings,
        clock=clock or sim_ms(sim),
        media=cache(),
    )


def fifteen_seconds_late(sim: SimulatorHandle, n: int) -> tuple[WelcomeService, dict[str, str]]:
    """A fresh event (its code lives 20 s at the simulator) handled by a service whose clock stands still 15 s
    after its CreateTime: 3.5 s left whatever the machine's load, too little to upload (3 s kept for the send
    plus ``MEDIA_UPLOAD_MIN_BUDGET_MS``), enough to send."""
    fresh = event(sim, n)
    frozen_ms = (int(fresh["CreateTime"]) + 15) * 1000
    return service(sim, clock=lambda: frozen_ms), fresh


def event(sim: SimulatorHandle, n: int, age_s: float = 0.0) -> dict[str, str]:
    create_time = int(sim.state.clock.now() - age_s)
    with sim.state.lock:
        code = issue_welcome_code(sim.state, "zhangsan", f"wm{n}", create_time)
    return {
        "ToUserName": DEV_DEFAULTS["WECOM_CORP_ID"],
        "ChangeType": "add_external_contact",
        "UserID": "zhangsan",
        "ExternalUserID": f"wm{n}",
        "WelcomeCode": code,
        "CreateTime": str(create_time),
    }


def advance(sim: SimulatorHandle, seconds: float) -> None:
    requests.post(f"{sim.url}/__sim/clock", json={"advance": seconds}, timeout=5).raise_for_status()


def uploads(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return [c for c in calls(sim.state, "media/upload") if c["errcode"] == 0]


def image_rule(text: str | None = "Welcome!") -> dict[str, Any]:
    body: dict[str, Any] = {
        "priority": 1,
        "attachments": [{"msgtype": "image", "image": {"s3_key": IMAGE_REF.key}}],
    }
    if text:
        body["text"] = {"content": text}
    return body


def resolve(attachments: list[dict[str, Any]], **kwargs: Any) -> media.Resolution:
    return cache().resolve_attachments(attachments, runtime.wecom_client(), **kwargs)


IMAGE = [{"msgtype": "image", "image": {"s3_key": IMAGE_REF.key}}]


# ----------------------------------------------------------------------------------------------- content forms
def test_content_accepts_bucket_references() -> None:
    attachments = validate_attachments(
        [
            {"msgtype": "image", "image": {"s3_key": "a/b.png"}},
            {"msgtype": "image", "image": {"pic_s3_key": "a/b.png"}},
            {"msgtype": "video", "video": {"s3_key": "v.mp4"}},
            {"msgtype": "file", "file": {"s3_key": "f.pdf"}},
            {
                "msgtype": "miniprogram",
                "miniprogram": {"title": "t", "pic_s3_key": "m.png", "appid": "wx1", "page": "p"},
            },
        ]
    )
    assert [media.refs_in([a]) for a in attachments] == [
        [MediaRef("image", "a/b.png")],
        [MediaRef("imgurl", "a/b.png")],
        [MediaRef("video", "v.mp4")],
        [MediaRef("file", "f.pdf")],
        [MediaRef("image", "m.png")],
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"msgtype": "file", "file": {"s3_key": "x", "media_id": "y"}}, "attachments[0].file.s3_key"),
        ({"msgtype": "file", "file": {}}, "attachments[0].file.media_id"),
        (
            {"msgtype": "image", "image": {"pic_url": "https://x", "pic_s3_key": "y"}},
            "attachments[0].image.pic_s3_key",
        ),
        ({"msgtype": "image", "image": {}}, "attachments[0].image.media_id"),
    ],
)
def test_bad_references_are_rejected(body: dict[str, Any], field: str) -> None:
    """The rules across fields; a key's form is the admin model's (tests/unit/admin/test_entry_shapes.py)."""
    with pytest.raises(ValidationError) as err:
        validate_attachments([body])
    assert err.value.field == field


def test_rule_naming_a_missing_object_is_refused_and_not_stored(sim: SimulatorHandle) -> None:
    body = {"attachments": [{"msgtype": "file", "file": {"s3_key": "nope.pdf"}}], "text": {"content": "x"}}
    with pytest.raises(ValidationError, match="does not exist"):
        runtime.welcome_admin().put_rule("r1", body)
    assert welcome_repo.get_rule("r1") is None
    assert uploads(sim) == []


# ----------------------------------------------------------------------------------------------- the cache
def test_miss_uploads_multipart_that_the_simulator_receives(sim: SimulatorHandle) -> None:
    resolution = resolve([*IMAGE, {"msgtype": "file", "file": {"s3_key": "docs/brochure.pdf"}}])
    image_id = resolution.attachments[0]["image"]["media_id"]
    file_id = resolution.attachments[1]["file"]["media_id"]
    assert resolution.attachments[0] == {"msgtype": "image", "image": {"media_id": image_id}}
    stored_image, stored_file = sim.state.media[image_id], sim.state.media[file_id]
    assert (stored_image.type, stored_image.data, stored_image.filename) == ("image", PNG, "banner.png")
    assert stored_image.content_type == "image/png"
    assert (stored_file.type, stored_file.data, stored_file.filename) == ("file", PDF, "brochure.pdf")
    assert [c["query"]["type"] for c in uploads(sim)] == ["image", "file"]
    item = media_repo.get_media("image", BUCKET, IMAGE_REF.key)
    assert item is not None and item["media_id"] == image_id
    assert item["refresh_at"] == item["created_at"] + Settings.from_env().refresh_after_s
    assert "lease_owner" not in item


def test_hit_uploads_nothing_and_memory_spares_dynamodb(sim: SimulatorHandle) -> None:
    first = resolve(IMAGE).attachments
    cache().forget()  # a cold container: DynamoDB answers
    assert resolve(IMAGE).attachments == first
    with dynamodb_calls() as seen:  # the layer's own client, watched through a botocore event hook
        assert resolve(IMAGE).attachments == first
    assert seen == [], "warm container read DynamoDB"
    assert len(uploads(sim)) == 1


@contextmanager
def dynamodb_calls() -> Iterator[list[str]]:
    """The operations the layer's DynamoDB client sends while the block runs."""
    events = dynamo_client.client().meta.events
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(model.name)

    events.register("before-call.dynamodb", record, unique_id="test-media-dynamodb-calls")
    try:
        yield seen
    finally:
        events.unregister("before-call.dynamodb", unique_id="test-media-dynamodb-calls")


def test_due_but_usable_id_is_used_and_too_old_one_is_replaced(sim: SimulatorHandle) -> None:
    first = resolve(IMAGE).used[IMAGE_REF]
    advance(sim, 61 * HOUR)  # due for the scheduled refresh, still usable by senders
    assert resolve(IMAGE).used[IMAGE_REF] == first
    advance(sim, 10 * HOUR)  # 71 h: past MEDIA_MAX_AGE_SECONDS, a sender uploads
    second = resolve(IMAGE).used[IMAGE_REF]
    assert second != first and len(uploads(sim)) == 2


def test_no_budget_means_no_upload(sim: SimulatorHandle) -> None:
    with pytest.raises(MediaUnavailable) as err:
        resolve(IMAGE, time_left=lambda: 1.0)
    assert err.value.reason == "no_budget"
    dropped = resolve(IMAGE, time_left=lambda: 1.0, drop_unavailable=True)
    assert dropped.attachments == [] and dropped.dropped[0].ref == IMAGE_REF
    assert uploads(sim) == []


@pytest.mark.usefixtures("sim")
def test_missing_object_at_send_time() -> None:
    with pytest.raises(MediaUnavailable) as err:
        resolve([{"msgtype": "file", "file": {"s3_key": "gone.pdf"}}])
    assert err.value.reason == "missing_object"


def test_pic_s3_key_is_uploaded_once_as_a_permanent_url(sim: SimulatorHandle) -> None:
    attachments = [{"msgtype": "image", "image": {"pic_s3_key": IMAGE_REF.key}}]
    url = resolve(attachments).attachments[0]["image"]["pic_url"]
    assert url.startswith(sim.url) and requests.get(url, timeout=5).content == PNG
    advance(sim, 30 * DAY)
    cache().forget()
    assert resolve(attachments).attachments[0]["image"]["pic_url"] == url
    assert len(calls(sim.state, "media/uploadimg")) == 1
    assert media_repo.due_media(int(sim.state.clock.now()) + 365 * DAY, 10) == []  # never due


def test_concurrent_refreshers_upload_once(sim: SimulatorHandle) -> None:
    client, settings = runtime.wecom_client(), Settings.from_env()
    ids = race(4, lambda _i: cache().upload(IMAGE_REF, client, settings).media_id)
    assert len(set(ids)) == 1
    assert len(uploads(sim)) == 1


def test_failed_upload_gives_the_lease_back(sim: SimulatorHandle) -> None:
    requests.post(
        f"{sim.url}/__sim/faults", json={"path": "media/upload", "errcode": -1, "times": 1}, timeout=5
    )
    with pytest.raises(MediaUnavailable):
        resolve(IMAGE)
    assert "lease_owner" not in (media_repo.get_media("image", BUCKET, IMAGE_REF.key) or {})
    assert resolve(IMAGE).used[IMAGE_REF]


# ----------------------------------------------------------------------------------------------- the welcome
def sent_bodies(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return [c["body"] for c in calls(sim.state, "send_welcome_msg") if c["errcode"] == 0]


def test_hot_path_does_not_upload_when_the_cache_is_fresh(sim: SimulatorHandle) -> None:
    runtime.welcome_admin().put_rule("img", image_rule())  # saving the rule warms the cache
    assert len(uploads(sim)) == 1
    cache().forget()
    result = service(sim).handle(DEV_DEFAULTS["WECOM_CORP_ID"], event(sim, 1))
    assert result.outcome == "sent"
    assert len(uploads(sim)) == 1
    (body,) = sent_bodies(sim)
    media_id = body["attachments"][0]["image"]["media_id"]
    assert sim.state.media[media_id].data == PNG


def test_upload_skipped_when_the_deadline_is_too_close(sim: SimulatorHandle) -> None:
    admin_without_warm_up().put_rule("img", image_rule())  # nothing cached yet
    late, fresh = fifteen_seconds_late(sim, 1)
    result = late.handle(DEV_DEFAULTS["WECOM_CORP_ID"], fresh)
    assert result.outcome == "sent"
    assert uploads(sim) == []
    assert sent_bodies(sim) == [
        {"welcome_code": sent_bodies(sim)[0]["welcome_code"], "text": {"content": "Welcome!"}}
    ]


def test_image_only_welcome_without_time_to_upload_fails_without_sending(sim: SimulatorHandle) -> None:
    admin_without_warm_up().put_rule("img", image_rule(text=None))
    late, fresh = fifteen_seconds_late(sim, 1)
    result = late.handle(DEV_DEFAULTS["WECOM_CORP_ID"], fresh)
    assert (result.outcome, result.rule_id) == ("failed", "img")
    assert uploads(sim) == [] and calls(sim.state, "send_welcome_msg") == []


def test_cold_cache_uploads_within_budget(sim: SimulatorHandle) -> None:
    admin_without_warm_up().put_rule("img", image_rule())
    assert service(sim).handle(DEV_DEFAULTS["WECOM_CORP_ID"], event(sim, 1)).outcome == "sent"
    assert len(uploads(sim)) == 1
    assert "media_id" in sent_bodies(sim)[0]["attachments"][0]["image"]


def test_40007_reuploads_once_and_the_welcome_goes_out(sim: SimulatorHandle) -> None:
    runtime.welcome_admin().put_rule("img", image_rule())
    with sim.state.lock:
        sim.state.media.clear()  # WeCom lost the id although our cache thinks it is fresh
    result = service(sim).handle(DEV_DEFAULTS["WECOM_CORP_ID"], event(sim, 1))
    assert result.outcome == "sent"
    assert [c["errcode"] for c in calls(sim.state, "send_welcome_msg")] == [40007, 0]
    assert len(uploads(sim)) == 2
    new_id = sent_bodies(sim)[0]["attachments"][0]["image"]["media_id"]
    assert media_repo.get_media("image", BUCKET, IMAGE_REF.key)["media_id"] == new_id


def test_welcome_with_an_s3_image_keeps_working_across_simulated_weeks(sim: SimulatorHandle) -> None:
    """The headline: the refresh runs every 4 h (as scheduled); welcomes every 3.5 days for three weeks
    never meet a 40007 and never upload on their own path."""
    runtime.welcome_admin().put_rule("img", image_rule())
    refresh = function_under_test("MediaRefreshFunction")
    welcome = service(sim)
    customer = 0
    for tick in range(1, 3 * 7 * 6 + 1):  # three weeks of 4-hour ticks
        advance(sim, 4 * HOUR)
        refresh({})
        if tick % 21 == 0:  # every 3.5 days: past the 3-day life of the previous upload
            customer += 1
            uploads_before = len(uploads(sim))
            assert welcome.handle(DEV_DEFAULTS["WECOM_CORP_ID"], event(sim, customer)).outcome == "sent"
            assert len(uploads(sim)) == uploads_before  # the welcome itself never uploaded
    assert customer == 6
    # 42001: the access token also died while the clock jumped (the client refreshes it); never a 40007
    assert {c["errcode"] for c in calls(sim.state, "send_welcome_msg")} <= {0, 42001}
    assert len(sent_bodies(sim)) == 6
    assert not [c for c in sim.state.calls if c.errcode == 40007]
    delivered = [sim.state.media[b["attachments"][0]["image"]["media_id"]] for b in sent_bodies(sim)]
    assert all(m.data == PNG for m in delivered)
    assert len({m.media_id for m in delivered}) == 6  # a fresh id each time
    # one upload per 60-hour period (+ the first): refreshed ahead, never more often than needed
    assert len(uploads(sim)) == pytest.approx(21 * 24 / 60 + 1, abs=1.5)


# ----------------------------------------------------------------------------------------------- refresh
def test_refresh_replaces_due_ids_and_leaves_fresh_ones(sim: SimulatorHandle) -> None:
    runtime.welcome_admin().put_rule("img", image_rule())
    first = media_repo.get_media("image", BUCKET, IMAGE_REF.key)["media_id"]
    assert runtime.media_refresh().run()["fresh"] == 1
    advance(sim, 60 * HOUR + 1)
    summary = runtime.media_refresh().run()
    assert (summary["referenced"], summary["refreshed"]) == (1, 1)
    assert media_repo.get_media("image", BUCKET, IMAGE_REF.key)["media_id"] != first


def test_refresh_reuploads_a_replaced_object(sim: SimulatorHandle) -> None:
    runtime.welcome_admin().put_rule("img", image_rule())
    boto3.client("s3", region_name="us-east-1").put_object(Bucket=BUCKET, Key=IMAGE_REF.key, Body=PNG + b"v2")
    assert runtime.media_refresh().run()["refreshed"] == 1
    media_id = media_repo.get_media("image", BUCKET, IMAGE_REF.key)["media_id"]
    assert sim.state.media[media_id].data == PNG + b"v2"


def test_refresh_stops_for_objects_nothing_references(sim: SimulatorHandle) -> None:
    runtime.welcome_admin().put_rule("img", image_rule())
    runtime.welcome_admin().delete_rule("img")
    advance(sim, 61 * HOUR)
    summary = runtime.media_refresh().run()
    assert (summary["referenced"], summary["refreshed"], summary["unindexed"]) == (0, 0, 1)
    assert media_repo.due_media(int(sim.state.clock.now()) + 10 * DAY, 10) == []
    assert len(uploads(sim)) == 1


@pytest.mark.usefixtures("sim")
def test_refresh_reports_missing_objects() -> None:
    welcome_repo.put_rule(
        {
            "rule_id": "r",
            "priority": 0,
            "match": {},
            "attachments": [{"msgtype": "file", "file": {"s3_key": "x.pdf"}}],
        }
    )
    assert runtime.media_refresh().run()["missing"] == 1


@pytest.mark.usefixtures("sim")
def test_new_content_holders_join_through_a_source() -> None:
    """The extension point group templates use: a source yielding WeCom-shaped attachment lists, passed in
    with the others (the wiring passes every holder's source; no module is named by a string)."""
    template = {"file": {"s3_key": "docs/brochure.pdf"}}
    wired = runtime.media_refresh()
    refresh = dataclasses.replace(
        wired,
        sources={
            **wired.sources,
            "group_templates": lambda: [[{"msgtype": k, k: v} for k, v in template.items()]],
        },
    )
    assert refresh.run()["refreshed"] == 1
    assert media_repo.get_media("file", BUCKET, "docs/brochure.pdf") is not None
    rules = wired.sources["welcome_rules"]  # another module's source, wired in by runtime
    assert list(rules()) == []


@pytest.mark.usefixtures("sim")
def test_scheduled_campaigns_are_refreshed_ahead_of_their_send() -> None:
    created = create.create_campaign(
        campaign_deps(),
        {
            "external_userid": ["wm1"],
            "attachments": [{"msgtype": "file", "file": {"s3_key": "docs/brochure.pdf"}}],
            "send_at": int(time.time()) + 7 * DAY,
        },
        None,
    )
    assert created.body["status"] == "scheduled"
    assert runtime.media_refresh().referenced() == {MediaRef("file", "docs/brochure.pdf")}


# ----------------------------------------------------------------------------------------------- campaigns
def test_campaign_with_an_s3_file(sim: SimulatorHandle) -> None:
    doc = {
        "external_userid": ["wm1", "wm2"],
        "text": {"content": "Our brochure"},
        "attachments": [{"msgtype": "file", "file": {"s3_key": "docs/brochure.pdf"}}],
    }
    created = create.create_campaign(campaign_deps(), doc, None)
    assert created.body["status"] == "active"
    (call,) = [c for c in calls(sim.state, "add_msg_template") if c["errcode"] == 0]
    media_id = call["body"]["attachments"][0]["file"]["media_id"]
    assert sim.state.media[media_id].data == PDF
    stored = campaign_repo.get_campaign(created.body["campaign_id"])
    assert stored["attachments"] == doc["attachments"]  # the reference is kept, ids are per send


def test_campaign_naming_a_missing_object_is_refused(sim: SimulatorHandle) -> None:
    doc = {"external_userid": ["wm1"], "attachments": [{"msgtype": "file", "file": {"s3_key": "no.pdf"}}]}
    with pytest.raises(ValidationError):
        create.create_campaign(campaign_deps(), doc, "key-1")
    assert campaign_repo.get_idempotency("key-1") is None
    assert calls(sim.state, "add_msg_template") == []


def test_campaign_40007_reuploads_once(sim: SimulatorHandle) -> None:
    resolve([{"msgtype": "file", "file": {"s3_key": "docs/brochure.pdf"}}])
    with sim.state.lock:
        sim.state.media.clear()
    doc = {
        "external_userid": ["wm1"],
        "attachments": [{"msgtype": "file", "file": {"s3_key": "docs/brochure.pdf"}}],
    }
    assert create.create_campaign(campaign_deps(), doc, None).body["status"] == "active"
    assert [c["errcode"] for c in calls(sim.state, "add_msg_template")] == [40007, 0]
