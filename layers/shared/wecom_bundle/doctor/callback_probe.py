"""The doctor's ``callback_url`` check: WeCom's URL verification, made as WeCom makes it.

WeCom verifies a callback URL with a GET carrying ``msg_signature``, ``timestamp``, ``nonce`` and an encrypted
``echostr`` (WXBizMsgCrypt with the app's Token and EncodingAESKey, the corp id as receiveid) and requires the
decrypted plaintext back within 1 s (WeCom「回调配置」https://developer.work.weixin.qq.com/document/path/90930).
Sending the same GET to the public URL proves the domain, the route, the function and the current Token and
EncodingAESKey together. It is not a WeCom call: it never goes through ``WECOM_PROXY_URL``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import requests

from wecom_bundle.callback.crypto import MsgCrypto


@dataclass(frozen=True)
class Echo:
    status: int
    echoed: bool  # the body is exactly the plaintext sent
    elapsed_ms: int


def verify_url(url: str, token: str, encoding_aes_key: str, corp_id: str, timeout: float) -> Echo:
    """Send one signed URL-verification GET to ``url``; raises ``requests.RequestException`` on no answer."""
    crypto = MsgCrypto(token, encoding_aes_key, corp_id)
    plaintext = str(secrets.randbelow(10**18))
    echostr = crypto.encrypt(plaintext.encode())
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    query = {
        "msg_signature": crypto.sign(timestamp, nonce, echostr),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": echostr,
    }
    started = time.monotonic()
    with requests.Session() as session:
        session.trust_env = False  # our own endpoint: no proxy from the environment either
        answer = session.get(url, params=query, timeout=(min(2.0, timeout), timeout), allow_redirects=False)
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return Echo(answer.status_code, answer.status_code == 200 and answer.text == plaintext, elapsed_ms)
