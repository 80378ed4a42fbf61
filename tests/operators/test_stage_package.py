"""CXStagePackageOperator: the stage's package, its change list, the gate, secrets through Airflow.

Pure operator (no CX call): run on the sample agent and its sample profiles, with connections and
variables defined the way Airflow reads them from the environment.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from pathlib import Path
from typing import Any

import pytest
import structlog
from operator_harness import make_context, render

from airflow_provider_cx.emulator.testing import zip_files_as_json
from airflow_provider_cx.operators.errors import CXGateFailedError, CXInvalidInputError
from airflow_provider_cx.operators.stage_package import CXStagePackageOperator
from airflow_provider_cx.package import read_package, write_zip
from airflow_provider_cx.sample_agent import sample_agent_path, sample_profile_path

PROD_AGENT = "projects/acme-bank-prod/locations/us-central1/agents/00000000-0000-4000-8000-00000000000p"
STAGING_AGENT = "projects/acme-bank-staging/locations/us-central1/agents/00000000-0000-4000-8000-00000000000s"
DEV_STORE = "projects/acme-bank-dev/locations/global/collections/default_collection/dataStores/faq"
PROD_URI = "https://branches.prod.acmebank.example/cx/v1/nearest"


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The prod profile's ``conn:acme_branch_api``, defined as Airflow reads it from the environment."""
    key = secrets.token_hex(16)
    body = {"conn_type": "http", "host": "branches.prod.acmebank.example", "password": key}
    monkeypatch.setenv("AIRFLOW_CONN_ACME_BRANCH_API", json.dumps(body))
    return key


def operator(tmp_path: Path, **kwargs: Any) -> CXStagePackageOperator:
    arguments: dict[str, Any] = {
        "task_id": "stage_package_prod",
        "source": str(sample_agent_path()),
        "target_agent": PROD_AGENT,
        "destination": str(tmp_path / "stages" / "prod.zip"),
        "profile": str(sample_profile_path("prod")),
        **kwargs,
    }
    return CXStagePackageOperator(**arguments)


def with_dev_data_store(tmp_path: Path) -> Path:
    """The sample agent whose start flow answers from a data store of dev's project."""
    package = read_package(sample_agent_path())
    connection = {"dataStoreType": "UNSTRUCTURED", "dataStore": DEV_STORE}
    package.flows[0].data["knowledgeConnectorSettings"] = {"dataStoreConnections": [connection]}
    path = tmp_path / "dev-with-store.zip"
    path.write_bytes(write_zip(package))
    return path


def test_writes_the_stage_package_and_its_change_list(tmp_path: Path, api_key: str) -> None:
    context = make_context()
    result = operator(tmp_path).execute(context)

    written = tmp_path / "stages" / "prod.zip"
    assert result["uri"] == written.as_uri()
    assert result["sha256"] == hashlib.sha256(written.read_bytes()).hexdigest()
    assert result["stage"] == "prod"
    assert result["gate"] == {
        "target_agent": PROD_AGENT,
        "failed": False,
        "findings": 0,
        "by_rule": {},
        "blocking": [],
    }
    (webhook,) = read_package(written.read_bytes()).webhooks
    service = webhook.data["genericWebService"]
    assert service["uri"] == PROD_URI
    # A marker, never the value: the restore resolves it in memory with the same profile.
    assert service["requestHeaders"] == [{"key": "X-Api-Key", "value": "${secret:conn:acme_branch_api}"}]
    record = json.loads((tmp_path / "stages" / "prod.changes.json").read_text())
    assert record["change_count"] == result["changes"] == len(record["changes"]) >= 3
    fields = {change["field"]: change for change in record["changes"]}
    assert fields["genericWebService.uri"]["after"] == json.dumps(PROD_URI)
    markdown = (tmp_path / "stages" / "prod.changes.md").read_text()
    assert "X-Api-Key" in markdown
    assert "***" in markdown
    assert result["change_list"] == {
        "json": (tmp_path / "stages" / "prod.changes.json").as_uri(),
        "markdown": (tmp_path / "stages" / "prod.changes.md").as_uri(),
    }
    for text in (json.dumps(result), json.dumps(record), markdown):
        assert api_key not in text
    # Every other file is as the source had it.
    source = read_package(sample_agent_path())
    staged = read_package(written.read_bytes())
    assert [f.data for f in staged.flows] == [f.data for f in source.flows]


def test_an_inline_templated_profile_and_a_variable_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = secrets.token_hex(12)
    monkeypatch.setenv("AIRFLOW_VAR_BRANCH_TOKEN", token)
    profile = {
        "stage": "{{ params.stage }}",
        "webhooks": {
            "Branch Locator": {
                "uri": "https://branches.{{ params.stage }}.acmebank.example/cx/v1/nearest",
                "request_headers": {"Authorization": {"secret": "var:branch_token"}},
            }
        },
    }
    task = operator(tmp_path, profile=profile, target_agent=STAGING_AGENT)
    context = make_context(task, params={"stage": "staging"})
    render(task, context)
    result = task.execute(context)

    assert result["stage"] == "staging"
    (webhook,) = read_package(Path(tmp_path / "stages" / "prod.zip").read_bytes()).webhooks
    service = webhook.data["genericWebService"]
    assert service["uri"] == "https://branches.staging.acmebank.example/cx/v1/nearest"
    assert service["requestHeaders"] == [{"key": "Authorization", "value": "${secret:var:branch_token}"}]
    assert token.encode() not in (tmp_path / "stages" / "prod.zip").read_bytes()
    assert token not in repr(task.profile)


