"""Hostile and careless input to the emulator (issue 18): names, persistence paths, long work, admin input.

Each test asserts the clear error and that nothing was written outside the emulator's data dir.
Emulators here run on a data dir inside ``tmp_path`` next to a ``bystander`` folder; the
``untouched`` guard checks that nothing appears beside the data dir or in the bystander.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.emulator.admin import ADMIN_SERVICE
from airflow_provider_cx.emulator.persistence import DataDir, DataDirError
from airflow_provider_cx.emulator.testing import TEST_PARENT, create_test_agent, package_bytes, wait_for

JSON_PACKAGE = cx.ExportAgentRequest.DataFormat.JSON_PACKAGE


def all_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()


@contextmanager
def untouched(tmp_path: Path, data_dir: Path) -> Iterator[None]:
    """Nothing is created, changed or removed in ``tmp_path`` outside ``data_dir``."""
    bystander = tmp_path / "bystander"
    bystander.mkdir(exist_ok=True)
    (bystander / "keep.txt").write_text("keep")

    def outside() -> dict[str, int]:
        return {
            rel: (tmp_path / rel).stat().st_mtime_ns
            for rel in all_files(tmp_path)
            if not (tmp_path / rel).resolve().is_relative_to(data_dir.resolve())
        }

    before = outside()
    yield
    assert outside() == before


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def emulator(cx_emulator_factory: Any, data_dir: Path) -> Any:
    return cx_emulator_factory(data_dir=data_dir)


# --- names -------------------------------------------------------------------------------------------------
BAD_AGENT_NAMES = [
    pytest.param(f"{TEST_PARENT}/agents/a/", "ends with a slash", id="trailing-slash"),
    pytest.param(f"{TEST_PARENT}/agents/..", "'..' segment", id="dot-dot"),
    pytest.param(f"{TEST_PARENT}/agents/.", "'.' segment", id="dot"),
    pytest.param("projects/test-project/locations//agents/a", "empty segment", id="empty-segment"),
    pytest.param(f"{TEST_PARENT}/agents/a b", "characters a resource id cannot hold", id="whitespace"),
]


@pytest.mark.parametrize(("name", "problem"), BAD_AGENT_NAMES)
def test_malformed_agent_names_are_refused_naming_the_field(
    name: str, problem: str, emulator: Any, tmp_path: Path, data_dir: Path
) -> None:
    agents = emulator.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    before = all_files(data_dir)
    with untouched(tmp_path, data_dir):
        with pytest.raises(exceptions.InvalidArgument, match=f"name .*{problem}"):
            agents.get_agent(name=name)
        with pytest.raises(exceptions.InvalidArgument, match=f"name .*{problem}"):
            agents.export_agent(request=cx.ExportAgentRequest(name=name, agent_uri="gs://b/out.zip"))
        with pytest.raises(exceptions.InvalidArgument, match=f"name .*{problem}"):
            agents.restore_agent(request=cx.RestoreAgentRequest(name=name, agent_content=b"PK\x03\x04"))
        with pytest.raises(exceptions.InvalidArgument, match=f"parent .*{problem}"):
            emulator.client(cx.FlowsClient).list_flows(parent=name)
    assert all_files(data_dir) == before
    assert agents.get_agent(name=agent.name).name == agent.name


def test_a_trailing_slash_is_not_the_agent(emulator: Any) -> None:
    agents = emulator.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    with pytest.raises(exceptions.InvalidArgument, match=r"name .*ends with a slash"):
        agents.delete_agent(name=agent.name + "/")
    assert agents.get_agent(name=agent.name).name == agent.name


def test_create_agent_with_a_traversing_parent_persists_nothing(emulator: Any, tmp_path: Path, data_dir: Path) -> None:
    agents = emulator.client(cx.AgentsClient)
    agent = cx.Agent(display_name="escape", default_language_code="en", time_zone="UTC")
    with untouched(tmp_path, data_dir):
        with pytest.raises(exceptions.InvalidArgument, match=r"parent 'projects/\.\./locations/\.\.'.*'\.\.' segment"):
            agents.create_agent(parent="projects/../locations/..", agent=agent)
        with pytest.raises(exceptions.InvalidArgument, match=r"agent\.name .*'\.\.' segment"):
            agents.create_agent(parent=TEST_PARENT, agent=cx.Agent(name="projects/../x", display_name="escape"))
    assert not (data_dir / "agents").exists() or all_files(data_dir / "agents") == set()
    assert list(agents.list_agents(parent=TEST_PARENT)) == []


def test_names_in_lists_and_sessions_are_checked_too(emulator: Any) -> None:
    agents = emulator.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    test_cases = emulator.client(cx.TestCasesClient)
    with pytest.raises(exceptions.InvalidArgument, match=r"test_cases\[1\] .*'\.\.' segment"):
        test_cases.batch_run_test_cases(
            request={"parent": agent.name, "test_cases": [f"{agent.name}/testCases/a", f"{agent.name}/testCases/.."]}
        )
    sessions = emulator.client(cx.SessionsClient)
    query = cx.QueryInput(text=cx.TextInput(text="hi"), language_code="en")
    with pytest.raises(exceptions.InvalidArgument, match=r"session .*empty segment"):
        sessions.detect_intent(request={"session": f"{agent.name}/sessions//x", "query_input": query})


def test_persistence_derives_paths_only_from_valid_ids(data_dir: Path) -> None:
    store = DataDir(data_dir)
    try:
        assert store.agent_path("p", "global", "a1") == data_dir / "agents" / "p" / "global" / "a1.zip"
        for project, location, agent_id in (("..", "x", "a"), ("p", "..", "a"), ("p", "l", "../../x"), ("p", "l", "")):
            with pytest.raises(DataDirError, match="refusing to persist"):
                store.agent_path(project, location, agent_id)
    finally:
        store.close()


# --- saved files that are not what they claim ------------------------------------------------------------
def test_a_clobbered_or_misplaced_agent_file_does_not_stop_a_restart(
    cx_emulator_factory: Any, data_dir: Path, tmp_path: Path
) -> None:
    server = cx_emulator_factory(data_dir=data_dir)
    agents = server.client(cx.AgentsClient)
    kept, clobbered, copied = (create_test_agent(agents) for _ in range(3))
    server.stop(grace=None)
    saved = {
        a.name: data_dir / "agents" / "test-project" / "global" / f"{a.name.rsplit('/', 1)[1]}.zip"
        for a in (kept, clobbered, copied)
    }
    # An export written over another agent's file (what a gs:// escape did), and an agent file
    # copied under another agent's name.
    with zipfile.ZipFile(saved[clobbered.name], "w") as archive:
        archive.writestr("agent.json", "{}")
    impostor = saved[copied.name].with_name("00000000-1111-2222-3333-444444444444.zip")
    impostor.write_bytes(saved[copied.name].read_bytes())
    with untouched(tmp_path, data_dir):
        again = cx_emulator_factory(data_dir=data_dir)
        names = {a.name for a in again.client(cx.AgentsClient).list_agents(parent=TEST_PARENT)}
    assert names == {kept.name, copied.name}


# --- long work inside the operation ------------------------------------------------------------------------
def test_restore_parses_in_the_operation_and_reports_even_if_the_client_gave_up(
    cx_emulator_factory: Any, data_dir: Path, tmp_path: Path, shared_agents: list[Path]
) -> None:
    server = cx_emulator_factory(data_dir=data_dir, operation_delay=0.5)
    agents = server.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    content = package_bytes(shared_agents[0])
    with untouched(tmp_path, data_dir):
        started = time.monotonic()
        operation = agents.restore_agent(
            request=cx.RestoreAgentRequest(name=agent.name, agent_content=content), timeout=5
        )
        answered = time.monotonic() - started
        name = operation.operation.name
        assert not operation.operation.done
        del operation  # the client gives up: it never polls this operation
        # A package whose agent.json reads fine but whose flow does not is refused by its operation:
        # the handler reads agent.json alone (for KEEP), the package is parsed in the operation.
        broken_zip = io.BytesIO()
        with zipfile.ZipFile(broken_zip, "w") as archive:
            archive.writestr("agent.json", json.dumps({"displayName": "x", "defaultLanguageCode": "en"}))
            archive.writestr("flows/f/f.json", "{not json")
        broken = agents.restore_agent(
            request=cx.RestoreAgentRequest(name=agent.name, agent_content=broken_zip.getvalue())
        )
        assert not broken.operation.done
        assert server.backend.operations.wait_idle(timeout=30)
    assert answered < 0.5  # the handler answered before the operation delay, let alone the parse
    done = agents.get_operation(request={"name": name})
    assert done.done
    assert not done.HasField("error")
    assert {f.display_name for f in server.client(cx.FlowsClient).list_flows(parent=agent.name)} != {
        "Default Start Flow"
    }
    failed = agents.get_operation(request={"name": broken.operation.name})
    assert failed.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "not valid JSON" in failed.error.message


def test_unreadable_restore_content_is_refused_by_the_call(emulator: Any, tmp_path: Path, data_dir: Path) -> None:
    agents = emulator.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    with untouched(tmp_path, data_dir):
        with pytest.raises(exceptions.InvalidArgument, match="not a readable agent package"):
            agents.restore_agent(request=cx.RestoreAgentRequest(name=agent.name, agent_content=b"PK\x03\x04junk"))
        nested = io.BytesIO()
        with zipfile.ZipFile(nested, "w") as archive:
            archive.writestr("agent.json", "[" * 100_000)
        with pytest.raises(exceptions.InvalidArgument, match="not a readable agent package"):
            agents.restore_agent(request=cx.RestoreAgentRequest(name=agent.name, agent_content=nested.getvalue()))


# --- the operation store -------------------------------------------------------------------------------------
def big_package(shared_agents: list[Path]) -> bytes:
    """A real agent padded with an incompressible 2 MiB blob of agent description."""
    import os

    from airflow_provider_cx.package import read_package, write_zip

    package = read_package(package_bytes(shared_agents[0]))
    package.agent["description"] = base64.b64encode(os.urandom(3 << 20)).decode()[: 2 << 20]
    return write_zip(package)


def test_large_results_are_stored_once_and_dropped_with_their_operation(
    cx_emulator_factory: Any, data_dir: Path, tmp_path: Path, shared_agents: list[Path]
) -> None:
    server = cx_emulator_factory(data_dir=data_dir)
    agents = server.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    wait_for(
        agents.restore_agent(request=cx.RestoreAgentRequest(name=agent.name, agent_content=big_package(shared_agents)))
    )
    ops_dir = data_dir / "operations"
    with untouched(tmp_path, data_dir):
        export = agents.export_agent(request=cx.ExportAgentRequest(name=agent.name, data_format=JSON_PACKAGE))
        content = wait_for(export).agent_content
        ident = export.operation.name.rsplit("/", 1)[1]
        result, op_file = ops_dir / f"{ident}.result", ops_dir / f"{ident}.op"
        assert result.stat().st_size > len(content)  # the response, once
        assert op_file.stat().st_size < 4096  # the operation itself without it
        assert not (data_dir / "operations.json").exists()
        again = agents.get_operation(request={"name": export.operation.name})
        response = cx.ExportAgentResponse.deserialize(again.response.value)
        assert response.agent_content == content
        # Other operations' files are not rewritten when one changes.
        others = {p: p.stat().st_mtime_ns for p in ops_dir.glob("*.op") if p != op_file}
        wait_for(
            server.client(cx.FlowsClient).train_flow(name=f"{agent.name}/flows/00000000-0000-0000-0000-000000000000")
        )
        assert {p: p.stat().st_mtime_ns for p in others} == others
        # Dropping the operation drops its result.
        server.backend.operations.max_finished = 1
        wait_for(
            server.client(cx.FlowsClient).train_flow(name=f"{agent.name}/flows/00000000-0000-0000-0000-000000000000")
        )
    assert not result.exists()
    assert not op_file.exists()
    with pytest.raises(exceptions.NotFound, match=ident):
        agents.get_operation(request={"name": export.operation.name})


def test_a_large_result_survives_a_restart(cx_emulator_factory: Any, data_dir: Path, shared_agents: list[Path]) -> None:
    server = cx_emulator_factory(data_dir=data_dir)
    agents = server.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    wait_for(
        agents.restore_agent(request=cx.RestoreAgentRequest(name=agent.name, agent_content=big_package(shared_agents)))
    )
    export = agents.export_agent(request=cx.ExportAgentRequest(name=agent.name, data_format=JSON_PACKAGE))
    content = wait_for(export).agent_content
    server.stop(grace=None)
    again = cx_emulator_factory(data_dir=data_dir).client(cx.AgentsClient)
    op = again.get_operation(request={"name": export.operation.name})
    assert cx.ExportAgentResponse.deserialize(op.response.value).agent_content == content


def test_operations_of_different_agents_run_together_and_of_one_agent_in_order() -> None:
    from airflow_provider_cx.emulator.operations import OperationManager

    manager = OperationManager(0.0)
    spans: dict[str, tuple[float, float]] = {}

    def work(label: str) -> Any:
        def run() -> None:
            start = time.monotonic()
            time.sleep(0.3)
            spans[label] = (start, time.monotonic())

        return run

    try:
        for label, key in (("a1", "agent-a"), ("a2", "agent-a"), ("b1", "agent-b")):
            manager.start("p", "global", work(label), key=key)
        assert manager.wait_idle(timeout=10)
    finally:
        manager.stop()
    assert spans["a1"][1] <= spans["a2"][0]  # one agent: in order, one at a time
    # two agents: together
    assert spans["b1"][0] < spans["a1"][1]
    assert spans["a1"][0] < spans["b1"][1]


# --- admin input --------------------------------------------------------------------------------------------
def raw_admin(server: Any, method: str, body: bytes) -> Any:
    stub = server.channel().unary_unary(
        f"/{ADMIN_SERVICE}/{method}", request_serializer=lambda b: b, response_deserializer=lambda b: b
    )
    return stub(body, timeout=10)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"seconds": 1e308}', id="huge"),
        pytest.param(b'{"seconds": Infinity}', id="infinity"),
        pytest.param(b'{"seconds": NaN}', id="nan"),
        pytest.param(b'{"seconds": -1}', id="negative"),
        pytest.param(b'{"seconds": true}', id="boolean"),
        pytest.param(b'{"seconds": "5"}', id="text"),
        pytest.param(b"[1]", id="not-an-object"),
        pytest.param(b"{not json", id="malformed"),
    ],
)
def test_bad_operation_delays_are_refused_and_operations_keep_running(
    body: bytes, emulator: Any, tmp_path: Path, data_dir: Path
) -> None:
    with untouched(tmp_path, data_dir), pytest.raises(grpc.RpcError) as error:
        raw_admin(emulator, "SetOperationDelay", body)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "seconds" in error.value.details() or "not JSON" in error.value.details()
    assert emulator.backend.operations.delay == pytest.approx(0.05)
    agents = emulator.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    assert wait_for(agents.export_agent(request={"name": agent.name}), timeout=10).agent_content


def test_the_operation_worker_survives_the_largest_delay(emulator: Any) -> None:
    admin = emulator.admin()
    admin.set_operation_delay(3600)
    agents = emulator.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    pending = agents.export_agent(request={"name": agent.name})
    admin.set_operation_delay(0)
    agents.cancel_operation(request={"name": pending.operation.name})
    assert wait_for(agents.export_agent(request={"name": agent.name}), timeout=10).agent_content


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(b"{not json", "not JSON", id="malformed"),
        pytest.param(b'"@/etc/passwd"', "JSON object", id="a-path"),
        pytest.param(b'{"methods": {"*": {"latency_ms": Infinity}}}', "latency_ms", id="infinite-latency"),
        pytest.param(b'{"methods": {"*": {"latency_ms": 1e12}}}', "latency_ms", id="huge-latency"),
        pytest.param(b'{"methods": {"*": {"error_rate": "often"}}}', "error_rate", id="rate-as-text"),
        pytest.param(b'{"methods": {"*": {"codes": "UNAVAILABLE"}}}', "codes", id="codes-not-a-list"),
        pytest.param(b'{"methods": {"*": 3}}', "JSON object", id="settings-not-an-object"),
        pytest.param(b'{"seed": "x"}', "seed", id="seed-as-text"),
    ],
)
def test_bad_fault_plans_are_invalid_argument(body: bytes, problem: str, emulator: Any) -> None:
    with pytest.raises(grpc.RpcError) as error:
        raw_admin(emulator, "SetFaults", body)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert problem in error.value.details()
    assert emulator.admin().faults()["methods"] == {}


# --- page tokens and temp files --------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["offset:-5", "offset:+3", "offset: 2", "offset:1e3", "other:1"])
def test_forged_page_tokens_are_refused(text: str, emulator: Any) -> None:
    agents = emulator.client(cx.AgentsClient)
    for _ in range(3):
        create_test_agent(agents)
    token = base64.urlsafe_b64encode(text.encode()).decode()
    with pytest.raises(exceptions.InvalidArgument, match="page_token"):
        agents.list_agents(request={"parent": TEST_PARENT, "page_token": token, "page_size": 1})


def test_stale_temp_files_are_removed_at_start(cx_emulator_factory: Any, data_dir: Path, tmp_path: Path) -> None:
    left = [
        data_dir / "agents" / "p" / "global" / ".a.zip.k3j4h5.tmp",
        data_dir / "operations" / ".x.op.abcdef.tmp",
        data_dir / "gcs" / "bucket" / ".out.zip.q1w2e3.tmp",
    ]
    user_file = data_dir / "gcs" / "bucket" / "report.tmp"
    for path in [*left, user_file]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half written")
    with untouched(tmp_path, data_dir):
        cx_emulator_factory(data_dir=data_dir)
    assert [p for p in left if p.exists()] == []
    assert user_file.read_bytes() == b"half written"  # an object someone stored, not our temp file


def test_legacy_operations_file_is_migrated(cx_emulator_factory: Any, data_dir: Path) -> None:
    from google.longrunning import operations_pb2

    op = operations_pb2.Operation(name=f"{TEST_PARENT}/operations/0f0e0d0c-0b0a-4908-8706-050403020100", done=True)
    data_dir.mkdir()
    (data_dir / "operations.json").write_text(
        json.dumps({"version": 1, "operations": [base64.b64encode(op.SerializeToString()).decode()]})
    )
    server = cx_emulator_factory(data_dir=data_dir)
    assert server.client(cx.AgentsClient).get_operation(request={"name": op.name}).done
    assert not (data_dir / "operations.json").exists()
    assert (data_dir / "operations" / "0f0e0d0c-0b0a-4908-8706-050403020100.op").is_file()


def test_import_test_cases_parses_in_the_operation(emulator: Any, tmp_path: Path, data_dir: Path) -> None:
    agents = emulator.client(cx.AgentsClient)
    test_cases = emulator.client(cx.TestCasesClient)
    agent = create_test_agent(agents)
    with untouched(tmp_path, data_dir):
        with pytest.raises(exceptions.InvalidArgument, match="neither JSON"):
            test_cases.import_test_cases(request={"parent": agent.name, "content": b"not test cases"})
        broken = test_cases.import_test_cases(request={"parent": agent.name, "content": b'{"testCases": [' * 3})
        assert not broken.operation.done  # the handler only looked at the first bytes
        with pytest.raises(exceptions.InvalidArgument, match="neither JSON"):
            wait_for(broken)
        cases = {"testCases": [{"displayName": "one"}, {"displayName": "one"}, {"displayName": ""}]}
        op = test_cases.import_test_cases(request={"parent": agent.name, "content": json.dumps(cases).encode()})
        assert len(wait_for(op).names) == 1
    # The import's errors are known when it has run: the finished operation's metadata carries them.
    assert [e.status.code for e in op.metadata.errors] == [6, 3]  # ALREADY_EXISTS, INVALID_ARGUMENT
    assert [tc.display_name for tc in test_cases.list_test_cases(parent=agent.name)] == ["one"]


def test_work_on_one_agent_does_not_wait_for_another(emulator: Any) -> None:
    """An agent held by a long writer (a big export or restore) leaves every other agent usable."""
    agents = emulator.client(cx.AgentsClient)
    busy, free = create_test_agent(agents), create_test_agent(agents)
    store = emulator.backend.store
    held, release = threading.Event(), threading.Event()

    def long_writer() -> None:
        with store.write(busy.name):
            held.set()
            release.wait(10)

    writer = threading.Thread(target=long_writer)
    writer.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        assert agents.get_agent(name=free.name, timeout=5).name == free.name
        agents.update_agent(
            agent=cx.Agent(name=free.name, display_name="renamed"), update_mask={"paths": ["display_name"]}, timeout=5
        )
        assert wait_for(agents.export_agent(request={"name": free.name}), timeout=5).agent_content
        assert time.monotonic() - started < 4
        with pytest.raises(exceptions.DeadlineExceeded):
            agents.get_agent(name=busy.name, timeout=0.5)  # the held one does wait
    finally:
        release.set()
        writer.join()
    assert agents.get_agent(name=busy.name).name == busy.name


def test_deleting_an_agent_waits_for_its_writer(emulator: Any, data_dir: Path) -> None:
    agents = emulator.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    path = data_dir / "agents" / "test-project" / "global" / f"{agent.name.rsplit('/', 1)[1]}.zip"
    store = emulator.backend.store
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.write(agent.name):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert held.wait(5)
    deleter = threading.Thread(target=lambda: agents.delete_agent(name=agent.name))
    deleter.start()
    time.sleep(0.2)
    release.set()
    thread.join()
    deleter.join()
    assert not path.exists()  # the writer saved first, then the delete removed the file
    with pytest.raises(exceptions.NotFound):
        agents.get_agent(name=agent.name)


def test_an_export_cannot_land_on_another_agents_saved_file(
    cx_emulator_factory: Any, data_dir: Path, tmp_path: Path
) -> None:
    server = cx_emulator_factory(data_dir=data_dir)
    agents = server.client(cx.AgentsClient)
    victim, exporter = create_test_agent(agents), create_test_agent(agents)
    saved = data_dir / "agents" / "test-project" / "global" / f"{victim.name.rsplit('/', 1)[1]}.zip"
    before = saved.read_bytes()
    relative = saved.relative_to(data_dir).as_posix()
    with untouched(tmp_path, data_dir):
        for uri in (f"gs://b/../../{relative}", f"gs://../{relative}"):
            with pytest.raises(exceptions.InvalidArgument):
                agents.export_agent(request=cx.ExportAgentRequest(name=exporter.name, agent_uri=uri))
    assert server.backend.operations.wait_idle(timeout=10)
    assert saved.read_bytes() == before
    server.stop(grace=None)
    again = cx_emulator_factory(data_dir=data_dir).client(cx.AgentsClient)
    assert {a.name for a in again.list_agents(parent=TEST_PARENT)} == {victim.name, exporter.name}


def test_a_package_that_breaks_the_reader_is_invalid_argument_not_internal(emulator: Any) -> None:
    agents = emulator.client(cx.AgentsClient)
    agent = create_test_agent(agents)
    content = io.BytesIO()
    with zipfile.ZipFile(content, "w") as archive:
        archive.writestr("agent.json", json.dumps({"displayName": "x", "defaultLanguageCode": "en"}))
        archive.writestr("flows/f/f.json", "[" * 100_000 + "]" * 100_000)  # past the recursion limit
    fallback = cx.RestoreAgentRequest.RestoreOption.FALLBACK
    operation = agents.restore_agent(
        request=cx.RestoreAgentRequest(name=agent.name, agent_content=content.getvalue(), restore_option=fallback)
    )
    with pytest.raises(exceptions.InvalidArgument, match=r"flows/f/f\.json nests JSON deeper than 64 levels"):
        wait_for(operation)
    assert {f.display_name for f in emulator.client(cx.FlowsClient).list_flows(parent=agent.name)} == {
        "Default Start Flow"
    }


def test_an_empty_name_is_refused_naming_the_field(emulator: Any) -> None:
    with pytest.raises(exceptions.InvalidArgument, match=r"^400 name is required"):
        emulator.client(cx.AgentsClient).get_agent(request={"name": ""})
    with pytest.raises(exceptions.InvalidArgument, match=r"^400 parent is required"):
        emulator.client(cx.FlowsClient).list_flows(request={"parent": ""})
    query = cx.QueryInput(text=cx.TextInput(text="hi"), language_code="en")
    with pytest.raises(exceptions.InvalidArgument, match=r"^400 session is required"):
        emulator.client(cx.SessionsClient).detect_intent(request={"session": "", "query_input": query})
