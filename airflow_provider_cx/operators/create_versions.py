"""CXCreateVersionsOperator: a version of each selected (or each changed) flow, exactly once per release id."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_cx.hooks.release_marks import is_marked, release_marker
from airflow_provider_cx.operators.base import CXLongRunningOperator
from airflow_provider_cx.operators.errors import CXInvalidInputError

if TYPE_CHECKING:
    from airflow_provider_cx.hooks.create_or_adopt import Outcome

T = TypeVar("T")

#: Limits the API sets on a version's display name and description.
MAX_DISPLAY_NAME = 64
MAX_DESCRIPTION = 500
CREATE_VERSION_METADATA = "google.cloud.dialogflow.cx.v3.CreateVersionOperationMetadata"
#: XCom key of the run summary (the return value is the flow -> version mapping).
SUMMARY_XCOM_KEY = "cx_versions"
#: One row per flow an environment keeps serving: ``{flow display name: version name}``.
Kept = dict[str, str]
#: Flows versioned (and compared) at once by default, and at most. Creates are design-time calls with a per-minute
#: quota: a handful in flight is what makes a release as slow as its slowest flow, not their sum.
DEFAULT_MAX_WORKERS = 8
MAX_WORKERS = 32


def version_id(version_name: str) -> int:
    return int(version_name.rsplit("/", 1)[-1])


#: One row of the result: the flow's display name, its release version, whether this run created it.
#: (A tuple, not a dataclass: this module is imported at DAG parse time, where classes cost.)
FlowVersion = tuple[str, str, bool]


class CXCreateVersionsOperator(CXLongRunningOperator):
    """Create a version of each selected flow for a release; a rerun with the same release id reuses them.

    With ``only_changed`` only the flows the release changed are versioned: each selected flow's
    draft is compared (Versions.CompareVersions, content without time stamps, in every language of
    the agent) with the version ``environment`` serves of it. The content of a flow version is the
    flow with the agent data it uses (intents, entity types, webhooks, route groups), so a changed
    intent impacts every flow that uses it. A flow is *impacted* when it differs, when the
    environment serves no version of it (a new flow, or an environment the deploy will create), or
    when the version it serves is this release's own (a rerun after the deploy). The other flows
    are *unchanged*: no version is made and the return value maps them to the version the
    environment serves, so a deploy of the return value keeps them as they are.

    Each version's description ends with the line ``[airflow-cx release: <release_id>]``. Before
    creating a flow's version the operator looks for one with that line and adopts it, so a retried
    task — or a create whose response was lost (UNAVAILABLE after the server applied it) — never
    makes a second version (see :mod:`.create_or_adopt`). Failed versions are not adopted. Creates
    an earlier try left running are waited for first, so their versions are adopted too.

    The flows are versioned concurrently (at most ``max_workers`` at a time), so the task takes about
    as long as its slowest flow. With ``deferrable`` the worker starts (or adopts) every flow's version,
    then defers once until all started creates are done (:class:`.CXOperationGroupTrigger`) and
    resumes with the same return value and XCom; a failed create fails the task naming its flow, and
    after ``operation_timeout`` the creates still running are cancelled (best effort).

    :param release_id: identifies the release (templated); also the default display name, so at
        most 64 characters, one line, no ``]``.
    :param flows: flows to version, as display names, ids or resource names (templated); default:
        every flow reachable from the start flow (what an environment must pin).
    :param version_display_name: display name of the versions (templated); default ``release_id``.
    :param description: text placed before the release line in each description (templated).
    :param max_workers: flows versioned (and compared) at once (1..32, default 8).
    :param only_changed: version only the flows that differ from what ``environment`` serves
        (default ``False``: every selected flow, as a release without an environment to compare with).
    :param environment: display name, id or resource name of the environment the release goes to
        (templated); required with ``only_changed``. One that does not exist yet impacts every flow.

    Besides those: ``deferrable``, ``poll_interval``, ``operation_timeout`` (one create's wait; see
    :class:`.CXLongRunningOperator`), ``agent``, ``gcp_conn_id``, ``impersonation_chain``, ``location``,
    ``api_retry_policy``, ``api_max_attempts`` (see :class:`.CXBaseOperator`).

    XCom ``return_value``: ``{flow display name: version resource name}`` for every selected flow,
    unchanged flows included with the version the environment serves (input for
    :class:`~airflow_provider_cx.operators.deploy_environment.CXDeployEnvironmentOperator`).
    XCom ``cx_versions`` (for release notes and summaries)::

        {"release_id": str,
         "created": [version names this run created],
         "adopted": [version names of this release found from an earlier try],
         "impacted": [flow display names versioned by this release: created or adopted],
         "unchanged": {flow display name: version name the environment keeps serving},
         "only_changed": bool,
         "environment": str or None}   # as given (only_changed compares with it)

    Every list follows the order of the return value; without ``only_changed`` ``impacted`` is every
    selected flow and ``unchanged`` is empty. Link: the agent in the CX console.
    """

    template_fields: Sequence[str] = (
        *CXLongRunningOperator.template_fields,
        "release_id",
        "flows",
        "version_display_name",
        "description",
        "environment",
    )

    def __init__(
        self,
        *,
        release_id: str,
        flows: Sequence[str] | None = None,
        version_display_name: str | None = None,
        description: str = "",
        max_workers: int = DEFAULT_MAX_WORKERS,
        only_changed: bool = False,
        environment: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.only_changed = only_changed
        self.environment = environment
        self.release_id = release_id
        self.flows = flows
        self.version_display_name = version_display_name
        self.description = description
        self.max_workers = max_workers

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
        workers = self.max_workers
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
            raise CXInvalidInputError(f"max_workers must be a whole number from 1 to {MAX_WORKERS}, got {workers!r}")
        if not isinstance(self.only_changed, bool):
            raise CXInvalidInputError(f"only_changed must be True or False, got {self.only_changed!r}")
        environment = self.environment
        if environment is not None and (not isinstance(environment, str) or not environment.strip()):
            raise CXInvalidInputError(f"environment must be an environment name or None, got {environment!r}")
        if self.only_changed and environment is None:
            raise CXInvalidInputError(
                "only_changed=True needs environment=: the environment whose served flow versions the draft is "
                "compared with"
            )

    @property
    def display_name(self) -> str:
        return (self.version_display_name or self.release_id or "").strip()

    @property
    def version_description(self) -> str:
        marker = release_marker(self.release_id.strip())
        return f"{self.description.rstrip()}\n{marker}" if self.description.strip() else marker

    # --- execution ------------------------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, str]:
        self.check_inputs()
        self.persist_agent_link(context)
        agent = self.get_agent()
        selected = self.select_flows(agent)
        order = [flow.display_name for flow in selected]
        kept = self.unchanged_flows(agent, selected) if self.only_changed else {}
        impacted = [flow for flow in selected if flow.display_name not in kept]
        if kept:
            self.log.info(
                "release %s: %d flow(s) unchanged from what %s serves, kept: %s",
                self.release_id,
                len(kept),
                self.environment,
                ", ".join(f"{flow} ({version.rsplit('/', 1)[-1]})" for flow, version in kept.items()),
            )
        self.log.info(
            "release %s: versioning %d flow(s), %d at a time: %s",
            self.release_id,
            len(impacted),
            min(self.max_workers, len(impacted)),
            ", ".join(flow.display_name for flow in impacted) or "none",
        )
        if not impacted:
            return self.finish(context, [], kept, order)
        self.let_earlier_creates_finish()
        if not self.deferrable:
            outcomes = self.for_each_flow(impacted, self.version_flow)
            rows = [
                (flow.display_name, outcome.resource.name, outcome.created)
                for flow, outcome in zip(impacted, outcomes, strict=True)
            ]
            return self.finish(context, rows, kept, order)
        started = self.for_each_flow(impacted, self.start_version)
        pending = [entry["operation"] for entry in started if "operation" in entry]
        if not pending:
            return self.finish(context, [(entry["flow"], entry["version"], False) for entry in started], kept, order)
        from google.cloud.dialogflowcx_v3 import Version

        state = {"flows": started, "kept": kept, "order": order}
        self.defer_until_done(pending, result_type=Version, then="after_versions", state=state)

    def select_flows(self, agent: Any) -> list[Any]:
        from airflow_provider_cx.hooks.lookup import match_many

        flows = self.hook.list_flows(self.agent_name)
        if self.flows is None:
            return self.hook.reachable_flows(agent, flows)
        chosen = match_many("flow", self.agent_name, "flows", list(self.flows), flows)
        return list({flow.name: flow for flow in chosen}.values())

    def unchanged_flows(self, agent: Any, selected: list[Any]) -> Kept:
        """``{flow display name: served version}`` of the selected flows whose draft ``environment`` serves as is.

        The comparisons run concurrently like the creates. A flow the environment serves no version
        of, or serves this release's own version of (the deploy ran before a rerun), is impacted.
        """
        from airflow_provider_cx.hooks.flow_changes import agent_languages, served_versions

        assert self.environment is not None  # check_inputs
        served = served_versions(self.hook, self.agent_name, self.environment)
        if served is None:
            self.log.info("environment %r does not exist yet: every flow is impacted", self.environment)
            return {}
        candidates = [flow for flow in selected if flow.name in served]
        if not candidates:
            return {}
        languages = agent_languages(agent)
        keep = self.for_each_flow(candidates, lambda flow: self.keeps_version(flow, served[flow.name], languages))
        return {flow.display_name: served[flow.name] for flow, kept in zip(candidates, keep, strict=True) if kept}

    def keeps_version(self, flow: Any, version: str, languages: list[str]) -> bool:
        """Whether ``flow`` keeps ``version`` (the one served): not this release's, same content as the draft."""
        from airflow_provider_cx.hooks.flow_changes import draft_differs

        if is_marked(self.hook.get_version(version), self.release_id.strip()):
            return False  # this release's version: report the flow as impacted (adopted), as the first try did
        return not draft_differs(self.hook, flow.name, version, languages)

    def let_earlier_creates_finish(self) -> None:
        """Wait for CreateVersion operations still running in the agent's location.

        A try killed mid-wait (or one that deferred and then failed) can leave creates running whose
        versions ``find`` cannot see yet; creating again then would make a second version. The
        operations do not say which agent they are for, so every such create in the location is
        waited for (each takes seconds). With none running, as usual, this costs one ListOperations.
        """
        running = self.hook.unfinished_operations(self.agent_resource.parent, CREATE_VERSION_METADATA)
        if running:
            self.log.info("waiting for %d version create(s) already running before looking for versions", len(running))
        for name in running:
            with self.running_operation(name):
                self.hook.wait_until_settled(name, self.operation_timeout)

    def for_each_flow(self, flows: list[Any], work: Callable[[Any], T]) -> list[T]:
        """``work(flow)`` for each flow on at most ``max_workers`` threads; the results in flow order.

        The first error stops flows not yet begun; those under way finish (what they make is marked
        and adopted by the next try), then the error of the earliest failed flow is raised.
        """
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        self.prepare_shared_clients()
        pool = ThreadPoolExecutor(max_workers=min(self.max_workers, len(flows)), thread_name_prefix="cx-versions")
        try:
            futures = [pool.submit(self.about_flow, flow, work) for flow in flows]
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        failures = [
            (flow, future.exception())
            for flow, future in zip(flows, futures, strict=True)
            if not future.cancelled() and future.exception()
        ]
        for flow, error in failures[1:]:
            self.log.error("flow %r failed too: %s: %s", flow.display_name, type(error).__name__, error)
        if failures:
            first = failures[0][1]
            assert first is not None  # filtered above
            raise first
        return [future.result() for future in futures]

    def prepare_shared_clients(self) -> None:
        """Resolve the policies the threads share before they start (clients are built once, under the hook's lock)."""
        self.hook.retry_policy  # noqa: B018  (resolved once, here)
        self.hook.polling_policy  # noqa: B018

    def about_flow(self, flow: Any, work: Callable[[Any], T]) -> T:
        """``work(flow)``; a create's failure or timeout is raised naming the flow (a timed-out create is cancelled)."""
        from airflow_provider_cx.hooks.errors import CXOperationFailedError, CXOperationTimeoutError

        try:
            return work(flow)
        except CXOperationFailedError as failed:
            raise self.flow_failure(flow.display_name, failed) from failed
        except CXOperationTimeoutError as timed_out:
            error = self.cancel_timed_out(timed_out)
            error.add_note(f"it was creating the version of flow {flow.display_name!r} for release {self.release_id!r}")
            raise error from None

    def flow_failure(self, flow: str, failed: Any) -> Exception:
        """``failed`` (a :class:`CXOperationFailedError`) restated to name the flow and the release."""
        from airflow_provider_cx.hooks.errors import CXOperationFailedError

        return CXOperationFailedError(
            failed.operation_name,
            failed.code,
            f"creating the version of flow {flow!r} for release {self.release_id!r}: {failed.status_message}",
        )

    def version_flow(self, flow: Any, wait: Callable[[Any], Any] | None = None) -> Outcome[Any]:
        """The release's version of ``flow``: adopted if it exists, created otherwise.

        ``wait`` as in :func:`.create_or_adopt` (default: wait here for the create to finish).
        """
        from google.cloud.dialogflowcx_v3 import Version

        from airflow_provider_cx.hooks.create_or_adopt import create_or_adopt

        return create_or_adopt(
            self.hook,
            what=f"version of flow {flow.display_name!r} for release {self.release_id!r}",
            find=lambda: self.find_release_version(flow.name),
            create=lambda: self.hook.create_version(
                flow.name, display_name=self.display_name, description=self.version_description
            ),
            result_type=Version,
            location_name=self.agent_resource.parent,
            pending_metadata=CREATE_VERSION_METADATA,
            timeout=self.operation_timeout,  # None: the hook's polling policy
            wait=wait,
            track=self.running_operation,
        )

    def start_version(self, flow: Any) -> dict[str, str]:
        """Adopt ``flow``'s release version, or start creating it without waiting (the deferrable path).

        Returns ``{"flow": display name, "version": name}`` or ``{"flow": ..., "operation": name}``:
        JSON, since it travels through the trigger.
        """
        from airflow_provider_cx.hooks.create_or_adopt import StartedCreate

        outcome = self.version_flow(flow, wait=lambda operation: StartedCreate(operation.operation.name))
        if isinstance(outcome.resource, StartedCreate):
            return {"flow": flow.display_name, "operation": outcome.resource.operation_name}
        return {"flow": flow.display_name, "version": outcome.resource.name}

    def find_release_version(self, flow_name: str) -> Any | None:
        """The oldest version of the flow marked with this release (not FAILED), or ``None``."""
        from google.cloud.dialogflowcx_v3 import Version

        marked = [
            version
            for version in self.hook.list_versions(flow_name)
            if is_marked(version, self.release_id.strip()) and version.state != Version.State.FAILED
        ]
        if len(marked) > 1:
            self.log.warning(
                "flow %s has %d versions of release %s; using the oldest", flow_name, len(marked), self.release_id
            )
        return min(marked, key=lambda version: version_id(version.name)) if marked else None

    # --- deferral ---------------------------------------------------------------------------------

    def after_versions(
        self,
        context: Any,
        results: dict[str, Any],
        flows: list[dict[str, str]],
        kept: Kept | None = None,
        order: list[str] | None = None,
    ) -> dict[str, str]:
        """Completion of the deferred wait: each created version from its operation, then as the sync path.

        ``kept`` and ``order`` default for a deferral made before ``only_changed`` existed.
        """
        rows = [
            (entry["flow"], entry["version"], False)
            if "version" in entry
            else (entry["flow"], results[entry["operation"]].name, True)
            for entry in flows
        ]
        return self.finish(context, rows, kept or {}, order)

    def operation_failed(self, context: Any, error: Exception, event: dict[str, Any]) -> Any:
        """A failed or timed-out create, restated to name its flow and the release."""
        from airflow_provider_cx.hooks.errors import CXOperationFailedError, CXOperationTimeoutError

        entries: list[dict[str, str]] = (event.get("resume") or {}).get("state", {}).get("flows", [])
        flow_of = {entry["operation"]: entry["flow"] for entry in entries if "operation" in entry}
        if isinstance(error, CXOperationTimeoutError):
            raise self.group_timeout(error, event, flow_of)
        if isinstance(error, CXOperationFailedError) and event.get("operation_name"):
            raise self.flow_failure(flow_of.get(error.operation_name, "(unknown)"), error)
        raise error

    def group_timeout(self, error: Exception, event: dict[str, Any], flow_of: dict[str, str]) -> Exception:
        """The timeout of a deferred wait (naming the first create still running), with a note listing them all."""
        running: list[str] = event.get("running") or []
        cancelled = set(event.get("cancelled") or [])
        timeout = float(event.get("timeout") or self.hook.polling_policy.timeout or 0)
        still = ", ".join(
            f"flow {flow_of.get(name, '(unknown)')!r} ({name}; cancellation "
            f"{'requested' if name in cancelled else 'failed'})"
            for name in running
        )
        error.add_note(f"release {self.release_id!r}: creates still running after {timeout:g}s: {still}")
        return error

    # --- result ---------------------------------------------------------------------------------

    def finish(
        self, context: Any, rows: list[FlowVersion], kept: Kept, order: list[str] | None = None
    ) -> dict[str, str]:
        """Push the run summary (XCom ``cx_versions``) and return ``{flow: version}``; every path ends here.

        ``rows`` are the impacted flows, ``kept`` the unchanged ones; both are listed in ``order``
        (the selected flows' order; default: impacted, then unchanged).
        """
        position = {flow: i for i, flow in enumerate(order or [])}
        rows = sorted(rows, key=lambda row: position.get(row[0], len(position)))
        unchanged = sorted(kept.items(), key=lambda item: position.get(item[0], len(position)))
        self.push_xcom(
            context,
            SUMMARY_XCOM_KEY,
            {
                "release_id": self.release_id.strip(),
                "created": [version for _, version, created in rows if created],
                "adopted": [version for _, version, created in rows if not created],
                "impacted": [flow for flow, _, _ in rows],
                "unchanged": dict(unchanged),
                "only_changed": self.only_changed,
                "environment": self.environment,
            },
        )
        mapping = {flow: version for flow, version, _ in rows} | dict(unchanged)
        return dict(sorted(mapping.items(), key=lambda item: position.get(item[0], len(position))))
