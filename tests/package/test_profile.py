"""Stage profiles on real exports: each key, refusals, idempotence, untouched files, masked secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cx.package import AgentPackage, Resource, package_files, read_package
from airflow_provider_cx.package.endpoints import rewrite_tool_servers, tool_server_urls
from airflow_provider_cx.package.profile import (
    ProfileError,
    ProfileMismatchError,
    SecretRef,
    apply_profile,
    env_resolver,
    load_profile,
    parse_profile,
)

DEV_STORE = "projects/111111111111/locations/global/collections/default_collection/dataStores/faq-dev_123"
PROD_STORE = "projects/222222222222/locations/global/collections/default_collection/dataStores/faq-prod_456"
SECRETS = {"HEADER_KEY": "hdr-s3cret-value", "OAUTH": "oauth-s3cret-value", "PW": "basic-s3cret-value"}
YAML_SPEC = """openapi: 3.0.0
info:
  title: Accounts  # the dev copy
  version: 1.0.0
servers:
  - url: https://accounts-dev.acme.example/v1
    description: dev
  - url: 'https://accounts-dev-eu.acme.example/v1'
externalDocs:
  url: https://docs-dev.acme.example/
paths: {}
"""


def load(shared_agents: list[Path], name: str) -> AgentPackage:
    return read_package(next(p for p in shared_agents if p.name == name))


def files(package: AgentPackage) -> dict[str, Any]:
    return {path: json.loads(data) if path.endswith(".json") else data for path, data in package_files(package).items()}


def changed_paths(before: AgentPackage, after: AgentPackage) -> set[str]:
    old, new = files(before), files(after)
    return {p for p in set(old) | set(new) if old.get(p) != new.get(p)}


def resolver():
    return env_resolver(SECRETS)


def apply(package: AgentPackage, document: dict[str, Any], **kwargs: Any):
    return apply_profile(package, parse_profile(document), resolve=resolver(), **kwargs)


def assert_no_secret(text: str) -> None:
    for value in SECRETS.values():
        assert value not in text


# --- the document ---------------------------------------------------------------------------------
def test_every_wrong_key_and_value_is_named_by_its_json_path():
    document = {
        "stage": "prod",
        "stages": "typo",
        "webhooks": {
            "Apigee Integration": {
                "uri": 5,
                "timout_seconds": 3,
                "timeout_seconds": -1,
                "request_headers": {"CLIENT-KEY": {"secret": "vault:x"}},
                "auth": {"type": "basic", "username": "svc", "password": "plain-text-password"},
                "service_directory": "my-service",
            }
        },
        "tools": {"Accounts": {"auth": {"type": "api_key", "key_name": "k", "api_key": {"secret": "env:K"}}}},
        "uri_rewrites": [{"pattern": "(", "replacement": "x"}, {"pattern": "a"}],
        "data_stores": {DEV_STORE: 7},
        "agent_settings": {"securitySetings": "projects/p/locations/global/securitySettings/s"},
        "forbid": ["["],
    }
    with pytest.raises(ProfileError) as raised:
        parse_profile(document)
    message = str(raised.value)
    for expected in (
        "$.stages: unknown key",
        "$.webhooks['Apigee Integration'].uri: expected a non-empty string",
        "$.webhooks['Apigee Integration'].timout_seconds: unknown key",
        "$.webhooks['Apigee Integration'].timeout_seconds: expected a positive integer",
        "$.webhooks['Apigee Integration'].request_headers['CLIENT-KEY'].secret: 'vault:x' is not conn:",
        "$.webhooks['Apigee Integration'].auth.password: secret values must not be written in a profile",
        "$.webhooks['Apigee Integration'].service_directory: 'my-service' is not projects/",
        "$.tools.Accounts.auth.request_location: is required",
        "$.uri_rewrites[0].pattern: '(' is not a regular expression",
        "$.uri_rewrites[1].replacement: expected a string",
        f"$.data_stores[{DEV_STORE!r}]: expected a non-empty string",
        "$.agent_settings.securitySetings: not an agent.json field",
        "$.forbid[0]: '[' is not a regular expression",
    ):
        assert expected in message
    assert "plain-text-password" not in message


def test_load_profile_reads_a_file_and_names_it_in_errors(tmp_path):
    good = tmp_path / "prod.json"
    good.write_text(json.dumps({"stage": "prod", "forbid": ["-dev\\."]}))
    profile = load_profile(good)
    assert profile.stage == "prod"
    assert profile.forbid == ("-dev\\.",)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ProfileError, match=r"bad\.json is not valid JSON"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="cannot read stage profile"):
        load_profile(tmp_path / "missing.json")
    bad.write_text(json.dumps({"webhooks": []}))
    with pytest.raises(ProfileError, match=r"bad.json: \$.webhooks: expected an object"):
        load_profile(bad)


def test_a_webhook_entry_must_set_something():
    with pytest.raises(ProfileError, match=r"\$.webhooks.hook: sets nothing"):
        parse_profile({"webhooks": {"hook": {}}})


# --- webhooks -------------------------------------------------------------------------------------
def test_webhook_fields_on_qatar_airways(shared_agents):
    package = load(shared_agents, "qatar-airways")
    original = files(package)
    registered: list[str] = []
    overlay = apply(
        package,
        {
            "stage": "prod",
            "webhooks": {
                "Apigee Integration": {
                    "uri": "https://cx-prod.acme.example/cx/flights/v1",
                    "timeout_seconds": 10,
                    "request_headers": {"CLIENT-KEY": {"secret": "env:HEADER_KEY"}, "X-Stage": "prod"},
                    "auth": {
                        "type": "oauth",
                        "client_id": "cx-prod",
                        "client_secret": {"secret": "env:OAUTH"},
                        "token_endpoint": "https://auth.acme.example/token",
                        "scopes": ["flights.read"],
                    },
                }
            },
        },
        on_secret=registered.append,
    )
    assert files(package) == original  # the source package is not touched
    hook = overlay.package.webhook("Apigee Integration").data
    service = hook["genericWebService"]
    assert service["uri"] == "https://cx-prod.acme.example/cx/flights/v1"
    assert hook["timeout"] == {"seconds": 10}
    assert service["requestHeaders"] == [
        {"key": "CLIENT-KEY", "value": "hdr-s3cret-value"},
        {"key": "X-Stage", "value": "prod"},
    ]
    assert service["oauthConfig"] == {
        "clientId": "cx-prod",
        "clientSecret": "oauth-s3cret-value",
        "tokenEndpoint": "https://auth.acme.example/token",
        "scopes": ["flights.read"],
    }
    assert sorted(registered) == ["hdr-s3cret-value", "oauth-s3cret-value"]
    assert changed_paths(package, overlay.package) == {"webhooks/Apigee Integration.json"}
    fields = {c.field for c in overlay.changes}
    assert {"genericWebService.uri", "timeout.seconds", "genericWebService.oauthConfig"} <= fields
    text = overlay.describe()
    assert_no_secret(text)
    assert "z6hIANe4CkSIb3qPt2FTbmdSaUQ0WOZe" not in text  # dev's header value from the export
    assert (
        'genericWebService.requestHeaders: [{"key": "CLIENT-KEY", "value": "***"}] -> '
        '[{"key": "CLIENT-KEY", "value": "***"}, {"key": "X-Stage", "value": "***"}]'
    ) in text
    assert '"clientSecret": "***"' in text
    assert all(c.resource == "webhook 'Apigee Integration'" for c in overlay.changes)


def test_webhook_behind_service_directory_with_basic_auth_on_optus(shared_agents):
    package = load(shared_agents, "optus-dev")
    service = "projects/optus-prod/locations/us-central1/namespaces/cx/services/parrot"
    overlay = apply(
        package,
        {
            "webhooks": {
                "webhook-parrot": {
                    "service_directory": service,
                    "auth": {"type": "basic", "username": "cx", "password": {"secret": "env:PW"}},
                }
            }
        },
    )
    data = overlay.package.webhook("webhook-parrot").data
    assert "genericWebService" not in data
    assert data["serviceDirectory"] == {
        "genericWebService": {
            "uri": "https://webhook-parrot-cw5ljeroya-uc.a.run.app",
            "username": "cx",
            "password": "basic-s3cret-value",
        },
        "service": service,
    }
    assert changed_paths(package, overlay.package) == {"webhooks/webhook-parrot.json"}
    assert_no_secret(overlay.describe())
    # Switching to service-agent auth drops the basic credentials rather than keeping both.
    again = apply(
        overlay.package, {"webhooks": {"webhook-parrot": {"auth": {"type": "service_agent", "token": "ID_TOKEN"}}}}
    )
    web = again.package.webhook("webhook-parrot").data["serviceDirectory"]["genericWebService"]
    assert web == {"uri": "https://webhook-parrot-cw5ljeroya-uc.a.run.app", "serviceAgentAuth": "ID_TOKEN"}
    assert_no_secret(again.describe())


def test_disabling_a_webhook_and_secret_manager_basic_auth(shared_agents):
    package = load(shared_agents, "goodbye-graffiti.zip")
    version = "projects/gg-prod/secrets/places-basic/versions/3"
    overlay = apply(
        package,
        {
            "webhooks": {
                "lookup_place": {"disabled": True},
                "prebuilt_components_address_collection:address_validation": {
                    "auth": {"type": "basic_secret_version", "secret_version": version}
                },
            }
        },
    )
    assert overlay.package.webhook("lookup_place").data["disabled"] is True
    validation = overlay.package.webhook("prebuilt_components_address_collection:address_validation")
    assert validation.data["genericWebService"]["secretVersionForUsernamePassword"] == version
    assert "username" not in validation.data["genericWebService"]  # the export's basic username is replaced
    assert changed_paths(package, overlay.package) == {
        "webhooks/lookup_place.json",
        "webhooks/prebuilt_components_address_collection%3aaddress_validation.json",
    }


def test_a_profile_naming_what_the_package_lacks_is_refused(shared_agents):
    package = load(shared_agents, "qatar-airways")
    original = files(package)
    with pytest.raises(ProfileMismatchError) as raised:
        apply(
            package,
            {
                "webhooks": {"Apigee integration": {"uri": "https://prod.example/"}},
                "tools": {"Accounts": {"service_directory": "projects/p/locations/l/namespaces/n/services/s"}},
                "data_stores": {DEV_STORE: PROD_STORE},
            },
        )
    message = str(raised.value)
    assert "webhook 'Apigee integration' is not in the package (it has: Apigee Integration)" in message
    assert "tool 'Accounts' is not in the package (it has: no tools)" in message
    assert f"data store {DEV_STORE!r} is not named anywhere in the package" in message
    assert files(package) == original


# --- uri_rewrites ---------------------------------------------------------------------------------
def add_tool(package: AgentPackage, name: str, spec: dict[str, Any]) -> Resource:
    tool = Resource("tools", name, {"name": f"tool-{name}", "displayName": name, **spec})
    package.resources("tools").append(tool)
    return tool


def test_uri_rewrites_reach_every_webhook_and_tool_server(shared_agents):
    package = load(shared_agents, "goodbye-graffiti.zip")
    add_tool(package, "Accounts", {"openApiSpec": {"textSchema": YAML_SPEC}})
    json_spec = json.dumps({"openapi": "3.0.0", "servers": [{"url": "https://ledger-dev.acme.example"}], "paths": {}})
    add_tool(package, "Ledger", {"openApiSpec": {"textSchema": json_spec}})
    before = read_package(package_files_zip(package))
    overlay = apply(
        package,
        {
            "uri_rewrites": [
                {"pattern": r"-dev(-eu)?\.acme\.example", "replacement": r"-prod\1.acme.example"},
                {
                    "pattern": r"^https://<YOUR-CLOUD-FUNCTION-TRIGGER-URL>$",
                    "replacement": "https://places.acme.example",
                },
                {"pattern": r"<YOUR-API-KEY>", "replacement": "KEY-FROM-PROD"},
            ]
        },
    )
    result = overlay.package
    assert result.webhook("lookup_place").data["genericWebService"]["uri"] == "https://places.acme.example"
    validation = result.webhook("prebuilt_components_address_collection:address_validation")
    assert validation.data["genericWebService"]["uri"].endswith("?key=KEY-FROM-PROD")
    accounts = result.find("tools", "Accounts")
    assert tool_server_urls(accounts) == [
        "https://accounts-prod.acme.example/v1",
        "https://accounts-prod-eu.acme.example/v1",
    ]
    # Only the server URLs change in the spec text: comments, other URLs and layout stay.
    expected = YAML_SPEC.replace("accounts-dev.", "accounts-prod.").replace("accounts-dev-eu.", "accounts-prod-eu.")
    assert accounts.data["openApiSpec"]["textSchema"] == expected
    assert "docs-dev.acme.example" in expected
    assert tool_server_urls(result.find("tools", "Ledger")) == ["https://ledger-prod.acme.example"]
    assert changed_paths(before, result) == {
        "webhooks/lookup_place.json",
        "webhooks/prebuilt_components_address_collection%3aaddress_validation.json",
        "tools/Accounts/Accounts.json",
        "tools/Ledger/Ledger.json",
    }
    servers = [c for c in overlay.changes if c.path == "tools/Accounts/Accounts.json"]
    assert len(servers) == 1
    assert "accounts-prod.acme.example" in servers[0].after
    assert "paths" not in servers[0].after
    # A key in a query string is shown redacted in the change list.
    assert "KEY-FROM-PROD" not in overlay.describe()


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"type": "none"}, None),
        (
            {
                "type": "api_key",
                "key_name": "X-Key",
                "api_key": {"secret": "env:HEADER_KEY"},
                "request_location": "HEADER",
            },
            {"apiKeyConfig": {"keyName": "X-Key", "apiKey": "hdr-s3cret-value", "requestLocation": "HEADER"}},
        ),
        (
            {"type": "bearer_token", "token": {"secret": "env:PW"}},
            {"bearerTokenConfig": {"token": "basic-s3cret-value"}},
        ),
        (
            {
                "type": "oauth",
                "client_id": "cx",
                "client_secret": {"secret": "env:OAUTH"},
                "token_endpoint": "https://auth.acme.example/token",
            },
            {
                "oauthConfig": {
                    "oauthGrantType": "CLIENT_CREDENTIAL",
                    "clientId": "cx",
                    "clientSecret": "oauth-s3cret-value",
                    "tokenEndpoint": "https://auth.acme.example/token",
                }
            },
        ),
        (
            {"type": "service_agent", "service_agent_token": "ID_TOKEN"},
            {"serviceAgentAuthConfig": {"serviceAgentAuth": "ID_TOKEN"}},
        ),
    ],
)
def test_tool_auth_and_service_directory(shared_agents, auth, expected):
    package = load(shared_agents, "divebooker.zip")
    dev_auth = {"apiKeyConfig": {"keyName": "k", "apiKey": "dev-api-key-123", "requestLocation": "QUERY_STRING"}}
    add_tool(package, "Accounts", {"openApiSpec": {"textSchema": YAML_SPEC, "authentication": dev_auth}})
    add_tool(package, "Lookup", {"functionSpec": {}})
    service = "projects/acme-prod/locations/us-central1/namespaces/cx/services/accounts"
    overlay = apply(package, {"tools": {"Accounts": {"auth": auth, "service_directory": service}}})
    spec = overlay.package.find("tools", "Accounts").data["openApiSpec"]
    assert spec.get("authentication") == expected
    assert spec["serviceDirectoryConfig"] == {"service": service}
    assert spec["textSchema"] == YAML_SPEC
    assert {c.path for c in overlay.changes} == {"tools/Accounts/Accounts.json"}
    text = overlay.describe()
    assert_no_secret(text)
    assert "dev-api-key-123" not in text
    with pytest.raises(ProfileMismatchError, match="tool 'Lookup' is not an OpenAPI tool"):
        apply(package, {"tools": {"Lookup": {"service_directory": service}}})


def test_empty_request_headers_remove_the_exports_headers(shared_agents):
    package = load(shared_agents, "qatar-airways")
    overlay = apply(package, {"webhooks": {"Apigee Integration": {"request_headers": {}}}})
    assert "requestHeaders" not in overlay.package.webhook("Apigee Integration").data["genericWebService"]
    assert "z6hIANe4CkSIb3qPt2FTbmdSaUQ0WOZe" not in overlay.describe()


@pytest.mark.parametrize(
    ("spec", "urls"),
    [
        ("openapi: 3.0.0\nservers:\n- url: https://a-dev.acme.example\npaths: {}\n", ["https://a-dev.acme.example"]),
        (
            "servers: [{url: 'https://a-dev.acme.example/v1'}, {url: https://b-dev.acme.example}]  # two\npaths: {}\n",
            ["https://a-dev.acme.example/v1", "https://b-dev.acme.example"],
        ),
        (
            "servers:\n  - url: https://{region}-dev.acme.example/{version}\n    variables: {}\n",
            ["https://{region}-dev.acme.example/{version}"],
        ),
        ('{"servers": [{"url": "https:\\/\\/a-dev.acme.example"}], "paths": {}}', ["https://a-dev.acme.example"]),
    ],
)
def test_tool_server_urls_in_every_spec_style(spec, urls):
    tool = Resource("tools", "T", {"displayName": "T", "openApiSpec": {"textSchema": spec}})
    assert tool_server_urls(tool) == urls
    rewrite_tool_servers(tool, lambda url: url.replace("-dev.", "-prod."))
    assert tool_server_urls(tool) == [url.replace("-dev.", "-prod.") for url in urls]
    if not spec.startswith("{"):
        assert tool.data["openApiSpec"]["textSchema"] == spec.replace("-dev.", "-prod.")


def package_files_zip(package: AgentPackage) -> bytes:
    from airflow_provider_cx.package import write_zip

    return write_zip(package)


def test_a_rewrite_that_changes_its_own_output_is_refused(shared_agents):
    package = load(shared_agents, "optus-dev")
    with pytest.raises(ProfileError, match="not idempotent"):
        apply(package, {"uri_rewrites": [{"pattern": "webhook-parrot", "replacement": "webhook-parrot-prod"}]})


# --- data stores ----------------------------------------------------------------------------------
def plant_data_stores(package: AgentPackage) -> None:
    """dsi-dialogflow with dev's data store named where real agents name them."""
    connection = {"dataStoreType": "UNSTRUCTURED", "dataStore": DEV_STORE}
    start = package.flow("Default Start Flow")
    start.data["knowledgeConnectorSettings"] = {"enabled": True, "dataStoreConnections": [dict(connection)]}
    page = package.flows[1].pages[0]
    page.data["knowledgeConnectorSettings"] = {"dataStoreConnections": [dict(connection)]}
    # A response that merely mentions the name is text, not a reference: it must stay.
    page.data.setdefault("entryFulfillment", {})["messages"] = [{"text": {"text": [DEV_STORE]}}]
    playbook = {"name": "pb-1", "displayName": "FAQ", "goal": "answer", "dataStoreConnections": [dict(connection)]}
    package.resources("playbooks").append(Resource("playbooks", "FAQ", playbook))
    add_tool(package, "FAQ search", {"dataStoreSpec": {"dataStoreConnections": [dict(connection)]}})
    package.agent["genAppBuilderSettings"] = {"engine": "projects/111111111111/locations/global/engines/e"}
    package.agent["dataStores"] = [DEV_STORE]


