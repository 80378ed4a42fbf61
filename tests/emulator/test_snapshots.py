"""emulator.snapshots: what a flow version captures and what an environment serves (no gRPC)."""

from __future__ import annotations

import pytest

from airflow_provider_cx.emulator.errors import NotFound
from airflow_provider_cx.emulator.snapshots import (
    ENVIRONMENTS_KEY,
    candidate_environment,
    capture_flow,
    environment_flows,
    environment_package,
    flow_versions,
    snapshot_key,
    version_flow,
)
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import read_package
from airflow_provider_cx.sample_agent import sample_agent_path


@pytest.fixture
def record() -> AgentRecord:
    package = read_package(sample_agent_path())
    return AgentRecord("p", "global", "a1", package.display_name, package)


def _pin(record: AgentRecord, flow_display: str, env_id: str = "env") -> str:
    """Store version 1 of a flow as a snapshot of the draft now and pin it in an environment."""
    flow = record.package.flow(flow_display)
    assert flow is not None
    state = flow_versions(record, flow.id)
    state["versions"]["1"] = {"displayName": "v1"}
    record.snapshots[snapshot_key(flow.id, "1")] = capture_flow(record.package, flow)
    name = f"{record.name}/flows/{flow.id}/versions/1"
    envs = record.extra(ENVIRONMENTS_KEY)
    env = envs.setdefault(env_id, {"environment": {"versionConfigs": []}})["environment"]
    env["versionConfigs"].append({"version": name})
    return name


def test_capture_takes_the_flow_and_only_the_agent_resources_it_refers_to(record):
    flow = record.package.flow("Transfers")
    snapshot = capture_flow(record.package, flow)
    assert [f.display_name for f in snapshot.flows] == ["Transfers"]
    intents = {i.display_name for i in snapshot.intents}
    referenced = set()
    for body in [flow.data, *(p.data for p in flow.pages)]:
        for route in body.get("transitionRoutes", []):
            if route.get("intent"):
                referenced.add(route["intent"])
    assert referenced
    assert referenced <= intents
    assert len(intents) < len(record.package.intents)
    assert "payee" in {e.display_name for e in snapshot.entity_types}
    flow.pages[0].data["displayName"] = "changed after capture"
    assert snapshot.flows[0].pages[0].display_name != "changed after capture"


def test_environment_flows_serve_pinned_versions_and_draft_elsewhere(record):
    version = _pin(record, "Transfers")
    draft = record.package.flow("Transfers")
    draft.pages.pop()
    flows = environment_flows(record, record.name, "env")
    assert set(flows) == {f.display_name for f in record.package.flows}
    assert flows["Transfers"] is version_flow(record, version)
    assert len(flows["Transfers"].pages) == len(draft.pages) + 1
    assert flows["Card Services"] is record.package.flow("Card Services")


def test_environment_package_restores_the_version_and_its_intents(record):
    before = record.package.copy()
    _pin(record, "Transfers")
    flow = record.package.flow("Transfers")
    flow.pages.pop()
    carried = capture_flow(before, before.flow("Transfers")).intents[0].display_name
    record.package.intent(carried).parts.clear()
    served = environment_package(record, f"{record.name}/environments/env")
    assert served.flow("Transfers") == before.flow("Transfers")
    assert served.intent(carried) == before.intent(carried)
    assert record.package.flow("Transfers") != before.flow("Transfers")
    assert record.package.intent(carried) != before.intent(carried)


def test_unknown_environment_or_version_is_not_found(record):
    with pytest.raises(NotFound, match="environments/nope"):
        environment_flows(record, record.name, "nope")
    with pytest.raises(NotFound, match="versions/9"):
        version_flow(record, f"{record.name}/flows/{record.package.flows[0].id}/versions/9")


def test_candidate_environment_is_seen_only_inside_the_block_and_this_thread(record):
    import threading

    version = _pin(record, "Transfers")
    stored = record.extras[ENVIRONMENTS_KEY]["env"]["environment"]
    draft_only = {"versionConfigs": []}
    seen_elsewhere = []
    before = record.revision
    with candidate_environment(record, "env", draft_only):
        assert environment_flows(record, record.name, "env")["Transfers"] is record.package.flow("Transfers")
        other = threading.Thread(
            target=lambda: seen_elsewhere.append(environment_flows(record, record.name, "env")["Transfers"])
        )
        other.start()
        other.join()
        assert record.revision > before
    assert seen_elsewhere == [version_flow(record, version)]
    assert environment_flows(record, record.name, "env")["Transfers"] is version_flow(record, version)
    assert record.extras[ENVIRONMENTS_KEY]["env"]["environment"] is stored
