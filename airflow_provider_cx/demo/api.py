"""A small client for Airflow 3's REST API (``/api/v2``): trigger runs, wait, read states, answer HITL steps.

Stdlib HTTP only and no Airflow import, so the demo and tests can drive a stack from any process. Auth
follows the simple auth manager: ``GET /auth/token`` when it runs with all-admins, ``POST /auth/token``
with a username and password otherwise; the bearer token is refreshed once on a 401.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

APPROVE = "Approve"
REJECT = "Reject"
T = TypeVar("T")

TERMINAL_RUN_STATES = frozenset({"success", "failed"})
TERMINAL_TASK_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
# Airflow 3.3 parks HITL tasks in "awaiting_input"; 3.1/3.2 defer them to a trigger instead.
WAITING_FOR_INPUT_STATES = frozenset({"awaiting_input", "deferred"})
PAGE_LIMIT = 100


class AirflowAPIError(Exception):
    """The API answered with an error status."""

    def __init__(self, method: str, url: str, status: int, detail: Any) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {detail}")
        self.method = method
        self.url = url
        self.status = status
        self.detail = detail


class WaitTimeoutError(TimeoutError):
    """Something awaited through the API did not happen in time; the message says what was seen last."""


class RunEndedError(Exception):
    """A DAG run finished before reaching the step that was awaited (e.g. a HITL request)."""


class TaskEndedError(Exception):
    """A task instance finished in a state other than the awaited one, which it can no longer reach."""


@dataclass(frozen=True)
class DagRun:
    dag_id: str
    run_id: str
    state: str
    conf: dict[str, Any]
    start_date: str | None
    end_date: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DagRun:
        return cls(
            dag_id=data["dag_id"],
            run_id=data["dag_run_id"],
            state=data["state"],
            conf=dict(data.get("conf") or {}),
            start_date=data.get("start_date"),
            end_date=data.get("end_date"),
        )


@dataclass(frozen=True)
class TaskInstance:
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    operator: str | None
    pid: int | None
    hostname: str | None
    start_date: str | None
    end_date: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskInstance:
        return cls(
            task_id=data["task_id"],
            map_index=data.get("map_index", -1),
            state=data.get("state"),
            try_number=data.get("try_number", 0),
            operator=data.get("operator"),
            pid=data.get("pid"),
            hostname=data.get("hostname"),
            start_date=data.get("start_date"),
            end_date=data.get("end_date"),
        )


@dataclass(frozen=True)
class HITLRequest:
    """A Human-in-the-loop step of one task instance, answered or not."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    subject: str
    body: str | None
    options: tuple[str, ...]
    multiple: bool
    response_received: bool
    chosen_options: tuple[str, ...]
    task_state: str | None
    created_at: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HITLRequest:
        ti = data["task_instance"]
        return cls(
            dag_id=ti["dag_id"],
            run_id=ti["dag_run_id"],
            task_id=ti["task_id"],
            map_index=ti.get("map_index", -1),
            subject=data["subject"],
            body=data.get("body"),
            options=tuple(data["options"]),
            multiple=bool(data.get("multiple")),
            response_received=bool(data.get("response_received")),
            chosen_options=tuple(data.get("chosen_options") or ()),
            task_state=ti.get("state"),
            created_at=datetime.fromisoformat(data["created_at"]),
        )


