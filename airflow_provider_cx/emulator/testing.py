"""Pytest plugin: emulator fixtures (enable with ``pytest_plugins = ["airflow_provider_cx.emulator.testing"]``).

- ``cx_emulator``: one emulator for the whole test session (in memory, operations finish after
  0.05 s). Tests share it, so they create agents with unique names and leave faults off.
- ``cx_emulator_factory``: starts dedicated emulators (``factory(data_dir=…, faults=…)``), stopped
  at the end of the test — for tests that inject faults, restart, or use TLS.
- ``cx_client``: ``cx_client(AgentsClient)`` builds a stock client connected to ``cx_emulator``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_cx.emulator.server import EmulatorServer

TEST_OPERATION_DELAY = 0.05


@pytest.fixture(scope="session")
def cx_emulator() -> Iterator[EmulatorServer]:
    from airflow_provider_cx.emulator.server import EmulatorServer

    server = EmulatorServer(operation_delay=TEST_OPERATION_DELAY).start()
    try:
        yield server
    finally:
        server.stop(grace=None)


@pytest.fixture
def cx_emulator_factory() -> Iterator[Callable[..., EmulatorServer]]:
    from airflow_provider_cx.emulator.server import EmulatorServer

    started: list[EmulatorServer] = []

    def start(**kwargs: Any) -> EmulatorServer:
        kwargs.setdefault("operation_delay", TEST_OPERATION_DELAY)
        server = EmulatorServer(**kwargs).start()
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop(grace=None)


@pytest.fixture
def cx_client(cx_emulator: EmulatorServer) -> Callable[[type], Any]:
    return cx_emulator.client


# --- helpers for tests that talk to an emulator ------------------------------------------------------
TEST_PARENT = "projects/test-project/locations/global"


def unique_name(prefix: str) -> str:
    """A display name no other test uses (tests share one emulator)."""
    import uuid

    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_test_agent(agents_client: Any, display_name: str | None = None, parent: str = TEST_PARENT) -> Any:
    """Create an agent through the stock client (language en, time zone UTC)."""
    from google.cloud import dialogflowcx_v3 as cx

    agent = cx.Agent(display_name=display_name or unique_name("agent"), default_language_code="en", time_zone="UTC")
    return agents_client.create_agent(parent=parent, agent=agent)


def package_bytes(source: str | Path) -> bytes:
    """An agent export as zip bytes: a zip file as it is, a folder zipped file by file, unchanged."""
    import io
    import zipfile

    source = Path(source)
    if source.is_file():
        return source.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                archive.writestr(path.relative_to(source).as_posix(), path.read_bytes())
    return buffer.getvalue()


def zip_files_as_json(content: bytes) -> dict[str, Any]:
    """Files of a package zip relative to the folder holding agent.json, JSON parsed; OS litter dropped."""
    import io
    import json
    import zipfile
    from pathlib import PurePosixPath

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        raw = {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
    raw = {p: b for p, b in raw.items() if "__MACOSX" not in p and not PurePosixPath(p).name.startswith(".")}
    root = min((p for p in raw if PurePosixPath(p).name == "agent.json"), key=len)[: -len("agent.json")]
    return {
        p[len(root) :]: json.loads(b.decode("utf-8-sig")) if p.endswith(".json") else b
        for p, b in raw.items()
        if p.startswith(root)
    }


def wait_for(operation: Any, timeout: float = 30.0) -> Any:
    """``operation.result()`` polling every few tens of milliseconds instead of the client's 1 s+ backoff."""
    from google.api_core.future.polling import DEFAULT_POLLING

    polling = DEFAULT_POLLING.with_delay(initial=0.02, maximum=0.2, multiplier=1.5).with_timeout(timeout)
    return operation.result(polling=polling)