def test_data_stores_are_mapped_wherever_the_package_names_them(shared_agents):
    package = load(shared_agents, "dsi-dialogflow")
    plant_data_stores(package)
    overlay = apply(package, {"data_stores": {DEV_STORE: PROD_STORE}})
    result = overlay.package
    page = result.flows[1].pages[0]
    assert (
        result.flow("Default Start Flow").data["knowledgeConnectorSettings"]["dataStoreConnections"][0]["dataStore"]
        == PROD_STORE
    )
    assert page.data["knowledgeConnectorSettings"]["dataStoreConnections"][0]["dataStore"] == PROD_STORE
    assert page.data["entryFulfillment"]["messages"] == [{"text": {"text": [DEV_STORE]}}]
    assert result.find("playbooks", "FAQ").data["dataStoreConnections"][0]["dataStore"] == PROD_STORE
    tool = result.find("tools", "FAQ search").data
    assert tool["dataStoreSpec"]["dataStoreConnections"][0]["dataStore"] == PROD_STORE
    assert result.agent["dataStores"] == [PROD_STORE]
    assert len(overlay.changes) == 5
    assert all(c.before == json.dumps(DEV_STORE) and c.after == json.dumps(PROD_STORE) for c in overlay.changes)
    assert {c.path for c in overlay.changes} == {
        "agent.json",
        "flows/Default Start Flow/Default Start Flow.json",
        result.path_of(page),
        "playbooks/FAQ/FAQ.json",
        "tools/FAQ search/FAQ search.json",
    }


