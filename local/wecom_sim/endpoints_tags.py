"""``externalcontact/mark_tag`` (编辑客户企业标签): corp tags on a member's customer.

WeCom's rules (official page): ``userid`` and ``external_userid`` are required (41009 / 41035); the customer
must be that member's (84061: no contact relation); ``add_tag`` and ``remove_tag`` may not both be empty
(40058); every id must be in the corp's tag library (40068, nothing changes); a member may put at most
3 000 tags on one customer (40058). Adding a tag the customer has already is no error. The tags are stored
on the customer (``GET /__sim/contacts`` shows them); the library is seeded with ``state.SEED_TAGS``.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .errors import WeComError
from .http_types import POST, ApiRoute, Request
from .state import SimulatorState

MAX_TAGS_PER_CUSTOMER = 3000


def _tag_ids(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(tag, str) and tag for tag in value):
        raise WeComError(errors.INVALID_PARAMETER, f"{key} must be a list of tag ids")
    return value


def mark_tag(state: SimulatorState, req: Request) -> dict[str, Any]:
    body = req.wecom_json()
    userid, external_userid = body.get("userid"), body.get("external_userid")
    if not userid or not isinstance(userid, str):
        raise WeComError(errors.MISSING_USERID)
    if not external_userid or not isinstance(external_userid, str):
        raise WeComError(errors.MISSING_EXTERNAL_USERID)
    add, remove = _tag_ids(body, "add_tag"), _tag_ids(body, "remove_tag")
    if not add and not remove:
        raise WeComError(errors.INVALID_PARAMETER, "add_tag and remove_tag cannot both be empty")
    with state.lock:
        customer = state.customers.get(external_userid)
        if userid not in state.members:
            raise WeComError(errors.INVALID_USERID)
        if customer is None or customer.owner != userid:
            raise WeComError(errors.NOT_EXTERNAL_CONTACT)
        unknown = [tag for tag in add + remove if tag not in state.corp_tags]
        if unknown:
            raise WeComError(errors.INVALID_TAG_ID, f"{len(unknown)} unknown tag id(s)")
        tags = [tag for tag in customer.tags if tag not in remove]
        tags += [tag for tag in dict.fromkeys(add) if tag not in tags]
        if len(tags) > MAX_TAGS_PER_CUSTOMER:
            raise WeComError(errors.INVALID_PARAMETER, f"at most {MAX_TAGS_PER_CUSTOMER} tags per customer")
        customer.tags = tags
    return errors.ok()


ROUTES: dict[str, ApiRoute] = {
    "externalcontact/mark_tag": ApiRoute(POST, mark_tag),
}
