"""The gRPC server: binds a port, installs every servicer, and starts/stops with the backend."""

from __future__ import annotations

import logging
from concurrent import futures
from pathlib import Path
from typing import Any, TypeVar

import grpc

from airflow_provider_cx.emulator.admin import AdminClient, AdminService
from airflow_provider_cx.emulator.api_surface import other_version_handlers
from airflow_provider_cx.emulator.backend import Backend
from airflow_provider_cx.emulator.faults import FaultPlan
from airflow_provider_cx.emulator.rpc import Service, generic_handler
from airflow_provider_cx.emulator.services import discover

log = logging.getLogger(__name__)
C = TypeVar("C")
CORE_SERVICES: list[type[Service]] = [AdminService]


class EmulatorServer:
    """A running (after :meth:`start`) Dialogflow CX emulator.

    ``port=0`` picks a free port; :attr:`address` tells which. ``operation_delay`` is how long a
    long-running operation stays pending. ``faults`` is a fault plan (see ``faults.py``).
    ``extra_services`` adds servicer classes besides the discovered ones.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        data_dir: str | Path | None = None,
        operation_delay: float = 0.5,
        faults: FaultPlan | str | dict[str, Any] | None = None,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        max_workers: int = 32,
        extra_services: list[type[Service]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.operation_delay = operation_delay
        self.fault_plan = faults if isinstance(faults, FaultPlan) else FaultPlan.parse(faults)
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("TLS needs both a certificate and a key (tls_cert and tls_key)")
        self.tls_cert = Path(tls_cert) if tls_cert else None
        self.tls_key = Path(tls_key) if tls_key else None
        self.max_workers = max_workers
        self.service_classes = [*CORE_SERVICES, *discover(), *(extra_services or [])]
        self.backend: Backend | None = None
        self.services: dict[str, Service] = {}
        self._server: grpc.Server | None = None
        self._persistence: Any = None

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> EmulatorServer:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        gcs_root = self.data_dir / "gcs" if self.data_dir is not None else None
        results_dir = self.data_dir / "operations" if self.data_dir is not None else None
        self.backend = Backend(self.operation_delay, self.fault_plan, gcs_root, results_dir)
        try:
            if self.data_dir is not None:
                from airflow_provider_cx.emulator.persistence import DataDir

                self._persistence = DataDir(self.data_dir)
                self._persistence.attach(self.backend)
            self._serve()
        except BaseException:
            self.backend.close()
            if self._persistence is not None:
                self._persistence.close()
                self._persistence = None
            raise
        log.info("cx emulator listening on %s", self.address)
        return self

    def _serve(self) -> None:
        assert self.backend is not None
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="cx-emulator"),
            options=[
                ("grpc.max_receive_message_length", 256 << 20),
                ("grpc.max_send_message_length", 256 << 20),
                # grpc sets SO_REUSEPORT by default: a second emulator would then bind a port another
                # one holds and both would answer. Without it a port in use is a bind error.
                ("grpc.so_reuseport", 0),
            ],
        )
        self.services = {}
        for cls in self.service_classes:
            if cls.SERVICE in self.services:
                raise RuntimeError(f"two servicers claim {cls.SERVICE}: {type(self.services[cls.SERVICE])} and {cls}")
            self.services[cls.SERVICE] = cls(self.backend)
        server.add_generic_rpc_handlers([generic_handler(s) for s in self.services.values()])
        server.add_generic_rpc_handlers(other_version_handlers(self.services.values()))
        target = f"{self.host}:{self.port}"
        try:
            if self.tls_cert is not None and self.tls_key is not None:
                creds = grpc.ssl_server_credentials([(self.tls_key.read_bytes(), self.tls_cert.read_bytes())])
                bound = server.add_secure_port(target, creds)
            else:
                bound = server.add_insecure_port(target)
        except RuntimeError:
            bound = 0
        if not bound or (self.port and bound != self.port):
            server.stop(None)
            raise OSError(f"cannot bind the emulator to {target}: the port is in use or the address is not local")
        self.port = bound
        server.start()
        self._server = server

    def stop(self, grace: float | None = 1.0) -> None:
        if self._server is None:
            return
        self._server.stop(grace).wait(timeout=(grace or 0) + 5)
        self._server = None
        if self.backend is not None:
            self.backend.close()
        if self._persistence is not None:
            self._persistence.close()
            self._persistence = None

    def wait(self) -> None:
        if self._server is not None:
            self._server.wait_for_termination()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- clients --------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def secure(self) -> bool:
        return self.tls_cert is not None

    def channel(self) -> grpc.Channel:
        """A new channel to this server (TLS trusting the server's own certificate when secure).

        Each channel gets its own connection (a local subchannel pool), the way separate client
        processes would, instead of grpc's default of sharing one connection per target.
        """
        options = [("grpc.use_local_subchannel_pool", 1)]
        if self.tls_cert is not None:
            creds = grpc.ssl_channel_credentials(self.tls_cert.read_bytes())
            return grpc.secure_channel(self.address, creds, options=options)
        return grpc.insecure_channel(self.address, options=options)

    def admin(self) -> AdminClient:
        """A client of the admin interface (call counts, callers, faults) over a new channel."""
        return AdminClient(self.channel())

    def client(self, client_cls: type[C]) -> C:
        """A stock google-cloud-dialogflow-cx client (e.g. ``AgentsClient``) talking to this server."""
        transport_cls = client_cls.get_transport_class("grpc")  # type: ignore[attr-defined]
        return client_cls(transport=transport_cls(channel=self.channel()))  # type: ignore[call-arg]
