"""Which template route API Gateway's HTTP API would pick for a method and path, and its path parameters.

Why apart from the server: route selection has rules of its own (exact before `{param}` before `{proxy+}`
before `$default`; an undeclared method is a 404, not a 405) that are easiest to read and test as pure
functions over `RouteSpec`s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from local.template import RouteSpec


@dataclass(frozen=True)
class RouteMatch:
    """The route a request selected and the values of its `{param}` / `{proxy+}` placeholders."""

    route: RouteSpec
    path_parameters: dict[str, str]


def match_route(routes: Iterable[RouteSpec], method: str, raw_path: str) -> RouteMatch | None:
    """The route API Gateway would pick: exact paths before `{param}`, before `{proxy+}`, before `$default`.

    A known path with an undeclared method matches nothing (HTTP APIs answer 404 for it, not 405).
    """
    candidates = []
    segments = raw_path.split("/")[1:]
    for route in routes:
        if route.method not in (method.upper(), "ANY"):
            continue
        if route.path == "$default":
            candidates.append(((3, 0, 0, 1), RouteMatch(route, {})))
            continue
        params = _match_path(route.path, segments)
        if params is not None:
            candidates.append((_specificity(route), RouteMatch(route, params)))
    if not candidates:
        return None
    return min(candidates, key=lambda item: item[0])[1]


def _specificity(route: RouteSpec) -> tuple[int, int, int, int]:
    parts = route.path.split("/")[1:]
    greedy = int(any(part.endswith("+}") for part in parts))
    variables = sum(part.startswith("{") for part in parts)
    return (1 + greedy, variables, -len(parts), int(route.method == "ANY"))


def _match_path(template_path: str, segments: list[str]) -> dict[str, str] | None:
    parts = template_path.split("/")[1:]
    params: dict[str, str] = {}
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[index:]
            if not rest or rest == [""]:
                return None
            params[part[1:-2]] = unquote("/".join(rest))
            return params
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            if not segments[index]:
                return None
            params[part[1:-1]] = unquote(segments[index])
        elif unquote(segments[index]) != part:
            return None
    return params if len(segments) == len(parts) else None
