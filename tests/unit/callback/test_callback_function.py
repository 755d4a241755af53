"""CallbackFunction end to end in-process: every bad input gets a 4xx with a reason, never a 5xx."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests

from local.events import (
    add_contact_fields,
    callback_get_event,
    callback_post_event,
    http_event,
    signed_callback_query,
)
from local.settings import DEV_DEFAULTS
from local.wecom_sim.endpoints_welcome import issue_welcome_code
from tests.support import emf_records, function_under_test, metric_dimensions
from wecom_bundle.callback.crypto import MsgCrypto
from wecom_bundle.callback.xml_parser import build_envelope, build_event_xml
from wecom_bundle.welcome import repo as welcome_repo
from wecom_bundle.welcome.claim import event_key

ENV = {
    k: DEV_DEFAULTS[k]
    for k in ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")
}


@pytest.fixture
def handler(aws_env: dict[str, str]) -> Any:  # noqa: ARG001
    """A cold CallbackFunction with the dev settings (aws_env also resets the layer's cached settings)."""
    return function_under_test("CallbackFunction")


def _crypto(corp_id: str = ENV["WECOM_CORP_ID"]) -> MsgCrypto:
    return MsgCrypto(ENV["WECOM_CALLBACK_TOKEN"], ENV["WECOM_ENCODING_AES_KEY"], corp_id)


def _post(body: str | bytes, query: dict[str, str], *, b64: bool = False) -> dict[str, Any]:
    event = http_event("POST", "/callback", query, None, {"content-type": "text/xml"})
    if b64:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"] = body
    return event


def _signed_post(
    plaintext: bytes,
    *,
    corp_id: str = ENV["WECOM_CORP_ID"],
    timestamp: int | None = None,
    to_user: str | None = None,
) -> dict[str, Any]:
    crypto = _crypto(corp_id)
    encrypted = crypto.encrypt(plaintext)
    body = build_envelope(to_user if to_user is not None else corp_id, encrypted)
    return _post(body, signed_callback_query(_crypto(), encrypted, timestamp))


def _unknown_event_xml() -> bytes:
    return build_event_xml(
        {
            "ToUserName": ENV["WECOM_CORP_ID"],
            "FromUserName": "sys",
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": "change_external_chat",
            "ChangeType": "create",
        }
    ).encode()


def test_url_verification_answers_plain_echostr(handler: Any) -> None:
    started = time.perf_counter()
    answer = handler(callback_get_event(ENV, echo="1616140317555161061"))
    assert time.perf_counter() - started < 1.0
    assert answer["statusCode"] == 200
    assert answer["body"] == "1616140317555161061"
    assert answer["headers"]["Content-Type"].startswith("text/plain")


def test_url_verification_with_literal_plus_and_percent_encoding(handler: Any) -> None:
    crypto = _crypto()
    for _ in range(20):  # find an echostr whose base64 has a '+', as WeCom's often do
        echostr = crypto.encrypt(b"plus-check")
        if "+" in echostr:
            break
    query = {**signed_callback_query(crypto, echostr), "echostr": echostr}
    event = http_event("GET", "/callback", query)  # percent-encoded: %2B
    assert handler(event)["body"] == "plus-check"
    event["rawQueryString"] = event["rawQueryString"].replace("%2B", "+")  # a raw '+' must not become a space
    assert handler(event)["body"] == "plus-check"


def test_unknown_event_is_acknowledged(handler: Any) -> None:
    answer = handler(_signed_post(_unknown_event_xml()))
    assert answer == {
        "statusCode": 200,
        "headers": {"Content-Type": "text/plain; charset=utf-8"},
        "body": "success",
    }


def test_base64_encoded_body_is_accepted(handler: Any) -> None:
    crypto = _crypto()
    encrypted = crypto.encrypt(_unknown_event_xml())
    event = _post(
        build_envelope(ENV["WECOM_CORP_ID"], encrypted).encode(),
        signed_callback_query(crypto, encrypted),
        b64=True,
    )
    assert handler(event)["statusCode"] == 200


def _tamper(event: dict[str, Any]) -> dict[str, Any]:
    crypto_text = event["body"].split("<![CDATA[")[2].split("]]>")[0]
    flipped = crypto_text[:10] + ("A" if crypto_text[10] != "A" else "B") + crypto_text[11:]
    event["body"] = event["body"].replace(crypto_text, flipped)
    return event


def _truncate(event: dict[str, Any]) -> dict[str, Any]:
    crypto_text = event["body"].split("<![CDATA[")[2].split("]]>")[0]
    event["body"] = event["body"].replace(crypto_text, crypto_text[:-24])
    return event


BAD_REQUESTS = {
    "missing_signature": (lambda e: e["queryStringParameters"].pop("msg_signature") and _requery(e), 400),
    "missing_nonce": (lambda e: e["queryStringParameters"].pop("nonce") and _requery(e), 400),
    "wrong_signature": (lambda e: _set_query(e, "msg_signature", "0" * 40), 401),
    "tampered_ciphertext": (_tamper, 401),
    "truncated_ciphertext": (_truncate, 401),
    "malformed_xml": (lambda e: {**e, "body": "<xml><Encrypt>abc"}, 400),
    "dtd_xml": (
        lambda e: {**e, "body": '<!DOCTYPE xml [<!ENTITY x "y">]><xml><Encrypt>&x;</Encrypt></xml>'},
        400,
    ),
    "non_utf8": (
        lambda e: {
            **e,
            "body": base64.b64encode("<xml>渠道</xml>".encode("gbk")).decode(),
            "isBase64Encoded": True,
        },
        400,
    ),
    "bad_base64_body": (lambda e: {**e, "body": "!!!", "isBase64Encoded": True}, 400),
    "oversized": (lambda e: {**e, "body": "<xml><Encrypt>" + "A" * 70_000 + "</Encrypt></xml>"}, 413),
    "json_body": (lambda e: {**e, "body": json.dumps({"Encrypt": "x"})}, 400),
    "empty_body": (lambda e: {**e, "body": ""}, 400),
}


def _requery(event: dict[str, Any]) -> dict[str, Any]:
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in event["queryStringParameters"].items())
    return event


