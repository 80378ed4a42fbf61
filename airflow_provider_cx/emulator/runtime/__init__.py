"""The emulator's conversation runtime: pure code over an agent package, no gRPC.

``Engine(package).detect_intent(state, text, ...)`` runs one turn; :func:`run_test_case` replays a
test case and reports differences; :func:`calculate_coverage` computes test coverage.
"""

from __future__ import annotations

from airflow_provider_cx.emulator.runtime.engine import Engine
from airflow_provider_cx.emulator.runtime.state import (
    MatchType,
    ResponseText,
    RuntimeErrorBase,
    SessionState,
    TransitionLoopError,
    TurnResult,
    UnknownTargetError,
)
from airflow_provider_cx.emulator.runtime.testcases import run_test_case
from airflow_provider_cx.emulator.runtime.webhook import (
    WebhookCaller,
    WebhookError,
    http_webhook_caller,
    unreachable_webhook_caller,
)

__all__ = [
    "Engine",
    "MatchType",
    "ResponseText",
    "RuntimeErrorBase",
    "SessionState",
    "TransitionLoopError",
    "TurnResult",
    "UnknownTargetError",
    "WebhookCaller",
    "WebhookError",
    "http_webhook_caller",
    "run_test_case",
    "unreachable_webhook_caller",
]
