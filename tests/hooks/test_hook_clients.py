"""Client accessors, their per-process cache, the connection form, and provider registration."""

from __future__ import annotations

import asyncio
import copy
import pickle
import sys
import types

import pytest
from google.api_core import operations_v1
from google.cloud import dialogflowcx_v3

import airflow_provider_cx
from airflow_provider_cx.hooks import connection_form
from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXAsyncHook, DialogflowCXHook
from tests.hooks.hook_support import AGENT, CONN_ID, SA_EMAIL, set_connection

ACCESSORS = {
    "get_agents_client": "AgentsClient",
    "get_flows_client": "FlowsClient",
    "get_pages_client": "PagesClient",
    "get_intents_client": "IntentsClient",
    "get_entity_types_client": "EntityTypesClient",
    "get_webhooks_client": "WebhooksClient",
    "get_transition_route_groups_client": "TransitionRouteGroupsClient",
    "get_versions_client": "VersionsClient",
    "get_environments_client": "EnvironmentsClient",
    "get_deployments_client": "DeploymentsClient",
    "get_test_cases_client": "TestCasesClient",
    "get_sessions_client": "SessionsClient",
}


@pytest.fixture
def hook(emulator_connection) -> DialogflowCXHook:
    return DialogflowCXHook(gcp_conn_id=emulator_connection)


@pytest.mark.parametrize(("accessor", "class_name"), ACCESSORS.items())
def test_each_accessor_returns_the_stock_client_once(hook, accessor, class_name):
    client = getattr(hook, accessor)(AGENT)
    assert type(client) is getattr(dialogflowcx_v3, class_name)
    assert getattr(hook, accessor)(AGENT) is client
    assert getattr(hook, accessor)(location="global") is client  # same endpoint, same client


def test_clients_share_one_channel_per_endpoint(hook):
    agents = hook.get_agents_client(AGENT)
    flows = hook.get_flows_client(AGENT + "/flows/f")
    operations = hook.get_operations_client(AGENT)
    assert isinstance(operations, operations_v1.OperationsClient)
    channel = hook.get_channel(AGENT)
    # The stock transports wrap the channel in a logging interceptor; compare what they wrap.
    assert agents.transport.grpc_channel is channel
    assert flows.transport.grpc_channel is channel
    assert operations is hook.get_operations_client(location="global")


def test_regional_endpoints_get_their_own_clients(monkeypatch, keyfile):
    set_connection(monkeypatch, CONN_ID, {"project": "p", "keyfile_dict": keyfile})
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID)
    eu = hook.get_agents_client("projects/p/locations/europe-west2/agents/a")
    us = hook.get_agents_client("projects/p/locations/us-central1/agents/a")
    assert eu is not us
    assert hook.get_agents_client(location="europe-west2") is eu
    hook.close()


def test_real_endpoints_use_a_secure_channel_with_the_connections_credentials(monkeypatch, keyfile):
    import google.api_core.grpc_helpers as grpc_helpers

    set_connection(monkeypatch, CONN_ID, {"project": "p", "keyfile_dict": keyfile})
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID)
    calls = []
    real = grpc_helpers.create_channel
    monkeypatch.setattr(grpc_helpers, "create_channel", lambda *a, **k: calls.append((a, k)) or real(*a, **k))
    hook.get_agents_client("projects/p/locations/europe-west2/agents/a")
    ((args, kwargs),) = calls
    assert args == ("europe-west2-dialogflow.googleapis.com:443",)
    assert kwargs["credentials"] is hook.get_credentials()
    assert kwargs["credentials"].service_account_email == SA_EMAIL
    assert ("grpc.max_receive_message_length", -1) in kwargs["options"]
    hook.close()


def test_copies_and_pickles_drop_the_channels(hook):
    client = hook.get_agents_client(AGENT)
    duplicate = copy.deepcopy(hook)
    assert duplicate.get_agents_client(AGENT) is not client
    restored = pickle.loads(pickle.dumps(hook))
    assert restored.gcp_conn_id == hook.gcp_conn_id
    assert restored.get_agents_client(AGENT) is not client


