"""wecomctl commands against a recording HTTP server: what each command sends, prints and exits with.

The end-to-end tests (tests/e2e/test_wecomctl_e2e.py) run the console script against the real local stack;
these pin down the request shapes, the human output and the exit codes without a stack.
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from local.http_server import QuietThreadingHTTPServer
from wecomctl.main import main

# The shape of GET /admin/campaigns/{id} (wecom_bundle.campaigns.get_campaign).
CAMPAIGN = {
    "campaign_id": "cmp_01",
    "name": "spring sale",
    "status": "active",
    "origin": "api",
    "chat_type": "single",
    "created_at": 1_700_000_000,
    "send_at": None,
    "sent_at": 1_700_000_001,
    "cancelled_at": None,
    "audience_size": 20_001,
    "msgid_count": 2,
    "fail_list_size": 1,
    "totals_synced_at": 1_700_003_600,
    "sender": None,
    "text": {"content": "Sale!"},
    "attachments": [],
    "msgids": ["msgA", "msgB"],
    "chunks": [
        {"chunk": 0, "state": "sent", "msgid": "msgA", "audience_count": 10_000},
        {"chunk": 1, "state": "sent", "msgid": "msgB", "audience_count": 10_000, "fail_count": 1},
        {"chunk": 2, "state": "failed", "audience_count": 1, "errcode": 41048},
    ],
    "next_remind_at": 1_700_021_600,
    "totals": {
        "members": {"sent": 3, "unsent": 1},
        "customers": {"sent": 80, "unsent": 10, "not_friend": 6, "limit_reached": 4},
    },
    "reminders": [{"at": 1_700_007_200, "msgid": "msgA", "trigger": "schedule", "outcome": "sent"}],
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeApi:
    """Records requests; answers queued replies (status, JSON[, headers]), else 200 ``{}``; 204 has no body.
    ``GET /admin/health`` (where the CLI learns the business zone) answers ``timezone`` and is only counted."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: list[tuple[Any, ...]] = []
        self.timezone = "Asia/Shanghai"
        self.health_calls = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if url.path == "/admin/health":
                    api.health_calls += 1
                    status, payload, *extra = (200, {"status": "ok", "timezone": api.timezone})
                else:
                    api.requests.append(Recorded(self.command, url.path, parse_qs(url.query), headers, body))
                    status, payload, *extra = api.replies.pop(0) if api.replies else (200, {})
                data = b"" if status == 204 else json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = QuietThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def run(self, *argv: str) -> int:
        return main(["--api", self.url, *argv])


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


# ------------------------------------------------------------------------------------------------ rules
def test_rules_put_from_flags(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [(201, {"rule_id": "expo", "priority": 10, "text": {"content": "Hi"}})]
    code = api.run(
        "rules", "put", "expo", "--text", "Hi", "--priority", "10", "--state-prefix", "expo-",
        "--weekdays", "1,2,3,4,5", "--time-from", "09:00", "--time-to", "18:00",
    )  # fmt: skip
    assert code == 0
    (request,) = api.requests
    assert (request.method, request.path) == ("PUT", "/admin/welcome-rules/expo")
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "text": {"content": "Hi"},
        "priority": 10,
        "match": {
            "state_prefix": "expo-",
            "weekdays": [1, 2, 3, 4, 5],
            "time_from": "09:00",
            "time_to": "18:00",
        },
    }
    assert capsys.readouterr().out.startswith("created rule expo\n")


def test_rules_put_flags_override_the_file(api: FakeApi, tmp_path: Path) -> None:
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps({"priority": 1, "match": {"userid": "u1"}, "text": {"content": "old"}}))
    api.replies = [(200, {"rule_id": "r"})]
    assert api.run("rules", "put", "r", "--file", str(rule), "--text", "new", "--state", "s1") == 0
    assert api.requests[0].json() == {
        "priority": 1,
        "match": {"userid": "u1", "state": "s1"},
        "text": {"content": "new"},
    }


def test_rule_ids_cannot_escape_their_path_segment(api: FakeApi) -> None:
    api.replies = [(404, {"error": {"code": "not_found", "message": "no"}})]
    api.run("rules", "get", "../campaigns?x=1")
    assert api.requests[0].path == "/admin/welcome-rules/..%2Fcampaigns%3Fx%3D1"


