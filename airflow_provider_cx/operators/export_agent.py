"""CXExportAgentOperator: export an agent's draft or an environment to storage, as an Airflow Asset."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from typing import Any

from airflow.sdk import Asset, AssetAlias

from airflow_provider_cx import storage
from airflow_provider_cx.links import CXAgentLink, CXEnvironmentLink
from airflow_provider_cx.operators.base import CXLongRunningOperator
from airflow_provider_cx.operators.errors import CXInvalidInputError

DATA_FORMATS = ("JSON_PACKAGE", "BLOB")


class CXExportAgentOperator(CXLongRunningOperator):
    """Export ``agent`` (its draft, or what ``environment`` serves) to ``destination``.

    A ``gs://`` destination is written by the API itself (``agent_uri``): the package never passes
    through the worker, so ``sha256`` and ``size_bytes`` are then ``None``. Any other destination
    (local path, ``file://``, ``ObjectStoragePath``) receives the exported bytes from the worker.

    The destination is an Airflow Asset: when ``destination`` is a fixed string it is declared in
    ``outlets`` at parse time; a templated destination is reported through ``asset_alias``. The
    asset event's ``extra`` holds the same fields as the XCom.

    :param destination: where the package goes (templated).
    :param environment: environment display name, id or resource name; ``None`` exports the draft (templated).
    :param data_format: ``"JSON_PACKAGE"`` (a zip of JSON files; readable by lint and diff) or
        ``"BLOB"`` (opaque, restore only) (templated).
    :param asset_alias: name of an ``AssetAlias`` to which the destination is added as an asset.
    Plus the parameters of :class:`CXLongRunningOperator` (agent, gcp_conn_id, deferrable, ...).

    Returns (XCom ``return_value``)::

        {"agent": "projects/.../agents/A", "environment": "projects/.../environments/E" | None,
         "uri": "file:///.../agent.zip" | "gs://b/o", "data_format": "JSON_PACKAGE",
         "sha256": "<hex>" | None, "size_bytes": 12345 | None}

    Links: agent (``cx_agent_link``) and, when exporting an environment, ``cx_environment_link``.
    """

    template_fields: Sequence[str] = (
        *CXLongRunningOperator.template_fields,
        "destination",
        "environment",
        "data_format",
    )
    operator_extra_links = (CXAgentLink(), CXEnvironmentLink())

    def __init__(
        self,
        *,
        destination: storage.Location,
        environment: str | None = None,
        data_format: str = "JSON_PACKAGE",
        asset_alias: str | None = None,
        **kwargs: Any,
    ) -> None:
        if "outlets" not in kwargs:
            kwargs["outlets"] = _declared_outlets(destination, asset_alias)
        super().__init__(**kwargs)
        self.destination = destination
        self.environment = environment
        self.data_format = data_format
        self.asset_alias = asset_alias

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.data_format not in DATA_FORMATS:
            raise CXInvalidInputError(f"data_format {self.data_format!r} is not one of {', '.join(DATA_FORMATS)}")
        try:
            storage.uri_of(self.destination)
        except storage.StorageLocationError as error:
            raise CXInvalidInputError(f"destination: {error}") from None

    def execute(self, context: Any) -> Any:
        from google.cloud import dialogflowcx_v3 as cx

        self.check_inputs()
        self.persist_agent_link(context)
        environment = None
        if self.environment:
            environment = self.hook.resolve_environment(self.agent_name, self.environment).name
            self.persist_environment_link(context, environment)
        uri = storage.uri_of(self.destination)
        self.log.info("exporting %s%s to %s", self.agent_name, f" ({environment})" if environment else "", uri)
        operation = self.hook.export_agent(
            self.agent_name,
            data_format=self.data_format,
            environment=environment,
            agent_uri=uri if storage.is_gcs(uri) else None,
        )
        return self.wait_or_defer(
            context,
            operation,
            result_type=cx.ExportAgentResponse,
            then="finish_export",
            state={"uri": uri, "environment": environment},
        )

    def finish_export(self, context: Any, result: Any, uri: str, environment: str | None) -> dict[str, Any]:
        """Write the exported bytes (unless the API wrote them to gs://) and report what was written."""
        sha256 = size = None
        if not storage.is_gcs(uri):
            content = exported_content(result)
            uri = self.write_artifact(self.destination, content)
            sha256, size = hashlib.sha256(content).hexdigest(), len(content)
        summary = {
            "agent": self.agent_name,
            "environment": environment,
            "uri": uri,
            "data_format": self.data_format,
            "sha256": sha256,
            "size_bytes": size,
        }
        self.log.info("exported %s to %s (%s bytes, sha256 %s)", self.agent_name, uri, size, sha256)
        self._emit_asset(context, uri, summary)
        return summary

    def _emit_asset(self, context: Any, uri: str, extra: dict[str, Any]) -> None:
        events = context.get("outlet_events")
        if events is None:
            return
        for outlet in self.outlets or ():
            if isinstance(outlet, Asset) and outlet.uri == uri:
                events[outlet].extra = dict(extra)
            elif isinstance(outlet, AssetAlias) and outlet.name == self.asset_alias:
                events[outlet].add(Asset(uri), extra=dict(extra))


def exported_content(response: Any) -> bytes:
    """The package bytes of an ExportAgentResponse, copied out of the message once.

    proto-plus's ``response.agent_content`` makes two copies on the way (briefly three packages in
    memory with the message); the underlying protobuf getter makes one.
    """
    content: bytes = type(response).pb(response).agent_content
    return content


def _declared_outlets(destination: Any, asset_alias: str | None) -> list[Any]:
    """The destination as an Asset when it is known at parse time, plus the alias if one is named."""
    outlets: list[Any] = []
    if not (isinstance(destination, str) and "{{" in destination):
        # A bad destination is reported at execute time, with the task's name on it.
        with contextlib.suppress(storage.StorageLocationError, ValueError, TypeError):
            outlets.append(Asset(storage.uri_of(destination)))
    if asset_alias:
        outlets.append(AssetAlias(asset_alias))
    return outlets