def test_a_data_store_of_dev_fails_the_gate_and_writes_nothing(tmp_path: Path, api_key: str) -> None:
    context = make_context()
    with pytest.raises(CXGateFailedError, match="ERROR finding") as failure:
        operator(tmp_path, source=str(with_dev_data_store(tmp_path))).execute(context)

    assert "acme-bank-dev" in str(failure.value)
    assert not (tmp_path / "stages").exists()
    pushed = context["ti"].xcom["return_value"]
    assert pushed["gate"]["failed"] is True
    assert pushed["gate"]["by_rule"] == {"foreign-reference": 1}
    assert "uri" not in pushed


def test_the_gate_with_no_profile_checks_the_package_as_it_is(tmp_path: Path) -> None:
    with pytest.raises(CXGateFailedError):
        operator(tmp_path, profile=None, source=str(with_dev_data_store(tmp_path))).execute(make_context())
    result = operator(tmp_path, profile=None).execute(make_context())
    assert result["changes"] == 0
    source = read_package(sample_agent_path())
    assert read_package((tmp_path / "stages" / "prod.zip").read_bytes()).webhooks[0].data == source.webhooks[0].data


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": {"webhooks": {"Branch Locater": {"uri": PROD_URI}}}}, "'Branch Locater' is not in the package"),
        ({"profile": {"webhooks": {"Branch Locator": {"timeout_seconds": "5"}}}}, "timeout_seconds"),
        ({"profile": "/nonexistent/prod.json"}, "does not exist"),
        ({"target_agent": "projects/p/locations/global"}, "target_agent"),
        ({"source": "/nonexistent/package.zip"}, "source"),
        ({"lint_config": {"no such option": 1}}, "lint_config"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    tmp_path: Path, api_key: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(CXInvalidInputError, match=message):
        operator(tmp_path, **kwargs).execute(make_context())
    assert not (tmp_path / "stages").exists()


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("conn:acme_branch_api", "connection 'acme_branch_api' is not defined"),
        ("var:missing_token", "variable 'missing_token' is not defined"),
        ("env:HOME", "env: references are not resolved on Airflow workers"),
    ],
)
def test_a_secret_that_cannot_be_resolved_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ref: str, message: str
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_ACME_BRANCH_API", raising=False)
    profile = {"webhooks": {"Branch Locator": {"request_headers": {"X-Api-Key": {"secret": ref}}}}}
    with pytest.raises(CXInvalidInputError, match=message):
        operator(tmp_path, profile=profile).execute(make_context())
    assert not (tmp_path / "stages").exists()


def test_a_connection_without_a_password_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ACME_BRANCH_API", json.dumps({"conn_type": "http", "login": "cx"}))
    with pytest.raises(CXInvalidInputError, match="has no password"):
        operator(tmp_path).execute(make_context())


def test_secrets_never_reach_logs_xcom_rendered_fields_or_the_change_list(
    tmp_path: Path,
    api_key: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The resolved key is masked in every later log line and shows up nowhere the task writes, the package included."""
    from airflow.sdk._shared.secrets_masker import redact

    task = operator(tmp_path, destination=str(tmp_path / "{{ params.stage }}" / "prod.zip"))
    context = make_context(task, params={"stage": "stages"})
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as structured:
        render(task, context)
        result = task.execute(context)
    captured = capsys.readouterr()
    outputs = {
        "rendered fields": repr({name: getattr(task, name) for name in task.template_fields}),
        "return value": json.dumps(result),
        "XCom": json.dumps(context["ti"].xcom),
        "structlog events": "\n".join(repr(event) for event in structured),
        "stdlib log records": "\n".join(r.getMessage() for r in caplog.records),
        "stdout and stderr": captured.out + captured.err,
        "change list json": (tmp_path / "stages" / "prod.changes.json").read_text(),
        "change list markdown": (tmp_path / "stages" / "prod.changes.md").read_text(),
        "a log line quoting the key": redact(f"sending X-Api-Key {api_key}"),
        "stage package": json.dumps(zip_files_as_json((tmp_path / "stages" / "prod.zip").read_bytes())),
    }
    assert "4 change(s)" in outputs["structlog events"] + outputs["stdlib log records"]
    (webhook,) = read_package((tmp_path / "stages" / "prod.zip").read_bytes()).webhooks
    assert webhook.data["genericWebService"]["requestHeaders"][0]["value"] == "${secret:conn:acme_branch_api}"
    assert outputs["a log line quoting the key"] == "sending X-Api-Key ***"
    assert [where for where, text in outputs.items() if api_key in text] == []