def test_chained_data_store_mappings_are_refused():
    with pytest.raises(ProfileError, match="itself mapped"):
        parse_profile({"data_stores": {DEV_STORE: PROD_STORE, PROD_STORE: DEV_STORE + "x"}})


# --- agent settings -------------------------------------------------------------------------------
def test_agent_settings_set_top_level_and_nested_fields(shared_agents):
    package = load(shared_agents, "qatar-airways")
    settings = "projects/qa-prod/locations/global/securitySettings/redact"
    overlay = apply(
        package,
        {
            "agent_settings": {
                "securitySettings": settings,
                "advancedSettings.loggingSettings.enableInteractionLogging": False,
                "bigqueryExportSettings": {"enabled": True, "bigqueryTable": "projects/qa-prod/datasets/cx/tables/t"},
            }
        },
    )
    agent = overlay.package.agent
    assert agent["securitySettings"] == settings
    assert agent["advancedSettings"]["loggingSettings"] == {
        "enableStackdriverLogging": True,
        "enableInteractionLogging": False,
    }
    assert agent["bigqueryExportSettings"]["enabled"] is True
    assert changed_paths(package, overlay.package) == {"agent.json"}
    assert {c.field for c in overlay.changes} == {
        "securitySettings",
        "advancedSettings.loggingSettings.enableInteractionLogging",
        "bigqueryExportSettings",
    }


