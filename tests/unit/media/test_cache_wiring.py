"""The container's media cache is one object that the wiring builds and hands to every user.

Why: the cache's memory is per container, and its clock is a collaborator. So
``runtime.media_cache`` builds one ``MediaCache`` per container, every user
(welcome, rule saving, campaigns, group templates, the refresh) receives that instance, a cold start
(``runtime.reset_client``) forgets its memory, and a test installs one on its own clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from wecom_bundle import runtime
from wecom_bundle.media.cache import MediaCache, MediaRef, MediaUnavailable, Settings

REF = MediaRef("image", "welcome/banner.png")
IMAGE = [{"msgtype": "image", "image": {"s3_key": REF.key}}]
SETTINGS = Settings(refresh_after_s=100, max_age_s=200, upload_min_s=2.5)


class FakeRepo:
    """The media repository's read side: one stored id, and a count of reads."""

    def __init__(self, media_id: str, created_at: int) -> None:
        self.item: dict[str, Any] = {"media_id": media_id, "created_at": created_at, "etag": "e1"}
        self.reads = 0

    def get_media(self, kind: str, bucket: str, key: str) -> dict[str, Any]:  # noqa: ARG002
        self.reads += 1
        return dict(self.item)


class FakeBucket:
    """The bucket's name only: these tests never read an object."""

    @staticmethod
    def bucket_name() -> str:
        return "test-media"


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fake_cache(clock: FakeClock, repo: FakeRepo) -> MediaCache:
    return MediaCache(repo=repo, bucket=FakeBucket(), clock=clock, settings=lambda: SETTINGS)


@pytest.fixture
def installed() -> Iterator[tuple[MediaCache, FakeRepo, FakeClock]]:
    """A cache on fakes installed as the container's; the previous one is put back afterwards."""
    clock, repo = FakeClock(1_000), FakeRepo("m1", 1_000)
    cache = fake_cache(clock, repo)
    with runtime.overriding(media_cache=cache):
        yield cache, repo, clock


def test_the_cache_ages_ids_on_the_clock_it_was_given() -> None:
    clock, repo = FakeClock(1_000), FakeRepo("m1", 1_000)
    cache = fake_cache(clock, repo)
    assert cache.resolve_attachments(IMAGE, client=None).used == {REF: "m1"}  # type: ignore[arg-type]
    clock.now += 250  # older than max_age_s on this clock only: the cache would upload, with no time left
    with pytest.raises(MediaUnavailable) as err:
        cache.resolve_attachments(IMAGE, client=None, time_left=lambda: 1.0)  # type: ignore[arg-type]
    assert err.value.reason == "no_budget"


def test_memory_spares_the_repository_until_a_cold_start(
    installed: tuple[MediaCache, FakeRepo, FakeClock],
) -> None:
    cache, repo, _ = installed
    for _ in range(3):
        assert cache.resolve_attachments(IMAGE, client=None).used == {REF: "m1"}  # type: ignore[arg-type]
    assert repo.reads == 1
    runtime.reset_client()  # a cold start (reset_layer_state and the SnapStart hooks call it)
    assert runtime.media_cache() is cache
    cache.resolve_attachments(IMAGE, client=None)  # type: ignore[arg-type]
    assert repo.reads == 2


@pytest.mark.usefixtures("wecom_sim")
def test_every_user_receives_the_containers_one_cache(
    installed: tuple[MediaCache, FakeRepo, FakeClock],
) -> None:
    cache = installed[0]
    users = [
        runtime.welcome_service().media,
        runtime.welcome_admin().media,
        runtime.campaign_deps().media,
        runtime.sync_deps().campaigns.media,
        runtime.group_template_media().cache,
        runtime.group_templates().media.cache,
        runtime.media_refresh().cache,
    ]
    assert all(user is cache for user in users)


@pytest.mark.usefixtures("wecom_sim")
def test_installing_a_cache_rewires_the_services_built_before(
    installed: tuple[MediaCache, FakeRepo, FakeClock],
) -> None:
    built = runtime.welcome_admin()
    replacement = fake_cache(FakeClock(0), FakeRepo("m2", 0))
    with runtime.overriding(media_cache=replacement):
        assert runtime.welcome_admin() is not built
        assert runtime.welcome_admin().media is replacement
        assert runtime.media_refresh().cache is replacement
    assert runtime.welcome_admin().media is installed[0]  # the block's end puts the previous one back
