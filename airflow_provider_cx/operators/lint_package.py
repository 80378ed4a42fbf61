"""CXLintAgentPackageOperator: lint an agent export before it reaches an API call."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_cx import storage
from airflow_provider_cx.operators.base import CXArtifactIO, small_xcom
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError

REPORT_EXTENSIONS = {"json": "json", "markdown": "md", "junit": "xml"}
_QUOTED = 10


class CXLintAgentPackageOperator(CXArtifactIO, BaseOperator):
    """Lint the agent package at ``source`` and fail when a finding reaches ``fail_on``.

    Pure: reads the package, calls no API. The rules, their configuration and the report formats
    are those of :mod:`airflow_provider_cx.package.lint` (and the ``lint`` CLI).

    :param source: a package zip or unzipped folder: local path, ``file://`` or ``ObjectStoragePath``
        (``gs://`` needs an fsspec backend for GCS) (templated) — e.g. an export's ``uri``.
    :param fail_on: ``"ERROR"``, ``"WARNING"`` or ``"INFO"``: the least severe level that fails (templated).
    :param config: lint configuration: a mapping (see ``LintConfig.from_dict``), a path to a JSON/TOML
        file, or a ``LintConfig``; ``None`` for the defaults (templated when a string or mapping).
    :param report_to: folder receiving ``<report_name>.json`` / ``.md`` / ``.xml`` (templated).
    :param report_formats: which of ``json``, ``markdown``, ``junit`` to write.
    :param report_name: file name stem of the reports.

    Returns (XCom ``return_value``; also pushed when the gate fails)::

        {"source": "<uri>", "fail_on": "ERROR", "failed": bool, "findings": n,
         "counts": {"ERROR": n, "WARNING": n, "INFO": n}, "by_rule": {"<rule id>": n, ...},
         "blocking": ["<message>", ...],                       # first 10 at or above fail_on
         "reports": {"json": "<uri>", "markdown": "<uri>", "junit": "<uri>"}}   # {} without report_to

    Raises :class:`CXGateFailedError` (no retry) when the gate fails.
    :param gcp_conn_id: connection whose credentials read and write ``gs://`` (default
        ``google_cloud_default``, else Application Default Credentials).
    """

    template_fields: Sequence[str] = ("gcp_conn_id", "source", "fail_on", "config", "report_to")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        source: storage.Location,
        fail_on: str = "ERROR",
        config: Any = None,
        report_to: storage.Location | None = None,
        report_formats: Sequence[str] = ("json", "markdown", "junit"),
        report_name: str = "lint-report",
        gcp_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gcp_conn_id = gcp_conn_id
        self.source = source
        self.fail_on = fail_on
        self.config = config
        self.report_to = report_to
        self.report_formats = tuple(report_formats)
        self.report_name = report_name

    def lint_config(self) -> Any:
        from airflow_provider_cx.package.lint import LintConfig, LintConfigError

        try:
            if self.config is None:
                return LintConfig()
            if isinstance(self.config, LintConfig):
                return self.config
            if isinstance(self.config, Mapping):
                return LintConfig.from_dict(self.config)
            if isinstance(self.config, (str, os.PathLike)):
                return LintConfig.from_file(storage.local_path(self.config))
        except LintConfigError as error:
            raise CXInvalidInputError(f"config: {error}") from None
        raise CXInvalidInputError(f"config must be a mapping, a file path or a LintConfig, not {self.config!r}")

    def check_inputs(self) -> str:
        from airflow_provider_cx.package.lint import SEVERITIES

        fail_on = str(self.fail_on).upper()
        if fail_on not in SEVERITIES:
            raise CXInvalidInputError(f"fail_on {self.fail_on!r} is not one of {', '.join(SEVERITIES)}")
        unknown = set(self.report_formats) - set(REPORT_EXTENSIONS)
        if unknown:
            raise CXInvalidInputError(f"report_formats {sorted(unknown)} unknown; use {', '.join(REPORT_EXTENSIONS)}")
        return fail_on

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_cx.hooks.package_source import load_package
        from airflow_provider_cx.package.lint import lint_package
        from airflow_provider_cx.package.reports import render_findings, severity_counts

        fail_on = self.check_inputs()
        config = self.lint_config()
        package, uri = load_package(self.source, gcp_conn_id=self.gcp_conn_id)
        findings = lint_package(package, config)
        blocking = [f for f in findings if f.reaches(fail_on)]
        reports = {}
        if self.report_to is not None:
            for fmt in self.report_formats:
                text = render_findings(findings, fmt, fail_on=fail_on, source=uri)
                target = storage.join(self.report_to, f"{self.report_name}.{REPORT_EXTENSIONS[fmt]}")
                reports[fmt] = self.write_artifact(target, text.encode())
        quoted = [f.message[:300] for f in blocking[:_QUOTED]]
        summary = {
            "source": uri,
            "fail_on": fail_on,
            "failed": bool(blocking),
            "findings": len(findings),
            "counts": severity_counts(findings),
            "by_rule": dict(sorted(Counter(f.rule_id for f in findings).items())),
            "blocking": quoted,
            "reports": reports,
        }
        self.log.info("lint of %s: %s", uri, summary["counts"])
        if blocking:
            context["ti"].xcom_push(key="return_value", value=small_xcom(summary))
            more = f" (and {len(blocking) - _QUOTED} more)" if len(blocking) > _QUOTED else ""
            raise CXGateFailedError(
                f"lint of {uri}: {len(blocking)} finding(s) at or above {fail_on}: " + "; ".join(quoted) + more
            )
        return small_xcom(summary)