# --- whole-profile properties -----------------------------------------------------------------------
def generic_profile(package: AgentPackage) -> dict[str, Any]:
    """A profile touching every key that applies to this package."""
    document: dict[str, Any] = {
        "uri_rewrites": [{"pattern": r"^https://(?!stage-prod\.)", "replacement": "https://stage-prod."}],
        "agent_settings": {"advancedSettings.loggingSettings.enableInteractionLogging": True},
    }
    if package.webhooks:
        name = package.webhooks[0].display_name
        document["webhooks"] = {
            name: {"timeout_seconds": 7, "request_headers": {"X-Key": {"secret": "env:HEADER_KEY"}}}
        }
    return document


def test_applying_a_profile_twice_gives_the_same_package_on_every_shared_agent(shared_agents):
    for path in shared_agents:
        package = read_package(path)
        once = apply(package, generic_profile(package))
        twice = apply(once.package, generic_profile(package))
        assert package_files(twice.package) == package_files(once.package), path.name
        assert twice.changes == (), path.name
        assert once.changes, path.name
        touched = {"agent.json", *(f"webhooks/{w.stem}.json" for w in package.webhooks)}
        assert changed_paths(package, once.package) <= touched, path.name
        assert_no_secret(once.describe())


def test_secret_references_need_a_resolver_that_knows_them(shared_agents):
    package = load(shared_agents, "qatar-airways")
    profile = parse_profile({"webhooks": {"Apigee Integration": {"request_headers": {"K": {"secret": "conn:apigee"}}}}})
    with pytest.raises(ProfileError, match="no resolver"):
        apply_profile(package, profile)
    with pytest.raises(ProfileError, match="AIRFLOW_CONN_APIGEE is not set"):
        apply_profile(package, profile, resolve=env_resolver({}))

    def broken(ref: SecretRef) -> str:
        raise LookupError(f"no connection {ref.key}")

    with pytest.raises(ProfileError, match="cannot resolve secret 'conn:apigee': no connection apigee"):
        apply_profile(package, profile, resolve=broken)


