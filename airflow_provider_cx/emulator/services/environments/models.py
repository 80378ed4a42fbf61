"""Environments as the emulator keeps them: the behaviour behind the Environments and Deployments services.

An environment pins flows to versions (``version_configs``); flows it does not pin are served from
the draft. Every flow reachable from the start flow must be pinned, as the API documents. Each
committed change appends the environment as it then was to its history. A deployment runs the
environment's pre-deployment test cases (when enabled) against what the deployment would make,
and commits only if they pass; a continuous test runs the listed test cases on demand.

State per agent: ``extras["environments"][<id>]`` = ``{"created", "environment", "history",
"deployments", "continuousTestResults"}`` (Environment, Deployment and ContinuousTestResult as
proto JSON, oldest first). The Environment proto is the model's value type; turning requests into
calls here and answers into responses is :mod:`.responses`' job.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from google.cloud.dialogflowcx_v3.types import deployment as deployment_types
from google.cloud.dialogflowcx_v3.types import environment as env_types
from google.protobuf import field_mask_pb2, json_format

from airflow_provider_cx.emulator import snapshots
from airflow_provider_cx.emulator.backend import Backend
from airflow_provider_cx.emulator.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from airflow_provider_cx.emulator.names import parse
from airflow_provider_cx.emulator.services.test_cases import models as test_case_models
from airflow_provider_cx.emulator.snapshots import check_text, now
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package.lint.config import LintConfig
from airflow_provider_cx.package.lint.context import LintContext

Environment = env_types.Environment.pb()
ContinuousTestResult = env_types.ContinuousTestResult.pb()
Deployment = deployment_types.Deployment.pb()
JSON = Any
#: The lists each environment keeps, oldest first.
EnvironmentList = Literal["history", "deployments", "continuousTestResults"]


# --- stored state -----------------------------------------------------------------------------------
def environments(record: AgentRecord) -> dict[str, JSON]:
    return record.extra(snapshots.ENVIRONMENTS_KEY)


def environment_name(record: AgentRecord, env_id: str) -> str:
    return f"{record.name}/environments/{env_id}"


def environment_path(name: str) -> tuple[str, str]:
    """(agent name, environment id) of an environment name; INVALID_ARGUMENT if it is not one."""
    path = parse(name, ("environments",), "environment")
    return path.agent_name, path.segments[0][1]


def entry_of(record: AgentRecord, env_id: str) -> dict[str, JSON]:
    entry: dict[str, JSON] | None = environments(record).get(env_id)
    if entry is None:
        raise NotFound(f"environment {environment_name(record, env_id)} not found")
    return entry


def newest_first(record: AgentRecord, env_id: str, key: EnvironmentList) -> list[JSON]:
    """An environment's stored ``key`` list, newest first (it is stored oldest first); a new list."""
    stored: list[JSON] = entry_of(record, env_id)[key]
    return stored[::-1]


def environment_message(record: AgentRecord, env_id: str, data: dict[str, JSON] | None = None) -> Any:
    message = Environment()
    json_format.ParseDict(data if data is not None else entry_of(record, env_id)["environment"], message)
    message.name = environment_name(record, env_id)
    return message


def as_json(message: Any) -> dict[str, JSON]:
    data = json_format.MessageToDict(message)
    data.pop("name", None)
    return data


def commit(record: AgentRecord, env_id: str, message: Any) -> Any:
    """Store ``message`` as the environment's state, stamped now, and append it to the history."""
    message.update_time.CopyFrom(now())
    message.name = environment_name(record, env_id)
    entry = environments(record).setdefault(
        env_id, {"created": time.time(), "history": [], "deployments": [], "continuousTestResults": []}
    )
    entry["environment"] = as_json(message)
    entry["history"].append(entry["environment"])
    return message


# --- validation ---------------------------------------------------------------------------------------
def validate(record: AgentRecord, message: Any, env_id: str | None) -> None:
    """Refuse an environment the API would refuse; names the offending field and resource."""
    what = f"environment {environment_name(record, env_id)}" if env_id else f"new environment of {record.name}"
    check_text(what, message.display_name, message.description)
    for other_id, other in environments(record).items():
        if other_id != env_id and other["environment"].get("displayName", "").strip() == message.display_name.strip():
            raise AlreadyExists(f"an environment named {message.display_name!r} already exists in {record.name}")
    _check_version_configs(record, message, what)
    _check_test_cases(record, message, what)
    _check_webhooks(record, message, what)


def _check_version_configs(record: AgentRecord, message: Any, what: str) -> None:
    pinned: dict[str, str] = {}
    for config in message.version_configs:
        name = config.version
        if "/playbooks/" in name or "/tools/" in name:
            raise InvalidArgument(f"{what}: version {name!r} is a playbook or tool version; the emulator pins flows")
        path = snapshots.version_path(name)
        if path.agent_name != record.name:
            raise InvalidArgument(f"{what}: version {name} belongs to another agent than {record.name}")
        flow_id, version_id = path.segments[0][1], path.segments[1][1]
        if flow_id in pinned:
            raise InvalidArgument(
                f"{what}: version_configs name two versions of flow {record.name}/flows/{flow_id} "
                f"({pinned[flow_id]} and {name}); give one version per flow"
            )
        snapshots.version_snapshot(record, flow_id, version_id)
        pinned[flow_id] = name
    missing = [flow for flow in _reachable_flows(record) if flow.id not in pinned]
    if missing:
        names = ", ".join(f"{f.display_name!r} ({record.name}/flows/{f.id})" for f in missing)
        raise InvalidArgument(
            f"{what}: version_configs must include a version of every flow reachable from the start flow; "
            f"missing {names}"
        )


