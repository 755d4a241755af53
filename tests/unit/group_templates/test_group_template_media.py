"""Bucket-backed media in group welcome templates: WeCom stores a template with the media id we sent, so the
scheduled refresh must edit it with fresh ids before the old one expires.

moto serves DynamoDB and S3 in-process; the WeCom simulator answers over real HTTP and reports, through its
control API, whether a stored template holds an expired id. The container's media cache is one on the
simulator's clock (in force through ``runtime.overriding``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.wecom_sim.calllog import calls
from local.wecom_sim.server import SimulatorHandle
from tests.support import call_json, function_under_test
from tests.unit.media.test_media import BUCKET, DAY, HOUR, PDF, PNG, advance, uploads
from wecom_bundle import runtime
from wecom_bundle.group_templates import media as group_template_media
from wecom_bundle.group_templates import repo
from wecom_bundle.media import repo as media_repo
from wecom_bundle.media.cache import MediaCache, MediaRef

pytestmark = pytest.mark.usefixtures("moto_table")
BASE = "/admin/group-welcome-templates"
IMAGE_KEY = "welcome/banner.png"
FILE_KEY = "docs/brochure.pdf"
IMAGE_BODY = {"text": {"content": "欢迎 %NICKNAME%"}, "image": {"s3_key": IMAGE_KEY}}


@pytest.fixture
def sim(
    moto_table: Any,  # noqa: ARG001 - moto's S3 must be up before the bucket is filled
    wecom_sim: SimulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SimulatorHandle]:
    """Simulator + bucket with an image and a PDF; the container's media cache lives on the simulator's clock."""
    import boto3

    monkeypatch.setenv("MEDIA_BUCKET", BUCKET)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=IMAGE_KEY, Body=PNG, ContentType="image/png")
    s3.put_object(Bucket=BUCKET, Key=FILE_KEY, Body=PDF, ContentType="application/pdf")
    with runtime.overriding(media_cache=MediaCache(clock=wecom_sim.state.clock.now)):
        yield wecom_sim


@pytest.fixture(scope="module")
def admin() -> Any:
    return function_under_test("AdminFunction")


def _call(admin: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    parts = path.split("/")
    params = {"template_id": parts[3]} if len(parts) > 3 and parts[3] != "reconcile" else None
    return call_json(admin, method, path, body, params=params)


def _create(admin: Any, body: dict[str, Any]) -> dict[str, Any]:
    status, doc = _call(admin, "POST", BASE, body)
    assert status == 201, doc
    return doc


def _sim_templates(sim: SimulatorHandle) -> dict[str, dict[str, Any]]:
    """The simulator's control view: content, rendering, held media and whether any of it has expired."""
    answer = requests.get(f"{sim.url}/__sim/group_welcome_templates", timeout=5)
    answer.raise_for_status()
    return {t["template_id"]: t for t in answer.json()}


def _template_calls(sim: SimulatorHandle, api: str) -> list[dict[str, Any]]:
    return calls(sim.state, f"group_welcome_template/{api}")


# ----------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"image": {"s3_key": IMAGE_KEY, "media_id": "m"}}, "image.s3_key"),
        ({"image": {"pic_url": "https://x/y.png", "pic_s3_key": IMAGE_KEY}}, "image.pic_s3_key"),
        ({"file": {"s3_key": "/abs.pdf"}}, "file.s3_key"),
        ({"video": {"s3_key": "a/../b.mp4"}}, "video.s3_key"),
        ({"file": {"s3_key": "missing.pdf"}}, "file.s3_key"),
        ({"image": {"pic_s3_key": "missing.png"}}, "image.pic_s3_key"),
        (
            {
                "miniprogram": {
                    "title": "t",
                    "pic_s3_key": "no.png",
                    "pic_media_id": "m",
                    "appid": "a",
                    "page": "p",
                }
            },
            "miniprogram.pic_s3_key",
        ),
        (
            {"miniprogram": {"title": "t", "pic_s3_key": "no.png", "appid": "a", "page": "p"}},
            "miniprogram.pic_s3_key",
        ),
    ],
)
def test_bucket_forms_are_validated_before_wecom_is_called(
    admin: Any, sim: SimulatorHandle, body: dict[str, Any], field: str
) -> None:
    status, doc = _call(admin, "POST", BASE, {"text": {"content": "x"}, **body})
    assert (status, doc["error"]["field"]) == (400, field), doc
    assert calls(sim.state) == []  # neither an upload nor a template call
    assert repo.list_group_templates() == [] and repo.group_template_intents() == []


