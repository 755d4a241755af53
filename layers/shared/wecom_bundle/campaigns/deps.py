"""What the campaign services work with, passed in: repositories, the WeCom client, clock, sleep and sizes.

Why a value passed to every service function instead of module globals: the wiring (``runtime``) builds
one per container, and a test builds its own (a repository with a fault injected, no sleeping between
retries, chunks of two recipients) without patching any module. Nothing here is imported on the callback's
hot path.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wecom_bundle import config
from wecom_bundle.campaigns import limits

if TYPE_CHECKING:
    from datetime import tzinfo

    from wecom_bundle.campaigns.cap import CapCheck
    from wecom_bundle.campaigns.reminder_repo import ReminderRepo
    from wecom_bundle.campaigns.repo import CampaignRepo
    from wecom_bundle.media.cache import MediaCache
    from wecom_bundle.result_sync.repo import SyncRepo
    from wecom_bundle.wecom.client import WeComClient


def epoch_seconds() -> int:
    return int(time.time())


@dataclass(frozen=True)
class CampaignDeps:
    """The collaborators of the campaign services.

    ``repo``, ``reminders`` and ``sync_repo`` are the repositories (``campaigns.repo``,
    ``campaigns.reminder_repo``, ``result_sync.repo``: the modules, or any object with their functions, as
    their Protocols say);
    ``media`` is the container's media cache (bucket objects must exist; sends resolve their ids);
    ``wecom`` answers the container's WeCom client when a call is about to be made (building it costs a
    token fetch, which a validation error must not pay); ``cap`` answers the per-customer cap
    (``campaigns.cap.CapCheck``) when a preview or a ``skip_capped`` create needs it (a create without the
    flag never builds it); ``zone`` answers the business time zone a ``send_at`` without an offset is read in.
    """

    repo: CampaignRepo
    reminders: ReminderRepo
    sync_repo: SyncRepo
    media: MediaCache
    wecom: Callable[[], WeComClient]
    cap: Callable[[], CapCheck]
    now: Callable[[], int] = epoch_seconds
    sleep: Callable[[float], None] = time.sleep
    chunk_size: int = limits.CHUNK_SIZE
    part_size: int = limits.PART_SIZE
    zone: Callable[[], tzinfo] = config.business_zone

    def backoff(self, attempt: int) -> None:
        """Wait before retry ``attempt`` (0-based): the configured pause, with ±20 % jitter."""
        pause = limits.BACKOFF_S[min(attempt, len(limits.BACKOFF_S) - 1)]
        self.sleep(pause * (0.8 + 0.4 * random.random()))  # noqa: S311
