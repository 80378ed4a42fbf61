"""The README's TaskFlow example (hook methods only) runs against the emulator, as written."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cx.emulator.testing import TEST_PARENT, create_test_agent, package_bytes, unique_name
from airflow_provider_cx.sample_agent import sample_agent_path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    """The first Python block of the README's "Hook API" section."""
    section = README.read_text().split("## Hook API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the Hook API section has no python example"
    return match.group(1)


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch, cx_emulator: Any) -> dict[str, Any]:
    """The example's module namespace, its AGENT a fresh sample agent with a "production" environment."""
    from google.cloud import dialogflowcx_v3 as cx
    from google.protobuf import empty_pb2

    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook

    extra = {"emulator_host": cx_emulator.address, "project": "test-project"}
    connection = json.dumps({"conn_type": "google_cloud_platform", "extra": extra})
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", connection)
    hook = DialogflowCXHook()
    agent = create_test_agent(cx_emulator.client(cx.AgentsClient), unique_name("readme")).name
    hook.wait_for_result(hook.restore_agent(agent, agent_content=package_bytes(sample_agent_path())), empty_pb2.Empty)
    reachable = hook.reachable_flows(hook.get_agent(agent), hook.list_flows(agent))
    versions = [hook.wait_for_result(hook.create_version(f.name, display_name="v0"), cx.Version) for f in reachable]
    create = hook.create_environment(agent, display_name="production", versions=[v.name for v in versions])
    hook.wait_for_result(create, cx.Environment)

    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(readme_example(), str(README), "exec"), namespace)
    namespace["AGENT"] = agent  # the tasks read it when they run
    return namespace


def test_the_readme_taskflow_example_exports_tests_and_deploys(example: dict[str, Any], cx_emulator: Any) -> None:
    from airflow_provider_cx.package import read_package

    assert example["cx_release_with_the_hook"]  # the DAG function is defined (and was called at import)
    uri = example["export_agent"].function()
    assert read_package(cx_emulator.backend.gcs.read(uri)).display_name

    pass_rate = example["run_test_cases"].function()
    assert 0.9 <= pass_rate <= 1.0  # the sample agent's test cases pass on the emulator

    assert example["deploy"].function(pass_rate) == "SUCCEEDED"
    with pytest.raises(ValueError, match="below 90%: not deploying"):
        example["deploy"].function(0.5)
    assert TEST_PARENT in example["AGENT"]
