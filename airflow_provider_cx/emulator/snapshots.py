"""Flow versions as stored snapshots, and what an environment serves: the model behind Versions.

The Versions service (``services/versions.py``) translates requests and protos and calls the
functions here, which capture, add, rename, delete, load and compare versions.

A flow version is an immutable copy of one flow (its pages and flow-level route groups) and of the
agent-level resources it refers to (intents, entity types, webhooks, agent route groups), kept as an
:class:`AgentPackage` in ``record.snapshots`` so it is persisted with the agent. An environment pins
flows to versions; flows it does not pin are served from the draft.

State on an :class:`AgentRecord` (JSON in ``extras``, packages in ``snapshots``)::

    extras["versions"][<flow id>] = {"nextId": 3, "versions": {"1": {<Version JSON>}, "2": {...}}}
    snapshots["versions/<flow id>/<version id>"] = the version's package
    extras["environments"][<environment id>]["environment"]["versionConfigs"] = [{"version": <name>}, ...]

The environments service owns the rest of an environment's state; this module only reads the pins.
"""

from __future__ import annotations

import contextvars
import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from google.protobuf import timestamp_pb2

from airflow_provider_cx.emulator.errors import FailedPrecondition, InvalidArgument, NotFound
from airflow_provider_cx.emulator.names import ResourcePath, parse
from airflow_provider_cx.emulator.store import AgentRecord
from airflow_provider_cx.package import AgentPackage, Flow, Resource, new_id

if TYPE_CHECKING:
    from airflow_provider_cx.emulator.backend import Backend

JSON = Any
MAX_DISPLAY_NAME = 64
MAX_DESCRIPTION = 500
VERSIONS_KEY = "versions"
ENVIRONMENTS_KEY = "environments"
# Agent-level collections a version carries, in the order an overlay applies them.
AGENT_COLLECTIONS = ("intents", "entityTypes", "webhooks", "transitionRouteGroups")


# --- capturing a version ----------------------------------------------------------------------------
def capture_flow(package: AgentPackage, flow: Flow) -> AgentPackage:
    """A deep copy of ``flow`` and of every agent-level resource it refers to, as a package of its own."""
    groups = _referenced_agent_groups(package, flow)
    bodies = [*_flow_bodies(flow), *(g.data for g in groups)]
    intents = _named(package.intents, _values(bodies, "intent"))
    entity_names = _values(bodies, "entityType") | _values([i.data for i in intents], "entityType")
    entity_types = _named(package.entity_types, {n[1:] for n in entity_names if n.startswith("@")})
    webhooks = _named(package.webhooks, _values(bodies, "webhook"))
    collections: dict[str, list[Resource]] = {
        "flows": [flow],
        "intents": intents,
        "entityTypes": entity_types,
        "webhooks": webhooks,
        "transitionRouteGroups": groups,
    }
    snapshot = AgentPackage(agent=package.agent, collections={k: v for k, v in collections.items() if v})
    return snapshot.copy()


def _flow_bodies(flow: Flow) -> list[dict[str, JSON]]:
    return [flow.data, *(p.data for p in flow.pages), *(g.data for g in flow.route_groups)]


def _referenced_agent_groups(package: AgentPackage, flow: Flow) -> list[Resource]:
    own = {g.display_name.strip() for g in flow.route_groups}
    wanted = {n.strip() for n in _values(_flow_bodies(flow), "transitionRouteGroups")} - own
    return _named(package.route_groups, wanted)


def _named(items: list[Resource], names: set[str]) -> list[Resource]:
    stripped = {n.strip() for n in names}
    return [res for res in items if res.display_name.strip() in stripped]


def _values(bodies: list[dict[str, JSON]], key: str) -> set[str]:
    """Every string (or string in a list) stored under ``key`` anywhere in ``bodies``."""
    found: set[str] = set()
    for body in bodies:
        for value in _walk(body, key):
            if isinstance(value, str) and value:
                found.add(value)
            elif isinstance(value, list):
                found.update(v for v in value if isinstance(v, str) and v)
    return found


def _walk(obj: JSON, key: str) -> Iterator[JSON]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                yield v
            yield from _walk(v, key)
    elif isinstance(obj, list):
        for item in obj:
            yield from _walk(item, key)


