"""What the result-sync services work with, passed in: repositories, the queue, the WeCom client, page size,
clock and sleep.

Why a value passed in instead of module globals: the wiring (``runtime``) builds one per container, and a
test builds its own (pages of two rows, a repository whose writes fail, a clock it advances) without
patching any module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wecom_bundle import config
from wecom_bundle.customers import repo as customers_repo
from wecom_bundle.result_sync.budget import Budget

if TYPE_CHECKING:
    from wecom_bundle.campaigns.deps import CampaignDeps
    from wecom_bundle.campaigns.repo import CampaignRepo
    from wecom_bundle.customers.repo import CustomerRepo
    from wecom_bundle.result_sync.queue import SyncMessage
    from wecom_bundle.result_sync.repo import SyncRepo
    from wecom_bundle.wecom.client import WeComClient

PAGE_LIMIT = 1000  # rows per get_groupmsg_task / get_groupmsg_send_result page (WeCom's maximum)


@dataclass(frozen=True)
class SyncDeps:
    """The collaborators of the result sync.

    ``repo`` is ``result_sync.repo`` (or any object with its functions: ``SyncRepo``); ``campaigns`` the campaign
    services' collaborators (their repository holds the msgid registry, and ingestion asks the campaigns'
    repair about unknown tasks); ``send_messages`` queues passes (``queue.send``: answers the refused ones);
    ``customers`` keeps each customer's counters (``customers.repo``) in ``customer_timezone``'s calendar.
    """

    repo: SyncRepo
    campaigns: CampaignDeps
    send_messages: Callable[[list[SyncMessage]], list[SyncMessage]]
    wecom: Callable[[], WeComClient]
    page_limit: int = PAGE_LIMIT
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    customers: CustomerRepo = customers_repo
    customer_timezone: Callable[[], str] = config.welcome_timezone

    @property
    def campaign_repo(self) -> CampaignRepo:
        return self.campaigns.repo

    def budget(self, seconds: float, *, reserve_s: float = 0.0) -> Budget:
        """A run's or a pass's budget on this clock, backing off with this sleep."""
        return Budget(seconds, reserve_s=reserve_s, clock=self.clock, sleep=self.sleep)
