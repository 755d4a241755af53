"""CloudWatch metrics in Embedded Metric Format through Powertools, imported only when first emitted.

Why single metrics: the callback handler has several exits (rejections, duplicates, outcomes) and a
``single_metric`` block flushes on exit, so no path can forget to flush.
"""

from __future__ import annotations

import json
import os
import time

DEFAULT_NAMESPACE = "WeComBundle"
DEFAULT_SERVICE = "wecom-bundle"


def _enabled() -> bool:
    return os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() not in ("1", "true")


def count(name: str, dimensions: dict[str, str], value: float = 1) -> None:
    """Emit one count metric with dimensions (e.g. WelcomeOutcome{outcome=sent})."""
    _emit(name, "Count", value, dimensions)


def milliseconds(name: str, value: float, dimensions: dict[str, str] | None = None) -> None:
    """Emit one latency metric in milliseconds."""
    _emit(name, "Milliseconds", value, dimensions or {})


def seconds(name: str, value: float, dimensions: dict[str, str] | None = None) -> None:
    """Emit one age or lag metric in seconds."""
    _emit(name, "Seconds", value, dimensions or {})


def _emit(name: str, unit: str, value: float, dimensions: dict[str, str]) -> None:
    if not _enabled():
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name=name, unit=MetricUnit(unit), value=value) as metric:
        for key, dim in dimensions.items():
            metric.add_dimension(name=key, value=dim)


def count_by(name: str, dimensions: dict[str, str], dimension_sets: list[list[str]]) -> None:
    """Emit one count under several dimension sets at once (e.g. [service] and [service, errcode]), so an
    alarm can watch the total while a dashboard splits it.

    Why not Powertools: its ``single_metric`` takes one dimension set, and two metric lines would count the
    event twice in a search across both. One EMF line names every set (the Embedded Metric Format
    specification allows several arrays in ``Dimensions``); ``service`` is POWERTOOLS_SERVICE_NAME, as the
    Powertools metrics carry it. Stdlib only: a setup error on the callback's path pays no import.
    """
    if not _enabled():
        return
    values = {"service": os.environ.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE, **dimensions}
    line = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE,
                    "Dimensions": dimension_sets,
                    "Metrics": [{"Name": name, "Unit": "Count"}],
                }
            ],
        },
        **values,
        name: 1,
    }
    print(json.dumps(line, separators=(",", ":")), flush=True)  # EMF leaves through stdout
