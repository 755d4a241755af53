"""local.run and local.invoke without a stack: the printed summary, the command-line errors, a busy port,
where DynamoDB Local keeps its data, and callback events signed afresh."""

from __future__ import annotations

import json
import signal
import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from local import events, invoke, run
from local.dynamodb import free_port
from local.events import ResignError, resign_callback
from local.settings import DEV_DEFAULTS
from local.template import REPO_ROOT, load_template
from wecom_bundle.callback.crypto import MsgCrypto
from wecom_bundle.callback.xml_parser import parse_envelope, parse_event

EVENTS = REPO_ROOT / "events"


def test_summary_names_everything_but_shows_no_secret(aws_env: dict[str, str]) -> None:
    template = load_template()
    stack = SimpleNamespace(
        api_url="http://127.0.0.1:3000",
        dynamodb_mode="moto",
        dynamodb_endpoint="http://127.0.0.1:4000",
        wecom_api_base="http://127.0.0.1:5000",
        aws_services_endpoint="http://127.0.0.1:4000",
        simulator=object(),
        template=template,
        dynamodb_data_dir=None,
    )
    text = run.describe(stack)  # type: ignore[arg-type]
    assert "http://127.0.0.1:3000/callback" in text
    assert "moto at http://127.0.0.1:4000" in text
    assert "http://127.0.0.1:5000   (built-in simulator)" in text
    assert "\nexport SIM=http://127.0.0.1:5000\n" in text
    assert "in memory, lost on exit" in text
    assert aws_env["WECOM_CORP_ID"] in text
    assert "WECOM_CORP_SECRET=set" in text
    for route in template.routes:
        assert route.path in text
    for schedule in template.schedules:
        assert schedule.expression in text
    assert "SQS (moto) at http://127.0.0.1:4000" in text
    assert "ResultSyncQueue" in text and "-> ResultSyncWorkerFunction (batch 1)" in text
    assert "dead letters -> ResultSyncDeadLetterQueue" in text
    for secret in ("WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY"):
        assert DEV_DEFAULTS[secret] not in text


def test_read_event(tmp_path: Path) -> None:
    assert invoke.read_event("") == b""
    path = tmp_path / "event.json"
    path.write_text('{"a": 1}', encoding="utf-8")
    assert json.loads(invoke.read_event(str(path))) == {"a": 1}
    path.write_text("{broken", encoding="utf-8")
    with pytest.raises(ValueError):
        invoke.read_event(str(path))


def test_no_stack_answers_on_a_closed_port() -> None:
    assert invoke.running_stack(f"http://127.0.0.1:{free_port()}") is False


def test_invoke_refuses_unknown_functions_and_bad_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke.main(["NoSuchFunction"]) == 2
    assert "CallbackFunction" in capsys.readouterr().err
    assert invoke.main(["ReminderFunction", str(tmp_path / "missing.json")]) == 2
    assert "cannot use event" in capsys.readouterr().err


@pytest.mark.usefixtures("aws_env")
def test_kept_data_is_named_with_how_to_wipe_it(tmp_path: Path) -> None:
    stack = SimpleNamespace(
        api_url="http://127.0.0.1:3000",
        dynamodb_mode="local",
        dynamodb_endpoint="http://127.0.0.1:4000",
        wecom_api_base="https://qyapi.weixin.qq.com",
        aws_services_endpoint="http://127.0.0.1:4001",
        simulator=None,
        template=load_template(),
        dynamodb_data_dir=tmp_path / "dynamodb",
    )
    text = run.describe(stack)  # type: ignore[arg-type]
    assert f"kept in {tmp_path / 'dynamodb'} across restarts" in text
    assert "make clean-data" in text and f"rm -rf {tmp_path / 'dynamodb'}" in text
    assert "export SIM=" not in text  # no simulator: nothing to paste


