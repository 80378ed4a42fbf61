"""Large GetOperation responses trim the C heap before they are parsed (hooks.large_responses)."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from google.cloud.dialogflowcx_v3 import AgentsClient, ExportAgentResponse

from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, wait_for, zip_files_as_json
from airflow_provider_cx.hooks import large_responses
from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
from airflow_provider_cx.hooks.operations import operation_result
from airflow_provider_cx.sample_agent import sample_agent_path
from tests.hooks.hook_support import CONN_ID, FAST_POLLING, FAST_RETRIES, set_connection


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim and /proc are glibc/Linux")
def test_release_free_heap_gives_freed_small_allocations_back() -> None:
    blocks = [os.urandom(1) * 4000 for _ in range(10_000)]  # 40 MB of heap allocations, not mmaps
    pin = os.urandom(1) * 4000  # in use above them, so glibc cannot shrink the heap by itself
    del blocks
    before = resident_mb()

    assert large_responses.release_free_heap()

    assert resident_mb() < before - 25
    assert len(pin) == 4000


def test_only_get_operation_stubs_get_the_trimming_deserializer() -> None:
    made: dict[str, Any] = {}

    class Channel:
        def unary_unary(self, method: str, serializer: Any, deserializer: Any, **kwargs: Any) -> Any:
            made[method] = deserializer
            return method

        def close(self) -> str:
            return "closed"

    channel = large_responses.TrimmingOperationsChannel(Channel())
    channel.unary_unary(large_responses.GET_OPERATION_METHOD, None, bytes.upper, _registered_method=True)
    channel.unary_unary("/google.longrunning.Operations/CancelOperation", None, bytes.upper)

    assert made["/google.longrunning.Operations/CancelOperation"] is bytes.upper
    assert made[large_responses.GET_OPERATION_METHOD](b"abc") == b"ABC"
    assert channel.close() == "closed"


def test_a_large_finished_export_trims_before_it_is_parsed(monkeypatch: pytest.MonkeyPatch, cx_emulator: Any) -> None:
    trims: list[int] = []
    monkeypatch.setattr(large_responses, "LARGE_RESPONSE_BYTES", 4096)  # the sample agent's export is larger
    monkeypatch.setattr(large_responses, "release_free_heap", lambda: trims.append(1) or True)
    set_connection(monkeypatch, CONN_ID, {"emulator_host": cx_emulator.address}, conn_type="dialogflow_cx")
    agents = cx_emulator.client(AgentsClient)
    agent = create_test_agent(agents).name
    wait_for(agents.restore_agent(request={"name": agent, "agent_content": package_bytes(sample_agent_path())}))
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID, retry_policy=FAST_RETRIES, polling_policy=FAST_POLLING)

    operation = hook.call(hook.get_agents_client(agent).export_agent, request={"name": agent})
    content = operation_result(hook.wait_for_operation_done(operation.operation), ExportAgentResponse).agent_content

    assert trims == [1]  # the finished operation only; the running ones are small
    assert "agent.json" in zip_files_as_json(content)
