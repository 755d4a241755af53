"""Welcome rules and the welcome log. Answer models (see ``admin_api.models.responses``)."""

from __future__ import annotations

from pydantic import Field

from admin_api.models.content import (
    Attachment,
    MessageText,
)
from admin_api.models.responses.common import Answer, Cursor, Epoch, WelcomeOutcome
from admin_api.models.welcome import Match


class Rule(Answer):
    """A stored welcome rule: the PUT body normalised (defaults filled, empty parts dropped)."""

    rule_id: str
    priority: int
    match: Match = Field(description="{} for a default rule")
    attachments: list[Attachment]
    updated_at_ms: int
    text: MessageText | None = None
    description: str | None = None


class SavedRule(Rule):
    warnings: list[str] = Field(description="things that are allowed but probably not meant; [] when none")


class RuleList(Answer):
    items: list[Rule]


class Welcome(Answer):
    """One welcome of the log: one add-contact event and its outcome (claims in flight are not listed)."""

    external_userid: str
    userid: str
    state: str = Field(description="the contact way's state; empty when none")
    create_time: Epoch
    outcome: WelcomeOutcome
    rule_id: str | None = Field(description="the rule that was sent (null when none matched)")
    errcode: int | None = Field(description="WeCom's errcode of the last attempt, when it failed")
    attempts: int
    first_error: str | None = Field(description="what the first attempt got, when it failed")
    latency_ms: int | None
    recorded_at_ms: int


class WelcomePage(Answer):
    items: list[Welcome]
    cursor: str | None = Cursor