def test_edit_naming_a_missing_object_is_400_and_changes_nothing(admin: Any, sim: SimulatorHandle) -> None:
    template_id = _create(admin, IMAGE_BODY)["template_id"]
    before = repo.get_group_template(template_id)
    status, doc = _call(admin, "PUT", f"{BASE}/{template_id}", {"video": {"s3_key": "gone.mp4"}})
    assert (status, doc["error"]["field"]) == (400, "video.s3_key")
    assert repo.get_group_template(template_id) == before
    assert _template_calls(sim, "edit") == []


# ----------------------------------------------------------------------------------------------- create / edit
def test_create_sends_an_uploaded_id_and_mirrors_the_reference(admin: Any, sim: SimulatorHandle) -> None:
    started = runtime.media_cache().now()
    created = _create(admin, IMAGE_BODY)
    template_id = created["template_id"]
    held = _sim_templates(sim)[template_id]
    media_id = held["content"]["image"]["media_id"]
    assert sim.state.media[media_id].data == PNG and held["expired"] is False
    record = repo.get_group_template(template_id)
    assert record is not None and record["content"] == IMAGE_BODY  # the source, not the id
    assert set(record["wecom_media"]) == {f"image:{IMAGE_KEY}"}
    held_media = record["wecom_media"][f"image:{IMAGE_KEY}"]
    assert held_media["media_id"] == media_id
    # Taken just before the upload call (the id can only be younger): WeCom's creation second, or the one
    # before it when the call crossed a second boundary (a busy machine).
    assert started <= held_media["uploaded_at"] <= int(sim.state.media[media_id].created_at)
    assert created["image"] == {"s3_key": IMAGE_KEY} and created["wecom_media"] == record["wecom_media"]

    status, got = _call(admin, "GET", f"{BASE}/{template_id}")
    assert status == 200
    assert got["image"] == {"s3_key": IMAGE_KEY} and got["in_sync"] is True
    assert got["wecom"]["image"]["pic_url"].endswith(media_id)  # WeCom answers an image as its URL
    status, report = _call(admin, "POST", f"{BASE}/reconcile")
    assert (status, report["in_sync"], report["drift"]) == (200, True, [])


def test_miniprogram_cover_and_file_from_the_bucket(admin: Any, sim: SimulatorHandle) -> None:
    mini = {"title": "Shop", "pic_s3_key": IMAGE_KEY, "appid": "wx1", "page": "/index"}
    template_id = _create(admin, {"miniprogram": mini})["template_id"]
    cover = _sim_templates(sim)[template_id]["content"]["miniprogram"]["pic_media_id"]
    assert sim.state.media[cover].type == "image"
    status, edited = _call(admin, "PUT", f"{BASE}/{template_id}", {"file": {"s3_key": FILE_KEY}})
    assert status == 200, edited
    held = _sim_templates(sim)[template_id]
    assert sim.state.media[held["content"]["file"]["media_id"]].data == PDF
    assert list(edited["wecom_media"]) == [f"file:{FILE_KEY}"]
    assert repo.get_group_template(template_id)["content"] == {"file": {"s3_key": FILE_KEY}}  # type: ignore[index]


def test_add_and_edit_answered_40007_upload_again_once(admin: Any, sim: SimulatorHandle) -> None:
    runtime.media_cache().resolve_attachments(
        [{"msgtype": "image", "image": {"s3_key": IMAGE_KEY}}], _client()
    )
    with sim.state.lock:
        sim.state.media.clear()  # WeCom lost the id although the cache thinks it fresh
    template_id = _create(admin, IMAGE_BODY)["template_id"]
    assert [c["errcode"] for c in _template_calls(sim, "add")] == [40007, 0]
    with sim.state.lock:
        sim.state.media.clear()
    status, edited = _call(admin, "PUT", f"{BASE}/{template_id}", {"image": {"s3_key": IMAGE_KEY}})
    assert status == 200, edited
    assert [c["errcode"] for c in _template_calls(sim, "edit")] == [40007, 0]
    media_id = _sim_templates(sim)[template_id]["content"]["image"]["media_id"]
    assert edited["wecom_media"][f"image:{IMAGE_KEY}"]["media_id"] == media_id
    assert media_repo.get_media("image", BUCKET, IMAGE_KEY)["media_id"] == media_id  # type: ignore[index]
    assert len(uploads(sim)) == 3


