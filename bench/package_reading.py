"""Peak memory and time of reading hostile and large agent packages (issue 18).

Run: ``.venv/bin/python bench/package_reading.py [--size-mb 100] [--files 99000] [--only ARCHIVE]``

Four archives are built in a temporary folder:

- ``lying-header``: one entry whose header says 1,000 bytes and which inflates to 1 GiB;
- ``ratio-162``: a 6 MB archive whose entries inflate about 162:1 (random bytes among spaces);
- ``package``: a generated agent package, a zip of ``--size-mb`` MB (sample agent plus intents of
  random-word phrases, as ``memory_export_restore.py`` builds it);
- ``files``: an agent of ``--files`` small files (intents of one phrase each).

Each is read the way three callers read it, each in a fresh process that imports what the caller
imports, reads the archive's bytes, resets the kernel's peak-RSS counter and then works:

- ``lint``: the CLI, ``python -m airflow_provider_cx.package lint PATH`` (in-process ``main``);
- ``scan``: the restore operator's check, ``scan_package(bytes)``;
- ``restore``: the emulator's RestoreAgent, ``read_package(bytes)``;
- ``restore x4``: four ``read_package(bytes)`` at once in threads (four requests in one emulator).

It prints the process's base RSS (after imports and the bytes), the peak, and the budget: the base
plus 3x the archives in flight (the zip bytes of every request being read); ``added/unzip`` is the
peak above the base per MB the archives declare unzipped. Time is wall-clock for the work only. No
figure here is asserted by a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_support import REPO
from memory_export_restore import generated_package, reset_peak_rss, status_kb

MB = 1 << 20
MODES = ("lint", "scan", "restore", "restore x4")


# --- the archives ----------------------------------------------------------------------------------
def _raw_zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    """A deflate zip of ``(name, deflate stream, crc, declared size)`` entries, headers as declared."""
    import struct

    body, central = bytearray(), bytearray()
    for name, stream, crc, declared in entries:
        raw, offset = name.encode(), len(body)
        sizes = (crc, len(stream), declared, len(raw), 0)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, *sizes) + raw + stream
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, *sizes, 0, 0, 0, 0, offset)
        central += raw
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(body), 0)
    return bytes(body + central + end)


def _deflated(block: bytes, times: int) -> tuple[bytes, int]:
    compressor, parts, crc = zlib.compressobj(9, zlib.DEFLATED, -15), [], 0
    for _ in range(times):
        parts.append(compressor.compress(block))
        crc = zlib.crc32(block, crc)
    return b"".join(parts) + compressor.flush(), crc


AGENT = b'{"displayName": "bench", "defaultLanguageCode": "en"}'


def lying_header() -> bytes:
    stream, crc = _deflated(b" " * MB, 1024)
    return _raw_zip([("agent.json", *_agent_entry()), ("flows/big.json", stream, crc, 1000)])


def ratio_162() -> bytes:
    block = os.urandom(640) + b" " * (160 * 640)
    times = (16 * MB) // len(block)
    stream, crc = _deflated(block, times)
    entries = [(f"assets/part{n}.bin", stream, crc, len(block) * times) for n in range(48)]
    return _raw_zip([("agent.json", *_agent_entry()), *entries])


def many_files(count: int) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("agent.json", AGENT)
        for n in range(count // 2):
            archive.writestr(f"intents/i{n}/i{n}.json", json.dumps({"name": str(n), "displayName": f"i{n}"}))
            phrase = json.dumps({"trainingPhrases": [{"parts": [{"text": f"hello {n}"}], "repeatCount": 1}]})
            archive.writestr(f"intents/i{n}/trainingPhrases/en.json", phrase)
    return buffer.getvalue()


def _agent_entry() -> tuple[bytes, int, int]:
    stream, crc = _deflated(AGENT, 1)
    return stream, crc, len(AGENT)


# --- one measurement in its own process -------------------------------------------------------------
def worker(mode: str, path: str) -> dict[str, Any]:
    """Run one ``mode`` on the archive at ``path`` in this (fresh) process and report its figures."""
    from airflow_provider_cx.package import PackageError, read_package
    from airflow_provider_cx.package.__main__ import main
    from airflow_provider_cx.package.io import scan_package
    from airflow_provider_cx.package.lint import lint_package  # noqa: F401  (the CLI imports it lazily)

    data = Path(path).read_bytes()
    base_kb = status_kb("VmRSS")
    resettable = reset_peak_rss()
    outcome, started = "read", time.perf_counter()
    try:
        if mode == "lint":
            code = main(["lint", path, "--fail-on", "none", "--output", os.devnull])
            outcome = f"exit {code}"
        elif mode == "scan":
            scan_package(data)
        elif mode == "restore":
            read_package(data)
        else:
            errors: list[BaseException] = []

            def one() -> None:
                try:
                    read_package(data)
                except PackageError as err:
                    errors.append(err)

            threads = [threading.Thread(target=one) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                raise errors[0]
    except PackageError as err:
        outcome = f"refused: {type(err).__name__}"
    seconds = time.perf_counter() - started
    return {
        "base_kb": base_kb,
        "peak_kb": status_kb("VmHWM"),
        "seconds": seconds,
        "outcome": outcome,
        "peak_reset": resettable,
    }


def measure(mode: str, path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--worker", mode, str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=1800,
    )
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["?"])[-1]}
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


# --- the table ----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=100, help="zip size of the generated package")
    parser.add_argument("--files", type=int, default=99_000, help="files of the many-files package")
    parser.add_argument("--only", choices=("lying-header", "ratio-162", "package", "files"), action="append")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    builders = {
        "lying-header": lying_header,
        "ratio-162": ratio_162,
        "package": lambda: generated_package(args.size_mb),
        "files": lambda: many_files(args.files),
    }
    header = f"{'archive':<13} {'reader':<10} {'zip MB':>7} {'unzip MB':>8} {'base MB':>8} {'peak MB':>8}"
    print(header + f" {'added':>7} {'budget MB':>9} {'within':>6} {'added/unzip':>11} {'seconds':>8}  outcome")
    with tempfile.TemporaryDirectory(prefix="cx-bench-reading-") as folder:
        for name, build in builders.items():
            if args.only and name not in args.only:
                continue
            path = Path(folder) / f"{name}.zip"
            path.write_bytes(build())
            size_mb = path.stat().st_size / MB
            with zipfile.ZipFile(path) as archive:  # as declared: the hostile archives' headers lie
                unzip_mb = sum(info.file_size for info in archive.infolist()) / MB
            for mode in MODES:
                figures = measure(mode, path)
                if "error" in figures:
                    print(f"{name:<13} {mode:<10} {size_mb:>7.1f}  failed: {figures['error']}")
                    continue
                base, peak = figures["base_kb"] / 1024, figures["peak_kb"] / 1024
                in_flight = size_mb * (4 if mode == "restore x4" else 1)
                budget = base + 3 * in_flight
                read = figures["outcome"] in ("read", "exit 0", "exit 1")  # refused: the declared size is moot
                per_unzip = f"{(peak - base) / (unzip_mb * (4 if mode == 'restore x4' else 1)):.2f}" if read else "-"
                print(
                    f"{name:<13} {mode:<10} {size_mb:>7.1f} {unzip_mb:>8.1f} {base:>8.1f} {peak:>8.1f}"
                    f" {peak - base:>7.1f} {budget:>9.1f} {'yes' if peak <= budget else 'NO':>6} {per_unzip:>11}"
                    f" {figures['seconds']:>8.2f}  {figures['outcome']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
