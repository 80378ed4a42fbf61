"""Secrets never reach task logs, XCom, rendered template fields, trigger payloads or reports.

The pipeline runs with every kind of secret in play:

- the connection carries a service-account key (``keyfile_dict``, generated here; its private key and
  key id are secrets) — in emulator mode the hook never signs with it, but it is read and parsed;
- every RPC carries an OAuth access token: the emulator's channel is plaintext and anonymous, so the
  test adds what google-auth adds on a TLS channel, ``authorization: Bearer <token>``, by wrapping
  the hook's channels (sync and asyncio);
- the agent is the real qatar-airways export, whose webhook sends a ``CLIENT-KEY`` header, plus an
  ``Authorization`` header, basic-auth password, OAuth client secret and an API key in its URI; the
  webhook points at a local HTTP server, which must receive the headers (the one place they belong).

Restore (deferred, with a backup), export, lint, diff, validate, coverage and a test-case run then
execute with logs captured (structlog, stdlib logging, stdout/stderr), and every XCom push, return
value, gate failure message, rendered template field, serialised trigger, trigger event, report
file and the emulator's own call records are searched for each secret.
"""

from __future__ import annotations

import collections
import json
import logging
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import structlog
from operator_harness import CONN_ID, FAST, make_context, new_agent, render, run_deferred

from airflow_provider_cx.operators.calculate_coverage import CXCalculateCoverageOperator
from airflow_provider_cx.operators.diff_packages import CXDiffAgentPackagesOperator
from airflow_provider_cx.operators.errors import CXGateFailedError
from airflow_provider_cx.operators.export_agent import CXExportAgentOperator
from airflow_provider_cx.operators.lint_package import CXLintAgentPackageOperator
from airflow_provider_cx.operators.restore_agent import CXRestoreAgentOperator
from airflow_provider_cx.operators.run_test_cases import CXRunTestCasesOperator
from airflow_provider_cx.operators.validate_agent import CXValidateAgentOperator
from airflow_provider_cx.package import read_package, write_zip

pytestmark = pytest.mark.timeout(120)

QATAR_CLIENT_KEY = "z6hIANe4CkSIb3qPt2FTbmdSaUQ0WOZe"  # as committed in the public export
#: Credentials the test adds to the webhook (besides the export's own CLIENT-KEY).
WEBHOOK_SECRETS = (
    "webhook bearer token",
    "basic-auth password",
    "OAuth client secret",
    "api key in the URI",
    "rotated CLIENT-KEY",
)


# --- the secrets -------------------------------------------------------------------------------------


