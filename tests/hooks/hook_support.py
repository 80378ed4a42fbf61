"""Shared helpers of the hook tests: connection ids, fast policies and connections from env vars."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_cx.hooks.operations import PollingPolicy
from airflow_provider_cx.hooks.retry import RetryPolicy

CONN_ID = "cx_test"
AGENT = "projects/test-project/locations/global/agents/agent-1"
SA_EMAIL = "cx-deployer@key-project.iam.gserviceaccount.com"

# Millisecond backoff so retry tests take no noticeable time.
FAST_RETRIES = RetryPolicy(
    max_attempts=4, initial_delay=0.01, max_delay=0.02, jitter=0.005, deadline=20, attempt_timeout=10
)
FAST_POLLING = PollingPolicy(initial_delay=0.01, max_delay=0.05, multiplier=1.5, jitter=0.01, timeout=20)


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, extra: dict[str, Any], **fields: Any) -> None:
    """Define an Airflow connection the way Airflow 3 resolves it outside a task: AIRFLOW_CONN_<ID>."""
    body = {"conn_type": fields.pop("conn_type", "google_cloud_platform"), "extra": extra, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(body))
