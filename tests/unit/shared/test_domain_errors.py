"""The layer speaks in domain errors and results; HTTP statuses live in the admin function's table only.

A scan of the layer's source finds every way an HTTP status could enter a service (``Refused(409, …)``,
``CreateResult(202 if … else 201, …)``, ``status=429``), and the scheduled functions' services are imported in
a fresh interpreter to show they pull in nothing of the admin function's HTTP.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from wecom_bundle import domain_errors

LAYER = Path(domain_errors.__file__).resolve().parent
# The callback answers WeCom's HTTP request itself (its refusals are that request's statuses, DESIGN.md's
# callback contract) and apigw adapts API Gateway events: HTTP is their job, not a service's.
HTTP_MODULES = {"callback/service.py", "apigw.py"}
HTTP_STATUSES = range(100, 600)


def _is_status(node: ast.AST | None) -> bool:
    """An int literal that reads as an HTTP status, also inside ``a if c else b`` and tuples."""
    if isinstance(node, ast.Constant):
        return type(node.value) is int and node.value in HTTP_STATUSES
    if isinstance(node, ast.IfExp):
        return _is_status(node.body) or _is_status(node.orelse)
    if isinstance(node, ast.Tuple):
        return any(_is_status(item) for item in node.elts)
    return False


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def http_mentions(source: str) -> list[str]:
    """Where ``source`` hands an HTTP status to a caller: a name ``Refused``, a status literal given to a
    class (an exception or a result) or to a ``status`` keyword, or returned. Comparisons
    (``response.status != 200`` on an answer *we* received), page sizes (``limit=100``) and constants are
    not hand-overs."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name | ast.Attribute | ast.alias | ast.ClassDef):
            name = {ast.Name: "id", ast.Attribute: "attr", ast.alias: "name"}.get(type(node), "name")
            if getattr(node, name) == "Refused":
                found.append(f"line {getattr(node, 'lineno', '?')}: Refused")
        elif isinstance(node, ast.Call):
            values = [k.value for k in node.keywords if k.arg == "status"]
            if _callee(node)[:1].isupper():  # a class: an exception or a result built with a status
                values += [*node.args, *(k.value for k in node.keywords)]
            if any(_is_status(v) for v in values):
                found.append(f"line {node.lineno}: a status literal passed to {_callee(node)}")
        elif isinstance(node, ast.Return) and _is_status(node.value):
            found.append(f"line {node.lineno}: a status literal returned")
    return found


@pytest.mark.parametrize(
    "source",
    [
        'raise Refused(409, "invalid_state", "no")',
        'raise CampaignError(429, "reminder_limit", "later", next_allowed_at=1)',
        "return CreateResult(202 if creating else 201, body)",
        "return 201",
        "return (200, body)",
        'answer(status=503, code="wecom_busy")',
        "from wecom_bundle.validation import Refused",
        "class Refused(Exception): pass",
    ],
)
def test_the_scan_finds_each_way_a_status_entered_a_service(source: str) -> None:
    assert http_mentions(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "if response.status != 200: raise ConfigError('x')",
        "CACHE_RETENTION_S = 30 * 86400",
        'raise InvalidState("the campaign failed")',
        "limit = min(count, 100)",
        "page = repo.list_campaigns(status, limit=100, cursor=cursor)",
    ],
)
def test_the_scan_lets_domain_code_pass(source: str) -> None:
    assert http_mentions(source) == []


def test_no_module_of_the_layer_hands_out_an_http_status() -> None:
    offenders = {
        str(path.relative_to(LAYER)): mentions
        for path in sorted(LAYER.rglob("*.py"))
        if path.relative_to(LAYER).as_posix() not in HTTP_MODULES
        and (mentions := http_mentions(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_domain_errors_know_nothing_of_http() -> None:
    source = Path(domain_errors.__file__).read_text(encoding="utf-8")
    assert http_mentions(source) == []
    for cls in _error_types():
        assert not {"status", "code"} & set(vars(cls)), cls.__name__


def test_the_scheduled_functions_services_import_nothing_of_the_admin_http() -> None:
    """A fresh interpreter, so another test's imports cannot hide one (or invent one)."""
    services = [
        "wecom_bundle.campaigns.reminders",
        "wecom_bundle.campaigns.create",
        "wecom_bundle.campaigns.send",
        "wecom_bundle.campaigns.cancel",
        "wecom_bundle.campaigns.queries",
        "wecom_bundle.media.refresh",
        "wecom_bundle.result_sync.sync_pass",
        "wecom_bundle.result_sync.ingest",
        "wecom_bundle.group_templates.service",
        "wecom_bundle.group_templates.reconcile",
    ]
    probe = (
        "import importlib, sys\n"
        f"for name in {services!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'refusals' or m.startswith("
        "'aws_lambda_powertools.event_handler')))\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert answer.stdout.strip() == "[]"


def _error_types() -> list[type[domain_errors.DomainError]]:
    return [
        value
        for value in vars(domain_errors).values()
        if isinstance(value, type) and issubclass(value, domain_errors.DomainError)
    ]


def test_extra_facts_are_attributes_in_the_order_the_api_shows_them() -> None:
    limit = domain_errors.LimitReached("full", errcode=41055, count=7, limit=100)
    assert (limit.errcode, limit.count, limit.limit) == (41055, 7, 100)
    assert list(limit.details()) == ["errcode", "count", "limit"]
    refused = domain_errors.WeComRefused("no", errcode=None, campaign_id="cmp-1")
    assert refused.details() == {
        "errcode": None,
        "campaign_id": "cmp-1",
    }  # a recorded refusal without errcode
    assert domain_errors.NotFound("gone").details() == {}
    assert domain_errors.NotFound("gone", errcode=40037).details() == {"errcode": 40037}
    invalid = domain_errors.InvalidField("text.content", "is required")
    assert (str(invalid), invalid.message, invalid.details()) == (
        "text.content: is required",
        "is required",
        {"field": "text.content"},
    )
    assert isinstance(invalid, ValueError) and isinstance(domain_errors.NotFound("x"), LookupError)