def service_account_key() -> dict[str, Any]:
    """A throwaway service-account key, shaped like the JSON key files IAM hands out."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem.decode(),
        "client_email": "cx-deployer@test-project.iam.gserviceaccount.com",
        "client_id": "1" * 21,
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def secret_needles(key: dict[str, Any], values: dict[str, str]) -> dict[str, str]:
    """Substrings whose presence anywhere means a leak: each secret, and each line of the key's body.

    Secrets are hex or base64 (no character Markdown, XML or JSON would escape), and key lines are
    searched one by one, so a secret cut short or re-wrapped is still found.
    """
    body = [line for line in key["private_key"].splitlines() if line and not line.startswith("-----")]
    needles = {f"private key line {n}": line for n, line in enumerate(body, start=1)}
    needles["private_key_id"] = key["private_key_id"]
    return {**needles, **values}


def find_leaks(needles: dict[str, str], outputs: dict[str, str]) -> list[str]:
    return [
        f"{secret} in {where}" for where, text in outputs.items() for secret, value in needles.items() if value in text
    ]


# --- a webhook that records what it is sent ------------------------------------------------------------


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    received: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append({key.lower(): value for key, value in self.headers.items()})
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()


def qatar_with_credentials(path: Path, base_url: str, values: dict[str, str]) -> tuple[bytes, bytes]:
    """The qatar-airways export with every webhook credential set; and a copy whose CLIENT-KEY was rotated."""
    package = read_package(path)
    (webhook,) = package.webhooks
    service = webhook.data["genericWebService"]
    assert service["requestHeaders"][0] == {"key": "CLIENT-KEY", "value": QATAR_CLIENT_KEY}
    service["uri"] = f"{base_url}/cx/flights/v1?apikey={values['api key in the URI']}"
    service["requestHeaders"].append({"key": "Authorization", "value": f"Bearer {values['webhook bearer token']}"})
    service["username"] = "cx-webhook"
    service["password"] = values["basic-auth password"]
    service["oauthConfig"] = {
        "clientId": "cx-client",
        "clientSecret": values["OAuth client secret"],
        "tokenEndpoint": "https://auth.example/token",
    }
    base = write_zip(package)
    service["requestHeaders"][0]["value"] = values["rotated CLIENT-KEY"]
    return base, write_zip(package)


# --- an access token on every call ----------------------------------------------------------------------


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    )
):
    pass


def bearer_metadata(token: str) -> list[tuple[str, str]]:
    """The header google-auth puts on each call of an authorised channel, computed by google-auth itself."""
    from google.oauth2.credentials import Credentials

    headers: dict[str, str] = {}
    Credentials(token=token).apply(headers)
    return [(key.lower(), value) for key, value in headers.items()]


def patch_channels_with_token(monkeypatch: pytest.MonkeyPatch, token: str, sent: list[str]) -> None:
    import grpc

    from airflow_provider_cx.hooks import clients

    metadata = bearer_metadata(token)

    def with_token(details: Any) -> Any:
        sent.append(details.method)
        fields = {name: getattr(details, name, None) for name in _CallDetails._fields}
        return _CallDetails(**{**fields, "metadata": [*(details.metadata or ()), *metadata]})

    class SyncToken(grpc.UnaryUnaryClientInterceptor):
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            return continuation(with_token(details), request)

    class AsyncToken(grpc.aio.UnaryUnaryClientInterceptor):
        async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            return await continuation(
                grpc.aio.ClientCallDetails(
                    details.method,
                    details.timeout,
                    [*(details.metadata or ()), *metadata],
                    details.credentials,
                    details.wait_for_ready,
                ),
                request,
            )

    sync_channel = clients.create_channel

    def create_channel(endpoint: str, credentials: Any, *, insecure: bool) -> Any:
        return grpc.intercept_channel(sync_channel(endpoint, credentials, insecure=insecure), SyncToken())

    def create_async_channel(endpoint: str, credentials: Any, *, insecure: bool) -> Any:
        sent.append("(async channel)")
        return grpc.aio.insecure_channel(endpoint, options=clients.CHANNEL_OPTIONS, interceptors=[AsyncToken()])

    monkeypatch.setattr(clients, "create_channel", create_channel)
    monkeypatch.setattr(clients, "create_async_channel", create_async_channel)


# --- the run ----------------------------------------------------------------------------------------------


def connect_with_key(monkeypatch: pytest.MonkeyPatch, server: Any, key: dict[str, Any]) -> None:
    extra = {"emulator_host": server.address, "project": "test-project", "keyfile_dict": json.dumps(key)}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "dialogflow_cx", "extra": extra}))


def pipeline(agent: str, folder: Path) -> list[Any]:
    reports = folder / "reports"
    return [
        CXRestoreAgentOperator(
            task_id="restore",
            agent=agent,
            source=str(folder / "target.zip"),
            backup_to=str(folder / "backup.zip"),
            gcp_conn_id=CONN_ID,
            deferrable=True,
            **FAST,
        ),
        CXExportAgentOperator(
            task_id="export", agent=agent, destination=str(folder / "export.zip"), gcp_conn_id=CONN_ID, **FAST
        ),
        CXLintAgentPackageOperator(
            task_id="lint", source=str(folder / "export.zip"), fail_on="INFO", report_to=str(reports)
        ),
        CXDiffAgentPackagesOperator(
            task_id="diff", base=str(folder / "base.zip"), target=str(folder / "export.zip"), report_to=str(reports)
        ),
        CXValidateAgentOperator(
            task_id="validate", agent=agent, fail_on="INFO", report_to=str(reports), gcp_conn_id=CONN_ID
        ),
        CXCalculateCoverageOperator(task_id="coverage", agent=agent, gcp_conn_id=CONN_ID),
        CXRunTestCasesOperator(
            task_id="tests", agent=agent, min_pass_rate=0, report_destination=str(reports), gcp_conn_id=CONN_ID, **FAST
        ),
    ]


def run_task(task: Any, outputs: dict[str, str]) -> None:
    """Render and execute ``task`` as a worker would; record everything it hands to Airflow."""
    context = make_context(task)
    render(task, context)
    outputs[f"{task.task_id}: rendered fields"] = repr({name: getattr(task, name) for name in task.template_fields})
    try:
        if getattr(task, "deferrable", False):
            result, _ = run_deferred(task, context)
            outputs[f"{task.task_id}: trigger events"] = json.dumps(task.deferral_events, default=str)
            outputs[f"{task.task_id}: serialised trigger"] = repr(task.operation_trigger("op").serialize())
        else:
            result = task.execute(context)
        outputs[f"{task.task_id}: return value"] = json.dumps(result, default=str)
    except CXGateFailedError as gate:  # the gates are set to fail: their messages go to the task log
        outputs[f"{task.task_id}: failure message"] = str(gate)
    outputs[f"{task.task_id}: XCom"] = json.dumps(context["ti"].xcom, default=str)


def test_secrets_never_leave_the_agent_and_the_connection(
    cx_emulator: Any,
    shared_agents: list[Path],
    webhook_server: tuple[str, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    base_url, webhook_calls = webhook_server
    values = {name: secrets.token_hex(16) for name in ("access token", *WEBHOOK_SECRETS)}
    values["CLIENT-KEY"] = QATAR_CLIENT_KEY
    key = service_account_key()
    needles = secret_needles(key, values)

    qatar = next(path for path in shared_agents if path.name == "qatar-airways")
    base, target = qatar_with_credentials(qatar, base_url, values)
    (tmp_path / "base.zip").write_bytes(base)
    (tmp_path / "target.zip").write_bytes(target)
    agent = new_agent(cx_emulator, base)
    connect_with_key(monkeypatch, cx_emulator, key)
    token_calls: list[str] = []
    patch_channels_with_token(monkeypatch, values["access token"], token_calls)
    admin = cx_emulator.admin()
    admin.reset_stats()

    outputs: dict[str, str] = {}
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as structured:
        for task in pipeline(agent, tmp_path):
            run_task(task, outputs)
    captured = capsys.readouterr()
    outputs["structlog events"] = "\n".join(repr(event) for event in structured)
    outputs["stdlib log records"] = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    outputs["stdout"], outputs["stderr"] = captured.out, captured.err
    for report in sorted((tmp_path / "reports").iterdir()):
        outputs[f"report {report.name}"] = report.read_text()
    outputs["emulator call records"] = json.dumps(admin.stats())

    # The secrets were in play: the webhook got its headers, every call carried the token ...
    assert {
        "client-key": values["rotated CLIENT-KEY"],
        "authorization": f"Bearer {values['webhook bearer token']}",
    }.items() <= webhook_calls[0].items()
    assert "(async channel)" in token_calls  # the trigger polled with the token too
    assert len(token_calls) > 20
    # ... the reports are there and talk about the webhook, with its URI redacted ...
    assert {"lint-report.json", "lint-report.md", "lint-report.xml", "release-notes.md", "release-notes.json"} <= {
        name.removeprefix("report ") for name in outputs
    }
    assert f"{base_url}/cx/flights/v1?apikey=***" in outputs["report lint-report.json"]
    assert "Apigee Integration" in outputs["report release-notes.md"]  # the rotated header is a change
    assert len(outputs["structlog events"]) > 1000
    # ... and not one of them shows up anywhere.
    assert find_leaks(needles, outputs) == []


def test_package_credentials_are_registered_with_the_secrets_masker(shared_agents: list[Path], tmp_path: Path) -> None:
    """Reading a package masks its webhook credentials in every later log line of the task."""
    from airflow.sdk._shared.secrets_masker import redact

    qatar = next(path for path in shared_agents if path.name == "qatar-airways")
    rotated = secrets.token_hex(16)
    base, _ = qatar_with_credentials(qatar, "https://hooks.example", dict.fromkeys(WEBHOOK_SECRETS, rotated))
    (tmp_path / "agent.zip").write_bytes(base)
    line = f"calling the webhook with CLIENT-KEY {QATAR_CLIENT_KEY} and token {rotated}"
    CXLintAgentPackageOperator(task_id="lint", source=str(tmp_path / "agent.zip"), fail_on="ERROR").execute(
        make_context()
    )
    masked = redact(line)
    assert QATAR_CLIENT_KEY not in masked
    assert rotated not in masked
    assert masked.startswith("calling the webhook with CLIENT-KEY ***")


def test_credential_errors_do_not_quote_the_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A key that cannot be loaded is named by its field, never shown (connection without an emulator)."""
    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
    from airflow_provider_cx.hooks.errors import CXCredentialsError

    key = service_account_key()
    body = [line for line in key["private_key"].splitlines() if line and not line.startswith("-----")]
    broken = {**key, "private_key": key["private_key"].replace(body[3], body[3][::-1])}
    cases = {
        "damaged private key": {"keyfile_dict": json.dumps(broken)},
        "key as broken JSON": {"keyfile_dict": json.dumps(key)[:-40]},
        "key file with broken JSON": {"key_path": str(tmp_path / "key.json")},
    }
    (tmp_path / "key.json").write_text(json.dumps(key)[:-40])
    needles = secret_needles(key, {})
    messages = {}
    for case, extra in cases.items():
        monkeypatch.setenv("AIRFLOW_CONN_KEYED", json.dumps({"conn_type": "google_cloud_platform", "extra": extra}))
        with pytest.raises(CXCredentialsError) as error:
            DialogflowCXHook(gcp_conn_id="keyed").get_credentials()
        messages[case] = f"{error.value} {error.value.__cause__ or ''}"
    assert "keyfile_dict" in messages["damaged private key"]
    assert "keyfile_dict is not valid JSON" in messages["key as broken JSON"]
    assert find_leaks(needles, messages) == []


