"""``externalcontact/get``: one customer and the member who follows them, from the contact model; and
``externalcontact/get_follow_user_list``: the members with the customer-contact feature (every member here)."""

from __future__ import annotations

from typing import Any

from . import errors
from .errors import WeComError
from .http_types import GET, ApiRoute, Request
from .state import SimulatorState

ADD_WAY_QR = 1  # "扫描二维码": what a 「联系我」 channel with a State produces


def get_external_contact(state: SimulatorState, req: Request) -> dict[str, Any]:
    external_userid = req.query.get("external_userid", "")
    if not external_userid:
        raise WeComError(errors.MISSING_EXTERNAL_USERID)
    with state.lock:
        customer = state.customers.get(external_userid)
        if customer is None:
            raise WeComError(errors.NOT_EXTERNAL_CONTACT)
        follow: dict[str, Any] = {
            "userid": customer.owner,
            "remark": "",
            "description": "",
            "createtime": customer.add_time,
            "add_way": ADD_WAY_QR,
        }
        if customer.add_state:
            follow["state"] = customer.add_state
        contact = {
            "external_userid": customer.external_userid,
            "name": customer.name,
            "type": customer.type,
            "avatar": "",
            "gender": 0,
        }
        return errors.ok(external_contact=contact, follow_user=[follow], next_cursor="")


def get_follow_user_list(state: SimulatorState, _req: Request) -> dict[str, Any]:
    """WeCom's 「获取配置了客户联系功能的成员列表」 (GET): ``follow_user``, a list of userids."""
    with state.lock:
        return errors.ok(follow_user=sorted(state.members))


ROUTES: dict[str, ApiRoute] = {
    "externalcontact/get": ApiRoute(GET, get_external_contact),
    "externalcontact/get_follow_user_list": ApiRoute(GET, get_follow_user_list),
}
