"""CXRestoreAgentOperator: replace an agent's draft with a package, optionally backing it up first."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from airflow_provider_cx import storage
from airflow_provider_cx.operators.base import CXLongRunningOperator
from airflow_provider_cx.operators.errors import CXInvalidInputError
from airflow_provider_cx.operators.export_agent import exported_content

RESTORE_OPTIONS = ("KEEP", "FALLBACK")
#: XCom key under which the backup's URI is pushed as soon as the backup exists (before the restore).
BACKUP_URI_KEY = "backup_uri"
_ZIP_MAGIC = b"PK\x03\x04"


def restore_source(source: storage.Location, *, check: bool = True) -> tuple[dict[str, Any], str | None]:
    """The RestoreAgentRequest fields for ``source`` and the sha256 of its bytes (``None`` for gs://).

    A ``gs://`` source is read by the API itself. Other sources are read here; with ``check`` a zip
    must be a readable agent package (checked locally, so a broken one changes nothing). Anything
    else is sent as a BLOB for the API to judge.
    """
    from airflow_provider_cx.hooks.package_source import mask_package_secrets
    from airflow_provider_cx.package import PackageError
    from airflow_provider_cx.package.io import scan_package

    try:
        uri = storage.uri_of(source)
    except storage.StorageLocationError as error:
        raise CXInvalidInputError(f"source: {error}") from None
    if storage.is_gcs(uri):
        return {"agent_uri": uri}, None
    try:
        _check_size(source, uri)
        content = storage.read_bytes(source)
    except (FileNotFoundError, storage.StorageLocationError) as error:
        raise CXInvalidInputError(f"source: {error}") from None
    if not content:
        raise CXInvalidInputError(f"source {uri} is empty; expected an agent export (JSON package zip or BLOB)")
    if check and content.startswith(_ZIP_MAGIC):
        try:
            webhooks = scan_package(content)  # every check of a full read, in about one file of memory
        except PackageError as error:
            raise CXInvalidInputError(f"source {uri} is not a readable agent package: {error}") from None
        mask_package_secrets(webhooks)
    return {"agent_content": content}, hashlib.sha256(content).hexdigest()


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
    )

    def __init__(
        self,
        *,
        source: storage.Location,
        restore_option: str = "KEEP",
        backup_to: storage.Location | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.restore_option = restore_option
        self.backup_to = backup_to

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

    def execute(self, context: Any) -> Any:
        from google.cloud import dialogflowcx_v3 as cx

        self.check_inputs()
        restore_source(self.source)  # refuse a bad source before the backup, before any change
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

        fields, source_sha256 = restore_source(self.source, check=False)  # checked in execute
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
