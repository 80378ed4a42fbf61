"""Fault injection: per-method error rates and codes, added latency and failing operations.

A plan is JSON (``--faults`` takes the text, or ``@file``)::

    {"seed": 7,
     "methods": {"*": {"error_rate": 0.3, "codes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"], "latency_ms": 20},
                 "Agents/ExportAgent": {"operation_failure_rate": 1.0, "operation_error_code": "INTERNAL"}}}

Method patterns are shell globs matched against ``Service/Method`` (short service name, e.g.
``Agents/GetAgent``) and against the full path ``/google.cloud.dialogflow.cx.v3.Agents/GetAgent``;
the most specific match (longest pattern) applies. Injected errors happen before the method runs,
so a failed call changes nothing. With a seed, the sequence of injected faults is reproducible.
"""

from __future__ import annotations

import fnmatch
import json
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc

from airflow_provider_cx.emulator.errors import ServiceError

_CODES = {code.name: code for code in grpc.StatusCode}
#: The largest latency a plan may add to a call (ms): a minute, well past any client deadline worth testing.
MAX_LATENCY_MS = 60_000.0


class FaultSpecError(ValueError):
    """A fault plan that cannot be understood."""


@dataclass(frozen=True)
class MethodFaults:
    error_rate: float = 0.0
    codes: tuple[str, ...] = ("UNAVAILABLE",)
    latency_ms: float = 0.0
    operation_failure_rate: float = 0.0
    operation_error_code: str = "INTERNAL"

    @classmethod
    def from_dict(cls, pattern: str, data: Any) -> MethodFaults:
        if not isinstance(data, dict):
            raise FaultSpecError(f"faults for {pattern!r} must be a JSON object")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise FaultSpecError(f"faults for {pattern!r}: unknown keys {sorted(unknown)}")
        codes = data.get("codes", cls.codes)
        if not isinstance(codes, list | tuple) or not codes or not all(isinstance(c, str) for c in codes):
            raise FaultSpecError(f"faults for {pattern!r}: codes must be a non-empty list of gRPC code names")
        numbers = {}
        for key, limit in (("error_rate", 1.0), ("operation_failure_rate", 1.0), ("latency_ms", MAX_LATENCY_MS)):
            value = data.get(key, 0.0)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= limit:
                raise FaultSpecError(f"faults for {pattern!r}: {key} must be a number from 0 to {limit:g}")
            numbers[key] = float(value)
        code = data.get("operation_error_code", cls.operation_error_code)
        faults = cls(codes=tuple(codes), operation_error_code=code, **numbers)
        for name in (*faults.codes, faults.operation_error_code):
            if not isinstance(name, str) or name not in _CODES or name == "OK":
                raise FaultSpecError(f"faults for {pattern!r}: {name!r} is not a gRPC error code")
        return faults


@dataclass(frozen=True)
class FaultPlan:
    methods: dict[str, MethodFaults] = field(default_factory=dict)
    seed: int | None = None

    @classmethod
    def parse(cls, spec: str | dict[str, Any] | None) -> FaultPlan:
        """A plan from a dict, JSON text, ``@path`` or a path to a JSON file; empty means no faults."""
        if spec is None or spec == "":
            return cls()
        if isinstance(spec, str):
            text = spec
            if spec.startswith("@") or (not spec.lstrip().startswith("{") and Path(spec).is_file()):
                text = Path(spec.removeprefix("@")).read_text()
            try:
                spec = json.loads(text)
            except (ValueError, RecursionError) as err:
                raise FaultSpecError(f"fault plan is not valid JSON: {err}") from err
        if not isinstance(spec, dict):
            raise FaultSpecError("a fault plan must be a JSON object")
        unknown = set(spec) - {"seed", "methods"}
        if unknown:
            raise FaultSpecError(f"fault plan: unknown keys {sorted(unknown)}; use 'seed' and 'methods'")
        methods = spec.get("methods", {})
        if not isinstance(methods, dict):
            raise FaultSpecError("fault plan: 'methods' must map method patterns to settings")
        seed = spec.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise FaultSpecError(f"fault plan: seed must be an integer, got {seed!r}")
        return cls({p: MethodFaults.from_dict(p, d) for p, d in methods.items()}, seed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "methods": {p: {**asdict(f), "codes": list(f.codes)} for p, f in self.methods.items()},
        }


class FaultInjector:
    """Applies the current plan; the plan can be swapped at run time."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self.set_plan(plan or FaultPlan())

    def set_plan(self, plan: FaultPlan) -> None:
        with self._lock:
            self.plan = plan
            self._rng = random.Random(plan.seed)

    def faults_for(self, full_method: str) -> MethodFaults | None:
        short = _short(full_method)
        matches = [
            (len(pattern), faults)
            for pattern, faults in self.plan.methods.items()
            if fnmatch.fnmatchcase(short, pattern) or fnmatch.fnmatchcase(full_method, pattern)
        ]
        return max(matches, key=lambda m: m[0])[1] if matches else None

    def before_call(self, full_method: str) -> None:
        """Sleep for the configured latency, then maybe raise the configured error."""
        faults = self.faults_for(full_method)
        if faults is None:
            return
        with self._lock:
            fail = self._rng.random() < faults.error_rate
            code = self._rng.choice(faults.codes) if fail else None
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if code is not None:
            raise ServiceError(f"injected fault: {code} on {_short(full_method)}", _CODES[code])

    def operation_failure(self, full_method: str) -> tuple[grpc.StatusCode, str] | None:
        """Whether an operation started by ``full_method`` should fail, and how."""
        faults = self.faults_for(full_method)
        if faults is None or not faults.operation_failure_rate:
            return None
        with self._lock:
            fail = self._rng.random() < faults.operation_failure_rate
        if not fail:
            return None
        code = faults.operation_error_code
        return _CODES[code], f"injected operation failure: {code} on {_short(full_method)}"


def _short(full_method: str) -> str:
    service, _, method = full_method.strip("/").partition("/")
    return f"{service.rsplit('.', 1)[-1]}/{method}"
