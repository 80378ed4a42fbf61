"""--data-dir: state survives a restart (in process and through the CLI); gs:// lands under it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.emulator.persistence import DataDirError
from airflow_provider_cx.emulator.server import EmulatorServer
from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, wait_for, zip_files_as_json

JSON_PACKAGE = cx.ExportAgentRequest.DataFormat.JSON_PACKAGE


def _export(agents, name):
    request = cx.ExportAgentRequest(name=name, data_format=JSON_PACKAGE)
    return wait_for(agents.export_agent(request=request)).agent_content


def test_restart_keeps_agents_resources_operations_and_gcs(tmp_path, shared_agents):
    server = EmulatorServer(data_dir=tmp_path, operation_delay=0.02).start()
    try:
        agents = server.client(cx.AgentsClient)
        agent = create_test_agent(agents)
        restore = agents.restore_agent(
            request=cx.RestoreAgentRequest(name=agent.name, agent_content=package_bytes(shared_agents[1]))
        )
        wait_for(restore)
        server.client(cx.IntentsClient).create_intent(parent=agent.name, intent=cx.Intent(display_name="kept"))
        record = server.backend.store.get(agent.name)
        with server.backend.store.write(agent.name):
            record.extra("versions")["count"] = 2
            record.snapshots["flows/x/versions/1"] = record.package.copy()
        before = _export(agents, agent.name)
        wait_for(
            agents.export_agent(
                request=cx.ExportAgentRequest(name=agent.name, agent_uri="gs://b/a.zip", data_format=JSON_PACKAGE)
            )
        )
        gone = create_test_agent(agents)
        agents.delete_agent(name=gone.name)
    finally:
        server.stop()
    assert (tmp_path / "gcs" / "b" / "a.zip").read_bytes() == before

    again = EmulatorServer(data_dir=tmp_path, operation_delay=0.02).start()
    try:
        agents = again.client(cx.AgentsClient)
        assert agents.get_agent(name=agent.name).display_name == agent.display_name
        assert _export(agents, agent.name) == before
        with pytest.raises(exceptions.NotFound):
            agents.get_agent(name=gone.name)
        op = agents.get_operation(request={"name": restore.operation.name})
        assert op.done
        assert not op.error.code
        record = again.backend.store.get(agent.name)
        assert record.extras["versions"] == {"count": 2}
        assert zip_files_as_json(_export(agents, agent.name)) == zip_files_as_json(before)
        assert [f.display_name for f in record.snapshots["flows/x/versions/1"].flows] == [
            f.display_name for f in record.package.flows
        ]
    finally:
        again.stop()


def test_pending_operation_comes_back_aborted(tmp_path):
    server = EmulatorServer(data_dir=tmp_path, operation_delay=60).start()
    try:
        agents = server.client(cx.AgentsClient)
        op = agents.export_agent(request=cx.ExportAgentRequest(name=create_test_agent(agents).name))
    finally:
        server.stop()
    again = EmulatorServer(data_dir=tmp_path).start()
    try:
        polled = again.client(cx.AgentsClient).get_operation(request={"name": op.operation.name})
        assert polled.done
        assert polled.error.code == 10  # ABORTED
        assert "restart" in polled.error.message
    finally:
        again.stop()


def test_a_data_dir_serves_one_emulator_at_a_time(tmp_path):
    server = EmulatorServer(data_dir=tmp_path).start()
    try:
        with pytest.raises(DataDirError, match="in use"):
            EmulatorServer(data_dir=tmp_path).start()
    finally:
        server.stop()


def _start_cli(*args):
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_cx.emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    match = re.search(r"listening on (\S+)$", line.strip())
    if not match:
        proc.kill()
        raise AssertionError(f"emulator did not start: {line!r} {proc.stderr.read()}")
    return proc, match.group(1)


def _stop_cli(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def test_cli_restart_with_data_dir(tmp_path):
    import grpc

    proc, address = _start_cli("--data-dir", str(tmp_path), "--operation-delay", "0.01")
    try:
        channel = grpc.insecure_channel(address)
        agents = cx.AgentsClient(transport=cx.services.agents.transports.AgentsGrpcTransport(channel=channel))
        agent = create_test_agent(agents)
    finally:
        _stop_cli(proc)
    proc, address = _start_cli("--data-dir", str(tmp_path))
    try:
        channel = grpc.insecure_channel(address)
        agents = cx.AgentsClient(transport=cx.services.agents.transports.AgentsGrpcTransport(channel=channel))
        assert agents.get_agent(name=agent.name).display_name == agent.display_name
    finally:
        _stop_cli(proc)


def test_cli_refuses_bad_arguments(tmp_path):
    for args, message in (
        (["--tls-cert", "x.pem"], "--tls-key"),
        (["--faults", '{"methods": {"*": {"error_rate": 2}}}'], "error_rate"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "airflow_provider_cx.emulator", *args],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ},
        )
        assert result.returncode == 2
        assert message in result.stderr
