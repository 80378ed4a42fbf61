"""Peak memory of an export and a restore task on a generated 50 MB agent package.

Run: ``.venv/bin/python bench/memory_export_restore.py [--size-mb 50] [--package PATH] [--only export]``

The package is the sample agent plus generated intents whose training phrases are random words, so
it compresses about as badly as real text (the zip is ``--size-mb`` MB). The emulator runs in its
own process. Each task — CXRestoreAgentOperator from the zip file, then CXExportAgentOperator of the
restored agent to a file — runs in a fresh process that imports everything and makes one call with
the task's own hook (the baseline), resets the kernel's peak-RSS counter and runs ``execute``; it
reports the peak RSS during ``execute`` above the baseline and, in a second run, tracemalloc's peak
of Python allocations. Budget (issue 8): peak RSS of the task <= 3x the package, read as what the
task adds (the interpreter with Airflow, gRPC and the CX library takes ~155 MB before any work).

Both tasks also run with a ``gs://`` location (the emulator's offline Cloud Storage), where the API
reads or writes the package itself: the supported way to move large agents.

Side by side, another process measures the floor under the export: set up like the export task, it
receives one finished export's GetOperation response as raw bytes on the hook's own channel, with no
deserializer and no provider code, so its peak is what gRPC Python alone needs to receive the package.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_support import (
    CONN_ID,
    REPO,
    SAMPLE_AGENT,
    connection_env,
    emulator_process,
    new_agent,
    stock_client,
    task_context,
    use_airflow_home,
    wait_for,
)

MB = 1 << 20
PHRASES_PER_INTENT = 400
GCS_PACKAGE = "gs://bench/package.zip"
#: The same tasks on Cloud Storage: the API reads and writes the package there, not the worker.
GCS_LOCATIONS = {"restore gs://": GCS_PACKAGE, "export gs://": "gs://bench/export.zip"}


# --- the package -------------------------------------------------------------------------------------


def generated_package(size_mb: float, seed: int = 8) -> bytes:
    """The sample agent plus enough generated intents for a zip of about ``size_mb`` MB."""
    from airflow_provider_cx.package import Resource, new_id, read_package, write_zip

    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(alphabet, k=rng.randint(3, 11))) for _ in range(200_000)]
    package = read_package(SAMPLE_AGENT)
    base = len(write_zip(package))
    # Measured: one intent of 400 phrases of 12 random words zips to ~37 kB.
    count = max(1, round((size_mb * MB - base) / 37_000))
    for n in range(count):
        phrases = [
            {
                "id": new_id(),
                "parts": [{"text": " ".join(rng.choices(vocabulary, k=12))}],
                "repeatCount": 1,
                "languageCode": "en",
            }
            for _ in range(PHRASES_PER_INTENT)
        ]
        data = {"name": new_id(), "displayName": f"generated.intent.{n:05d}", "priority": 500000}
        package.intents.append(
            Resource("intents", data["displayName"], data, {"trainingPhrases/en.json": {"trainingPhrases": phrases}})
        )
    return write_zip(package)


# --- one task in its own process -----------------------------------------------------------------------


def status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss() -> bool:
    """Make VmHWM start again from the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def receive_raw(task: Any, operation: str) -> None:
    """GetOperation of ``operation`` on the task hook's channel, kept as the bytes gRPC hands over."""
    from google.longrunning import operations_pb2

    get_operation = task.hook.get_channel(task.agent_name).unary_unary(
        "/google.longrunning.Operations/GetOperation",
        request_serializer=operations_pb2.GetOperationRequest.SerializeToString,
        response_deserializer=None,
    )
    response = get_operation(operations_pb2.GetOperationRequest(name=operation), timeout=600)
    if len(response) < MB:
        raise RuntimeError(f"{operation} is not a finished export: its response has {len(response)} bytes")


