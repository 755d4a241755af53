"""Tests for wecom_bundle.callback.crypto against public WeCom/wechatpy vectors plus every rejection path.

Vector sources (copied verbatim):
- WeCom official samples with token "QDG6eK": sbzhu/weworkapi_php callback/Sample.php (same values in
  workweixin/weworkapi_cplusplus Sample.cpp, the official C# Sample.cs and doc page
  developer.work.weixin.qq.com/document/path/90968). The message plaintext is the one quoted in Sample.php.
- WeCom official Python sample: sbzhu/weworkapi_python callback/Sample.py (token "hJqcu3uJ9...").
  Its POST ciphertext decrypts to the sRespData string printed in that same file.
- wechatpy: wechatpy/wechatpy tests/test_crypto.py (wechatpy.work.crypto, token "123456").
The echostr plaintexts are not printed by the samples themselves; the values asserted here are the ones
independent public WeCom implementations assert for the same vectors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from Crypto.Cipher import AES
from hypothesis import given, settings
from hypothesis import strategies as st

from wecom_bundle.callback import crypto
from wecom_bundle.callback.crypto import (
    ComputeSignatureError,
    DecodeBase64Error,
    DecryptError,
    EncodeBase64Error,
    EncryptError,
    GenReturnXmlError,
    IllegalAesKeyError,
    IllegalBufferError,
    MsgCrypto,
    ReceiveIdError,
    SignatureError,
    WeComCryptoError,
    XmlParseError,
)

REPO_ROOT = Path(__file__).resolve().parents[3]

# --- WeCom official sample (Sample.php / Sample.cpp / Sample.cs / doc 90968) ---------------------------
OFFICIAL_TOKEN = "QDG6eK"
OFFICIAL_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
OFFICIAL_CORP_ID = "wx5823bf96d3bd56c7"

OFFICIAL_VERIFY_MSG_SIG = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
OFFICIAL_VERIFY_TIMESTAMP = "1409659589"
OFFICIAL_VERIFY_NONCE = "263014780"
OFFICIAL_VERIFY_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)
OFFICIAL_ECHOSTR_PLAINTEXT = "1616140317555161061"

OFFICIAL_REQ_MSG_SIG = "477715d11cdb4164915debcba66cb864d751f3e6"
OFFICIAL_REQ_TIMESTAMP = "1409659813"
OFFICIAL_REQ_NONCE = "1372623149"
OFFICIAL_REQ_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvu"
    "JTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+Ltw"
    "Gc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V"
    "2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptD"
    "AVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
OFFICIAL_REQ_PLAINTEXT = (
    b"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
    b"<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    b"<CreateTime>1409659813</CreateTime>\n"
    b"<MsgType><![CDATA[text]]></MsgType>\n"
    b"<Content><![CDATA[hello]]></Content>\n"
    b"<MsgId>4561255354251345929</MsgId>\n"
    b"<AgentID>218</AgentID>\n"
    b"</xml>"
)

# --- WeCom official Python sample (weworkapi_python callback/Sample.py) --------------------------------
PY_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
PY_AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
PY_CORP_ID = "ww1436e0e65a779aee"
PY_VERIFY_MSG_SIG = "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
PY_VERIFY_TIMESTAMP = "1476416373"
PY_VERIFY_NONCE = "47744683"
PY_VERIFY_ECHOSTR = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
PY_ECHOSTR_PLAINTEXT = "1288432023552776189"
PY_REQ_MSG_SIG = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
PY_REQ_TIMESTAMP = "1476422779"
PY_REQ_NONCE = "1597212914"
PY_REQ_ENCRYPT = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew"
    "+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24Yhm"
    "ZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwo"
    "cugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+"
)
# sRespData from the same Sample.py.
PY_REQ_PLAINTEXT = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
).encode()

# --- wechatpy tests/test_crypto.py (wechatpy.work.crypto) ----------------------------------------------
WP_TOKEN = "123456"
WP_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
WP_CORP_ID = "wx49f0ab532d5d035a"
WP_CHECK_SIG = "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
WP_CHECK_TIMESTAMP = "1411443780"
WP_CHECK_NONCE = "437374425"
WP_CHECK_BAD_NONCE = "437374424"  # test_check_signature_should_fail
WP_CHECK_ECHOSTR = "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
WP_ECHOSTR_PLAINTEXT = "5927782489442352469"
WP_DECRYPT_SIG = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
WP_TIMESTAMP = "1411525903"
WP_NONCE = "461056294"
WP_DECRYPT_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymz"
    "xh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIi"
    "OAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvc"
    "cTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
WP_DECRYPT_PLAINTEXT = (
    b"<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>\n"
    b"<FromUserName><![CDATA[messense]]></FromUserName>\n"
    b"<CreateTime>1411525903</CreateTime>\n"
    b"<MsgType><![CDATA[text]]></MsgType>\n"
    b"<Content><![CDATA[test]]></Content>\n"
    b"<MsgId>4363689963896700987</MsgId>\n"
    b"<AgentID>1</AgentID>\n"
    b"</xml>"
)
WP_RANDOM = b"1234567890123456"  # PrpCryptoMock.get_random_string
WP_REPLY = """<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>"""
WP_REPLY_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtOb"
    "vesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8"
    "NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O"
    "5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
)
WP_REPLY_SIG = "407518b7649e86ef23978113f92d27afa9296533"
WP_REPLY_XML = f"""<xml>
<Encrypt><![CDATA[{WP_REPLY_ENCRYPT}]]></Encrypt>
<MsgSignature><![CDATA[{WP_REPLY_SIG}]]></MsgSignature>
<TimeStamp>1411525903</TimeStamp>
<Nonce><![CDATA[461056294]]></Nonce>
</xml>"""


@pytest.fixture
def official() -> MsgCrypto:
    return MsgCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY, OFFICIAL_CORP_ID)


@pytest.fixture
def wechatpy() -> MsgCrypto:
    return MsgCrypto(WP_TOKEN, WP_AES_KEY, WP_CORP_ID)


def raw_encrypt(padded_plaintext: bytes, encoding_aes_key: str = OFFICIAL_AES_KEY) -> str:
    """Encrypt arbitrary (already padded) bytes, bypassing MsgCrypto, to craft malformed plaintexts."""
    key = base64.b64decode(encoding_aes_key + "=")
    return base64.b64encode(AES.new(key, AES.MODE_CBC, iv=key[:16]).encrypt(padded_plaintext)).decode()


def raw_decrypt(encrypted: str, encoding_aes_key: str = OFFICIAL_AES_KEY) -> bytes:
    """Decrypt without unpadding, to inspect exactly what MsgCrypto.encrypt produced."""
    key = base64.b64decode(encoding_aes_key + "=")
    return AES.new(key, AES.MODE_CBC, iv=key[:16]).decrypt(base64.b64decode(encrypted))


def frame(msg: bytes, receive_id: bytes = OFFICIAL_CORP_ID.encode(), length: int | None = None) -> bytes:
    """random16 + big-endian length + msg + receiveid, unpadded."""
    msg_len = len(msg) if length is None else length
    return b"R" * 16 + struct.pack(">I", msg_len) + msg + receive_id


def pkcs7_32(data: bytes) -> bytes:
    pad = 32 - len(data) % 32
    return data + bytes([pad]) * pad


def flip_b64_byte(encrypted: str, index: int) -> str:
    raw = bytearray(base64.b64decode(encrypted))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# ---------------------------------------------------------------------------------------------------
# Official vectors
# ---------------------------------------------------------------------------------------------------


class TestOfficialVectors:
    def test_verify_url_returns_echostr_plaintext(self, official: MsgCrypto) -> None:
        echo = official.verify_url(
            OFFICIAL_VERIFY_MSG_SIG, OFFICIAL_VERIFY_TIMESTAMP, OFFICIAL_VERIFY_NONCE, OFFICIAL_VERIFY_ECHOSTR
        )
        assert echo == OFFICIAL_ECHOSTR_PLAINTEXT
        assert isinstance(echo, str)

    def test_decrypt_message_returns_documented_plaintext(self, official: MsgCrypto) -> None:
        plaintext = official.decrypt_message(
            OFFICIAL_REQ_MSG_SIG, OFFICIAL_REQ_TIMESTAMP, OFFICIAL_REQ_NONCE, OFFICIAL_REQ_ENCRYPT
        )
        assert plaintext == OFFICIAL_REQ_PLAINTEXT

    def test_sign_matches_documented_signatures(self, official: MsgCrypto) -> None:
        assert (
            official.sign(OFFICIAL_REQ_TIMESTAMP, OFFICIAL_REQ_NONCE, OFFICIAL_REQ_ENCRYPT)
            == OFFICIAL_REQ_MSG_SIG
        )
        assert (
            official.sign(OFFICIAL_VERIFY_TIMESTAMP, OFFICIAL_VERIFY_NONCE, OFFICIAL_VERIFY_ECHOSTR)
            == OFFICIAL_VERIFY_MSG_SIG
        )

    def test_sign_is_sha1_of_documented_sort_string(self) -> None:
        # Doc 90968 step 2: the four values sorted and concatenated, then SHA-1.
        sort_str = "13726231491409659813QDG6eK" + OFFICIAL_REQ_ENCRYPT
        assert hashlib.sha1(sort_str.encode()).hexdigest() == OFFICIAL_REQ_MSG_SIG

    def test_python_sample_verify_url(self) -> None:
        c = MsgCrypto(PY_TOKEN, PY_AES_KEY, PY_CORP_ID)
        assert c.verify_url(PY_VERIFY_MSG_SIG, PY_VERIFY_TIMESTAMP, PY_VERIFY_NONCE, PY_VERIFY_ECHOSTR) == (
            PY_ECHOSTR_PLAINTEXT
        )

    def test_python_sample_decrypt_message_utf8(self) -> None:
        c = MsgCrypto(PY_TOKEN, PY_AES_KEY, PY_CORP_ID)
        plaintext = c.decrypt_message(PY_REQ_MSG_SIG, PY_REQ_TIMESTAMP, PY_REQ_NONCE, PY_REQ_ENCRYPT)
        assert plaintext == PY_REQ_PLAINTEXT
        assert "<Content>你好</Content>" in plaintext.decode("utf-8")

    def test_wechatpy_check_signature(self, wechatpy: MsgCrypto) -> None:
        echo = wechatpy.verify_url(WP_CHECK_SIG, WP_CHECK_TIMESTAMP, WP_CHECK_NONCE, WP_CHECK_ECHOSTR)
        assert echo == WP_ECHOSTR_PLAINTEXT

    def test_wechatpy_check_signature_should_fail(self, wechatpy: MsgCrypto) -> None:
        with pytest.raises(SignatureError) as exc:
            wechatpy.verify_url(WP_CHECK_SIG, WP_CHECK_TIMESTAMP, WP_CHECK_BAD_NONCE, WP_CHECK_ECHOSTR)
        assert exc.value.code == -40001

    def test_wechatpy_decrypt_message(self, wechatpy: MsgCrypto) -> None:
        plaintext = wechatpy.decrypt_message(WP_DECRYPT_SIG, WP_TIMESTAMP, WP_NONCE, WP_DECRYPT_ENCRYPT)
        assert plaintext == WP_DECRYPT_PLAINTEXT
        assert b"<Content><![CDATA[test]]></Content>" in plaintext
        assert b"<FromUserName><![CDATA[messense]]></FromUserName>" in plaintext

    def test_wechatpy_encrypt_with_fixed_random_matches_vector(self, wechatpy: MsgCrypto) -> None:
        encrypted = wechatpy.encrypt(WP_REPLY.encode("utf-8"), random16=WP_RANDOM)
        assert encrypted == WP_REPLY_ENCRYPT
        assert wechatpy.sign(WP_TIMESTAMP, WP_NONCE, encrypted) == WP_REPLY_SIG

    def test_wechatpy_encrypt_reply_envelope_is_byte_identical(self, wechatpy: MsgCrypto) -> None:
        assert wechatpy.encrypt_reply(WP_REPLY, WP_NONCE, WP_TIMESTAMP, random16=WP_RANDOM) == WP_REPLY_XML

    def test_official_reply_round_trips(self, official: MsgCrypto) -> None:
        # Sample.php example 3 reply text, encrypted and fed back through the receive path.
        reply = (
            "<xml><ToUserName><![CDATA[mycreate]]></ToUserName><FromUserName><![CDATA[wx5823bf96d3bd56c7]]>"
            "</FromUserName><CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            "<Content><![CDATA[this is a test]]></Content><MsgId>1234567890123456</MsgId>"
            "<AgentID>128</AgentID></xml>"
        )
        envelope = official.encrypt_reply(reply, OFFICIAL_REQ_NONCE, OFFICIAL_REQ_TIMESTAMP)
        fields = _reply_fields(envelope)
        assert fields["TimeStamp"] == OFFICIAL_REQ_TIMESTAMP
        assert fields["Nonce"] == OFFICIAL_REQ_NONCE
        assert fields["MsgSignature"] == official.sign(
            OFFICIAL_REQ_TIMESTAMP, OFFICIAL_REQ_NONCE, fields["Encrypt"]
        )
        decrypted = official.decrypt_message(
            fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"], fields["Encrypt"]
        )
        assert decrypted == reply.encode()


def _reply_fields(envelope: str) -> dict[str, str]:
    from defusedxml.ElementTree import fromstring

    root = fromstring(envelope, forbid_dtd=True)
    assert root.tag == "xml"
    assert [child.tag for child in root] == ["Encrypt", "MsgSignature", "TimeStamp", "Nonce"]
    return {child.tag: child.text or "" for child in root}


# ---------------------------------------------------------------------------------------------------
# Round trips and framing
# ---------------------------------------------------------------------------------------------------

receive_ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    max_size=40,
)


class TestRoundTrip:
    @settings(max_examples=200, deadline=None)
    @given(message=st.binary(max_size=2048), receive_id=receive_ids)
    def test_encrypt_decrypt_round_trip(self, message: bytes, receive_id: str) -> None:
        c = MsgCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY, receive_id)
        assert c.decrypt(c.encrypt(message)) == message

    @settings(max_examples=100, deadline=None)
    @given(
        text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=500),
        timestamp=st.from_regex(r"[0-9]{1,12}", fullmatch=True),
        nonce=st.from_regex(r"[0-9A-Za-z_-]{1,32}", fullmatch=True),
    )
    def test_encrypt_reply_then_decrypt_message(self, text: str, timestamp: str, nonce: str) -> None:
        c = MsgCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY, OFFICIAL_CORP_ID)
        fields = _reply_fields(c.encrypt_reply(text, nonce, timestamp))
        assert (fields["TimeStamp"], fields["Nonce"]) == (timestamp, nonce)
        got = c.decrypt_message(fields["MsgSignature"], timestamp, nonce, fields["Encrypt"])
        assert got == text.encode("utf-8")

    @settings(max_examples=200, deadline=None)
    @given(message=st.binary(max_size=300), random16=st.binary(min_size=16, max_size=16))
    def test_framing_and_32_byte_pkcs7(self, message: bytes, random16: bytes) -> None:
        c = MsgCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY, OFFICIAL_CORP_ID)
        padded = raw_decrypt(c.encrypt(message, random16=random16))
        pad = padded[-1]
        assert len(padded) % 32 == 0
        assert 1 <= pad <= 32
        assert padded[-pad:] == bytes([pad]) * pad
        assert padded[:-pad] == frame(message).replace(b"R" * 16, random16, 1)

    @pytest.mark.parametrize("length", range(65))
    def test_every_pad_value_decrypts(self, official: MsgCrypto, length: int) -> None:
        # 65 consecutive lengths cover all 32 pad values, including a full extra block of 32.
        message = bytes(range(length))
        encrypted = official.encrypt(message, random16=b"\x00" * 16)
        assert official.decrypt(encrypted) == message

    def test_pad_32_block_is_added_when_aligned(self, official: MsgCrypto) -> None:
        message = b"x" * (64 - 20 - len(OFFICIAL_CORP_ID))
        padded = raw_decrypt(official.encrypt(message))
        assert len(padded) == 96
        assert padded[-32:] == bytes([32]) * 32

    def test_random_prefix_changes_ciphertext(self, official: MsgCrypto) -> None:
        a = official.encrypt(b"same")
        b = official.encrypt(b"same")
        assert a != b
        assert official.decrypt(a) == official.decrypt(b) == b"same"

    def test_fixed_random_is_deterministic(self, official: MsgCrypto) -> None:
        assert official.encrypt(b"m", random16=b"k" * 16) == official.encrypt(b"m", random16=b"k" * 16)

    def test_cipher_state_not_shared_between_calls(self, official: MsgCrypto) -> None:
        # A cached CBC object would chain from the previous call and garble every later message.
        first = official.decrypt(OFFICIAL_REQ_ENCRYPT)
        encrypted = official.encrypt(b"between", random16=b"z" * 16)
        assert official.decrypt(OFFICIAL_REQ_ENCRYPT) == first == OFFICIAL_REQ_PLAINTEXT
        assert official.encrypt(b"between", random16=b"z" * 16) == encrypted
        assert official.decrypt(encrypted) == b"between"

    def test_encrypt_accepts_bytearray_and_memoryview(self, official: MsgCrypto) -> None:
        assert official.decrypt(official.encrypt(bytearray(b"ba"))) == b"ba"
        assert official.decrypt(official.encrypt(memoryview(b"mv"))) == b"mv"

    @settings(max_examples=100, deadline=None)
    @given(
        timestamp=st.text(max_size=20),
        nonce=st.text(max_size=20),
        encrypted=st.text(max_size=60),
        token=st.text(max_size=20),
    )
    def test_sign_definition(self, timestamp: str, nonce: str, encrypted: str, token: str) -> None:
        try:
            expected_input = "".join(sorted([token, timestamp, nonce, encrypted])).encode("utf-8")
        except UnicodeEncodeError:
            return  # lone surrogates: covered by the ComputeSignatureError test
        c = MsgCrypto(token, OFFICIAL_AES_KEY, OFFICIAL_CORP_ID)
        signature = c.sign(timestamp, nonce, encrypted)
        assert signature == hashlib.sha1(expected_input).hexdigest()
        c.verify_signature(signature, timestamp, nonce, encrypted)


# ---------------------------------------------------------------------------------------------------
# Rejections
# ---------------------------------------------------------------------------------------------------


def _raises(exc_type: type[WeComCryptoError], code: int, fn, *args) -> WeComCryptoError:
    with pytest.raises(exc_type) as info:
        fn(*args)
    assert info.value.code == code
    assert isinstance(info.value, WeComCryptoError)
    return info.value


class TestSignatureRejection:
    @pytest.mark.parametrize(
        "bad_sig",
        [
            "0" * 40,
            OFFICIAL_REQ_MSG_SIG.upper(),
            OFFICIAL_REQ_MSG_SIG[:-1],
            OFFICIAL_REQ_MSG_SIG + "0",
            "",
            "签名" * 20,
        ],
    )
    def test_bad_signature(self, official: MsgCrypto, bad_sig: str) -> None:
        _raises(
            SignatureError,
            -40001,
            official.decrypt_message,
            bad_sig,
            OFFICIAL_REQ_TIMESTAMP,
            OFFICIAL_REQ_NONCE,
            OFFICIAL_REQ_ENCRYPT,
        )

    def test_signature_not_a_string(self, official: MsgCrypto) -> None:
        _raises(SignatureError, -40001, official.verify_signature, None, OFFICIAL_REQ_TIMESTAMP, "n", "e")

    def test_wrong_timestamp_or_token(self, official: MsgCrypto) -> None:
        _raises(
            SignatureError,
            -40001,
            official.verify_url,
            OFFICIAL_VERIFY_MSG_SIG,
            "1409659590",
            OFFICIAL_VERIFY_NONCE,
            OFFICIAL_VERIFY_ECHOSTR,
        )
        other_token = MsgCrypto("QDG6eL", OFFICIAL_AES_KEY, OFFICIAL_CORP_ID)
        _raises(
            SignatureError,
            -40001,
            other_token.verify_url,
            OFFICIAL_VERIFY_MSG_SIG,
            OFFICIAL_VERIFY_TIMESTAMP,
            OFFICIAL_VERIFY_NONCE,
            OFFICIAL_VERIFY_ECHOSTR,
        )

    def test_tampered_ciphertext_fails_signature(self, official: MsgCrypto) -> None:
        tampered = flip_b64_byte(OFFICIAL_REQ_ENCRYPT, 40)
        _raises(
            SignatureError,
            -40001,
            official.decrypt_message,
            OFFICIAL_REQ_MSG_SIG,
            OFFICIAL_REQ_TIMESTAMP,
            OFFICIAL_REQ_NONCE,
            tampered,
        )

    def test_compare_digest_is_used(self, official: MsgCrypto, monkeypatch: pytest.MonkeyPatch) -> None:
        calls: list[tuple[bytes, bytes]] = []
        real = hmac.compare_digest

        def spy(a, b):
            calls.append((a, b))
            return real(a, b)

        monkeypatch.setattr(crypto.hmac, "compare_digest", spy)
        official.verify_signature(
            OFFICIAL_REQ_MSG_SIG, OFFICIAL_REQ_TIMESTAMP, OFFICIAL_REQ_NONCE, OFFICIAL_REQ_ENCRYPT
        )
        assert (OFFICIAL_REQ_MSG_SIG.encode(), OFFICIAL_REQ_MSG_SIG.encode()) in calls

    @settings(max_examples=100, deadline=None)
    @given(index=st.integers(min_value=0, max_value=351))  # the vector is 352 bytes
    def test_any_tampered_byte_is_rejected(self, index: int) -> None:
        c = MsgCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY, OFFICIAL_CORP_ID)
        tampered = flip_b64_byte(OFFICIAL_REQ_ENCRYPT, index)
        with pytest.raises(SignatureError):
            c.decrypt_message(OFFICIAL_REQ_MSG_SIG, OFFICIAL_REQ_TIMESTAMP, OFFICIAL_REQ_NONCE, tampered)
        # Without the signature, CBC tampering still never yields the original message silently.
        try:
            result = c.decrypt(tampered)
        except WeComCryptoError:
            return
        assert result != OFFICIAL_REQ_PLAINTEXT


class TestCiphertextRejection:
    def test_tampered_last_byte_breaks_padding(self, official: MsgCrypto) -> None:
        tampered = flip_b64_byte(OFFICIAL_REQ_ENCRYPT, -1)
        _raises(DecryptError, -40007, official.decrypt, tampered)

    def test_truncated_not_block_multiple(self, official: MsgCrypto) -> None:
        raw = base64.b64decode(OFFICIAL_REQ_ENCRYPT)
        truncated = base64.b64encode(raw[:-3]).decode()
        _raises(DecryptError, -40007, official.decrypt, truncated)

    def test_truncated_by_whole_block(self, official: MsgCrypto) -> None:
        raw = base64.b64decode(OFFICIAL_REQ_ENCRYPT)
        truncated = base64.b64encode(raw[:-16]).decode()
        # The last remaining block now decrypts against a different chaining value: its pad byte is garbage.
        _raises(DecryptError, -40007, official.decrypt, truncated)

    def test_truncated_base64_text(self, official: MsgCrypto) -> None:
        _raises(DecodeBase64Error, -40010, official.decrypt, OFFICIAL_REQ_ENCRYPT[:-1])

    def test_empty_ciphertext(self, official: MsgCrypto) -> None:
        _raises(DecryptError, -40007, official.decrypt, "")

    @pytest.mark.parametrize(
        "bad",
        [
            "not base64!!",
            OFFICIAL_REQ_ENCRYPT.replace("+", " "),  # '+' lost to careless URL decoding
            OFFICIAL_REQ_ENCRYPT[:40] + "\n" + OFFICIAL_REQ_ENCRYPT[40:],
            OFFICIAL_REQ_ENCRYPT.replace("/", "_"),  # urlsafe alphabet is not WeCom's
            "é" * 16,
            "abc",
        ],
    )
    def test_bad_base64(self, official: MsgCrypto, bad: str) -> None:
        _raises(DecodeBase64Error, -40010, official.decrypt, bad)

    def test_ciphertext_not_a_string(self, official: MsgCrypto) -> None:
        _raises(DecodeBase64Error, -40010, official.decrypt, None)

    @pytest.mark.parametrize("pad_value", [0, 33, 255])
    def test_pad_byte_out_of_range(self, official: MsgCrypto, pad_value: int) -> None:
        body = frame(b"hello")
        padded = body + b"\x00" * (63 - len(body)) + bytes([pad_value])
        _raises(DecryptError, -40007, official.decrypt, raw_encrypt(padded))

    def test_inconsistent_padding(self, official: MsgCrypto) -> None:
        good = pkcs7_32(frame(b"hello"))
        pad = good[-1]
        assert pad >= 2
        bad = good[:-2] + bytes([pad ^ 0x01]) + bytes([pad])
        _raises(DecryptError, -40007, official.decrypt, raw_encrypt(bad))

    def test_pad_longer_than_plaintext(self, official: MsgCrypto) -> None:
        _raises(DecryptError, -40007, official.decrypt, raw_encrypt(b"\x20" * 16))

    def test_plaintext_shorter_than_header(self, official: MsgCrypto) -> None:
        _raises(IllegalBufferError, -40008, official.decrypt, raw_encrypt(b"R" * 10 + b"\x16" * 22))

    @pytest.mark.parametrize("length", [6 + len(OFFICIAL_CORP_ID), 1000, 0xFFFFFFFF])
    def test_length_field_too_large(self, official: MsgCrypto, length: int) -> None:
        crafted = raw_encrypt(pkcs7_32(frame(b"hello", length=length)))
        _raises(IllegalBufferError, -40008, official.decrypt, crafted)

    def test_length_field_boundary_is_accepted_then_receiveid_checked(self, official: MsgCrypto) -> None:
        # Length covering msg + receiveid exactly fits, so the (now empty) receiveid check must fire.
        crafted = raw_encrypt(pkcs7_32(frame(b"hello", length=5 + len(OFFICIAL_CORP_ID))))
        _raises(ReceiveIdError, -40005, official.decrypt, crafted)

    def test_crafted_valid_frame_is_accepted(self, official: MsgCrypto) -> None:
        # Control for the crafted cases above: the same construction with sane fields decrypts.
        assert official.decrypt(raw_encrypt(pkcs7_32(frame(b"hello")))) == b"hello"


class TestReceiveIdRejection:
    @pytest.mark.parametrize(
        "other",
        [
            "ww0000000000000000",
            OFFICIAL_CORP_ID + "x",
            OFFICIAL_CORP_ID[:-1],
            OFFICIAL_CORP_ID.upper(),
            "",
        ],
    )
    def test_wrong_receive_id(self, other: str) -> None:
        sender = MsgCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY, other)
        receiver = MsgCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY, OFFICIAL_CORP_ID)
        _raises(ReceiveIdError, -40005, receiver.decrypt, sender.encrypt(b"<xml/>"))

    def test_official_vector_with_wrong_corp(self) -> None:
        c = MsgCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY, "ww5823bf96d3bd56c7")
        _raises(
            ReceiveIdError,
            -40005,
            c.decrypt_message,
            OFFICIAL_REQ_MSG_SIG,
            OFFICIAL_REQ_TIMESTAMP,
            OFFICIAL_REQ_NONCE,
            OFFICIAL_REQ_ENCRYPT,
        )


class TestKeyAndMiscRejection:
    @pytest.mark.parametrize(
        "key",
        [
            OFFICIAL_AES_KEY[:-1],  # 42 chars
            OFFICIAL_AES_KEY + "A",  # 44 chars
            OFFICIAL_AES_KEY[:-1] + "!",  # not base64
            OFFICIAL_AES_KEY[:-1] + "=",  # 43 chars but decodes to 31 bytes
            "",
            " " * 43,
            None,
            OFFICIAL_AES_KEY.encode(),
        ],
    )
    def test_illegal_key(self, key: object) -> None:
        _raises(IllegalAesKeyError, -40004, MsgCrypto, OFFICIAL_TOKEN, key, OFFICIAL_CORP_ID)

    def test_compute_signature_error(self, official: MsgCrypto) -> None:
        _raises(ComputeSignatureError, -40003, official.sign, None, "n", "e")
        _raises(ComputeSignatureError, -40003, official.sign, "1", "\ud800", "e")

    def test_random_prefix_length(self, official: MsgCrypto) -> None:
        _raises(EncryptError, -40006, official.encrypt, b"m", b"short")

    def test_encrypt_rejects_text(self, official: MsgCrypto) -> None:
        with pytest.raises(TypeError):
            official.encrypt("text")  # type: ignore[arg-type]

    def test_encrypt_reply_unencodable(self, official: MsgCrypto) -> None:
        _raises(EncryptError, -40006, official.encrypt_reply, "\udcff", "nonce", "1")

    @pytest.mark.parametrize(
        ("nonce", "timestamp"),
        [("n", "12a"), ("n", ""), ("n", "1<2"), ("a]]>b", "1"), ("", "1"), ("x" * 65, "1")],
    )
    def test_reply_envelope_inputs_validated(self, official: MsgCrypto, nonce: str, timestamp: str) -> None:
        _raises(GenReturnXmlError, -40011, official.encrypt_reply, "<xml/>", nonce, timestamp)

    def test_verify_url_non_utf8_plaintext(self, official: MsgCrypto) -> None:
        encrypted = official.encrypt(b"\xff\xfe")
        signature = official.sign("1", "n", encrypted)
        _raises(DecryptError, -40007, official.verify_url, signature, "1", "n", encrypted)


# ---------------------------------------------------------------------------------------------------
# Error contract and hygiene
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (SignatureError, -40001),
        (XmlParseError, -40002),
        (ComputeSignatureError, -40003),
        (IllegalAesKeyError, -40004),
        (ReceiveIdError, -40005),
        (EncryptError, -40006),
        (DecryptError, -40007),
        (IllegalBufferError, -40008),
        (EncodeBase64Error, -40009),
        (DecodeBase64Error, -40010),
        (GenReturnXmlError, -40011),
    ],
)
def test_error_codes(cls: type[WeComCryptoError], code: int) -> None:
    err = cls("short reason")
    assert issubclass(cls, WeComCryptoError)
    assert err.code == code
    assert err.reason == "short reason"
    assert str(code) in str(err)


def test_errors_never_contain_payload_key_or_token(official: MsgCrypto) -> None:
    secrets = [OFFICIAL_REQ_ENCRYPT[:20], OFFICIAL_AES_KEY, OFFICIAL_TOKEN, OFFICIAL_CORP_ID, "hello"]
    errors: list[WeComCryptoError] = []
    for call in (
        lambda: official.decrypt_message("0" * 40, "1", "2", OFFICIAL_REQ_ENCRYPT),
        lambda: official.decrypt(OFFICIAL_REQ_ENCRYPT + "!"),
        lambda: MsgCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY[:-1], OFFICIAL_CORP_ID),
        lambda: MsgCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY, "other").decrypt(OFFICIAL_REQ_ENCRYPT),
        lambda: official.decrypt(raw_encrypt(pkcs7_32(frame(b"hello", length=999)))),
    ):
        with pytest.raises(WeComCryptoError) as info:
            call()
        errors.append(info.value)
    assert len(errors) == 5
    for err in errors:
        text = f"{err} {err!r} {err.reason} {err.args}"
        for secret in secrets:
            assert secret not in text
        assert err.__cause__ is None  # `from None`: no chained exception carrying library details


def test_repr_hides_token_and_key(official: MsgCrypto) -> None:
    text = repr(official)
    assert OFFICIAL_TOKEN not in text
    assert OFFICIAL_AES_KEY not in text
    assert "redacted" in text


def test_module_import_is_light() -> None:
    # The AES backend loads on first MsgCrypto(); importing the module (e.g. for the error classes) must not.
    code = (
        "import sys, wecom_bundle.callback.crypto as c; "
        "assert 'Crypto' not in sys.modules, 'eager Crypto import'; "
        "c.MsgCrypto('t', 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C', 'r'); "
        "assert 'Crypto.Cipher.AES' in sys.modules; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT / "layers" / "shared")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
