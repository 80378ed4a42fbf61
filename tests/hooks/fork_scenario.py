"""The fork scenario, run as a script in a fresh interpreter by test_hook_fork_safety.py.

A fresh interpreter matters: the provider must switch on gRPC's fork support before grpc is first
imported, as it would in an Airflow worker, and pytest's own process may have imported grpc already.

The parent uses a hook (a real RPC), then forks children twice over, 20 with ``os.fork`` and 20 with
multiprocessing's fork context. Each child calls GetAgent through the *same hook object* and reports
whether it got a new client. Every wait is bounded; a child that does not report in time is killed
and counted as hung. Prints one JSON object.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import select
import sys
import time

import airflow_provider_cx  # noqa: F401  (first: decides GRPC_ENABLE_FORK_SUPPORT before grpc loads)

GRPC_IMPORTED_BY_PROVIDER = "grpc" in sys.modules
FORK_SUPPORT_ENV = os.environ.get("GRPC_ENABLE_FORK_SUPPORT")

AGENT = "projects/fork-project/locations/global/agents/agent-1"
CHILDREN = 20
CHILD_DEADLINE = 60.0


def serve(port_queue) -> None:
    """The server runs in a spawned process: nothing of it is inherited by the forked children."""
    from tests.hooks.cx_scripted_server import ScriptedCXServer

    server = ScriptedCXServer()
    port_queue.put(server.start())
    time.sleep(3600)


def child_call(hook, parent_client) -> dict:
    try:
        client = hook.get_agents_client(AGENT)
        agent = hook.call(client.get_agent, name=AGENT, timeout=20)
        return {"ok": agent.name == AGENT, "new_client": client is not parent_client}
    except Exception as error:
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}


def run_os_fork(hook, parent_client) -> list[dict]:
    children = {}
    for _ in range(CHILDREN):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            os.write(write_end, json.dumps(child_call(hook, parent_client)).encode())
            os._exit(0)
        os.close(write_end)
        children[read_end] = pid
    results, deadline = [], time.monotonic() + CHILD_DEADLINE
    while children and time.monotonic() < deadline:
        ready, _, _ = select.select(list(children), [], [], 0.5)
        for read_end in ready:
            data = b"".join(iter(lambda fd=read_end: os.read(fd, 65536), b""))
            os.close(read_end)
            os.waitpid(children.pop(read_end), 0)
            results.append(json.loads(data) if data else {"ok": False, "error": "child died"})
    for read_end, pid in children.items():
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(read_end)
        results.append({"ok": False, "error": "hung"})
    return results


def mp_child(hook, parent_client, connection) -> None:
    connection.send(child_call(hook, parent_client))
    connection.close()


def run_multiprocessing_fork(hook, parent_client) -> list[dict]:
    context = multiprocessing.get_context("fork")
    started = []
    for _ in range(CHILDREN):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=mp_child, args=(hook, parent_client, sender))
        process.start()
        sender.close()
        started.append((process, receiver))
    results, deadline = [], time.monotonic() + CHILD_DEADLINE
    for process, receiver in started:
        if receiver.poll(max(0.0, deadline - time.monotonic())):
            results.append(receiver.recv())
        else:
            process.kill()
            results.append({"ok": False, "error": "hung"})
        process.join(5)
    return results


def main() -> None:
    spawn = multiprocessing.get_context("spawn")
    port_queue = spawn.Queue()
    server = spawn.Process(target=serve, args=(port_queue,), daemon=True)
    server.start()
    port = port_queue.get(timeout=60)
    os.environ["AIRFLOW_CONN_CX_FORK"] = json.dumps(
        {"conn_type": "dialogflow_cx", "extra": {"emulator_host": f"127.0.0.1:{port}", "project": "fork-project"}}
    )

    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
    from airflow_provider_cx.hooks.fork_support import grpc_fork_support_active

    hook = DialogflowCXHook(gcp_conn_id="cx_fork")
    parent_client = hook.get_agents_client(AGENT)
    hook.call(parent_client.get_agent, name=AGENT, timeout=20)

    report = {
        "grpc_imported_by_provider": GRPC_IMPORTED_BY_PROVIDER,
        "fork_support_env": FORK_SUPPORT_ENV,
        "fork_support_active": grpc_fork_support_active(),
        "os_fork": run_os_fork(hook, parent_client),
        "multiprocessing_fork": run_multiprocessing_fork(hook, parent_client),
    }
    # The parent's own client and channel must be untouched by all that.
    report["parent_after"] = hook.call(parent_client.get_agent, name=AGENT, timeout=20).name == AGENT
    report["parent_client_kept"] = hook.get_agents_client(AGENT) is parent_client
    server.kill()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
