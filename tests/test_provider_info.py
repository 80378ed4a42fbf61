from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema

import airflow_provider_cx


def test_provider_info_names_the_distribution():
    info = airflow_provider_cx.get_provider_info()
    assert info["package-name"] == "airflow-provider-cx"
    assert info["versions"] == [airflow_provider_cx.__version__]
    for key in ("name", "description", "connection-types", "hooks", "operators", "triggers", "extra-links"):
        assert key in info


def test_entry_point_is_registered():
    eps = entry_points(group="apache_airflow_provider")
    targets = {ep.value for ep in eps}
    assert "airflow_provider_cx:get_provider_info" in targets


def test_provider_info_is_valid_for_airflow():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(airflow_provider_cx.get_provider_info(), schema)


def test_the_declared_min_deferral_default_is_the_triggers():
    from airflow_provider_cx.triggers.operation import DEFAULT_MIN_DEFERRAL, MIN_DEFERRAL_OPTION

    section, key = MIN_DEFERRAL_OPTION
    option = airflow_provider_cx.get_provider_info()["config"][section]["options"][key]
    assert float(option["default"]) == DEFAULT_MIN_DEFERRAL
