"""CXDiffAgentPackagesOperator: what a release changes, as release notes."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_cx import storage
from airflow_provider_cx.operators.base import CXArtifactIO, small_xcom
from airflow_provider_cx.operators.errors import CXInvalidInputError


class CXDiffAgentPackagesOperator(CXArtifactIO, BaseOperator):
    """Compare two agent packages and write release notes (Markdown) and the full diff (JSON).

    Pure: reads both packages, calls no API.

    :param base: the package released before (e.g. an export of prod) (templated).
    :param target: the package to release (e.g. an export of dev) (templated). Both take a zip or
        unzipped folder: local path, ``file://`` or ``ObjectStoragePath``.
    :param report_to: folder receiving ``<report_name>.md`` and ``<report_name>.json``; ``None``
        writes nothing (templated).
    :param title: heading of the release notes (templated); default names both packages.
    :param report_name: file name stem of the reports.
    :param substitutions: the change list(s) of the stages' packages: the ``change_list`` ``json``
        URI of :class:`~airflow_provider_cx.operators.stage_package.CXStagePackageOperator`'s XCom,
        or a list of them (templated). The release notes get a "Stage substitutions" section with
        each stage's changes, and the JSON report a ``stage_substitutions`` key. Change lists hold
        masked values only (``***``); header and secret values are masked again here all the same.

    Returns (XCom ``return_value``)::

        {"base": "<uri>", "target": "<uri>", "empty": bool,
         "summary": {"<resource type>": {"added": n, "removed": n, "changed": n}, ...},
         "reports": {"markdown": "<uri>", "json": "<uri>"}}    # {} without report_to
    :param gcp_conn_id: connection whose credentials read and write ``gs://`` (default
        ``google_cloud_default``, else Application Default Credentials).
    """

    template_fields: Sequence[str] = ("gcp_conn_id", "base", "target", "report_to", "title", "substitutions")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        base: storage.Location,
        target: storage.Location,
        report_to: storage.Location | None = None,
        title: str | None = None,
        report_name: str = "release-notes",
        substitutions: storage.Location | Sequence[storage.Location] | None = None,
        gcp_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.substitutions = substitutions
        self.gcp_conn_id = gcp_conn_id
        self.base = base
        self.target = target
        self.report_to = report_to
        self.title = title
        self.report_name = report_name

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_cx.hooks.package_source import load_package
        from airflow_provider_cx.package.diff import diff_packages

        base, base_uri = load_package(self.base, "base", gcp_conn_id=self.gcp_conn_id)
        target, target_uri = load_package(self.target, "target", gcp_conn_id=self.gcp_conn_id)
        diff = diff_packages(base, target)
        stages = self.stage_substitutions()
        reports = {}
        if self.report_to is not None:
            notes = diff.to_markdown(self.title)
            record: dict[str, Any] = {"base_uri": base_uri, "target_uri": target_uri, **diff.to_dict()}
            if stages is not None:
                notes = notes.rstrip("\n") + "\n\n" + substitutions_markdown(stages)
                record["stage_substitutions"] = stages
            document = json.dumps(record, indent=2)
            reports = {
                "markdown": self.write_artifact(storage.join(self.report_to, f"{self.report_name}.md"), notes.encode()),
                "json": self.write_artifact(
                    storage.join(self.report_to, f"{self.report_name}.json"), (document + "\n").encode()
                ),
            }
        summary = {
            "base": base_uri,
            "target": target_uri,
            "empty": diff.is_empty,
            "summary": diff.summary(),
            "reports": reports,
        }
        self.log.info("diff %s -> %s: %s", base_uri, target_uri, summary["summary"] or "no changes")
        return small_xcom(summary)

    def stage_substitutions(self) -> list[dict[str, Any]] | None:
        """The stages' change lists, read and masked; ``None`` without ``substitutions``."""
        if self.substitutions is None:
            return None
        sources = _locations(self.substitutions)
        stages = []
        for source in sources:
            try:
                document = json.loads(self.read_artifact(source))
            except (FileNotFoundError, storage.StorageLocationError, UnicodeDecodeError, ValueError) as error:
                raise CXInvalidInputError(f"substitutions: {error}") from None
            stages.append(stage_changes(document, storage.uri_of(source)))
        return stages


def _locations(value: Any) -> list[storage.Location]:
    """One location or a list of them (a rendered template is one string)."""
    if isinstance(value, str | os.PathLike) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def stage_changes(document: Any, uri: str) -> dict[str, Any]:
    """One stage's change list (a stage package's ``.changes.json``), checked and masked again."""
    from airflow_provider_cx.package.redact import REDACTED

    changes = document.get("changes") if isinstance(document, dict) else None
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise CXInvalidInputError(f"substitutions: {uri} is not a stage package's change list (no 'changes' list)")
    keys = ("path", "resource", "field", "before", "after")
    rows = []
    for change in changes:
        row = {key: str(change.get(key, "")) for key in keys}
        for side in ("before", "after"):  # defence in depth: never trust a file to be masked
            row[side] = _masked(row["field"], row[side], REDACTED)
        rows.append(row)
    return {"stage": str(document.get("stage", "")), "source": uri, "package": document.get("uri"), "changes": rows}


def _masked(field: str, value: str, redacted: str) -> str:
    """``value`` of a change to ``field``, with credentials masked (header values keep their names)."""
    from airflow_provider_cx.package.redact import SECRET_FIELDS

    segments = [part.split("[", 1)[0].lower() for part in field.replace("['", ".").split(".")]
    if value in ("(unset)", redacted):
        return value
    if set(segments) & SECRET_FIELDS:
        return redacted
    if {"requestheaders", "headers"} & set(segments):
        if segments[-1] == "key":
            return value
        try:
            headers = json.loads(value)
        except ValueError:
            return redacted
        if isinstance(headers, list) and all(isinstance(h, dict) for h in headers):
            return json.dumps([{**h, "value": redacted} if "value" in h else h for h in headers])
        if isinstance(headers, dict):
            return json.dumps(dict.fromkeys(headers, redacted))
        return redacted
    return value


def substitutions_markdown(stages: Sequence[Mapping[str, Any]]) -> str:
    """The "Stage substitutions" section of the release notes: one table per stage."""
    lines = ["## Stage substitutions", ""]
    if not stages:
        return "\n".join([*lines, "No stage profiles.", ""])
    for stage in stages:
        lines += [f"### {stage['stage'] or 'stage'} ({len(stage['changes'])} change(s))", ""]
        if not stage["changes"]:
            lines += ["No changes.", ""]
            continue
        lines += ["| file | field | before | after |", "| --- | --- | --- | --- |"]
        lines += [
            f"| `{c['path']}` | `{c['field']}` | {_cell(c['before'])} | {_cell(c['after'])} |" for c in stage["changes"]
        ]
        lines.append("")
    return "\n".join(lines)


def _cell(value: str) -> str:
    return "`" + value.replace("|", "\\|").replace("`", "'") + "`"
