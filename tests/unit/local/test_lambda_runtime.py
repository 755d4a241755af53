"""local.lambda_runtime: loading handlers in-process, the context object, JSON at the boundary, environment."""

from __future__ import annotations

import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import pytest

from local.lambda_runtime import (
    HandlerLoadError,
    LocalLambdaRuntime,
    UnknownFunction,
    add_layers_to_path,
    apply_environment,
    load_handler,
    make_context,
    reset_layer_state,
)
from local.template import FunctionSpec


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def spec(code: Path, logical_id: str = "Fn", handler: str = "app.lambda_handler", **kw) -> FunctionSpec:
    return FunctionSpec(logical_id, code, handler, kw.pop("environment", {}), kw.pop("timeout", 3), 256, **kw)


def test_two_app_py_files_do_not_shadow_each_other(tmp_path: Path) -> None:
    for name in ("one", "two"):
        write(tmp_path / name / "app.py", f"def lambda_handler(event, context):\n    return '{name}'\n")
    runtime = LocalLambdaRuntime({"One": spec(tmp_path / "one", "One"), "Two": spec(tmp_path / "two", "Two")})
    assert runtime.invoke("One", {}) == "one"
    assert runtime.invoke("Two", {}) == "two"
    assert "app" not in sys.modules or not str(getattr(sys.modules["app"], "__file__", "")).startswith(
        str(tmp_path)
    )


def test_sibling_modules_and_dotted_handlers_import(tmp_path: Path) -> None:
    code = tmp_path / "fn"
    write(code / "helper_for_local_runtime_test.py", "VALUE = 42\n")
    write(
        code / "pkg" / "main.py",
        """
        import helper_for_local_runtime_test

        def handle(event, context):
            return helper_for_local_runtime_test.VALUE
        """,
    )
    write(code / "pkg" / "__init__.py", "")
    handler = load_handler(spec(code, handler="pkg.main.handle"))
    assert handler({}, None) == 42
    assert str(code) not in sys.path  # only while importing


def test_handler_module_is_loaded_once(tmp_path: Path) -> None:
    write(
        tmp_path / "fn" / "app.py",
        """
        LOADS = []
        LOADS.append(1)

        def lambda_handler(event, context):
            return len(LOADS)
        """,
    )
    runtime = LocalLambdaRuntime({"Fn": spec(tmp_path / "fn")})
    assert [runtime.invoke("Fn", {}) for _ in range(3)] == [1, 1, 1]


@pytest.mark.parametrize(
    ("files", "handler", "message"),
    [
        ({}, "app.lambda_handler", "does not exist"),
        ({"app.py": "x = 1\n"}, "app.lambda_handler", "no callable"),
        ({"app.py": "raise RuntimeError('at import')\n"}, "app.lambda_handler", "importing"),
        ({"app.py": ""}, "lambda_handler", "<module>.<function>"),
    ],
)
def test_load_errors_are_named(tmp_path: Path, files: dict[str, str], handler: str, message: str) -> None:
    for name, source in files.items():
        write(tmp_path / "fn" / name, source)
    (tmp_path / "fn").mkdir(exist_ok=True)
    with pytest.raises(HandlerLoadError, match=message):
        load_handler(spec(tmp_path / "fn", handler=handler))


def test_unknown_function() -> None:
    with pytest.raises(UnknownFunction):
        LocalLambdaRuntime({}).invoke("Nope", {})


def test_context_object(tmp_path: Path) -> None:
    context = make_context(spec(tmp_path, "MyFunction", timeout=2))
    assert context.function_name == "MyFunction"
    assert context.memory_limit_in_mb == 256
    assert context.invoked_function_arn.endswith(":function:MyFunction")
    assert context.invoked_function_arn.startswith("arn:aws:lambda:")
    assert len(context.aws_request_id) == 36
    assert 1900 < context.get_remaining_time_in_millis() <= 2000
    assert make_context(spec(tmp_path)).aws_request_id != context.aws_request_id
    context._deadline = time.monotonic() - 1
    assert context.get_remaining_time_in_millis() == 0


def test_json_at_the_boundary(tmp_path: Path) -> None:
    write(
        tmp_path / "fn" / "app.py",
        """
        from decimal import Decimal

        def lambda_handler(event, context):
            event["mutated"] = True
            if event.get("odd"):
                return {1, 2}
            return {"n": Decimal("3"), "f": Decimal("1.5"), "t": (1, 2)}
        """,
    )
    runtime = LocalLambdaRuntime({"Fn": spec(tmp_path / "fn")})
    event = {"a": 1}
    assert runtime.invoke("Fn", event) == {"n": 3, "f": 1.5, "t": [1, 2]}
    assert event == {"a": 1}  # the handler got a copy, as in Lambda
    with pytest.raises(TypeError, match="not JSON serializable"):
        runtime.invoke("Fn", {"odd": True})
    assert Decimal("3") == 3


def test_apply_environment_never_overrides_explicit_settings(tmp_path: Path) -> None:
    env = {"EXPLICIT": "mine"}
    functions = [
        spec(tmp_path, "A", environment={"EXPLICIT": "template", "SHARED": "a", "ONLY_A": "1"}),
        spec(tmp_path, "B", environment={"SHARED": "b"}),
    ]
    applied = apply_environment(functions, env)
    assert env == {"EXPLICIT": "mine", "SHARED": "a", "ONLY_A": "1"}
    assert applied == {"SHARED": "a", "ONLY_A": "1"}


def test_layers_go_on_sys_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    add_layers_to_path([spec(tmp_path, layers=(tmp_path / "layer",))])
    add_layers_to_path([spec(tmp_path, layers=(tmp_path / "layer",))])
    assert sys.path.count(str(tmp_path / "layer")) == 1


def test_reset_layer_state_gives_layer_modules_a_cold_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = tmp_path / "layer"
    write(
        layer / "layer_mod_for_reset_test.py",
        """
        from functools import lru_cache

        _client = "old"

        @lru_cache(maxsize=1)
        def settings():
            return object()

        def reset_client():
            global _client
            _client = None
        """,
    )
    monkeypatch.syspath_prepend(str(layer))
    import layer_mod_for_reset_test as module

    first = module.settings()
    reset_layer_state([tmp_path / "elsewhere"])
    assert module.settings() is first and module._client == "old"
    reset_layer_state([layer])
    assert module.settings() is not first
    assert module._client is None
    monkeypatch.delitem(sys.modules, "layer_mod_for_reset_test")
