"""Hypothesis strategies the admin tests share: arbitrary JSON values, the raw material of hostile bodies."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def json_scalars(text: st.SearchStrategy[str], *, int_bound: int = 2**40, allow_nan: bool = False) -> Any:
    """null, booleans, integers within ±``int_bound``, floats (±inf always, NaN only with ``allow_nan``),
    and ``text``."""
    return (
        st.none() | st.booleans() | st.integers(-int_bound, int_bound) | st.floats(allow_nan=allow_nan) | text
    )


def json_values(scalars: Any, keys: st.SearchStrategy[str], *, max_leaves: int) -> Any:
    """Any JSON value built from ``scalars``: nested lists and objects of at most 4 items each."""
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=max_leaves,
    )
