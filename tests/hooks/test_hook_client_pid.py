"""The hook's clients say which process built them (``pid/<n>`` in the user agent), as the emulator records it."""

from __future__ import annotations

import os
import re

from conftest import set_connection

from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook

PID = re.compile(r"\bairflow-provider-cx/\S+ pid/(\d+)\b")


def test_calls_carry_the_pid_of_the_process_that_built_the_client(monkeypatch, cx_emulator):
    set_connection(monkeypatch, "cx_pid", {"emulator_host": cx_emulator.address}, conn_type="dialogflow_cx")
    hook = DialogflowCXHook(gcp_conn_id="cx_pid")

    client = hook.get_agents_client(location="global")
    hook.call(client.list_agents, parent="projects/pid-test/locations/global")

    call = [c for c in cx_emulator.admin().stats()["callers"] if c["method"].endswith("/ListAgents")][-1]
    assert PID.search(call["x-goog-api-client"]).group(1) == str(os.getpid())
