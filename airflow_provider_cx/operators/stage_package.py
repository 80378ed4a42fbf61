"""CXStagePackageOperator: write one stage's package from a release package and that stage's profile."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_cx import storage
from airflow_provider_cx.operators.base import CXArtifactIO, small_xcom
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError

if TYPE_CHECKING:
    from airflow_provider_cx.package.lint import LintConfig
    from airflow_provider_cx.package.lint.findings import Finding
    from airflow_provider_cx.package.profile import Overlay, StageProfile

_QUOTED = 10


class CXStagePackageOperator(CXArtifactIO, BaseOperator):
    """Apply a stage profile to ``source``, gate the result on the stage's agent, write it to ``destination``.

    Pure: reads and writes packages, calls no API, so it runs before anything in the stage changes.
    The profile's secrets (``conn:<id>``: the connection's password; ``var:<name>``: the Variable;
    ``env:`` is refused on workers) are resolved through Airflow and registered with its secrets
    masker, so a missing one fails here; the package written holds a marker in place of each value
    (``${secret:conn:<id>}``), never the value: restore it with
    :class:`~airflow_provider_cx.operators.restore_agent.CXRestoreAgentOperator`'s ``stage_profile``
    (the same profile), which puts the values in in memory. The change list shows header names and
    ``***`` for secret values. The stage-fit gate
    (:func:`~airflow_provider_cx.package.lint.check_stage_fit`) runs on the result: an ERROR finding
    fails the task and nothing is written.

    :param source: the release package (zip or folder): local path, ``file://``, ``ObjectStoragePath``
        or any URI the provider's storage reads (templated) — e.g. an export's ``uri``.
    :param target_agent: the stage's agent, ``projects/P/locations/L/agents/A`` (templated).
    :param destination: where the stage's package zip goes (templated); its change list is written
        beside it as ``<name>.changes.json`` and ``<name>.changes.md`` (``<name>``: without ``.zip``).
    :param profile: the stage profile: a path or URI of its JSON file, or the document as a mapping;
        ``None`` applies nothing and only runs the gate (templated).
    :param lint_config: a team's lint configuration (mapping, file path or ``LintConfig``): its
        allow-list and severities apply to the gate too (templated when a string or mapping).

    Returns (XCom ``return_value``; also pushed when the gate fails, then without ``uri``)::

        {"stage": "prod", "source": "<uri>", "uri": "<uri>", "sha256": "<hex>", "changes": n,
         "change_list": {"json": "<uri>", "markdown": "<uri>"},
         "gate": {"target_agent": "...", "failed": bool, "findings": n,
                  "by_rule": {"<rule id>": n}, "blocking": ["<message>", ...]}}   # first 10

    Raises :class:`CXInvalidInputError` for an unreadable package or profile, a profile that does
    not match the package or a secret that cannot be resolved; :class:`CXGateFailedError` when the
    gate fails.
    :param gcp_conn_id: connection whose credentials read and write ``gs://`` (default
        ``google_cloud_default``, else Application Default Credentials).
    """

    template_fields: Sequence[str] = ("gcp_conn_id", "source", "target_agent", "destination", "profile", "lint_config")
    ui_color = "#e6f4ea"

    def __init__(
        self,
        *,
        source: storage.Location,
        target_agent: str,
        destination: storage.Location,
        profile: storage.Location | Mapping[str, Any] | None = None,
        lint_config: Any = None,
        gcp_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gcp_conn_id = gcp_conn_id
        self.source = source
        self.target_agent = target_agent
        self.destination = destination
        self.profile = profile
        self.lint_config = lint_config

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.log import mask_secret

        from airflow_provider_cx.hooks.package_source import load_package
        from airflow_provider_cx.hooks.profile_secrets import airflow_secret_resolver
        from airflow_provider_cx.package.profile import ProfileError, apply_profile

        target = self.check_target()
        config = self.gate_config()
        profile = self.read_profile()
        package, source_uri = load_package(self.source, gcp_conn_id=self.gcp_conn_id)
        try:
            # The values are resolved (and masked) to fail now on a missing secret; the package
            # written holds markers, which the restore resolves in memory.
            overlay = apply_profile(
                package, profile, resolve=airflow_secret_resolver(), on_secret=mask_secret, secret_markers=True
            )
        except ProfileError as error:
            raise CXInvalidInputError(f"profile {self.profile_label()}: {error}") from None
        findings = self.stage_fit(overlay, profile, target, config)
        summary: dict[str, Any] = {
            "stage": overlay.stage,
            "source": source_uri,
            "changes": len(overlay.changes),
            "gate": gate_summary(target, findings),
        }
        self.log.info("%s", overlay.describe().rstrip())
        if summary["gate"]["failed"]:
            context["ti"].xcom_push(key="return_value", value=small_xcom(summary))
            raise CXGateFailedError(
                f"stage fit of {source_uri} for {target}: {len(summary['gate']['blocking'])} ERROR finding(s): "
                + "; ".join(summary["gate"]["blocking"])
            )
        summary.update(self.write(overlay, summary))
        self.log.info("stage package %s (sha256 %s)", summary["uri"], summary["sha256"])
        small_xcom(summary)
        return summary

    # --- inputs -----------------------------------------------------------------------------------
    def check_target(self) -> str:
        from airflow_provider_cx.resource_names import InvalidResourceNameError, parse_agent_name

        try:
            parsed = parse_agent_name(str(self.target_agent))
        except InvalidResourceNameError as error:
            raise CXInvalidInputError(f"target_agent: {error}") from None
        if parsed.name != parsed.agent_name:
            raise CXInvalidInputError(
                f"target_agent {self.target_agent!r} is not an agent; expected projects/P/locations/L/agents/A"
            )
        return parsed.agent_name

    def gate_config(self) -> LintConfig:
        from airflow_provider_cx.package.lint import LintConfig, LintConfigError

        try:
            if self.lint_config is None:
                return LintConfig()
            if isinstance(self.lint_config, LintConfig):
                return self.lint_config
            if isinstance(self.lint_config, Mapping):
                return LintConfig.from_dict(self.lint_config)
            if isinstance(self.lint_config, (str, os.PathLike)):
                return LintConfig.from_file(storage.local_path(self.lint_config))
        except LintConfigError as error:
            raise CXInvalidInputError(f"lint_config: {error}") from None
        raise CXInvalidInputError(
            f"lint_config must be a mapping, a file path or a LintConfig, not {self.lint_config!r}"
        )

    def profile_label(self) -> str:
        from airflow_provider_cx.hooks.stage_secrets import profile_label

        return profile_label(self.profile)

    def read_profile(self) -> StageProfile:
        """The profile: parsed from the mapping, or read from its file (any storage location)."""
        from airflow_provider_cx.hooks.stage_secrets import read_stage_profile

        return read_stage_profile(self.profile, self.read_artifact, "profile")

    # --- gate and output --------------------------------------------------------------------------
    def stage_fit(self, overlay: Overlay, profile: StageProfile, target: str, config: LintConfig) -> list[Finding]:
        from airflow_provider_cx.package.lint import check_stage_fit

        aliases = [profile.project_number] if profile.project_number else []
        return check_stage_fit(overlay.package, target, forbid=profile.forbid, project_aliases=aliases, config=config)

    def write(self, overlay: Overlay, summary: Mapping[str, Any]) -> dict[str, Any]:
        """Write the package and its change list; return the XCom fields naming them."""
        from airflow_provider_cx.package import write_zip

        content = write_zip(overlay.package)
        sha256 = hashlib.sha256(content).hexdigest()
        try:
            uri = self.write_artifact(self.destination, content)
        except storage.StorageLocationError as error:
            raise CXInvalidInputError(f"destination: {error}") from None
        stem = str(storage.uri_of(self.destination))
        stem = stem[: -len(".zip")] if stem.endswith(".zip") else stem
        record = {**summary, "uri": uri, "sha256": sha256, "change_count": len(overlay.changes), **overlay.to_dict()}
        markdown = overlay.to_markdown() + f"\nPackage `{uri}` (sha256 `{sha256}`); stage-fit gate passed.\n"
        return {
            "uri": uri,
            "sha256": sha256,
            "change_list": {
                "json": self.write_artifact(f"{stem}.changes.json", json.dumps(record, indent=2).encode()),
                "markdown": self.write_artifact(f"{stem}.changes.md", markdown.encode()),
            },
        }


def gate_summary(target: str, findings: Sequence[Finding]) -> dict[str, Any]:
    """The stage-fit gate's result in a few fields (ERROR findings fail it)."""
    blocking = [f for f in findings if f.reaches("ERROR")]
    return {
        "target_agent": target,
        "failed": bool(blocking),
        "findings": len(findings),
        "by_rule": dict(sorted(Counter(f.rule_id for f in findings).items())),
        "blocking": [f.message[:300] for f in blocking[:_QUOTED]],
    }
