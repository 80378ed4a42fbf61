"""Checking the quality-gate thresholds operators take (pass rates, accuracy, coverage)."""

from __future__ import annotations

from typing import Any

from airflow_provider_cx.hooks.errors import CXInvalidInputError


def check_fraction(name: str, value: Any) -> float:
    """``value`` as a float in [0, 1], or :class:`CXInvalidInputError` naming the parameter.

    Numeric strings are accepted because templated thresholds render to strings.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CXInvalidInputError(f"{name} must be a number between 0 and 1, got {value!r}")
    try:
        fraction = float(value)
    except ValueError:
        raise CXInvalidInputError(f"{name} must be a number between 0 and 1, got {value!r}") from None
    if not 0.0 <= fraction <= 1.0:
        raise CXInvalidInputError(f"{name} must be between 0 and 1 (a fraction, not a percentage), got {value!r}")
    return fraction
