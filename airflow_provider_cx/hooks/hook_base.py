"""What the sync and the async Dialogflow CX hooks share: parameters, connection settings, policies,
location and endpoint choice, and the per-process cache of clients and channels.

Clients and their shared channel are created on first use and cached per process id: a hook object
that crossed a ``fork()`` builds new ones in the child and never touches the parent's channel (whose
objects stay referenced, unused, so that garbage collection in the child cannot shut down the
parent's sockets). Nothing here imports grpc or the CX library.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from airflow.sdk import BaseHook

from airflow_provider_cx.hooks.credentials import ConnectionSettings
from airflow_provider_cx.hooks.endpoints import api_endpoint, check_location, parse_emulator_host, resolve_location
from airflow_provider_cx.hooks.errors import CXConnectionNotFoundError
from airflow_provider_cx.hooks.operations import DEFAULT_POLLING, PollingPolicy
from airflow_provider_cx.hooks.policy_settings import layered
from airflow_provider_cx.hooks.retry import DEFAULT_POLICY, RetryPolicy

T = TypeVar("T")

#: Guards the client caches; re-entrant, since building a client builds (or finds) its channel.
_CACHE_LOCK = threading.RLock()


def _new_lock_in_child() -> None:
    # A fork while another thread held the lock would leave the child's copy locked for ever.
    global _CACHE_LOCK
    _CACHE_LOCK = threading.RLock()


os.register_at_fork(after_in_child=_new_lock_in_child)


class DialogflowCXHookBase(BaseHook):
    """What both hooks share: parameters, connection settings, location and endpoint choice."""

    conn_name_attr = "gcp_conn_id"
    default_conn_name = "google_cloud_default"
    conn_type = "dialogflow_cx"
    hook_name = "Google Dialogflow CX"

    def __init__(
        self,
        gcp_conn_id: str = default_conn_name,
        location: str | None = None,
        impersonation_chain: str | Sequence[str] | None = None,
        retry_policy: RetryPolicy | Mapping[str, Any] | None = None,
        polling_policy: PollingPolicy | Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gcp_conn_id = gcp_conn_id
        self.location = check_location(location) if location else None
        self.impersonation_chain = impersonation_chain
        # Checked now (ValueError naming the field), applied over the connection's extras on first use.
        layered(DEFAULT_POLICY, retry_policy)
        layered(DEFAULT_POLLING, polling_policy)
        self._retry_choice = retry_policy
        self._polling_choice = polling_policy
        # {pid: {key: client or channel}}; see the module docstring for why old pids are kept.
        self._per_process: dict[int, dict[tuple[Any, ...], Any]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Channels cannot be pickled or deep-copied; a copy builds its own on first use.
        state = self.__dict__.copy()
        state["_per_process"] = {}
        return state

    def _settings_from(self, extras: dict[str, Any]) -> ConnectionSettings:
        settings = ConnectionSettings.from_extras(self.gcp_conn_id, extras)
        if settings.emulator_host:
            parse_emulator_host(settings.emulator_host)
        if settings.location:
            check_location(settings.location)
        return settings

    def _not_found(self) -> CXConnectionNotFoundError:
        env = "AIRFLOW_CONN_" + self.gcp_conn_id.upper()
        return CXConnectionNotFoundError(
            f"Airflow connection {self.gcp_conn_id!r} does not exist; create it (type google_cloud_platform "
            f"or dialogflow_cx) or set {env}, or pass gcp_conn_id= of an existing connection"
        )

    def _retry_policy_for(self, settings: ConnectionSettings | None) -> RetryPolicy:
        """The default policy, then the connection's extras, then what the caller passed."""
        connection = settings.retry_overrides if settings else None
        return layered(DEFAULT_POLICY, connection, self._retry_choice)

    def _polling_policy_for(self, settings: ConnectionSettings | None) -> PollingPolicy:
        connection = settings.polling_overrides if settings else None
        return layered(DEFAULT_POLLING, connection, self._polling_choice)

    def _location_for(self, settings: ConnectionSettings, resource_name: str | None, location: str | None) -> str:
        return resolve_location(resource_name, location or self.location, default=settings.location)

    @staticmethod
    def _endpoint_for(settings: ConnectionSettings, location: str) -> str:
        return settings.emulator_host or api_endpoint(location)

    def _cached(self, key: tuple[Any, ...], factory: Callable[[], T]) -> T:
        # Under a lock: threads of one task (flows versioned at once, utterances sent at once) share
        # one client and channel instead of racing to build several.
        with _CACHE_LOCK:
            cache = self._per_process.setdefault(os.getpid(), {})
            if key not in cache:
                cache[key] = factory()
            return cast(T, cache[key])


def provider_version() -> str:
    """The provider's version, for the clients' user agent."""
    from airflow_provider_cx import __version__

    return __version__
