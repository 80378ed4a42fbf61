"""One loopback HTTP backend per stage for the sample agent's Branch Locator webhook, and profiles using them.

The sample agent's webhook names ``branches.acmebank.example``, which answers nobody: conversations
fall back to "I can't reach the branch directory". The demo gives each stage (dev, staging, prod) a
backend of its own, a stdlib ``http.server`` in a thread on 127.0.0.1, answering like the branch
locator would (the nearest branch for the ZIP code, as session parameters). Every backend gives the
same answer, as one service deployed three times would, so the same test cases pass in every stage;
what differs is which one is called, and each counts its calls. The stage profiles written by
:func:`write_stage_profiles` are the sample agent's, pointed at these backends and forbidding the
others, so a release that still calls dev's backend fails the stage-fit gate.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from airflow_provider_cx.demo.agents import PackageChange
from airflow_provider_cx.sample_agent import sample_profile_path

STAGES = ("dev", "staging", "prod")
WEBHOOK = "Branch Locator"
WEBHOOK_PATH = "/cx/v1/nearest"
BRANCH = {"branch_name": "Acme Bank Midtown", "branch_address": "350 Fifth Avenue"}
#: What Nearest Branch says when the backend answered (the sample agent's text with BRANCH filled in).
ANSWER = (
    f"Your nearest branch is {BRANCH['branch_name']} at {BRANCH['branch_address']}. "
    "Is there anything else I can help you with?"
)
#: The header prod's profile adds, with its value from an Airflow connection.
API_KEY_HEADER = "X-Api-Key"


class StageWebhookServer:
    """The branch locator for one stage on a free loopback port; counts the calls it answers.

    With ``api_key``, a call without that ``X-Api-Key`` gets 401 (and counts as ``refused``).
    """

    def __init__(self, stage: str, api_key: str | None = None) -> None:
        self.stage = stage
        self.api_key = api_key
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self._answer))
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"webhook-{stage}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{WEBHOOK_PATH}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/"

    def start(self) -> StageWebhookServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str, headers: Mapping[str, str], request: Any) -> tuple[int, dict[str, Any]]:
        sent_key = headers.get(API_KEY_HEADER.lower(), "")
        if self.api_key is not None and not hmac.compare_digest(sent_key, self.api_key):
            self._count("refused")
            return 401, {"error": f"{API_KEY_HEADER} missing or wrong"}
        if path != WEBHOOK_PATH or not isinstance(request, dict):
            self._count("bad request")
            return 404, {"error": f"no such endpoint {path}"}
        tag = str((request.get("fulfillmentInfo") or {}).get("tag", ""))
        self._count(tag or "untagged")
        return 200, {"sessionInfo": {"parameters": dict(BRANCH)}}

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def calls(self) -> int:
        """Calls answered with a branch (refused and malformed ones not included)."""
        with self._lock:
            return sum(n for what, n in self.counts.items() if what not in ("refused", "bad request"))


def _handler(answer: Callable[[str, Mapping[str, str], Any], tuple[int, dict[str, Any]]]) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                request = None
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, payload = answer(self.path.split("?", 1)[0], headers, request)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the counts say what happened; request lines would interleave with the demo's output

    return Handler


class StageWebhooks:
    """The three stages' backends (a context manager); prod's requires ``prod_api_key``."""

    def __init__(self, prod_api_key: str | None = None) -> None:
        self.servers = {stage: StageWebhookServer(stage, prod_api_key if stage == "prod" else None) for stage in STAGES}

    def __enter__(self) -> StageWebhooks:
        for server in self.servers.values():
            server.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for server in self.servers.values():
            server.stop()

    def url(self, stage: str) -> str:
        return self.servers[stage].url

    def calls(self) -> dict[str, int]:
        """Answered calls per stage."""
        return {stage: server.calls() for stage, server in self.servers.items()}

    def counts(self) -> dict[str, dict[str, int]]:
        """Every count per stage, by webhook tag (plus ``refused`` / ``bad request``)."""
        return {stage: dict(server.counts) for stage, server in self.servers.items()}


def write_stage_profiles(webhooks: StageWebhooks, folder: Path) -> dict[str, Path]:
    """The sample agent's staging and prod profiles, pointed at this demo's backends; returns their paths.

    Each keeps its sample settings (timeout, prod's API key from ``conn:acme_branch_api``, logging)
    and forbids the other two stages' backends, dev's included.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for stage in ("staging", "prod"):
        profile = json.loads(sample_profile_path(stage).read_text())
        profile["webhooks"][WEBHOOK]["uri"] = webhooks.url(stage)
        others = [webhooks.servers[other].origin for other in STAGES if other != stage]
        profile["forbid"] = [*profile.get("forbid", ()), *(f"^{re.escape(origin)}" for origin in others)]
        paths[stage] = folder / f"{stage}.json"
        paths[stage].write_text(json.dumps(profile, indent=2))
    return paths


# --- package changes for dev --------------------------------------------------------------------
def with_webhook_uri(url: str) -> PackageChange:
    """Point the Branch Locator at ``url`` (dev's package names dev's backend, as a dev export would)."""

    def change(webhook: Any) -> Any:
        return {**webhook, "genericWebService": {**webhook["genericWebService"], "uri": url}}

    return f"webhooks/{WEBHOOK}.json", change


def with_branch_lookup_test() -> PackageChange:
    """ "Find a branch by ZIP code" with its webhook enabled: the test runs of every stage call its backend."""

    def change(test_case: Any) -> Any:
        first = test_case["testCaseConversationTurns"][0]
        first["userInput"]["isWebhookEnabled"] = True
        output = first["virtualAgentOutput"]
        output["sessionParameters"] = {**output["sessionParameters"], **BRANCH}
        output["textResponses"][-1] = {"text": [ANSWER]}
        test_case["testCaseConversationTurns"][1]["virtualAgentOutput"]["sessionParameters"].update(BRANCH)
        return test_case

    return "testCases/Find a branch by ZIP code.json", change
