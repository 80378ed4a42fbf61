"""CXRestoreAgentOperator: replace an agent's draft with a package, optionally backing it up first."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_cx import storage
from airflow_provider_cx.operators.base import CXLongRunningOperator
from airflow_provider_cx.operators.errors import CXInvalidInputError
from airflow_provider_cx.operators.export_agent import exported_content

if TYPE_CHECKING:
    from airflow_provider_cx.package.profile import StageProfile

RESTORE_OPTIONS = ("KEEP", "FALLBACK")
#: XCom key under which the backup's URI is pushed as soon as the backup exists (before the restore).
BACKUP_URI_KEY = "backup_uri"
_ZIP_MAGIC = b"PK\x03\x04"


def restore_source(
    source: storage.Location,
    *,
    check: bool = True,
    profile: StageProfile | None = None,
    gcp_conn_id: str | None = None,
) -> tuple[dict[str, Any], str | None]:
    """The RestoreAgentRequest fields for ``source`` and the sha256 of its bytes (``None`` for gs://).

    A ``gs://`` source is read by the API itself, unless ``profile`` is given. Other sources are
    read here; with ``check`` a zip must be a readable agent package (checked locally, so a broken
    one changes nothing) without secret markers. Anything else is sent as a BLOB for the API to judge.
    With ``profile`` (a stage package's profile) the package is read (``gs://`` too, with
    ``gcp_conn_id``), its secret markers are resolved in memory and the result is sent as content;
    the sha256 is still that of the stored bytes, as the stage package task reported it.
    """
    from airflow_provider_cx.hooks.package_source import mask_package_secrets
    from airflow_provider_cx.hooks.stage_secrets import refuse_secret_markers, with_stage_secrets
    from airflow_provider_cx.package import PackageError
    from airflow_provider_cx.package.io import scan_package

    try:
        uri = storage.uri_of(source)
    except storage.StorageLocationError as error:
        raise CXInvalidInputError(f"source: {error}") from None
    if storage.is_gcs(uri) and profile is None:
        return {"agent_uri": uri}, None
    try:
        _check_size(source, uri)
        content = storage.read_bytes(source, gcp_conn_id=gcp_conn_id)
    except (FileNotFoundError, storage.StorageLocationError) as error:
        raise CXInvalidInputError(f"source: {error}") from None
    if not content:
        raise CXInvalidInputError(f"source {uri} is empty; expected an agent export (JSON package zip or BLOB)")
    sha256 = hashlib.sha256(content).hexdigest()
    if profile is not None:
        if not content.startswith(_ZIP_MAGIC):
            raise CXInvalidInputError(f"source {uri} is not a JSON package zip; a stage profile applies only to one")
        return {"agent_content": with_stage_secrets(content, uri, profile)}, sha256
    if check and content.startswith(_ZIP_MAGIC):
        try:
            scanned = scan_package(content)  # every check of a full read, in about one file of memory
        except PackageError as error:
            raise CXInvalidInputError(f"source {uri} is not a readable agent package: {error}") from None
        mask_package_secrets(scanned)
        refuse_secret_markers(scanned, uri)  # markers live in webhooks and tools, which the scan keeps
    return {"agent_content": content}, sha256


def _check_size(source: storage.Location, uri: str) -> None:
    """Refuse a local file larger than any package the reader accepts, before reading it."""
    from airflow_provider_cx.package.io import ReadLimits

    if not storage.is_local(source) or not storage.local_path(source).is_file():
        return  # reading it reports what is wrong
    size, limit = storage.local_path(source).stat().st_size, ReadLimits().max_total_bytes
    if size > limit:
        raise CXInvalidInputError(
            f"source {uri} is {size} bytes, over the {limit}-byte package limit; restore large agents from gs://"
        )


class CXRestoreAgentOperator(CXLongRunningOperator):
    """Restore ``agent``'s draft from ``source`` (a JSON package or BLOB export).

    With ``backup_to``, the current draft is exported there first (as a JSON package) and its URI is
    pushed to XCom under ``backup_uri`` *before* the restore starts, so a later step (e.g.
    :class:`~airflow_provider_cx.operators.rollback_environment.CXRollbackEnvironmentOperator`)
    can put it back even if the restore fails. The source is checked before anything changes: a
    missing file or a zip that is not an agent package is a :class:`CXInvalidInputError`.

    :param source: the package to restore: local path, ``file://``, ``gs://`` (read by the API) or
        ``ObjectStoragePath`` (templated).
    :param restore_option: ``"KEEP"`` (keep the package's agent settings; refuse unsupported ones) or
        ``"FALLBACK"`` (fall back to defaults for settings that cannot be kept) (templated).
    :param backup_to: where to export the current draft first; ``None`` for no backup (templated).
    :param stage_profile: the stage profile that wrote ``source`` with
        :class:`~airflow_provider_cx.operators.stage_package.CXStagePackageOperator` (a path or URI
        of its JSON file, or the document; templated). A stage package holds secret markers
        (``${secret:conn:<id>}``) where the profile sets secrets; with this argument the package is
        read (a ``gs://`` source too: it is then read here and sent as inline content, not by the
        API), the profile is applied again with its secrets resolved through Airflow (each value
        registered with the secrets masker) and the result is sent from memory, never written. A
        marker the profile does not set is refused. Without it, a package holding markers is refused
        before anything changes (a ``gs://`` source is read by the API and not checked here).
    Plus the parameters of :class:`CXLongRunningOperator` (agent, gcp_conn_id, deferrable, ...).

    XCom ``backup_uri`` (pushed only with ``backup_to``): the backup's URI.
    Returns (XCom ``return_value``)::

        {"agent": "projects/.../agents/A", "source": "<uri>", "source_sha256": "<hex>" | None,
         "restore_option": "KEEP", "backup_uri": "<uri>" | None, "backup_sha256": "<hex>" | None}

    Links: agent (``cx_agent_link``).
    """

    template_fields: Sequence[str] = (
        *CXLongRunningOperator.template_fields,
        "source",
        "restore_option",
        "backup_to",
        "stage_profile",
    )

    def __init__(
        self,
        *,
        source: storage.Location,
        restore_option: str = "KEEP",
        backup_to: storage.Location | None = None,
        stage_profile: storage.Location | Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.restore_option = restore_option
        self.backup_to = backup_to
        self.stage_profile = stage_profile

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.restore_option not in RESTORE_OPTIONS:
            raise CXInvalidInputError(
                f"restore_option {self.restore_option!r} is not one of {', '.join(RESTORE_OPTIONS)}"
            )
        if self.backup_to is not None:
            try:
                storage.uri_of(self.backup_to)
            except storage.StorageLocationError as error:
                raise CXInvalidInputError(f"backup_to: {error}") from None

    def restore_fields(self, *, check: bool) -> tuple[dict[str, Any], str | None]:
        """The request's source fields; with a stage profile, the package with its secrets put in."""
        from airflow_provider_cx.hooks.stage_secrets import read_stage_profile

        profile = None
        if self.stage_profile is not None:
            profile = read_stage_profile(self.stage_profile, self.read_artifact, "stage_profile")
        return restore_source(self.source, check=check, profile=profile, gcp_conn_id=self.gcp_conn_id)

    def execute(self, context: Any) -> Any:
        from google.cloud import dialogflowcx_v3 as cx

        self.check_inputs()
        self.restore_fields(check=True)  # refuse a bad source (or secret) before the backup, before any change
        self.get_agent()
        self.persist_agent_link(context)
        if self.backup_to is None:
            return self.start_restore(context, None, backup_uri=None, backup_sha256=None)
        backup_uri = storage.uri_of(self.backup_to)
        self.log.info("backing up %s to %s before the restore", self.agent_name, backup_uri)
        operation = self.hook.export_agent(
            self.agent_name, agent_uri=backup_uri if storage.is_gcs(backup_uri) else None
        )
        return self.wait_or_defer(
            context, operation, result_type=cx.ExportAgentResponse, then="after_backup", state={"uri": backup_uri}
        )

    def after_backup(self, context: Any, result: Any, uri: str) -> Any:
        """Store the backup, record where it is, then restore."""
        sha256 = None
        if not storage.is_gcs(uri):
            assert self.backup_to is not None  # after_backup runs only with a backup destination
            content = exported_content(result)
            uri = self.write_artifact(self.backup_to, content)
            sha256 = hashlib.sha256(content).hexdigest()
            del content
        self.push_xcom(context, BACKUP_URI_KEY, uri)
        return self.start_restore(context, None, backup_uri=uri, backup_sha256=sha256)

    def start_restore(self, context: Any, _: Any, backup_uri: str | None, backup_sha256: str | None) -> Any:
        from google.api_core import exceptions
        from google.protobuf import empty_pb2

        fields, source_sha256 = self.restore_fields(check=False)  # checked in execute
        source_uri = storage.uri_of(self.source)
        self.log.info("restoring %s from %s (%s)", self.agent_name, source_uri, self.restore_option)
        try:
            operation = self.hook.restore_agent(self.agent_name, restore_option=self.restore_option, **fields)
        except exceptions.InvalidArgument as error:
            raise CXInvalidInputError(
                f"restore of {self.agent_name} from {source_uri} refused: {error.message}"
            ) from None
        del fields  # the package bytes are not needed while waiting
        return self.wait_or_defer(
            context,
            operation,
            result_type=empty_pb2.Empty,
            then="finish_restore",
            state={
                "source_uri": source_uri,
                "source_sha256": source_sha256,
                "backup_uri": backup_uri,
                "backup_sha256": backup_sha256,
            },
        )

    def finish_restore(
        self,
        context: Any,
        _: Any,
        source_uri: str,
        source_sha256: str | None,
        backup_uri: str | None,
        backup_sha256: str | None,
    ) -> dict[str, Any]:
        self.log.info("restored %s from %s", self.agent_name, source_uri)
        return {
            "agent": self.agent_name,
            "source": source_uri,
            "source_sha256": source_sha256,
            "restore_option": self.restore_option,
            "backup_uri": backup_uri,
            "backup_sha256": backup_sha256,
        }