# --- stored versions -------------------------------------------------------------------------------
def snapshot_key(flow_id: str, version_id: str) -> str:
    return f"{VERSIONS_KEY}/{flow_id}/{version_id}"


def flow_versions(record: AgentRecord, flow_id: str) -> dict[str, JSON]:
    """``{"nextId": n, "versions": {id: Version JSON}}`` of one flow (created empty on first use)."""
    state: dict[str, JSON] = record.extra(VERSIONS_KEY).setdefault(flow_id, {"nextId": 1, "versions": {}})
    return state


def version_path(name: str) -> ResourcePath:
    """Parse ``…/flows/<flow>/versions/<version>``; INVALID_ARGUMENT for anything else."""
    return parse(name, ("flows", "versions"), "flow version")


def version_snapshot(record: AgentRecord, flow_id: str, version_id: str) -> AgentPackage:
    """The package of a stored version; NOT_FOUND naming the version when there is none."""
    stored = record.extras.get(VERSIONS_KEY, {}).get(flow_id, {}).get("versions", {})
    snapshot = record.snapshots.get(snapshot_key(flow_id, version_id))
    if version_id not in stored or snapshot is None:
        raise NotFound(f"flow version {record.name}/flows/{flow_id}/versions/{version_id} not found")
    return snapshot


def version_flow(record: AgentRecord, version_name: str) -> Flow:
    """The flow (pages and route groups included) a version name refers to. Do not mutate it."""
    path = version_path(version_name)
    if path.agent_name != record.name:
        raise InvalidArgument(f"flow version {version_name} does not belong to agent {record.name}")
    flow_id, version_id = path.segments[0][1], path.segments[1][1]
    return version_snapshot(record, flow_id, version_id).flows[0]


def version_ids_newest_first(record: AgentRecord, flow_id: str) -> list[str]:
    stored = record.extras.get(VERSIONS_KEY, {}).get(flow_id, {}).get("versions", {})
    return sorted(stored, key=int, reverse=True)


def add_version(record: AgentRecord, flow_id: str, stored: dict[str, JSON], captured: AgentPackage) -> str:
    """Commit a captured version of a flow with its Version JSON; returns its id (consecutive per flow)."""
    state = flow_versions(record, flow_id)
    version_id = str(state["nextId"])
    state["nextId"] += 1
    state["versions"][version_id] = stored
    record.snapshots[snapshot_key(flow_id, version_id)] = captured
    return version_id


def update_version_text(
    record: AgentRecord, flow_id: str, version_id: str, *, display_name: str | None, description: str | None
) -> None:
    """Change a version's display name and/or description (None leaves one as it is), within the API's limits."""
    version_snapshot(record, flow_id, version_id)
    stored = flow_versions(record, flow_id)["versions"][version_id]
    display = display_name if display_name is not None else stored.get("displayName", "")
    text = description if description is not None else stored.get("description", "")
    check_text(f"version {record.name}/flows/{flow_id}/versions/{version_id}", display, text)
    stored["displayName"], stored["description"] = display, text


def delete_version(record: AgentRecord, flow_id: str, version_id: str) -> None:
    """Delete a version no environment pins (FAILED_PRECONDITION naming them otherwise)."""
    version_snapshot(record, flow_id, version_id)
    using = environments_using(record, flow_id, version_id)
    if using:
        raise FailedPrecondition(
            f"flow version {record.name}/flows/{flow_id}/versions/{version_id} is used by environment(s) "
            f"{', '.join(using)}; point them at another version before deleting it"
        )
    del flow_versions(record, flow_id)["versions"][version_id]
    del record.snapshots[snapshot_key(flow_id, version_id)]


def now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def check_text(what: str, display_name: str, description: str) -> None:
    """The limits the API documents for display names and descriptions of versions and environments."""
    if not display_name.strip():
        raise InvalidArgument(f"{what}: display_name must be set")
    if len(display_name) > MAX_DISPLAY_NAME:
        raise InvalidArgument(f"{what}: display_name is {len(display_name)} characters; the limit is 64")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidArgument(f"{what}: description is {len(description)} characters; the limit is 500")


# --- environments ------------------------------------------------------------------------------------
def environment_id_of(record: AgentRecord, environment: str) -> str:
    """The id of an environment given by id or by full resource name (which must be of this agent)."""
    if "/" not in environment:
        return environment
    path = parse(environment, ("environments",), "environment")
    if path.agent_name != record.name:
        raise InvalidArgument(f"environment {environment} does not belong to agent {record.name}")
    return path.segments[0][1]


