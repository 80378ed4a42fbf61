"""The scrapi tier: Google's dfcx-scrapi, unmodified, driving the emulator over gRPC.

scrapi speaks google.cloud.dialogflow.cx.v3beta1 and builds every client itself, from the
credentials it is given and ``client_options`` it computes from the resource name
(``dialogflow.googleapis.com:443`` or ``<region>-dialogflow.googleapis.com:443``). Two things are
redirected, nothing else:

- its channels: every GAPIC transport (and scrapi's own ``Operations.get_lro``) opens its channel
  through ``google.api_core.grpc_helpers.create_channel``; here that returns a channel to the
  emulator, and refuses any host other than the CX API, so a call that would leave the machine
  fails the test instead;
- its credentials: anonymous ones. scrapi's ``ScrapiBase.__init__`` calls ``creds.refresh()`` on
  whatever credentials it is handed (a needless token fetch for a caller that already holds valid
  credentials), and ``AnonymousCredentials.refresh`` refuses, so the anonymous credentials here
  accept a refresh and do nothing.

What else scrapi gets wrong, seen while writing this tier (none of it is worked around here):

- some of its tools ignore ``creds=``: ``tools.validation_util.ValidationUtil`` and
  ``tools.search_util.SearchUtil`` build their ``Agents``/``Flows``/``Pages`` from ``creds_path``
  and ``creds_dict`` only, so with ``creds=`` they fall back to ``google.auth.default()``;
  ``tools.gcs_utils.GcsUtils`` always uses ``storage.Client()`` with default credentials;
- it imports pandas (intents, test cases, conversation…) and IPython (sessions) without declaring
  them, hence the ``scrapi`` extra lists them;
- ``Environments.create_environment_by_display_name`` prints a line and sends an empty
  ``VersionConfig`` when a (flow, version id) pair matches nothing, instead of raising;
- importing it calls ``logging.basicConfig(level=INFO)`` on the root logger.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from google.api_core import grpc_helpers
from google.auth.credentials import AnonymousCredentials

from airflow_provider_cx.emulator.server import EmulatorServer
from airflow_provider_cx.emulator.testing import TEST_OPERATION_DELAY

CX_HOSTS = ("dialogflow.googleapis.com",)


class ScrapiAnonymousCredentials(AnonymousCredentials):  # type: ignore[misc]
    """Anonymous credentials that survive scrapi's unconditional ``refresh()``."""

    def refresh(self, request: Any) -> None:
        return None


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer(operation_delay=TEST_OPERATION_DELAY).start()
    try:
        yield server
    finally:
        server.stop(grace=None)


@pytest.fixture(scope="module")
def creds() -> ScrapiAnonymousCredentials:
    return ScrapiAnonymousCredentials()


@pytest.fixture(scope="module", autouse=True)
def scrapi_channels(emulator: EmulatorServer) -> Iterator[list[str]]:
    """Every channel scrapi opens goes to the emulator; yields the targets it asked for."""
    opened: list[str] = []
    real = grpc_helpers.create_channel

    def to_emulator(target: str, *args: Any, **kwargs: Any) -> Any:
        host = target.rsplit(":", 1)[0]
        if not host.endswith(CX_HOSTS):
            raise AssertionError(f"scrapi opened a channel to {target}, which is not the Dialogflow CX API")
        opened.append(target)
        return emulator.channel()

    grpc_helpers.create_channel = to_emulator
    try:
        yield opened
    finally:
        grpc_helpers.create_channel = real


@pytest.fixture(scope="module")
def wait_lro() -> Any:
    """``wait_lro(scrapi Operations, name)``: poll ``get_lro`` until done; an operation error fails."""
    return _wait_lro


def _wait_lro(operations: Any, name: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = operations.get_lro(name)
        if op.done:
            assert not op.HasField("error"), f"operation {name} failed: {op.error}"
            return op
        time.sleep(0.02)
    raise AssertionError(f"operation {name} not done after {timeout}s")
