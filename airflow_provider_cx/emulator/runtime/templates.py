"""Parameter references and ``$sys.func`` calls inside fulfillment text and parameter presets.

A reference to a parameter that is not set is left in the text as written (recorded CX conversations
show exactly that, e.g. ``Departure Flight $session.params.flight_number_A``). Values render as CX
renders them: dates ``2022-01-05``, times ``15:00:00``, whole numbers without a decimal point,
booleans ``true``/``false``, a ``{"name": …}`` person as the name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from airflow_provider_cx.emulator.runtime.expressions import ConditionError, evaluate, parse_call_at
from airflow_provider_cx.emulator.runtime.functions import FunctionError

_REFERENCE = re.compile(
    r"\$(?:sys\.func\.(?=[A-Za-z_])|(?:session\.params|page\.params|intent\.params|flow|intent|request)"
    r"(?:\.[A-Za-z0-9_\-]+)+)"
)

Resolver = Callable[[str], Any]
_UNSET = object()


def format_value(value: Any) -> str:
    """How a parameter value reads in a text response."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        if {"year", "month", "day"} <= value.keys():
            return f"{int(value['year']):04d}-{int(value['month']):02d}-{int(value['day']):02d}"
        if {"hours", "minutes"} <= value.keys():
            return f"{int(value['hours']):02d}:{int(value['minutes']):02d}:{int(value.get('seconds', 0)):02d}"
        if set(value) <= {"name", "original"} and "name" in value:
            return str(value["name"])
        if {"amount", "currency"} <= value.keys():
            return f"{format_value(value['amount'])} {value['currency']}"
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def render(text: str, resolve: Resolver, errors: list[str] | None = None) -> str:
    """Text with references replaced by their values; unset references stay as written."""
    if "$" not in text:
        return text
    out: list[str] = []
    pos = 0
    while True:
        match = _REFERENCE.search(text, pos)
        if match is None:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos : match.start()])
        if match.group().startswith("$sys.func."):
            value, end = _call(text, match.start(), resolve, errors)
        else:
            value, end = resolve(match.group()), match.end()
            if value is None:
                value = _UNSET
        out.append(text[match.start() : end] if value is _UNSET else format_value(value))
        pos = end


def _call(text: str, start: int, resolve: Resolver, errors: list[str] | None) -> tuple[Any, int]:
    try:
        call, end = parse_call_at(text, start)
    except ConditionError as exc:
        if errors is not None:
            errors.append(str(exc))
        return _UNSET, start + len("$sys.func.")
    try:
        return evaluate(call, resolve), end
    except (FunctionError, ConditionError) as exc:
        if errors is not None:
            errors.append(str(exc))
        return _UNSET, end


def resolve_value(value: Any, resolve: Resolver, errors: list[str] | None = None) -> Any:
    """A parameter preset's value: a lone reference or call keeps its type; other text is rendered."""
    if isinstance(value, str):
        stripped = value.strip()
        match = _REFERENCE.match(stripped)
        if match is not None:
            if match.group().startswith("$sys.func."):
                result, end = _call(stripped, 0, resolve, errors)
                if end == len(stripped):
                    return None if result is _UNSET else result
            elif match.end() == len(stripped):
                return resolve(stripped)
        return render(value, resolve, errors)
    if isinstance(value, dict):
        return {k: resolve_value(v, resolve, errors) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_value(v, resolve, errors) for v in value]
    return value
