"""redact_uri and package_secrets: what of a webhook may be shown, and which values are credentials."""

from __future__ import annotations

import pytest

from airflow_provider_cx.package import AgentPackage, Resource
from airflow_provider_cx.package.lint import lint_package
from airflow_provider_cx.package.redact import package_secrets, redact_uri


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("https://api.example/v1/hook", "https://api.example/v1/hook"),
        ("https://api.example/v1/hook?apikey=K3y&v=2", "https://api.example/v1/hook?apikey=***&v=***"),
        ("https://svc:pa55@api.example:8443/hook", "https://svc:***@api.example:8443/hook"),
        ("https://t0ken@api.example/hook", "https://***@api.example/hook"),
        ("https://api.example/hook#access_token=abc", "https://api.example/hook#***"),
        ("https://api.example/hook?s3cret", "https://api.example/hook?***"),
        ("http://[::1/hook?key=abc", "http://[::1/hook***"),
    ],
)
def test_redact_uri(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown


def webhook(data: dict) -> Resource:
    return Resource("webhooks", "hook", {"name": "w1", "displayName": "hook", **data})


def test_package_secrets_collects_every_credential_field() -> None:
    package = AgentPackage(agent={"displayName": "a"})
    package.resources("webhooks").append(
        webhook(
            {
                "genericWebService": {
                    "uri": "https://svc:uri-pass@api.example/hook?apikey=uri-key",
                    "requestHeaders": [{"key": "CLIENT-KEY", "value": "header-value"}],
                    "password": "basic-pass",
                    "oauthConfig": {"clientId": "public-id", "clientSecret": "client-secret"},
                }
            }
        )
    )
    package.resources("webhooks").append(
        webhook({"serviceDirectory": {"genericWebService": {"requestHeaders": {"X-Token": "sd-header"}}}})
    )
    package.resources("tools").append(
        Resource(
            "tools",
            "tool",
            {"displayName": "tool", "openApiSpec": {"authentication": {"apiKeyConfig": {"apiKey": "tool-key"}}}},
        )
    )
    assert package_secrets(package) == {
        "uri-pass",
        "uri-key",
        "header-value",
        "basic-pass",
        "client-secret",
        "sd-header",
        "tool-key",
    }


def test_lint_messages_show_webhook_uris_redacted() -> None:
    package = AgentPackage(agent={"displayName": "a", "defaultLanguageCode": "en"})
    package.resources("webhooks").append(webhook({"genericWebService": {"uri": "http://api.example/hook?apikey=L3ak"}}))
    messages = [finding.message for finding in lint_package(package)]
    assert any("'http://api.example/hook?apikey=***'" in message for message in messages), messages
    assert not any("L3ak" in message for message in messages)


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("https://api.example/v1?key=<YOUR-API-KEY>", "https://api.example/v1?key=<YOUR-API-KEY>"),
        ("https://api.example/v1?key=%3CYOUR-API-KEY%3E&t=r3al", "https://api.example/v1?key=%3CYOUR-API-KEY%3E&t=***"),
        ("https://{{user}}:{{password}}@api.example/", "https://{{user}}:{{password}}@api.example/"),
        ("https://api.example/v1?key=<r3al secret!>", "https://api.example/v1?key=***"),
    ],
)
def test_placeholders_are_shown_and_real_values_masked(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown


def test_a_finding_shows_the_placeholder_it_complains_about(shared_agents) -> None:
    from airflow_provider_cx.package import read_package

    graffiti = read_package(next(p for p in shared_agents if p.name == "goodbye-graffiti.zip"))
    messages = [f.message for f in lint_package(graffiti) if f.rule_id == "webhook-invalid-uri"]
    assert any("validateAddress?key=<YOUR-API-KEY>'" in message for message in messages), messages
    assert "<YOUR-API-KEY>" not in package_secrets(graffiti)


def test_package_secrets_leaves_placeholders_out() -> None:
    package = AgentPackage(agent={"displayName": "a"})
    headers = [{"key": "X-Key", "value": "<API-KEY>"}, {"key": "X-Real", "value": "r3al"}]
    package.resources("webhooks").append(webhook({"genericWebService": {"requestHeaders": headers}}))
    assert package_secrets(package) == {"r3al"}
