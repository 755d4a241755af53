"""Welcome rules: validation on write (names the field) and matching (fields AND-ed, priority, ties)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from wecom_bundle.validation import ValidationError
from wecom_bundle.welcome.rules import RuleCache, choose_rule, parse_rule

SHANGHAI = "Asia/Shanghai"


def _ts(text: str, tz: str = SHANGHAI) -> str:
    """CreateTime (epoch seconds, as WeCom sends it) of a local wall-clock time."""
    return str(int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()))


def _event(when: str = "2026-11-23 10:00", state: str = "", userid: str = "zhangsan") -> dict[str, str]:
    # 2026-11-23 is a Monday.
    return {"CreateTime": _ts(when), "State": state, "UserID": userid, "ExternalUserID": "wmCUST"}


def _rule(rule_id: str, priority: int = 0, **match: object) -> dict:
    return parse_rule(rule_id, {"priority": priority, "match": match, "text": {"content": rule_id}}, 0)


# ------------------------------------------------------------------------------------------ validation
# The rules across fields stay in the layer; every shape (types, limits, unknown keys, the rule id) is the
# admin model's, refused at the entry: tests/unit/admin/test_entry_shapes.py runs all these cases there.
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": {"content": ""}}, "text"),
        ({"text": {"content": "hi"}, "match": {"state": "a", "state_prefix": "a"}}, "match.state_prefix"),
        ({"text": {"content": "hi"}, "match": {"time_from": "09:00"}}, "match.time_to"),
        ({"text": {"content": "hi"}, "match": {"time_from": "09:00", "time_to": "09:00"}}, "match.time_to"),
        ({"attachments": [{"msgtype": "image"}]}, "attachments[0].image"),
        ({"attachments": [{"msgtype": "image", "image": {}}]}, "attachments[0].image.media_id"),
        ({"attachments": [{"msgtype": "image", "link": {}}]}, "attachments[0].link"),
        (
            {
                "attachments": [
                    {"msgtype": "miniprogram", "miniprogram": {"title": "t", "appid": "a", "page": "p"}}
                ]
            },
            "attachments[0].miniprogram.pic_media_id",
        ),
        ({"attachments": [{"msgtype": "video", "video": {}}]}, "attachments[0].video.media_id"),
    ],
)
def test_rules_across_fields_name_the_field(body: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_rule("r1", body, 0)
    assert caught.value.field == field


def test_valid_rule_is_normalised() -> None:
    rule = parse_rule(
        "expo.2026",
        {
            "priority": 5,
            "match": {
                "state_prefix": "expo-",
                "weekdays": [5, 1, 1],
                "time_from": "22:00",
                "time_to": "06:00",
            },
            "text": {"content": "你好 %NICKNAME%"},
            "attachments": [
                {"msgtype": "image", "image": {"pic_url": "https://p.qpic.cn/x"}},
                {
                    "msgtype": "miniprogram",
                    "miniprogram": {"title": "t", "pic_media_id": "m", "appid": "wx1", "page": "/index"},
                },
            ],
        },
        1234,
    )
    assert rule["match"]["weekdays"] == [1, 5]
    assert rule["text"] == {"content": "你好 %NICKNAME%"}
    assert rule["attachments"][0] == {"msgtype": "image", "image": {"pic_url": "https://p.qpic.cn/x"}}
    assert rule["updated_at_ms"] == 1234
    assert rule["priority"] == 5


def test_text_of_exactly_4000_bytes_is_accepted() -> None:
    assert parse_rule("r", {"text": {"content": "好" * 1333 + "a"}}, 0)["text"]["content"].endswith("a")


# ------------------------------------------------------------------------------------------ matching
def test_empty_match_is_a_default_rule() -> None:
    rules = [_rule("default")]
    assert choose_rule(rules, _event(), SHANGHAI)["rule_id"] == "default"


def test_no_rule_matches() -> None:
    assert choose_rule([_rule("vip", state="vip")], _event(state="expo"), SHANGHAI) is None


def test_state_exact_and_prefix() -> None:
    rules = [_rule("exact", 1, state="expo-2026"), _rule("prefix", 0, state_prefix="expo-")]
    assert choose_rule(rules, _event(state="expo-2026"), SHANGHAI)["rule_id"] == "exact"
    assert choose_rule(rules, _event(state="expo-2027"), SHANGHAI)["rule_id"] == "prefix"
    assert choose_rule(rules, _event(state="EXPO-2027"), SHANGHAI) is None


def test_fields_are_anded() -> None:
    rules = [_rule("both", 9, state="web", userid="lisi")]
    assert choose_rule(rules, _event(state="web", userid="lisi"), SHANGHAI)["rule_id"] == "both"
    assert choose_rule(rules, _event(state="web", userid="zhangsan"), SHANGHAI) is None
    assert choose_rule(rules, _event(state="app", userid="lisi"), SHANGHAI) is None


def test_highest_priority_wins() -> None:
    rules = [_rule("low", 1), _rule("high", 10), _rule("mid", 5)]
    assert choose_rule(rules, _event(), SHANGHAI)["rule_id"] == "high"


def test_tie_goes_to_more_specific_then_rule_id() -> None:
    rules = [_rule("b-default", 3), _rule("z-state", 3, state="web"), _rule("a-default", 3)]
    assert choose_rule(rules, _event(state="web"), SHANGHAI)["rule_id"] == "z-state"
    assert choose_rule(rules, _event(state="app"), SHANGHAI)["rule_id"] == "a-default"
    assert choose_rule(list(reversed(rules)), _event(state="app"), SHANGHAI)["rule_id"] == "a-default"


def test_weekdays() -> None:
    rules = [_rule("weekend", 1, weekdays=[6, 7])]
    assert choose_rule(rules, _event("2026-11-28 10:00"), SHANGHAI)["rule_id"] == "weekend"  # Saturday
    assert choose_rule(rules, _event("2026-11-23 10:00"), SHANGHAI) is None  # Monday


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-11-23 08:59", None),
        ("2026-11-23 09:00", "office"),
        ("2026-11-23 17:59", "office"),
        ("2026-11-23 18:00", None),
    ],
)
def test_time_window_is_half_open(when: str, expected: str | None) -> None:
    rule = choose_rule([_rule("office", 1, time_from="09:00", time_to="18:00")], _event(when), SHANGHAI)
    assert (rule or {}).get("rule_id") == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-11-23 21:59", None),
        ("2026-11-23 22:00", "night"),
        ("2026-11-23 23:59", "night"),
        ("2026-11-24 00:00", "night"),
        ("2026-11-24 05:59", "night"),
        ("2026-11-24 06:00", None),
    ],
)
def test_time_window_across_midnight(when: str, expected: str | None) -> None:
    rule = choose_rule([_rule("night", 1, time_from="22:00", time_to="06:00")], _event(when), SHANGHAI)
    assert (rule or {}).get("rule_id") == expected


def test_time_zone_decides_the_local_time() -> None:
    rules = [_rule("office", 1, time_from="09:00", time_to="18:00")]
    event = _event("2026-11-23 10:00")  # 10:00 in Shanghai is 02:00 UTC and 03:00 in Berlin
    assert choose_rule(rules, event, SHANGHAI)["rule_id"] == "office"
    assert choose_rule(rules, event, "UTC") is None
    assert choose_rule(rules, event, "Europe/Berlin") is None


def test_weekday_is_judged_in_the_rule_time_zone() -> None:
    rules = [_rule("monday", 1, weekdays=[1])]
    event = _event("2026-11-23 01:00")  # Monday 01:00 in Shanghai is Sunday 17:00 UTC
    assert choose_rule(rules, event, SHANGHAI)["rule_id"] == "monday"
    assert choose_rule(rules, event, "UTC") is None


def test_rule_cache_reloads_after_ttl_and_keeps_stale_rules_on_error() -> None:
    calls: list[int] = []
    fail = {"now": False}

    def load() -> list[dict]:
        calls.append(1)
        if fail["now"]:
            raise RuntimeError("dynamodb down")
        return [_rule(f"r{len(calls)}")]

    cache = RuleCache(load, ttl_s=0.0)
    assert cache.rules()[0]["rule_id"] == "r1"
    assert cache.rules()[0]["rule_id"] == "r2"
    fail["now"] = True
    assert cache.rules()[0]["rule_id"] == "r2"  # stale but usable
    slow = RuleCache(load, ttl_s=60.0)
    fail["now"] = False
    first = slow.rules()
    assert slow.rules() is first  # served from memory, no reload
