"""DynamoDB attribute-value encoding for plain Python values.

Why not boto3's TypeSerializer: importing it imports boto3 itself (~35 ms on a cold start) and yields
``Decimal`` everywhere; the hot path only needs str/int/float/bool/None/list/dict, so this is enough.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

AttributeValue = dict[str, Any]


def encode(value: Any) -> AttributeValue:
    """Encode one Python value as a DynamoDB AttributeValue."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": str(value)}  # a StrEnum member stores its value
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, list | tuple):
        return {"L": [encode(item) for item in value]}
    if isinstance(value, dict):
        return {"M": encode_item(value)}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB")


def encode_item(item: dict[str, Any]) -> dict[str, AttributeValue]:
    return {str(key): encode(value) for key, value in item.items()}


def decode(value: AttributeValue) -> Any:
    """Decode one AttributeValue; numbers become int when integral, else float."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return raw
    if kind == "N":
        number = Decimal(raw)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "BOOL":
        return bool(raw)
    if kind == "NULL":
        return None
    if kind == "M":
        return decode_item(raw)
    if kind == "L":
        return [decode(item) for item in raw]
    if kind in ("SS", "NS", "BS"):
        return [decode({kind[0]: item}) for item in raw]
    if kind == "B":
        return raw
    raise TypeError(f"unknown DynamoDB type {kind}")


def decode_item(item: dict[str, AttributeValue]) -> dict[str, Any]:
    return {key: decode(value) for key, value in item.items()}


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, float) and value != value:  # NaN
        raise ValueError("NaN cannot be stored")
    return str(value) if not isinstance(value, float) else repr(value)
