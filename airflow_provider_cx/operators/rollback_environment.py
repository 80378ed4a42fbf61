"""CXRollbackEnvironmentOperator: put an environment back on its previous flow versions and, when a
backup was recorded, the agent's draft back to that backup."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_cx import storage
from airflow_provider_cx.links import CXAgentLink, CXEnvironmentLink
from airflow_provider_cx.operators.base import CXLongRunningOperator
from airflow_provider_cx.operators.errors import CXInvalidInputError, CXResourceNotFoundError
from airflow_provider_cx.operators.restore_agent import RESTORE_OPTIONS, restore_source


def parse_recorded_configuration(value: Any) -> dict[str, Any] | None:
    """A recorded configuration as ``{"environment": name | None, "version_configs": [...], "created": bool}``.

    Accepts what CXDeployEnvironmentOperator records (its ``cx_environment_before`` XCom, or its
    ``return_value`` with ``previous_version_configs``), a plain list of version names (or of
    ``{"version": name}``), or either as JSON / Python-literal text (a rendered template). ``None``
    and ``""`` mean "nothing recorded".
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                raise CXInvalidInputError(
                    f"previous_configuration {value[:200]!r} is neither JSON nor a Python literal"
                ) from None
        if value is None:
            return None
    if isinstance(value, Mapping):
        if "version_configs" in value and "previous_version_configs" not in value:
            versions = value["version_configs"]
        elif "previous_version_configs" in value:
            versions = value["previous_version_configs"]
        else:
            raise CXInvalidInputError(
                "previous_configuration must hold 'version_configs' (cx_environment_before) or "
                f"'previous_version_configs' (a deploy's return_value); got keys {sorted(value)}"
            )
        environment, created = value.get("environment"), bool(value.get("created", False))
    elif isinstance(value, Sequence):
        versions, environment, created = value, None, False
    else:
        raise CXInvalidInputError(f"previous_configuration {value!r} is not a mapping or a list of versions")
    names = [item.get("version") if isinstance(item, Mapping) else item for item in versions]
    if not all(isinstance(name, str) and "/flows/" in name and "/versions/" in name for name in names):
        raise CXInvalidInputError(f"previous_configuration: {names!r} are not all flow version resource names")
    return {"environment": environment, "version_configs": names, "created": created}


