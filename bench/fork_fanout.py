"""Fork fan-out: 32 forked tasks, each with a new hook (new channel, new client) and one RPC.

Run: ``.venv/bin/python bench/fork_fanout.py [--children 32]``

What an Airflow worker does: a process that has used gRPC forks task processes, and each task builds
its own client. The emulator runs in its own process; the scenario runs in a fresh interpreter
(``airflow_provider_cx`` imported first, so gRPC's fork support is switched on before grpc loads,
as in a worker). The parent makes a call, then forks ``--children`` children one after another (each
waited for) and then all at once; each child builds a ``DialogflowCXHook`` and calls GetAgent, with
every wait bounded (a child that does not answer within 60 s is killed and counted as hung). The
same is measured in the parent without forking (a new hook and one call; a call on a warm client),
so the overhead of forking shows side by side. ``--without-fork-support`` adds a run with
``GRPC_ENABLE_FORK_SUPPORT=0``, to show what the provider's default prevents.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

CHILD_DEADLINE = 60.0
MODES = {"sequential": False, "at_once": True}


# --- the scenario, in a fresh interpreter --------------------------------------------------------------


def one_call(conn_id: str, agent: str) -> float:
    """A new hook (channel and client), one GetAgent; seconds it took."""
    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook

    started = time.monotonic()
    hook = DialogflowCXHook(gcp_conn_id=conn_id)
    client = hook.get_agents_client(agent)
    hook.call(client.get_agent, name=agent, timeout=20)
    return time.monotonic() - started


def child(conn_id: str, agent: str, forked_at: float, write_end: int) -> None:
    try:
        seconds = one_call(conn_id, agent)
        report = {"ok": True, "since_fork": time.monotonic() - forked_at, "call": seconds}
    except Exception as error:
        report = {"ok": False, "error": f"{type(error).__name__}: {error}"[:200]}
    os.write(write_end, json.dumps(report).encode())
    os._exit(0)


def fork_children(conn_id: str, agent: str, count: int, *, at_once: bool) -> tuple[list[dict[str, Any]], float]:
    """Fork ``count`` children, all at once or one after another; their reports and the wall time."""
    started = time.monotonic()
    pending: dict[int, int] = {}
    results: list[dict[str, Any]] = []
    for _ in range(count):
        read_end, write_end = os.pipe()
        forked_at = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            child(conn_id, agent, forked_at, write_end)
        os.close(write_end)
        pending[read_end] = pid
        if not at_once:
            results += collect(pending)
    results += collect(pending)
    return results, time.monotonic() - started


def collect(pending: dict[int, int]) -> list[dict[str, Any]]:
    results, deadline = [], time.monotonic() + float(os.environ.get("CX_BENCH_CHILD_DEADLINE", CHILD_DEADLINE))
    while pending and time.monotonic() < deadline:
        ready, _, _ = select.select(list(pending), [], [], 0.5)
        for read_end in ready:
            data = b"".join(iter(lambda fd=read_end: os.read(fd, 65536), b""))
            os.close(read_end)
            os.waitpid(pending.pop(read_end), 0)
            results.append(json.loads(data) if data else {"ok": False, "error": "child died"})
    for read_end, pid in pending.items():
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(read_end)
        results.append({"ok": False, "error": "hung"})
    pending.clear()
    return results


def scenario(conn_id: str, agent: str, count: int, modes: list[str]) -> dict[str, Any]:
    import airflow_provider_cx  # noqa: F401, I001  (first: gRPC fork support is decided before grpc loads)
    from bench_support import use_airflow_home

    use_airflow_home()
    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
    from airflow_provider_cx.hooks.fork_support import grpc_fork_support_active

    hook = DialogflowCXHook(gcp_conn_id=conn_id)
    client = hook.get_agents_client(agent)
    hook.call(client.get_agent, name=agent, timeout=20)  # the parent has used gRPC before it forks

    def warm_call() -> float:
        started = time.monotonic()
        hook.call(client.get_agent, name=agent, timeout=20)
        return time.monotonic() - started

    report: dict[str, Any] = {
        "fork_support_active": grpc_fork_support_active(),
        "in_process_new_hook": [one_call(conn_id, agent) for _ in range(10)],
        "in_process_warm_call": [warm_call() for _ in range(20)],
    }
    for mode in modes:
        results, wall = fork_children(conn_id, agent, count, at_once=MODES[mode])
        report[mode] = {"wall": wall, "results": results}
    report["parent_after"] = warm_call()
    return report


# --- the bench ------------------------------------------------------------------------------------------------


def run_scenario(address: str, agent: str, count: int, fork_support: str | None) -> dict[str, Any]:
    """The scenario in a fresh interpreter; without fork support, children hang: one bounded batch only."""
    from bench_support import CONN_ID, REPO, connection_env

    env = {**os.environ, **connection_env(address)}
    env.pop("GRPC_ENABLE_FORK_SUPPORT", None)
    modes = list(MODES)
    if fork_support is not None:
        env["GRPC_ENABLE_FORK_SUPPORT"] = fork_support
        env["CX_BENCH_CHILD_DEADLINE"] = "20"
        modes = ["at_once"]
    command = [sys.executable, __file__, "--scenario", "--agent", agent, "--children", str(count), "--conn", CONN_ID]
    command += ["--modes", ",".join(modes)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"scenario failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{1000 * statistics.median(ordered):7.1f} {1000 * p95:7.1f} {1000 * ordered[-1]:7.1f}"


def print_report(label: str, report: dict[str, Any]) -> None:
    print(f"\n{label} (gRPC fork support active: {report['fork_support_active']})")
    print(f"{'':34} {'n':>3} {'ok':>3} {'hung':>4} {'wall s':>7}   {'median':>7} {'p95':>7} {'max':>7} ms")
    for name, key in (
        ("in process: new hook + 1 call", "in_process_new_hook"),
        ("in process: call, warm client", "in_process_warm_call"),
    ):
        values = report[key]
        print(f"{name:34} {len(values):3} {len(values):3} {0:4} {'':7}   {ms(values)}")
    for name, key in (("forked one by one: since fork", "sequential"), ("forked all at once: since fork", "at_once")):
        if key not in report:
            continue
        results = report[key]["results"]
        ok = [r for r in results if r.get("ok")]
        hung = sum(1 for r in results if r.get("error") == "hung")
        print(
            f"{name:34} {len(results):3} {len(ok):3} {hung:4} {report[key]['wall']:7.2f}   "
            f"{ms([r['since_fork'] for r in ok])}"
        )
        errors = sorted({r["error"] for r in results if not r.get("ok") and r.get("error") != "hung"})
        for error in errors[:3]:
            print(f"    error: {error}")
    sequential = [r["since_fork"] for r in report.get("sequential", {}).get("results", []) if r.get("ok")]
    if sequential:
        overhead = statistics.median(sequential) - statistics.median(report["in_process_new_hook"])
        print(f"fork overhead per task (median, one by one, vs. a new hook in process): {1000 * overhead:.1f} ms")
    print(f"parent's warm client after the forks: {1000 * report['parent_after']:.1f} ms per call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=32)
    parser.add_argument("--without-fork-support", action="store_true", help="also run with GRPC_ENABLE_FORK_SUPPORT=0")
    parser.add_argument("--scenario", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--agent", help=argparse.SUPPRESS)
    parser.add_argument("--conn", help=argparse.SUPPRESS)
    parser.add_argument("--modes", default=",".join(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(scenario(args.conn, args.agent, args.children, args.modes.split(","))))
        return

    from bench_support import emulator_process, new_agent, use_airflow_home

    use_airflow_home()
    with emulator_process() as address:
        agent = new_agent(address)
        print_report(
            f"{args.children} forked tasks, provider defaults", run_scenario(address, agent, args.children, None)
        )
        if args.without_fork_support:
            report = run_scenario(address, agent, args.children, "0")
            print_report(f"{args.children} forked tasks, GRPC_ENABLE_FORK_SUPPORT=0", report)


if __name__ == "__main__":
    main()