def test_the_key_is_kept_out_of_reprs_and_registered_with_the_masker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook reads the key (in emulator mode it never signs with it), yet no repr shows it and Airflow masks it."""
    from airflow.sdk._shared.secrets_masker import redact

    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook

    key = service_account_key()
    extra = {"keyfile_dict": json.dumps(key), "project": "test-project", "emulator_host": "127.0.0.1:9"}
    monkeypatch.setenv("AIRFLOW_CONN_KEYED", json.dumps({"conn_type": "google_cloud_platform", "extra": extra}))
    hook = DialogflowCXHook(gcp_conn_id="keyed")
    settings = hook.connection_settings
    assert settings.keyfile_dict["private_key"] == key["private_key"]  # it was read
    texts = {
        "connection settings repr": repr(settings),
        "hook repr": repr(hook),
        "a log line quoting the key": redact(f"loaded {key['private_key']} (id {key['private_key_id']})"),
    }
    assert find_leaks(secret_needles(key, {}), texts) == []


# --- stage profile secrets: in the agent, never in the release folder ---------------------------------


def stage_profile_for(webhook: str, base_url: str) -> dict[str, Any]:
    """Prod's profile for the qatar-airways export: every kind of webhook secret, from Airflow."""
    return {
        "stage": "prod",
        "webhooks": {
            webhook: {
                "uri": f"{base_url}/cx/flights/v1",
                "request_headers": {
                    "CLIENT-KEY": {"secret": "conn:qatar_client_key"},
                    "Authorization": {"secret": "var:qatar_bearer"},
                },
                "auth": {
                    "type": "oauth",
                    "client_id": "cx-client",
                    "client_secret": {"secret": "conn:qatar_oauth"},
                    "token_endpoint": "https://auth.example/token",
                },
            }
        },
    }


