"""Fixtures for the hook tests: a scripted in-test gRPC server and Airflow connections from env vars."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.hooks.cx_scripted_server import ScriptedCXServer
from tests.hooks.hook_support import CONN_ID, SA_EMAIL, set_connection


@pytest.fixture(autouse=True)
def _isolated_google_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No ambient emulator or ADC from the machine or other tests leaks into a hook test."""
    monkeypatch.delenv("DIALOGFLOW_CX_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))  # no gcloud user credentials
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # a metadata probe fails fast, offline
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")


@pytest.fixture
def scripted_server() -> Iterator[ScriptedCXServer]:
    server = ScriptedCXServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def emulator_connection(monkeypatch: pytest.MonkeyPatch, scripted_server: ScriptedCXServer) -> str:
    """A ``dialogflow_cx`` connection pointing at the scripted server through ``emulator_host``."""
    set_connection(
        monkeypatch,
        CONN_ID,
        {"emulator_host": scripted_server.address, "project": "test-project"},
        conn_type="dialogflow_cx",
    )
    return CONN_ID


@pytest.fixture(scope="session")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def keyfile(private_key) -> dict[str, str]:
    """A throwaway service-account key (JSON key file contents) for ``private_key``."""
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "key-project",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": SA_EMAIL,
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
