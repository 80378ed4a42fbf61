from __future__ import annotations

from unittest import mock

from airflow_provider_cx import links
from airflow_provider_cx.links import ALL_LINKS, CXAgentLink, agent_console_url, environment_console_url

AGENT = "projects/p1/locations/europe-west1/agents/a1"


def test_console_urls_are_built_from_resource_names():
    assert agent_console_url(AGENT) == f"https://dialogflow.cloud.google.com/cx/{AGENT}"
    assert environment_console_url(f"{AGENT}/environments/e1").endswith(f"{AGENT}/environments")
    assert links.test_results_console_url(AGENT).endswith(f"{AGENT}/testCases")


def test_each_link_has_its_own_xcom_key_and_name():
    assert len({link().xcom_key for link in ALL_LINKS}) == len(ALL_LINKS)
    assert len({link.name for link in ALL_LINKS}) == len(ALL_LINKS)


def test_persist_pushes_under_the_link_key():
    ti = mock.Mock()
    CXAgentLink.persist({"ti": ti}, "https://x")
    ti.xcom_push.assert_called_once_with(key=CXAgentLink().xcom_key, value="https://x")


class RunningTaskInstance:
    """The fields of Airflow's RuntimeTaskInstance a link uses (it is the ``ti_key`` when a task ends)."""

    def __init__(self, task_id: str, *, resumed: bool = False) -> None:
        self.dag_id, self.run_id, self.task_id, self.map_index, self.try_number = ("d", "r", task_id, -1, 1)
        self._ti_context_from_server = mock.Mock(next_method="execute_complete" if resumed else None)
        self.pushed: dict[str, str] = {}

    def xcom_push(self, key: str, value: str) -> None:
        self.pushed[key] = value


def test_a_link_the_task_never_persisted_is_empty_without_asking_for_its_xcom():
    """Airflow's client logs "[error] XCom not found" for a missing key: a link must not ask for one."""
    ti = RunningTaskInstance("export_draft")
    links.CXAgentLink.persist({"ti": ti}, "https://agent")

    with mock.patch.object(links.XCom, "get_value", side_effect=AssertionError("no XCom read expected")):
        assert links.CXEnvironmentLink().get_link(mock.Mock(), ti_key=ti) == ""  # the UI shows no link
        assert links.CXAgentLink().get_link(mock.Mock(), ti_key=ti) == "https://agent"
    assert ti.pushed == {CXAgentLink.key: "https://agent"}


def test_a_resumed_task_reads_links_its_first_process_pushed():
    ti = RunningTaskInstance("run_tests", resumed=True)

    with mock.patch.object(links.XCom, "get_value", return_value="https://tests") as get_value:
        assert links.CXTestResultsLink().get_link(mock.Mock(), ti_key=ti) == "https://tests"
    get_value.assert_called_once_with(ti_key=ti, key=links.CXTestResultsLink.key)


def test_outside_a_task_a_link_reads_its_xcom_and_a_missing_one_is_empty():
    key = mock.Mock(dag_id="d", run_id="r2", task_id="t", map_index=-1, try_number=1, spec=["dag_id", "run_id"])
    with mock.patch.object(links.XCom, "get_value", return_value=None) as get_value:
        assert links.CXEnvironmentLink().get_link(mock.Mock(), ti_key=key) == ""
    get_value.assert_called_once()