def test_data_dir_only_for_dynamodb_local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DYNAMODB_ENDPOINT", raising=False)
    monkeypatch.delenv("DYNAMODB_DATA_DIR", raising=False)
    monkeypatch.setenv("DYNAMODB", "moto")
    assert run.data_dir() is None
    monkeypatch.setenv("DYNAMODB", "local")
    assert run.data_dir() == REPO_ROOT / ".local-data" / "dynamodb"
    monkeypatch.setenv("DYNAMODB_DATA_DIR", str(tmp_path))
    assert run.data_dir() == tmp_path
    monkeypatch.setenv("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000")  # someone else's DynamoDB keeps its own
    assert run.data_dir() is None
    ignored = (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".local-data/" in ignored


@pytest.mark.usefixtures("aws_env")
def test_a_busy_port_is_named_with_api_port_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        monkeypatch.setenv("API_PORT", str(port))
        monkeypatch.setenv("DYNAMODB", "moto")
        monkeypatch.setattr(signal, "signal", lambda *_: None)  # keep pytest's own Ctrl+C handler
        assert run.main() == 1
    err = capsys.readouterr().err
    assert f"port {port} is in use (set API_PORT to another port" in err
    assert "Traceback" not in err and "Errno" not in err


def _keys() -> dict[str, str]:
    return dict(DEV_DEFAULTS)


def test_a_callback_template_is_signed_now_and_decrypts_to_the_same_event() -> None:
    template = json.loads((EVENTS / "callback-post-add-contact.json").read_text(encoding="utf-8"))
    fresh = json.loads(invoke.fresh_event(json.dumps(template).encode(), {}))
    query = fresh["queryStringParameters"]
    assert query["timestamp"] != template["queryStringParameters"]["timestamp"]
    assert abs(int(query["timestamp"]) - int(time.time())) <= 5
    keys = _keys()
    crypto = MsgCrypto(keys["WECOM_CALLBACK_TOKEN"], keys["WECOM_ENCODING_AES_KEY"], keys["WECOM_CORP_ID"])
    encrypted = parse_envelope(fresh["body"].encode()).encrypt
    event = parse_event(
        crypto.decrypt_message(query["msg_signature"], query["timestamp"], query["nonce"], encrypted)
    )
    old = parse_event(crypto.decrypt(parse_envelope(template["body"].encode()).encrypt))
    assert abs(int(event.pop("CreateTime")) - int(time.time())) <= 5
    old.pop("CreateTime")
    assert event == old
    assert fresh["rawQueryString"] == "&".join(f"{k}={v}" for k, v in query.items())


def test_a_url_verification_template_is_signed_now() -> None:
    template = json.loads((EVENTS / "callback-get-verify.json").read_text(encoding="utf-8"))
    fresh = resign_callback(template, _keys())
    query = fresh["queryStringParameters"]
    keys = _keys()
    crypto = MsgCrypto(keys["WECOM_CALLBACK_TOKEN"], keys["WECOM_ENCODING_AES_KEY"], keys["WECOM_CORP_ID"])
    assert crypto.verify_url(query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"])


def test_other_events_pass_unchanged_and_foreign_keys_are_refused() -> None:
    scheduled = (EVENTS / "reminder-scheduled.json").read_bytes()
    assert invoke.fresh_event(scheduled, {}) == scheduled
    assert invoke.fresh_event(b"", {}) == b""
    template = (EVENTS / "callback-post-add-contact.json").read_bytes()
    other_key = {"WECOM_ENCODING_AES_KEY": "Z" * 43}
    with pytest.raises(ResignError, match="not encrypted with WECOM_ENCODING_AES_KEY"):
        invoke.fresh_event(template, other_key)
    broken = json.dumps({**json.loads(template), "body": "<xml><nope/></xml>"}).encode()
    with pytest.raises(ResignError, match="not a WeCom callback envelope"):
        invoke.fresh_event(broken, {})


def test_make_events_writes_fresh_copies_outside_the_tracked_samples(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert events.FRESH_EVENTS_DIR == REPO_ROOT / ".local-data" / "events"  # ignored: .local-data/
    tracked = {path.name: path.read_bytes() for path in EVENTS.glob("*.json")}
    monkeypatch.setattr(sys, "argv", ["local.events", "--out", str(tmp_path)])
    events.main()
    written = {path.name for path in tmp_path.glob("*.json")}
    assert "callback-post-add-contact.json" in written and written <= set(tracked)
    fresh = json.loads((tmp_path / "callback-post-add-contact.json").read_text(encoding="utf-8"))
    assert abs(int(fresh["queryStringParameters"]["timestamp"]) - int(time.time())) <= 5
    assert {path.name: path.read_bytes() for path in EVENTS.glob("*.json")} == tracked
    assert str(tmp_path) in capsys.readouterr().out
