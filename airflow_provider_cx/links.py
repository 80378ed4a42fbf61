"""Links from a task to the Dialogflow CX console.

Each operator computes its URL at execute time and stores it in XCom under the link's key (the way
Airflow 3 resolves operator links); the link class only reads it back. URLs are built from resource
names, so they need no API call.

A link an operator did not use (an export of the draft has no environment) has no value: the UI
shows it as absent (Airflow's API turns ``""`` into no link). Airflow 3 asks every link of a task
for its URL when the task ends, in the task's process, and a GetXCom for a key never pushed logs
``[error] XCom not found``; so a link answers from what the same process persisted and reads XCom
only when an earlier process may have pushed it (a task resumed after deferral) or outside a task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperatorLink
from airflow.sdk.bases.xcom import BaseXCom as XCom

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

CONSOLE = "https://dialogflow.cloud.google.com/cx"


def agent_console_url(agent_name: str) -> str:
    """Console page of an agent (``projects/P/locations/L/agents/A``)."""
    return f"{CONSOLE}/{agent_name}"


def environment_console_url(environment_name: str) -> str:
    """Console page listing an agent's environments (the console has no page per environment)."""
    agent, _, _ = environment_name.partition("/environments/")
    return f"{CONSOLE}/{agent}/environments"


def test_results_console_url(agent_name: str) -> str:
    """Console page of an agent's test cases and their latest results."""
    return f"{CONSOLE}/{agent_name}/testCases"


class _CXConsoleLink(BaseOperatorLink):
    """A console link whose URL the operator pushed to XCom under :attr:`key`."""

    key: ClassVar[str]
    name: ClassVar[str]

    @property
    def xcom_key(self) -> str:
        return self.key

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        known = _PERSISTED.get((*_instance_of(ti_key), self.key))
        if known is not None:
            return known
        if _ran_in_this_process(ti_key):
            return ""  # this try never pushed the key: nothing to read, and no error to log
        url = XCom.get_value(ti_key=ti_key, key=self.key)  # type: ignore[arg-type]  # a TaskInstanceKey is one
        return str(url or "")

    @classmethod
    def persist(cls, context: Any, url: str) -> None:
        """Store the URL for the current task instance; called by operators during execute."""
        ti = context["ti"]
        ti.xcom_push(key=cls.key, value=url)
        _PERSISTED[(*_instance_of(ti), cls.key)] = url


#: URLs persisted by this process, by task instance (dag, run, task, map index, try) and link key.
_PERSISTED: dict[tuple[Any, ...], str] = {}


def _instance_of(ti: Any) -> tuple[Any, ...]:
    return tuple(getattr(ti, field, None) for field in ("dag_id", "run_id", "task_id", "map_index", "try_number"))


def _ran_in_this_process(ti: Any) -> bool:
    """Whether ``ti`` is the running task instance of this process, started fresh (not resumed).

    Only then has every link value of this try been persisted here: a resumed task's first
    process may have pushed some before it deferred.
    """
    server_context = getattr(ti, "_ti_context_from_server", None)
    return server_context is not None and not getattr(server_context, "next_method", None)


class CXAgentLink(_CXConsoleLink):
    name = "Dialogflow CX Agent"
    key = "cx_agent_link"


class CXEnvironmentLink(_CXConsoleLink):
    name = "Dialogflow CX Environment"
    key = "cx_environment_link"


class CXTestResultsLink(_CXConsoleLink):
    name = "Dialogflow CX Test Results"
    key = "cx_test_results_link"


ALL_LINKS = (CXAgentLink, CXEnvironmentLink, CXTestResultsLink)
