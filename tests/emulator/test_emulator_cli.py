"""The ``cx-emulator`` command: its startup lines, ``--version``, and a port already in use."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_cx import __version__
from airflow_provider_cx.emulator.server import EmulatorServer

EMULATOR = [sys.executable, "-m", "airflow_provider_cx.emulator"]


def start(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start the CLI and read its startup lines (up to the export line)."""
    proc = subprocess.Popen([*EMULATOR, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("export "):
            break
    if not lines or not lines[-1].startswith("export "):
        proc.kill()
        raise AssertionError(f"the emulator did not start: {lines!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc, lines


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def test_startup_prints_the_address_the_data_dir_and_the_line_to_export(tmp_path: Path) -> None:
    proc, lines = start("--port", "0", "--data-dir", str(tmp_path / "state"))
    try:
        match = re.fullmatch(r"cx-emulator listening on (127\.0\.0\.1:\d+)", lines[0])
        assert match, lines
        address = match.group(1)
        assert lines[1] == f"cx-emulator data dir: {(tmp_path / 'state').resolve()} (kept across restarts)"
        assert lines[-1] == f"export DIALOGFLOW_CX_EMULATOR_HOST={address}"
    finally:
        stop(proc)


def test_startup_without_a_data_dir_says_state_is_in_memory() -> None:
    proc, lines = start("--port", "0")
    try:
        assert lines[1].startswith("cx-emulator data dir: none (state in memory")
    finally:
        stop(proc)


def test_version() -> None:
    done = subprocess.run([*EMULATOR, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"cx-emulator {__version__}"


def test_a_port_in_use_is_an_error_in_process() -> None:
    first = EmulatorServer().start()
    try:
        with pytest.raises(OSError, match=f"cannot bind the emulator to 127.0.0.1:{first.port}: the port is in use"):
            EmulatorServer(port=first.port).start()
    finally:
        first.stop(grace=None)


def test_a_second_cli_on_a_port_in_use_exits_with_an_error() -> None:
    proc, lines = start("--port", "0")
    try:
        port = lines[0].rsplit(":", 1)[1]
        second = subprocess.run([*EMULATOR, "--port", port], capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode == 1
        assert f"cannot bind the emulator to 127.0.0.1:{port}: the port is in use" in second.stderr
        assert "listening" not in second.stdout
    finally:
        stop(proc)


def test_a_port_held_by_another_program_is_an_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(OSError, match="the port is in use"):
            EmulatorServer(port=port).start()


@pytest.mark.parametrize("delay", ["-1", "inf", "nan", "1e308", "3601"])
def test_an_operation_delay_out_of_bounds_is_a_usage_error(delay: str) -> None:
    done = subprocess.run(
        [*EMULATOR, "--operation-delay", delay], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "--operation-delay: operation delay must be between 0 and 3600 seconds" in done.stderr
    assert "Traceback" not in done.stderr
