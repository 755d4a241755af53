"""WeCom callback crypto, byte-compatible with Tencent's WXBizMsgCrypt samples.

Why our own module instead of the vendor sample: the sample swallows errors into integer return codes, uses a
non-constant-time signature compare and accepts malformed padding. This version raises one exception class per
official error code (so the handler can log the *code* without the payload) and checks every length and pad
byte before trusting the plaintext.

Wire format (WeCom "加解密方案说明")::

    AESKey    = base64decode(EncodingAESKey + "=")          # 32 bytes
    plaintext = random(16) + uint32_be(len(msg)) + msg + receiveid
    cipher    = AES-256-CBC(key=AESKey, iv=AESKey[:16], PKCS#7 padding to a 32-byte block)
    signature = sha1("".join(sorted([token, timestamp, nonce, msg_encrypt]))).hexdigest()

Import cost matters (this sits on the Lambda callback hot path): pycryptodome is imported lazily in
``MsgCrypto.__init__`` so modules that only need the exception classes (the XML parser) stay cheap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from typing import Any

__all__ = [
    "ComputeSignatureError",
    "DecodeBase64Error",
    "DecryptError",
    "EncodeBase64Error",
    "EncryptError",
    "GenReturnXmlError",
    "IllegalAesKeyError",
    "IllegalBufferError",
    "MsgCrypto",
    "ReceiveIdError",
    "SignatureError",
    "WeComCryptoError",
    "XmlParseError",
]

_AES_KEY_CHARS = 43
_AES_KEY_BYTES = 32
_RANDOM_BYTES = 16
_LENGTH_BYTES = 4
_HEADER_BYTES = _RANDOM_BYTES + _LENGTH_BYTES
_PAD_BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16: a 16-byte PKCS#7 unpadder would reject pad 17..32.
_AES_BLOCK = 16
_MAX_MSG_LEN = 0xFFFFFFFF
_LENGTH = struct.Struct(">I")
# Values embedded in the reply envelope: TimeStamp is emitted bare, Nonce inside CDATA.
_TIMESTAMP_RE = re.compile(r"[0-9]{1,20}")
_NONCE_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")

_REPLY_TEMPLATE = (
    "<xml>\n"
    "<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n"
    "<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n"
    "<TimeStamp>{timestamp}</TimeStamp>\n"
    "<Nonce><![CDATA[{nonce}]]></Nonce>\n"
    "</xml>"
)


class WeComCryptoError(Exception):
    """Base class. ``code`` is WeCom's official WXBizMsgCrypt code; ``reason`` is short and payload-free.

    Why a class per code: callers branch on the class, log ``code``/``reason``, and can never leak the
    ciphertext, key or token because no constructor here ever receives them.
    """

    code: int = -40000  # never raised directly; every concrete subclass overrides it

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason} ({self.code})")
        self.reason = reason


class SignatureError(WeComCryptoError):
    """msg_signature does not match (ValidateSignatureError)."""

    code = -40001


class XmlParseError(WeComCryptoError):
    """Callback XML is malformed, hostile or missing a required field (ParseXmlError)."""

    code = -40002


class ComputeSignatureError(WeComCryptoError):
    """A signature input could not be hashed (not a str, or not encodable)."""

    code = -40003


class IllegalAesKeyError(WeComCryptoError):
    """EncodingAESKey is not 43 base64 characters decoding to 32 bytes."""

    code = -40004


class ReceiveIdError(WeComCryptoError):
    """Trailing receiveid differs from ours: the message was meant for another corp/app (ValidateCorpidError)."""

    code = -40005


class EncryptError(WeComCryptoError):
    """Encryption failed (bad random prefix, oversized or unencodable plaintext)."""

    code = -40006


class DecryptError(WeComCryptoError):
    """Ciphertext length or PKCS#7 padding is invalid."""

    code = -40007


class IllegalBufferError(WeComCryptoError):
    """The decrypted length field points outside the plaintext."""

    code = -40008


