"""``GET /admin/customers/{external_userid}``: the path id (as every external_userid input: 1 to
``MAX_ID_BYTES`` UTF-8 bytes, no NUL) and the page of mass messages (``limit``, ``cursor``)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from admin_api.models.common import NO_NUL
from wecom_bundle import validation
from wecom_bundle.campaigns import validation as cv

ExternalUserid = Annotated[
    str,
    Path(
        min_length=1,
        max_length=cv.MAX_ID_BYTES,
        pattern=NO_NUL,
        description=f"the customer's external_userid: 1 to {cv.MAX_ID_BYTES} bytes of UTF-8",
        json_schema_extra={"x-maxBytes": cv.MAX_ID_BYTES},
    ),
]
Limit = Annotated[int | None, Query(ge=1, le=validation.MAX_PAGE, description="mass messages per page")]
Cursor = Annotated[str | None, Query(description="the cursor of the previous page of mass messages")]
