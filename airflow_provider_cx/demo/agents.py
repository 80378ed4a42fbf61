"""Dev, staging and prod agents on an emulator, made from the sample agent with the stock CX client.

What a team would have before its first pipeline run: three agents (here in different projects and
locations), each with an environment serving versions of every flow; dev carries new work. Also the
pipeline config that names them, and package edits for the demo's change and for a breaking one.
Talks to the emulator only (plaintext gRPC, no credentials); imports grpc, so never from a DAG file.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_cx.sample_agent import sample_agent_path

#: (file path inside the package, function from its parsed JSON to the new JSON)
PackageChange = tuple[str, Callable[[Any], Any]]
WELCOME_TEXT = "Hi, welcome to Acme Bank support!"
STAGE_PARENTS = {
    "dev": "projects/acme-bank-dev/locations/global",
    "staging": "projects/acme-bank-staging/locations/us-central1",
    "prod": "projects/acme-bank-prod/locations/us-central1",
}
STAGE_ENVIRONMENTS = {"dev": "dev", "staging": "staging", "prod": "production"}
#: Utterances the release pipeline's smoke test sends to prod (they match the sample agent).
SMOKE_TEST = [
    {"text": "hi", "expected_intent": "Default Welcome Intent", "expected_page": "Start Page"},
    {"text": "I lost my credit card", "expected_intent": "card.block"},
    {"text": "find a branch near 10001", "expected_intent": "branch.find"},
]


# --- packages -----------------------------------------------------------------------------------


def with_training_phrase(intent: str, text: str) -> PackageChange:
    """Add an English training phrase to ``intent`` (the demo's release: new work on dev)."""

    def change(phrases: Any) -> Any:
        phrase = {"parts": [{"text": text, "auto": True}], "repeatCount": 1, "languageCode": "en"}
        return {**phrases, "trainingPhrases": [*phrases["trainingPhrases"], phrase]}

    return f"intents/{intent}/trainingPhrases/en.json", change


def with_flow_text(flow: str, old: str, new: str) -> PackageChange:
    """Replace ``old`` by ``new`` in the flow file's texts (e.g. a reworded answer that a test case pins)."""

    def change(document: Any) -> Any:
        text = json.dumps(document)
        if json.dumps(old)[1:-1] not in text:
            raise ValueError(f"flow {flow!r} has no text containing {old!r}")
        return json.loads(text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1]))

    return f"flows/{flow}/{flow}.json", change


def breaking_change() -> PackageChange:
    """A reworded welcome that the "Greeting balance and goodbye" test case does not expect."""
    return with_flow_text("Default Start Flow", WELCOME_TEXT, "Hello and welcome to Acme Bank!")


def demo_change() -> PackageChange:
    """The release the demo promotes: one more way to ask for opening hours."""
    return with_training_phrase("branch.hours", "is the branch open on sunday")


def sample_package(changes: Iterable[PackageChange] = ()) -> bytes:
    """The sample agent as a JSON-package zip, with ``changes`` applied."""
    root = sample_agent_path()
    files = {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}
    for relative, change in changes:
        if relative not in files:
            raise KeyError(f"the sample agent has no file {relative!r}")
        files[relative] = json.dumps(change(json.loads(files[relative])), indent=2).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative, content in files.items():
            archive.writestr(relative, content)
    return buffer.getvalue()


# --- agents on the emulator ---------------------------------------------------------------------


@dataclass(frozen=True)
class StageAgent:
    """One stage's agent and the environment that serves it."""

    stage: str
    agent: str
    environment: str  # display name
    environment_name: str  # resource name


