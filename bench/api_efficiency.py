"""API efficiency: RPCs per operator run and per test-case batch; GetOperation calls during a 30 s wait.

Run: ``.venv/bin/python bench/api_efficiency.py [--wait 30] [--triggers 32]``

All counts come from the emulator's own per-method counters (its admin service), so they are what
reached the server, retries included. The emulators run in their own processes and the operators
use their default polling (no test shortcuts).

1. Every operator once, in pipeline order, on the sample agent (operations take 2 s).
2. A test-case batch (CXRunTestCasesOperator) of the sample agent's 11 test cases and of 220.
3. An export whose operation takes ``--wait`` seconds (emulator ``--operation-delay``): waited for
   in the worker (the hook's backoff, capped at ``poll_interval``), and deferred (the worker starts
   the export and returns; the trigger polls every ``poll_interval`` in the triggerer's event loop;
   the worker resumes with one GetOperation). Target (issue 8): <= 10 GetOperation calls per wait.
   Then ``--triggers`` deferred waits at once in one event loop on one thread, to show that a
   deferred wait costs the triggerer a coroutine, not a worker slot or a thread.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import airflow_provider_cx  # noqa: F401, I001  (first: gRPC fork support is decided before grpc loads)
from bench_support import (
    CONN_ID,
    admin_client,
    connection_env,
    emulator_process,
    new_agent,
    sample_package_bytes,
    task_context,
    use_airflow_home,
)

GET_OPERATION = "/google.longrunning.Operations/GetOperation"
UTTERANCES = [
    {"text": "what's my balance", "expected_intent": "account.balance"},
    {"text": "I lost my credit card", "expected_intent": "card.lost"},
    {"text": "find a branch near 10001", "expected_intent": "branch.find"},
    {"text": "send 50 dollars to Alice", "expected_intent": "transfer.start"},
    {"text": "talk to a human", "expected_intent": "agent.handoff"},
    {"text": "hello", "expected_intent": "Default Welcome Intent"},
    {"text": "bye", "expected_intent": "conversation.end"},
    {"text": "help", "expected_intent": "help"},
]


def short(method: str) -> str:
    service, _, name = method.strip("/").partition("/")
    return f"{service.rsplit('.', 1)[-1]}.{name}"


class Counted:
    """Counts the RPCs the server saw while a block ran (admin counters, diffed)."""

    def __init__(self, admin: Any) -> None:
        self.admin = admin
        self.calls: Counter[str] = Counter()

    def __enter__(self) -> Counted:
        self.before = Counter(self.admin.counts())
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self.started
        self.calls = Counter(self.admin.counts()) - self.before

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def breakdown(self) -> str:
        return ", ".join(f"{short(m)} {n}" for m, n in sorted(self.calls.items(), key=lambda item: -item[1]))


def run(task: Any) -> Any:
    from airflow.sdk.exceptions import AirflowFailException

    try:
        return task.execute(task_context(task))
    except AirflowFailException as gate:  # a failed gate still made its calls
        return {"gate": str(gate)[:80]}


# --- 1. one run of each operator ---------------------------------------------------------------------


def operator_runs(address: str, folder: Path) -> None:
    from airflow_provider_cx.operators.calculate_coverage import CXCalculateCoverageOperator
    from airflow_provider_cx.operators.create_versions import CXCreateVersionsOperator
    from airflow_provider_cx.operators.deploy_environment import CXDeployEnvironmentOperator
    from airflow_provider_cx.operators.detect_intent import CXDetectIntentOperator
    from airflow_provider_cx.operators.diff_packages import CXDiffAgentPackagesOperator
    from airflow_provider_cx.operators.export_agent import CXExportAgentOperator
    from airflow_provider_cx.operators.lint_package import CXLintAgentPackageOperator
    from airflow_provider_cx.operators.restore_agent import CXRestoreAgentOperator
    from airflow_provider_cx.operators.rollback_environment import CXRollbackEnvironmentOperator
    from airflow_provider_cx.operators.run_test_cases import CXRunTestCasesOperator
    from airflow_provider_cx.operators.validate_agent import CXValidateAgentOperator

    admin = admin_client(address)
    agent = new_agent(address)
    (folder / "release.zip").write_bytes(sample_package_bytes())
    common = {"agent": agent, "gcp_conn_id": CONN_ID}
    state: dict[str, Any] = {}
    steps = [
        (
            "restore (with backup)",
            lambda: CXRestoreAgentOperator(
                task_id="restore", source=str(folder / "release.zip"), backup_to=str(folder / "backup.zip"), **common
            ),
        ),
        (
            "export (draft)",
            lambda: CXExportAgentOperator(task_id="export", destination=str(folder / "draft.zip"), **common),
        ),
        ("lint package", lambda: CXLintAgentPackageOperator(task_id="lint", source=str(folder / "draft.zip"))),
        (
            "diff packages",
            lambda: CXDiffAgentPackagesOperator(
                task_id="diff", base=str(folder / "backup.zip"), target=str(folder / "draft.zip")
            ),
        ),
        ("validate", lambda: CXValidateAgentOperator(task_id="validate", fail_on=None, **common)),
        (
            "create versions (4 flows)",
            lambda: CXCreateVersionsOperator(task_id="versions", release_id=f"r-{uuid.uuid4().hex[:6]}", **common),
        ),
        (
            "deploy: create environment",
            lambda: CXDeployEnvironmentOperator(
                task_id="deploy", environment="staging", versions=state["versions"], create_if_missing=True, **common
            ),
        ),
        (
            "create versions again",
            lambda: CXCreateVersionsOperator(task_id="versions2", release_id=f"r-{uuid.uuid4().hex[:6]}", **common),
        ),
        (
            "deploy: update environment",
            lambda: CXDeployEnvironmentOperator(
                task_id="deploy2", environment="staging", versions=state["versions"], **common
            ),
        ),
        (
            "run 11 test cases (env)",
            lambda: CXRunTestCasesOperator(task_id="tests", environment="staging", min_pass_rate=0, **common),
        ),
        ("coverage", lambda: CXCalculateCoverageOperator(task_id="coverage", **common)),
        (
            "detect intent (8 rows)",
            lambda: CXDetectIntentOperator(
                task_id="smoke", utterances=UTTERANCES, environment="staging", min_accuracy=0, **common
            ),
        ),
        (
            "export (environment)",
            lambda: CXExportAgentOperator(
                task_id="export_env", environment="staging", destination=str(folder / "env.zip"), **common
            ),
        ),
        (
            "rollback environment",
            lambda: CXRollbackEnvironmentOperator(
                task_id="rollback", environment="staging", previous_configuration=state["deploy"], **common
            ),
        ),
    ]
    print(f"{'operator run':28} {'RPCs':>5} {'GetOp':>6} {'secs':>5}  calls")
    for label, make in steps:
        task = make()
        with Counted(admin) as counted:
            result = run(task)
        if task.task_id.startswith("versions"):
            state["versions"] = result
        if task.task_id == "deploy2":
            state["deploy"] = result
        get_operation = counted.calls.get(GET_OPERATION, 0)
        print(f"{label:28} {counted.total:5} {get_operation:6} {counted.seconds:5.1f}  {counted.breakdown()}")


# --- 2. test-case batches ---------------------------------------------------------------------------------


def many_test_cases(copies: int) -> bytes:
    """The sample agent with its test cases repeated ``copies`` times under new names."""
    from bench_support import SAMPLE_AGENT

    from airflow_provider_cx.package import Resource, new_id, read_package, write_zip

    package = read_package(SAMPLE_AGENT)
    originals = list(package.test_cases)
    for n in range(1, copies):
        for case in originals:
            data = {**copy.deepcopy(case.data), "name": new_id(), "displayName": f"{case.display_name} #{n}"}
            package.test_cases.append(Resource("testCases", f"{case.stem} {n}", data))
    return write_zip(package)


def test_case_batches(address: str) -> None:
    from airflow_provider_cx.operators.run_test_cases import CXRunTestCasesOperator

    admin = admin_client(address)
    print(f"\n{'test-case batch':28} {'RPCs':>5} {'per case':>9} {'secs':>5}  calls")
    for copies in (1, 20):
        agent = new_agent(address, many_test_cases(copies))
        task = CXRunTestCasesOperator(task_id="tests", agent=agent, gcp_conn_id=CONN_ID, min_pass_rate=0)
        with Counted(admin) as counted:
            result = run(task)
        cases = result.get("total", 0)
        label, per_case = f"{cases} test cases", counted.total / max(cases, 1)
        print(f"{label:28} {counted.total:5} {per_case:9.3f} {counted.seconds:5.1f}  {counted.breakdown()}")


# --- 3. a long operation: in the worker, deferred, and many deferred at once ------------------------------


def first_event(trigger: Any) -> dict[str, Any]:
    async def take() -> Any:
        agen = trigger.run()
        try:
            return (await agen.__anext__()).payload
        finally:
            await agen.aclose()

    return asyncio.run(take())


def rebuilt(trigger: Any) -> Any:
    """The trigger as the triggerer gets it: rebuilt from ``serialize()``."""
    from airflow.sdk.module_loading import import_string

    path, kwargs = trigger.serialize()
    return import_string(path)(**kwargs)


def deferred_wait(address: str, agent: str, folder: Path, out: dict[str, Any]) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_cx.operators.export_agent import CXExportAgentOperator

    admin = admin_client(address)
    task = CXExportAgentOperator(
        task_id="export", agent=agent, destination=str(folder / "deferred.zip"), gcp_conn_id=CONN_ID, deferrable=True
    )
    context = task_context(task)
    with Counted(admin) as worker_start:
        try:
            task.execute(context)
            raise RuntimeError("the task did not defer")
        except TaskDeferred as deferred:
            pending = deferred
    with Counted(admin) as triggerer:
        event = first_event(rebuilt(pending.trigger))
    with Counted(admin) as worker_resume:
        getattr(task, pending.method_name)(context, event=event, **(pending.kwargs or {}))
    out.update(start=worker_start, trigger=triggerer, resume=worker_resume, status=event["status"])


def many_deferred(address: str, agents: list[str], folder: Path) -> tuple[Counted, float, int, list[str]]:
    """Start one deferred export per agent, then run all their triggers in one event loop on this thread."""
    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_cx.operators.export_agent import CXExportAgentOperator

    triggers = []
    for n, agent in enumerate(agents):
        task = CXExportAgentOperator(
            task_id=f"export_{n}",
            agent=agent,
            destination=str(folder / f"m{n}.zip"),
            gcp_conn_id=CONN_ID,
            deferrable=True,
        )
        try:
            task.execute(task_context(task))
        except TaskDeferred as deferred:
            triggers.append(rebuilt(deferred.trigger))

    async def all_events() -> list[dict[str, Any]]:
        async def one(trigger: Any) -> dict[str, Any]:
            agen = trigger.run()
            try:
                return (await agen.__anext__()).payload
            finally:
                await agen.aclose()

        return await asyncio.gather(*(one(t) for t in triggers))

    threads_before = threading.active_count()
    admin = admin_client(address)
    with Counted(admin) as counted:
        events = asyncio.run(all_events())
    return counted, counted.seconds, threading.active_count() - threads_before, [e["status"] for e in events]


def long_operations(wait: float, triggers: int, folder: Path) -> None:
    results: dict[str, Any] = {}
    with (
        emulator_process("--operation-delay", str(wait)) as sync_address,
        emulator_process("--operation-delay", str(wait)) as deferred_address,
    ):
        sync_agent = new_agent(sync_address, sample_package_bytes())
        deferred_agent = new_agent(deferred_address, sample_package_bytes())
        os.environ.update(connection_env(sync_address, "cx_sync"))
        worker = threading.Thread(
            target=lambda: sync_wait_on("cx_sync", sync_address, sync_agent, folder, results), daemon=True
        )
        worker.start()
        os.environ.update(connection_env(deferred_address))
        deferred_wait(deferred_address, deferred_agent, folder, results)
        worker.join()
        print(f"\nan export whose operation takes {wait:g} s (operators' defaults: poll_interval 10 s)")
        print(f"{'':42} {'GetOperation':>12} {'RPCs':>5} {'seconds':>8}")
        results["worker"] = results.pop("sync")
        for label, key in (
            ("waited in the worker (hook backoff)", "worker"),
            ("deferred: worker, start to TaskDeferred", "start"),
            ("deferred: triggerer, polling", "trigger"),
            ("deferred: worker, resume to result", "resume"),
        ):
            part = results[key]
            print(f"{label:42} {part.calls.get(GET_OPERATION, 0):12} {part.total:5} {part.seconds:8.1f}")
        held = results["start"].seconds + results["resume"].seconds
        total = held + results["trigger"].seconds
        print(f"deferred: the worker slot was held {held:.2f} s of {total:.1f} s (event: {results['status']})")

        agents = [new_agent(deferred_address) for _ in range(triggers)]  # empty agents: no restore to wait for
        counted, seconds, new_threads, statuses = many_deferred(deferred_address, agents, folder)
        get_operation = counted.calls.get(GET_OPERATION, 0)
        print(
            f"{triggers} deferred waits in one event loop: {seconds:.1f} s, {get_operation} GetOperation "
            f"({get_operation / triggers:.1f} per wait), {new_threads:+d} threads, events: {dict(Counter(statuses))}"
        )


def sync_wait_on(conn_id: str, address: str, agent: str, folder: Path, out: dict[str, Any]) -> None:
    from airflow_provider_cx.operators.export_agent import CXExportAgentOperator

    admin = admin_client(address)
    task = CXExportAgentOperator(
        task_id="export", agent=agent, destination=str(folder / "sync.zip"), gcp_conn_id=conn_id
    )
    with Counted(admin) as counted:
        run(task)
    out["sync"] = counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wait", type=float, default=30.0, help="seconds the long operation takes")
    parser.add_argument("--triggers", type=int, default=32, help="deferred waits run at once")
    parser.add_argument("--skip-long", action="store_true", help="only parts 1 and 2")
    parser.add_argument("--only-long", action="store_true", help="only part 3")
    args = parser.parse_args()
    use_airflow_home()
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="cx-bench-api-"))
    if not args.only_long:
        with emulator_process("--operation-delay", "2") as address:
            os.environ.update(connection_env(address))
            operator_runs(address, folder)
            test_case_batches(address)
    if not args.skip_long:
        long_operations(args.wait, args.triggers, folder)


if __name__ == "__main__":
    main()
