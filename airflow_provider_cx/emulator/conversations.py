"""What Sessions and TestCases share: one conversation engine per agent revision, and session state.

Building an :class:`~airflow_provider_cx.emulator.runtime.Engine` (indexes of intents, entities and
pages) costs far more than a turn, so engines are cached per (agent, environment, flow-version
overrides) and rebuilt only when the agent's ``revision`` moves (every content write bumps it). An
engine runs on a private copy of the package, so a turn never sees an agent half-way through an
update and needs no lock.

Session state is kept per session resource name in a bounded LRU; a session idle longer than CX's
default session TTL (30 minutes) starts over, as on the real service.
"""

from __future__ import annotations

import copy
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from google.cloud.dialogflowcx_v3.types import webhook as webhook_types
from google.protobuf import json_format

from airflow_provider_cx.emulator import snapshots
from airflow_provider_cx.emulator.convert import References, from_message
from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.emulator.names import parse
from airflow_provider_cx.emulator.runtime import Engine, SessionState
from airflow_provider_cx.package import AgentPackage

if TYPE_CHECKING:
    from airflow_provider_cx.emulator.backend import Backend
    from airflow_provider_cx.emulator.store import AgentRecord

_Webhook = webhook_types.Webhook.pb()
MAX_ENGINES = 64
MAX_SESSIONS = 10_000
SESSION_TTL_SECONDS = 30 * 60


@dataclass
class Session:
    """One conversation's state; ``lock`` serialises turns of the same session."""

    state: SessionState = field(default_factory=SessionState)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)


@dataclass
class _CachedEngine:
    record: weakref.ReferenceType[AgentRecord]
    revision: int
    engine: Engine


class Conversations:
    """Engine cache and session store of one emulator backend (see :func:`conversations_of`)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = weakref.ref(backend)
        self._lock = threading.Lock()
        self._engines: OrderedDict[tuple[str, str, tuple[str, ...]], _CachedEngine] = OrderedDict()
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    @property
    def backend(self) -> Backend:
        backend = self._backend()
        if backend is None:  # pragma: no cover - the backend outlives its services
            raise RuntimeError("the emulator backend is gone")
        return backend

    # --- engines ----------------------------------------------------------------------------------
    def engine(self, agent_name: str, environment: str = "", flow_versions: Sequence[str] = ()) -> Engine:
        """The engine for the draft agent, or for an environment (its pinned flow versions).

        ``flow_versions`` (version resource names) override the flows they belong to, as
        ``QueryParameters.flow_versions`` does.
        """
        key = (agent_name, environment, tuple(flow_versions))
        store = self.backend.store
        with store.read(agent_name) as record:
            revision = record.revision
            with self._lock:
                cached = self._engines.get(key)
                if cached is not None and cached.record() is record and cached.revision == revision:
                    self._engines.move_to_end(key)
                    return cached.engine
            # Build under the agent's lock: the copy and the pinned versions must belong to one revision.
            package = environment_package(record, environment) if environment else runtime_copy(record.package)
            overlay_versions(record, package, flow_versions)
            engine = Engine(package)
        engine.index.warm()
        with self._lock:
            self._engines[key] = _CachedEngine(weakref.ref(record), revision, engine)
            self._engines.move_to_end(key)
            while len(self._engines) > MAX_ENGINES:
                self._engines.popitem(last=False)
        return engine

    # --- sessions ---------------------------------------------------------------------------------
    def session(self, name: str) -> Session:
        """The session called ``name`` (a fresh one if unknown or idle past the TTL)."""
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(name)
            if session is None or now - session.last_used > SESSION_TTL_SECONDS:
                session = Session()
                self._sessions[name] = session
            session.last_used = now
            self._sessions.move_to_end(name)
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
            return session

    def session_count(self) -> int:
        with self._lock:
            return len(self._sessions)


def runtime_copy(package: AgentPackage) -> AgentPackage:
    """A private copy of what a conversation reads (test cases left out: they can be many and big)."""
    collections = {k: copy.deepcopy(v) for k, v in package.collections.items() if k != "testCases"}
    return AgentPackage(copy.deepcopy(package.agent), collections)


_BY_BACKEND: weakref.WeakKeyDictionary[Backend, Conversations] = weakref.WeakKeyDictionary()
_BY_BACKEND_LOCK = threading.Lock()


def conversations_of(backend: Backend) -> Conversations:
    """The :class:`Conversations` of ``backend`` (created on first use, shared by all services)."""
    with _BY_BACKEND_LOCK:
        found = _BY_BACKEND.get(backend)
        if found is None:
            found = _BY_BACKEND[backend] = Conversations(backend)
        return found


# --- environments and flow versions (kept by the versions/environments services) ----------------------------
def environment_package(record: AgentRecord, environment: str) -> AgentPackage:
    """A copy of what the environment serves: the draft with its pinned flow versions laid over it,
    and its ``webhook_config.webhook_overrides`` in place of the agent's webhooks of the same name.
    """
    path = parse(environment, ("environments",), "environment")
    if path.agent_name != record.name:
        raise InvalidArgument(f"environment {environment} does not belong to agent {record.name}")
    env_id = path.segments[0][1]
    package = snapshots.environment_package(record, env_id)
    override_webhooks(record, package, snapshots.environment_state(record, env_id))
    return package


def override_webhooks(record: AgentRecord, package: AgentPackage, environment: dict[str, Any]) -> None:
    """Lay an environment's webhook overrides (Environment JSON) over ``package``'s webhooks.

    An override names the webhook it replaces; everything it sets but the name and display name
    (the URI, headers, timeout, service directory, disabled) replaces the webhook's, so every
    conversation on the environment calls the override's endpoint instead of the agent's.
    """
    overrides = (environment.get("webhookConfig") or {}).get("webhookOverrides") or []
    if not overrides:
        return
    refs = References(record)
    by_id = {hook.id: hook for hook in package.webhooks}
    for override in overrides:
        message = json_format.ParseDict(override, _Webhook(), ignore_unknown_fields=True)
        target = by_id.get(message.name.rsplit("/", 1)[-1])
        if target is None:  # validated when the environment was saved; the webhook was deleted since
            continue
        data = from_message(message, refs)
        data.pop("displayName", None)
        target.data = {**target.data, **data}


def overlay_versions(record: AgentRecord, package: AgentPackage, versions: Sequence[str]) -> None:
    """Serve the given flow versions (``QueryParameters.flow_versions``) instead of what ``package`` has."""
    if not versions:
        return
    seen: set[str] = set()
    for version in versions:
        path = parse(version, ("flows", "versions"), "flow version")
        if path.agent_name != record.name:
            raise InvalidArgument(f"flow version {version} does not belong to agent {record.name}")
        flow_id, version_id = path.segments[0][1], path.segments[1][1]
        if flow_id in seen:
            raise InvalidArgument(f"flow_versions names two versions of flow {flow_id}; give at most one per flow")
        seen.add(flow_id)
        snapshot = snapshots.version_snapshot(record, flow_id, version_id)
        flows = package.flows
        flow = copy.deepcopy(snapshot.flows[0])
        index = next((i for i, f in enumerate(flows) if f.id == flow_id), None)
        if index is None:
            flows.append(flow)
        else:
            flows[index] = flow
        for collection in snapshots.AGENT_COLLECTIONS:
            for res in snapshot.resources(collection):
                snapshots.put_resource(package.resources(collection), res)
