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
from wecom_bundle.validation import (
    ValidationError,
    optional_int,
    optional_str,
    reject_unknown,
    require_object,
)

RULE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MATCH_FIELDS = frozenset({"state", "state_prefix", "userid", "weekdays", "time_from", "time_to"})
RULE_FIELDS = frozenset({"priority", "match", "text", "attachments", "description"})
STATE_MAX_CHARS = 30  # WeCom's 「联系我」state is at most 30 characters
USERID_MAX_CHARS = 64  # a WeCom member's userid is 1-64 characters
PRIORITY_BOUND = 1_000_000  # priority lies in [-PRIORITY_BOUND, PRIORITY_BOUND]
DESCRIPTION_MAX_BYTES = 1024
MATCH_MAX_CHARS = {"state": STATE_MAX_CHARS, "state_prefix": STATE_MAX_CHARS, "userid": USERID_MAX_CHARS}


def validate_rule_id(rule_id: str) -> str:
    if not RULE_ID_PATTERN.match(rule_id or ""):
        raise ValidationError("rule_id", "must be 1-64 characters of letters, digits, '.', '_' or '-'")
    return rule_id


def _validate_weekdays(value: Any) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ValidationError("match.weekdays", "must be a non-empty list of ISO weekdays 1 (Mon) .. 7 (Sun)")
    for day in value:
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 7:
            raise ValidationError(
                "match.weekdays", "must be a non-empty list of ISO weekdays 1 (Mon) .. 7 (Sun)"
            )
    return sorted(set(value))


def _validate_match(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    match = require_object(value, "match")
    reject_unknown(match, MATCH_FIELDS, "match.")
    out: dict[str, Any] = {}
    for key in ("state", "state_prefix", "userid"):
        text = optional_str(match, key, f"match.{key}")
        if text is not None:
            if not text:
                raise ValidationError(f"match.{key}", "must not be empty (leave it out to match any)")
            if len(text) > MATCH_MAX_CHARS[key]:
                raise ValidationError(f"match.{key}", f"must be at most {MATCH_MAX_CHARS[key]} characters")
            out[key] = text
    if "state" in out and "state_prefix" in out:
        raise ValidationError("match.state_prefix", "give either state or state_prefix, not both")
    weekdays = _validate_weekdays(match.get("weekdays"))
    if weekdays:
        out["weekdays"] = weekdays
    times = [optional_str(match, key, f"match.{key}") for key in ("time_from", "time_to")]
    if any(t is not None for t in times):
        for key, value_ in zip(("time_from", "time_to"), times, strict=True):
            if value_ is None or not TIME_PATTERN.match(value_):
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


def parse_rule(rule_id: str, body: Any, now_ms: int) -> dict[str, Any]:
    """Validate a PUT body into the stored rule; raises ValidationError naming the field (a text that the
    longest %NICKNAME% would push past 4 000 bytes included)."""
    validate_rule_id(rule_id)
    doc = require_object(body, "body")
    reject_unknown(doc, RULE_FIELDS)
    priority = optional_int(doc, "priority", "priority", minimum=-PRIORITY_BOUND, maximum=PRIORITY_BOUND) or 0
    description = optional_str(doc, "description", "description", max_bytes=DESCRIPTION_MAX_BYTES)
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
