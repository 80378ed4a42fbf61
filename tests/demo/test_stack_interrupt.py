"""Interrupting a process that is starting a stack (Ctrl-C or SIGTERM) leaves no Airflow process behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from airflow_provider_cx.demo.stack import COMPONENTS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

DAGS = Path(__file__).parent / "dags"
START_AND_WAIT = """
import sys, time
from airflow_provider_cx.demo.stack import AirflowStack
with AirflowStack(sys.argv[1], sys.argv[2]):
    time.sleep(600)
"""


def processes_working_in(workdir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cwd"], ad_value=None):
        if proc.info["cwd"] == str(workdir):
            found.append(proc)
    return found


def wait_for_components(workdir: Path, timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(found := processes_working_in(workdir)) >= len(COMPONENTS):
            return found
        time.sleep(0.2)
    raise AssertionError(f"the {len(COMPONENTS)} components did not start within {timeout:.0f} s")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_during_start_stops_every_component(tmp_path: Path, signum: signal.Signals) -> None:
    home = tmp_path / "airflow-home"
    workdir = home / ".stack-cwd"
    launcher = subprocess.Popen(
        [sys.executable, "-c", START_AND_WAIT, str(DAGS), str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        components = wait_for_components(workdir, timeout=120)
        launcher.send_signal(signum)
        output, _ = launcher.communicate(timeout=90)
    finally:
        if launcher.poll() is None:
            launcher.kill()

    assert launcher.returncode != 0, output.decode(errors="replace")
    assert [proc.pid for proc in components if proc.is_running()] == []
    assert processes_working_in(workdir) == []
