"""Every WeCom errcode the bundle names, defined once (WeCom「全局错误码」
https://developer.work.weixin.qq.com/document/path/90313).

Why an IntEnum: a member *is* its integer, so ``exc.errcode == Errcode.WELCOME_ALREADY_SENT``, a
``frozenset`` lookup and a JSON document holding the code behave exactly as the bare number did, while the
code says which situation it means. The names follow WeCom's own wording (and the simulator's constants in
``local/wecom_sim/errors.py``); the comment says what the bundle does with it.
"""

from __future__ import annotations

from enum import IntEnum


class Errcode(IntEnum):
    """The errcodes the bundle decides on or documents; any other code is a plain refusal."""

    SYSTEM_BUSY = -1  # WeCom's "system busy": transient, retry with back-off
    INVALID_CREDENTIAL = 40001  # invalid secret or access token: refresh the token (gettoken: the secret)
    INVALID_MEDIA_ID = 40007  # media id unknown or expired (temporary media live 3 days): upload again, once
    INVALID_CORPID = 40013  # gettoken: the corp id is not accepted (re-read the secret, it may have rotated)
    INVALID_ACCESS_TOKEN = 40014  # the access token is invalid (revoked): refresh it, retry once
    INVALID_TEMPLATE_ID = 40037  # the group welcome template does not exist (any more)
    INVALID_AGENTID = 40056  # gettoken: the app (agentid) behind the secret is not valid: a setup error
    INVALID_TAG_ID = 40068  # mark_tag: a tag id the corp's tag library lacks (a channel's tag was deleted)
    CONTACT_WAY_TOO_MANY_USERS = 41041  # a 「联系我」 takes at most 100 members (departments expanded)
    CONTACT_WAY_INVALID_CONFIG_ID = 41044  # the contact way does not exist (any more): del treats it as done
    CONTACT_WAY_LIMIT_REACHED = 41045  # at most 500 000 contact ways made through the API per corp
    NO_SENDABLE_CUSTOMER = 41048  # add_msg_template: nobody in the audience can be sent to
    WELCOME_ALREADY_SENT = 41051  # the welcome was delivered (by us or another app): a success, stop
    TEMPLATE_LIMIT_REACHED = 41055  # at most 100 group welcome templates per corp
    WELCOME_BEING_SENT = 41096  # another app is sending now; delivery not confirmed: retry until the deadline
    ACCESS_TOKEN_EXPIRED = 42001  # the access token expired (~2 h): refresh it, retry once
    CONTENT_TOO_LONG = 45002  # a text is over WeCom's size limit (counted in UTF-8 bytes)
    RATE_LIMITED = 45009  # api frequency limit (e.g. one reminder per msgid per day): back off
    TOO_MANY_CONCURRENT = 45033  # too many concurrent calls: back off and retry
    # 48002 "api forbidden": this secret may not call this API (a setup error), except on the calls that
    # change a WeCom object another app owns (group welcome templates), where it means "not ours"
    API_FORBIDDEN = 48002
    NO_PRIVILEGE = 60011  # no privilege to access/modify contact/party/agent: the app's visible range
    UNTRUSTED_IP = 60020  # not allow to access from your ip: add "from ip" to the app's 企业可信IP
    NOT_EXTERNAL_CONTACT = 84061  # no contact relation between the member and the customer (mark_tag, get)


# Token problems: refresh the access token and retry once.
TOKEN_ERRCODES = frozenset(
    {Errcode.INVALID_CREDENTIAL, Errcode.INVALID_ACCESS_TOKEN, Errcode.ACCESS_TOKEN_EXPIRED}
)
# Rate limits: back off and retry later.
RATE_LIMIT_ERRCODES = frozenset({Errcode.RATE_LIMITED, Errcode.TOO_MANY_CONCURRENT})
# WeCom's own "system busy": retryable.
BUSY_ERRCODES = frozenset({Errcode.SYSTEM_BUSY})
# gettoken's answers for a corp id / secret it does not accept: the secret may just have been rotated, so
# it is read again once before the error stands (``runtime``).
SECRET_REFUSED_ERRCODES = frozenset(
    {Errcode.INVALID_CREDENTIAL, Errcode.INVALID_CORPID, Errcode.INVALID_AGENTID}
)
# Setup errors: the deployment, not the moment, is wrong (the IP is not trusted, the secret may not call the
# API, the app cannot see the member). Retrying cannot help: never retried, reported once with the fix.
SETUP_ERRCODES = frozenset({Errcode.API_FORBIDDEN, Errcode.NO_PRIVILEGE, Errcode.UNTRUSTED_IP})
# gettoken's setup errors: the above, and a corp id / secret it refuses after the one re-read of the secret.
GETTOKEN_SETUP_ERRCODES = SETUP_ERRCODES | SECRET_REFUSED_ERRCODES
