"""BatchRunTestCases of 1,000 test cases x 5 turns on the emulator, through the real gRPC API.

Run: ``.venv/bin/python bench/batch_run_test_cases.py [--cases 1000] [--agent DIR]``

The emulator runs as its own process with ``--operation-delay 0``. The agent's test cases of at
least 5 turns (cut to 5) are imported ``--cases`` times over under unique names with ImportTestCases;
then one BatchRunTestCases runs them all and the script prints the time from the request to the
finished operation (polled every 20 ms) and how many passed. Target (issue 4): <= 10 s.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_support import SAMPLE_AGENT, emulator_process, stock_client

TURNS = 5


def synthetic_cases(agent_dir: Path, count: int) -> list[dict[str, Any]]:
    """``count`` test cases of exactly 5 turns, cycling through the agent's cases of 5 turns or more."""
    from airflow_provider_cx.package import read_package

    long_enough = [
        t.data for t in read_package(agent_dir).test_cases if len(t.data.get("testCaseConversationTurns", [])) >= TURNS
    ]
    if not long_enough:
        raise SystemExit(f"{agent_dir} has no test case of {TURNS} turns or more")
    cases = []
    for i in range(count):
        case = copy.deepcopy(long_enough[i % len(long_enough)])
        case["displayName"] = f"{case['displayName']} #{i}"
        case["testCaseConversationTurns"] = case["testCaseConversationTurns"][:TURNS]
        cases.append(case)
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--agent", type=Path, default=SAMPLE_AGENT)
    args = parser.parse_args()

    from google.api_core.future.polling import DEFAULT_POLLING
    from google.cloud import dialogflowcx_v3 as cx

    from airflow_provider_cx.emulator.testing import create_test_agent, package_bytes, wait_for

    polling = DEFAULT_POLLING.with_delay(initial=0.02, maximum=0.02, multiplier=1.0).with_timeout(600)
    load = os.getloadavg()[0]
    with emulator_process("--operation-delay", "0") as address:
        agents, test_cases = stock_client(address, cx.AgentsClient), stock_client(address, cx.TestCasesClient)
        agent = create_test_agent(agents, f"batch-{uuid.uuid4().hex[:6]}")
        wait_for(agents.restore_agent(request={"name": agent.name, "agent_content": package_bytes(args.agent)}))
        existing = [tc.name for tc in test_cases.list_test_cases(parent=agent.name)]
        test_cases.batch_delete_test_cases(request={"parent": agent.name, "names": existing})
        content = json.dumps({"testCases": synthetic_cases(args.agent, args.cases)}).encode()
        names = list(wait_for(test_cases.import_test_cases(request={"parent": agent.name, "content": content})).names)

        started = time.perf_counter()
        op = test_cases.batch_run_test_cases(request={"parent": agent.name, "test_cases": names})
        results = op.result(polling=polling).results
        elapsed = time.perf_counter() - started
    passed = sum(r.test_result == cx.TestResult.PASSED for r in results)
    print(
        f"BatchRunTestCases: {len(results)} test cases x {TURNS} turns in {elapsed:.2f} s "
        f"({len(results) * TURNS / elapsed:.0f} turns/s); {passed} passed (agent {args.agent.name}; "
        f"load average {load:.1f} at start)"
    )
    print(f"target <= 10 s: {'met' if elapsed <= 10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
