"""The REST client against a stub HTTP server that answers like Airflow's API (auth, errors, waits, HITL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from airflow.providers.standard.operators.hitl import ApprovalOperator

from airflow_provider_cx.demo.api import (
    APPROVE,
    REJECT,
    AirflowAPIClient,
    AirflowAPIError,
    HITLRequest,
    RunEndedError,
    TaskEndedError,
    WaitTimeoutError,
)

RUN_PATH = "/api/v2/dags/d/dagRuns/manual__1"
Handler = Callable[[dict[str, Any] | None], tuple[int, Any]]


@dataclass
class StubAirflow:
    """Routes ``(method, path)`` to handlers and records every request it gets."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None, Any]] = field(default_factory=list)
    url: str = ""

    def route(self, method: str, path: str, status: int, payload: Any) -> None:
        self.routes[(method, path)] = lambda body: (status, payload)


@pytest.fixture
def stub() -> Iterator[StubAirflow]:
    state = StubAirflow()

    class Handle(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            path = self.path.split("?")[0]
            state.requests.append((self.command, self.path, self.headers.get("Authorization"), body))
            handler = state.routes.get((self.command, path))
            status, payload = handler(body) if handler else (404, {"detail": f"no route {path}"})
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    state.url = f"http://127.0.0.1:{server.server_port}"
    state.route("GET", "/auth/token", 201, {"access_token": "t1"})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def hitl_json(created_at: datetime, state: str = "awaiting_input", **extra: Any) -> dict[str, Any]:
    return {
        "task_instance": {
            "dag_id": "d",
            "dag_run_id": "manual__1",
            "task_id": "approval",
            "map_index": -1,
            "state": state,
        },
        "subject": "Ship it?",
        "options": [APPROVE, REJECT],
        "created_at": created_at.isoformat(),
        **extra,
    }


def test_answers_are_the_approval_operators_options() -> None:
    assert (APPROVE, REJECT) == (ApprovalOperator.APPROVE, ApprovalOperator.REJECT)


def test_an_all_admins_token_is_fetched_once_and_sent_as_bearer(stub: StubAirflow) -> None:
    stub.route("GET", "/api/v2/dags/d", 200, {"dag_id": "d"})
    client = AirflowAPIClient(stub.url)

    client.get_dag("d")
    client.get_dag("d")

    assert [(method, path) for method, path, _, _ in stub.requests].count(("GET", "/auth/token")) == 1
    assert stub.requests[-1][2] == "Bearer t1"


def test_a_rejected_token_is_replaced_once(stub: StubAirflow) -> None:
    tokens = iter(["stale", "fresh"])
    stub.routes[("GET", "/auth/token")] = lambda body: (201, {"access_token": next(tokens)})
    stub.routes[("GET", "/api/v2/dags/d")] = lambda body: (
        (200, {"dag_id": "d"}) if stub.requests[-1][2] == "Bearer fresh" else (401, {"detail": "expired"})
    )

    assert AirflowAPIClient(stub.url).get_dag("d") == {"dag_id": "d"}


def test_credentials_log_in_with_post(stub: StubAirflow) -> None:
    stub.route("POST", "/auth/token", 201, {"access_token": "user-token"})
    stub.route("GET", "/api/v2/dags/d", 200, {"dag_id": "d"})

    AirflowAPIClient(stub.url, username="admin", password="secret").get_dag("d")

    assert stub.requests[0][3] == {"username": "admin", "password": "secret"}
    assert stub.requests[1][2] == "Bearer user-token"


def test_half_a_login_is_refused() -> None:
    with pytest.raises(ValueError, match="both username and password"):
        AirflowAPIClient("http://127.0.0.1:1", username="admin")


def test_an_error_status_carries_the_apis_detail(stub: StubAirflow) -> None:
    stub.route("POST", "/api/v2/dags/d/dagRuns", 400, {"detail": "DAG d is paused"})

    with pytest.raises(AirflowAPIError, match="DAG d is paused") as raised:
        AirflowAPIClient(stub.url).trigger("d")

    assert raised.value.status == 400
    assert raised.value.method == "POST"


def test_trigger_sends_conf_without_a_logical_date(stub: StubAirflow) -> None:
    stub.route("POST", "/api/v2/dags/d/dagRuns", 200, {"dag_id": "d", "dag_run_id": "r1", "state": "queued"})

    run = AirflowAPIClient(stub.url).trigger("d", conf={"release": "r-1"}, run_id="r1")

    assert (run.run_id, run.state) == ("r1", "queued")
    assert stub.requests[-1][3] == {"logical_date": None, "conf": {"release": "r-1"}, "dag_run_id": "r1"}


def test_waiting_for_a_dag_that_never_parses_lists_the_import_errors(stub: StubAirflow) -> None:
    stub.route("GET", "/api/v2/importErrors", 200, {"import_errors": [{"filename": "bad.py", "stack_trace": "Boom"}]})

    with pytest.raises(WaitTimeoutError, match=r"(?s)DAG 'd' was not parsed; import errors: bad.py:\nBoom"):
        AirflowAPIClient(stub.url).wait_for_dag("d", timeout=0.5, poll_interval=0.1)


def test_a_failing_liveness_check_ends_a_wait_at_once(stub: StubAirflow) -> None:
    def dead() -> None:
        raise RuntimeError("scheduler died")

    with pytest.raises(RuntimeError, match="scheduler died"):
        AirflowAPIClient(stub.url, liveness_check=dead).wait_for_run("d", "manual__1", timeout=60)
    assert stub.requests == []


def test_a_hitl_step_is_returned_only_once_it_has_settled(stub: StubAirflow) -> None:
    fresh = datetime.now(UTC)
    stub.route("GET", f"{RUN_PATH}/hitlDetails", 200, {"hitl_details": [hitl_json(fresh)], "total_entries": 1})
    client = AirflowAPIClient(stub.url)

    request = client.wait_for_hitl("d", "manual__1", timeout=10, poll_interval=0.2, settle_seconds=1.0)

    assert (datetime.now(UTC) - fresh) >= timedelta(seconds=1)
    assert (request.task_id, request.options, request.task_state) == ("approval", (APPROVE, REJECT), "awaiting_input")
    assert "response_received=false" in stub.requests[-1][1]


def test_a_run_that_ends_without_asking_is_reported(stub: StubAirflow) -> None:
    stub.route("GET", f"{RUN_PATH}/hitlDetails", 200, {"hitl_details": [], "total_entries": 0})
    stub.route("GET", RUN_PATH, 200, {"dag_id": "d", "dag_run_id": "manual__1", "state": "failed"})
    stub.route("GET", f"{RUN_PATH}/taskInstances", 200, {"task_instances": [{"task_id": "gate", "state": "failed"}]})

    with pytest.raises(RunEndedError, match=r"ended 'failed' before asking for input .*'gate': 'failed'"):
        AirflowAPIClient(stub.url).wait_for_hitl("d", "manual__1", timeout=10)


def test_answers_go_to_the_task_instances_hitl_details(stub: StubAirflow) -> None:
    path = f"{RUN_PATH}/taskInstances/approval/-1/hitlDetails"
    stub.route("PATCH", path, 200, {"chosen_options": [REJECT]})
    request = HITLRequest.from_json(hitl_json(datetime.now(UTC)))

    AirflowAPIClient(stub.url).reject(request)

    assert stub.requests[-1][:2] == ("PATCH", path)
    assert stub.requests[-1][3] == {"chosen_options": [REJECT], "params_input": {}}


def test_an_option_the_step_does_not_offer_is_refused_before_sending(stub: StubAirflow) -> None:
    request = HITLRequest.from_json(hitl_json(datetime.now(UTC)))

    with pytest.raises(ValueError, match=r"\['Maybe'\] are not valid .*allowed: \['Approve', 'Reject'\]"):
        AirflowAPIClient(stub.url).respond(request, ["Maybe"])
    assert stub.requests == []


def test_waiting_for_a_state_a_finished_task_cannot_reach_fails_at_once(stub: StubAirflow) -> None:
    stub.route("GET", f"{RUN_PATH}/taskInstances/gate", 200, {"task_id": "gate", "state": "upstream_failed"})
    stub.route(
        "GET", f"{RUN_PATH}/taskInstances", 200, {"task_instances": [{"task_id": "gate", "state": "upstream_failed"}]}
    )

    with pytest.raises(TaskEndedError, match="task gate of d/manual__1 ended 'upstream_failed' instead of reaching"):
        AirflowAPIClient(stub.url).wait_for_task_state("d", "manual__1", "gate", {"deferred"}, timeout=60)
