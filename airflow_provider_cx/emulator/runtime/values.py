"""How the CX condition language and ``$sys.func`` see values: truthiness, equality and text.

Shared by :mod:`expressions` (conditions) and :mod:`functions` (system functions), which both
compare and print values the same way; see :mod:`expressions` for the semantics chosen.
"""

from __future__ import annotations

from typing import Any


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() not in ("", "false", "null")
    return bool(value)


def as_null(value: Any) -> Any:
    return None if isinstance(value, str) and value == "null" else value


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def as_text(value: Any) -> str:
    """How a value reads inside a condition or a function argument."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def equal(left: Any, right: Any) -> bool:
    left, right = as_null(left), as_null(right)
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return as_text(left).lower() == as_text(right).lower()
    ln, rn = as_number(left), as_number(right)
    if ln is not None and rn is not None:
        return ln == rn
    if isinstance(left, dict | list) or isinstance(right, dict | list):
        return bool(left == right)
    return as_text(left) == as_text(right)
