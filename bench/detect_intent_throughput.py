"""DetectIntent throughput of the emulator with concurrent clients, through the real gRPC API.

Run: ``.venv/bin/python bench/detect_intent_throughput.py [--clients 16] [--seconds 10] [--agent DIR]``

The emulator runs as its own process (``python -m airflow_provider_cx.emulator``), as users run it.
``--clients`` stock ``SessionsClient``s, each on its own channel, spread over ``--processes``
client processes (so the clients' own Python work does not throttle the server), replay the user
turns of the agent's test cases as conversations (a new session every conversation) for
``--seconds`` after a short warm-up, and the script prints requests per second and latency
percentiles. Target (issue 4): >= 500 requests/s with 16 concurrent clients on a 2-core machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_support import SAMPLE_AGENT, emulator_process, stock_client


def restore(address: str, agent_dir: Path) -> tuple[str, list[list[str]]]:
    """Create and restore the agent; return its name and the user texts of each test case."""
    from google.cloud import dialogflowcx_v3 as cx

    from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, wait_for
    from airflow_provider_cx.package import read_package

    agents = stock_client(address, cx.AgentsClient)
    agent = create_test_agent(agents, f"throughput-{uuid.uuid4().hex[:6]}")
    wait_for(agents.restore_agent(request={"name": agent.name, "agent_content": package_bytes(agent_dir)}))
    package = read_package(agent_dir)
    conversations = []
    for test in package.test_cases:
        texts = [
            ((t.get("userInput") or {}).get("input") or {}).get("text", {}).get("text", "")
            for t in test.data.get("testCaseConversationTurns", [])
        ]
        conversations.append([t for t in texts if t])
    return agent.name, [c for c in conversations if c]


def worker(address: str, agent: str, conversations: list[list[str]], seconds: float, warmup: float, out: Any) -> None:
    """One client: converse until the end of the measurement; put (requests, latencies) on ``out``."""
    from google.cloud import dialogflowcx_v3 as cx

    sessions = stock_client(address, cx.SessionsClient)
    latencies: list[float] = []
    start = time.monotonic()
    measuring_from = start + warmup
    end = measuring_from + seconds
    try:
        converse(sessions, agent, conversations, measuring_from, end, latencies)
    finally:
        out.put((len(latencies), latencies))


def converse(
    sessions: Any, agent: str, conversations: list[list[str]], measuring_from: float, end: float, latencies: list[float]
) -> None:
    turn = 0
    while True:
        conversation = conversations[turn % len(conversations)]
        session = f"{agent}/sessions/{uuid.uuid4()}"
        for text in conversation:
            sent = time.monotonic()
            if sent >= end:
                return
            sessions.detect_intent(
                request={"session": session, "query_input": {"text": {"text": text}, "language_code": "en"}}
            )
            done = time.monotonic()
            if sent >= measuring_from:
                latencies.append(done - sent)
        turn += 1


def process_main(address: str, agent: str, conversations: list[list[str]], threads: int, args: Any, out: Any) -> None:
    import queue

    local: queue.Queue[tuple[int, list[float]]] = queue.Queue()
    pool = [
        threading.Thread(target=worker, args=(address, agent, conversations, args[0], args[1], local))
        for _ in range(threads)
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    while not local.empty():
        out.put(local.get())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--processes", type=int, default=2, help="client processes the clients are spread over")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--agent", type=Path, default=SAMPLE_AGENT)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with emulator_process("--operation-delay", "0.05") as address:
        agent, conversations = restore(address, args.agent)
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        per_process = [
            args.clients // args.processes + (i < args.clients % args.processes) for i in range(args.processes)
        ]
        procs = [
            ctx.Process(target=process_main, args=(address, agent, conversations, n, (args.seconds, args.warmup), out))
            for n in per_process
            if n
        ]
        for p in procs:
            p.start()
        results = [out.get(timeout=args.seconds + args.warmup + 120) for _ in range(args.clients)]
        for p in procs:
            p.join(timeout=30)
    total = sum(count for count, _ in results)
    latencies = sorted(x for _, lat in results for x in lat)
    rate = total / args.seconds
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0.0
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0
    print(
        f"DetectIntent: {total} requests in {args.seconds:.0f} s with {args.clients} concurrent clients "
        f"({args.processes} client processes, {os.cpu_count()} CPUs): {rate:.0f} requests/s; "
        f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms (agent {args.agent.name}; load average {load:.1f} at start)"
    )
    print(f"target >= 500 requests/s: {'met' if rate >= 500 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