class EmulatorAgents:
    """Stock CX clients on one emulator channel: create, restore, version, deploy and export agents."""

    def __init__(self, address: str, operation_timeout: float = 60.0) -> None:
        import grpc

        self.address = address
        self.operation_timeout = operation_timeout
        self.channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", -1)])

    def client(self, client_cls: Any) -> Any:
        """A stock CX client class (``cx.AgentsClient``, ...) built on this channel."""
        transport = client_cls.get_transport_class("grpc")(channel=self.channel)
        return client_cls(transport=transport)

    def admin(self) -> Any:
        """The emulator's admin interface (call counts and caller records)."""
        from airflow_provider_cx.emulator.admin import AdminClient

        return AdminClient(self.channel)

    def close(self) -> None:
        self.channel.close()

    def wait(self, operation: Any) -> Any:
        from google.api_core.future.polling import DEFAULT_POLLING

        polling = DEFAULT_POLLING.with_delay(initial=0.05, maximum=0.5, multiplier=1.5)
        return operation.result(polling=polling.with_timeout(self.operation_timeout))

    def create_agent(self, parent: str, display_name: str, package: bytes) -> str:
        """A new agent under ``parent`` with ``package`` restored into it; returns its name."""
        from google.cloud import dialogflowcx_v3 as cx

        agents = self.client(cx.AgentsClient)
        agent = cx.Agent(display_name=display_name, default_language_code="en", time_zone="America/New_York")
        name: str = agents.create_agent(parent=parent, agent=agent).name
        self.restore(name, package)
        return name

    def restore(self, agent: str, package: bytes) -> None:
        from google.cloud import dialogflowcx_v3 as cx

        self.wait(self.client(cx.AgentsClient).restore_agent(request={"name": agent, "agent_content": package}))

    def export(self, agent: str, environment: str | None = None) -> bytes:
        """The JSON package of the draft, or of what ``environment`` (resource name) serves."""
        from google.cloud import dialogflowcx_v3 as cx

        request: dict[str, Any] = {"name": agent, "data_format": cx.ExportAgentRequest.DataFormat.JSON_PACKAGE}
        if environment:
            request["environment"] = environment
        content: bytes = self.wait(self.client(cx.AgentsClient).export_agent(request=request)).agent_content
        return content

    def version_all_flows(self, agent: str, label: str) -> list[str]:
        """A new version of every flow; returns the version names."""
        from google.cloud import dialogflowcx_v3 as cx

        versions = self.client(cx.VersionsClient)
        return [
            self.wait(versions.create_version(parent=flow.name, version=cx.Version(display_name=label))).name
            for flow in self.client(cx.FlowsClient).list_flows(parent=agent)
        ]

    def deploy_all_flows(self, agent: str, environment: str, label: str) -> str:
        """Point environment ``environment`` (display name; created if missing) at new versions of every flow."""
        from google.cloud import dialogflowcx_v3 as cx

        environments = self.client(cx.EnvironmentsClient)
        configs = [cx.Environment.VersionConfig(version=name) for name in self.version_all_flows(agent, label)]
        existing = [env for env in environments.list_environments(parent=agent) if env.display_name == environment]
        if existing:
            current = existing[0]
            current.version_configs = configs
            operation = environments.update_environment(environment=current, update_mask={"paths": ["version_configs"]})
        else:
            new = cx.Environment(display_name=environment, version_configs=configs)
            operation = environments.create_environment(parent=agent, environment=new)
        deployed: str = self.wait(operation).name
        return deployed

    def served_versions(self, environment_name: str) -> list[str]:
        from google.cloud import dialogflowcx_v3 as cx

        environment = self.client(cx.EnvironmentsClient).get_environment(name=environment_name)
        return sorted(config.version for config in environment.version_configs)

    def create_stage(self, stage: str, parent: str, package: bytes, environment: str, label: str) -> StageAgent:
        """An agent for ``stage`` restored from ``package`` and an environment serving it."""
        agent = self.create_agent(parent, f"Acme Bank Support {stage}", package)
        return StageAgent(stage, agent, environment, self.deploy_all_flows(agent, environment, label))


def create_stages(
    agents: EmulatorAgents,
    dev_package: bytes,
    parents: Mapping[str, str] = STAGE_PARENTS,
    environments: Mapping[str, str] = STAGE_ENVIRONMENTS,
) -> dict[str, StageAgent]:
    """Staging and prod serve the sample agent (the current release); dev serves ``dev_package``."""
    current = sample_package()
    return {
        "dev": agents.create_stage("dev", parents["dev"], dev_package, environments["dev"], "dev build"),
        "staging": agents.create_stage("staging", parents["staging"], current, environments["staging"], "initial"),
        "prod": agents.create_stage("prod", parents["prod"], current, environments["prod"], "initial"),
    }


def pipeline_config(
    stages: Mapping[str, StageAgent],
    *,
    gcp_conn_id: str,
    artifacts_base: str,
    poll_interval: float = 1.0,
    targets: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A pipeline config (see dags/cx_pipeline_config.py) naming these agents."""
    return {
        "gcp_conn_id": gcp_conn_id,
        "artifacts_base": artifacts_base,
        "stages": {name: {"agent": stage.agent, "environment": stage.environment} for name, stage in stages.items()},
        "poll_interval": poll_interval,
        "release": {"smoke_test": SMOKE_TEST},
        "targets": targets
        or [
            {"key": name, "agent": stage.agent, "environments": [stage.environment]}
            for name, stage in stages.items()
            if name != "dev"
        ],
        "validation": {"schedule": None},
        "backup": {"schedule": None, "keep_last": 3},
    }


def emulator_connection(address: str) -> dict[str, Any]:
    """An Airflow connection (for ``AirflowStack(connections=...)``) that sends every CX call to the emulator."""
    return {"conn_type": "dialogflow_cx", "extra": {"emulator_host": address}}