def release_folder_text(folder: Path) -> dict[str, str]:
    """Each file of the release folder as text, zips unpacked member by member (compressed bytes hide secrets)."""
    import io
    import zipfile

    texts: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        texts[str(path)] = path.read_bytes().decode(errors="replace")
        if path.suffix == ".zip":
            with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
                for member in archive.infolist():
                    texts[f"{path}!{member.filename}"] = archive.read(member).decode(errors="replace")
    return texts


def test_stage_profile_secrets_reach_the_agent_and_no_artifact(
    cx_emulator: Any,
    shared_agents: list[Path],
    webhook_server: tuple[str, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A real export staged for prod with every kind of webhook secret, then restored (deferred, backed up)."""
    from operator_harness import connect, export_files

    from airflow_provider_cx.operators.stage_package import CXStagePackageOperator

    base_url, _ = webhook_server
    values = {name: secrets.token_hex(16) for name in ("CLIENT-KEY", "bearer", "OAuth client secret")}
    monkeypatch.setenv(
        "AIRFLOW_CONN_QATAR_CLIENT_KEY", json.dumps({"conn_type": "http", "password": values["CLIENT-KEY"]})
    )
    monkeypatch.setenv("AIRFLOW_VAR_QATAR_BEARER", f"Bearer {values['bearer']}")
    monkeypatch.setenv(
        "AIRFLOW_CONN_QATAR_OAUTH", json.dumps({"conn_type": "http", "password": values["OAuth client secret"]})
    )
    needles = {**values, "export's CLIENT-KEY": QATAR_CLIENT_KEY}
    qatar = next(path for path in shared_agents if path.name == "qatar-airways")
    source = read_package(qatar)
    (webhook,) = source.webhooks
    (tmp_path / "dev-export.zip").write_bytes(write_zip(source))  # dev's export: the input, not searched
    profile = tmp_path / "prod.json"
    profile.write_text(json.dumps(stage_profile_for(webhook.display_name, base_url)))
    release = tmp_path / "release"
    connect(monkeypatch, cx_emulator)
    agent = new_agent(cx_emulator)
    stage = CXStagePackageOperator(
        task_id="stage_package_prod",
        source=str(tmp_path / "dev-export.zip"),
        target_agent=agent,
        destination=str(release / "stages" / "prod.zip"),
        profile=str(profile),
    )
    restore = CXRestoreAgentOperator(
        task_id="restore_prod",
        agent=agent,
        source="{{ ti.xcom_pull(task_ids='stage_package_prod')['uri'] }}",
        stage_profile=str(profile),
        backup_to=str(release / "backups" / "prod-before.zip"),
        gcp_conn_id=CONN_ID,
        deferrable=True,
        **FAST,
    )

    outputs: dict[str, str] = {}
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as structured:
        context = make_context(stage)
        render(stage, context)
        staged = stage.execute(context)
        outputs["stage: XCom"] = json.dumps({**context["ti"].xcom, "return_value": staged})
        context = make_context(restore)
        context["ti"].upstream[("stage_package_prod", "return_value")] = staged
        render(restore, context)
        restored, _ = run_deferred(restore, context)
        outputs["restore: XCom"] = json.dumps({**context["ti"].xcom, "return_value": restored}, default=str)
        outputs["rendered fields"] = repr([{n: getattr(t, n) for n in t.template_fields} for t in (stage, restore)])
    captured = capsys.readouterr()
    outputs["structlog events"] = "\n".join(repr(event) for event in structured)
    outputs["stdlib log records"] = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    outputs["stdout"], outputs["stderr"] = captured.out, captured.err
    outputs.update(release_folder_text(release))

    # The agent has every value where the profile put it ...
    service = export_files(cx_emulator, agent)[f"webhooks/{webhook.display_name}.json"]["genericWebService"]
    assert service["requestHeaders"] == [
        {"key": "CLIENT-KEY", "value": values["CLIENT-KEY"]},
        {"key": "Authorization", "value": f"Bearer {values['bearer']}"},
    ]
    assert service["oauthConfig"]["clientSecret"] == values["OAuth client secret"]
    # ... the release folder holds the stage package (with markers), its change lists and the backup ...
    stored = outputs[f"{release / 'stages' / 'prod.zip'}!webhooks/{webhook.display_name}.json"]
    assert "${secret:conn:qatar_client_key}" in stored
    assert "${secret:conn:qatar_oauth}" in stored
    assert any(name.endswith("prod-before.zip") for name in outputs)
    assert len(outputs["structlog events"]) > 500
    # ... and no value, nor the export's own key the profile replaced, is in any of it.
    assert find_leaks(needles, outputs) == []
