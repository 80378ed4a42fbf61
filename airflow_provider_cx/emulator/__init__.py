"""A local Dialogflow CX emulator: a real gRPC server for ``google.cloud.dialogflow.cx.v3``.

Run it with ``cx-emulator --port 0 [--data-dir DIR] [--tls-cert F --tls-key F] [--faults SPEC]``
(or ``python -m airflow_provider_cx.emulator``), in process with ``EmulatorServer(...).start()``,
or in tests through the pytest plugin ``airflow_provider_cx.emulator.testing``. The stock
google-cloud-dialogflow-cx clients are its clients (``server.client(cx.AgentsClient)``).

Architecture (requests flow one way: gRPC -> servicer -> model/store; nothing below imports above)::

    server.py       EmulatorServer: grpc.server + thread pool, port (TLS optional), lifecycle
    rpc.py          Service base class and @rpc; generic handlers that count calls, inject faults
                    and turn ServiceError subclasses (errors.py) into status codes
    services/       the wire side, one module (or package) per API service: agents, flows, pages,
                    intents, entity_types, transition_route_groups, webhooks, versions,
                    environments, deployments, sessions, operations (google.longrunning) …
                    A service with much behaviour is a package split the way moto splits one:
                    ``models.py`` decides (state and rules, package JSON in and out) and
                    ``responses.py`` translates protos to model calls and back (test_cases/).
    operations.py   OperationManager: long-running operations and their worker (no wire code)
    admin.py        JSON-over-gRPC admin service on the same port: call counts, callers, faults
    backend.py      what services share: the store, operations, faults, call records, offline GCS,
                    the environment resolver hook
    store.py        AgentStore: every agent held as an AgentPackage (the JSON_PACKAGE export model)
    convert.py      package JSON <-> protos: display-name references <-> resource names, update
                    merges that keep every field the proto does not know
    resources.py    CRUD of resources inside a package (per-language parts, renames, deletes);
                    services/crud.py serves it as List/Get/Create/Update/Delete RPCs
    validation.py   ValidateAgent/ValidateFlow = the package lint's findings as ValidationMessages
    persistence.py  --data-dir: one zip per agent, one file per operation (+ one per large
                    result), atomic writes; paths only from validated ids
    files.py        atomic writes and the removal of stale temp files at start
    names.py        resource names: parsing, and the check every RPC runs on its name fields
    runtime/        the conversation engine (Sessions, test-case runs) — a separate package

State is the agent package itself, so ExportAgent (JSON_PACKAGE) is ``write_zip`` of the stored
package and RestoreAgent is ``read_package``: restore then export is lossless, and an API Get then
Update of any resource leaves the export unchanged.

Adding a service: create ``services/<name>.py`` with a ``Service`` subclass that sets ``SERVICE``
(the full proto service name, e.g. ``google.cloud.dialogflow.cx.v3.Versions``) and decorates one
method per RPC with ``@rpc(RequestType, ResponseType)`` (proto-plus or protobuf classes); list the
class in a module-level ``SERVICES``. The server discovers the module; nothing else to register.
Methods get the raw protobuf request and return the raw protobuf response. Inside them:

- ``self.backend.store.read(agent_name)`` / ``.write(agent_name)``: context managers holding that
  agent's lock (other agents go on meanwhile) and yielding the ``AgentRecord`` (``.package``,
  ``.extra(key)`` for the service's own JSON state, ``.snapshots`` for packages it keeps);
  changes made under ``write`` are persisted.
- raise ``errors.NotFound`` / ``InvalidArgument`` / ``AlreadyExists`` / ``FailedPrecondition`` with
  a message naming the resource; ``names.parse`` checks and splits resource names;
  ``rpc.paginate`` pages lists.
- ``self.backend.start_operation(project, location, work, key=agent_name)`` for long-running
  methods: validate first, then return the operation; ``work()`` runs later (parse and persist
  there, not in the handler) and returns the response message. Operations of one ``key`` run in
  order, of different keys concurrently.
- ``self.backend.register_environment_resolver(fn)`` makes ExportAgent's ``environment`` work:
  ``fn(record, environment_name) -> AgentPackage`` (the flow versions that environment serves).

Cloud Storage: ``gs://bucket/path`` means the file ``<data-dir>/gcs/bucket/path`` (a temporary
directory when the emulator runs without ``--data-dir``), so exports to and restores from GCS work
offline and tests can look at the files.

Callers: each call records its peer, ``user-agent``, ``x-goog-api-client`` and, if the client sends
it, the ``x-cx-caller-pid`` metadata (``calls.CALLER_PID_METADATA``); the admin interface returns them.
"""

from __future__ import annotations

__all__ = ["EmulatorServer"]


def __getattr__(name: str) -> object:
    # Importing the package must stay cheap (no grpc) until the server is actually wanted.
    if name == "EmulatorServer":
        from airflow_provider_cx.emulator.server import EmulatorServer

        return EmulatorServer
    raise AttributeError(name)
