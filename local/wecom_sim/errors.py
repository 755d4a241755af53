"""The errcodes the simulator answers with, and the exception that carries one out of a handler.

Why constants instead of literals: the README's errcode table, the endpoints and the tests all name the same
situation, so a code chosen for it (several are our pick where WeCom's pages are silent) lives in one place.
Codes and texts follow WeCom's global errcode list (开发者中心 "全局错误码").
"""

from __future__ import annotations

import secrets
import time
from typing import Any

OK = 0
SYSTEM_BUSY = -1
INVALID_SECRET = 40001
INVALID_USERID = 40003
INVALID_UPLOAD_TYPE = 40005
INVALID_FILE_SIZE = 40006
INVALID_MEDIA_ID = 40007
INVALID_IMAGE_SIZE = 40009
INVALID_VIDEO_SIZE = 40011
INVALID_CORPID = 40013
INVALID_ACCESS_TOKEN = 40014
INVALID_TEMPLATE_ID = 40037
INVALID_PARAMETER = 40058
EMPTY_PARAMETER = 40063
INVALID_AGENTID = 40056
INVALID_TAG_ID = 40068
MISSING_ACCESS_TOKEN = 41001
MISSING_CORPID = 41002
MISSING_CORPSECRET = 41004
MISSING_MEDIA_ID = 41006
MISSING_USERID = 41009
MISSING_URL = 41010
MISSING_TITLE = 41016
MISSING_EXTERNAL_USERID = 41035
MISSING_CONTACT_WAY_TYPE = 41037
MISSING_CONTACT_WAY_SCENE = 41038
INVALID_CONTACT_WAY_TYPE = 41039
INVALID_CONTACT_WAY_SCENE = 41040
CONTACT_WAY_TOO_MANY_USERS = 41041
MISSING_CONFIG_ID = 41043
INVALID_CONFIG_ID = 41044
CONTACT_WAY_LIMIT_REACHED = 41045
MISSING_MSGID = 41046
INVALID_MSGID = 41047
NO_SENDABLE_CUSTOMER = 41048
MISSING_WELCOME_CODE = 41049
INVALID_WELCOME_CODE = 41050
WELCOME_ALREADY_SENT = 41051
TEMPLATE_LIMIT_REACHED = 41055
INVALID_ATTACHMENT_TYPE = 41065
WELCOME_BEING_SENT = 41096
ACCESS_TOKEN_EXPIRED = 42001
EMPTY_MEDIA = 44001
EMPTY_CONTENT = 44004
CONTENT_TOO_LONG = 45002
RATE_LIMITED = 45009
TOO_MANY_CONCURRENT = 45033
API_FORBIDDEN = 48002
INVALID_CURSOR = 50100
NO_PRIVILEGE = 60011
UNTRUSTED_IP = 60020
NOT_EXTERNAL_CONTACT = 84061
MISSING_MINIPROGRAM_APPID = 90200

DEVTOOL_URL = "https://open.work.weixin.qq.com/devtool/query?e="

