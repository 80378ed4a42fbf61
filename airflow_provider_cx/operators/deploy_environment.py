"""CXDeployEnvironmentOperator: point an environment at flow versions, recording what it served before."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_cx.links import CXAgentLink, CXEnvironmentLink
from airflow_provider_cx.operators.base import CXLongRunningOperator
from airflow_provider_cx.operators.errors import (
    CXGateFailedError,
    CXInvalidInputError,
    CXResourceNotFoundError,
)

UPDATE_ENVIRONMENT = "update_environment"
DEPLOY_FLOW = "deploy_flow"
METHODS = (UPDATE_ENVIRONMENT, DEPLOY_FLOW)
#: XCom key pushed before anything changes, so a failed deployment can still be rolled back.
BEFORE_XCOM_KEY = "cx_environment_before"


def flow_of(version_name: str) -> str:
    """``.../flows/F`` of ``.../flows/F/versions/N``."""
    return version_name.rsplit("/versions/", 1)[0]


class CXDeployEnvironmentOperator(CXLongRunningOperator):
    """Point an environment at flow versions; create the environment first if asked.

    With ``method="update_environment"`` (default) one UpdateEnvironment replaces the pins of the
    given flows at once (flows not given keep their pins): all or nothing. With ``"deploy_flow"``
    each flow is deployed on its own (DeployFlow), which records a Deployment and runs the
    environment's pre-deployment test cases; a FAILED deployment fails the task with
    :class:`CXGateFailedError` and leaves that flow's pin as it was (flows deployed before it stay
    deployed: roll back with the recorded configuration). An environment that already serves the
    given versions is left alone.

    With ``release_id`` the deploy writes the line ``[airflow-cx release: <release_id>]`` into the
    environment's description (replacing an earlier release's line; other lines are kept), in the
    same UpdateEnvironment that changes the versions, or just before the first DeployFlow. A rerun of
    the same release (a retried task whose first try already changed the environment) then reports
    as previous what the environment served *before* the release, found in LookupEnvironmentHistory
    (see :mod:`.environment_history`), so a rollback from it undoes the release. Without
    ``release_id`` a rerun after success records the release's own versions as previous: pass the
    release id in pipelines that roll back.

    :param environment: display name, id or resource name of the environment (templated).
    :param versions: the flow versions to serve (templated): the ``{flow: version name}`` mapping
        :class:`~airflow_provider_cx.operators.create_versions.CXCreateVersionsOperator` returns
        (e.g. its ``.output``), or a list of version resource names; one version per flow.
    :param create_if_missing: create the environment (``environment`` must then be a display name)
        serving ``versions`` when it does not exist; the versions must cover every flow reachable
        from the start flow.
    :param environment_description: description of a created environment (templated).
    :param method: ``"update_environment"`` or ``"deploy_flow"``.
    :param release_id: the release being deployed (templated), e.g. the one given to
        :class:`~airflow_provider_cx.operators.create_versions.CXCreateVersionsOperator`; one line
        without ``]``. ``None`` writes no release line (and removes a stale one).
    :param deferrable: wait for the creation and the deployments in the triggerer (a create whose
        outcome is unknown after an ambiguous error is first settled in the worker, see
        :mod:`.create_or_adopt`).

    Besides those: ``agent``, ``gcp_conn_id``, ``impersonation_chain``, ``location``,
    ``poll_interval``, ``operation_timeout``, ``api_retry_policy``, ``api_max_attempts`` (see
    :class:`.CXLongRunningOperator`).

    XCom ``cx_environment_before`` (pushed before the versions change; after a creation): ``{"environment": name,
    "display_name": str, "created": bool, "version_configs": [version names served before]}``.
    XCom ``return_value``: ``{"environment": name, "display_name": str, "created": bool, "changed":
    bool, "previous_version_configs": [names], "version_configs": [names now served],
    "deployments": [Deployment names, deploy_flow only]}``. ``previous_version_configs`` is what
    :class:`~airflow_provider_cx.operators.rollback_environment.CXRollbackEnvironmentOperator` restores;
    it is empty for a created environment. ``created`` is true when this release created the
    environment (also on a rerun); ``changed`` is whether this run changed anything. Links: the agent
    and its environments in the CX console.
    """

    template_fields: Sequence[str] = (
        *CXLongRunningOperator.template_fields,
        "environment",
        "versions",
        "environment_description",
        "release_id",
    )
    operator_extra_links = (CXAgentLink(), CXEnvironmentLink())

    def __init__(
        self,
        *,
        environment: str,
        versions: Mapping[str, str] | Sequence[str],
        create_if_missing: bool = False,
        environment_description: str = "",
        method: str = UPDATE_ENVIRONMENT,
        release_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.environment = environment
        self.versions = versions
        self.create_if_missing = create_if_missing
        self.environment_description = environment_description
        self.method = method
        self.release_id = release_id

    # --- inputs ---------------------------------------------------------------------------------

    def check_inputs(self) -> None:
        from airflow_provider_cx.hooks.release_marks import MAX_DESCRIPTION

        super().check_inputs()
        if not isinstance(self.environment, str) or not self.environment.strip():
            raise CXInvalidInputError(f"environment must be a display name or resource name, got {self.environment!r}")
        if self.method not in METHODS:
            raise CXInvalidInputError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        self.version_names  # noqa: B018  (validates)
        release = self.release_id
        if release is not None:
            if not isinstance(release, str) or not release.strip():
                raise CXInvalidInputError(f"release_id must be a non-empty string or None, got {release!r}")
            if "\n" in release or "\r" in release or "]" in release or len(release) > MAX_DESCRIPTION // 2:
                raise CXInvalidInputError(
                    f"release_id {release[:100]!r} must be one line without ']' of at most {MAX_DESCRIPTION // 2} "
                    "characters"
                )

    @property
    def release(self) -> str | None:
        return self.release_id.strip() if self.release_id else None

    @property
    def version_names(self) -> list[str]:
        """The given versions as resource names, checked: this agent's versions, one per flow."""
        given = self.versions
        if isinstance(given, Mapping):
            names = list(given.values())
        elif isinstance(given, Sequence) and not isinstance(given, str):
            names = list(given)
        else:
            raise CXInvalidInputError(
                "versions must be a {flow: version name} mapping or a list of version names (pass the "
                f"create-versions task's .output, or render templates as native objects), got {given!r}"
            )
        if not names:
            raise CXInvalidInputError("versions is empty: name at least one flow version to deploy")
        prefix = f"{self.agent_name}/flows/"
        by_flow: dict[str, str] = {}
        for name in names:
            tail = name[len(prefix) :] if isinstance(name, str) and name.startswith(prefix) else ""
            parts = tail.split("/")
            if len(parts) != 3 or parts[1] != "versions" or not parts[0] or not parts[2]:
                raise CXInvalidInputError(
                    f"versions: {name!r} is not a flow version of agent {self.agent_name} "
                    f"(expected {prefix}<flow>/versions/<version>)"
                )
            flow = flow_of(name)
            if by_flow.get(flow, name) != name:
                raise CXInvalidInputError(f"versions name two versions of flow {flow}: {by_flow[flow]} and {name}")
            by_flow[flow] = name
        return list(by_flow.values())

    # --- execution ------------------------------------------------------------------------------

    def execute(self, context: Any) -> Any:
        self.check_inputs()
        self.persist_agent_link(context)
        environment, created_now = self.find_or_create_environment(context)
        return self.deploy_to(context, environment, created_now)

    def after_create(self, context: Any, result: Any) -> Any:
        """Resumption after a deferred CreateEnvironment: the environment serves the versions already."""
        self.log.info("created environment %s", result.name)
        return self.deploy_to(context, result, created_now=True)

    def operation_failed(self, context: Any, error: Exception, event: dict[str, Any]) -> Any:
        """As the base class; a deferred create refused with ALREADY_EXISTS adopts the environment.

        That happens when a create whose response was lost (see :mod:`.create_or_adopt`) finishes
        while its repeat is running: the environment is the one the first request made.
        """
        from airflow_provider_cx.hooks.errors import CXOperationFailedError

        then = (event.get("resume") or {}).get("then")
        if isinstance(error, CXOperationFailedError) and (error.code, then) == ("ALREADY_EXISTS", "after_create"):
            existing = self.find_environment()
            if existing is not None:
                self.log.info("environment %r already existed; adopting %s", self.environment, existing.name)
                return self.deploy_to(context, existing, created_now=False)
        return super().operation_failed(context, error, event)

    def deploy_to(self, context: Any, environment: Any, created_now: bool) -> Any:
        from airflow_provider_cx.hooks.release_marks import marked_description

        self.persist_environment_link(context, environment.name)
        previous, created = self.configuration_before(environment, created_now)
        state = {
            "environment": environment.name,
            "display_name": environment.display_name,
            "created": created,
            "previous_version_configs": previous,
            "deployments": [],
        }
        self.push_xcom(
            context,
            BEFORE_XCOM_KEY,
            {
                "environment": environment.name,
                "display_name": environment.display_name,
                "created": created,
                "version_configs": previous,
            },
        )
        current = [config.version for config in environment.version_configs]
        pending = [name for name in self.version_names if name not in current]
        if created_now or not pending:
            self.log.info("environment %s already serves the given versions", environment.name)
            return self.summary(environment, state, changed=created_now)
        if self.method == UPDATE_ENVIRONMENT:
            return self.update_environment(context, environment, state)
        if marked_description(environment.description, self.release) != environment.description:
            return self.mark_release(context, environment, pending, state)
        return self.deploy_next(context, pending, state)

    def configuration_before(self, environment: Any, created_now: bool) -> tuple[list[str], bool]:
        """``(versions served before the release, whether the release created the environment)``."""
        from airflow_provider_cx.hooks.environment_history import before_release

        if created_now:
            return [], True
        if self.release:
            before = before_release(self.hook, environment, self.release)
            if before is not None:
                self.log.info(
                    "environment %s already carries release %s (a rerun); before it: %s",
                    environment.name,
                    self.release,
                    "nothing (the release created it)" if before.created else before.version_configs,
                )
                return before.version_configs, before.created
        return [config.version for config in environment.version_configs], False

    def find_or_create_environment(self, context: Any) -> tuple[Any, bool]:
        existing = self.find_environment()
        if existing is not None:
            return existing, False
        reference = self.environment.strip()
        if not self.create_if_missing:
            raise CXResourceNotFoundError(
                f"environment {reference!r} not found in agent {self.agent_name}; create it first or pass "
                "create_if_missing=True"
            )
        if reference.startswith("projects/"):
            raise CXInvalidInputError(
                f"environment {reference!r} does not exist and cannot be created under a chosen resource name; "
                "give a display name with create_if_missing=True"
            )
        return self.create_environment(context, reference)

    def find_environment(self) -> Any | None:
        from airflow_provider_cx.hooks.lookup import match_one

        environments = self.hook.list_environments(self.agent_name)
        try:
            return match_one("environment", self.agent_name, "environments", self.environment, environments)
        except CXResourceNotFoundError:
            return None

    def create_environment(self, context: Any, display_name: str) -> tuple[Any, bool]:
        """Create (or adopt, after an ambiguous failure) the environment; deferrable waits in the triggerer."""
        from google.cloud.dialogflowcx_v3 import Environment

        from airflow_provider_cx.hooks.create_or_adopt import create_or_adopt
        from airflow_provider_cx.hooks.release_marks import marked_description

        def wait_in_triggerer(operation: Any) -> Any:
            return self.wait_or_defer(context, operation, result_type=Environment, then="after_create")

        outcome = create_or_adopt(
            self.hook,
            what=f"environment {display_name!r} of agent {self.agent_name}",
            find=self.find_environment,
            create=lambda: self.hook.create_environment(
                self.agent_name,
                display_name=display_name,
                description=marked_description(self.environment_description, self.release),
                versions=self.version_names,
            ),
            result_type=Environment,
            location_name=self.agent_resource.parent,
            timeout=self.operation_timeout,
            wait=wait_in_triggerer if self.deferrable else None,
            track=self.running_operation,
        )
        return outcome.resource, outcome.created

    def update_environment(self, context: Any, environment: Any, state: dict[str, Any]) -> Any:
        from google.cloud.dialogflowcx_v3 import Environment

        from airflow_provider_cx.hooks.release_marks import marked_description

        given = {flow_of(name): name for name in self.version_names}
        kept = [c.version for c in environment.version_configs if flow_of(c.version) not in given]
        target = [*kept, *given.values()]
        description = marked_description(environment.description, self.release)
        operation = self.hook.update_environment(
            environment.name,
            versions=target,
            description=description if description != environment.description else None,
        )
        self.log.info("updating environment %s to %s", environment.name, ", ".join(target))
        return self.wait_or_defer(context, operation, result_type=Environment, then="finish_update", state=state)

    def mark_release(self, context: Any, environment: Any, pending: list[str], state: dict[str, Any]) -> Any:
        """Write the release line before the first DeployFlow, so that a rerun can tell what came before."""
        from google.cloud.dialogflowcx_v3 import Environment

        from airflow_provider_cx.hooks.release_marks import marked_description

        description = marked_description(environment.description, self.release)
        operation = self.hook.update_environment(environment.name, description=description)
        return self.wait_or_defer(
            context, operation, result_type=Environment, then="after_mark", state={**state, "pending": pending}
        )

    def after_mark(self, context: Any, result: Any, pending: list[str], **state: Any) -> Any:
        return self.deploy_next(context, pending, state)

    def finish_update(self, context: Any, result: Any, **state: Any) -> dict[str, Any]:
        return self.summary(result, state, changed=True)

    def deploy_next(self, context: Any, pending: list[str], state: dict[str, Any]) -> Any:
        from google.cloud.dialogflowcx_v3 import DeployFlowResponse

        version = pending[0]
        operation = self.hook.deploy_flow(state["environment"], version)
        self.log.info("deploying %s to %s", version, state["environment"])
        return self.wait_or_defer(
            context,
            operation,
            result_type=DeployFlowResponse,
            then="after_deploy_flow",
            state={**state, "pending": pending},
        )

    def after_deploy_flow(self, context: Any, result: Any, pending: list[str], **state: Any) -> Any:
        from google.cloud.dialogflowcx_v3 import Deployment

        deployment = self.hook.get_deployment(result.deployment)
        state["deployments"] = [*state["deployments"], deployment.name]
        if deployment.state != Deployment.State.SUCCEEDED:
            results = list(deployment.result.deployment_test_results)
            raise CXGateFailedError(
                f"deployment {deployment.name} of {pending[0]} ended {deployment.state.name}"
                + (f": pre-deployment test case run(s) failed ({len(results)} result(s))" if results else "")
                + f"; {pending[0]} was not deployed. Previously served: {state['previous_version_configs']}"
            )
        if len(pending) > 1:
            return self.deploy_next(context, pending[1:], state)
        return self.summary(result.environment, state, changed=True)

    def summary(self, environment: Any, state: dict[str, Any], *, changed: bool) -> dict[str, Any]:
        return {
            "environment": state["environment"],
            "display_name": state["display_name"],
            "created": state["created"],
            "changed": changed,
            "previous_version_configs": state["previous_version_configs"],
            "version_configs": [config.version for config in environment.version_configs],
            "deployments": state["deployments"],
        }
