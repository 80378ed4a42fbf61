"""Experiments over gRPC: CRUD and the DRAFT -> RUNNING -> DONE life cycle, v3 and v3beta1."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx
from google.cloud import dialogflowcx_v3beta1 as beta

from airflow_provider_cx.emulator.testing import create_test_agent, unique_name, wait_for

State = cx.Experiment.State


@pytest.fixture
def environment(cx_client):
    agents = cx_client(cx.AgentsClient)
    agent = create_test_agent(agents, unique_name("exp"))
    version = wait_for(
        cx_client(cx.VersionsClient).create_version(parent=agent.start_flow, version=cx.Version(display_name="v1"))
    )
    staging = cx.Environment(
        display_name="staging", version_configs=[cx.Environment.VersionConfig(version=version.name)]
    )
    return wait_for(cx_client(cx.EnvironmentsClient).create_environment(parent=agent.name, environment=staging))


def test_life_cycle(cx_client, environment):
    experiments = cx_client(cx.ExperimentsClient)
    made = experiments.create_experiment(
        parent=environment.name,
        experiment=cx.Experiment(display_name="greeting", description="A/B", state=State.DONE),
    )
    assert made.name.startswith(environment.name + "/experiments/")
    assert made.state == State.DRAFT  # state is the server's, not the caller's
    assert made.create_time.timestamp() > 0
    with pytest.raises(exceptions.AlreadyExists, match="greeting"):
        experiments.create_experiment(parent=environment.name, experiment=cx.Experiment(display_name="greeting"))
    with pytest.raises(exceptions.FailedPrecondition, match="DRAFT"):
        experiments.stop_experiment(name=made.name)

    running = experiments.start_experiment(name=made.name)
    assert running.state == State.RUNNING
    assert running.start_time.timestamp() >= made.create_time.timestamp()
    with pytest.raises(exceptions.FailedPrecondition, match="running"):
        experiments.delete_experiment(name=made.name)
    updated = experiments.update_experiment(
        experiment=cx.Experiment(name=made.name, description="A/B/C"), update_mask={"paths": ["description"]}
    )
    assert (updated.description, updated.display_name, updated.state) == ("A/B/C", "greeting", State.RUNNING)

    done = cx_client(beta.ExperimentsClient).stop_experiment(name=made.name)
    assert done.state == beta.Experiment.State.DONE
    assert [e.name for e in experiments.list_experiments(parent=environment.name)] == [made.name]
    experiments.delete_experiment(name=made.name)
    with pytest.raises(exceptions.NotFound):
        experiments.get_experiment(name=made.name)


def test_unknown_environment_is_not_found(cx_client, environment):
    experiments = cx_client(cx.ExperimentsClient)
    parent = environment.name.rsplit("/", 1)[0] + "/nope"
    with pytest.raises(exceptions.NotFound, match="nope"):
        experiments.list_experiments(parent=parent)
