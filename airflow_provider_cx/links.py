"""Links from a task to the Dialogflow CX console.

Each operator computes its URL at execute time and stores it in XCom under the link's key (the way
Airflow 3 resolves operator links); the link class only reads it back. URLs are built from resource
names, so they need no API call.
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
        url = XCom.get_value(ti_key=ti_key, key=self.key)  # type: ignore[arg-type]  # a TaskInstanceKey is one
        return str(url or "")

    @classmethod
    def persist(cls, context: Any, url: str) -> None:
        """Store the URL for the current task instance; called by operators during execute."""
        context["ti"].xcom_push(key=cls.key, value=url)


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
