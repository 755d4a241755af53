"""Operator actions on welcome rules and the welcome log (called by the admin API's thin routes)."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from typing import Any

from wecom_bundle import media, runtime, storage
from wecom_bundle.validation import NotFound, ValidationError, parse_limit, parse_timestamp
from wecom_bundle.welcome_rules import parse_rule, validate_rule_id

LOG_MONTHS_BACK = 7  # the log keeps 180 days by default: never walk further back than that


def put_rule(rule_id: str, body: Any) -> tuple[dict[str, Any], bool]:
    """Create or replace a rule; answers (rule, created)."""
    rule = parse_rule(rule_id, body, int(time.time() * 1000))
    media.check_exist(rule.get("attachments"))
    existed = storage.get_rule(rule_id) is not None
    storage.put_rule(rule)
    if media.refs_in(rule.get("attachments")):
        media.warm(rule.get("attachments"), runtime.wecom_client())
    return rule, not existed


def get_rule(rule_id: str) -> dict[str, Any]:
    rule = storage.get_rule(validate_rule_id(rule_id))
    if rule is None:
        raise NotFound(f"welcome rule {rule_id} does not exist")
    return rule


def list_rules() -> list[dict[str, Any]]:
    """All rules, highest priority first (the order in which they are tried)."""
    rules = storage.list_rules()
    return sorted(rules, key=lambda r: (-int(r.get("priority", 0)), -len(r.get("match") or {}), r["rule_id"]))


def delete_rule(rule_id: str) -> None:
    if not storage.delete_rule(validate_rule_id(rule_id)):
        raise NotFound(f"welcome rule {rule_id} does not exist")


# ------------------------------------------------------------------------------------------------ log
def parse_since(raw: str | None) -> int | None:
    """``since`` of the welcome log: absent, or a timestamp (see ``validation.parse_timestamp``)."""
    return None if raw in (None, "") else parse_timestamp(raw, "since")


def _month_cursor(month: str, inner: str | None) -> str:
    raw = json.dumps({"m": month, "k": inner}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _open_month_cursor(cursor: str) -> tuple[str, str | None]:
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        month, inner = str(doc["m"]), doc.get("k")
        datetime.strptime(month, "%Y-%m")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError("cursor", "is not a cursor this API gave out") from exc
    return month, inner


def _previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def _strip(record: dict[str, Any]) -> dict[str, Any]:
    hidden = {"owner", "lease_until_ms", "claimed_at_ms", "expires_at", "change_type"}
    return {key: value for key, value in record.items() if key not in hidden}


def list_welcomes(params: dict[str, str]) -> dict[str, Any]:
    """Welcome outcomes newest first, by customer, member, channel and time; paginated by ``cursor``."""
    limit, since = parse_limit(params.get("limit")), parse_since(params.get("since"))
    ext, user, state, cursor = (
        params.get(k) or None for k in ("external_userid", "userid", "state", "cursor")
    )
    if ext or user:
        by, value = ("external_userid", ext) if ext else ("userid", user)
        equals = {k: v for k, v in (("userid", user if ext else None), ("state", state)) if v is not None}
        try:
            page = storage.query_welcomes(
                by, str(value), since=since, limit=limit, cursor=cursor, equals=equals
            )
        except ValueError as exc:
            raise ValidationError("cursor", "is not a cursor this API gave out") from exc
        return {"items": [_strip(i) for i in page.items], "cursor": page.cursor}
    return _list_by_month(limit, since, state, cursor)


def _list_by_month(limit: int, since: int | None, state: str | None, cursor: str | None) -> dict[str, Any]:
    """No customer or member given: walk the month partitions from the newest back to ``since``."""
    month, inner = (
        _open_month_cursor(cursor) if cursor else (storage.welcome_log_month(int(time.time())), None)
    )
    oldest = storage.welcome_log_month(since) if since is not None else None
    items: list[dict[str, Any]] = []
    for _ in range(LOG_MONTHS_BACK):
        try:
            page = storage.query_welcomes(
                "month",
                month,
                since=since,
                limit=limit - len(items),
                cursor=inner,
                equals={"state": state} if state is not None else None,
            )
        except ValueError as exc:
            raise ValidationError("cursor", "is not a cursor this API gave out") from exc
        items.extend(_strip(i) for i in page.items)
        if page.cursor:
            return {"items": items, "cursor": _month_cursor(month, page.cursor)}
        if month == oldest:
            break
        month, inner = _previous_month(month), None
        if len(items) >= limit:
            return {"items": items, "cursor": _month_cursor(month, None)}
    return {"items": items, "cursor": None}
