"""CXOperationGroupTrigger: the former name of :class:`.CXOperationTrigger` for several operations.

One trigger waits for one or several operations now; this alias keeps imports (and triggers
serialised by earlier releases under this path) working. It serialises as ``CXOperationTrigger``.
"""

from __future__ import annotations

from airflow_provider_cx.triggers.operation import CXOperationTrigger

CXOperationGroupTrigger = CXOperationTrigger

__all__ = ["CXOperationGroupTrigger"]
