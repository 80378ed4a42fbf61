"""``$sys.func.*`` system functions, to the extent real agents use them.

Implemented: ADD, MINUS, MULTIPLY, DIVIDE, COUNT, TO_TEXT, TO_NUMBER, IF, LOWER, UPPER, CONTAINS,
JOIN, APPEND, REMOVE, GET, SUBSTITUTE, RAND is not (it would break determinism). An unknown function
raises :class:`FunctionError`, which the engine reports in the turn's diagnostic info.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_provider_cx.emulator.runtime.values import as_text, equal


class FunctionError(ValueError):
    """A ``$sys.func`` call names an unknown function or has arguments it cannot use."""


def _num(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise FunctionError(f"$sys.func.{name} needs numbers, got {value!r}") from exc


def _tidy(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _add(*args: Any) -> Any:
    return _tidy(sum(_num(a, "ADD") for a in args))


def _minus(a: Any, b: Any) -> Any:
    return _tidy(_num(a, "MINUS") - _num(b, "MINUS"))


def _multiply(a: Any, b: Any) -> Any:
    return _tidy(_num(a, "MULTIPLY") * _num(b, "MULTIPLY"))


def _divide(a: Any, b: Any) -> Any:
    divisor = _num(b, "DIVIDE")
    if divisor == 0:
        raise FunctionError("$sys.func.DIVIDE by zero")
    return _tidy(_num(a, "DIVIDE") / divisor)


def _count(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, list | dict | str):
        return len(value)
    return 1


def _to_number(value: Any) -> Any:
    return _tidy(_num(value, "TO_NUMBER"))


def _if(holds: Callable[[str], bool], condition: Any, when_true: Any, when_false: Any) -> Any:
    result = holds(condition) if isinstance(condition, str) else bool(condition)
    return when_true if result else when_false


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, list):
        return any(equal(x, item) for x in container)
    return as_text(item) in as_text(container)


def _join(separator: Any, items: Any, last: Any = None) -> str:
    parts = [as_text(x) for x in (items if isinstance(items, list) else [items])]
    if last is not None and len(parts) > 1:
        return as_text(separator).join(parts[:-1]) + as_text(last) + parts[-1]
    return as_text(separator).join(parts)


def _append(items: Any, item: Any) -> list[Any]:
    base = list(items) if isinstance(items, list) else ([] if items is None else [items])
    return [*base, item]


def _remove(items: Any, item: Any) -> list[Any]:
    return [x for x in (items or []) if not equal(x, item)]


def _get(items: Any, index: Any) -> Any:
    try:
        return items[int(_num(index, "GET"))]
    except (IndexError, TypeError, KeyError):
        return None


def _substitute(text: Any, old: Any, new: Any) -> str:
    return as_text(text).replace(as_text(old), as_text(new))


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "ADD": _add,
    "MINUS": _minus,
    "MULTIPLY": _multiply,
    "DIVIDE": _divide,
    "COUNT": _count,
    "TO_TEXT": lambda value: as_text(value),
    "TO_NUMBER": _to_number,
    "IF": _if,  # takes the condition evaluator first (see call_function)
    "LOWER": lambda value: as_text(value).lower(),
    "UPPER": lambda value: as_text(value).upper(),
    "CONTAINS": _contains,
    "JOIN": _join,
    "APPEND": _append,
    "REMOVE": _remove,
    "GET": _get,
    "SUBSTITUTE": _substitute,
}

SUPPORTED_FUNCTIONS = tuple(sorted(_FUNCTIONS))


def call_function(name: str, args: list[Any], condition: Callable[[str], bool] | None = None) -> Any:
    """Call ``$sys.func.NAME``; ``condition`` evaluates IF's condition text (the expressions module passes it,
    which keeps this module below the condition language instead of importing it back)."""
    func = _FUNCTIONS.get(name.upper())
    if func is None:
        raise FunctionError(f"$sys.func.{name} is not supported by the emulator ({', '.join(SUPPORTED_FUNCTIONS)})")
    if func is _if:
        if condition is None:
            raise FunctionError("$sys.func.IF needs a condition evaluator; call it through the expressions module")
        args = [condition, *args]
    try:
        return func(*args)
    except TypeError as exc:
        raise FunctionError(f"$sys.func.{name} called with {len(args)} arguments: {exc}") from exc
