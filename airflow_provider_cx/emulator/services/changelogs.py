"""google.cloud.dialogflow.cx.v3.Changelogs: the change history ``change_history.py`` records.

ListChangelogs supports the documented filter: ``AND``-joined predicates on ``user_email``,
``resource``, ``display_name``, ``action``, ``type`` (with ``=`` or ``:``), and on ``create_time``
(RFC 3339) and ``create_time_epoch_seconds`` (with ``= < <= > >=``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import changelog as changelog_types

from airflow_provider_cx.emulator import change_history
from airflow_provider_cx.emulator.errors import InvalidArgument, NotFound
from airflow_provider_cx.emulator.names import parse
from airflow_provider_cx.emulator.rpc import Service, paginate, pb, rpc
from airflow_provider_cx.emulator.store import AgentRecord

Changelog = pb(changelog_types.Changelog)
Entry = dict[str, Any]
_TEXT_KEYS = {
    "user_email": "userEmail",
    "resource": "resource",
    "display_name": "displayName",
    "action": "action",
    "type": "type",
}
_TIME_KEYS = ("create_time", "create_time_epoch_seconds")
_PREDICATE = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|=|:|<|>)\s*(.+?)\s*$")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class ChangelogsService(Service):
    SERVICE = "google.cloud.dialogflow.cx.v3.Changelogs"

    @rpc(changelog_types.ListChangelogsRequest, changelog_types.ListChangelogsResponse)
    def list_changelogs(self, request: Any, context: grpc.ServicerContext) -> Any:
        name = parse(request.parent, (), "agent").agent_name
        keep = parse_filter(request.filter)
        with self.backend.store.read(name) as record:
            chosen = [e for e in change_history.entries(record) if keep(e)]
            page, token = paginate(chosen, request.page_size, request.page_token)
            messages = [changelog_message(record, e) for e in page]
        return pb(changelog_types.ListChangelogsResponse)(changelogs=messages, next_page_token=token)

    @rpc(changelog_types.GetChangelogRequest, changelog_types.Changelog)
    def get_changelog(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("changelogs",), "changelog")
        with self.backend.store.read(path.agent_name) as record:
            for entry in change_history.entries(record):
                if entry["id"] == path.segments[0][1]:
                    return changelog_message(record, entry)
        raise NotFound(f"changelog {request.name} not found")


def changelog_message(record: AgentRecord, entry: Entry) -> Any:
    message = Changelog(
        name=f"{record.name}/changelogs/{entry['id']}",
        user_email=entry["userEmail"],
        display_name=entry["displayName"],
        action=entry["action"],
        type_=entry["type"],
        resource=entry["resource"],
        language_code=entry.get("languageCode", ""),
    )
    message.create_time.FromNanoseconds(int(entry["createTime"] * 1e9))
    return message


def parse_filter(text: str) -> Callable[[Entry], bool]:
    """A predicate for the documented ListChangelogs filter ("" keeps everything)."""
    if not text.strip():
        return lambda _entry: True
    checks = [_predicate(part, text) for part in re.split(r"\s+AND\s+", text.strip())]
    return lambda entry: all(check(entry) for check in checks)


def _predicate(part: str, whole: str) -> Callable[[Entry], bool]:
    match = _PREDICATE.match(part)
    if match is None:
        raise InvalidArgument(f"changelog filter {whole!r}: cannot read {part!r}; expected <field> <op> <value>")
    key, op, raw = match.groups()
    value = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    if key in _TEXT_KEYS:
        if op not in ("=", ":"):
            raise InvalidArgument(f"changelog filter {whole!r}: {key} supports = and :, not {op}")
        field = _TEXT_KEYS[key]
        return lambda entry: str(entry.get(field, "")) == value
    if key in _TIME_KEYS:
        compare = _COMPARE.get("=" if op == ":" else op)
        assert compare is not None
        bound = _seconds(key, value, whole)
        return lambda entry: compare(float(entry["createTime"]), bound)
    raise InvalidArgument(
        f"changelog filter {whole!r}: unknown field {key!r}; use {', '.join([*_TEXT_KEYS, *_TIME_KEYS])}"
    )


def _seconds(key: str, value: str, whole: str) -> float:
    try:
        if key == "create_time_epoch_seconds":
            return float(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as err:
        raise InvalidArgument(f"changelog filter {whole!r}: {value!r} is not a valid {key}") from err


SERVICES = [ChangelogsService]
