"""CXDiffAgentPackagesOperator: what a release changes, as release notes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_cx import storage
from airflow_provider_cx.operators.base import CXArtifactIO, small_xcom


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

    Returns (XCom ``return_value``)::

        {"base": "<uri>", "target": "<uri>", "empty": bool,
         "summary": {"<resource type>": {"added": n, "removed": n, "changed": n}, ...},
         "reports": {"markdown": "<uri>", "json": "<uri>"}}    # {} without report_to
    :param gcp_conn_id: connection whose credentials read and write ``gs://`` (default
        ``google_cloud_default``, else Application Default Credentials).
    """

    template_fields: Sequence[str] = ("gcp_conn_id", "base", "target", "report_to", "title")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        base: storage.Location,
        target: storage.Location,
        report_to: storage.Location | None = None,
        title: str | None = None,
        report_name: str = "release-notes",
        gcp_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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
        reports = {}
        if self.report_to is not None:
            notes = diff.to_markdown(self.title)
            document = json.dumps({"base_uri": base_uri, "target_uri": target_uri, **diff.to_dict()}, indent=2)
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
