"""DialogflowCXHook: Dialogflow CX as named calls, for operators and your own tasks; and its async twin.

The hook owns credentials, endpoints, clients, retries, paging and long-running operations, so a
caller never sees a client::

    hook = DialogflowCXHook(gcp_conn_id="google_cloud_default")
    operation = hook.export_agent(agent)                                 # starts the export
    response = hook.wait_for_result(operation, ExportAgentResponse)       # polls until done
    flows = hook.list_flows(agent)                                        # every page, as a list

Each method applies the retry kind of its CX method (READ, IDEMPOTENT or NOT_IDEMPOTENT; see
:mod:`.retry`) with the hook's policy, and the per-attempt timeout of that policy. Methods that start
a long-running operation return api_core's ``Operation`` at once; the waits of :mod:`.operation_calls`
turn it into its result. A resource that does not exist raises :class:`.CXResourceNotFoundError`
naming it. The methods, by family:

- agents and content (:mod:`.agent_calls`): ``get_agent``, ``list_agents``, ``export_agent``,
  ``restore_agent``, ``validate_agent``, ``get_agent_validation_result``, ``list_flows``,
  ``get_flow``, ``list_pages``, ``list_transition_route_groups``, ``list_intents``, ``reachable_flows``;
- releases (:mod:`.release_calls`): ``create_version``, ``list_versions``, ``get_version``,
  ``list_environments``, ``get_environment``, ``create_environment``, ``update_environment``,
  ``delete_environment``, ``lookup_environment_history``, ``deploy_flow``, ``get_deployment``,
  ``run_continuous_test``;
- testing (:mod:`.test_case_calls`): ``list_test_cases``, ``batch_run_test_cases``,
  ``get_test_case_result``, ``calculate_coverage``, ``detect_intent``;
- operations (:mod:`.operation_calls`): ``get_operation``, ``list_operations``,
  ``cancel_operation``, ``wait_for_result``, ``wait_for_operation_done``, ``wait_for_operation``;
- look-ups by display name, id or resource name (:mod:`.lookup`): ``resolve_environment``,
  ``resolve_flows``, ``resolve_test_cases``.

The stock clients remain available (``get_agents_client()``, ..., with :meth:`call` for the hook's
retries) for calls the hook does not name. gRPC's fork support is switched on when the provider is
imported (see :mod:`.fork_support`); importing this module imports neither grpc nor the CX library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow_provider_cx.hooks.agent_calls import AgentCalls
from airflow_provider_cx.hooks.async_hook import DialogflowCXAsyncHook
from airflow_provider_cx.hooks.release_calls import ReleaseCalls
from airflow_provider_cx.hooks.test_case_calls import TestCaseCalls

if TYPE_CHECKING:
    from google.cloud.dialogflowcx_v3 import Environment, Flow, TestCase


class DialogflowCXHook(AgentCalls, ReleaseCalls, TestCaseCalls):
    """Dialogflow CX through the stock gRPC clients: one method per CX call (see the module docstring).

    :param gcp_conn_id: Airflow connection (type ``google_cloud_platform`` or ``dialogflow_cx``).
    :param location: CX location used when a call names no resource; must agree with any resource
        name a call passes. Defaults to the connection's ``location`` extra, then ``global``.
    :param impersonation_chain: service account to impersonate, or a chain (list or comma-separated)
        whose last entry makes the calls; overrides the connection's ``impersonation_chain``.
    :param retry_policy: attempts, backoff and deadlines of every call: a complete
        :class:`.RetryPolicy`, or a mapping of the fields to change in the connection's policy
        (extras ``retry_max_attempts``, ``retry_deadline``, ...; see :mod:`.policy_settings`).
    :param polling_policy: backoff and overall timeout of the operation waits, likewise
        (extras ``poll_interval``, ``operation_timeout``).
    """

    def resolve_environment(self, agent: str, environment: str) -> Environment:
        """The environment of ``agent`` that ``environment`` names (display name, id or resource name)."""
        from airflow_provider_cx.hooks.lookup import resolve_environment

        return resolve_environment(self, agent, environment)

    def resolve_flows(self, agent: str, flows: Sequence[str]) -> list[Flow]:
        """Several flows with one ListFlows, in the order given; every unknown one is named in the error."""
        from airflow_provider_cx.hooks.lookup import resolve_flows

        return resolve_flows(self, agent, flows)

    def resolve_test_cases(
        self, agent: str, names: Sequence[str] | None = None, tags: Sequence[str] | None = None
    ) -> list[TestCase]:
        """Test cases selected by name and/or tag (with or without ``#``); all when neither is given."""
        from airflow_provider_cx.hooks.lookup import resolve_test_cases

        return resolve_test_cases(self, agent, names, tags)


__all__ = ["DialogflowCXAsyncHook", "DialogflowCXHook"]
