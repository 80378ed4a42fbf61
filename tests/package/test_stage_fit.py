"""The stage-fit gate: foreign references and forbidden endpoints, exactly where they were planted."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_cx.package import AgentPackage, Resource, read_package
from airflow_provider_cx.package.lint import LintConfig, LintConfigError, check_stage_fit, lint_package
from airflow_provider_cx.package.lint.rules.stage_fit import STAGE_FIT_RULES
from airflow_provider_cx.package.profile import apply_profile, parse_profile

PROD = "projects/acme-prod/locations/global/agents/00000000-0000-4000-8000-00000000000p"
PROD_NUMBER = "222222222222"
DEV_STORE = "projects/111111111111/locations/global/collections/default_collection/dataStores/faq-dev"
PROD_STORE = f"projects/{PROD_NUMBER}/locations/global/collections/default_collection/dataStores/faq-prod"
# Each shared agent's own project, where its export names one (None: it names no project resource).
OWN_PROJECT = {
    "divebooker.zip": None,
    "dsi-dialogflow": None,
    "goodbye-graffiti.zip": "diaologflow-cx-playground",
    "optus-dev": "et-ai-dev-virtual-agent",
    "qatar-airways": None,
}


def load(shared_agents: list[Path], name: str) -> AgentPackage:
    return read_package(next(p for p in shared_agents if p.name == name))


def messages(findings) -> list[str]:
    return [f.message for f in findings]


def test_every_shared_agent_is_clean_against_its_own_project(shared_agents):
    assert sorted(p.name for p in shared_agents) == sorted(OWN_PROJECT)
    for path in shared_agents:
        package = read_package(path)
        project = OWN_PROJECT[path.name] or "any-project"
        assert check_stage_fit(package, f"projects/{project}/locations/global/agents/a") == [], path.name
        # Without a target or forbid patterns the stage-fit rules stay silent in an ordinary lint.
        assert not [f for f in lint_package(package) if f.rule_id in STAGE_FIT_RULES], path.name


def test_optus_knowledge_bases_are_foreign_to_another_project(shared_agents):
    findings = check_stage_fit(load(shared_agents, "optus-dev"), PROD)
    assert {(f.rule_id, f.severity, f.path, f.resource_type) for f in findings} == {
        ("foreign-reference", "ERROR", "flows/Default Start Flow/Default Start Flow.json", "flow"),
        ("foreign-reference", "ERROR", "flows/Knowledge Connector/Knowledge Connector.json", "flow"),
    }
    assert all("'et-ai-dev-virtual-agent', not in the target's (acme-prod)" in m for m in messages(findings))


def test_goodbye_graffiti_generators_are_the_package_own_resources(shared_agents):
    package = load(shared_agents, "goodbye-graffiti.zip")
    assert check_stage_fit(package, PROD) == []
    # The same reference to a generator the package does not hold is another agent's: foreign.
    start = package.flow("Default Start Flow")
    text = str(start.data)
    assert "generators/ab2b6c06" in text
    package.collections["generators"] = [
        g for g in package.resources("generators") if g.display_name != "Welcome Generator"
    ]
    findings = check_stage_fit(package, PROD)
    assert [(f.rule_id, f.path) for f in findings] == [
        ("foreign-reference", "flows/Default Start Flow/Default Start Flow.json")
    ]


def test_test_results_of_the_source_agent_are_records_not_references(shared_agents):
    package = load(shared_agents, "qatar-airways")
    case = package.test_cases[0]
    source = "projects/qa-dev/locations/global/agents/src"
    case.data["lastTestResult"] = {
        "name": f"{source}/testCases/{case.id}/results/r1",
        "environment": f"{source}/environments/draft",
    }
    assert check_stage_fit(package, PROD) == []
    # The same name outside the record is another agent's environment: foreign.
    case.data["environment"] = f"{source}/environments/draft"
    assert [f.path for f in check_stage_fit(package, PROD)] == [package.path_of(case)]


def plant(package: AgentPackage, project: str, number: str, location: str = "global") -> None:
    """References of one project, where real agents carry them."""
    store = f"projects/{number}/locations/{location}/collections/default_collection/dataStores/faq"
    connection = {"dataStoreType": "UNSTRUCTURED", "dataStore": store}
    package.flows[0].data["knowledgeConnectorSettings"] = {"dataStoreConnections": [connection]}
    package.agent["securitySettings"] = f"projects/{project}/locations/{location}/securitySettings/redact"
    package.agent["genAppBuilderSettings"] = {
        "engine": f"projects/{project}/locations/{location}/collections/c/engines/e"
    }
    package.agent["bigqueryExportSettings"] = {
        "enabled": True,
        "bigqueryTable": f"projects/{project}/datasets/cx/tables/t",
    }
    hook = package.webhooks[0].data
    service = f"projects/{project}/locations/us-central1/namespaces/cx/services/hook"
    hook["serviceDirectory"] = {"service": service, "genericWebService": hook.pop("genericWebService")}
    hook["serviceDirectory"]["genericWebService"]["secretVersionForUsernamePassword"] = (
        f"projects/{project}/secrets/hook/versions/1"
    )
    playbook = {"name": "pb", "displayName": "FAQ", "dataStoreConnections": [dict(connection)]}
    package.resources("playbooks").append(Resource("playbooks", "FAQ", playbook))


def test_planted_foreign_references_fire_exactly_where_planted(shared_agents):
    package = load(shared_agents, "qatar-airways")
    plant(package, "acme-dev", "111111111111")
    findings = check_stage_fit(package, PROD, project_aliases=[PROD_NUMBER])
    assert all(f.rule_id == "foreign-reference" and f.severity == "ERROR" for f in findings)
    where = sorted((f.path, f.message.split(": ", 1)[1].split(" names ")[0]) for f in findings)
    assert where == sorted(
        [
            ("agent.json", "bigqueryExportSettings.bigqueryTable"),
            ("agent.json", "genAppBuilderSettings.engine"),
            ("agent.json", "securitySettings"),
            (
                "flows/Default Start Flow/Default Start Flow.json",
                "knowledgeConnectorSettings.dataStoreConnections[0].dataStore",
            ),
            ("playbooks/FAQ/FAQ.json", "dataStoreConnections[0].dataStore"),
            ("webhooks/Apigee Integration.json", "serviceDirectory.genericWebService.secretVersionForUsernamePassword"),
            ("webhooks/Apigee Integration.json", "serviceDirectory.service"),
        ]
    )
    by_path = {f.path: f for f in findings}
    assert by_path["playbooks/FAQ/FAQ.json"].resource_type == "playbook"
    assert by_path["webhooks/Apigee Integration.json"].resource_display_names == ("Apigee Integration",)


def test_the_target_projects_own_references_are_clean_by_id_or_number(shared_agents):
    package = load(shared_agents, "qatar-airways")
    plant(package, "acme-prod", PROD_NUMBER)
    # The data store names the project by number: without the alias it cannot be told apart.
    assert [f.path for f in check_stage_fit(package, PROD)] == [
        "flows/Default Start Flow/Default Start Flow.json",
        "playbooks/FAQ/FAQ.json",
    ]
    # Service Directory in us-central1 serves a global agent; everything else is in "global".
    assert check_stage_fit(package, PROD, project_aliases=[PROD_NUMBER]) == []


def test_a_reference_in_another_location_is_foreign(shared_agents):
    package = load(shared_agents, "qatar-airways")
    plant(package, "acme-prod", PROD_NUMBER, location="eu")
    findings = check_stage_fit(package, PROD, project_aliases=[PROD_NUMBER])
    assert {f.path for f in findings} == {
        "agent.json",
        "flows/Default Start Flow/Default Start Flow.json",
        "playbooks/FAQ/FAQ.json",
    }
    assert all("in location 'eu', not in the target's 'global'" in m for m in messages(findings))
    regional = PROD.replace("/global/", "/us-central1/")
    hook_findings = [
        f for f in check_stage_fit(package, regional, project_aliases=[PROD_NUMBER]) if f.path.startswith("webhooks/")
    ]
    assert hook_findings == []  # the Service Directory service is in the regional agent's own region


def test_cloud_run_webhooks_of_another_project_number(shared_agents):
    package = load(shared_agents, "optus-dev")
    run = "https://parrot-111111111111.us-central1.run.app/hook"
    package.webhook("webhook-parrot").data["genericWebService"]["uri"] = run
    target = "projects/et-ai-dev-virtual-agent/locations/global/agents/a"
    assert check_stage_fit(package, target) == []  # no project number known: cannot tell
    assert check_stage_fit(package, target, project_aliases=["111111111111"]) == []
    findings = check_stage_fit(package, target, project_aliases=[PROD_NUMBER])
    assert [(f.rule_id, f.path) for f in findings] == [("foreign-reference", "webhooks/webhook-parrot.json")]
    assert "Cloud Run service of project number 111111111111" in findings[0].message


def test_forbidden_endpoints_on_webhooks_and_tool_servers(shared_agents):
    package = load(shared_agents, "goodbye-graffiti.zip")
    spec = "openapi: 3.0.0\nservers:\n  - url: https://api.dev.acme.example/v1\npaths: {}\n"
    package.resources("tools").append(
        Resource("tools", "Accounts", {"name": "t", "displayName": "Accounts", "openApiSpec": {"textSchema": spec}})
    )
    assert check_stage_fit(package, PROD, forbid=[r"\.staging\."]) == []
    findings = check_stage_fit(package, PROD, forbid=[r"\.dev\.acme", r"addressvalidation"])
    assert {(f.rule_id, f.path, f.resource_type) for f in findings} == {
        ("forbidden-endpoint", "tools/Accounts/Accounts.json", "tool"),
        ("forbidden-endpoint", "webhooks/prebuilt_components_address_collection%3aaddress_validation.json", "webhook"),
    }
    webhook = next(f for f in findings if f.resource_type == "webhook")
    # The export's key is a template placeholder: findings show it (a real key would be redacted).
    assert "key=<YOUR-API-KEY>" in webhook.message


def test_a_profile_fixes_what_the_gate_finds(shared_agents):
    package = load(shared_agents, "qatar-airways")
    plant(package, "acme-dev", "111111111111")
    store = package.flows[0].data["knowledgeConnectorSettings"]["dataStoreConnections"][0]["dataStore"]
    profile = parse_profile(
        {
            "webhooks": {
                "Apigee Integration": {
                    "service_directory": "projects/acme-prod/locations/us-central1/namespaces/cx/services/hook",
                    "auth": {
                        "type": "basic_secret_version",
                        "secret_version": "projects/acme-prod/secrets/h/versions/2",
                    },
                    "uri": "https://flights.prod.acme.example/cx",
                }
            },
            "data_stores": {store: PROD_STORE},
            "agent_settings": {
                "securitySettings": "projects/acme-prod/locations/global/securitySettings/redact",
                "genAppBuilderSettings": {"engine": "projects/acme-prod/locations/global/collections/c/engines/e"},
                "bigqueryExportSettings": {"enabled": True, "bigqueryTable": "projects/acme-prod/datasets/cx/tables/t"},
            },
            "forbid": [r"\.dev\.acme", r"apigee\.net"],
        }
    )
    assert check_stage_fit(package, PROD, forbid=profile.forbid, project_aliases=[PROD_NUMBER])
    staged = apply_profile(package, profile).package
    assert check_stage_fit(staged, PROD, forbid=profile.forbid, project_aliases=[PROD_NUMBER]) == []


def test_check_stage_fit_reports_only_stage_fit_rules_and_honours_the_allow_list(shared_agents):
    package = load(shared_agents, "optus-dev")
    assert lint_package(package)  # ordinary findings exist...
    findings = check_stage_fit(package, PROD)
    assert {f.rule_id for f in findings} == {"foreign-reference"}  # ...but the gate reports only its own
    allow = LintConfig.from_dict({"allow": [{"rule": "foreign-reference", "resource": "Knowledge Connector"}]})
    kept = check_stage_fit(package, PROD, config=allow)
    assert [f.path for f in kept] == ["flows/Default Start Flow/Default Start Flow.json"]


def test_lint_config_validates_the_stage_target():
    with pytest.raises(
        LintConfigError, match="target_agent: 'projects/p/agents/a' is not projects/P/locations/L/agents/A"
    ):
        LintConfig(target_agent="projects/p/agents/a")
    with pytest.raises(LintConfigError, match=r"forbid\[1\]: '\(' is not a regex"):
        LintConfig.from_dict({"forbid": ["ok", "("]})
    with pytest.raises(LintConfigError, match="target_project_aliases must be a list"):
        LintConfig.from_dict({"target_project_aliases": "123"})
    config = LintConfig.from_dict({"target_agent": PROD, "target_project_aliases": [PROD_NUMBER], "forbid": ["x"]})
    assert LintConfig.from_dict(config.to_dict()) == config
    assert "target_agent" not in LintConfig().to_dict()
