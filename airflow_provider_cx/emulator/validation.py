"""ValidateAgent / ValidateFlow: findings of the package lint, as the API reports them."""

from __future__ import annotations

from typing import Any

from airflow_provider_cx.emulator.errors import Unimplemented
from airflow_provider_cx.emulator.store import AgentRecord

EXTRA_KEY = "validation"


def validate_agent(record: AgentRecord, language_code: str) -> Any:
    raise Unimplemented("agent validation is not available yet in this emulator build")


def stored_agent_result(record: AgentRecord) -> Any:
    raise Unimplemented("agent validation is not available yet in this emulator build")


def validate_flow(record: AgentRecord, flow: Any, language_code: str) -> Any:
    raise Unimplemented("flow validation is not available yet in this emulator build")


def stored_flow_result(record: AgentRecord, flow: Any) -> Any:
    raise Unimplemented("flow validation is not available yet in this emulator build")
