"""One customer's history for operators: welcomes, every mass message synced for them, and the cap.

Why a service of its own: the answer joins three sources, each by key (the welcome log's by-customer index,
the customer's result-row index, the counter items), so support can answer "what has this customer received
from us?" without reading campaign after campaign. A customer never seen answers empty lists and a full
quota: the product may simply not have synced anything for them yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wecom_bundle import cursors
from wecom_bundle.customers.quota import QuotaReader
from wecom_bundle.validation import ValidationError, page_size
from wecom_bundle.wecom.groupmsg import RESULT_STATUS_NAMES as STATUS_NAMES

if TYPE_CHECKING:
    from wecom_bundle.customers.repo import CustomerRepo

WELCOMES_SHOWN = 100  # the newest welcomes (a customer is welcomed once per member who adds them)


def _message(row: dict[str, Any]) -> dict[str, Any]:
    """A result row as operators see it (only single tasks have customer rows: ``chat_type`` single)."""
    return {
        "campaign_id": row.get("campaign_id"),
        "msgid": row["msgid"],
        "userid": row["userid"],
        "status": STATUS_NAMES.get(int(row.get("status") or 0), "unsent"),
        "send_time": row.get("send_time"),
        "chat_type": "single",
    }


class CustomerHistory:
    """``GET /admin/customers/{external_userid}``: ``repo`` is ``customers.repo``, ``welcomes(id, limit)``
    lists the customer's welcome log as ``/admin/welcomes`` shows it, ``clock`` gives epoch seconds."""

    def __init__(
        self,
        repo: CustomerRepo,
        quota: QuotaReader,
        welcomes: Callable[[str, int], list[dict[str, Any]]],
        clock: Callable[[], float],
    ) -> None:
        self.repo = repo
        self.quota = quota
        self.welcomes = welcomes
        self.clock = clock

    def view(self, external_userid: str, params: dict[str, str]) -> dict[str, Any]:
        """The customer's welcomes (newest first), one page of mass messages (newest first) and the quota."""
        limit, cursor = page_size(params.get("limit")), params.get("cursor") or None
        scope = f"customers|{external_userid}"  # a cursor continues this customer's listing only
        inner = cursors.unseal(scope, cursor) if cursor else None
        if not isinstance(inner, str | None):
            raise ValidationError("cursor", "is not a cursor this API gave out for this listing")
        page = self.repo.customer_messages(external_userid, limit=limit, cursor=inner)
        return {
            "external_userid": external_userid,
            "welcomes": self.welcomes(external_userid, WELCOMES_SHOWN),
            "mass_messages": [_message(row) for row in page.items],
            "cursor": page.cursor and cursors.seal(scope, page.cursor),
            "quota": self.quota.quota(external_userid, int(self.clock())),
        }
