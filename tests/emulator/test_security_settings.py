"""SecuritySettingsService over gRPC: CRUD per location, and settings an agent names stay."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.cloud import dialogflowcx_v3 as cx
from google.cloud import dialogflowcx_v3beta1 as beta

from airflow_provider_cx.emulator.testing import TEST_PARENT, create_test_agent, unique_name


def test_crud_and_the_agent_reference(cx_client):
    settings = cx_client(cx.SecuritySettingsServiceClient)
    display = unique_name("redact")
    made = settings.create_security_settings(
        parent=TEST_PARENT,
        security_settings=cx.SecuritySettings(
            display_name=display,
            redaction_strategy=cx.SecuritySettings.RedactionStrategy.REDACT_WITH_SERVICE,
            retention_window_days=7,
        ),
    )
    assert made.name.startswith(f"{TEST_PARENT}/securitySettings/")
    assert (
        cx_client(beta.SecuritySettingsServiceClient).get_security_settings(name=made.name).retention_window_days == 7
    )
    with pytest.raises(exceptions.AlreadyExists, match=display):
        settings.create_security_settings(
            parent=TEST_PARENT, security_settings=cx.SecuritySettings(display_name=display)
        )

    updated = settings.update_security_settings(
        security_settings=cx.SecuritySettings(name=made.name, retention_window_days=30),
        update_mask={"paths": ["retention_window_days"]},
    )
    assert (updated.retention_window_days, updated.display_name) == (30, display)
    assert made.name in [s.name for s in settings.list_security_settings(parent=TEST_PARENT)]

    agents = cx_client(cx.AgentsClient)
    agent = create_test_agent(agents, unique_name("secure"))
    agents.update_agent(
        agent=cx.Agent(name=agent.name, security_settings=made.name), update_mask={"paths": ["security_settings"]}
    )
    with pytest.raises(exceptions.FailedPrecondition, match=agent.display_name):
        settings.delete_security_settings(name=made.name)
    agents.delete_agent(name=agent.name)
    settings.delete_security_settings(name=made.name)
    with pytest.raises(exceptions.NotFound):
        settings.get_security_settings(name=made.name)
    with pytest.raises(exceptions.InvalidArgument, match="not a valid security settings name"):
        settings.get_security_settings(name="projects/p/securitySettings/x")