def test_rules_list_is_a_table(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [
        (
            200,
            {
                "items": [
                    {"rule_id": "expo", "priority": 10, "match": {"state": "expo", "weekdays": [1, 3]},
                     "text": {"content": "欢迎光临"}, "attachments": [{"msgtype": "image"}]},
                    {"rule_id": "default", "priority": 0, "match": {}, "text": {"content": "Hello"}},
                ]
            },
        )
    ]  # fmt: skip
    assert api.run("rules", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["RULE_ID", "PRIORITY", "MATCH", "TEXT", "ATTACHMENTS", "UPDATED"]
    assert lines[1].split()[:5] == ["expo", "10", "state=expo", "Mon,Wed", "欢迎光临"]
    assert "(default: any)" in lines[2]


def test_rules_delete_and_json_mode_prints_the_api_answer(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.replies = [(204, None), (200, {"items": [{"rule_id": "a"}]})]
    assert api.run("rules", "delete", "a") == 0
    assert capsys.readouterr().out == "deleted rule a\n"
    assert api.run("--json", "rules", "list") == 0
    assert json.loads(capsys.readouterr().out) == {"items": [{"rule_id": "a"}]}


# ------------------------------------------------------------------------------------------- errors
def test_api_errors_exit_1_with_code_field_and_errcode(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    error = {"error": {"code": "invalid_request", "message": "must be HH:MM", "field": "match.time_from"}}
    api.replies = [(400, error), (400, error)]
    assert api.run("rules", "put", "x", "--text", "t", "--time-from", "9") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: invalid_request (HTTP 400): match.time_from: must be HH:MM\n"
    assert api.run("rules", "put", "x", "--text", "t", "--json") == 1
    assert json.loads(capsys.readouterr().err) == error


def test_usage_errors_exit_2(api: FakeApi, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert api.run("rules", "put", "x") == 2
    assert "nothing to put" in capsys.readouterr().err
    assert api.run("campaigns", "create", "--text", "hi", "--audience", str(tmp_path / "none.txt")) == 2
    assert "cannot read audience file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    assert api.run("rules", "put", "x", "--file", str(bad)) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        api.run("rules", "put", "x", "--weekdays", "mon")
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert api.requests == []


def test_global_options_work_after_the_command(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [(200, {"items": []})]
    assert main(["rules", "list", "--api", api.url, "--json", "--timeout", "5"]) == 0
    assert json.loads(capsys.readouterr().out) == {"items": []}


def test_api_port_sets_the_default_api(monkeypatch: pytest.MonkeyPatch, api: FakeApi) -> None:
    monkeypatch.setenv("API_PORT", api.url.rsplit(":", 1)[1])
    api.replies = [(200, {"items": []})]
    assert main(["rules", "list"]) == 0
    assert api.requests[0].path == "/admin/welcome-rules"


# ----------------------------------------------------------------------------------------- welcomes
def test_welcomes_maps_filters_and_follows_the_cursor_with_all(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {"external_userid": "wm1", "userid": "u1", "state": "expo", "rule_id": "r", "outcome": "sent",
              "errcode": 0, "latency_ms": 412, "create_time": 1_700_000_000}  # fmt: skip
    api.replies = [(200, {"items": [record], "cursor": "c2"}), (200, {"items": [record], "cursor": None})]
    code = api.run("welcomes", "--customer", "wm1", "--member", "u1", "--state", "expo", "--since", "1700000000",
                   "--limit", "1", "--all")  # fmt: skip
    assert code == 0
    first, second = api.requests
    assert first.query == {
        "external_userid": ["wm1"],
        "userid": ["u1"],
        "state": ["expo"],
        "since": ["1700000000"],
        "limit": ["1"],
    }
    assert second.query["cursor"] == ["c2"]
    out = capsys.readouterr()
    assert out.out.splitlines()[0].split() == [
        "TIME", "CUSTOMER", "MEMBER", "STATE", "RULE", "OUTCOME", "ERRCODE", "LATENCY_MS",
    ]  # fmt: skip
    assert len(out.out.splitlines()) == 3
    assert out.err == ""


def test_welcomes_one_page_tells_how_to_continue(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [(200, {"items": [], "cursor": "next-one"})]
    assert api.run("welcomes") == 0
    captured = capsys.readouterr()
    assert captured.out == "no welcome records\n"
    assert "--cursor next-one" in captured.err
    assert len(api.requests) == 1


def test_welcomes_all_in_json_joins_the_pages(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [(200, {"items": [{"a": 1}], "cursor": "c"}), (200, {"items": [{"a": 2}], "cursor": None})]
    assert api.run("--json", "welcomes", "--all") == 0
    assert json.loads(capsys.readouterr().out) == {"items": [{"a": 1}, {"a": 2}], "cursor": None}


# ---------------------------------------------------------------------------------------- campaigns
def _audience(tmp_path: Path) -> Path:
    path = tmp_path / "audience.csv"
    path.write_text("\ufeffname,external_userid\n甲,wm1\n乙,wm2\n\n# dup\n甲,wm1\n", encoding="utf-8")
    return path


def test_campaign_create_body_and_derived_idempotency_key(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    created = {"campaign_id": "cmp_01", "status": "active", "msgids": ["msgA"], "fail_list": []}
    api.replies = [(201, created), (200, created), (201, created)]
    argv = [
        "campaigns",
        "create",
        "--text",
        "Sale!",
        "--audience",
        str(_audience(tmp_path)),
        "--name",
        "spring",
    ]
    assert api.run(*argv) == 0
    assert api.run(*argv) == 0  # the same command again
    assert api.run(*argv[:2], "--text", "Sale!!", *argv[4:]) == 0  # different content
    first, again, other = api.requests
    assert (first.method, first.path) == ("POST", "/admin/campaigns")
    assert first.json() == {
        "chat_type": "single",
        "text": {"content": "Sale!"},
        "external_userid": ["wm1", "wm2"],
        "name": "spring",
    }
    key = first.headers["idempotency-key"]
    assert key.startswith("wecomctl-") and len(key) <= 128
    assert again.headers["idempotency-key"] == key
    assert other.headers["idempotency-key"] != key
    captured = capsys.readouterr()
    out = captured.out
    assert f"read 2 ids from {_audience(tmp_path)} (1 repeat dropped)" in captured.err
    assert "campaign cmp_01 created" in out
    assert "campaign cmp_01 was already created by an earlier run (same idempotency key)" in out
    assert f"idempotency_key: {key}" in out


def test_campaign_create_replay_header_still_creating_and_chunk_errors(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = {"campaign_id": "c9", "status": "active", "msgids": ["m1"], "fail_list": []}
    creating = {
        **answer,
        "status": "creating",
        "chunk_errors": [{"chunk": 1, "errcode": 45033, "errmsg": "busy"}],
    }
    api.replies = [(200, answer, {"Idempotent-Replayed": "true"}), (202, creating)]
    assert api.run("campaigns", "create", "--text", "x", "--sender", "u1") == 0
    assert "was already created by an earlier run" in capsys.readouterr().out
    assert api.run("campaigns", "create", "--text", "x", "--sender", "u1", "--name", "n") == 0
    out = capsys.readouterr().out
    assert "is being created: the remaining WeCom tasks are finished by the scheduled function" in out
    assert "chunk 1:         WeCom errcode 45033 busy" in out.splitlines()


def test_idempotency_conflict_names_the_campaign_and_the_way_out(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    conflict = {
        "error": {
            "code": "idempotency_conflict",
            "message": "Idempotency-Key conflict: it was used with a different body",
            "campaign_id": "cmp-1",
        }
    }
    api.replies = [(409, conflict)]
    assert api.run("campaigns", "create", "--text", "x", "--sender", "u1", "--idempotency-key", "k") == 1
    assert capsys.readouterr().err == (
        "error: idempotency_conflict (HTTP 409): Idempotency-Key conflict: it was used with a different body "
        "(pass a new --idempotency-key to create another campaign) (campaign_id: cmp-1)\n"
    )


def test_reminder_answer_lists_reminded_and_refused(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [
        (
            200,
            {
                "campaign_id": "c",
                "reminded": ["m1"],
                "refused": [{"msgid": "m2", "result": "refused", "next_allowed_at": 1_700_000_000}],
                "failed": [],
            },
        )
    ]
    assert api.run("campaigns", "remind", "c") == 0
    captured = capsys.readouterr()
    assert captured.out == "campaign c: reminded 1: m1\n"
    assert captured.err.startswith("refused: m2, next allowed at ")


def test_campaign_create_explicit_key_group_audience_and_send_at(api: FakeApi, tmp_path: Path) -> None:
    chats = tmp_path / "chats.txt"
    chats.write_text("wr1\nwr2\n")
    api.replies = [(201, {"campaign_id": "c", "status": "scheduled", "msgids": []})]
    code = api.run("campaigns", "create", "--text", "hi", "--chat-type", "group", "--sender", "zhangsan",
                   "--audience", str(chats), "--send-at", "2030-01-02T03:04:05+08:00", "--idempotency-key", "k-1")  # fmt: skip
    assert code == 0
    request = api.requests[0]
    assert request.headers["idempotency-key"] == "k-1"
    assert request.json() == {
        "chat_type": "group",
        "text": {"content": "hi"},
        "chat_id_list": ["wr1", "wr2"],
        "sender": "zhangsan",
        "send_at": "2030-01-02T03:04:05+08:00",
    }


def test_campaign_create_needs_content(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    assert api.run("campaigns", "create", "--sender", "u1") == 2
    assert "needs --text and/or --attachments" in capsys.readouterr().err
    assert api.run("campaigns", "create", "--text", "x", "--send-at", "tomorrow") == 2
    assert api.requests == []


def test_campaign_show_prints_the_funnel_and_reminders(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.replies = [(200, CAMPAIGN)]
    assert api.run("campaigns", "show", "cmp_01") == 0
    assert api.requests[0].path == "/admin/campaigns/cmp_01"
    out = capsys.readouterr().out
    fields = dict(line.split(":", 1) for line in out.split("\n\n")[0].splitlines())
    assert {k: v.strip() for k, v in fields.items()}.items() >= {
        "status": "active",
        "msgids": "2: msgA, msgB",
        "fail_list": "1",
        "audience": "20001",
        "chunks": "3 (sent 2, failed 1)",
        "text": "Sale!",
    }.items()
    assert len({len(k) + len(v) - len(v.lstrip()) for k, v in fields.items()}) == 1  # values aligned
    assert fields["sent_at"].strip() == "2023-11-15 06:13 +08:00"  # WELCOME_TIMEZONE, as the stack names it
    assert fields["created"].strip() == "2023-11-15 06:13 +08:00"
    assert api.health_calls == 1  # asked once per run, however many times are printed
    funnel = [line.split() for line in out.split("\n\n")[1].splitlines()]
    assert funnel[0][:2] == ["delivery", "(synced"]
    assert funnel[1:] == [
        ["members", "4"],
        ["sent", "3", "75.0%"],
        ["unsent", "1", "25.0%"],
        ["customers", "100"],
        ["sent", "80", "80.0%"],
        ["unsent", "10", "10.0%"],
        ["not_friend", "6", "6.0%"],
        ["limit_reached", "4", "4.0%"],
    ]
    assert "reminders: 1" in out
    assert "schedule" in out.split("reminders: 1")[1]


PREVIEW = {
    "audience_size": 1,
    "chunks": 1,
    "quota": {
        "rule": "day",
        "limit": 1,
        "period": "2026-12-05",
        "capped": 1,
        "pending": 0,
        "capped_sample": ["wm2"],
    },
    "warnings": ["every customer is capped"],
}


def test_campaign_preview_sends_what_create_would_and_prints_the_quota(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    created = {"campaign_id": "c1", "status": "active", "msgids": ["m"], "fail_list": [], "skipped_capped": 1}
    api.replies = [(200, PREVIEW), (201, created)]
    flags = ["--text", "Sale!", "--audience", str(_audience(tmp_path)), "--name", "n", "--skip-capped"]
    assert api.run("campaigns", "preview", *flags) == 0
    captured = capsys.readouterr()
    assert api.run("campaigns", "create", *flags) == 0
    assert "skipped_capped: 1" in " ".join(capsys.readouterr().out.split())
    previewed, create = api.requests
    assert (previewed.method, previewed.path) == ("POST", "/admin/campaigns/preview")
    assert (
        previewed.json()
        == create.json()
        == {
            "chat_type": "single",
            "text": {"content": "Sale!"},
            "external_userid": ["wm1", "wm2"],
            "name": "n",
            "skip_capped": True,
        }
    )
    assert "idempotency-key" not in previewed.headers and create.headers["idempotency-key"]
    lines = [line.split(":", 1) for line in captured.out.splitlines() if ":" in line]
    printed = {k.strip(): v.strip() for k, v in lines}
    assert (
        printed.items()
        >= {
            "audience": "1",
            "wecom_tasks": "1",
            "cap": "1 per day (period 2026-12-05)",
            "capped": "1",
            "capped_ids": "wm2",
        }.items()
    )
    assert "warning: every customer is capped" in captured.err


def test_campaign_preview_of_a_sender_audience_says_wecom_chooses(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    counts = {"capped": None, "pending": None, "capped_sample": None}
    unknown = {**PREVIEW, "audience_size": None, "quota": {**PREVIEW["quota"], **counts}}
    api.replies = [(200, unknown)]
    assert api.run("campaigns", "preview", "--text", "x", "--sender", "u1") == 0
    assert "skip_capped" not in api.requests[0].json()
    api.replies = [(200, PREVIEW)]
    assert api.run("campaigns", "preview", "--text", "x", "--sender", "u1", "--idempotency-key", "k-1") == 0
    assert api.requests[1].headers["idempotency-key"] == "k-1"  # checked by the API like create's, not taken
    assert "audience:    unknown (WeCom chooses)" in capsys.readouterr().out


def test_campaign_show_says_how_many_were_skipped(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [(200, {**CAMPAIGN, "skipped_capped": 7})]
    assert api.run("campaigns", "show", "cmp_01") == 0
    assert "skipped_capped: 7" in " ".join(capsys.readouterr().out.split())


def test_campaign_skipped_prints_every_page(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [
        (200, {"items": ["wm1", "wm2"], "cursor": "c2"}),
        (200, {"items": ["wm3"], "cursor": None}),
    ]
    assert api.run("campaigns", "skipped", "cmp_01") == 0
    assert [(r.path, r.query) for r in api.requests] == [
        ("/admin/campaigns/cmp_01/skipped", {}),
        ("/admin/campaigns/cmp_01/skipped", {"cursor": ["c2"]}),
    ]
    assert capsys.readouterr().out.split() == ["wm1", "wm2", "wm3"]


def test_campaign_show_before_any_sync_shows_zeros(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [(200, {"campaign_id": "c", "status": "scheduled", "msgids": [], "reminders": []})]
    assert api.run("campaigns", "show", "c") == 0
    out = capsys.readouterr().out
    assert "reminders: none yet" in out
    assert "delivery (not synced from WeCom yet):" in out
    assert ["customers", "0"] in [line.split() for line in out.splitlines()]


def test_campaign_list_filters_by_status(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [(200, {"items": [CAMPAIGN], "cursor": None})]
    assert api.run("campaigns", "list", "--status", "active") == 0
    assert api.requests[0].query == {"status": ["active"]}
    header, row = capsys.readouterr().out.splitlines()
    columns = ["CAMPAIGN_ID", "STATUS", "NAME", "CHAT", "AUDIENCE", "MSGIDS", "CUSTOMERS_SENT", "CREATED"]
    assert header.split() == columns
    assert row.split()[:8] == ["cmp_01", "active", "spring", "sale", "single", "20001", "2", "80"]


def test_campaign_cancel(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [(200, {"campaign_id": "c", "status": "cancelled"})]
    assert api.run("campaigns", "cancel", "c") == 0
    assert (api.requests[0].method, api.requests[0].path) == ("POST", "/admin/campaigns/c/cancel")
    assert capsys.readouterr().out == "campaign c: cancelled\n"


def test_refused_reminder_says_when_the_next_is_allowed(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    refusal = {
        "error": {
            "code": "reminder_limit",
            "message": "3 reminders in 24 h",
            "next_allowed_at": 1_700_000_000,
        }
    }
    api.replies = [(429, refusal), (429, refusal)]
    assert api.run("campaigns", "remind", "c") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: reminder_limit (HTTP 429): 3 reminders in 24 h — next reminder allowed at ")
    assert err.rstrip().endswith("2023-11-15 06:13 +08:00")
    assert api.run("--json", "campaigns", "remind", "c") == 1
    assert json.loads(capsys.readouterr().err) == refusal


def test_times_print_in_the_zone_the_stack_names(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.timezone = "Europe/London"
    api.replies = [(200, {**CAMPAIGN, "send_at": 1_796_681_040})]
    assert api.run("campaigns", "show", "cmp_01") == 0
    assert "send_at:" in (out := capsys.readouterr().out) and "2026-12-07 22:04 +00:00" in out
    api.timezone = "Asia/Shanghai"
    api.replies = [(200, {**CAMPAIGN, "send_at": 1_796_681_040})]
    assert api.run("campaigns", "show", "cmp_01") == 0
    assert "2026-12-08 06:04 +08:00" in capsys.readouterr().out


def test_a_stack_that_names_no_zone_gets_utc_with_its_offset_and_json_asks_nothing(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.timezone = None  # type: ignore[assignment]
    api.replies = [(200, {**CAMPAIGN, "send_at": 1_796_681_040})]
    assert api.run("campaigns", "show", "cmp_01") == 0
    assert "2026-12-07 22:04 +00:00" in capsys.readouterr().out
    calls = api.health_calls
    api.replies = [(200, CAMPAIGN)]
    assert api.run("--json", "campaigns", "show", "cmp_01") == 0
    assert api.health_calls == calls


def test_a_naive_send_at_is_sent_as_typed_for_the_stack_to_read_in_its_zone(api: FakeApi) -> None:
    api.replies = [(201, {"campaign_id": "c", "status": "scheduled", "msgids": [], "fail_list": []})]
    argv = ["campaigns", "create", "--text", "x", "--sender", "u1", "--send-at", "2026-12-12T10:00"]
    assert api.run(*argv) == 0
    assert api.requests[0].json()["send_at"] == "2026-12-12T10:00"


def test_campaign_results_table_and_status_filter(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {"msgid": "msgA", "userid": "u1", "external_userid": "wm1", "status": 1, "send_time": 1_700_000_000},
        {"msgid": "msgA", "userid": "u1", "external_userid": "wm2", "status": "not_friend"},
    ]
    api.replies = [(200, {"items": rows, "cursor": None})]
    assert api.run("campaigns", "results", "cmp_01", "--status", "sent") == 0
    assert api.requests[0].query == {"status": ["sent"]}
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["MSGID", "MEMBER", "RECIPIENT", "STATUS", "SEND_TIME"]
    assert lines[1].split()[:4] == ["msgA", "u1", "wm1", "sent"]
    assert lines[2].split() == ["msgA", "u1", "wm2", "not_friend", "-"]


def test_campaign_results_csv_follows_every_page(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.replies = [
        (
            200,
            {
                "items": [{"external_userid": "wm1", "status": "sent", "send_time": 1_796_681_040}],
                "cursor": "p2",
            },
        ),
        (
            200,
            {
                "items": [
                    {"external_userid": "wm2", "status": "unsent", "userid": "u9", "note": "第二"},
                    {"msgid": "msgB", "external_userid": "wmX", "status": "fail_list"},
                ],
                "cursor": None,
            },
        ),
    ]
    target = tmp_path / "results.csv"
    assert api.run("campaigns", "results", "cmp_01", "--csv", str(target)) == 0
    assert api.requests[1].query["cursor"] == ["p2"]
    with target.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    # the API's own ?format=csv columns first, then anything else the rows carry
    assert reader.fieldnames == [
        "msgid",
        "userid",
        "external_userid",
        "chat_id",
        "status",
        "send_time",
        "note",
    ]
    assert [(r["external_userid"], r["status"], r["userid"], r["note"], r["send_time"]) for r in rows] == [
        ("wm1", "sent", "", "", "2026-12-08T06:04:00+08:00"),  # ISO 8601 in the business zone
        ("wm2", "unsent", "u9", "第二", ""),
        ("wmX", "fail_list", "", "", ""),
    ]
    assert "wrote 3 results" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- group templates
def test_group_template_create_sends_the_body_and_prints_the_apis_warnings(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = tmp_path / "tpl.json"
    body.write_text(json.dumps({"link": {"title": "t", "url": "https://x"}}))
    warning = "text.content: %nickname% is not replaced by the customer's nickname"
    api.replies = [(201, {"template_id": "tpl1", "warnings": [warning]})]
    assert (
        api.run("group-templates", "create", "--file", str(body), "--text", "欢迎 %nickname%", "--no-notify")
        == 0
    )
    assert (api.requests[0].method, api.requests[0].path) == ("POST", "/admin/group-welcome-templates")
    assert api.requests[0].json() == {
        "link": {"title": "t", "url": "https://x"},
        "text": {"content": "欢迎 %nickname%"},
        "notify": 0,
    }
    captured = capsys.readouterr()
    assert captured.out == "created group welcome template tpl1\n"
    assert f"warning: {warning}" in captured.err


def test_group_template_refusals_show_code_errcode_and_count(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    error = {"code": "template_limit_reached", "message": "at most 100", "errcode": 41055, "count": 7}
    api.replies = [(409, {"error": {**error, "limit": 100}})]
    assert api.run("group-templates", "create", "--text", "hi") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: template_limit_reached (HTTP 409): at most 100")
    assert "WeCom errcode 41055" in err and "count: 7" in err


@pytest.mark.usefixtures("capsys")
def test_group_template_edit_takes_no_notify(api: FakeApi) -> None:
    with pytest.raises(SystemExit):
        api.run("group-templates", "edit", "tpl1", "--text", "hi", "--no-notify")
    assert api.requests == []


@pytest.mark.parametrize(
    ("argv", "reply", "sent", "code"),
    [
        (
            [],
            {"checked": {"templates": 2, "intents": 0}, "in_sync": True, "drift": [], "unchecked": []},
            None,
            0,
        ),
        (
            [],
            {
                "checked": {"templates": 2, "intents": 1},
                "in_sync": False,
                "drift": [{"kind": "missing_in_mirror", "template_id": "msgA", "intent_id": "i1"}],
                "unchecked": [],
            },
            None,
            1,
        ),
        (
            ["--repair"],
            {
                "checked": {"templates": 2, "intents": 1},
                "in_sync": False,
                "drift": [
                    {
                        "kind": "missing_in_wecom",
                        "template_id": "msgB",
                        "repaired": True,
                        "repair": "removed from the mirror",
                    }
                ],
                "unchecked": [],
            },
            {"repair": True},
            0,
        ),
    ],
)
def test_group_template_reconcile(
    api: FakeApi,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    reply: dict[str, Any],
    sent: Any,
    code: int,
) -> None:
    api.replies = [(200, reply)]
    assert api.run("group-templates", "reconcile", *argv) == code
    (request,) = api.requests
    assert (request.method, request.path) == ("POST", "/admin/group-welcome-templates/reconcile")
    assert (request.json() if request.body else None) == sent
    out = capsys.readouterr().out
    assert out.startswith(f"checked 2 mirrored templates and {reply['checked']['intents']} open adds")
    for drift in reply["drift"]:
        assert drift["kind"] in out and drift["template_id"] in out
    if not reply["drift"]:
        assert "no drift" in out
    if argv:
        assert "removed from the mirror" in out


def test_group_template_edit_list_delete(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [
        (200, {}),
        (200, {"items": [{"template_id": "tpl1", "text": {"content": "hi"}}]}),
        (204, None),
    ]
    assert api.run("group-templates", "edit", "tpl1", "--text", "hi") == 0
    assert api.run("group-templates", "list") == 0
    assert api.run("group-templates", "delete", "tpl1") == 0
    assert [(r.method, r.path) for r in api.requests] == [
        ("PUT", "/admin/group-welcome-templates/tpl1"),
        ("GET", "/admin/group-welcome-templates"),
        ("DELETE", "/admin/group-welcome-templates/tpl1"),
    ]
    assert ["tpl1", "hi", "-", "-"] in [line.split() for line in capsys.readouterr().out.splitlines()]


# ------------------------------------------------------------------------------------------------ customers
CUSTOMER_PAGE = {
    "external_userid": "wm/1",
    "welcomes": [{"userid": "u1", "state": "expo", "rule_id": "r", "outcome": "sent", "create_time": 1_700_000_000}],
    "mass_messages": [
        {"campaign_id": "cmp_01", "msgid": "msgA", "userid": "u1", "status": "sent", "send_time": 1_700_000_100,
         "chat_type": "single"},
    ],
    "cursor": "c2",
    "quota": {"rule": "day", "limit": 1, "period": "2023-11-15", "received": 1, "pending": 2, "remaining": 0,
              "capped": True},
}  # fmt: skip


def test_customers_show_prints_the_quota_line_welcomes_and_messages(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    last = {
        **CUSTOMER_PAGE,
        "cursor": None,
        "mass_messages": [{**CUSTOMER_PAGE["mass_messages"][0], "msgid": "msgB"}],
    }
    api.replies = [(200, CUSTOMER_PAGE), (200, last)]
    assert api.run("customers", "show", "wm/1", "--limit", "1", "--all") == 0
    first, second = api.requests
    assert first.path == "/admin/customers/wm%2F1" and first.query == {"limit": ["1"]}
    assert second.query["cursor"] == ["c2"]
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[1] == "quota: 1/1 received in 2023-11-15 (day), 0 remaining, 2 pending - CAPPED"
    assert "msgA" in out.out and "msgB" in out.out and "expo" in out.out
    assert out.err == ""


def test_customers_show_one_page_tells_how_to_continue(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = {**CUSTOMER_PAGE, "welcomes": [], "mass_messages": [], "cursor": None}
    empty["quota"] = {**empty["quota"], "received": 0, "remaining": 1, "pending": 0, "capped": False}
    api.replies = [(200, {**empty, "cursor": "next"})]
    assert api.run("customers", "show", "wm1") == 0
    captured = capsys.readouterr()
    assert "welcomes: none" in captured.out and "mass messages: none" in captured.out
    assert "CAPPED" not in captured.out and "--cursor next" in captured.err
    api.replies = [(200, CUSTOMER_PAGE)]
    assert api.run("--json", "customers", "show", "wm1") == 0
    assert json.loads(capsys.readouterr().out) == CUSTOMER_PAGE


# ------------------------------------------------------------------------------------------- channels
CHANNEL = {
    "channel_id": "expo",
    "name": "Shanghai expo",
    "members": ["zhangsan", "lisi"],
    "skip_verify": True,
    "tags": ["et1"],
    "welcome": {"text": {"content": "欢迎"}, "attachments": []},
    "config_id": "cfg1",
    "qr_code": "",
    "status": "active",
    "created_at_ms": 1_700_000_000_000,
    "updated_at_ms": 1_700_000_000_000,
}


def test_channels_put_from_flags(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.replies = [(201, {**CHANNEL, "qr_code": "https://wework.example/qr.png"})]
    code = api.run(
        "channels", "put", "expo", "--member", "zhangsan", "--member", "lisi", "--tag", "et1",
        "--remark", "hall B", "--no-skip-verify", "--welcome-text", "欢迎 %NICKNAME%",
    )  # fmt: skip
    assert code == 0
    (request,) = api.requests
    assert (request.method, request.path) == ("PUT", "/admin/channels/expo")
    assert request.json() == {
        "members": ["zhangsan", "lisi"],
        "tags": ["et1"],
        "remark": "hall B",
        "skip_verify": False,
        "welcome": {"text": {"content": "欢迎 %NICKNAME%"}},
        "name": "expo",
    }
    assert (
        capsys.readouterr().out
        == "created channel expo: config_id cfg1\nQR code: https://wework.example/qr.png\n"
    )


def test_channels_put_from_a_file_with_flags_over_it(api: FakeApi, tmp_path: Path) -> None:
    body = tmp_path / "channel.json"
    body.write_text(json.dumps({"name": "Expo", "members": ["u1"], "welcome": {"text": {"content": "hi"}}}))
    api.replies = [(200, CHANNEL)]
    assert api.run("channels", "put", "expo", "--file", str(body), "--member", "u2") == 0
    assert api.requests[0].json() == {
        "name": "Expo",
        "members": ["u2"],
        "welcome": {"text": {"content": "hi"}},
    }


def test_channels_put_needs_a_member_and_one_welcome_source(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert api.run("channels", "put", "expo") == 2
    assert "at least one --member" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        api.run(
            "channels", "put", "expo", "--member", "u", "--welcome-text", "x", "--file", str(tmp_path / "b")
        )
    assert api.requests == []


def test_channels_show_prints_settings_and_the_stats_table(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    zero = {"added": 0, "welcomed": 0, "tagged": 0, "tag_failed": 0, "lost": 0}
    days = [
        {"date": "2026-12-04", **zero},
        {"date": "2026-12-05", **zero, "added": 3, "welcomed": 3, "lost": 1},
    ]
    totals = {**zero, "added": 3, "welcomed": 3, "lost": 1}
    api.replies = [(200, {**CHANNEL, "stats": {"days": days, "totals": totals}})]
    assert api.run("channels", "show", "expo") == 0
    out = capsys.readouterr().out
    assert "members" in out and "zhangsan, lisi" in out and "欢迎" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("DATE"))
    assert lines[header].split() == ["DATE", "ADDED", "WELCOMED", "TAGGED", "TAG_FAILED", "LOST"]
    assert lines[header + 2].split() == ["2026-12-05", "3", "3", "0", "0", "1"]
    assert lines[-1].split() == ["TOTAL", "3", "3", "0", "0", "1"]


def test_channels_list_delete_and_reconcile(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    report = {
        "repair": False, "in_sync": False, "checked": {"wecom": 2, "channels": 1},
        "unknown_in_store": [{"config_id": "c2", "state": "walkin", "members": ["u"], "skip_verify": True,
                              "remark": "", "importable": True}],
        "gone_in_wecom": [], "differs": [], "pending": [], "unchecked": [],
    }  # fmt: skip
    api.replies = [(200, {"items": [CHANNEL], "cursor": None}), (204, None), (200, report)]
    assert api.run("channels", "list") == 0
    assert api.run("channels", "delete", "expo") == 0
    assert api.run("channels", "reconcile", "--repair") == 1  # not in sync: exit 1 for cron
    assert [(r.method, r.path) for r in api.requests] == [
        ("GET", "/admin/channels"),
        ("DELETE", "/admin/channels/expo"),
        ("POST", "/admin/channels/reconcile"),
    ]
    assert api.requests[2].json() == {"repair": True}
    out = capsys.readouterr().out
    assert "Shanghai expo" in out and "deleted channel expo" in out
    assert "unknown_in_store" in out and "walkin" in out and "importable" in out


@pytest.fixture
def png_server() -> Iterator[tuple[str, bytes]]:
    """A real HTTP server answering a PNG (the QR image URL WeCom hands out), and the bytes."""
    png = b"\x89PNG\r\n\x1a\n" + b"\x01" * 40

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args: Any) -> None:
            pass

    server = QuietThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/qr/cfg1.png", png
    server.shutdown()
    server.server_close()


def test_channels_qr_downloads_the_image_and_keeps_an_existing_file(
    api: FakeApi,
    png_server: tuple[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, png = png_server
    api.replies = [(200, {**CHANNEL, "qr_code": url})] * 2
    monkeypatch.chdir(tmp_path)
    assert api.run("channels", "qr", "expo") == 0
    assert (tmp_path / "expo.png").read_bytes() == png
    (tmp_path / "expo.png").write_bytes(b"mine")
    assert api.run("channels", "qr", "expo") == 2  # exists: kept, and the API is not even asked
    assert "exists" in capsys.readouterr().err and (tmp_path / "expo.png").read_bytes() == b"mine"
    assert api.run("channels", "qr", "expo", "--out", str(tmp_path / "expo.png"), "--force") == 0
    assert (tmp_path / "expo.png").read_bytes() == png
    assert len(api.requests) == 2
