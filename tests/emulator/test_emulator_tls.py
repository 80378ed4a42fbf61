"""TLS: the emulator serves a self-signed certificate; stock clients connect over secure channels."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import sys

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx

from airflow_provider_cx.emulator.testing import create_test_agent


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_stock_client_over_tls(cx_emulator_factory, certificate):
    cert, key = certificate
    server = cx_emulator_factory(tls_cert=cert, tls_key=key)
    channel = grpc.secure_channel(server.address, grpc.ssl_channel_credentials(cert.read_bytes()))
    agents = cx.AgentsClient(transport=cx.services.agents.transports.AgentsGrpcTransport(channel=channel))
    agent = create_test_agent(agents)
    assert agents.get_agent(name=agent.name).display_name == agent.display_name
    plain = cx.AgentsClient(
        transport=cx.services.agents.transports.AgentsGrpcTransport(channel=grpc.insecure_channel(server.address))
    )
    with pytest.raises(exceptions.GoogleAPICallError):
        plain.get_agent(name=agent.name, retry=None, timeout=5)


_DEFAULT_CHANNEL_CLIENT = """
import sys
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import dialogflowcx_v3 as cx

client = cx.AgentsClient(credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=sys.argv[1]))
print(client.get_agent(name=sys.argv[2], timeout=20).display_name)
"""


def test_stock_client_with_its_default_secure_channel(cx_emulator_factory, certificate):
    """The client builds its own secure channel; the process trusts the emulator's CA like a system root."""
    cert, key = certificate
    server = cx_emulator_factory(tls_cert=cert, tls_key=key)
    agent = create_test_agent(server.client(cx.AgentsClient))
    result = subprocess.run(
        [sys.executable, "-c", _DEFAULT_CHANNEL_CLIENT, server.address, agent.name],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(cert)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == agent.display_name
