"""Servicers, one module per API service (agents.py, flows.py, pages.py …).

Each module lists its servicer classes in a module-level ``SERVICES``; :func:`discover` imports
every module of this package, so adding a service means adding a module here — nothing else to
register. Servicer classes subclass :class:`airflow_provider_cx.emulator.rpc.Service`.
"""

from __future__ import annotations

import importlib
import pkgutil

from airflow_provider_cx.emulator.rpc import Service


def discover() -> list[type[Service]]:
    """Every servicer class of every module in this package, in module-name order."""
    classes: list[type[Service]] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        classes.extend(getattr(module, "SERVICES", []))
    return classes
