"""What every answer model shares: the strict base and the field types several domains use."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from wecom_bundle.campaigns import queries, results

CampaignStatus = Literal[queries.STATUSES]  # type: ignore[valid-type]
ResultStatus = Literal[results.RESULT_STATUSES]  # type: ignore[valid-type]
Epoch = Annotated[int, Field(description="epoch seconds")]
WelcomeOutcome = Literal["sent", "already_sent", "expired", "failed", "no_rule"]
Cursor = Field(description="the next page's cursor; null on the last page")


class Answer(BaseModel):
    """An answer's object: every key documented, none other (strict: a number is a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)