def _reachable_flows(record: AgentRecord) -> list[Any]:
    reachable = LintContext(record.package, LintConfig()).reachable_flows
    if reachable is None:
        return []
    return [flow for flow in record.package.flows if id(flow) in reachable]


def _check_test_cases(record: AgentRecord, message: Any, what: str) -> None:
    known = {case.id for case in record.package.test_cases}
    for name in message.test_cases_config.test_cases:
        path = parse(name, ("testCases",), "test case")
        if path.agent_name != record.name:
            raise InvalidArgument(f"{what}: test case {name} belongs to another agent than {record.name}")
        if path.segments[0][1] not in known:
            raise NotFound(f"{what}: test case {name} not found")


def _check_webhooks(record: AgentRecord, message: Any, what: str) -> None:
    known = {hook.id for hook in record.package.webhooks}
    for hook in message.webhook_config.webhook_overrides:
        path = parse(hook.name, ("webhooks",), "webhook")
        if path.agent_name != record.name or path.segments[0][1] not in known:
            raise NotFound(f"{what}: webhook override names {hook.name!r}, which is not a webhook of {record.name}")


# --- test runs (the TestCases service runs them) -------------------------------------------------------
def run_test_cases(backend: Backend, agent: str, environment: str, test_cases: list[str]) -> list[tuple[str, bool]]:
    """(test case result name, passed) for each listed test case run in ``environment``; results are stored."""
    ids = [parse(name, ("testCases",), "test case").segments[0][1] for name in test_cases]
    results = test_case_models.run_and_store(backend, agent, ids, environment)
    return [(str(r["name"]), r.get("testResult") == "PASSED") for r in results]


# --- changes ----------------------------------------------------------------------------------------------
def create(record: AgentRecord, env_id: str, wanted: Any) -> Any:
    """Store a new environment (checked again: the agent may have changed since the request)."""
    validate(record, wanted, None)
    return commit(record, env_id, wanted)


def updated(record: AgentRecord, env_id: str, changes: Any, mask: field_mask_pb2.FieldMask) -> Any:
    """The environment with the masked fields of ``changes`` merged in, validated (nothing stored)."""
    message = environment_message(record, env_id)
    mask.MergeMessage(changes, message, replace_message_field=True, replace_repeated_field=True)
    validate(record, message, env_id)
    return message


def delete(record: AgentRecord, env_id: str) -> None:
    entry_of(record, env_id)
    del environments(record)[env_id]


def deployment_candidate(record: AgentRecord, env_id: str, flow_version: str) -> Any:
    """The environment as deploying ``flow_version`` would make it, validated (nothing stored)."""
    version = snapshots.version_path(flow_version)
    flow_id, version_id = version.segments[0][1], version.segments[1][1]
    message = environment_message(record, env_id)
    snapshots.version_snapshot(record, flow_id, version_id)
    others = [c for c in message.version_configs if snapshots.version_path(c.version).segments[0][1] != flow_id]
    message.ClearField("version_configs")
    message.version_configs.extend(others)
    message.version_configs.add(version=flow_version)
    validate(record, message, env_id)
    return message


def deploy(backend: Backend, agent: str, env_id: str, flow_version: str) -> tuple[Any, Any]:
    """Deploy ``flow_version``: run the pre-deployment tests on the candidate, commit if they pass.

    Returns (the environment as it now is, the Deployment recorded, SUCCEEDED or FAILED).
    """
    started = now()
    with backend.store.write(agent) as record:
        entry = entry_of(record, env_id)
        message = deployment_candidate(record, env_id, flow_version)
        config = message.test_cases_config
        results: list[tuple[str, bool]] = []
        if config.enable_predeployment_run and config.test_cases:
            with snapshots.candidate_environment(record, env_id, as_json(message)):
                results = run_test_cases(backend, agent, environment_name(record, env_id), list(config.test_cases))
        succeeded = all(passed for _, passed in results)
        message = commit(record, env_id, message) if succeeded else environment_message(record, env_id)
        deployment = Deployment(
            name=f"{environment_name(record, env_id)}/deployments/{uuid.uuid4()}",
            flow_version=flow_version,
            state="SUCCEEDED" if succeeded else "FAILED",
            start_time=started,
            end_time=now(),
        )
        deployment.result.deployment_test_results.extend(name for name, _ in results)
        entry["deployments"].append(json_format.MessageToDict(deployment))
    return message, deployment


def continuous_test_cases(backend: Backend, agent: str, env_id: str, environment: str) -> list[str]:
    """The test cases a continuous test of the environment runs; FAILED_PRECONDITION if it lists none."""
    with backend.store.read(agent) as record:
        test_cases = list(environment_message(record, env_id).test_cases_config.test_cases)
    if not test_cases:
        raise FailedPrecondition(f"environment {environment} lists no test cases in test_cases_config; nothing to run")
    return test_cases


def run_continuous_test(backend: Backend, agent: str, env_id: str, environment: str) -> Any:
    """Run the environment's listed test cases now; store and return the ContinuousTestResult."""
    run_time = now()
    results = run_test_cases(backend, agent, environment, continuous_test_cases(backend, agent, env_id, environment))
    result = ContinuousTestResult(
        name=f"{environment}/continuousTestResults/{uuid.uuid4()}",
        result="PASSED" if all(passed for _, passed in results) else "FAILED",
        test_case_results=[name for name, _ in results],
        run_time=run_time,
    )
    with backend.store.write(agent, content=False) as record:
        entry_of(record, env_id)["continuousTestResults"].append(json_format.MessageToDict(result))
    return result