class AirflowAPIClient:
    """REST client for one Airflow API server.

    :param base_url: e.g. ``http://127.0.0.1:38123`` (no ``/api/v2``).
    :param username: with ``password``, log in with ``POST /auth/token``; without, use all-admins.
    :param password: see ``username``.
    :param timeout: seconds per HTTP request.
    :param liveness_check: called on every poll of a wait; raise from it to abort the wait (the stack
        passes its ``check_alive`` so a dead component fails a wait at once rather than at its timeout).
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        liveness_check: Callable[[], None] | None = None,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither (all-admins mode)")
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self.liveness_check = liveness_check
        self._token: str | None = None

    # -- DAGs ---------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``/api/v2/monitor/health``: status of metadatabase, scheduler, triggerer and dag_processor."""
        return self._request("GET", "/api/v2/monitor/health", auth=False)

    def get_dag(self, dag_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v2/dags/{_quote(dag_id)}")

    def import_errors(self) -> list[dict[str, Any]]:
        """DAG files that failed to parse: ``[{"filename": ..., "stack_trace": ...}, ...]``."""
        errors: list[dict[str, Any]] = self._request("GET", "/api/v2/importErrors", query={"limit": PAGE_LIMIT})[
            "import_errors"
        ]
        return errors

    def wait_for_dag(self, dag_id: str, timeout: float = 60.0, poll_interval: float = 1.0) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id``; on timeout the error lists import errors."""

        def attempt() -> dict[str, Any] | None:
            try:
                return self.get_dag(dag_id)
            except AirflowAPIError as exc:
                if exc.status == 404:
                    return None
                raise

        def describe() -> str:
            errors = self.import_errors()
            listed = "\n".join(f"{error['filename']}:\n{error['stack_trace']}" for error in errors)
            return f"DAG {dag_id!r} was not parsed; import errors: {listed or 'none'}"

        return self._poll(attempt, timeout, poll_interval, describe)

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        return self._request("PATCH", f"/api/v2/dags/{_quote(dag_id)}", body={"is_paused": paused})

    # -- runs ---------------------------------------------------------------------------------------

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None, run_id: str | None = None) -> DagRun:
        """Trigger a manual run (no logical date) with ``conf``; returns it in state ``queued``."""
        body: dict[str, Any] = {"logical_date": None, "conf": dict(conf or {})}
        if run_id is not None:
            body["dag_run_id"] = run_id
        return DagRun.from_json(self._request("POST", f"/api/v2/dags/{_quote(dag_id)}/dagRuns", body=body))

    def dag_run(self, dag_id: str, run_id: str) -> DagRun:
        return DagRun.from_json(self._request("GET", _run_path(dag_id, run_id)))

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300.0, poll_interval: float = 1.0) -> DagRun:
        """Wait until the run is ``success`` or ``failed`` and return it (a failed run is not an error here)."""

        def attempt() -> DagRun | None:
            run = self.dag_run(dag_id, run_id)
            return run if run.state in TERMINAL_RUN_STATES else None

        def describe() -> str:
            run = self.dag_run(dag_id, run_id)
            return f"run {dag_id}/{run_id} still {run.state!r}; tasks: {self.task_states(dag_id, run_id)}"

        return self._poll(attempt, timeout, poll_interval, describe)

    # -- task instances -----------------------------------------------------------------------------

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskInstance]:
        data = self._request("GET", f"{_run_path(dag_id, run_id)}/taskInstances", query={"limit": PAGE_LIMIT})
        return [TaskInstance.from_json(item) for item in data["task_instances"]]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``{task_id: state}`` (mapped tasks as ``task_id[i]``); ``None`` means not scheduled yet."""
        return {
            ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": ti.state
            for ti in self.task_instances(dag_id, run_id)
        }

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstance:
        path = f"{_run_path(dag_id, run_id)}/taskInstances/{_quote(task_id)}"
        if map_index >= 0:
            path += f"/{map_index}"
        return TaskInstance.from_json(self._request("GET", path))

    def wait_for_task_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: Collection[str],
        timeout: float = 120.0,
        poll_interval: float = 0.5,
        map_index: int = -1,
    ) -> TaskInstance:
        """Wait until the task instance is in one of ``states`` (e.g. ``{"deferred"}``) and return it.

        Fails fast with ``TaskEndedError`` if the task finishes in another state. A mapped task instance
        that does not exist yet (its upstream has not been expanded) is waited for.
        """
        wanted = set(states)

        def attempt() -> TaskInstance | None:
            try:
                ti = self.task_instance(dag_id, run_id, task_id, map_index)
            except AirflowAPIError as exc:
                if exc.status == 404 and map_index >= 0:
                    return None
                raise
            if ti.state in wanted:
                return ti
            if ti.state in TERMINAL_TASK_STATES:
                raise TaskEndedError(
                    f"task {task_id} of {dag_id}/{run_id} ended {ti.state!r} instead of reaching one of "
                    f"{sorted(wanted)}; tasks: {self.task_states(dag_id, run_id)}"
                )
            return None

        def describe() -> str:
            state = self.task_states(dag_id, run_id).get(task_id if map_index < 0 else f"{task_id}[{map_index}]")
            return f"task {task_id} of {dag_id}/{run_id} is {state!r}, not one of {sorted(wanted)}"

        return self._poll(attempt, timeout, poll_interval, describe)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        """The XCom value as the task pushed it (JSON-decoded when stored as JSON text)."""
        path = f"{_run_path(dag_id, run_id)}/taskInstances/{_quote(task_id)}/xcomEntries/{_quote(key)}"
        value = self._request("GET", path, query={"map_index": map_index})["value"]
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    # -- assets ---------------------------------------------------------------------------------------

    def asset_events(self, *, source_dag_id: str, source_run_id: str | None = None) -> list[dict[str, Any]]:
        """Asset events a DAG's tasks emitted: ``[{"uri", "name", "source_task_id", "extra", ...}, ...]``."""
        query: dict[str, Any] = {"limit": PAGE_LIMIT, "source_dag_id": source_dag_id}
        if source_run_id is not None:
            query["source_run_id"] = source_run_id
        events: list[dict[str, Any]] = self._request("GET", "/api/v2/assets/events", query=query)["asset_events"]
        return events

    # -- Human-in-the-loop --------------------------------------------------------------------------

    def hitl_requests(self, dag_id: str, run_id: str, *, pending_only: bool = True) -> list[HITLRequest]:
        """HITL steps of a run; by default only those still waiting for an answer."""
        query: dict[str, Any] = {"limit": PAGE_LIMIT}
        if pending_only:
            query["response_received"] = "false"
        data = self._request("GET", f"{_run_path(dag_id, run_id)}/hitlDetails", query=query)
        return [HITLRequest.from_json(item) for item in data["hitl_details"]]

    def wait_for_hitl(
        self,
        dag_id: str,
        run_id: str,
        task_id: str | None = None,
        timeout: float = 300.0,
        poll_interval: float = 1.0,
        settle_seconds: float = 3.0,
    ) -> HITLRequest:
        """Wait for a pending HITL step (of ``task_id`` if given) that can safely be answered.

        Fails fast if the run ends first. The step is returned once its task waits for input and the
        request is ``settle_seconds`` old: in Airflow 3.3.2 an answer that arrives before the scheduler
        has processed the executor's "finished" event of the parked task makes the scheduler fail the
        resumed task ("state changed externally"); a human never answers that fast, a client does.
        """

        def attempt() -> HITLRequest | None:
            pending = [req for req in self.hitl_requests(dag_id, run_id) if task_id in (None, req.task_id)]
            for request in pending:
                age = (datetime.now(UTC) - request.created_at).total_seconds()
                if request.task_state in WAITING_FOR_INPUT_STATES and age >= settle_seconds:
                    return request
            if pending:
                return None
            run = self.dag_run(dag_id, run_id)
            if run.state in TERMINAL_RUN_STATES:
                raise RunEndedError(
                    f"run {dag_id}/{run_id} ended {run.state!r} before asking for input "
                    f"(task {task_id or 'any'}); tasks: {self.task_states(dag_id, run_id)}"
                )
            return None

        def describe() -> str:
            return (
                f"no answerable HITL step (task {task_id or 'any'}) in {dag_id}/{run_id}; "
                f"tasks: {self.task_states(dag_id, run_id)}"
            )

        return self._poll(attempt, timeout, poll_interval, describe)

    def respond(
        self,
        request: HITLRequest,
        chosen_options: Collection[str],
        params_input: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Answer a HITL step; the task resumes at once. Returns ``{"chosen_options", "responded_by", ...}``."""
        chosen = list(chosen_options)
        unknown = sorted(set(chosen) - set(request.options))
        if unknown or not chosen:
            raise ValueError(
                f"options {unknown or chosen} are not valid for HITL step {request.task_id} of "
                f"{request.dag_id}/{request.run_id}; allowed: {list(request.options)}"
            )
        path = f"{_run_path(request.dag_id, request.run_id)}/taskInstances/{_quote(request.task_id)}"
        path += f"/{request.map_index}/hitlDetails"
        body = {"chosen_options": chosen, "params_input": dict(params_input or {})}
        return self._request("PATCH", path, body=body)

    def approve(self, request: HITLRequest) -> dict[str, Any]:
        """Choose "Approve" on an ``ApprovalOperator`` step."""
        return self.respond(request, [APPROVE])

    def reject(self, request: HITLRequest) -> dict[str, Any]:
        """Choose "Reject" on an ``ApprovalOperator`` step (downstream tasks get skipped)."""
        return self.respond(request, [REJECT])

    # -- HTTP ---------------------------------------------------------------------------------------

    def _poll(
        self,
        attempt: Callable[[], T | None],
        timeout: float,
        poll_interval: float,
        describe: Callable[[], str],
    ) -> T:
        def checked_attempt() -> T | None:
            if self.liveness_check is not None:
                self.liveness_check()
            return attempt()

        def give_up(_: Any) -> Any:
            raise WaitTimeoutError(f"after {timeout:.0f} s: {describe()}")

        retrying = Retrying(
            retry=retry_if_result(lambda result: result is None),
            stop=stop_after_delay(timeout),
            wait=wait_fixed(poll_interval),
            retry_error_callback=give_up,
        )
        result = retrying(checked_attempt)
        assert result is not None  # retried while None; give_up raises when time is up
        return result

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        auth: bool = True,
    ) -> dict[str, Any]:
        """The JSON object an endpoint answers (every endpoint used here answers an object)."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        try:
            return cast("dict[str, Any]", self._send(method, url, body, auth))
        except AirflowAPIError as exc:
            if exc.status != 401 or not auth:
                raise
            self._token = None  # expired or minted by a previous server: fetch a new one once
            return cast("dict[str, Any]", self._send(method, url, body, auth))

    def _send(self, method: str, url: str, body: Any, auth: bool) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {self._access_token()}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise AirflowAPIError(method, url, exc.code, _error_detail(exc)) from None
        return json.loads(payload) if payload else None

    def _access_token(self) -> str:
        if self._token is None:
            if self.username is None:
                answer = self._send("GET", f"{self.base_url}/auth/token", None, auth=False)
            else:
                credentials = {"username": self.username, "password": self.password}
                answer = self._send("POST", f"{self.base_url}/auth/token", credentials, auth=False)
            self._token = answer["access_token"]
        return self._token


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _run_path(dag_id: str, run_id: str) -> str:
    return f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}"


def _error_detail(exc: urllib.error.HTTPError) -> Any:
    raw = exc.read()
    try:
        return json.loads(raw).get("detail", raw.decode(errors="replace"))
    except (ValueError, AttributeError):
        return raw.decode(errors="replace")
