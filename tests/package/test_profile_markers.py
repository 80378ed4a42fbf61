"""Secret markers: a stored stage package names its secrets, the restore puts the values in memory."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from airflow_provider_cx.package import AgentPackage, read_package, write_zip
from airflow_provider_cx.package.io import package_files
from airflow_provider_cx.package.lint import check_stage_fit, lint_package
from airflow_provider_cx.package.profile import (
    ProfileError,
    SecretRef,
    UnresolvedSecretError,
    apply_profile,
    find_secret_markers,
    parse_profile,
    require_no_secret_markers,
    resolve_secret_markers,
)
from airflow_provider_cx.sample_agent import sample_agent_path, sample_profile_path

PROD_AGENT = "projects/acme-bank-prod/locations/us-central1/agents/00000000-0000-4000-8000-00000000000p"
HEADER = "conn:acme_branch_api"

#: Every kind of secret a profile can set: a header, basic auth and OAuth client secret on a webhook.
ALL_SECRETS = {
    "stage": "prod",
    "webhooks": {
        "Branch Locator": {
            "uri": "https://branches.prod.acmebank.example/cx/v1/nearest",
            "request_headers": {"X-Api-Key": {"secret": HEADER}, "X-Region": "eu"},
            "auth": {"type": "basic", "username": "cx", "password": {"secret": "var:branch_password"}},
        }
    },
}


@pytest.fixture
def values() -> dict[str, str]:
    return {HEADER: secrets.token_hex(16), "var:branch_password": secrets.token_hex(12)}


def resolver(values: dict[str, str]) -> Any:
    return lambda ref: values[ref.ref]


def sample() -> AgentPackage:
    return read_package(sample_agent_path())


def stored(profile: dict[str, Any] | None = None) -> AgentPackage:
    return apply_profile(sample(), parse_profile(profile or ALL_SECRETS), secret_markers=True).package


def service(package: AgentPackage) -> dict[str, Any]:
    (webhook,) = package.webhooks
    return dict(webhook.data["genericWebService"])


def every_byte(package: AgentPackage) -> bytes:
    return b"".join(package_files(package).values()) + write_zip(package)


def test_the_stored_package_holds_markers_where_the_profile_sets_secrets(values: dict[str, str]) -> None:
    overlay = apply_profile(
        sample(), parse_profile(ALL_SECRETS), resolve=resolver(values), secret_markers=True, on_secret=lambda _: None
    )

    web = service(overlay.package)
    assert web["requestHeaders"] == [
        {"key": "X-Api-Key", "value": "${secret:conn:acme_branch_api}"},
        {"key": "X-Region", "value": "eu"},
    ]
    assert web["password"] == "${secret:var:branch_password}"
    assert SecretRef(HEADER).marker == "${secret:conn:acme_branch_api}"
    assert [str(site) for site in find_secret_markers(overlay.package)] == [
        "webhooks/Branch Locator.json: genericWebService.requestHeaders[0].value: ${secret:conn:acme_branch_api}",
        "webhooks/Branch Locator.json: genericWebService.password: ${secret:var:branch_password}",
    ]
    text = every_byte(overlay.package) + json.dumps(overlay.to_dict()).encode() + overlay.to_markdown().encode()
    assert [value for value in values.values() if value.encode() in text] == []
    # The change list masks the marker as it masked the value.
    changes = {change.field: change.after for change in overlay.changes}
    assert changes["genericWebService.requestHeaders"] == (
        '[{"key": "X-Api-Key", "value": "***"}, {"key": "X-Region", "value": "***"}]'
    )
    assert changes["genericWebService.password"] == "***"


def test_markers_need_no_resolver_but_a_given_one_still_fails_on_a_missing_secret(values: dict[str, str]) -> None:
    assert find_secret_markers(stored())  # no resolver: markers only

    def missing(ref: SecretRef) -> str:
        raise KeyError(ref.ref)

    with pytest.raises(ProfileError, match="cannot resolve secret 'conn:acme_branch_api'"):
        apply_profile(sample(), parse_profile(ALL_SECRETS), resolve=missing, secret_markers=True)


def test_resolving_gives_exactly_the_package_the_values_would_have_given(values: dict[str, str]) -> None:
    seen: list[str] = []
    resolved = resolve_secret_markers(stored(), parse_profile(ALL_SECRETS), resolver(values), on_secret=seen.append)

    direct = apply_profile(sample(), parse_profile(ALL_SECRETS), resolve=resolver(values)).package
    assert package_files(resolved) == package_files(direct)
    assert service(resolved)["requestHeaders"][0] == {"key": "X-Api-Key", "value": values[HEADER]}
    assert service(resolved)["password"] == values["var:branch_password"]
    assert sorted(seen) == sorted(values.values())  # each value went to the masker first
    assert find_secret_markers(resolved) == []
    # The stored package is left as it was: the values exist only in the copy.
    assert find_secret_markers(stored()) != []


def test_applying_with_markers_is_idempotent_and_touches_nothing_else() -> None:
    profile = parse_profile(ALL_SECRETS)
    once = stored()
    twice = apply_profile(once, profile, secret_markers=True)

    assert twice.changes == ()
    assert package_files(twice.package) == package_files(once)
    source = sample()
    assert [f.data for f in once.flows] == [f.data for f in source.flows]
    assert [i.data for i in once.intents] == [i.data for i in source.intents]


def test_a_package_with_markers_is_refused_where_no_profile_resolves_them() -> None:
    with pytest.raises(UnresolvedSecretError, match=r"1 unresolved secret marker.*requestHeaders\[0\]\.value"):
        require_no_secret_markers(stored(sample_profile_doc("prod")), "stages/prod.zip")
    require_no_secret_markers(sample())  # a package without markers passes


def test_a_marker_the_profile_does_not_set_is_refused(values: dict[str, str]) -> None:
    """A package cannot make the restore send a secret the profile does not put exactly there."""
    package = stored()
    package.agent["description"] = "${secret:conn:airflow_db}"  # planted: another connection's password

    with pytest.raises(UnresolvedSecretError, match=r"not set by stage profile 'prod'.*agent\.json: description"):
        resolve_secret_markers(package, parse_profile(ALL_SECRETS), resolver(values))


def test_a_package_written_with_another_profile_is_refused(values: dict[str, str]) -> None:
    """Resolving changes only secrets: a package that is not the profile's output is not sent."""
    other = {
        **ALL_SECRETS,
        "webhooks": {"Branch Locator": {**ALL_SECRETS["webhooks"]["Branch Locator"], "uri": "https://x.example/"}},
    }
    package = stored(other)

    with pytest.raises(UnresolvedSecretError, match=r"not written with this stage profile.*genericWebService\.uri"):
        resolve_secret_markers(package, parse_profile(ALL_SECRETS), resolver(values))


def test_lint_and_the_stage_fit_gate_work_on_the_marker_package() -> None:
    profile = parse_profile(sample_profile_doc("prod"))
    marked = apply_profile(sample(), profile, secret_markers=True).package
    valued = apply_profile(sample(), profile, resolve=lambda ref: "0123456789abcdef").package

    assert check_stage_fit(marked, PROD_AGENT, forbid=profile.forbid) == []
    assert [(f.rule_id, f.path) for f in lint_package(marked)] == [(f.rule_id, f.path) for f in lint_package(valued)]
    # A planted foreign reference still fails the gate on a marker package.
    marked.agent["securitySettings"] = "projects/acme-bank-dev/locations/us-central1/securitySettings/s"
    assert {f.rule_id for f in check_stage_fit(marked, PROD_AGENT, forbid=profile.forbid)} == {"foreign-reference"}


def sample_profile_doc(stage: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(sample_profile_path(stage).read_text())
    return loaded
