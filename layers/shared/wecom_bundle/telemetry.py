"""CloudWatch metrics in Embedded Metric Format through Powertools, imported only when first emitted.

Why single metrics: the callback handler has several exits (rejections, duplicates, outcomes) and a
``single_metric`` block flushes on exit, so no path can forget to flush.
"""

from __future__ import annotations

import os


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
