"""Welcome rules: which 1:1 welcome a new customer gets, by channel ``State``, member and local time.

Every match field is optional and they are AND-ed; an empty match is a default rule. Among matching rules
the highest ``priority`` wins; ties go to the more specific rule (more match fields), then to the smaller
``rule_id`` — deterministic, so two containers never pick different welcomes for the same event.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from wecom_bundle.content import check_nickname_room, validate_content
from wecom_bundle.validation import ValidationError

RULE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
STATE_MAX_CHARS = 30  # WeCom's 「联系我」state is at most 30 characters
USERID_MAX_CHARS = 64  # a WeCom member's userid is 1-64 characters
PRIORITY_BOUND = 1_000_000  # priority lies in [-PRIORITY_BOUND, PRIORITY_BOUND]
DESCRIPTION_MAX_BYTES = 1024


def _weekdays(value: list[int] | None) -> list[int] | None:
    """Sorted, each day once (the admin model checked they are ISO weekdays)."""
    return sorted(set(value)) if value else None


def _validate_match(value: dict[str, Any] | None) -> dict[str, Any]:
    """The match as stored, with its rules across fields (state vs state_prefix, the time pair); the fields'
    types, lengths and the HH:MM form are the admin model's."""
    match = {key: text for key, text in (value or {}).items() if text is not None}
    out: dict[str, Any] = {key: match[key] for key in ("state", "state_prefix", "userid") if key in match}
    if "state" in out and "state_prefix" in out:
        raise ValidationError("match.state_prefix", "give either state or state_prefix, not both")
    weekdays = _weekdays(match.get("weekdays"))
    if weekdays:
        out["weekdays"] = weekdays
    times = [match.get(key) for key in ("time_from", "time_to")]
    if any(t is not None for t in times):
        for key, value_ in zip(("time_from", "time_to"), times, strict=True):
            if value_ is None:
                raise ValidationError(
                    f"match.{key}", "must be HH:MM (24 h); time_from and time_to go together"
                )
        if times[0] == times[1]:
            raise ValidationError("match.time_to", "must differ from time_from")
        out["time_from"], out["time_to"] = times
    return out


def rule_warnings(rule: dict[str, Any]) -> list[dict[str, str]]:
    """What an operator should know about a valid rule (a text close to WeCom's limit)."""
    content = (rule.get("text") or {}).get("content")
    return check_nickname_room(content, "text.content") if content else []


def parse_rule(rule_id: str, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The stored rule of a PUT body the admin model validated (rule id pattern, known keys, types, ranges,
    lengths): defaults, a normalised match, and the rules across fields, which raise ValidationError naming
    the field (a text that the longest %NICKNAME% would push past 4 000 bytes included)."""
    doc = body
    priority = doc.get("priority") or 0
    description = doc.get("description")
    text, attachments = validate_content(doc)
    rule: dict[str, Any] = {
        "rule_id": rule_id,
        "priority": priority,
        "match": _validate_match(doc.get("match")),
        "attachments": attachments,
        "updated_at_ms": now_ms,
    }
    if text is not None:
        check_nickname_room(text["content"], "text.content")
        rule["text"] = text
    if description:
        rule["description"] = description
    return rule


# ------------------------------------------------------------------------------------------------ matching
def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _in_window(local: datetime, time_from: str, time_to: str) -> bool:
    """[from, to) in local time; a window whose end is before its start spans midnight (22:00-06:00)."""
    now, start, end = local.hour * 60 + local.minute, _minutes(time_from), _minutes(time_to)
    return start <= now < end if start < end else now >= start or now < end


def matches(rule: dict[str, Any], event: Mapping[str, str | int], local: datetime) -> bool:
    match = rule.get("match") or {}
    state = str(event.get("State", ""))
    checks = (
        "state" not in match or state == match["state"],
        "state_prefix" not in match or state.startswith(match["state_prefix"]),
        "userid" not in match or str(event.get("UserID", "")) == match["userid"],
        "weekdays" not in match or local.isoweekday() in match["weekdays"],
        "time_from" not in match or _in_window(local, match["time_from"], match["time_to"]),
    )
    return all(checks)


def _rank(rule: dict[str, Any]) -> tuple[int, int, str]:
    # sorted() ascending: negate so the highest priority and the most specific rule come first.
    return (-int(rule.get("priority", 0)), -len(rule.get("match") or {}), str(rule["rule_id"]))


def choose_rule(
    rules: list[dict[str, Any]], event: Mapping[str, str | int], timezone: str
) -> dict[str, Any] | None:
    """The winning rule for an add-contact event, judged at the event's CreateTime in ``timezone``."""
    local = datetime.fromtimestamp(int(event.get("CreateTime") or time.time()), ZoneInfo(timezone))
    candidates = [rule for rule in rules if matches(rule, event, local)]
    return min(candidates, key=_rank) if candidates else None


class RuleCache:
    """Rules in memory, re-read at most every ``ttl_s`` seconds: the hot path never queries per callback."""

    def __init__(self, load: Callable[[], list[dict[str, Any]]], ttl_s: float) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._rules: list[dict[str, Any]] | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def rules(self) -> list[dict[str, Any]]:
        if self._rules is not None and time.monotonic() - self._loaded_at < self._ttl_s:
            return self._rules
        with self._lock:
            if self._rules is None or time.monotonic() - self._loaded_at >= self._ttl_s:
                try:
                    self._rules = self._load()
                    self._loaded_at = time.monotonic()
                except Exception:
                    if self._rules is None:
                        raise
                    self._loaded_at = time.monotonic() - self._ttl_s / 2  # keep stale rules, retry soon
            return self._rules