def test_close_opens_fresh_channels_next_time(hook, scripted_server):
    client = hook.get_agents_client(AGENT)
    hook.call(client.get_agent, name=AGENT)
    hook.close()
    again = hook.get_agents_client(AGENT)
    assert again is not client
    assert hook.call(again.get_agent, name=AGENT).name == AGENT


def test_async_clients_are_cached_per_event_loop(emulator_connection):
    hook = DialogflowCXAsyncHook(gcp_conn_id=emulator_connection)

    async def clients():
        first = await hook.get_test_cases_client(AGENT)
        assert await hook.get_test_cases_client(AGENT) is first
        assert isinstance(first, dialogflowcx_v3.TestCasesAsyncClient)
        operations = await hook.get_operations_client(AGENT)
        assert isinstance(operations, operations_v1.OperationsAsyncClient)
        await hook.close()
        return first

    assert asyncio.run(clients()) is not asyncio.run(clients())


def test_test_connection_lists_agents(hook, scripted_server):
    ok, message = hook.test_connection()
    assert ok, message
    assert message == "listed agents in projects/test-project/locations/global"


def test_test_connection_reports_failure(monkeypatch):
    set_connection(monkeypatch, CONN_ID, {"emulator_host": "127.0.0.1:8086"})  # no project
    ok, message = DialogflowCXHook(gcp_conn_id=CONN_ID).test_connection()
    assert not ok
    assert "no project" in message


def test_provider_info_registers_the_hook_and_connection_type():
    info = airflow_provider_cx.get_provider_info()
    (connection_type,) = [c for c in info["connection-types"] if c["connection-type"] == "dialogflow_cx"]
    assert connection_type["hook-class-name"] == "airflow_provider_cx.hooks.dialogflow_cx.DialogflowCXHook"
    fields = connection_type["conn-fields"]
    expected = {"project", "location", "key_path", "keyfile_dict", "credential_config_file"}
    expected |= {"scope", "impersonation_chain", "quota_project_id", "emulator_host"}
    expected |= {"retry_max_attempts", "retry_initial_delay", "retry_max_delay", "retry_deadline"}
    expected |= {"retry_attempt_timeout", "poll_interval", "operation_timeout"}
    assert set(fields) == expected
    assert fields["keyfile_dict"]["schema"]["format"] == "password"
    assert "extra" in connection_type["ui-field-behaviour"]["hidden-fields"]
    hooks = [module for entry in info["hooks"] for module in entry["python-modules"]]
    assert "airflow_provider_cx.hooks.dialogflow_cx" in hooks
    assert DialogflowCXHook.conn_type == "dialogflow_cx"
    assert DialogflowCXHook.default_conn_name == "google_cloud_default"


def test_provider_info_passes_airflows_schema():
    import json
    from importlib.resources import files

    import jsonschema

    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(airflow_provider_cx.get_provider_info(), schema)


def test_classic_form_widgets_mirror_the_declared_fields(monkeypatch):
    """Older Airflow builds the form from wtforms fields; wtforms is not installed here, so record calls."""

    class Field:
        def __init__(self, label, description=""):
            self.label, self.description = label, description

    class StringField(Field): ...

    class PasswordField(Field): ...

    monkeypatch.setitem(
        sys.modules, "wtforms", types.SimpleNamespace(StringField=StringField, PasswordField=PasswordField)
    )
    widgets = DialogflowCXHook.get_connection_form_widgets()
    assert set(widgets) == set(connection_form.FIELDS)
    assert type(widgets["keyfile_dict"]) is PasswordField
    assert type(widgets["emulator_host"]) is StringField
    assert widgets["location"].label == "Location"
    behaviour = DialogflowCXHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == connection_form.HIDDEN_STANDARD_FIELDS
    assert behaviour["placeholders"]["emulator_host"] == "localhost:8086"