def _client() -> Any:
    return runtime.wecom_client()


# ----------------------------------------------------------------------------------------------- refresh
@pytest.mark.usefixtures("sim")
def test_templates_are_a_refresh_source(admin: Any) -> None:
    _create(admin, IMAGE_BODY)
    _create(admin, {"file": {"s3_key": FILE_KEY}})
    assert runtime.media_refresh().referenced() == {MediaRef("image", IMAGE_KEY), MediaRef("file", FILE_KEY)}


def test_a_template_never_holds_an_expired_id_across_simulated_weeks(
    admin: Any, sim: SimulatorHandle
) -> None:
    """The headline: MediaRefreshFunction every 4 h for two weeks; at every point in time (checked just before
    and just after each run) both templates in WeCom hold ids the simulator still accepts."""
    image_id = _create(admin, IMAGE_BODY)["template_id"]
    file_id = _create(admin, {"text": {"content": "资料"}, "file": {"s3_key": FILE_KEY}})["template_id"]
    refresh = function_under_test("MediaRefreshFunction")
    repointed = 0
    for _tick in range(2 * 7 * 6):  # two weeks of 4-hour ticks
        advance(sim, 4 * HOUR)
        assert not any(t["expired"] for t in _sim_templates(sim).values())  # the worst moment: before the run
        summary = refresh({})
        assert summary["templates_failed"] == summary["templates_not_owned"] == summary["templates_gone"] == 0
        repointed += summary["templates_repointed"]
        held = _sim_templates(sim)
        assert not any(t["expired"] for t in held.values())
        for template_id in (image_id, file_id):
            record = repo.get_group_template(template_id)
            assert record is not None
            ids = {m["media_id"] for m in held[template_id]["media"]}
            assert {m["media_id"] for m in record["wecom_media"].values()} == ids  # the mirror knows
    assert not [c for c in sim.state.calls if c.errcode == 40007]
    # re-pointed once per 60-hour refresh period each (14 days → 5 periods), never on every run
    assert repointed == pytest.approx(2 * 14 * 24 / 60, abs=2)
    edits = [c for c in _template_calls(sim, "edit") if c["errcode"] == 0]
    assert len(edits) == repointed
    assert _call(admin, "POST", f"{BASE}/reconcile")[1]["in_sync"] is True


def test_refresh_leaves_fresh_templates_alone(admin: Any, sim: SimulatorHandle) -> None:
    _create(admin, IMAGE_BODY)
    _create(admin, {"text": {"content": "text only"}})
    summary = runtime.media_refresh().run()
    assert (summary["templates_current"], summary["templates_repointed"]) == (1, 0)
    assert _template_calls(sim, "edit") == []


def test_refresh_skips_and_records_foreign_and_deleted_templates(admin: Any, sim: SimulatorHandle) -> None:
    ours = _create(admin, IMAGE_BODY)["template_id"]
    gone = _create(admin, {"file": {"s3_key": FILE_KEY}})["template_id"]
    answer = requests.post(
        f"{sim.url}/__sim/group_welcome_templates", json={"text": {"content": "x"}}, timeout=5
    )
    foreign = answer.json()["template_id"]  # another app's, yet mirrored (e.g. restored by hand)
    repo.put_group_template(
        {"template_id": foreign, "content": {"file": {"s3_key": FILE_KEY}}, "updated_at_ms": 1}
    )
    with sim.state.lock:
        del sim.state.templates[gone]  # deleted in the admin console
    advance(sim, 61 * HOUR)
    summary = runtime.media_refresh().run()
    assert (summary["templates_repointed"], summary["templates_not_owned"], summary["templates_gone"]) == (
        1,
        1,
        1,
    )
    assert summary["templates_failed"] == 0
    assert repo.get_group_template(foreign)["media_refresh_error"]["errcode"] == 48002  # type: ignore[index]
    assert repo.get_group_template(gone)["media_refresh_error"]["errcode"] == 40037  # type: ignore[index]
    assert not _sim_templates(sim)[ours]["expired"]
    assert "media_refresh_error" not in (repo.get_group_template(ours) or {})


