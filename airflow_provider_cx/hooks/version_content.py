"""Whether two flow versions hold the same content, from a CompareVersions response.

CompareVersions returns each version's content as JSON (the flow with the intents, entity types,
webhooks and route groups it uses). Two versions are the same when that content is, whatever the
key order, the indentation or the time each was made: fields that only stamp a time (``createTime``,
``updateTime``, ...) are left out, since a version and the draft it was made from differ there
without differing in what they serve.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Keys that stamp a time rather than describe content (JSON names of protobuf Timestamps).
_TIME_KEY = re.compile(r"[a-z]+Time|[a-z]+(?:_[a-z]+)*_time")


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_times(item) for key, item in value.items() if not _is_time_key(key)}
    if isinstance(value, list):
        return [_without_times(item) for item in value]
    return value


def _is_time_key(key: Any) -> bool:
    return isinstance(key, str) and bool(_TIME_KEY.fullmatch(key))


def content_of(content_json: str) -> Any:
    """The content of one side of a comparison, without time stamps; :class:`ValueError` if not JSON."""
    try:
        return _without_times(json.loads(content_json))
    except json.JSONDecodeError as error:
        raise ValueError(f"CompareVersions returned content that is not JSON: {error}") from None


def same_content(response: Any) -> bool:
    """Whether the base and target of a ``CompareVersionsResponse`` hold the same content."""
    return bool(content_of(response.base_version_content_json) == content_of(response.target_version_content_json))
