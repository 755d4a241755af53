"""A campaign's ``status``: the values the campaign item, its status index and the admin API carry.

``scheduled`` waits for ``send_at``; ``creating`` has tasks still to create (a send in progress, or one to
resume); ``active`` has every task created and is synced; ``completed`` is synced to the end; ``cancelled``
was cancelled by an operator; ``failed`` had every chunk refused by WeCom.
"""

from __future__ import annotations

from enum import StrEnum


class CampaignStatus(StrEnum):
    SCHEDULED = "scheduled"
    CREATING = "creating"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
