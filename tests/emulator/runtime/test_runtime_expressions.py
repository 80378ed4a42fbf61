from __future__ import annotations

import pytest

from airflow_provider_cx.emulator.runtime.expressions import ConditionError, check, parse_condition
from airflow_provider_cx.emulator.runtime.functions import FunctionError, call_function
from airflow_provider_cx.emulator.runtime.templates import render, resolve_value

PARAMS = {
    "$session.params.merch": "T-shirt",
    "$session.params.count": 2,
    "$session.params.flag": True,
    "$session.params.items": ["a", "b"],
    "$flow.retry": 3,
}


def resolve(path: str):
    return PARAMS.get(path)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('$session.params.merch = "T-shirt"', True),
        ("$session.params.merch = T-shirt", True),
        ('$session.params.merch != "T-shirt"', False),
        ("$session.params.missing = null", True),
        ('$session.params.missing = "null"', True),
        ('$session.params.merch != "null"', True),
        ("$session.params.count < $flow.retry", True),
        ("$session.params.count >= 3", False),
        ('$session.params.flag = "true"', True),
        ("$session.params.flag = TRUE", True),
        ('$session.params.merch = "CD" OR $session.params.merch = "T-shirt"', True),
        ('$session.params.count = 2 AND ($session.params.merch = "CD" OR $flow.retry = 3)', True),
        ("NOT $session.params.flag", False),
        ('$session.params.items : "b"', True),
        ("$sys.func.COUNT($session.params.items) = 2", True),
        ("$sys.func.ADD($session.params.count, 1) = $flow.retry", True),
        ("$session.params.missing > 1", False),
        ("true", True),
        ("", True),
    ],
)
def test_condition_evaluation(condition: str, expected: bool) -> None:
    assert check(condition, resolve) is expected


def test_escaped_comma_in_string_literal() -> None:
    values = {"$session.params.address": "Hosier Ln, Melbourne"}
    assert check('$session.params.address = "Hosier Ln\\, Melbourne"', values.get)


@pytest.mark.parametrize("bad", ['$session.params.x = "open', "($session.params.x = 1", "$session.params.x = = 2"])
def test_malformed_conditions_raise_condition_error(bad: str) -> None:
    with pytest.raises(ConditionError):
        parse_condition(bad)


def test_unknown_function_is_a_function_error() -> None:
    with pytest.raises(FunctionError, match="NOPE"):
        call_function("NOPE", [])


def test_render_keeps_unset_references_and_formats_values() -> None:
    values = {
        "$session.params.date": {"year": 2022, "month": 1, "day": 5},
        "$session.params.time": {"hours": 15, "minutes": 0, "seconds": 0, "nanos": 0},
        "$session.params.price": 25.0,
    }
    out = render(
        "On $session.params.date at $session.params.time for $$session.params.price, flight $session.params.flight.",
        values.get,
    )
    assert out == "On 2022-01-05 at 15:00:00 for $25, flight $session.params.flight."


def test_render_evaluates_functions() -> None:
    values = {"$session.params.price": 10}
    assert render("Total $sys.func.ADD($session.params.price, 5) dollars", values.get) == "Total 15 dollars"


def test_preset_values_keep_their_type() -> None:
    values = {"$flow.counter": 1}
    assert resolve_value("$sys.func.ADD($flow.counter, 1)", values.get) == 2
    assert resolve_value("$flow.counter", values.get) == 1
    assert resolve_value("n=$flow.counter", values.get) == "n=1"
    assert resolve_value({"a": "$flow.counter"}, values.get) == {"a": 1}
