"""Parsing one JSON file of a package with its nesting bounded.

Python's JSON parser recurses once per level, so a file of a few kilobytes of ``[[[[...`` raises
``RecursionError`` (or, parsed, breaks every later walk of the data). The depth is therefore
measured on the raw bytes before parsing, in a handful of passes that run at C speed: escapes and
strings are removed, everything but brackets is dropped, and innermost ``[]`` / ``{}`` pairs are
removed one level per pass.
"""

from __future__ import annotations

import json
import re
from typing import Any

from airflow_provider_cx.package.model import PackageError, PackageLimitError

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST_PAIR = re.compile(rb"\[\]|\{\}")


def parse_json(path: str, content: bytes, max_depth: int) -> Any:
    """``content`` parsed; :class:`PackageError` if it is not JSON, :class:`PackageLimitError` if too deep."""
    if json_depth_exceeds(content, max_depth):
        raise PackageLimitError(f"{path} nests JSON deeper than {max_depth} levels (ReadLimits.max_json_depth)")
    try:
        return json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PackageError(f"{path} is not valid JSON: {err}") from err
    except RecursionError as err:  # only if max_depth is set above what the interpreter allows
        raise PackageLimitError(f"{path} nests JSON deeper than Python can parse") from err


def json_depth_exceeds(content: bytes, max_depth: int) -> bool:
    """Whether arrays and objects in ``content`` nest deeper than ``max_depth`` (malformed input: False)."""
    if content.count(b"[") + content.count(b"{") <= max_depth:
        return False
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", content)).translate(None, _NOT_BRACKETS)
    too_many_openers = re.compile(rb"[\[{]{%d}" % (max_depth + 1))
    for _ in range(max_depth):
        if not brackets:
            return False
        if too_many_openers.search(brackets):
            return True
        reduced = _INNERMOST_PAIR.sub(b"", brackets)
        if reduced == brackets:  # unbalanced: the parser names the error
            return False
        brackets = reduced
    # Every pass removed one level; anything left is deeper than max_depth.
    return bool(brackets) and _INNERMOST_PAIR.search(brackets) is not None
