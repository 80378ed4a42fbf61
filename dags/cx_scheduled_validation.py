"""cx_scheduled_validation: every configured agent x environment, checked on a schedule.

For each target agent (dynamic task mapping over the ``targets`` param, which defaults to the config's
targets): Dialogflow CX's validation of the agent and the coverage of its test cases; for each of its
environments: its test cases run against what that environment serves. A summary report (Markdown and
JSON, under ``<artifacts_base>/validation/<run time>/``) lists every agent x environment and compares
it with the previous summary; the run fails loudly, naming each problem, when a check fails or
something regressed (a test case that passed last time fails, a coverage score dropped).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, task
from cx_pipeline_config import load_config

from airflow_provider_cx.operators.calculate_coverage import CXCalculateCoverageOperator
from airflow_provider_cx.operators.run_test_cases import CXRunTestCasesOperator
from airflow_provider_cx.operators.validate_agent import CXValidateAgentOperator

CONFIG = load_config()
SETTINGS = CONFIG.validation


def plan(params: dict[str, Any], dag_run: Any) -> dict[str, Any]:
    """The targets as operator arguments: per agent (validate, coverage), per agent x environment (tests).

    Also where the reports go. The run's params are checked here like the config file (the first
    tasks call this, so a bad target or artifacts base stops the run before any check runs).
    """
    from cx_pipeline_config import check_artifacts_base, folder_in, parse_config

    stages = {name: {"agent": stage.agent, "environment": stage.environment} for name, stage in CONFIG.stages.items()}
    targets = parse_config({"stages": stages, "targets": params["targets"], "gcp_conn_id": CONFIG.gcp_conn_id}).targets
    base = check_artifacts_base(params["artifacts_base"], "params.artifacts_base")
    folder = folder_in(base, "validation", dag_run.run_after.strftime("%Y%m%dT%H%M%S"))
    pairs = [(index, target, env) for index, target in enumerate(targets) for env in target.environments]
    return {
        "artifacts_base": base,
        "folder": folder,
        "validate": [
            {"agent": t.agent, "gcp_conn_id": t.gcp_conn_id, "report_to": f"{folder}/{t.key}"} for t in targets
        ],
        "coverage": [{"agent": t.agent, "gcp_conn_id": t.gcp_conn_id} for t in targets],
        "tests": [
            {
                "agent": t.agent,
                "gcp_conn_id": t.gcp_conn_id,
                "environment": env,
                "report_destination": f"{folder}/{t.key}/{env}",
            }
            for _, t, env in pairs
        ],
        "rows": [{"key": t.key, "agent": t.agent, "environment": env, "agent_index": i} for i, t, env in pairs],
    }


@task
def plan_checks(kind: str, params: Any = None, dag_run: Any = None) -> list[dict[str, Any]]:
    """Arguments of one mapped check (``validate``, ``coverage`` or ``tests``), one dict per mapped task."""
    return plan(params, dag_run)[kind]


@task(trigger_rule="all_done")
def summarize_validation(params: Any = None, dag_run: Any = None, ti: Any = None) -> dict[str, Any]:
    """Write the summary, compare it with the previous one, and fail naming every problem."""
    import json

    from airflow.sdk.exceptions import AirflowFailException
    from cx_pipeline_results import validation_markdown, validation_problems, validation_row

    from airflow_provider_cx import storage

    planned = plan(params, dag_run)

    def pulled(task_id: str, key: str, index: int) -> Any:
        return ti.xcom_pull(task_ids=task_id, key=key, map_indexes=index)

    rows = [
        validation_row(
            row,
            pulled("validate", "return_value", row["agent_index"]),
            pulled("run_test_cases", "cx_test_run", index),
            pulled("coverage", "cx_coverage", row["agent_index"]),
        )
        for index, row in enumerate(planned["rows"])
    ]
    latest = storage.join(planned["artifacts_base"], "validation", "latest.json")
    try:
        previous = json.loads(storage.read_bytes(latest))["rows"]
    except FileNotFoundError:
        previous = []
    problems = validation_problems(rows, previous)
    document = json.dumps({"rows": rows, "problems": problems}, indent=2).encode()
    json_uri = storage.write_bytes(storage.join(planned["folder"], "summary.json"), document)
    markdown = validation_markdown(rows, problems)
    markdown_uri = storage.write_bytes(storage.join(planned["folder"], "summary.md"), markdown.encode())
    print(markdown)
    if problems:
        raise AirflowFailException(f"{len(problems)} problem(s): " + "; ".join(problems) + f" (report: {markdown_uri})")
    storage.write_bytes(latest, document)  # the baseline for the next run: only a clean run becomes it
    return {"targets": len(rows), "summary": json_uri, "markdown": markdown_uri}


with DAG(
    dag_id="cx_scheduled_validation",
    description="Validate, test and measure coverage of every configured CX agent x environment",
    doc_md=__doc__,
    schedule=SETTINGS.schedule,
    catchup=False,
    max_active_runs=1,
    default_args={"retries": CONFIG.task_retries, "retry_delay": timedelta(seconds=30)},
    params={
        "targets": Param(
            [{"key": t.key, "agent": t.agent, "environments": list(t.environments)} for t in CONFIG.targets],
            type="array",
            description="agents to check: [{key, agent, environments}]",
        ),
        "artifacts_base": Param(CONFIG.artifacts_base, type="string", description="where reports go"),
    },
    tags=["dialogflow-cx", "validation"],
) as dag:
    validate = CXValidateAgentOperator.partial(task_id="validate", fail_on=SETTINGS.fail_on).expand_kwargs(
        plan_checks.override(task_id="plan_validation")("validate")
    )
    coverage = CXCalculateCoverageOperator.partial(
        task_id="coverage",
        min_intent_coverage=SETTINGS.min_intent_coverage,
        min_transition_coverage=SETTINGS.min_transition_coverage,
    ).expand_kwargs(plan_checks.override(task_id="plan_coverage")("coverage"))
    tests = CXRunTestCasesOperator.partial(
        task_id="run_test_cases",
        min_pass_rate=SETTINGS.min_pass_rate,
        deferrable=CONFIG.deferrable_test_runs,
        poll_interval=CONFIG.poll_interval,
    ).expand_kwargs(plan_checks.override(task_id="plan_test_runs")("tests"))
    [validate, coverage, tests] >> summarize_validation()
