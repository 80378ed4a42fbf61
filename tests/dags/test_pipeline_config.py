"""The pipeline config: the shipped file loads, overrides come from $CX_PIPELINE_CONFIG, mistakes name their key."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from cx_pipeline_config import (
    CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    PipelineConfigError,
    check_artifacts_base,
    check_release_id,
    config_path,
    folder_in,
    load_config,
    parse_config,
    release_folder,
    slug,
)

SHIPPED = json.loads(DEFAULT_CONFIG_PATH.read_text())


def edited(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(SHIPPED)
    config.update(changes)
    return config


def test_the_shipped_config_names_three_stages_in_different_projects() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)

    assert list(config.stages) == ["dev", "staging", "prod"]
    assert len({stage.agent.split("/")[1] for stage in config.stages.values()}) == 3
    assert config.stages["prod"].environment == "production"
    assert config.stages["prod"].gcp_conn_id == "google_cloud_default"
    assert [target.key for target in config.targets] == ["staging", "prod"]
    assert config.release.smoke_test[0]["expected_intent"] == "Default Welcome Intent"


def test_the_environment_variable_points_to_another_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "team.json"
    other.write_text(json.dumps(edited(gcp_conn_id="cx_team")))
    monkeypatch.setenv(CONFIG_ENV, str(other))

    assert config_path() == other
    assert load_config().stages["dev"].gcp_conn_id == "cx_team"
    monkeypatch.delenv(CONFIG_ENV)
    assert config_path() == DEFAULT_CONFIG_PATH


def test_artifacts_default_to_a_folder_under_airflow_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))

    config = parse_config(edited(artifacts_base=""))

    assert config.artifacts_base == (tmp_path / "cx-artifacts").as_uri()
    assert config.backup_folder("prod", "Prod EU") == f"{config.artifacts_base}/backups/prod/prod-eu"
    assert config.backup_folder("prod", None).endswith("/backups/prod/draft")


def test_targets_default_to_the_staging_and_prod_stages() -> None:
    config = parse_config({"stages": SHIPPED["stages"]})

    assert [(t.key, t.environments) for t in config.targets] == [("staging", ("staging",)), ("prod", ("production",))]
    assert config.release.min_pass_rate == 1.0
    assert config.backup.keep_last == 14
    assert config.release.version_all_flows is False  # a release versions only the flows it changed


def test_a_stage_may_use_its_own_connection() -> None:
    stages = copy.deepcopy(SHIPPED["stages"])
    stages["prod"]["gcp_conn_id"] = "cx_prod"

    config = parse_config(edited(stages=stages))

    assert (config.stages["staging"].gcp_conn_id, config.stages["prod"].gcp_conn_id) == (
        "google_cloud_default",
        "cx_prod",
    )


def test_a_stage_profile_is_a_uri_or_a_path_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "staging.json").write_text(json.dumps({"stage": "staging", "forbid": ["-dev\\."]}))
    stages = _stages_with("staging", profile="profiles/staging.json")
    stages["prod"]["profile"] = "gs://acme-release/profiles/prod.json"

    config = parse_config(edited(stages=stages), tmp_path / "team.json")

    assert config.stages["staging"].profile == str(tmp_path / "profiles" / "staging.json")
    assert config.stages["prod"].profile == "gs://acme-release/profiles/prod.json"
    assert config.stages["dev"].profile is None
    assert parse_config(SHIPPED).stages["prod"].profile is None  # optional


def test_a_wrong_stage_profile_is_refused_naming_the_stage(tmp_path: Path) -> None:
    (tmp_path / "typo.json").write_text(json.dumps({"webhook": {}}))
    cases = {
        "stages.staging.profile: cannot read stage profile": _stages_with("staging", profile="missing.json"),
        "stages.prod.profile: stage profile .*typo.json": _stages_with("prod", profile="typo.json"),
        "stages.dev.profile: dev's export is the release": _stages_with("dev", profile="typo.json"),
        "stages.prod.profile must be a non-empty string": _stages_with("prod", profile=""),
    }
    for message, stages in cases.items():
        with pytest.raises(PipelineConfigError, match=message):
            parse_config(edited(stages=stages), tmp_path / "team.json")


def test_backup_assets_are_named_by_target_and_environment() -> None:
    config = parse_config(SHIPPED)

    asset = config.backup_asset("prod", "production")

    assert asset.name == "cx_backup.prod.production"
    assert asset.uri == config.backup_folder("prod", "production")
    with pytest.raises(PipelineConfigError, match="no target with key 'qa'"):
        config.backup_asset("qa", None)


def _stages_with(stage: str, **fields: Any) -> dict[str, Any]:
    stages = copy.deepcopy(SHIPPED["stages"])
    stages[stage].update(fields)
    return stages


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([], "the top level must be a JSON object"),
        ({"stages": {"dev": SHIPPED["stages"]["dev"]}}, "stages: staging, prod missing"),
        (edited(stages=_stages_with("prod", agent="projects/p/agents/a")), "stages.prod.agent"),
        (edited(stages=_stages_with("prod", agent=SHIPPED["stages"]["dev"]["agent"])), "three different agents"),
        (edited(stages=_stages_with("staging", environment="")), "stages.staging.environment"),
        (edited(release={"min_pass_rate": 1.5}), "release.min_pass_rate must be a number from 0 to 1"),
        (edited(release={"lint_fail_on": "FATAL"}), "release.lint_fail_on must be one of INFO, WARNING, ERROR"),
        (edited(release={"version_all_flows": "yes"}), "release.version_all_flows must be true or false"),
        (edited(release={"smoke_test": [{"expected_intent": "x"}]}), "release.smoke_test"),
        (edited(targets=[]), "targets must be a non-empty list"),
        (
            edited(targets=[{"key": "Prod EU", "agent": "projects/p/locations/l/agents/a", "environments": ["e"]}]),
            "key",
        ),
        (
            edited(targets=[{"key": "a", "agent": "projects/p/locations/l/agents/a", "environments": []}]),
            "environments",
        ),
        (edited(backup={"keep_last": 0}), "backup.keep_last must be at least 1"),
        (edited(poll_interval=0), "poll_interval must be a positive number"),
        (edited(deferrable_test_runs="yes"), "deferrable_test_runs must be true or false"),
        (edited(deferrable_versions=1), "deferrable_versions must be true or false"),
        (edited(task_retries=-1), "task_retries must be a whole number"),
    ],
)
def test_a_wrong_value_is_refused_naming_it(config: Any, message: str) -> None:
    with pytest.raises(PipelineConfigError, match=message):
        parse_config(config, Path("team.json"))


def test_a_missing_or_broken_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(PipelineConfigError, match=f"{tmp_path / 'absent.json'} does not exist"):
        load_config(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(PipelineConfigError, match="is not readable JSON"):
        load_config(broken)


def test_slugs_are_task_id_and_file_name_safe() -> None:
    assert [slug("Prod EU"), slug("staging"), slug("  ÄÖ ")] == ["prod-eu", "staging", "x"]


# --- strictness: typos, unsafe names and paths, unbounded numbers, deep nesting (issue 18) ---------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (edited(artifact_base="/srv/cx"), "unknown key 'artifact_base' at artifact_base; did you mean artifacts_base?"),
        (
            edited(release={"lint_fial_on": "WARNING"}),
            "unknown key 'lint_fial_on' at release.lint_fial_on; did you mean lint_fail_on?",
        ),
        (edited(validation={"fial_on": "INFO"}), "unknown key 'fial_on' at validation.fial_on; did you mean fail_on?"),
        (edited(backup={"keep_lst": 3}), "unknown key 'keep_lst' at backup.keep_lst; did you mean keep_last?"),
        (
            edited(stages=_stages_with("prod", enviroment="production")),
            "unknown key 'enviroment' at stages.prod.enviroment; did you mean environment?",
        ),
        (
            edited(stages={**SHIPPED["stages"], "qa": SHIPPED["stages"]["dev"]}),
            "unknown key 'qa' at stages.qa; known keys: dev, staging, prod",
        ),
        (
            edited(targets=[{**SHIPPED["targets"][0], "enviroments": ["x"]}]),
            "unknown key 'enviroments' at targets[0].enviroments; did you mean environments?",
        ),
        (
            edited(release={"smoke_test": [{"text": "hi", "expected_intnet": "x"}]}),
            "at release.smoke_test[0].expected_intnet; did you mean expected_intent?",
        ),
        (edited(pol_interval=5), "unknown key 'pol_interval' at pol_interval; did you mean poll_interval?"),
    ],
)
def test_an_unknown_key_is_refused_with_its_path_and_the_nearest_known_key(config: Any, message: str) -> None:
    with pytest.raises(PipelineConfigError, match=re.escape(message)):
        parse_config(config, Path("team.json"))


def test_a_typo_no_longer_falls_back_to_the_default_gate(tmp_path: Path) -> None:
    """The finding itself: ``lint_fial_on: WARNING`` used to load with lint_fail_on left at ERROR."""
    path = tmp_path / "typo.json"
    release = {**SHIPPED["release"], "lint_fial_on": "WARNING"}
    del release["lint_fail_on"]
    path.write_text(json.dumps(edited(release=release)))

    with pytest.raises(PipelineConfigError, match=f"pipeline config {re.escape(str(path))}: unknown key"):
        load_config(path)


@pytest.mark.parametrize(
    "bad",
    ["", ".", "..", "-rf", "a/b", "..%2f", "a\\b", "rel\n", "rel\x00x", "rel\x1b[1m", "rél", " rel", "a" * 65, 7, None],
)
def test_a_release_id_that_could_leave_its_folder_or_pass_as_an_option_is_refused(bad: Any) -> None:
    with pytest.raises(PipelineConfigError, match=r"release_id .* must be 1 to 64 letters"):
        check_release_id(bad)


@pytest.mark.parametrize("good", ["r", "2025.03-hotfix", "rel-20250304-050607-ab12", "v1..2", "a" * 64])
def test_a_plain_release_id_is_accepted(good: str) -> None:
    assert check_release_id(good) == good


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("/srv/cx/artifacts/", "file:///srv/cx/artifacts"),
        ("  /srv//cx/artifacts  ", "file:///srv/cx/artifacts"),
        ("file:///srv/cx/artifacts/", "file:///srv/cx/artifacts"),
        ("file://localhost/srv/cx%20artifacts", "file:///srv/cx%20artifacts"),
        ("gs://bucket/cx/artifacts/", "gs://bucket/cx/artifacts"),
        ("GS://bucket", "gs://bucket"),
    ],
)
def test_the_artifacts_base_is_normalised(given: str, normalised: str) -> None:
    assert check_artifacts_base(given) == normalised
    assert parse_config(edited(artifacts_base=given)).artifacts_base == normalised


def test_a_home_relative_artifacts_base_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    assert check_artifacts_base("~/cx") == (tmp_path / "cx").as_uri()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("/srv/cx/../etc", "has an empty, '.' or '..' segment"),
        ("/srv/./cx", "has an empty, '.' or '..' segment"),
        ("file:///srv/cx/%2E%2E/etc", "has an empty, '.' or '..' segment"),
        ("gs://bucket/cx/../other", "has an empty, '.' or '..' segment"),
        ("gs://bucket//tmp/x", "has an empty, '.' or '..' segment"),
        ("gs://bucket/%2e%2e", "has an empty, '.' or '..' segment"),
        ("gs://bucket/a%2F..%2Fb", "or an encoded separator"),
        ("file:///srv/a%2f..%2fb", "has an empty, '.' or '..' segment"),
        ("artifacts", "must be an absolute path or a URI"),
        ("./artifacts", "must be an absolute path or a URI"),
        ("file://otherhost/srv", "must name a local folder"),
        ("gs:///path", "must be gs://<bucket or host>/<path>"),
        ("gs://bucket/x?generation=1", "nothing after it"),
        ("/srv/cx\nartifacts", "control character"),
        ("C:\\cx\\..\\x", "backslash"),
        ("   ", "must be a non-empty path or URI"),
        (3, "must be a non-empty path or URI"),
    ],
)
def test_an_artifacts_base_that_could_lead_elsewhere_is_refused(bad: Any, message: str) -> None:
    with pytest.raises(PipelineConfigError, match=re.escape(message)):
        check_artifacts_base(bad)
    if isinstance(bad, str) and bad.strip():
        with pytest.raises(PipelineConfigError, match=r"team\.json: artifacts_base"):
            parse_config(edited(artifacts_base=bad), Path("team.json"))


def test_every_derived_folder_stays_inside_the_artifacts_base() -> None:
    config = parse_config(edited(artifacts_base="gs://bucket/cx"))

    folders = [config.backup_folder(t.key, env) for t in config.targets for env in (None, *t.environments)]
    folders += [config.backup_folder("prod", "../../etc"), release_folder("gs://bucket/cx", "rel.1")]

    assert all(folder.startswith("gs://bucket/cx/") and "/../" not in folder + "/" for folder in folders)
    assert config.backup_folder("prod", "../../etc") == "gs://bucket/cx/backups/prod/etc"
    for part in ("..", ".", "", "a/b", "-x"):
        with pytest.raises(PipelineConfigError, match="cannot name a folder under gs://bucket/cx"):
            folder_in("gs://bucket/cx", "releases", part)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (edited(poll_interval=math.inf), "poll_interval must be a positive number of seconds, at most 3600"),
        (edited(poll_interval=math.nan), "poll_interval must be a positive number of seconds"),
        (edited(poll_interval=-1), "poll_interval must be a positive number of seconds"),
        (edited(poll_interval=1e308), "poll_interval must be a positive number of seconds"),
        (edited(poll_interval=True), "poll_interval must be a positive number of seconds"),
        (edited(poll_interval="2"), "poll_interval must be a positive number of seconds"),
        (edited(release={"min_pass_rate": math.nan}), "release.min_pass_rate must be a number from 0 to 1"),
        (edited(release={"min_smoke_accuracy": -0.01}), "release.min_smoke_accuracy must be a number from 0 to 1"),
        (edited(validation={"min_intent_coverage": math.inf}), "validation.min_intent_coverage must be a number"),
        (edited(validation={"min_transition_coverage": True}), "validation.min_transition_coverage must be a number"),
        (edited(backup={"keep_last": 1.5}), "backup.keep_last must be a whole number from 1 to 10000"),
        (edited(backup={"keep_last": -3}), "backup.keep_last must be a whole number from 1 to 10000"),
        (edited(backup={"keep_last": 10**9}), "backup.keep_last must be a whole number from 1 to 10000"),
        (edited(backup={"keep_last": True}), "backup.keep_last must be a whole number from 1 to 10000"),
        (edited(task_retries=1000), "task_retries must be a whole number from 0 to 20"),
        (edited(deferrable_test_runs="false"), "deferrable_test_runs must be true or false"),
        (edited(deferrable_versions=0), "deferrable_versions must be true or false"),
        (edited(release={"smoke_test": [{"text": "hi", "expected_intent": ["a"]}]}), "smoke_test[0].expected_intent"),
    ],
)
def test_a_number_or_flag_out_of_bounds_is_refused(config: Any, message: str) -> None:
    with pytest.raises(PipelineConfigError, match=re.escape(message)):
        parse_config(config, Path("team.json"))


def test_json_infinity_and_giant_integers_in_the_file_are_refused(tmp_path: Path) -> None:
    infinite = tmp_path / "infinite.json"
    infinite.write_text(json.dumps(edited(poll_interval=0)).replace('"poll_interval": 0', '"poll_interval": Infinity'))
    giant = tmp_path / "giant.json"
    giant.write_text(json.dumps(edited(task_retries=0)).replace('"task_retries": 0', '"task_retries": ' + "9" * 5000))

    with pytest.raises(PipelineConfigError, match="poll_interval must be a positive number of seconds"):
        load_config(infinite)
    with pytest.raises(PipelineConfigError, match="is not readable JSON"):
        load_config(giant)


def test_a_deeply_nested_config_is_a_config_error_not_a_recursion_error(tmp_path: Path) -> None:
    bottomless = tmp_path / "bottomless.json"
    bottomless.write_text('{"release": ' + "[" * 200_000 + "]" * 200_000 + "}")
    nested: Any = 1
    for _ in range(5000):
        nested = [nested]

    with pytest.raises(PipelineConfigError, match="nested too deeply"):
        load_config(bottomless)
    with pytest.raises(PipelineConfigError, match="nested too deeply"):
        parse_config(edited(poll_interval=nested))
    with pytest.raises(PipelineConfigError, match="nested too deeply"):
        parse_config(edited(release={"smoke_test": [{"text": {"a": {"b": {"c": {"d": {}}}}}}]}))
    # The shipped shape (5 levels with a smoke-test row's text) is well inside the bound.
    assert parse_config(SHIPPED).release.smoke_test
