"""Schemathesis against the local stack's admin API, driven by its own ``/admin/openapi.json``: no request the
document allows or forbids gets a server error, and no request the document forbids is accepted.

Why a third-party fuzzer beside ``tests/unit/admin/test_fuzz.py``: it reads only the published document, so it
finds where the document and the validators disagree (empty query values, cross-field rules, cursor forms),
which our own generators, written from the same models, cannot. Positive and negative cases, over real HTTP
through the local gateway. Deterministic (``derandomize``, no example database) and bounded
(``MAX_EXAMPLES`` per operation) so that it adds well under a minute on 2 busy cores.

Refusals that need state are not schema violations and are not checked as such: an unknown id (404), a
campaign, rule or channel WeCom or the store refuses (409, WeCom's 400 ``wecom_error``), a forged cursor of
the right form (400 naming ``cursor``: only its MAC tells), WeCom being unreachable for an operation that asks
it (503 ``wecom_unavailable``: the simulator knows no generated member).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection

from local.stack import StackHandle

MAX_EXAMPLES = 12
# Operations whose answer depends on WeCom holding what the generated request names: WeCom's refusal (or the
# simulator's "no such member") is the state, not the schema. Their refusals are still never 5xx but 503.
WECOM_REFUSALS = {"wecom_unavailable", "wecom_busy"}
# Fields whose 400 needs state: a cursor of the right form is still checked against its MAC; send_at against
# the clock; a bucket reference against the bucket; msgids against the campaign.
STATEFUL_FIELDS = {"cursor", "send_at", "msgids", "since", "until"}
STATEFUL_MESSAGES = (
    "does not exist in the media bucket",  # an s3_key names an object the bucket lacks
    # Not state but a known divergence: JSON Schema counts 1.0 as an integer, the strict models refuse a JSON
    # number with a fraction part or exponent where an integer is documented.
    "must be an integer",
)


@pytest.fixture(scope="module")
def admin_schema(local_stack: StackHandle) -> Any:
    schema = schemathesis.openapi.from_url(f"{local_stack.api_url}/admin/openapi.json")
    schema.config.update(base_url=local_stack.api_url)
    return schema


def _server_error_unless_wecom(ctx: Any, response: Any, case: Any) -> bool | None:
    """``not_a_server_error``, except WeCom's own unavailability (a 503 naming it) for a generated member."""
    if response.status_code == 503:
        code = ((response.json() or {}).get("error") or {}).get("code")
        if code in WECOM_REFUSALS:
            return None
    return not_a_server_error(ctx, response, case)


def _valid_is_not_refused_as_invalid(ctx: Any, response: Any, case: Any) -> bool | None:  # noqa: ARG001  (schemathesis' check signature)
    """A request the document allows is never a 400 ``invalid_request``, unless the field's rule needs
    state the document cannot hold (``STATEFUL_FIELDS``)."""
    if response.status_code != 400:
        return None
    error = (response.json() or {}).get("error") or {}
    stateful = error.get("field", "").split("[")[0] in STATEFUL_FIELDS or any(
        words in error.get("message", "") for words in STATEFUL_MESSAGES
    )
    if error.get("code") == "invalid_request" and not stateful:
        raise AssertionError(f"a request the document allows was refused: {error}")
    return None


def _fuzz(operation: Any, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    def run(case: Any) -> None:
        checks = [_server_error_unless_wecom]
        checks.append(
            negative_data_rejection if mode == GenerationMode.NEGATIVE else _valid_is_not_refused_as_invalid
        )
        case.call_and_validate(checks=checks)

    try:
        run()
    except Unsatisfiable:
        if mode == GenerationMode.POSITIVE:
            raise  # an operation with no input has nothing to negate; every one has valid requests


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_admin_api_agrees_with_its_document(admin_schema: Any, mode: GenerationMode) -> None:
    failures = []
    for result in admin_schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, mode)
        except Exception as exc:  # each operation's first failure, all reported together
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
