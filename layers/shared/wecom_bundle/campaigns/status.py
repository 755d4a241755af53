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


class SyncState(StrEnum):
    """A msgid's ``sync_state`` on its registry item: whether the result sync still follows its task.

    ``active`` is synced on its cadence; ``done`` reached the end of the cadence; ``refused`` was refused
    outright by WeCom (an unknown msgid, no permission) and is not asked again. The customers' quota reads it
    to know whether a pending row may still turn into a send."""

    ACTIVE = "active"
    DONE = "done"
    REFUSED = "refused"


FINISHED_SYNC_STATES = frozenset({SyncState.DONE, SyncState.REFUSED})  # the task is no longer synced


class ChunkState(StrEnum):
    """A chunk intent's ``state`` (one ``add_msg_template`` call): ``pending`` before its call, ``calling``
    while one is (or may be) in flight — a repair looks for its task before calling again — then ``sent``
    with its msgid or ``failed`` with WeCom's errcode."""

    PENDING = "pending"
    CALLING = "calling"
    SENT = "sent"
    FAILED = "failed"
