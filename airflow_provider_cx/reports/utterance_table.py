"""The smoke-test table of CXDetectIntentOperator: utterances with the intent and page they should reach.

Rows come as a list of dicts, or as CSV (a header row) or JSON (a list of objects, or
``{"utterances": [...]}``) text. Columns: ``text`` (required), ``expected_intent`` and
``expected_page`` (display names; at least one per row), ``language_code`` (optional). An empty
expectation is not checked. Each row's :class:`Answer` is what the agent did with it. Pure parsing:
no Airflow, no network.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_cx.hooks.errors import CXInvalidInputError

COLUMNS = ("text", "expected_intent", "expected_page", "language_code")
#: Longest utterance the API accepts (characters).
MAX_TEXT = 256
MAX_ROWS = 10_000


@dataclass(frozen=True)
class Utterance:
    text: str
    expected_intent: str = ""
    expected_page: str = ""
    language_code: str = ""


@dataclass(frozen=True)
class Answer:
    """What the agent did with one utterance."""

    utterance: Utterance
    intent: str
    page: str
    seconds: float | None = None  # how long the DetectIntent call took

    @property
    def passed(self) -> bool:
        expected = self.utterance
        return (not expected.expected_intent or expected.expected_intent == self.intent) and (
            not expected.expected_page or expected.expected_page == self.page
        )


def table_format(source: str) -> str:
    """``"csv"`` or ``"json"``, from the suffix of a file name or URI."""
    suffix = source.lower().rsplit(".", 1)[-1] if "." in source.rsplit("/", 1)[-1] else ""
    if suffix not in ("csv", "json"):
        raise CXInvalidInputError(f"utterances: {source} must be a .csv or .json file")
    return suffix


def rows_from_text(content: str, source: str) -> list[Utterance]:
    """Rows of a CSV or JSON document; ``source`` (a file name or URI) picks the format by its suffix."""
    if table_format(source) == "json":
        try:
            data = json.loads(content)
        except json.JSONDecodeError as error:
            raise CXInvalidInputError(f"utterances: {source} is not valid JSON: {error}") from None
        if isinstance(data, Mapping) and "utterances" in data:
            data = data["utterances"]
        if not isinstance(data, list):
            raise CXInvalidInputError(
                f"utterances: {source} must hold a JSON list of objects (or {{'utterances': [...]}})"
            )
        return rows_from_records(data, source)
    reader = csv.DictReader(io.StringIO(content))
    if not reader.fieldnames or "text" not in [name.strip() for name in reader.fieldnames]:
        raise CXInvalidInputError(f"utterances: {source} needs a header row with a 'text' column")
    return rows_from_records(list(reader), source)


def rows_from_records(records: Iterable[Any], source: str = "utterances") -> list[Utterance]:
    """Check and convert dict rows; the error names the row (1-based) and what is wrong with it."""
    rows = []
    for number, record in enumerate(records, start=1):
        if number > MAX_ROWS:
            raise CXInvalidInputError(f"{source}: more than {MAX_ROWS} rows; split the table")
        rows.append(_row(record, number, source))
    if not rows:
        raise CXInvalidInputError(f"{source}: the table has no rows")
    return rows


def _row(record: Any, number: int, source: str) -> Utterance:
    where = f"{source} row {number}"
    if not isinstance(record, Mapping):
        raise CXInvalidInputError(f"{where}: expected an object with a 'text' key, got {record!r}")
    data = {str(key).strip(): value for key, value in record.items() if key is not None}
    unknown = sorted(set(data) - set(COLUMNS))
    if unknown:
        raise CXInvalidInputError(f"{where}: unknown column(s) {unknown}; the columns are {list(COLUMNS)}")
    values = {}
    for column in COLUMNS:
        value = data.get(column)
        if value is not None and not isinstance(value, str):
            raise CXInvalidInputError(f"{where}: {column} must be text, got {value!r}")
        values[column] = (value or "").strip()
    if not values["text"]:
        raise CXInvalidInputError(f"{where}: text is empty")
    if len(values["text"]) > MAX_TEXT:
        raise CXInvalidInputError(f"{where}: text has {len(values['text'])} characters; the limit is {MAX_TEXT}")
    if not values["expected_intent"] and not values["expected_page"]:
        raise CXInvalidInputError(f"{where}: give expected_intent, expected_page or both")
    return Utterance(**values)
