"""Operator actions on welcome rules and the welcome log (called by the admin API's thin routes).

``WelcomeAdmin`` receives its collaborators from ``runtime.welcome_admin()``: the welcome repository, the media
cache's operations (a rule's bucket objects must exist; saving warms their WeCom ids), the WeCom client and a
clock. It raises domain errors (``NotFound``, ``ValidationError``); the admin function maps them to HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, cast

from wecom_bundle import config, cursors
from wecom_bundle.dynamo.keys import welcome_log_month
from wecom_bundle.validation import NotFound, ValidationError, page_size, parse_timestamp
from wecom_bundle.welcome.rules import parse_rule, rule_warnings

if TYPE_CHECKING:
    from datetime import tzinfo

    from wecom_bundle.dynamo.table import Page
    from wecom_bundle.wecom.client import WeComClient
    from wecom_bundle.welcome.repo import WelcomeRecord

PAGING = ("cursor", "limit")
LOG_MONTHS_BACK = 7  # the log keeps 180 days by default: never walk further back than that


class RuleRepo(Protocol):
    """The welcome repository's rule and log functions (``wecom_bundle.welcome.repo``)."""

    def put_rule(self, rule: dict[str, Any]) -> None: ...

    def get_rule(self, rule_id: str) -> dict[str, Any] | None: ...

    def list_rules(self) -> list[dict[str, Any]]: ...

    def delete_rule(self, rule_id: str) -> bool: ...

    def query_welcomes(
        self,
        by: str,
        value: str,
        *,
        since: int | None,
        limit: int,
        cursor: str | None,
        equals: dict[str, Any] | None = None,
    ) -> Page: ...


class RuleMedia(Protocol):
    """What saving a rule needs of the media cache (``wecom_bundle.media.cache.MediaCache``)."""

    def check_exist(self, attachments: Iterable[dict[str, Any]] | None) -> None: ...

    def refs_in(self, attachments: Iterable[dict[str, Any]] | None) -> list[Any]: ...

    def warm(self, attachments: Iterable[dict[str, Any]] | None, client: WeComClient) -> None: ...


# ------------------------------------------------------------------------------------------------ log helpers
def parse_since(raw: str | None, zone: tzinfo) -> int | None:
    """``since`` of the welcome log: absent, or a timestamp (see ``validation.parse_timestamp``; without an
    offset, read in the business time zone ``zone``)."""
    return None if raw in (None, "") else parse_timestamp(raw, "since", zone)


MONTH = re.compile(r"^(19[7-9]\d|[2-9]\d\d\d)-(0[1-9]|1[0-2])$")  # the range parse_timestamp accepts
LAST_LOGGED_TS = 9_999_999_999  # create_time sort keys are 10 digits: nothing is logged after 2286


def _month_cursor(scope: str, month: str, inner: str | None) -> str:
    return cursors.seal(scope, {"m": month, "k": inner})


def _open_month_cursor(scope: str, cursor: str) -> tuple[str, str | None]:
    """A signed cursor of this listing; its month is checked again (a cursor outlives code changes)."""
    doc = cursors.unseal(scope, cursor)
    month, inner = (doc.get("m"), doc.get("k")) if isinstance(doc, dict) else (None, None)
    if not isinstance(month, str) or not MONTH.match(month) or not isinstance(inner, str | None):
        raise ValidationError("cursor", "is not a cursor this API gave out for this listing")
    return month, inner


def _previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def _strip(record: WelcomeRecord) -> dict[str, Any]:
    """A welcome log entry as operators see it (the claim's bookkeeping and the TTL left out)."""
    hidden = {"owner", "lease_until_ms", "claimed_at_ms", "expires_at", "change_type"}
    return {key: value for key, value in record.items() if key not in hidden}


