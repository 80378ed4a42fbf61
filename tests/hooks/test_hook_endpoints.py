"""Endpoint and location choice, in the pure functions and through the hook's connection."""

from __future__ import annotations

import pytest

from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
from airflow_provider_cx.hooks.endpoints import api_endpoint, parse_emulator_host, resolve_location
from airflow_provider_cx.hooks.errors import CXEndpointError
from tests.hooks.hook_support import CONN_ID, set_connection

EU_AGENT = "projects/p/locations/europe-west2/agents/a"


def test_global_and_regional_endpoints():
    assert api_endpoint("global") == "dialogflow.googleapis.com:443"
    assert api_endpoint("us-central1") == "us-central1-dialogflow.googleapis.com:443"


def test_location_comes_from_the_resource_name():
    assert resolve_location(EU_AGENT) == "europe-west2"
    assert resolve_location(EU_AGENT + "/flows/f", default="us-east1") == "europe-west2"
    assert resolve_location(EU_AGENT, location="europe-west2") == "europe-west2"


def test_explicit_location_then_default_then_global():
    assert resolve_location(None, location="asia-south1", default="us-east1") == "asia-south1"
    assert resolve_location(None, default="us-east1") == "us-east1"
    assert resolve_location() == "global"


def test_mismatch_between_name_and_explicit_location_is_an_error():
    with pytest.raises(CXEndpointError, match=r"'us-central1' does not match .*europe-west2"):
        resolve_location(EU_AGENT, location="us-central1")


@pytest.mark.parametrize("location", ["US", "us_central1", "evil.com:443", "a/b", ""])
def test_bad_locations_are_refused(location):
    with pytest.raises(CXEndpointError, match="not a Dialogflow CX location"):
        api_endpoint(location)


def test_malformed_resource_name_is_an_endpoint_error():
    with pytest.raises(CXEndpointError, match="not a Dialogflow CX resource name"):
        resolve_location("agents/a")


@pytest.mark.parametrize("host", ["localhost", "localhost:", ":8086", "localhost:port", "http://localhost:80"])
def test_emulator_host_must_be_host_and_port(host):
    with pytest.raises(CXEndpointError, match="host:port"):
        parse_emulator_host(host)


def test_hook_picks_endpoint_from_name_hook_location_and_connection(monkeypatch):
    set_connection(monkeypatch, CONN_ID, {"project": "p", "location": "us-east1"})
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID)
    assert hook.get_endpoint() == "us-east1-dialogflow.googleapis.com:443"
    assert hook.get_endpoint(EU_AGENT) == "europe-west2-dialogflow.googleapis.com:443"
    assert hook.get_endpoint(location="global") == "dialogflow.googleapis.com:443"

    pinned = DialogflowCXHook(gcp_conn_id=CONN_ID, location="us-central1")
    assert pinned.get_endpoint() == "us-central1-dialogflow.googleapis.com:443"
    with pytest.raises(CXEndpointError, match="does not match"):
        pinned.get_agents_client(EU_AGENT)


def test_emulator_host_from_connection_or_environment(monkeypatch):
    set_connection(monkeypatch, CONN_ID, {"project": "p"})
    monkeypatch.setenv("DIALOGFLOW_CX_EMULATOR_HOST", "localhost:9999")
    assert DialogflowCXHook(gcp_conn_id=CONN_ID).get_endpoint(EU_AGENT) == "localhost:9999"

    set_connection(monkeypatch, CONN_ID, {"project": "p", "emulator_host": "127.0.0.1:8086"})
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID)
    assert hook.get_endpoint(EU_AGENT) == "127.0.0.1:8086"
    # The location is still checked against the emulator, so mistakes surface in tests too.
    with pytest.raises(CXEndpointError, match="does not match"):
        hook.get_endpoint(EU_AGENT, location="us-central1")


def test_bad_emulator_host_or_location_in_connection_is_reported(monkeypatch):
    set_connection(monkeypatch, CONN_ID, {"emulator_host": "localhost"})
    with pytest.raises(CXEndpointError, match="host:port"):
        DialogflowCXHook(gcp_conn_id=CONN_ID).get_endpoint()
    set_connection(monkeypatch, CONN_ID, {"location": "Europe West"})
    with pytest.raises(CXEndpointError, match="not a Dialogflow CX location"):
        DialogflowCXHook(gcp_conn_id=CONN_ID).get_endpoint()


def test_hook_location_argument_is_validated():
    with pytest.raises(CXEndpointError, match="not a Dialogflow CX location"):
        DialogflowCXHook(location="us central")