def run_task(kind: str, agent: str, path: str, trace: bool) -> dict[str, Any]:
    """Run the task in this process; report memory above the post-import baseline.

    ``receive`` is the floor under ``export``: ``path`` names a finished export operation, received raw.
    """
    use_airflow_home()
    import tracemalloc

    from airflow_provider_cx.operators.export_agent import CXExportAgentOperator
    from airflow_provider_cx.operators.restore_agent import CXRestoreAgentOperator

    fast = {"gcp_conn_id": CONN_ID, "poll_interval": 0.2, "operation_timeout": 600}
    if kind.startswith("restore"):
        task = CXRestoreAgentOperator(task_id="restore", agent=agent, source=path, **fast)
    else:
        task = CXExportAgentOperator(task_id="export", agent=agent, destination=path, **fast)
    task.get_agent()  # the task's own hook: grpc and the CX library imported, its channel open
    context = task_context(task)
    baseline_kb = status_kb("VmRSS")
    resettable = reset_peak_rss()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    if kind == "receive":
        receive_raw(task, path)
    else:
        task.execute(context)
    seconds = time.perf_counter() - started
    traced_peak = tracemalloc.get_traced_memory()[1] if trace else None
    peak_kb = status_kb("VmHWM")
    return {
        "task": kind,
        "seconds": round(seconds, 2),
        "baseline_rss_mb": round(baseline_kb / 1024, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "peak_reset": resettable,
        "tracemalloc_peak_mb": round(traced_peak / MB, 1) if traced_peak is not None else None,
    }


def task_in_subprocess(kind: str, agent: str, path: Path | str, address: str, trace: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--task", kind, "--agent", agent, "--path", str(path)]
    if trace:
        command.append("--trace")
    env = {**os.environ, **connection_env(address)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"{kind} task failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_tasks(
    locations: dict[str, str], agent: str, address: str, trace: bool, only: str | None
) -> list[dict[str, Any]]:
    """Each task of ``{kind: location}`` (all, or those of kind ``only``), each in its own process."""
    return [
        task_in_subprocess(kind, agent, location, address, trace)
        for kind, location in locations.items()
        if only in (None, kind.split()[0])
    ]


def finished_export(address: str, agent: str) -> str:
    """The name of a finished ExportAgent operation of ``agent`` (started with a stock client)."""
    from google.cloud import dialogflowcx_v3 as cx

    operation = stock_client(address, cx.AgentsClient).export_agent(request={"name": agent})
    wait_for(operation)
    return operation.operation.name


# --- the bench ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=50.0)
    parser.add_argument("--package", type=Path, help="reuse (or create) the generated package at this path")
    parser.add_argument("--only", choices=("export", "restore"), help="run one of the two tasks")
    parser.add_argument("--task", choices=("export", "restore", *GCS_LOCATIONS, "receive"), help=argparse.SUPPRESS)
    parser.add_argument("--agent", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        print(json.dumps(run_task(args.task, args.agent, args.path, args.trace)))
        return

    use_airflow_home()
    folder = Path(tempfile.mkdtemp(prefix="cx-bench-memory-"))
    source = args.package or folder / "package.zip"
    if not source.is_file():
        started = time.perf_counter()
        source.write_bytes(generated_package(args.size_mb))
        print(f"generated the package in {time.perf_counter() - started:.1f}s")
    size_mb = source.stat().st_size / MB
    print(f"package: {size_mb:.1f} MB zip ({source})")
    rows: list[dict[str, Any]] = []
    local = {"restore": str(source), "export": str(folder / "export.zip")}
    with emulator_process("--operation-delay", "0.1") as address:  # in memory, as in every earlier run
        for trace in (False, True):
            agent = new_agent(address, source.read_bytes() if args.only == "export" else None)
            rows += run_tasks(local, agent, address, trace, args.only)
            if args.only in (None, "export"):
                rows.append(task_in_subprocess("receive", agent, finished_export(address, agent), address, trace))
    data_dir = folder / "emulator"  # the offline Cloud Storage is a folder of the emulator's data dir
    gcs_package = data_dir / "gcs" / GCS_PACKAGE.removeprefix("gs://")
    gcs_package.parent.mkdir(parents=True)
    gcs_package.write_bytes(source.read_bytes())
    with emulator_process("--operation-delay", "0.1", "--data-dir", str(data_dir)) as address:
        for trace in (False, True):
            agent = new_agent(address, source.read_bytes() if args.only == "export" else None)
            rows += run_tasks(GCS_LOCATIONS, agent, address, trace, args.only)
    header = ("task", "seconds", "baseline MB", "peak MB", "added MB", "x package", "tracemalloc MB")
    print(f"{header[0]:14} " + " ".join(f"{name:>{len(name) + 1}}" for name in header[1:]))
    for row in rows:
        added = row["peak_rss_mb"] - row["baseline_rss_mb"]
        traced = row["tracemalloc_peak_mb"]
        print(
            f"{row['task']:14} {row['seconds']:8.1f} {row['baseline_rss_mb']:12.1f} {row['peak_rss_mb']:8.1f} "
            f"{added:9.1f} {added / size_mb:10.2f} {traced if traced is not None else '-':>15}"
        )
    print("(rows with tracemalloc figures ran a second time under tracemalloc; budget: added <= 3.00 x package)")
    print("(receive: one finished export's GetOperation response received raw on the hook's channel, the floor")
    print(" under export: what gRPC Python alone holds while it receives the package, before any provider code)")


if __name__ == "__main__":
    main()