class EncodeBase64Error(WeComCryptoError):
    """Base64 encoding failed (kept for parity with the official code table)."""

    code = -40009


class DecodeBase64Error(WeComCryptoError):
    """Ciphertext is not strict, canonical-alphabet base64."""

    code = -40010


class GenReturnXmlError(WeComCryptoError):
    """The passive-reply envelope could not be built safely (timestamp/nonce not XML-safe)."""

    code = -40011


def _decode_aes_key(encoding_aes_key: Any) -> bytes:
    """Turn the 43-char EncodingAESKey into the 32-byte AES key, rejecting anything else early.

    Failing at construction (cold start) is better than failing on the first callback WeCom sends.
    """
    if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != _AES_KEY_CHARS:
        raise IllegalAesKeyError("EncodingAESKey must be 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise IllegalAesKeyError("EncodingAESKey is not base64") from None
    if len(key) != _AES_KEY_BYTES:
        raise IllegalAesKeyError("EncodingAESKey must decode to 32 bytes")
    return key


def _pkcs7_pad(data: bytes) -> bytes:
    """Pad to WeCom's 32-byte block; always adds 1..32 bytes so unpadding is unambiguous."""
    pad = _PAD_BLOCK - len(data) % _PAD_BLOCK
    return data + bytes((pad,)) * pad


def _pkcs7_unpad(data: bytes) -> bytes:
    """Strip PKCS#7 padding, insisting that every pad byte carries the same value in 1..32."""
    pad = data[-1]
    if not 1 <= pad <= _PAD_BLOCK or pad > len(data):
        raise DecryptError("invalid padding")
    if not hmac.compare_digest(data[-pad:], bytes((pad,)) * pad):
        raise DecryptError("inconsistent padding")
    return data[:-pad]


def _b64decode_strict(encrypted_b64: Any) -> bytes:
    """Decode base64 rejecting whitespace and foreign characters (a '+' turned into ' ' by URL decoding)."""
    if not isinstance(encrypted_b64, str | bytes):
        raise DecodeBase64Error("ciphertext must be str")
    try:
        return base64.b64decode(encrypted_b64, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeBase64Error("ciphertext is not valid base64") from None


class MsgCrypto:
    """One corp/app's callback crypto: verify, decrypt and encrypt WeCom callback payloads.

    Build it once per warm Lambda (the key is decoded and cached here); each call creates its own CBC cipher
    because pycryptodome CBC objects carry chaining state and must never be shared between messages.
    """

    __slots__ = ("_aes_new", "_iv", "_key", "_mode", "_receive_id", "_token")

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        from Crypto.Cipher import AES  # lazy: keeps `import wecom_bundle.callback.crypto` cheap

        self._key = _decode_aes_key(encoding_aes_key)
        self._iv = self._key[:_AES_BLOCK]
        self._token = token
        self._receive_id = receive_id.encode("utf-8")
        self._aes_new = AES.new
        self._mode = AES.MODE_CBC

    def __repr__(self) -> str:
        """Never show the token or key, even in a debugger or a stray log line."""
        return "MsgCrypto(<redacted>)"

    def _cipher(self) -> Any:
        return self._aes_new(self._key, self._mode, iv=self._iv)

    # -- signatures -----------------------------------------------------------------------------------

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """SHA-1 hex of the sorted concatenation of token, timestamp, nonce and ciphertext."""
        parts = (self._token, timestamp, nonce, encrypted)
        if not all(isinstance(part, str) for part in parts):
            raise ComputeSignatureError("signature inputs must be str")
        try:
            joined = "".join(sorted(parts)).encode("utf-8")
        except UnicodeEncodeError:
            raise ComputeSignatureError("signature inputs are not encodable") from None
        return hashlib.sha1(joined, usedforsecurity=False).hexdigest()

    def verify_signature(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        """Raise SignatureError unless msg_signature matches; constant-time so it leaks no prefix."""
        if not isinstance(msg_signature, str):
            raise SignatureError("signature missing")
        expected = self.sign(timestamp, nonce, encrypted).encode("ascii")
        given = msg_signature.encode("utf-8", "backslashreplace")
        if not hmac.compare_digest(expected, given):
            raise SignatureError("signature mismatch")

    # -- encryption -----------------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes, random16: bytes | None = None) -> str:
        """Encrypt one message to base64. ``random16`` is injectable only so tests can match fixed vectors."""
        if not isinstance(plaintext, bytes | bytearray | memoryview):
            raise TypeError("plaintext must be bytes")
        prefix = os.urandom(_RANDOM_BYTES) if random16 is None else bytes(random16)
        if len(prefix) != _RANDOM_BYTES:
            raise EncryptError("random prefix must be 16 bytes")
        if len(plaintext) > _MAX_MSG_LEN:
            raise EncryptError("message too long")
        body = prefix + _LENGTH.pack(len(plaintext)) + bytes(plaintext) + self._receive_id
        ciphertext = self._cipher().encrypt(_pkcs7_pad(body))
        return base64.b64encode(ciphertext).decode("ascii")

    def encrypt_reply(
        self, plaintext_xml: str, nonce: str, timestamp: str, random16: bytes | None = None
    ) -> str:
        """Build the passive-reply envelope WeCom expects (same layout as the official samples);
        ``random16`` as in ``encrypt``."""
        if not isinstance(timestamp, str) or not _TIMESTAMP_RE.fullmatch(timestamp):
            raise GenReturnXmlError("timestamp must be decimal digits")
        if not isinstance(nonce, str) or not _NONCE_RE.fullmatch(nonce):
            raise GenReturnXmlError("nonce must be 1-64 url-safe characters")
        if not isinstance(plaintext_xml, str):
            raise TypeError("plaintext_xml must be str")
        try:
            raw = plaintext_xml.encode("utf-8")
        except UnicodeEncodeError:
            raise EncryptError("reply is not encodable as UTF-8") from None
        encrypted = self.encrypt(raw, random16)
        signature = self.sign(timestamp, nonce, encrypted)
        return _REPLY_TEMPLATE.format(
            encrypt=encrypted, signature=signature, timestamp=timestamp, nonce=nonce
        )

    # -- decryption -----------------------------------------------------------------------------------

    def decrypt(self, encrypted_b64: str) -> bytes:
        """Decrypt and unframe one message, checking every length before trusting it.

        Callers on the network path must verify the signature first (``decrypt_message`` / ``verify_url``):
        that keeps unauthenticated input away from the padding checks.
        """
        ciphertext = _b64decode_strict(encrypted_b64)
        if not ciphertext or len(ciphertext) % _AES_BLOCK:
            raise DecryptError("ciphertext length is not a positive multiple of 16")
        content = _pkcs7_unpad(self._cipher().decrypt(ciphertext))
        if len(content) < _HEADER_BYTES:
            raise IllegalBufferError("plaintext shorter than its header")
        (msg_len,) = _LENGTH.unpack_from(content, _RANDOM_BYTES)
        msg_end = _HEADER_BYTES + msg_len
        if msg_end > len(content):
            raise IllegalBufferError("length field exceeds plaintext")
        if not hmac.compare_digest(content[msg_end:], self._receive_id):
            raise ReceiveIdError("receiveid mismatch")
        return content[_HEADER_BYTES:msg_end]

    def decrypt_message(self, msg_signature: str, timestamp: str, nonce: str, encrypted_b64: str) -> bytes:
        """Verify the signature over the ciphertext, then decrypt it (the POST callback path)."""
        self.verify_signature(msg_signature, timestamp, nonce, encrypted_b64)
        return self.decrypt(encrypted_b64)

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Answer WeCom's GET URL check: verify, decrypt and return the echostr plaintext to echo back."""
        plaintext = self.decrypt_message(msg_signature, timestamp, nonce, echostr)
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptError("echostr plaintext is not UTF-8") from None
