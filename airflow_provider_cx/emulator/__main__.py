"""``cx-emulator`` / ``python -m airflow_provider_cx.emulator``: run the emulator until stopped.

Prints ``cx-emulator listening on HOST:PORT`` as its first line once the port is bound (``--port 0``
picks a free one; a port in use is an error), then where its state lives and the line to export
for clients (``export DIALOGFLOW_CX_EMULATOR_HOST=HOST:PORT``), and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from airflow_provider_cx import __version__
from airflow_provider_cx.emulator.errors import InvalidArgument
from airflow_provider_cx.emulator.faults import FaultPlan, FaultSpecError
from airflow_provider_cx.emulator.operations import check_delay
from airflow_provider_cx.emulator.persistence import DataDirError

# The variable the provider's hook reads (hooks/credentials.py); the emulator must not import hooks.
EMULATOR_HOST_ENV = "DIALOGFLOW_CX_EMULATOR_HOST"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cx-emulator",
        description="A local Dialogflow CX (google.cloud.dialogflow.cx.v3) emulator speaking gRPC.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default 0)")
    parser.add_argument(
        "--data-dir",
        help="keep state here so it survives a restart; gs://bucket/path maps to DATA_DIR/gcs/bucket/path "
        "(default: in memory, gs:// in a temporary directory)",
    )
    parser.add_argument("--tls-cert", help="PEM certificate chain to serve TLS with (needs --tls-key)")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--faults", help="fault plan: JSON text, @FILE or a JSON file path (see emulator/faults.py)")
    parser.add_argument(
        "--operation-delay", type=float, default=1.0, help="seconds before a long-running operation finishes"
    )
    parser.add_argument("--max-workers", type=int, default=32, help="server threads (default 32)")
    parser.add_argument("--log-level", default="WARNING", help="Python log level (default WARNING)")
    parser.add_argument("--version", action="version", version=f"cx-emulator {__version__}")
    return parser


def startup_lines(address: str, data_dir: str | None, secure: bool) -> list[str]:
    """What the emulator prints once it serves; the first line is what scripts wait for."""
    state = (
        f"cx-emulator data dir: {Path(data_dir).resolve()} (kept across restarts)"
        if data_dir
        else "cx-emulator data dir: none (state in memory; gs:// in a temporary directory)"
    )
    lines = [f"cx-emulator listening on {address}", state]
    if secure:
        lines.append("cx-emulator serves TLS: clients must trust --tls-cert")
    lines.append(f"export {EMULATOR_HOST_ENV}={address}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    try:
        check_delay(args.operation_delay)
    except InvalidArgument as err:
        parser.error(f"--operation-delay: {err.message}")
    try:
        faults = FaultPlan.parse(args.faults)
    except (FaultSpecError, OSError) as err:
        parser.error(f"--faults: {err}")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from airflow_provider_cx.emulator.server import EmulatorServer

    server = EmulatorServer(
        args.host,
        args.port,
        data_dir=args.data_dir,
        operation_delay=args.operation_delay,
        faults=faults,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        max_workers=args.max_workers,
    )
    try:
        server.start()
    except (DataDirError, OSError) as err:
        print(f"cx-emulator: {err}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("\n".join(startup_lines(server.address, args.data_dir, server.secure)), flush=True)
    stop.wait()
    server.stop(grace=2.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