def environment_entry(record: AgentRecord, environment: str) -> dict[str, JSON]:
    env_id = environment_id_of(record, environment)
    entry: dict[str, JSON] | None = record.extras.get(ENVIRONMENTS_KEY, {}).get(env_id)
    if entry is None:
        raise NotFound(f"environment {record.name}/environments/{env_id} not found")
    return entry


# Environments as a deployment would make them, seen only by the thread running its pre-deployment tests.
_CANDIDATES: contextvars.ContextVar[dict[tuple[str, str], dict[str, JSON]] | None] = contextvars.ContextVar(
    "environment_candidates", default=None
)


@contextmanager
def candidate_environment(record: AgentRecord, env_id: str, environment: dict[str, JSON]) -> Iterator[None]:
    """Within the block, in this thread only, the environment serves ``environment`` (its JSON).

    Pre-deployment tests run against what the deployment would make while nothing of it is stored,
    so a crash half-way cannot leave the environment half-deployed. Call it holding the agent's
    write lock; the revision bumps make cached conversation engines rebuild on the way in and out.
    """
    token = _CANDIDATES.set({**(_CANDIDATES.get() or {}), (record.name, env_id): environment})
    record.revision += 1
    try:
        yield
    finally:
        _CANDIDATES.reset(token)
        record.revision += 1


def environment_state(record: AgentRecord, environment: str) -> dict[str, JSON]:
    """The Environment JSON an environment serves now (a deployment's candidate inside its tests)."""
    entry = environment_entry(record, environment)
    candidate = (_CANDIDATES.get() or {}).get((record.name, environment_id_of(record, environment)))
    return candidate if candidate is not None else entry["environment"]


def pinned_versions(record: AgentRecord, environment: str) -> dict[str, str]:
    """``{flow id: version id}`` an environment pins."""
    pins = {}
    for config in environment_state(record, environment).get("versionConfigs", []):
        path = version_path(config.get("version", ""))
        pins[path.segments[0][1]] = path.segments[1][1]
    return pins