MESSAGES: dict[int, str] = {
    SYSTEM_BUSY: "system busy",
    INVALID_SECRET: "invalid credential",
    INVALID_USERID: "invalid userid",
    INVALID_UPLOAD_TYPE: "invalid type",
    INVALID_FILE_SIZE: "invalid file size",
    INVALID_MEDIA_ID: "invalid media_id",
    INVALID_IMAGE_SIZE: "invalid image size",
    INVALID_VIDEO_SIZE: "invalid video size",
    INVALID_CORPID: "invalid corpid",
    INVALID_ACCESS_TOKEN: "invalid access_token",
    INVALID_TEMPLATE_ID: "invalid template_id",
    INVALID_PARAMETER: "invalid parameter",
    EMPTY_PARAMETER: "parameter is empty",
    INVALID_TAG_ID: "invalid tagid",
    MISSING_ACCESS_TOKEN: "access_token missing",
    MISSING_CORPID: "corpid missing",
    MISSING_CORPSECRET: "corpsecret missing",
    MISSING_MEDIA_ID: "media_id missing",
    MISSING_USERID: "userid missing",
    MISSING_URL: "url missing",
    MISSING_TITLE: "title missing",
    MISSING_EXTERNAL_USERID: "external_userid missing",
    MISSING_CONTACT_WAY_TYPE: "missing contact way type",
    MISSING_CONTACT_WAY_SCENE: "missing contact way scene",
    INVALID_CONTACT_WAY_TYPE: "invalid contact way type",
    INVALID_CONTACT_WAY_SCENE: "invalid contact way scene",
    CONTACT_WAY_TOO_MANY_USERS: "contact way user count exceeds the limit",
    MISSING_CONFIG_ID: "missing config_id",
    INVALID_CONFIG_ID: "invalid config_id",
    CONTACT_WAY_LIMIT_REACHED: "contact way count reaches limit",
    MISSING_MSGID: "msgid missing",
    INVALID_MSGID: "invalid msgid",
    NO_SENDABLE_CUSTOMER: "no customer to send",
    MISSING_WELCOME_CODE: "welcome_code missing",
    INVALID_WELCOME_CODE: "invalid welcome_code",
    WELCOME_ALREADY_SENT: "externaluser has started chatting",
    TEMPLATE_LIMIT_REACHED: "group welcome template count reaches limit",
    INVALID_ATTACHMENT_TYPE: "invalid attachment type",
    WELCOME_BEING_SENT: "welcome msg is being distributed",
    ACCESS_TOKEN_EXPIRED: "access_token expired",
    EMPTY_MEDIA: "empty media data",
    EMPTY_CONTENT: "empty content",
    CONTENT_TOO_LONG: "content size out of limit",
    RATE_LIMITED: "api freq out of limit",
    TOO_MANY_CONCURRENT: "api concurrent out of limit",
    API_FORBIDDEN: "api forbidden",
    INVALID_AGENTID: "invalid agentid",
    NO_PRIVILEGE: "no privilege to access/modify contact/party/agent",
    UNTRUSTED_IP: "not allow to access from your ip",
    INVALID_CURSOR: "invalid cursor",
    NOT_EXTERNAL_CONTACT: "not external contact",
    MISSING_MINIPROGRAM_APPID: "miniprogram appid missing",
}


class WeComError(Exception):
    """A handler's refusal: becomes ``{"errcode", "errmsg"}`` with HTTP 200, exactly like WeCom answers."""

    def __init__(self, errcode: int, detail: str = "", from_ip: str = "127.0.0.1") -> None:
        super().__init__(f"{errcode}: {detail or MESSAGES.get(errcode, 'error')}")
        self.errcode = errcode
        self.detail = detail
        self.from_ip = from_ip  # the caller's IP, as WeCom names it in every errmsg


def errmsg(errcode: int, detail: str = "", from_ip: str = "127.0.0.1") -> str:
    """WeCom-shaped errmsg: text, a hint id and the devtool link, so logs look like production ones."""
    if errcode == OK:
        return "ok"
    text = MESSAGES.get(errcode, "error")
    if detail:
        text = f"{text}: {detail}"
    hint = f"{int(time.time())}_{secrets.token_hex(4)}"
    return f"{text}, hint: [{hint}], from ip: {from_ip}, more info at {DEVTOOL_URL}{errcode}"


def error_body(errcode: int, detail: str = "", from_ip: str = "127.0.0.1") -> dict[str, Any]:
    """The JSON body of a refusal."""
    return {"errcode": errcode, "errmsg": errmsg(errcode, detail, from_ip)}


def ok(**fields: Any) -> dict[str, Any]:
    """The JSON body of a success; WeCom puts errcode/errmsg first, so do we."""
    return {"errcode": OK, "errmsg": "ok", **fields}