def test_env_resolver_reads_airflow_style_variables():
    env = {
        "AIRFLOW_CONN_HOOK": "https://svc:p%40ss-word@hooks.example",
        "AIRFLOW_CONN_JSONCONN": json.dumps({"conn_type": "http", "password": "json-pass"}),
        "AIRFLOW_VAR_API_KEY": "var-value",
        "PLAIN": "env-value",
        "AIRFLOW_CONN_NOPASS": "https://hooks.example",
    }
    resolve = env_resolver(env)
    assert resolve(SecretRef("conn:hook")) == "p@ss-word"
    assert resolve(SecretRef("conn:jsonconn")) == "json-pass"
    assert resolve(SecretRef("var:api_key")) == "var-value"
    assert resolve(SecretRef("env:PLAIN")) == "env-value"
    with pytest.raises(ProfileError, match="connection 'nopass' has no password"):
        resolve(SecretRef("conn:nopass"))


def test_the_readme_shows_the_sample_agent_profiles():
    from airflow_provider_cx.sample_agent import sample_agent_path, sample_profile_path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Stage profiles", 1)[1].split("\n## ", 1)[0]
    shown = [json.loads(block.split("```", 1)[0]) for block in section.split("```json\n")[1:]]
    for stage in ("staging", "prod"):
        sample = json.loads(sample_profile_path(stage).read_text(encoding="utf-8"))
        sample.pop("description")
        assert sample in shown, stage
        profile = load_profile(sample_profile_path(stage))
        overlay = apply_profile(read_package(sample_agent_path()), profile, resolve=lambda ref: "k" * 8)
        assert (
            overlay.package.webhook("Branch Locator").data["genericWebService"]["uri"]
            == sample["webhooks"]["Branch Locator"]["uri"]
        )


