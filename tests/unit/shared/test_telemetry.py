"""Welcome metrics leave as CloudWatch Embedded Metric Format lines (Powertools single metrics)."""

from __future__ import annotations

import json

import pytest

from tests.support import metric_dimensions
from wecom_bundle import telemetry


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "WeComBundle")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "wecom-bundle")


def _emf_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and "_aws" in line]


@pytest.mark.usefixtures("metrics_on")
def test_outcome_count_and_latency_are_emf(capsys: pytest.CaptureFixture[str]) -> None:
    telemetry.count("WelcomeOutcome", {"outcome": "sent"})
    telemetry.milliseconds("WelcomeLatency", 312.5, {"outcome": "sent"})
    count, latency = _emf_lines(capsys.readouterr().out)
    assert count["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "WeComBundle"
    assert count["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "WelcomeOutcome", "Unit": "Count"}]
    assert count["outcome"] == "sent"
    # exactly the dimension set template.yaml's WelcomeFailureAlarm and dashboard name
    assert (count["service"], metric_dimensions(count)) == ("wecom-bundle", [["outcome", "service"]])
    assert count["WelcomeOutcome"] == [1.0] or count["WelcomeOutcome"] == 1.0
    assert latency["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "WelcomeLatency", "Unit": "Milliseconds"}
    ]
    assert latency["WelcomeLatency"] in (312.5, [312.5])


def test_disabled_metrics_print_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    telemetry.count("WelcomeOutcome", {"outcome": "sent"})
    assert _emf_lines(capsys.readouterr().out) == []
