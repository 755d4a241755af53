"""``/admin/customers/{external_userid}``: one customer's welcomes, mass messages and quota."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from admin_api.models.common import error_responses
from admin_api.models.customers import Cursor, ExternalUserid, Limit
from admin_api.models.responses import CustomerView
from admin_api.routes.common import ok, query, success
from wecom_bundle import runtime
from wecom_bundle.campaigns.validation import MAX_ID_BYTES
from wecom_bundle.validation import ValidationError

router = Router()


@router.get(
    "/admin/customers/<external_userid>",
    responses={
        200: success("the customer's welcomes, mass messages (newest first, a page) and quota", CustomerView),
        **error_responses(400),
    },
)
def get_customer(external_userid: ExternalUserid, limit: Limit = None, cursor: Cursor = None):
    # The path's character bound is the model's; WeCom's limit is in bytes (as for the campaign body's ids).
    if len(external_userid.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise ValidationError("external_userid", f"must be at most {MAX_ID_BYTES} bytes in UTF-8")
    return ok(200, runtime.customer_history().view(external_userid, query(router.current_event)))
