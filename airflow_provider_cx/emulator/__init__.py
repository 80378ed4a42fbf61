"""A local Dialogflow CX emulator: a real gRPC server for ``google.cloud.dialogflow.cx.v3``.

Architecture (data flows one way: gRPC -> servicer -> store)::

    EmulatorServer (server.py)       grpc.server + thread pool; binds the port (TLS optional)
      └─ Service subclasses          one module per API service in services/ (agents.py, flows.py …)
           registered by rpc.generic_handler: call counting, fault injection, error -> status code
      └─ Backend (backend.py)        what services share:
           AgentStore (store.py)     agents held as AgentPackage (the JSON_PACKAGE export model)
           OperationManager          long-running operations finished on a background timer
           FaultInjector, CallRecorder, LocalGcs (gs:// -> files), environment resolver hook
      convert.py                     package JSON <-> protos: display-name refs <-> resource names,
                                     update merges that keep fields the proto does not know

State is the agent package itself, so ExportAgent (JSON_PACKAGE) is ``write_zip`` of the stored
package and RestoreAgent is ``read_package``: restore then export is lossless.

Adding a service: create ``services/<name>.py`` with a ``Service`` subclass that sets ``SERVICE``
(the full proto service name, e.g. ``google.cloud.dialogflow.cx.v3.Versions``) and decorates one
method per RPC with ``@rpc(RequestType, ResponseType)``; list the class in a module-level
``SERVICES``. The server discovers the module. Methods get raw protobuf requests and return raw
protobuf responses; they raise ``errors.NotFound`` / ``InvalidArgument`` / ``AlreadyExists`` /
``FailedPrecondition`` for failures, use ``self.backend.store.read(name)`` / ``.write(name)`` to
reach an agent, ``self.backend.start_operation(project, location, work)`` for long-running
methods, ``record.extra(key)`` / ``record.snapshots`` for their own persisted state, and
``self.backend.register_environment_resolver`` to serve ExportAgent's ``environment``.

Cloud Storage: ``gs://bucket/path`` means the file ``<data-dir>/gcs/bucket/path`` (a temporary
directory when the emulator runs without ``--data-dir``).
"""

from __future__ import annotations

__all__ = ["EmulatorServer"]


def __getattr__(name: str) -> object:
    # Importing the package must stay cheap (no grpc) until the server is actually wanted.
    if name == "EmulatorServer":
        from airflow_provider_cx.emulator.server import EmulatorServer

        return EmulatorServer
    raise AttributeError(name)
