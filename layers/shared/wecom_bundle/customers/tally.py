"""What one stored result row counts for its customer, and the counter changes between two versions of a row.

Why sets of row tokens instead of numbers: a counter item holds, per local day, the set of rows (a short
token of msgid and member) counted as received or refused by the cap; a count is a set's size. Adding a
token that is already there or removing one that is not changes nothing, so the result sync can apply a
row's change before writing the row, and a pass that dies in between, a redelivered message or two passes
racing over the same rows apply the same change again without counting anything twice. No transaction is
needed (they cost twice the write units), and an unchanged row changes no counter.

What counts where (``row`` as the result sync stores it, customer rows only; group-chat rows count nothing):
status 1 (sent) in the ``s`` set of its ``quota_day``, status 3 (limit reached) in the ``l`` set of its
``quota_day``, status 0 (unsent) in the customer's pending set of the UTC month its task was created
(``task_at``). The day is fixed on the row when it is stored (``counted_day``), so changing the time zone
later cannot make a removal miss.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wecom_bundle.customers.periods import local_day
from wecom_bundle.dynamo.keys import CUSTOMER_PENDING_ATTRIBUTE, customer_day_attribute
from wecom_bundle.wecom.groupmsg import RESULT_LIMIT_REACHED as LIMIT_REACHED
from wecom_bundle.wecom.groupmsg import RESULT_SENT as SENT
from wecom_bundle.wecom.groupmsg import RESULT_UNSENT as UNSENT

TOKEN_CHARS = 16


def row_token(msgid: str, userid: str) -> str:
    """A fixed-size name of one result row within its customer (64 bits: collisions are negligible among
    the few dozen rows a customer has in a month)."""
    return hashlib.blake2b(f"{msgid}\0{userid}".encode(), digest_size=TOKEN_CHARS // 2).hexdigest()


def pending_entry(token: str, msgid: str) -> str:
    """A pending-set element: the row's token and its msgid (read back to ask whether the task still runs)."""
    return f"{token}#{msgid}"


def pending_msgid(entry: str) -> str:
    return entry[TOKEN_CHARS + 1 :]


def counted_day(status: int, times: Iterable[Any], tz: str) -> str | None:
    """The local day (``YYYY-MM-DD``) a sent or capped row counts in: the first known of ``times`` (the row's
    send_time, then the member's: WeCom gives capped rows no send_time of their own). None for other rows."""
    if status not in (SENT, LIMIT_REACHED):
        return None
    at = next((int(t) for t in times if t), None)
    return None if at is None else local_day(at, tz).isoformat()


def utc_month(at: int) -> str:
    return datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m")


# (external_userid, "QUOTA" | "PENDING", month, attribute, element)
Entry = tuple[str, str, str, str, str]


def entries(row: dict[str, Any] | None) -> set[Entry]:
    """What a stored row counts (nothing for None, group-chat rows and rows stored without the fields)."""
    if not row or not row.get("external_userid"):
        return set()
    ext, status = str(row["external_userid"]), int(row.get("status") or 0)
    token = row_token(str(row["msgid"]), str(row["userid"]))
    day = row.get("quota_day")
    if status in (SENT, LIMIT_REACHED) and day:
        kind = "s" if status == SENT else "l"
        return {(ext, "QUOTA", str(day)[:7], customer_day_attribute(kind, str(day)), token)}
    if status == UNSENT and row.get("task_at"):
        month = utc_month(int(row["task_at"]))
        return {(ext, "PENDING", month, CUSTOMER_PENDING_ATTRIBUTE, pending_entry(token, str(row["msgid"])))}
    return set()


@dataclass
class ItemChange:
    """The set elements to add to and remove from one counter item, by attribute."""

    external_userid: str
    kind: str  # QUOTA | PENDING
    month: str
    add: dict[str, set[str]] = field(default_factory=dict)
    delete: dict[str, set[str]] = field(default_factory=dict)


def changes(pairs: Iterable[tuple[dict[str, Any] | None, dict[str, Any]]]) -> list[ItemChange]:
    """The counter changes that take the stored rows (``old``, None when new) to ``new``: one per item."""
    items: dict[tuple[str, str, str], ItemChange] = {}
    for old, new in pairs:
        before, after = entries(old), entries(new)
        for entry, side in [(e, "delete") for e in before - after] + [(e, "add") for e in after - before]:
            ext, kind, month, attribute, element = entry
            item = items.setdefault((ext, kind, month), ItemChange(ext, kind, month))
            getattr(item, side).setdefault(attribute, set()).add(element)
    return list(items.values())
