"""local.run and local.invoke without a stack: the printed summary and the command-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from local import invoke, run
from local.dynamodb import free_port
from local.settings import DEV_DEFAULTS
from local.template import load_template


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
    )
    text = run.describe(stack)  # type: ignore[arg-type]
    assert "http://127.0.0.1:3000/callback" in text
    assert "moto at http://127.0.0.1:4000" in text
    assert "http://127.0.0.1:5000   (built-in simulator)" in text
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
