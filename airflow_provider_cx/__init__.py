"""Apache Airflow provider for Google Dialogflow CX.

Importing this package (or any hook, operator, trigger or link module) must stay cheap: grpc and
``google.cloud.dialogflowcx_v3`` are imported only when a task runs, never at DAG parse time.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

PACKAGE_NAME = "airflow-provider-cx"


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's ProvidersManager (the ``apache_airflow_provider`` entry point)."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "Google Dialogflow CX",
        "description": "Export, validate, test and deploy Dialogflow CX agents per environment.",
        "versions": [__version__],
        "connection-types": [],
        "hooks": [],
        "operators": [],
        "triggers": [],
        "extra-links": [],
    }
