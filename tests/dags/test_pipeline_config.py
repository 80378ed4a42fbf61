"""The pipeline config: the shipped file loads, overrides come from $CX_PIPELINE_CONFIG, mistakes name their key."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cx_pipeline_config import (
    CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    PipelineConfigError,
    config_path,
    load_config,
    parse_config,
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