def test_project_number_and_the_overlay_summaries(shared_agents):
    assert parse_profile({"project_number": 222222222222}).project_number == "222222222222"
    with pytest.raises(ProfileError, match=r"\$.project_number: expected the project's number"):
        parse_profile({"project_number": "acme-prod"})
    package = load(shared_agents, "qatar-airways")
    overlay = apply(
        package,
        {"stage": "prod", "webhooks": {"Apigee Integration": {"request_headers": {"K": {"secret": "env:HEADER_KEY"}}}}},
    )
    summary = overlay.to_dict()
    assert summary["stage"] == "prod"
    assert summary["changes"] == [
        {
            "path": "webhooks/Apigee Integration.json",
            "resource": "webhook 'Apigee Integration'",
            "field": "genericWebService.requestHeaders[0].key",
            "before": '"CLIENT-KEY"',
            "after": '"K"',
        },
        {
            "path": "webhooks/Apigee Integration.json",
            "resource": "webhook 'Apigee Integration'",
            "field": "genericWebService.requestHeaders[0].value",
            "before": "***",
            "after": "***",
        },
    ]
    markdown = overlay.to_markdown()
    assert markdown.startswith("### Stage profile prod\n")
    assert (
        "| `webhooks/Apigee Integration.json` | `genericWebService.requestHeaders[0].value` | `***` | `***` |"
        in markdown
    )
    assert_no_secret(json.dumps(summary) + markdown)
    assert "No changes." in apply(overlay.package, {"stage": "prod"}).to_markdown()


def test_the_documented_example_profile_is_valid():
    from airflow_provider_cx.package.profile import model

    example = model.__doc__.split("::", 1)[1].split("\n\n", 2)[1]
    profile = parse_profile(json.loads(example))
    assert profile.stage == "prod"
    assert profile.tools["Accounts API"].auth.service_agent_token == "ID_TOKEN"
    assert profile.project_number == "222222222222"


def test_an_explicit_uri_wins_over_rewrites_and_stays_put(shared_agents):
    package = load(shared_agents, "optus-dev")
    document = {
        "uri_rewrites": [{"pattern": r"-uc\.a\.run\.app", "replacement": "-ew.a.run.app"}],
        "webhooks": {"webhook-parrot": {"uri": "https://parrot-uc.a.run.app/pinned"}},
    }
    once = apply(package, document)
    assert (
        once.package.webhook("webhook-parrot").data["genericWebService"]["uri"] == "https://parrot-uc.a.run.app/pinned"
    )
    twice = apply(once.package, document)
    assert package_files(twice.package) == package_files(once.package)
    assert twice.changes == ()
