from __future__ import annotations

from importlib.metadata import entry_points

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