class WelcomeAdmin:
    """Rules (create/replace, read, list, delete) and the welcome log's listing."""

    def __init__(
        self,
        repo: RuleRepo,
        media: RuleMedia,
        wecom_client: Callable[[], WeComClient],
        clock: Callable[[], float],
        zone: Callable[[], tzinfo] = config.business_zone,
    ) -> None:
        self.repo = repo
        self.media = media
        self.wecom_client = wecom_client  # asked per save: the client changes when the secret rotates
        self.clock = clock  # epoch seconds
        self.zone = zone  # the business time zone: ``since`` without an offset is read in it

    def put_rule(self, rule_id: str, body: Any) -> tuple[dict[str, Any], bool]:
        """Create or replace a rule; answers (the rule with its ``warnings``, created)."""
        rule = parse_rule(rule_id, body, int(self.clock() * 1000))
        self.media.check_exist(rule.get("attachments"))
        existed = self.repo.get_rule(rule_id) is not None
        self.repo.put_rule(rule)
        if self.media.refs_in(rule.get("attachments")):
            self.media.warm(rule.get("attachments"), self.wecom_client())
        return {**rule, "warnings": rule_warnings(rule)}, not existed

    def get_rule(self, rule_id: str) -> dict[str, Any]:
        rule = self.repo.get_rule(rule_id)  # its form: the route's path pattern
        if rule is None:
            raise NotFound(f"welcome rule {rule_id} does not exist")
        return rule

    def list_rules(self) -> list[dict[str, Any]]:
        """All rules, highest priority first (the order in which they are tried)."""
        rules = self.repo.list_rules()
        return sorted(
            rules, key=lambda r: (-int(r.get("priority", 0)), -len(r.get("match") or {}), r["rule_id"])
        )

    def delete_rule(self, rule_id: str) -> None:
        if not self.repo.delete_rule(rule_id):
            raise NotFound(f"welcome rule {rule_id} does not exist")

    # -------------------------------------------------------------------------------------------- log
    def list_welcomes(self, params: dict[str, str]) -> dict[str, Any]:
        """Welcome outcomes newest first, by customer, member, channel and time; paginated by ``cursor``."""
        limit, since = page_size(params.get("limit")), parse_since(params.get("since"), self.zone())
        if since is not None and since > LAST_LOGGED_TS:
            return {"items": [], "cursor": None}  # a valid time no record can be newer than
        ext, user, state, cursor = (
            params.get(k) or None for k in ("external_userid", "userid", "state", "cursor")
        )
        # A cursor continues exactly the listing that gave it out: its start key lies in that partition and
        # inside that ``since`` (DynamoDB answers a start key outside the key condition with an error).
        scope = "welcomes|" + json.dumps({k: v for k, v in sorted(params.items()) if v and k not in PAGING})
        if ext or user:
            by, value = ("external_userid", ext) if ext else ("userid", user)
            equals = {k: v for k, v in (("userid", user if ext else None), ("state", state)) if v is not None}
            inner = cursors.unseal(scope, cursor) if cursor else None
            if not isinstance(inner, str | None):
                raise ValidationError("cursor", "is not a cursor this API gave out for this listing")
            page = self.repo.query_welcomes(
                by, str(value), since=since, limit=limit, cursor=inner, equals=equals
            )
            return {
                "items": [_strip(cast("WelcomeRecord", i)) for i in page.items],
                "cursor": page.cursor and cursors.seal(scope, page.cursor),
            }
        return self._list_by_month(scope, limit, since, state, cursor)

    def _list_by_month(
        self, scope: str, limit: int, since: int | None, state: str | None, cursor: str | None
    ) -> dict[str, Any]:
        """No customer or member given: walk the month partitions from the newest back to ``since``."""
        month, inner = (
            _open_month_cursor(scope, cursor) if cursor else (welcome_log_month(int(self.clock())), None)
        )
        oldest = welcome_log_month(since) if since is not None else None
        items: list[dict[str, Any]] = []
        for _ in range(LOG_MONTHS_BACK):
            page = self.repo.query_welcomes(
                "month",
                month,
                since=since,
                limit=limit - len(items),
                cursor=inner,
                equals={"state": state} if state is not None else None,
            )
            items.extend(_strip(cast("WelcomeRecord", i)) for i in page.items)
            if page.cursor:
                return {"items": items, "cursor": _month_cursor(scope, month, page.cursor)}
            if month == oldest:
                break
            month, inner = _previous_month(month), None
            if len(items) >= limit:
                return {"items": items, "cursor": _month_cursor(scope, month, None)}
        return {"items": items, "cursor": None}
