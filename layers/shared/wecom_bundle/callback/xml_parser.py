"""Hardened XML for WeCom callbacks: the outer POST envelope and the decrypted inner event.

Why so strict: the envelope reaches us before any signature check, so the parser must be safe against DTDs,
entity expansion ("billion laughs") and external entities, and must not guess encodings. WeCom's real XML is
tiny and flat (``<xml>`` with CDATA or bare-number children), so anything else is rejected as
``XmlParseError`` (-40002) instead of being half-understood.

The builders exist for the local simulator and tests; they emit the same shape WeCom sends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from .crypto import XmlParseError

__all__ = ["Envelope", "build_envelope", "build_event_xml", "parse_envelope", "parse_event"]

# WeCom callback bodies are a few KiB; refusing huge bodies bounds parse time on unauthenticated input.
MAX_XML_BYTES = 1 << 20
_ROOT_TAG = "xml"
_TAG_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Characters XML 1.0 cannot carry at all (not even as character references).
_ILLEGAL_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_DECL_ENCODING = re.compile(r"""\A\ufeff?<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")
_UTF8_NAMES = frozenset({"utf-8", "utf8"})
_CDATA_END = "]]>"
_CR = "\r"


@dataclass(frozen=True)
class Envelope:
    """The outer POST body: who it is for, the ciphertext, and (for app callbacks) the agent id."""

    to_user_name: str
    encrypt: str
    agent_id: str


# -- parsing ------------------------------------------------------------------------------------------


def _parse_root(data: bytes) -> Element:
    """Parse UTF-8 XML with every dangerous feature forbidden; return the ``<xml>`` root element."""
    if not isinstance(data, bytes | bytearray):
        raise XmlParseError("body must be bytes")
    if len(data) > MAX_XML_BYTES:
        raise XmlParseError("body too large")
    try:
        # Decode ourselves: parsing a str stops expat from honouring an `encoding="..."` declaration.
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise XmlParseError("body is not UTF-8") from None
    declared = _XML_DECL_ENCODING.match(text)
    if declared and declared.group(1).lower() not in _UTF8_NAMES:
        raise XmlParseError("declared encoding is not UTF-8")
    try:
        root = SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError):
        raise XmlParseError("malformed or forbidden XML") from None
    if root.tag != _ROOT_TAG or root.attrib or (root.text or "").strip():
        raise XmlParseError("unexpected root element")
    return root


def _flat_fields(root: Element, allow_nested: bool) -> Iterator[tuple[str, str]]:
    """Yield (tag, text) for each child, rejecting attributes and stray text between children.

    Nesting is refused in the envelope (WeCom never nests there). Inside a decrypted event it is allowed,
    because some WeCom events carry structure (e.g. ``<BatchJob>``): such a child is kept with empty text,
    so the event is still dispatched (and acknowledged) by its flat MsgType/Event/ChangeType fields.
    """
    for child in root:
        if not isinstance(child.tag, str) or not _TAG_RE.fullmatch(child.tag):
            raise XmlParseError("unexpected element name")
        if child.attrib or (child.tail or "").strip() or (len(child) and not allow_nested):
            raise XmlParseError("unexpected element structure")
        yield child.tag, "" if len(child) else child.text or ""


def _to_dict(root: Element, allow_nested: bool = False) -> dict[str, str]:
    """Flatten the root; a repeated tag is ambiguous (which one did WeCom sign?) and therefore rejected."""
    fields: dict[str, str] = {}
    for tag, text in _flat_fields(root, allow_nested):
        if tag in fields:
            raise XmlParseError("duplicate element")
        fields[tag] = text
    return fields


def parse_envelope(body: bytes) -> Envelope:
    """Parse the raw POST body WeCom sends; ``Encrypt`` must be present and non-empty."""
    fields = _to_dict(_parse_root(body))
    encrypt = fields.get("Encrypt", "")
    if not encrypt.strip():
        raise XmlParseError("missing Encrypt")
    return Envelope(
        to_user_name=fields.get("ToUserName", ""),
        encrypt=encrypt,
        agent_id=fields.get("AgentID", ""),
    )


def parse_event(plaintext: bytes) -> dict[str, str]:
    """Parse the decrypted inner ``<xml>`` into {tag: text}; same hardening as the envelope.

    The plaintext is authenticated by then, but a bug or a compromised token must still not become an XML
    attack, so the rules are identical.
    """
    return _to_dict(_parse_root(plaintext), allow_nested=True)


# -- building -----------------------------------------------------------------------------------------


def _cdata(value: str) -> str:
    """Wrap text in CDATA so it survives byte-for-byte.

    ``]]>`` would end the section early, so it is split across two sections; ``\\r`` would be normalised to
    ``\\n`` by every XML parser, so it is emitted as a character reference between sections.
    """
    if _ILLEGAL_XML_CHARS.search(value):
        raise ValueError("value contains characters XML cannot represent")
    parts = []
    for chunk in value.split(_CR):
        parts.append("<![CDATA[" + chunk.replace(_CDATA_END, "]]]]><![CDATA[>") + "]]>")
    return "&#13;".join(parts)


def _element(tag: str, value: str | int) -> str:
    """One child element: ints bare (like WeCom's ``<CreateTime>``), strings in CDATA."""
    if not isinstance(tag, str) or not _TAG_RE.fullmatch(tag):
        raise ValueError("invalid element name")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError("values must be str or int")
    body = str(value) if isinstance(value, int) else _cdata(value)
    return f"<{tag}>{body}</{tag}>"


def build_event_xml(fields: Mapping[str, str | int]) -> str:
    """Build a flat ``<xml>`` document in WeCom's style; ``parse_event`` round-trips it exactly."""
    return "<xml>" + "".join(_element(tag, value) for tag, value in fields.items()) + "</xml>"


def build_envelope(to_user_name: str, encrypt: str, agent_id: str = "") -> str:
    """Build the POST body WeCom sends to the callback URL (ToUserName, Encrypt, AgentID)."""
    return build_event_xml({"ToUserName": to_user_name, "Encrypt": encrypt, "AgentID": agent_id})
