"""The one reachability rule: the pure walk, and the package and API paths agreeing on real agents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cx.flow_reachability import flow_targets, playbook_flow_refs, reachable_flows, target_flow_refs
from tests.conftest import shared_agent_paths


def test_targets_in_both_spellings_and_not_in_user_data() -> None:
    flow = {
        "transitionRoutes": [{"intent": "x", "targetFlow": "Billing"}],
        "eventHandlers": [{"event": "e", "target_flow": "projects/p/locations/l/agents/a/flows/2"}],
        "form": {"parameters": [{"fillBehavior": {"repromptEventHandlers": [{"targetFlow": "Support"}]}}]},
        "payload": {"targetFlow": "Not a transition"},
        "setParameterActions": [{"value": {"targetFlow": "Nor this"}}],
        "targetFlow": "",
    }
    assert sorted(target_flow_refs([flow])) == ["Billing", "Support", "projects/p/locations/l/agents/a/flows/2"]
    assert flow_targets([flow], {"Billing": "b"}.get) == {"b"}


def test_playbooks_name_flows_anywhere_in_their_data() -> None:
    playbooks = [{"instruction": {"steps": [{"text": " Billing "}]}, "examples": ["Support", "unrelated"]}]
    assert playbook_flow_refs(playbooks, ["Billing", "Support", "Sales"]) == {"Billing", "Support"}


def test_walk_from_roots_and_unknown_without_any() -> None:
    edges = {"start": {"a"}, "a": {"b", "start"}, "b": set(), "island": {"start"}}
    calls: list[str] = []

    def targets_of(key: str) -> set[str]:
        calls.append(key)
        return edges[key]

    assert reachable_flows(["start"], targets_of) == {"start", "a", "b"}
    assert sorted(calls) == ["a", "b", "start"]  # each reached flow read once, the island never
    assert reachable_flows([None], targets_of) is None
    assert reachable_flows([None, "island"], targets_of) == {"island", "start", "a", "b"}


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch, cx_emulator: Any) -> Any:
    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook

    extra = {"emulator_host": cx_emulator.address, "project": "test-project"}
    monkeypatch.setenv("AIRFLOW_CONN_CX_REACHABILITY", json.dumps({"conn_type": "dialogflow_cx", "extra": extra}))
    return DialogflowCXHook(gcp_conn_id="cx_reachability")


@pytest.mark.parametrize("source", shared_agent_paths(), ids=lambda path: path.name)
def test_package_and_api_paths_give_the_same_flows(source: Path, hook: Any, cx_emulator: Any) -> None:
    """A real export, linted as a package and restored into the emulator, is walked the same both ways."""
    from google.cloud import dialogflowcx_v3 as cx
    from google.protobuf import empty_pb2

    from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, unique_name
    from airflow_provider_cx.package import read_package
    from airflow_provider_cx.package.lint.config import LintConfig
    from airflow_provider_cx.package.lint.context import LintContext

    package = read_package(source)
    by_id = {id(flow): flow.display_name for flow in package.flows}
    from_package = LintContext(package, LintConfig()).reachable_flows
    expected = sorted(by_id.values()) if from_package is None else sorted(by_id[key] for key in from_package)

    agent = create_test_agent(cx_emulator.client(cx.AgentsClient), unique_name("reachability")).name
    hook.wait_for_result(hook.restore_agent(agent, agent_content=package_bytes(source)), empty_pb2.Empty, timeout=60)
    from_api = hook.reachable_flows(hook.get_agent(agent), hook.list_flows(agent))

    assert sorted(flow.display_name for flow in from_api) == expected
    assert len(expected) >= 1


def _cut_off(content: bytes, flow: str) -> bytes:
    """The package zip with every transition to ``flow`` (by display name) emptied: nothing reaches it."""
    import io
    import zipfile

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: "" if k == "targetFlow" and v == flow else scrub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(item) for item in node]
        return node

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".json"):
                data = json.dumps(scrub(json.loads(data.decode("utf-8-sig")))).encode()
            target.writestr(info, data)
    return out.getvalue()


MULTI_FLOW_AGENTS = [path for path in shared_agent_paths() if path.name in {"dsi-dialogflow", "optus-dev"}]


@pytest.mark.parametrize("source", MULTI_FLOW_AGENTS, ids=lambda path: path.name)
def test_a_flow_nothing_targets_is_left_out_by_both_paths(
    source: Path, hook: Any, cx_emulator: Any, tmp_path: Path
) -> None:
    from google.cloud import dialogflowcx_v3 as cx
    from google.protobuf import empty_pb2

    from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, unique_name
    from airflow_provider_cx.package import read_package
    from airflow_provider_cx.package.lint.config import LintConfig
    from airflow_provider_cx.package.lint.context import LintContext

    original = read_package(source)
    island = sorted(f.display_name for f in original.flows if f.display_name != original.start_flow_name)[-1]
    content = _cut_off(package_bytes(source), island)
    (tmp_path / "cut.zip").write_bytes(content)
    package = read_package(tmp_path / "cut.zip")
    reached = LintContext(package, LintConfig()).reachable_flows
    assert reached is not None
    from_package = sorted(f.display_name for f in package.flows if id(f) in reached)
    assert island not in from_package

    agent = create_test_agent(cx_emulator.client(cx.AgentsClient), unique_name("reachability")).name
    hook.wait_for_result(hook.restore_agent(agent, agent_content=content), empty_pb2.Empty, timeout=60)
    from_api = hook.reachable_flows(hook.get_agent(agent), hook.list_flows(agent))

    assert sorted(flow.display_name for flow in from_api) == from_package
