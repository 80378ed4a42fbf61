"""create_or_adopt on its own, with the stock clients through the hook: what is retried and what is not."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from faulty_emulator import FAST_RETRIES, fast_retries
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx
from operator_harness import CONN_ID, connect, new_agent

from airflow_provider_cx.hooks.create_or_adopt import create_or_adopt
from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
from airflow_provider_cx.hooks.operations import PollingPolicy

METADATA = "google.cloud.dialogflow.cx.v3.CreateVersionOperationMetadata"


@pytest.fixture
def setup(monkeypatch, cx_emulator_factory) -> tuple[Any, DialogflowCXHook, str]:
    fast_retries(monkeypatch)
    server = cx_emulator_factory()
    connect(monkeypatch, server)
    agent = new_agent(server)
    flow = next(iter(server.client(cx.FlowsClient).list_flows(parent=agent))).name
    polling = PollingPolicy(initial_delay=0.01, max_delay=0.05, timeout=20)
    return server, DialogflowCXHook(gcp_conn_id=CONN_ID, polling_policy=polling), flow


def versions_of(server: Any, flow: str) -> list[cx.Version]:
    return list(server.client(cx.VersionsClient).list_versions(parent=flow))


def create_version(hook: DialogflowCXHook, flow: str, display_name: str, calls: Counter) -> Any:
    def create() -> Any:
        calls["create"] += 1
        return hook.create_version(flow, display_name=display_name)

    return create


def find_named(server: Any, flow: str, display_name: str):
    return lambda: next((v for v in versions_of(server, flow) if v.display_name == display_name), None)


def adopt(hook: DialogflowCXHook, flow: str, find: Any, create: Any) -> Any:
    return create_or_adopt(
        hook,
        what="a version",
        find=find,
        create=create,
        result_type=cx.Version,
        location_name="projects/test-project/locations/global",
        pending_metadata=METADATA,
        timeout=20,
    )


def test_creates_when_absent_and_adopts_when_present(setup):
    server, hook, flow = setup
    calls: Counter = Counter()
    made = adopt(hook, flow, find_named(server, flow, "v"), create_version(hook, flow, "v", calls))
    again = adopt(hook, flow, find_named(server, flow, "v"), create_version(hook, flow, "v", calls))
    assert (made.created, again.created) == (True, False)
    assert made.resource.name == again.resource.name
    assert calls["create"] == 1
    assert len(versions_of(server, flow)) == 1


def test_a_refused_create_is_not_retried(setup):
    server, hook, flow = setup
    calls: Counter = Counter()
    with pytest.raises(exceptions.InvalidArgument, match="display_name must be set"):
        adopt(hook, flow, find_named(server, flow, ""), create_version(hook, flow, "", calls))
    assert calls["create"] == 1


def test_a_create_that_never_gets_through_fails_cleanly_after_the_policy_attempts(setup):
    server, hook, flow = setup
    server.admin().set_faults({"methods": {"Versions/CreateVersion": {"error_rate": 1.0, "codes": ["UNAVAILABLE"]}}})
    calls: Counter = Counter()
    with pytest.raises(exceptions.ServiceUnavailable, match="injected fault"):
        adopt(hook, flow, find_named(server, flow, "v"), create_version(hook, flow, "v", calls))
    assert calls["create"] == FAST_RETRIES.max_attempts
    assert versions_of(server, flow) == []