class CXRollbackEnvironmentOperator(CXLongRunningOperator):
    """Return ``environment`` to its previous configuration; restore the agent from ``restore_from``.

    The configuration to return to is, in order of preference:

    1. ``previous_configuration``: what a deploy recorded before it changed the environment
       (idempotent: rolling back twice leaves the same state);
    2. with ``use_history=True`` and nothing recorded: the newest entry of LookupEnvironmentHistory
       whose versions differ from what the environment serves now. Not idempotent (a rollback is
       itself history), so prefer a recorded configuration in pipelines.

    An environment the deploy *created* (recorded ``created: true``) has no previous configuration:
    it is deleted with ``delete_created_environment=True``, otherwise left as it is. With nothing
    recorded and ``use_history=False``, the environment is left alone (e.g. a release that failed
    before deploying) and only the agent is restored.

    ``restore_from`` is checked before anything changes; the environment is rolled back first (its
    versions are snapshots and do not depend on the draft), then the draft is restored.

    :param environment: display name, id or resource name (templated); may be omitted when the
        recorded configuration names it.
    :param previous_configuration: recorded configuration (templated; see
        :func:`parse_recorded_configuration`), e.g. ``XComArg(deploy, key="cx_environment_before")``.
    :param use_history: fall back to the environment's history when nothing is recorded.
    :param restore_from: a backup to restore the agent's draft from, e.g. CXRestoreAgentOperator's
        ``backup_uri`` XCom (templated); ``None`` leaves the draft alone.
    :param restore_option: ``"KEEP"`` or ``"FALLBACK"`` for that restore (templated).
    :param delete_created_environment: delete an environment the deploy created.
    Plus the parameters of :class:`CXLongRunningOperator` (agent, gcp_conn_id, deferrable, ...).

    Returns (XCom ``return_value``)::

        {"agent": "...", "environment": "<name>" | None,
         "environment_action": "updated" | "unchanged" | "deleted" | "kept_created" | "skipped",
         "configuration_from": "recorded" | "history" | None,
         "version_configs": ["<version name>", ...] | None,    # what the environment serves now
         "restored_from": "<uri>" | None, "restored_sha256": "<hex>" | None}

    Links: ``cx_agent_link`` and ``cx_environment_link``.
    """

    template_fields: Sequence[str] = (
        *CXLongRunningOperator.template_fields,
        "environment",
        "previous_configuration",
        "restore_from",
        "restore_option",
    )
    operator_extra_links = (CXAgentLink(), CXEnvironmentLink())

    def __init__(
        self,
        *,
        environment: str | None = None,
        previous_configuration: Any = None,
        use_history: bool = True,
        restore_from: storage.Location | None = None,
        restore_option: str = "KEEP",
        delete_created_environment: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.environment = environment
        self.previous_configuration = previous_configuration
        self.use_history = use_history
        self.restore_from = restore_from
        self.restore_option = restore_option
        self.delete_created_environment = delete_created_environment

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.restore_option not in RESTORE_OPTIONS:
            raise CXInvalidInputError(
                f"restore_option {self.restore_option!r} is not one of {', '.join(RESTORE_OPTIONS)}"
            )

    def execute(self, context: Any) -> Any:
        self.check_inputs()
        recorded = parse_recorded_configuration(self.previous_configuration)
        restore_sha256 = None
        if self.restore_from:
            _, restore_sha256 = restore_source(self.restore_from)  # a bad backup changes nothing
        self.persist_agent_link(context)
        self.get_agent()
        reference = self.environment or (recorded or {}).get("environment")
        state: dict[str, Any] = {
            "environment": None,
            "environment_action": "skipped",
            "configuration_from": None,
            "version_configs": None,
            "restored_sha256": restore_sha256,
        }
        if not reference:
            if recorded is not None or self.use_history:
                raise CXInvalidInputError("environment is required unless the recorded configuration names it")
            return self.start_restore(context, None, **state)
        environment = self.hook.resolve_environment(self.agent_name, reference)
        if recorded and recorded["environment"] and recorded["environment"] != environment.name:
            raise CXInvalidInputError(
                f"environment {reference!r} is {environment.name}, but the recorded configuration is of "
                f"{recorded['environment']}"
            )
        self.persist_environment_link(context, environment.name)
        state["environment"] = environment.name
        current = [config.version for config in environment.version_configs]
        if recorded is not None and recorded["created"]:
            return self.roll_back_created(context, environment.name, current, state)
        if recorded is not None:
            target, state["configuration_from"] = recorded["version_configs"], "recorded"
        elif self.use_history:
            target, state["configuration_from"] = self.previous_from_history(environment.name, current), "history"
        else:
            state["version_configs"] = current
            return self.start_restore(context, None, **state)
        if target == current:
            self.log.info("environment %s already serves %s", environment.name, target)
            state.update(environment_action="unchanged", version_configs=current)
            return self.start_restore(context, None, **state)
        return self.update_environment(context, environment, target, state)

    def previous_from_history(self, environment: str, current: list[str]) -> list[str]:
        """Versions of the newest history entry that differs from ``current``."""
        for entry in self.hook.lookup_environment_history(environment):
            versions = [config.version for config in entry.version_configs]
            if versions != current:
                return versions
        raise CXResourceNotFoundError(
            f"environment {environment} has no earlier configuration in its history to roll back to"
        )

    def update_environment(self, context: Any, environment: Any, target: list[str], state: dict[str, Any]) -> Any:
        from google.cloud import dialogflowcx_v3 as cx

        self.log.info("rolling %s back to %s", environment.name, target)
        operation = self.hook.update_environment(environment.name, versions=target)
        state.update(environment_action="updated", version_configs=target)
        return self.wait_or_defer(context, operation, result_type=cx.Environment, then="start_restore", state=state)

    def roll_back_created(self, context: Any, environment: str, current: list[str], state: dict[str, Any]) -> Any:
        state["configuration_from"] = "recorded"
        if not self.delete_created_environment:
            self.log.info(
                "environment %s was created by the deploy; kept (delete_created_environment=False)", environment
            )
            state.update(environment_action="kept_created", version_configs=current)
            return self.start_restore(context, None, **state)
        self.hook.delete_environment(environment)
        self.log.info("deleted environment %s, which the deploy had created", environment)
        state.update(environment_action="deleted", version_configs=None)
        return self.start_restore(context, None, **state)

    def start_restore(self, context: Any, _: Any, **state: Any) -> Any:
        if not self.restore_from:
            return self.finish(context, None, restored_from=None, **state)
        from google.protobuf import empty_pb2

        fields, _sha = restore_source(self.restore_from, check=False)  # checked in execute
        uri = storage.uri_of(self.restore_from)
        self.log.info("restoring %s from %s", self.agent_name, uri)
        operation = self.hook.restore_agent(self.agent_name, restore_option=self.restore_option, **fields)
        del fields
        return self.wait_or_defer(
            context, operation, result_type=empty_pb2.Empty, then="finish", state={**state, "restored_from": uri}
        )

    def finish(self, context: Any, _: Any, **state: Any) -> dict[str, Any]:
        summary = {
            "agent": self.agent_name,
            "environment": state["environment"],
            "environment_action": state["environment_action"],
            "configuration_from": state["configuration_from"],
            "version_configs": state["version_configs"],
            "restored_from": state["restored_from"],
            "restored_sha256": state["restored_sha256"] if state["restored_from"] else None,
        }
        self.log.info("rollback of %s done: %s", self.agent_name, summary)
        return summary
