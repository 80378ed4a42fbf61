"""Docstrings shown on a terminal (``--help``, rule lists): reStructuredText markup dropped.

Docstrings mark literals as ``name`` for the API docs; a terminal shows the backquotes as noise.
"""

from __future__ import annotations

import re

_LITERAL = re.compile(r"``(.+?)``")
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain(text: str) -> str:
    """``text`` without reStructuredText literals and roles (``x`` and :func:`x` become x)."""
    return _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text))