def test_refresh_40007_uploads_again_and_edits(admin: Any, sim: SimulatorHandle) -> None:
    template_id = _create(admin, IMAGE_BODY)["template_id"]
    repo.note_group_template_media(template_id, {}, repo.get_group_template(template_id)["updated_at_ms"], 0)  # type: ignore[index]
    with sim.state.lock:
        sim.state.media.clear()  # the cached id is unknown to WeCom
    assert runtime.media_refresh().run()["templates_repointed"] == 1
    assert [c["errcode"] for c in _template_calls(sim, "edit")] == [40007, 0]
    assert not _sim_templates(sim)[template_id]["expired"]


def test_an_operator_edit_racing_the_refresh_wins_in_wecom(admin: Any, sim: SimulatorHandle) -> None:
    """The operator's edit lands after the refresh read the record but before its WeCom edit: the refresh's
    mirror write finds the record changed and edits WeCom again with the operator's content."""
    template_id = _create(admin, IMAGE_BODY)["template_id"]
    advance(sim, 61 * HOUR)
    operator_edits = [{"text": {"content": "new"}, "image": {"s3_key": IMAGE_KEY}}]

    class OperatorEditsMeanwhile(group_template_media.TemplateMedia):
        """The refresh's template media: its first resolve lets the operator's edit land (once)."""

        def resolve(self, content: dict[str, Any], client: Any) -> group_template_media.Resolved:
            if operator_edits:
                runtime.group_templates().edit_template(template_id, operator_edits.pop())
            return super().resolve(content, client)

    wired = runtime.group_template_media()
    racing = OperatorEditsMeanwhile(wired.repo, wired.cache)
    refresh = dataclasses.replace(
        runtime.media_refresh(), after_refresh={"group_templates": racing.refresh_media}
    )
    assert refresh.run()["templates_repointed"] == 1
    texts = [c["body"].get("text") for c in _template_calls(sim, "edit")]
    assert texts == [{"content": "new"}, IMAGE_BODY["text"], {"content": "new"}]  # operator, refresh, refresh
    assert _sim_templates(sim)[template_id]["content"]["text"] == {"content": "new"}
    record = repo.get_group_template(template_id)
    assert record is not None and record["content"]["text"] == {"content": "new"}
    assert {m["media_id"] for m in record["wecom_media"].values()} == {
        _sim_templates(sim)[template_id]["content"]["image"]["media_id"]
    }


def test_a_template_takes_no_id_that_is_already_due(admin: Any, sim: SimulatorHandle) -> None:
    """WeCom keeps a template's id until the next refresh run: a cached id that senders may still use (61 h)
    would die before a run 4 h away could replace it, so the template gets a fresh upload."""
    runtime.media_cache().resolve_attachments(
        [{"msgtype": "image", "image": {"s3_key": IMAGE_KEY}}], _client()
    )
    advance(sim, 61 * HOUR)
    runtime.media_cache().forget()
    template_id = _create(admin, IMAGE_BODY)["template_id"]
    assert len(uploads(sim)) == 2
    (held,) = _sim_templates(sim)[template_id]["media"]
    assert held["expires_at"] - sim.state.clock.now() > 3 * DAY - 60


def test_reconcile_repair_keeps_the_bucket_reference(admin: Any, sim: SimulatorHandle) -> None:
    template_id = _create(admin, IMAGE_BODY)["template_id"]
    with sim.state.lock:
        sim.state.templates[template_id].content["text"] = {"content": "changed in WeCom"}
    status, report = _call(admin, "POST", f"{BASE}/reconcile", {"repair": True})
    assert status == 200 and [d["kind"] for d in report["drift"]] == ["content_differs"]
    record = repo.get_group_template(template_id)
    assert record is not None
    assert record["content"] == {"text": {"content": "changed in WeCom"}, "image": {"s3_key": IMAGE_KEY}}
    assert group_template_media.has_media(record["content"])


def test_template_media_state_in_the_simulator(admin: Any, sim: SimulatorHandle) -> None:
    template_id = _create(admin, IMAGE_BODY)["template_id"]
    assert _sim_templates(sim)[template_id]["expired"] is False
    advance(sim, 3 * DAY)  # no refresh ran: the id WeCom holds is dead
    (held,) = _sim_templates(sim)[template_id]["media"]
    assert (held["field"], held["expired"]) == ("image.media_id", True)
    assert _sim_templates(sim)[template_id]["expired"] is True
