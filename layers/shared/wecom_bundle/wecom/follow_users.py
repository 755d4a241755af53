"""WeCom's ``externalcontact/get_follow_user_list`` (「获取配置了客户联系功能的成员列表」, GET): the members who
have the customer-contact feature. Its path lives here, the client owns errcodes and the token."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wecom_bundle.wecom.client import Timeout, WeComClient

GET_FOLLOW_USER_LIST = "externalcontact/get_follow_user_list"


def get_follow_user_list(client: WeComClient, *, timeout: Timeout) -> list[str]:
    """The userids of the members who may have customers (an app without the 客户联系 permission: 48002)."""
    answer = client.get(GET_FOLLOW_USER_LIST, {}, timeout=timeout)
    return [str(userid) for userid in answer.get("follow_user") or []]
