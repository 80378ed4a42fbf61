"""Make gRPC survive ``fork()``: why the provider sets ``GRPC_ENABLE_FORK_SUPPORT=1``.

Airflow forks: the task supervisor forks the task process, executors fork workers, and operators use
``multiprocessing`` with the fork start method. gRPC's core keeps background threads and sockets
that a forked child inherits in a broken state. Unless gRPC's fork handlers are on, a child that
makes even a brand-new channel after its parent used one can hang or fail: with grpcio 1.85 on our
CI machine all 20 of 20 forked children hung (an RPC deadline does not help: the timer thread is
gone); other grpcio builds fail 1 or 2 children in 20 with ``503 Stream removed (sendmsg: Wrong
file descriptor generation)``. With ``GRPC_ENABLE_FORK_SUPPORT=1`` in the environment *before grpc
is first imported*, gRPC resets its state in the child and 20 of 20 succeed.

So importing ``airflow_provider_cx`` calls :func:`enable_grpc_fork_support`, which sets the variable
when grpc is not imported yet and the user has not chosen a value (an explicit ``0`` is respected).
If grpc was imported earlier by something else, setting it would be too late and half-effective, so
nothing is changed and the hook logs a warning when it builds its first channel. The variable is
inherited by subprocesses, which is what we want for Airflow's workers too. The hook also never
reuses a channel across processes (its clients are cached per ``os.getpid()``).
"""

from __future__ import annotations

import os
import sys

FORK_SUPPORT_ENV = "GRPC_ENABLE_FORK_SUPPORT"


def enable_grpc_fork_support() -> bool:
    """Set ``GRPC_ENABLE_FORK_SUPPORT=1`` if grpc is not imported yet; return whether it is now set on."""
    if "grpc" not in sys.modules:
        os.environ.setdefault(FORK_SUPPORT_ENV, "1")
    return os.environ.get(FORK_SUPPORT_ENV, "").lower() in ("1", "true", "yes")


def grpc_fork_support_active() -> bool | None:
    """Whether the imported grpc runs its fork handlers; ``None`` when this grpc cannot tell."""
    try:
        from grpc._cython import cygrpc
    except ImportError:
        return None
    is_enabled = getattr(cygrpc, "is_fork_support_enabled", None)
    return bool(is_enabled()) if callable(is_enabled) else None
