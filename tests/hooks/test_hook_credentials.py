"""Credentials from each kind of Google Cloud connection extra, with a throwaway service-account key."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowNotFoundException
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from google.auth import credentials as auth_credentials
from google.auth import external_account, impersonated_credentials
from google.oauth2 import service_account

from airflow_provider_cx.hooks import connection_form, credentials
from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
from airflow_provider_cx.hooks.errors import CXConnectionNotFoundError, CXCredentialsError
from tests.hooks.hook_support import CONN_ID, SA_EMAIL, set_connection

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


def hook_credentials(monkeypatch, extra, **hook_kwargs):
    set_connection(monkeypatch, CONN_ID, extra)
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID, **hook_kwargs)
    return hook.get_credentials(), hook.project_id


def assert_signs_with(creds, private_key) -> None:
    """The credentials hold exactly our generated key: their signature verifies with its public half."""
    signature = creds.signer.sign(b"payload")
    private_key.public_key().verify(signature, b"payload", padding.PKCS1v15(), hashes.SHA256())


def test_keyfile_dict_as_json_string(monkeypatch, keyfile, private_key):
    creds, project = hook_credentials(monkeypatch, {"keyfile_dict": json.dumps(keyfile)})
    assert isinstance(creds, service_account.Credentials)
    assert creds.service_account_email == SA_EMAIL
    assert creds.scopes == [CLOUD_PLATFORM]
    assert project == "key-project"
    assert_signs_with(creds, private_key)


def test_keyfile_dict_as_object_with_escaped_newlines(monkeypatch, keyfile, private_key):
    pasted = {**keyfile, "private_key": keyfile["private_key"].replace("\n", "\\n")}
    creds, _ = hook_credentials(monkeypatch, {"keyfile_dict": pasted})
    assert_signs_with(creds, private_key)


def test_key_path(monkeypatch, tmp_path, keyfile, private_key):
    path = tmp_path / "key.json"
    path.write_text(json.dumps(keyfile))
    creds, project = hook_credentials(monkeypatch, {"key_path": str(path), "project": "conn-project"})
    assert isinstance(creds, service_account.Credentials)
    assert project == "conn-project"  # the connection's project wins over the key's
    assert_signs_with(creds, private_key)


def test_legacy_prefixed_extras(monkeypatch, keyfile, private_key):
    prefix = "extra__google_cloud_platform__"
    extra = {
        f"{prefix}keyfile_dict": json.dumps(keyfile),
        f"{prefix}project": "legacy-project",
        f"{prefix}scope": "https://www.googleapis.com/auth/dialogflow",
        f"{prefix}quota_project_id": "billing-project",
    }
    creds, project = hook_credentials(monkeypatch, extra)
    assert project == "legacy-project"
    assert creds.scopes == ["https://www.googleapis.com/auth/dialogflow"]
    assert creds.quota_project_id == "billing-project"
    assert_signs_with(creds, private_key)


def test_own_connection_type_prefix_and_empty_form_fields(monkeypatch, keyfile):
    extra = {
        "extra__dialogflow_cx__keyfile_dict": json.dumps(keyfile),
        "key_path": "",  # untouched form fields are saved as empty strings
        "credential_config_file": "",
    }
    creds, _ = hook_credentials(monkeypatch, extra)
    assert creds.service_account_email == SA_EMAIL


def test_scopes_are_comma_separated(monkeypatch, keyfile):
    scopes = "https://www.googleapis.com/auth/dialogflow, https://www.googleapis.com/auth/cloud-platform"
    creds, _ = hook_credentials(monkeypatch, {"keyfile_dict": keyfile, "scope": scopes})
    assert creds.scopes == ["https://www.googleapis.com/auth/dialogflow", CLOUD_PLATFORM]


def test_impersonation_chain_from_extra(monkeypatch, keyfile):
    chain = "middle@mid-project.iam.gserviceaccount.com, target@target-project.iam.gserviceaccount.com"
    creds, project = hook_credentials(monkeypatch, {"keyfile_dict": keyfile, "impersonation_chain": chain})
    assert isinstance(creds, impersonated_credentials.Credentials)
    assert creds.service_account_email == "target@target-project.iam.gserviceaccount.com"
    assert creds._delegates == ["middle@mid-project.iam.gserviceaccount.com"]
    assert creds._target_scopes == [CLOUD_PLATFORM]
    assert creds._source_credentials.service_account_email == SA_EMAIL
    assert project == "target-project"  # where the impersonated account lives


def test_impersonation_chain_argument_overrides_the_connection(monkeypatch, keyfile):
    extra = {"keyfile_dict": keyfile, "impersonation_chain": "ignored@x.iam.gserviceaccount.com", "project": "p"}
    creds, project = hook_credentials(monkeypatch, extra, impersonation_chain=["deployer@p.iam.gserviceaccount.com"])
    assert creds.service_account_email == "deployer@p.iam.gserviceaccount.com"
    assert not creds._delegates
    assert project == "p"


def test_credential_config_file_as_path_and_as_json(monkeypatch, tmp_path):
    token_file = tmp_path / "subject-token"
    token_file.write_text("a-subject-token")
    config = {
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": {"file": str(token_file)},
    }
    path = tmp_path / "wif.json"
    path.write_text(json.dumps(config))
    for value in (str(path), json.dumps(config)):
        creds, _ = hook_credentials(monkeypatch, {"credential_config_file": value, "project": "p"})
        assert isinstance(creds, external_account.Credentials)
        assert creds._audience == config["audience"]


def test_application_default_credentials_when_no_key(monkeypatch, tmp_path, keyfile, private_key):
    path = tmp_path / "adc.json"
    path.write_text(json.dumps(keyfile))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    creds, project = hook_credentials(monkeypatch, {})
    assert isinstance(creds, service_account.Credentials)
    assert project == "key-project"
    assert_signs_with(creds, private_key)


def test_emulator_means_anonymous_credentials(monkeypatch, keyfile):
    creds, project = hook_credentials(
        monkeypatch, {"keyfile_dict": keyfile, "emulator_host": "localhost:8086", "project": "p"}
    )
    assert isinstance(creds, auth_credentials.AnonymousCredentials)
    assert project == "p"


def test_two_key_sources_are_refused(monkeypatch, tmp_path, keyfile):
    path = tmp_path / "key.json"
    path.write_text(json.dumps(keyfile))
    with pytest.raises(CXCredentialsError, match="sets key_path and keyfile_dict; set only one"):
        hook_credentials(monkeypatch, {"key_path": str(path), "keyfile_dict": keyfile})


def test_invalid_keyfile_json_does_not_echo_the_secret(monkeypatch):
    with pytest.raises(CXCredentialsError, match="keyfile_dict is not valid JSON") as error:
        hook_credentials(monkeypatch, {"keyfile_dict": '{"private_key": "SECRET-MATERIAL'})
    assert "SECRET-MATERIAL" not in str(error.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"key_path": "/nonexistent/key.json"}, "is not a file"),
        ({"key_path": "/keys/legacy.p12"}, "legacy P12 key"),
        ({"keyfile_dict": {"type": "service_account"}}, "cannot load credentials from keyfile_dict"),
        ({"keyfile_dict": {"type": "authorized_user"}}, "must be a service-account key"),
        ({"keyfile_dict": "[1, 2]"}, "must be a JSON object"),
        ({"credential_config_file": '{"type": "service_account"}'}, "must be an external_account"),
        ({"credential_config_file": "/nonexistent/wif.json"}, "neither JSON nor a file"),
        ({"key_secret_name": "projects/p/secrets/s"}, "key_secret_name"),
    ],
)
def test_unusable_key_extras_are_clear_errors(monkeypatch, extra, message):
    with pytest.raises(CXCredentialsError, match=message):
        hook_credentials(monkeypatch, extra)


def test_missing_connection_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_CONN", raising=False)
    hook = DialogflowCXHook(gcp_conn_id="no_such_conn")
    with pytest.raises(CXConnectionNotFoundError, match=r"'no_such_conn' does not exist.*AIRFLOW_CONN_NO_SUCH_CONN"):
        hook.get_credentials()
    with pytest.raises(AirflowNotFoundException):  # still what Airflow code expects to catch
        hook.get_agents_client()


def test_form_constants_match_the_credential_module():
    assert connection_form.CLOUD_PLATFORM_SCOPE == credentials.CLOUD_PLATFORM_SCOPE
    assert connection_form.EMULATOR_HOST_ENV == credentials.EMULATOR_HOST_ENV
