"""Apache Airflow provider for Google Dialogflow CX.

Importing this package (or any hook, operator, trigger or link module) must stay cheap: grpc and
``google.cloud.dialogflowcx_v3`` are imported only when a task runs, never at DAG parse time.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_cx.hooks.fork_support import enable_grpc_fork_support

# Before anything imports grpc: forked task processes need gRPC's fork handlers (see fork_support).
enable_grpc_fork_support()

__version__ = "0.1.0"

PACKAGE_NAME = "airflow-provider-cx"


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's ProvidersManager (the ``apache_airflow_provider`` entry point)."""
    from airflow_provider_cx.hooks import connection_form

    return {
        "package-name": PACKAGE_NAME,
        "name": "Google Dialogflow CX",
        "description": "Export, validate, test and deploy Dialogflow CX agents per environment.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "dialogflow_cx",
                "hook-class-name": "airflow_provider_cx.hooks.dialogflow_cx.DialogflowCXHook",
                "hook-name": "Google Dialogflow CX",
                "conn-fields": connection_form.provider_conn_fields(),
                "ui-field-behaviour": connection_form.provider_ui_field_behaviour(),
            }
        ],
        "hooks": [
            {
                "integration-name": "Google Dialogflow CX",
                "python-modules": ["airflow_provider_cx.hooks.dialogflow_cx"],
            }
        ],
        "operators": [
            {
                "integration-name": "Google Dialogflow CX",
                "python-modules": [
                    "airflow_provider_cx.operators.base",
                    "airflow_provider_cx.operators.export_agent",
                    "airflow_provider_cx.operators.restore_agent",
                    "airflow_provider_cx.operators.validate_agent",
                    "airflow_provider_cx.operators.rollback_environment",
                    "airflow_provider_cx.operators.lint_package",
                    "airflow_provider_cx.operators.diff_packages",
                    "airflow_provider_cx.operators.stage_package",
                    "airflow_provider_cx.operators.create_versions",
                    "airflow_provider_cx.operators.deploy_environment",
                    "airflow_provider_cx.operators.detect_intent",
                    "airflow_provider_cx.operators.calculate_coverage",
                    "airflow_provider_cx.operators.run_continuous_test",
                    "airflow_provider_cx.operators.run_test_cases",
                    "airflow_provider_cx.operators.approval",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "Google Dialogflow CX",
                "python-modules": [
                    "airflow_provider_cx.triggers.operation",
                    "airflow_provider_cx.triggers.operation_group",
                ],
            }
        ],
        "extra-links": [
            "airflow_provider_cx.links.CXAgentLink",
            "airflow_provider_cx.links.CXEnvironmentLink",
            "airflow_provider_cx.links.CXTestResultsLink",
        ],
        "config": {
            "dialogflow_cx": {
                "description": "Settings of the Google Dialogflow CX provider.",
                "options": {
                    "trigger_min_deferral": {
                        "description": (
                            "Seconds a task deferred to CXOperationTrigger waits at least before it resumes, "
                            "even when the operation is already done. Airflow 3.3 can fail a task that resumes "
                            "before the scheduler has processed the exit of the process that deferred it "
                            "(apache/airflow#71580); raise it on a slow scheduler, set 0 only where no "
                            "scheduler runs (dag.test)."
                        ),
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "20",
                        "default": "10",
                    }
                },
            }
        },
    }
