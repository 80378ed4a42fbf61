"""CXCreateVersionsOperator: a version of each selected flow, exactly once per release id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_cx.operators.base import CXBaseOperator, check_polling
from airflow_provider_cx.operators.errors import CXInvalidInputError

if TYPE_CHECKING:
    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
    from airflow_provider_cx.operators.create_or_adopt import Outcome

#: Limits the API sets on a version's display name and description.
MAX_DISPLAY_NAME = 64
MAX_DESCRIPTION = 500
CREATE_VERSION_METADATA = "google.cloud.dialogflow.cx.v3.CreateVersionOperationMetadata"
#: XCom key of the run summary (the return value is the flow -> version mapping).
SUMMARY_XCOM_KEY = "cx_versions"


def release_marker(release_id: str) -> str:
    """The line a version's description carries to say which release made it."""
    return f"[airflow-cx release: {release_id}]"


def is_marked(version: Any, release_id: str) -> bool:
    marker = release_marker(release_id)
    return any(line.strip() == marker for line in version.description.splitlines())


def version_id(version_name: str) -> int:
    return int(version_name.rsplit("/", 1)[-1])


class CXCreateVersionsOperator(CXBaseOperator):
    """Create a version of each selected flow for a release; a rerun with the same release id reuses them.

    Each version's description ends with the line ``[airflow-cx release: <release_id>]``. Before
    creating a flow's version the operator looks for one with that line and adopts it, so a retried
    task — or a create whose response was lost (UNAVAILABLE after the server applied it) — never
    makes a second version (see :mod:`.create_or_adopt`). Failed versions are not adopted.

    :param release_id: identifies the release (templated); also the default display name, so at
        most 64 characters, one line, no ``]``.
    :param flows: flows to version, as display names, ids or resource names (templated); default:
        every flow reachable from the start flow (what an environment must pin).
    :param version_display_name: display name of the versions (templated); default ``release_id``.
    :param description: text placed before the release line in each description (templated).
    :param poll_interval: longest pause between two checks of a create operation (seconds; default:
        the connection's ``poll_interval`` extra, else 10).
    :param operation_timeout: seconds to wait for one create operation (default: the connection's
        ``operation_timeout`` extra, else 3600).

    Besides those: ``agent``, ``gcp_conn_id``, ``impersonation_chain``, ``location``,
    ``api_retry_policy``, ``api_max_attempts`` (see :class:`.CXBaseOperator`).

    XCom ``return_value``: ``{flow display name: version resource name}`` (input for
    :class:`~airflow_provider_cx.operators.deploy_environment.CXDeployEnvironmentOperator`).
    XCom ``cx_versions``: ``{"release_id": str, "created": [version names], "adopted": [version names]}``.
    Link: the agent in the CX console.
    """

    template_fields: Sequence[str] = (
        *CXBaseOperator.template_fields,
        "release_id",
        "flows",
        "version_display_name",
        "description",
    )

    def __init__(
        self,
        *,
        release_id: str,
        flows: Sequence[str] | None = None,
        version_display_name: str | None = None,
        description: str = "",
        poll_interval: float | None = None,
        operation_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.release_id = release_id
        self.flows = flows
        self.version_display_name = version_display_name
        self.description = description
        self.poll_interval = poll_interval
        self.operation_timeout = operation_timeout

    # --- inputs ---------------------------------------------------------------------------------

    def check_inputs(self) -> None:
        super().check_inputs()
        release = self.release_id
        if not isinstance(release, str) or not release.strip():
            raise CXInvalidInputError(f"release_id must be a non-empty string, got {release!r}")
        if "\n" in release or "\r" in release or "]" in release:
            raise CXInvalidInputError(f"release_id {release!r} must be one line without ']'")
        if len(self.display_name) > MAX_DISPLAY_NAME or not self.display_name.strip():
            raise CXInvalidInputError(
                f"version display name {self.display_name!r} must be 1 to {MAX_DISPLAY_NAME} characters; "
                "shorten release_id or pass version_display_name="
            )
        if len(self.version_description) > MAX_DESCRIPTION:
            raise CXInvalidInputError(
                f"description is too long: with the release line it has {len(self.version_description)} "
                f"characters, the limit is {MAX_DESCRIPTION}"
            )
        if self.flows is not None and (
            isinstance(self.flows, str) or not all(isinstance(flow, str) and flow.strip() for flow in self.flows)
        ):
            raise CXInvalidInputError(f"flows must be a list of flow names, got {self.flows!r}")
        if self.flows is not None and not self.flows:
            raise CXInvalidInputError("flows is an empty list; leave it unset to version every reachable flow")
        check_polling(self.poll_interval, self.operation_timeout)

    @property
    def display_name(self) -> str:
        return (self.version_display_name or self.release_id or "").strip()

    @property
    def version_description(self) -> str:
        marker = release_marker(self.release_id.strip())
        return f"{self.description.rstrip()}\n{marker}" if self.description.strip() else marker

    def make_hook(self) -> DialogflowCXHook:
        from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
        from airflow_provider_cx.hooks.policy_settings import polling_fields

        return DialogflowCXHook(
            gcp_conn_id=self.gcp_conn_id,
            impersonation_chain=self.impersonation_chain,
            location=self.agent_resource.location,
            retry_policy=self.hook_retry_policy(),
            polling_policy=polling_fields(self.poll_interval, self.operation_timeout),
        )

    # --- execution ------------------------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, str]:
        self.check_inputs()
        self.persist_agent_link(context)
        selected = self.select_flows()
        self.log.info(
            "release %s: versioning %d flow(s): %s",
            self.release_id,
            len(selected),
            ", ".join(flow.display_name for flow in selected),
        )
        versions: dict[str, str] = {}
        created: list[str] = []
        adopted: list[str] = []
        for flow in selected:
            outcome = self.version_flow(flow)
            versions[flow.display_name] = outcome.resource.name
            (created if outcome.created else adopted).append(outcome.resource.name)
        self.push_xcom(
            context,
            SUMMARY_XCOM_KEY,
            {"release_id": self.release_id.strip(), "created": created, "adopted": adopted},
        )
        return versions

    def select_flows(self) -> list[Any]:
        from airflow_provider_cx.operators.flow_graph import reachable_flows
        from airflow_provider_cx.operators.lookup import list_flows, match_many

        agent = self.get_agent()
        flows = list_flows(self.hook, self.agent_name)
        if self.flows is None:
            return reachable_flows(self.hook, agent, flows)
        chosen = match_many("flow", self.agent_name, "flows", list(self.flows), flows)
        return list({flow.name: flow for flow in chosen}.values())

    def version_flow(self, flow: Any) -> Outcome[Any]:
        """The release's version of ``flow``: adopted if it exists, created otherwise."""
        from google.cloud.dialogflowcx_v3 import Version

        from airflow_provider_cx.operators.create_or_adopt import create_or_adopt

        client = self.hook.get_versions_client(flow.name)
        version = Version(display_name=self.display_name, description=self.version_description)
        return create_or_adopt(
            self.hook,
            what=f"version of flow {flow.display_name!r} for release {self.release_id!r}",
            find=lambda: self.find_release_version(flow.name),
            create=lambda: self.hook.call(client.create_version, parent=flow.name, version=version),
            location_name=self.agent_resource.parent,
            pending_metadata=CREATE_VERSION_METADATA,
            timeout=self.operation_timeout,  # None: the hook's polling policy
        )

    def find_release_version(self, flow_name: str) -> Any | None:
        """The oldest version of the flow marked with this release (not FAILED), or ``None``."""
        from google.cloud.dialogflowcx_v3 import Version

        from airflow_provider_cx.hooks.retry import CallKind

        client = self.hook.get_versions_client(flow_name)

        def every_version() -> list[Any]:
            return list(client.list_versions(request={"parent": flow_name, "page_size": 100}, retry=None))

        marked = [
            version
            for version in self.hook.call(every_version, kind=CallKind.READ)
            if is_marked(version, self.release_id.strip()) and version.state != Version.State.FAILED
        ]
        if len(marked) > 1:
            self.log.warning(
                "flow %s has %d versions of release %s; using the oldest", flow_name, len(marked), self.release_id
            )
        return min(marked, key=lambda version: version_id(version.name)) if marked else None