def _set_query(event: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    event["queryStringParameters"][name] = value
    return _requery(event)


@pytest.mark.usefixtures("caplog")
@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_bad_requests_get_4xx_with_reason(handler: Any, name: str) -> None:
    mutate, status = BAD_REQUESTS[name]
    event = mutate(callback_post_event(ENV, add_contact_fields(ENV)))
    answer = handler(event)
    assert answer["statusCode"] == status
    assert answer["body"] and len(answer["body"]) < 80
    assert "WelcomeCode" not in answer["body"]


def test_a_refused_signature_is_counted_for_the_alarm(
    handler: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """template.yaml's CallbackSignatureAlarm watches CallbackRejected{service, reason=signature}."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    capsys.readouterr()
    event = _set_query(callback_post_event(ENV, add_contact_fields(ENV)), "msg_signature", "0" * 40)
    assert handler(event)["statusCode"] == 401
    (record,) = emf_records(capsys.readouterr().out, "CallbackRejected")
    assert (record["service"], record["reason"], record["CallbackRejected"]) == (
        "wecom-bundle",
        "signature",
        [1.0],
    )
    assert metric_dimensions(record) == [["reason", "service"]]
    assert emf_records(capsys.readouterr().out, "CallbackRejected") == []
    handler(_set_query(callback_post_event(ENV, add_contact_fields(ENV)), "nonce", ""))  # not a signature
    assert emf_records(capsys.readouterr().out, "CallbackRejected") == []


def test_wrong_corp_id_is_forbidden(handler: Any) -> None:
    answer = handler(_signed_post(_unknown_event_xml(), corp_id="wwsomeoneelse"))
    assert answer["statusCode"] == 403


def test_envelope_for_another_corp_is_forbidden(handler: Any) -> None:
    answer = handler(_signed_post(_unknown_event_xml(), to_user="wwsomeoneelse"))
    assert answer["statusCode"] == 403


@pytest.mark.parametrize("skew", [-301, 301, 86_400])
def test_stale_or_future_timestamp_is_rejected(handler: Any, skew: int) -> None:
    answer = handler(_signed_post(_unknown_event_xml(), timestamp=int(time.time()) + skew))
    assert answer["statusCode"] == 400
    assert "timestamp" in answer["body"]


def test_skew_is_configurable(handler: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBACK_MAX_SKEW_SECONDS", "900")
    assert handler(_signed_post(_unknown_event_xml(), timestamp=int(time.time()) - 600))["statusCode"] == 200


def test_malformed_inner_xml_is_rejected(handler: Any) -> None:
    assert handler(_signed_post(b"<xml><MsgType>event"))["statusCode"] == 400
    assert handler(_signed_post(b'<!DOCTYPE x [<!ENTITY a "b">]><xml><E>&a;</E></xml>'))["statusCode"] == 400


def test_get_verification_rejections(handler: Any) -> None:
    good = callback_get_event(ENV)
    missing = json.loads(json.dumps(good))
    missing["rawQueryString"] = missing["rawQueryString"].split("&echostr=")[0]
    assert handler(missing)["statusCode"] == 400
    wrong = json.loads(json.dumps(good))
    wrong["rawQueryString"] = wrong["rawQueryString"].replace("msg_signature=", "msg_signature=0")
    assert handler(wrong)["statusCode"] == 401


def test_rejections_never_log_the_payload(handler: Any, caplog: pytest.LogCaptureFixture) -> None:
    event = _tamper(callback_post_event(ENV, add_contact_fields(ENV, welcome_code="SECRET-CODE-123")))
    handler(event)
    handler(_signed_post(_unknown_event_xml(), corp_id="wwsomeoneelse"))
    # Every attribute of every record, as a JSON formatter would print them.
    logged = " ".join(json.dumps(vars(r), default=str) for r in caplog.records)
    assert "callback rejected" in logged
    assert "SECRET-CODE-123" not in logged
    assert event["body"][40:80] not in logged
    assert ENV["WECOM_ENCODING_AES_KEY"] not in logged


def test_other_methods_are_refused(handler: Any) -> None:
    assert handler(http_event("PUT", "/callback"))["statusCode"] == 405


# ------------------------------------------------------------------------------ URL verification
def _replayed_as_get(post: dict[str, Any]) -> dict[str, Any]:
    """A captured POST replayed as URL verification: its own signed query, its Encrypt as echostr."""
    encrypted = post["body"].split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    return http_event("GET", "/callback", {**post["queryStringParameters"], "echostr": encrypted})


def _signed_get(plaintext: bytes, timestamp: int | None = None) -> dict[str, Any]:
    crypto = _crypto()
    echostr = crypto.encrypt(plaintext)
    return http_event(
        "GET", "/callback", {**signed_callback_query(crypto, echostr, timestamp), "echostr": echostr}
    )


@pytest.mark.parametrize("skew", [-301, 301, 86_400])
def test_url_verification_enforces_the_timestamp_window(handler: Any, skew: int) -> None:
    answer = handler(_signed_get(b"1616140317555161061", timestamp=int(time.time()) + skew))
    assert answer["statusCode"] == 400
    assert "timestamp" in answer["body"]


def test_old_post_replayed_as_url_verification_reveals_nothing(handler: Any) -> None:
    fields = add_contact_fields(ENV, welcome_code="SECRET-CODE-OLD", external_userid="wmReplayed")
    post = _signed_post(build_event_xml(fields).encode(), timestamp=int(time.time()) - 3600)
    answer = handler(_replayed_as_get(post))
    assert answer["statusCode"] == 400
    assert "SECRET-CODE-OLD" not in answer["body"]
    assert "wmReplayed" not in answer["body"]


def test_fresh_post_replayed_as_url_verification_is_refused(handler: Any) -> None:
    post = callback_post_event(ENV, add_contact_fields(ENV, welcome_code="SECRET-CODE-NEW"))
    answer = handler(_replayed_as_get(post))
    assert 400 <= answer["statusCode"] < 500
    assert "SECRET-CODE-NEW" not in answer["body"]
    assert "<xml>" not in answer["body"]


@pytest.mark.parametrize(
    "plaintext",
    [b"<xml><A>1</A></xml>", b"", b"a" * 129, b"two words", b"tab\there", "渠道".encode(), b"a<b"],
)
def test_url_verification_answers_only_a_short_token(handler: Any, plaintext: bytes) -> None:
    answer = handler(_signed_get(plaintext))
    assert answer["statusCode"] == 400
    assert answer["body"] == "echostr is not a verification string"


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize(
    "spell",
    [lambda t: f" {t}", lambda t: f"+{t}", lambda t: f"{t[:4]}_{t[4:]}", lambda t: t.translate(FULL_WIDTH)],
)
def test_query_timestamp_must_be_plain_digits(handler: Any, spell: Any) -> None:
    crypto = _crypto()
    echostr = crypto.encrypt(b"1616140317555161061")
    timestamp = spell(str(int(time.time())))  # int() takes every one of these as the current time
    query = {"msg_signature": crypto.sign(timestamp, "n1", echostr), "timestamp": timestamp, "nonce": "n1"}
    answer = handler(http_event("GET", "/callback", {**query, "echostr": echostr}))
    assert (answer["statusCode"], answer["body"]) == (400, "timestamp is not an integer")


# ------------------------------------------------------------------------------ odd event fields
@pytest.fixture
def welcome_sim(moto_table: Any, wecom_sim: Any) -> Any:  # noqa: ARG001
    """moto's DynamoDB with a default rule and the WeCom simulator: an accepted event would be welcomed."""
    welcome_repo.put_rule({"rule_id": "default", "priority": 0, "match": {}, "text": {"content": "Hi"}})
    return wecom_sim


def _welcome_calls(sim: Any) -> list[dict[str, Any]]:
    calls = requests.get(f"{sim.url}/__sim/calls", params={"path": "send_welcome_msg"}, timeout=5).json()
    return calls["calls"] if isinstance(calls, dict) else calls


NOW_TEXT = str(int(time.time()))
ODD_FIELDS = {
    "ext_over_dynamodb_key": ("ExternalUserID", "wm" + "x" * 2100),
    "ext_over_128_bytes": ("ExternalUserID", "wm" + "客" * 43),
    "ext_with_key_separator": ("ExternalUserID", "wmA#zhangsan"),
    "ext_with_tab": ("ExternalUserID", "wm\tA"),
    "ext_with_newline": ("ExternalUserID", "wm\nA"),
    "ext_with_c1_control": ("ExternalUserID", "wm\x85A"),
    "ext_with_line_separator": ("ExternalUserID", "wm\u2028A"),
    "ext_with_blank": ("ExternalUserID", " wmA"),
    "ext_empty": ("ExternalUserID", ""),
    "user_over_64_bytes": ("UserID", "u" * 65),
    "user_with_key_separator": ("UserID", "zhang#san"),
    "user_with_zero_width": ("UserID", "zhang\u200bsan"),
    "user_empty": ("UserID", ""),
    "state_with_control": ("State", "web\x7f"),
    "state_over_128_bytes": ("State", "s" * 129),
    "code_over_512_bytes": ("WelcomeCode", "C" * 513),
    "time_letters": ("CreateTime", "abc"),
    "time_exponent": ("CreateTime", "1.5e9"),
    "time_leading_blank": ("CreateTime", " " + NOW_TEXT),
    "time_trailing_newline": ("CreateTime", NOW_TEXT + "\n"),
    "time_leading_zero": ("CreateTime", "0" + NOW_TEXT),
    "time_full_width": ("CreateTime", NOW_TEXT.translate(FULL_WIDTH)),
    "time_negative": ("CreateTime", "-" + NOW_TEXT),
    "time_plus_sign": ("CreateTime", "+" + NOW_TEXT),
    "time_zero": ("CreateTime", "0"),
    "time_astronomical": ("CreateTime", "9" * 400),
    "time_past_2106": ("CreateTime", str(2**32)),
    "time_empty": ("CreateTime", ""),
}


@pytest.mark.parametrize("name", sorted(ODD_FIELDS))
def test_signed_event_with_odd_field_is_refused_by_field_name(
    handler: Any, welcome_sim: Any, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    field, value = ODD_FIELDS[name]
    event = callback_post_event(
        ENV, {**add_contact_fields(ENV, welcome_code="SECRET-CODE-ODD"), field: value}
    )
    answer = handler(event)
    assert (answer["statusCode"], answer["body"]) == (400, f"invalid event field: {field}")
    assert _welcome_calls(welcome_sim) == []
    rejected = [r for r in caplog.records if r.getMessage() == "callback rejected"]
    assert [getattr(r, "field", None) for r in rejected] == [field]
    logged = " ".join(json.dumps(vars(r), default=str) for r in caplog.records)
    assert "SECRET-CODE-ODD" not in logged
    if len(value) > 3:
        assert value not in logged


@pytest.mark.parametrize("field", ["CreateTime", "UserID", "ExternalUserID"])
def test_add_contact_event_without_a_required_field_is_refused(
    handler: Any, welcome_sim: Any, field: str
) -> None:
    fields = add_contact_fields(ENV)
    del fields[field]
    answer = handler(callback_post_event(ENV, fields))
    assert (answer["statusCode"], answer["body"]) == (400, f"invalid event field: {field}")
    assert _welcome_calls(welcome_sim) == []


def test_odd_fields_of_an_ignored_event_are_refused_too(handler: Any) -> None:
    fields = {"ToUserName": ENV["WECOM_CORP_ID"], "CreateTime": "1.5e9", "MsgType": "event"}
    fields |= {"Event": "change_external_chat", "ChangeType": "create"}
    answer = handler(callback_post_event(ENV, fields))
    assert (answer["statusCode"], answer["body"]) == (400, "invalid event field: CreateTime")


def test_usual_event_fields_are_accepted(handler: Any, welcome_sim: Any) -> None:
    fields = add_contact_fields(
        ENV,
        userid="zhang.san-01@corp",
        external_userid="wmAJ2GCAAAXtWyujaWJHDDGi0mACHAAA",
        state="渠道#1 spring",
    )
    assert handler(callback_post_event(ENV, fields))["statusCode"] == 200
    assert len(_welcome_calls(welcome_sim)) == 1


def _welcome_record(fields: dict[str, Any]) -> dict[str, Any] | None:
    return welcome_repo.get_welcome(event_key(ENV["WECOM_CORP_ID"], fields))


def _minted(sim: Any, create_time: int, ext: str = "wmSampleCustomer") -> dict[str, Any]:
    """An add-contact event whose welcome code the simulator accepts (valid 20 s from ``create_time``)."""
    with sim.state.lock:
        code = issue_welcome_code(sim.state, "zhangsan", ext, create_time)
    return add_contact_fields(ENV, external_userid=ext, welcome_code=code, create_time=create_time)


# ------------------------------------------------------------------------------ deadline
def test_far_future_create_time_is_welcomed_and_recorded(handler: Any, welcome_sim: Any) -> None:
    fields = _minted(welcome_sim, 2**32 - 1)
    assert handler(callback_post_event(ENV, fields))["statusCode"] == 200
    assert len(welcome_sim.state.delivered_welcomes()) == 1
    record = _welcome_record(fields)
    assert record["outcome"] == "sent"
    assert 0 <= record["latency_ms"] < 5000


def test_future_create_time_gives_up_by_receipt_plus_20_s(
    handler: Any, welcome_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WELCOME_SAFETY_MARGIN_MS", "16500")  # the code's 20 s less this: 3.5 s from receipt
    requests.post(
        f"{welcome_sim.url}/__sim/faults",
        json={"path": "send_welcome_msg", "errcode": 41096, "times": 1000},
        timeout=5,
    ).raise_for_status()
    fields = _minted(welcome_sim, int(time.time()) + 60)
    assert handler(callback_post_event(ENV, fields))["statusCode"] == 200
    record = _welcome_record(fields)
    assert (record["outcome"], record["errcode"]) == ("expired", 41096)
    assert 0 <= record["latency_ms"] <= record["recorded_at_ms"] - record["claimed_at_ms"] + 1000
    # Gave up about 3.5 s after receipt (generous bound for a busy machine); the CreateTime to come, 60 s away,
    # did not extend it.
    assert record["recorded_at_ms"] - record["claimed_at_ms"] < 10_000


# ------------------------------------------------------------------------------ dedupe key
def test_other_spellings_of_one_create_time_send_nothing_more(handler: Any, welcome_sim: Any) -> None:
    fields = _minted(welcome_sim, int(time.time()))
    assert handler(callback_post_event(ENV, fields))["statusCode"] == 200
    spelt = str(fields["CreateTime"])
    for spelling in (f"0{spelt}", f" {spelt}", f"{spelt} ", spelt.translate(FULL_WIDTH), f"{spelt}.0"):
        answer = handler(callback_post_event(ENV, {**fields, "CreateTime": spelling}))
        assert (answer["statusCode"], answer["body"]) == (400, "invalid event field: CreateTime")
    assert len(_welcome_calls(welcome_sim)) == 1


def test_ids_that_would_share_a_key_are_refused_not_merged(handler: Any, welcome_sim: Any) -> None:
    now = int(time.time())
    first = {**_minted(welcome_sim, now, ext="wmA#zhangsan"), "UserID": "lisi"}
    second = {**_minted(welcome_sim, now, ext="wmA"), "UserID": "zhangsan#lisi"}
    assert handler(callback_post_event(ENV, first))["body"] == "invalid event field: ExternalUserID"
    assert handler(callback_post_event(ENV, second))["body"] == "invalid event field: UserID"
    assert _welcome_calls(welcome_sim) == []
