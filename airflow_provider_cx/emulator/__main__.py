"""``cx-emulator`` / ``python -m airflow_provider_cx.emulator`` (completed in a later step)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("the cx-emulator command line is not available yet")