def _pinned_snapshots(record: AgentRecord, environment: str) -> list[tuple[str, AgentPackage]]:
    """(flow id, version package) for every pin, in the draft's flow order, then flows gone from the draft."""
    pins = pinned_versions(record, environment)
    order = {flow.id: i for i, flow in enumerate(record.package.flows)}
    ordered = sorted(pins.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
    return [(flow_id, version_snapshot(record, flow_id, version_id)) for flow_id, version_id in ordered]


def environment_flows(record_or_backend: AgentRecord | Backend, agent_name: str, environment: str) -> dict[str, Flow]:
    """Flow display name -> the flow an environment serves: its pinned version, else the draft.

    ``environment`` is an environment id or full name. The flows returned are the stored objects:
    read them, never change them.
    """
    if isinstance(record_or_backend, AgentRecord):
        return _environment_flows(record_or_backend, environment)
    with record_or_backend.store.read(agent_name) as record:
        return _environment_flows(record, environment)


def _environment_flows(record: AgentRecord, environment: str) -> dict[str, Flow]:
    pinned = {flow_id: snap.flows[0] for flow_id, snap in _pinned_snapshots(record, environment)}
    flows: dict[str, Flow] = {}
    for flow in record.package.flows:
        served = pinned.pop(flow.id, flow)
        flows[served.display_name] = served
    for flow in pinned.values():
        flows.setdefault(flow.display_name, flow)
    return flows


def environment_package(record: AgentRecord, environment: str) -> AgentPackage:
    """The whole package an environment serves: the draft with its pinned flows and their resources.

    Agent-level resources a pinned version carries replace the draft's of the same display name
    (later flows win where two versions disagree); everything else comes from the draft.
    """
    package = record.package.copy()
    for flow_id, snapshot in _pinned_snapshots(record, environment):
        _put_flow(package, flow_id, snapshot.flows[0])
        for collection in AGENT_COLLECTIONS:
            for res in snapshot.resources(collection):
                put_resource(package.resources(collection), res)
    return package


def _put_flow(package: AgentPackage, flow_id: str, flow: Flow) -> None:
    flows = package.flows
    for i, current in enumerate(flows):
        if current.id == flow_id:
            flows[i] = copy.deepcopy(flow)
            return
    flows.append(copy.deepcopy(flow))


def put_resource(items: list[Resource], res: Resource) -> None:
    """Replace the item of the same display name with a copy of ``res``, or append one."""
    for i, current in enumerate(items):
        if current.display_name.strip() == res.display_name.strip():
            items[i] = copy.deepcopy(res)
            return
    items.append(copy.deepcopy(res))


def register(backend: Backend) -> None:
    """Make ExportAgent's ``environment`` export the package that environment serves."""
    backend.register_environment_resolver(environment_package)


# --- loading a version into the draft ---------------------------------------------------------------
def load_into_draft(package: AgentPackage, flow_id: str, snapshot: AgentPackage, allow_override: bool) -> None:
    """Make the draft flow ``flow_id`` what the version holds, as LoadVersion does.

    Agent-level resources the version carries are added when the draft lacks them; where the draft
    has a different resource of the same display name it is replaced only with ``allow_override``.
    Check first, then mutate: a refusal leaves the package as it was.
    """
    version = snapshot.flows[0]
    index = next((i for i, f in enumerate(package.flows) if f.id == flow_id), None)
    if index is None:
        raise NotFound(f"flow {flow_id} no longer exists in the draft; it cannot be loaded from a version")
    for other in package.flows:
        if other.id != flow_id and other.display_name.strip() == version.display_name.strip():
            raise FailedPrecondition(
                f"cannot load the version of flow {version.display_name!r}: another draft flow now has that name"
            )
    loaded = copy.deepcopy(version)
    loaded.stem = _free_stem(package.flows, version.stem, package.flows[index])
    package.flows[index] = loaded
    for collection in AGENT_COLLECTIONS:
        items = package.resources(collection)
        for res in snapshot.resources(collection):
            _load_resource(items, res, allow_override)


def _load_resource(items: list[Resource], res: Resource, allow_override: bool) -> None:
    current = next((r for r in items if r.display_name.strip() == res.display_name.strip()), None)
    if current is None:
        added = copy.deepcopy(res)
        if any(r.id == added.id for r in items):
            added.data["name"] = new_id()
        added.stem = _free_stem(items, added.stem, None)
        items.append(added)
    elif allow_override and (current.data, current.parts) != (res.data, res.parts):
        ident = current.data.get("name")
        current.data = copy.deepcopy(res.data)
        current.parts = copy.deepcopy(res.parts)
        if ident is not None:
            current.data["name"] = ident


def _free_stem(items: list[Any], stem: str, exclude: Resource | None) -> str:
    taken = {r.stem.lower() for r in items if r is not exclude}
    candidate, n = stem, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem}_{n}"
    return candidate


# --- comparing versions --------------------------------------------------------------------------------
def version_content(snapshot: AgentPackage, language: str) -> dict[str, JSON]:
    """What CompareVersions shows of a version: the flow, its pages and route groups, and the
    agent-level resources it carries, with training phrases and entities in ``language``."""
    flow = snapshot.flows[0]

    def bodies(items: list[Resource]) -> list[dict[str, JSON]]:
        return [res.data for res in sorted(items, key=lambda r: r.display_name)]

    def with_language(items: list[Resource], folder: str, key: str) -> list[dict[str, JSON]]:
        out = []
        for res in sorted(items, key=lambda r: r.display_name):
            part = res.parts.get(f"{folder}/{language}.json")
            values = part.get(key, []) if isinstance(part, dict) else []
            out.append({**res.data, key: values})
        return out

    return {
        "flow": flow.data,
        "pages": bodies(flow.pages),
        "transitionRouteGroups": bodies(flow.route_groups),
        "agentTransitionRouteGroups": bodies(snapshot.route_groups),
        "intents": with_language(snapshot.intents, "trainingPhrases", "trainingPhrases"),
        "entityTypes": with_language(snapshot.entity_types, "entities", "entities"),
        "webhooks": bodies(snapshot.webhooks),
    }


def environments_using(record: AgentRecord, flow_id: str, version_id: str) -> list[str]:
    """Names of the environments that pin this version."""
    using = []
    for env_id in record.extras.get(ENVIRONMENTS_KEY, {}):
        if pinned_versions(record, env_id).get(flow_id) == version_id:
            using.append(f"{record.name}/environments/{env_id}")
    return using
