"""Retry and polling policies from connection extras and task arguments, layered over the defaults.

A hook's :class:`.RetryPolicy` and :class:`.PollingPolicy` are resolved from three layers, later
ones winning field by field:

1. the defaults (:data:`.retry.DEFAULT_POLICY`, :data:`.operations.DEFAULT_POLLING`);
2. the connection's extras below, so a platform team tunes every task of a connection without code;
3. what the code passes to the hook: a complete policy replaces layers 1 and 2, a mapping of field
   names (e.g. ``{"max_attempts": 8}``, what operators pass for ``max_attempts=``) changes only those.

Connection extras (plain names, or with the ``extra__google_cloud_platform__`` /
``extra__dialogflow_cx__`` prefix; numbers or numeric strings, empty means unset):

=========================  ==============================================  =======
extra                      field                                           unit
=========================  ==============================================  =======
``retry_max_attempts``     ``RetryPolicy.max_attempts``                    calls
``retry_initial_delay``    ``RetryPolicy.initial_delay``                   seconds
``retry_max_delay``        ``RetryPolicy.max_delay`` (backoff cap)         seconds
``retry_deadline``         ``RetryPolicy.deadline`` (all attempts)         seconds
``retry_attempt_timeout``  ``RetryPolicy.attempt_timeout``                 seconds
``poll_interval``          ``PollingPolicy.max_delay`` (longest pause)     seconds
``operation_timeout``      ``PollingPolicy.timeout`` (one LRO wait)        seconds
=========================  ==============================================  =======
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from airflow_provider_cx.hooks.errors import CXConnectionSettingsError
from airflow_provider_cx.hooks.operations import PollingPolicy
from airflow_provider_cx.hooks.retry import RetryPolicy

P = TypeVar("P", RetryPolicy, PollingPolicy)

#: Connection extra -> (RetryPolicy field, type).
RETRY_EXTRAS: dict[str, tuple[str, type]] = {
    "retry_max_attempts": ("max_attempts", int),
    "retry_initial_delay": ("initial_delay", float),
    "retry_max_delay": ("max_delay", float),
    "retry_deadline": ("deadline", float),
    "retry_attempt_timeout": ("attempt_timeout", float),
}
POLLING_EXTRAS = ("poll_interval", "operation_timeout")


def polling_fields(poll_interval: float | None = None, operation_timeout: float | None = None) -> dict[str, float]:
    """PollingPolicy fields for the two knobs users know: the longest pause and the overall wait.

    The first poll comes after at most a second, so a quick operation is not waited on for a whole
    interval; pauses then grow by the policy's multiplier up to ``poll_interval``.
    """
    fields: dict[str, float] = {}
    if poll_interval is not None:
        fields.update(initial_delay=min(1.0, poll_interval), max_delay=poll_interval)
    if operation_timeout is not None:
        fields["timeout"] = operation_timeout
    return fields


def layered(base: P, *layers: P | Mapping[str, Any] | None) -> P:
    """``base`` with each layer applied in turn: a policy replaces, a mapping changes its fields.

    Raises ``ValueError`` naming the problem for unknown fields or values the policy refuses.
    """
    policy = base
    for layer in layers:
        if layer is None:
            continue
        if isinstance(layer, type(base)):
            policy = layer
            continue
        if not isinstance(layer, Mapping):
            raise ValueError(f"expected a {type(base).__name__} or a mapping of its fields, got {layer!r}")
        known = {field.name for field in dataclasses.fields(base)}
        unknown = sorted(set(layer) - known)
        if unknown:
            raise ValueError(f"unknown {type(base).__name__} field(s) {unknown}; known: {sorted(known)}")
        policy = dataclasses.replace(policy, **layer)
    return policy


def retry_overrides_from_extras(conn_id: str, get: Callable[[str], Any]) -> dict[str, Any]:
    """The RetryPolicy fields a connection sets, checked against the default policy."""
    overrides = {
        field: _number(conn_id, extra, get(extra), kind)
        for extra, (field, kind) in RETRY_EXTRAS.items()
        if get(extra) is not None
    }
    _check(conn_id, RetryPolicy(), overrides, [extra for extra in RETRY_EXTRAS if get(extra) is not None])
    return overrides


def polling_overrides_from_extras(conn_id: str, get: Callable[[str], Any]) -> dict[str, Any]:
    """The PollingPolicy fields a connection sets (from ``poll_interval`` and ``operation_timeout``)."""
    values = {extra: _number(conn_id, extra, get(extra), float) for extra in POLLING_EXTRAS if get(extra) is not None}
    overrides = polling_fields(values.get("poll_interval"), values.get("operation_timeout"))
    _check(conn_id, PollingPolicy(), overrides, list(values))
    return overrides


def _number(conn_id: str, extra: str, value: Any, kind: type) -> int | float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0 or (kind is int and not number.is_integer()):
        wanted = "a positive whole number" if kind is int else "a positive number of seconds"
        raise CXConnectionSettingsError(f"connection {conn_id!r}: extra {extra} must be {wanted}, got {value!r}")
    converted: int | float = kind(number)
    return converted


def _check(conn_id: str, base: P, overrides: dict[str, Any], extras: list[str]) -> None:
    try:
        layered(base, overrides)
    except ValueError as error:
        raise CXConnectionSettingsError(f"connection {conn_id!r}: extras {', '.join(extras)}: {error}") from None
