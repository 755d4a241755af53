"""Welcome rules (``PUT /admin/welcome-rules/{rule_id}``) and the welcome log's query."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from admin_api.models.common import Strict, chars, rules, utf8
from admin_api.models.content import MAX_ATTACHMENTS, Attachment, MessageText
from wecom_bundle import content
from wecom_bundle.welcome import rules as welcome_rules

PRIORITY_BOUND = welcome_rules.PRIORITY_BOUND
MatchState = chars(welcome_rules.STATE_MAX_CHARS, min_length=1)
MatchUserid = chars(welcome_rules.USERID_MAX_CHARS, min_length=1)
Description = utf8(welcome_rules.DESCRIPTION_MAX_BYTES)
Weekday = Annotated[int, Field(ge=1, le=7)]
Clock = Annotated[str, Field(pattern=welcome_rules.TIME_PATTERN.pattern, description="HH:MM, 24 h")]


class Match(Strict):
    """Every field optional, all AND-ed; an empty match is a default rule."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            "state_prefix,state: not both",
            "time_from,time_to: both or neither, and different",
        )
    )
    state: MatchState | None = None  # type: ignore[valid-type]
    state_prefix: MatchState | None = None  # type: ignore[valid-type]
    userid: MatchUserid | None = None  # type: ignore[valid-type]
    weekdays: list[Weekday] | None = Field(None, min_length=1, description="ISO weekdays, 1 (Mon) .. 7 (Sun)")
    time_from: Clock | None = None
    time_to: Clock | None = None


class RuleBody(Strict):
    model_config = ConfigDict(
        json_schema_extra=rules(
            "text,attachments: not both empty",
            f"text.content: at most {content.TEXT_MAX_BYTES} bytes with each {content.NICKNAME} counted as "
            f"{content.NICKNAME_MAX_BYTES} bytes (the longest name it is filled with)",
        )
    )
    priority: int | None = Field(None, ge=-PRIORITY_BOUND, le=PRIORITY_BOUND)
    match: Match | None = None
    text: MessageText | None = None
    attachments: list[Attachment] | None = Field(None, max_length=MAX_ATTACHMENTS)
    description: Description | None = None  # type: ignore[valid-type]
