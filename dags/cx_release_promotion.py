"""cx_release_promotion: promote a Dialogflow CX release from dev to staging to prod.

    export dev (from its environment) -> lint -> staging: stage package -> back up + restore ->
    validate -> test cases -> create versions -> deploy environment -> human approval -> prod: the
    same -> smoke test prod

Each stage restores its own package: the release with the stage's profile applied (the stage's
webhooks, data stores, settings; see the pipeline config's per-stage ``profile``), which must pass
the stage-fit gate for the stage's agent before anything in the stage changes. Each stage's package
and its masked change list are archived in ``stages/`` of the release folder.

The release package is what dev's environment serves. Before the approval, the release notes (a
diff of prod's current draft against the package) are written and linked in the approval request.
A failed gate after a restore rolls that agent back automatically: its environment returns to the
versions it served before and its draft is restored from the backup taken just before the restore.
Everything the run produces (package, backups, reports, release notes, summary) goes to one release
folder, ``<artifacts_base>/releases/<release_id>/``.

Agents, environments and thresholds come from the pipeline config (see ``cx_pipeline_config``); the
stage agents, environments, release id and artifacts base can be overridden per run with params.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, chain, task
from cx_pipeline_config import RELEASE_ID_PATTERN, load_config

from airflow_provider_cx.operators.approval import APPROVAL_XCOM_KEY, CXReleaseApprovalOperator
from airflow_provider_cx.operators.create_versions import CXCreateVersionsOperator
from airflow_provider_cx.operators.deploy_environment import CXDeployEnvironmentOperator
from airflow_provider_cx.operators.detect_intent import CXDetectIntentOperator
from airflow_provider_cx.operators.diff_packages import CXDiffAgentPackagesOperator
from airflow_provider_cx.operators.export_agent import CXExportAgentOperator
from airflow_provider_cx.operators.lint_package import CXLintAgentPackageOperator
from airflow_provider_cx.operators.restore_agent import CXRestoreAgentOperator
from airflow_provider_cx.operators.rollback_environment import CXRollbackEnvironmentOperator
from airflow_provider_cx.operators.run_test_cases import CXRunTestCasesOperator
from airflow_provider_cx.operators.stage_package import CXStagePackageOperator
from airflow_provider_cx.operators.validate_agent import CXValidateAgentOperator
from airflow_provider_cx.package.markdown import md_code, md_text

CONFIG = load_config()
SETTINGS = CONFIG.release
FOLDER = "{{ ti.xcom_pull(task_ids='prepare_release', key='folder') }}"
RELEASE_ID = "{{ ti.xcom_pull(task_ids='prepare_release', key='release_id') }}"
#: What each stage does, in order; also the kinds of result these gates report.
STAGE_STEPS = ("stage_package", "restore", "validate", "test", "version", "deploy")
#: The gates in pipeline order with the kind of result each reports (for the summary).
GATES = [
    ("export_dev", "export"),
    ("lint_package", "lint"),
    ("diff_release", "diff"),
    *((f"{step}_staging", step) for step in STAGE_STEPS),
    ("approve_prod", "approval"),
    *((f"{step}_prod", step) for step in STAGE_STEPS),
    ("smoke_test_prod", "smoke"),
    ("rollback_staging", "rollback"),
    ("rollback_prod", "rollback"),
]
#: XCom keys holding each gate's result when it is not the return value (pushed before the gate fails).
RESULT_KEYS = {
    "test_staging": "cx_test_run",
    "test_prod": "cx_test_run",
    "version_staging": "cx_versions",
    "version_prod": "cx_versions",
    "smoke_test_prod": "cx_detect_intent",
}
#: XCom key under which every task records when it started (see ``record_start``).
STARTED_XCOM_KEY = "cx_started"
#: States of a task that ran, so it may have pushed XComs (a failed gate pushes its result first).
RAN_STATES = frozenset({"success", "failed"})

#: The approval request. Every value from params, XCom or the agent goes through ``md_text`` or
#: ``md_code`` (the DAG's filters), so none can add a link, a heading or a fake line to what the
#: approver reads.
APPROVAL_BODY = """\
{% set tests = ti.xcom_pull(task_ids='test_staging', key='cx_test_run') %}
{% set diff = ti.xcom_pull(task_ids='diff_release') %}
Release **{{ ti.xcom_pull(task_ids='prepare_release', key='release_id') | md_text }}** passed staging
({{ params.staging_agent | md_code }}, environment {{ params.staging_environment | md_text }}):
{{ tests['passed'] | int }} of {{ tests['total'] | int }} test cases passed.

Changes against prod's current agent:
{% for kind, n in diff['summary'] | dictsort %}
- {{ kind | md_text }}: {{ n.get('added', 0) | int }} added, {{ n.get('removed', 0) | int }} removed, \
{{ n.get('changed', 0) | int }} changed
{% else %}
- none
{% endfor %}

Release notes: {{ diff['reports']['markdown'] | md_text }}

{% set versions = ti.xcom_pull(task_ids='version_staging', key='cx_versions') %}
{% if versions and versions['only_changed'] %}
Flows this release changed (versioned in staging): {{ versions['impacted'] | join(', ') | md_text }}\
{% if not versions['impacted'] %}none{% endif %}; unchanged, keeping their version: \
{{ versions['unchanged'] | list | join(', ') | md_text }}{% if not versions['unchanged'] %}none{% endif %}.
{% endif %}

{% set staged = ti.xcom_pull(task_ids='stage_package_staging') %}
Staging ran the release with {{ staged['changes'] | int }} substitution(s) from its stage profile (secrets
masked): {{ staged['change_list']['markdown'] | md_text }}. Prod's profile is applied, and gated, before prod's restore.

Approve to deploy it to prod ({{ params.prod_agent | md_code }}, environment {{ params.prod_environment | md_text }}).
"""
#: Jinja filters of the DAG's templates (see APPROVAL_BODY).
TEMPLATE_FILTERS = {"md_text": md_text, "md_code": md_code}


@task(multiple_outputs=True)
def prepare_release(params: Any = None, run_id: Any = None, dag_run: Any = None) -> dict[str, str]:
    """Fix the release id and folder for this run; refuse a run whose stages are not three agents.

    The params are checked here, in the first task, because a triggered run may override them: a
    release id or artifacts base that could lead outside the artifacts base stops the run before
    anything is exported or restored.
    """
    from cx_pipeline_config import release_folder
    from cx_pipeline_results import release_id_for

    agents = [params["dev_agent"], params["staging_agent"], params["prod_agent"]]
    if len(set(agents)) != 3:
        raise ValueError(f"dev, staging and prod must be three different agents, got {agents}")
    release_id = params["release_id"] or release_id_for(run_id, dag_run.run_after)
    folder = release_folder(params["artifacts_base"], release_id)
    return {"release_id": release_id, "folder": folder}


@task(trigger_rule="one_failed", multiple_outputs=True)
def plan_rollback(stage: str, ti: Any = None) -> dict[str, Any]:
    """Runs when a gate of ``stage`` failed; skips unless that agent was restored (else nothing changed)."""
    from airflow.sdk.exceptions import AirflowSkipException

    backup = ti.xcom_pull(task_ids=f"restore_{stage}", key="backup_uri")
    if not backup:
        raise AirflowSkipException(f"{stage} was never restored in this run: nothing to roll back")
    before = ti.xcom_pull(task_ids=f"deploy_{stage}", key="cx_environment_before")
    return {"restore_from": backup, "previous_configuration": before}


def record_start(context: Any) -> None:
    """Every task's ``on_execute_callback``: push when it started, for the release summary's gate times.

    Airflow gives a task the states and durations of the run's other tasks but not their start
    times; each task records its own, and the summary adds the duration to it.
    """
    ti = context["ti"]
    ti.xcom_push(key=STARTED_XCOM_KEY, value=ti.start_date.isoformat() if ti.start_date else None)


def served_versions(stage: str, params: Any) -> tuple[list[str] | None, dict[str, str], str]:
    """``(version names the stage's environment serves now, {flow name: display name}, error)``.

    Read when the summary is written, so a rejected, failed or rolled-back release records what
    each environment really serves; an environment that does not exist serves nothing.
    """
    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook
    from airflow_provider_cx.hooks.errors import CXResourceNotFoundError

    hook = DialogflowCXHook(gcp_conn_id=CONFIG.stages[stage].gcp_conn_id)
    agent = params[f"{stage}_agent"]
    try:
        flows = {flow.name: flow.display_name for flow in hook.list_flows(agent)}
        try:
            environment = hook.resolve_environment(agent, params[f"{stage}_environment"])
        except CXResourceNotFoundError:
            return [], flows, ""
        return [config.version for config in environment.version_configs], flows, ""
    except Exception as error:  # the summary must still be written: it records why instead
        return None, {}, f"{type(error).__name__}: {error}"


def pull_if_ran(ti: Any, states: dict[str, Any], task_id: str, key: str = "return_value") -> Any:
    """``ti.xcom_pull`` of a task that ran; ``None`` without asking for one that did not.

    Asking for an XCom that does not exist logs ``[error] XCom not found``: a skipped or
    never-reached gate is normal in a rejected or failed release, not an error.
    """
    if states.get(task_id) not in RAN_STATES:
        return None
    return ti.xcom_pull(task_ids=task_id, key=key)


def environment_record(stage: str, params: Any, ti: Any, states: dict[str, Any]) -> dict[str, Any]:
    """The stage's ``versions_before`` and ``versions_after`` for the summary (see ``stage_versions``)."""
    from cx_pipeline_results import stage_versions

    before = pull_if_ran(ti, states, f"deploy_{stage}", "cx_environment_before")
    now, flows, error = served_versions(stage, params)
    return stage_versions(
        before=None if before is None else list(before.get("version_configs") or ()),
        now=now,
        flow_names=flows,
        deploy_ran=before is not None,
        error=error,
    )


@task(trigger_rule="all_done")
def summarize_release(params: Any = None, dag_run: Any = None, ti: Any = None) -> dict[str, Any]:
    """Write summary.json and summary.md into the release folder; return the outcome and where they are."""
    import json
    from datetime import UTC, datetime

    from airflow.sdk.exceptions import AirflowFailException
    from cx_pipeline_results import gate_times, release_summary, release_summary_markdown

    from airflow_provider_cx import storage

    folder = ti.xcom_pull(task_ids="prepare_release", key="folder")
    if folder is None:
        raise AirflowFailException("the release never started: prepare_release failed (see its log)")
    states = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id])[dag_run.run_id]
    packages = {stage: pull_if_ran(ti, states, f"stage_package_{stage}") for stage in ("staging", "prod")}
    results = {
        task_id: pull_if_ran(ti, states, task_id, RESULT_KEYS.get(task_id, "return_value")) for task_id, _ in GATES
    }
    started = {task_id: pull_if_ran(ti, states, task_id, STARTED_XCOM_KEY) for task_id, _ in GATES}
    summary = release_summary(
        release_id=ti.xcom_pull(task_ids="prepare_release", key="release_id"),
        folder=folder,
        stages={
            stage: {"agent": params[f"{stage}_agent"], "environment": params[f"{stage}_environment"]}
            for stage in ("dev", "staging", "prod")
        },
        gates=GATES,
        states=states,
        results=results,
        versions={stage: pull_if_ran(ti, states, f"version_{stage}") for stage in ("staging", "prod")},
        substitutions={
            stage: json.loads(storage.read_bytes(package["change_list"]["json"]))
            for stage, package in packages.items()
            if package and package.get("change_list")
        },
        run={
            "run_id": dag_run.run_id,
            "start": dag_run.start_date.isoformat() if dag_run.start_date else None,
            # The run ends with this task, its only leaf: the summary's time is the run's end.
            "end": datetime.now(UTC).isoformat(),
        },
        times=gate_times(started, ti.get_task_breadcrumbs(dag_run.dag_id, dag_run.run_id)),
        approval=pull_if_ran(ti, states, "approve_prod", APPROVAL_XCOM_KEY),
        package=results["export_dev"],
        environments={stage: environment_record(stage, params, ti, states) for stage in ("staging", "prod")},
    )
    json_uri = storage.write_bytes(storage.join(folder, "summary.json"), json.dumps(summary, indent=2).encode())
    markdown_uri = storage.write_bytes(storage.join(folder, "summary.md"), release_summary_markdown(summary).encode())
    print(release_summary_markdown(summary))
    if summary["outcome"].startswith("failed") or summary["failed_rollbacks"]:
        # This task is the run's only leaf: failing here is what marks the run failed.
        raise AirflowFailException(f"release {summary['release_id']} {summary['outcome']}; summary: {markdown_uri}")
    return {"outcome": summary["outcome"], "summary": json_uri, "markdown": markdown_uri}


def promote(stage: str) -> list[Any]:
    """Write ``stage``'s package, back up and restore it into ``stage``, validate, test, version and deploy it."""
    agent, environment = f"{{{{ params.{stage}_agent }}}}", f"{{{{ params.{stage}_environment }}}}"
    common = {"agent": agent, "gcp_conn_id": CONFIG.stages[stage].gcp_conn_id}
    checks = [
        CXStagePackageOperator(
            task_id=f"stage_package_{stage}",
            source="{{ ti.xcom_pull(task_ids='export_dev')['uri'] }}",
            target_agent=agent,
            destination=f"{FOLDER}/stages/{stage}.zip",
            profile=CONFIG.stages[stage].profile,
        ),
        CXRestoreAgentOperator(
            task_id=f"restore_{stage}",
            source=f"{{{{ ti.xcom_pull(task_ids='stage_package_{stage}')['uri'] }}}}",
            backup_to=f"{FOLDER}/backups/{stage}-before.zip",
            stage_profile=CONFIG.stages[stage].profile,  # puts the package's secrets in, in memory
            poll_interval=CONFIG.poll_interval,
            **common,
        ),
        CXValidateAgentOperator(
            task_id=f"validate_{stage}",
            fail_on=SETTINGS.validate_fail_on,
            report_to=f"{FOLDER}/reports/{stage}",
            **common,
        ),
        CXRunTestCasesOperator(
            task_id=f"test_{stage}",
            min_pass_rate=SETTINGS.min_pass_rate,
            report_destination=f"{FOLDER}/reports/{stage}",
            subject=f"{stage} agent, draft after restore",
            stage=stage,
            deferrable=CONFIG.deferrable_test_runs,
            poll_interval=CONFIG.poll_interval,
            **common,
        ),
    ]
    versions = CXCreateVersionsOperator(
        task_id=f"version_{stage}",
        release_id=RELEASE_ID,
        description=f"Promoted by cx_release_promotion to {stage}.",
        # Only flows that differ from what the stage's environment serves get a version; the
        # others keep theirs through the deploy (release.version_all_flows versions every flow).
        only_changed=not SETTINGS.version_all_flows,
        environment=environment,
        deferrable=CONFIG.deferrable_versions,
        poll_interval=CONFIG.poll_interval,
        **common,
    )
    deploy = CXDeployEnvironmentOperator(
        task_id=f"deploy_{stage}",
        environment=environment,
        versions=versions.output,
        create_if_missing=True,
        # Marks the environment with the release, so a retried deploy still reports (and a rollback
        # restores) what the environment served before this release.
        release_id=RELEASE_ID,
        poll_interval=CONFIG.poll_interval,
        **common,
    )
    return [*checks, versions, deploy]


def roll_back(stage: str, gates: list[Any]) -> Any:
    """Roll ``stage`` back when any of its gates failed after the restore."""
    plan = plan_rollback.override(task_id=f"plan_rollback_{stage}")(stage)
    gates >> plan
    rollback = CXRollbackEnvironmentOperator(
        task_id=f"rollback_{stage}",
        agent=f"{{{{ params.{stage}_agent }}}}",
        gcp_conn_id=CONFIG.stages[stage].gcp_conn_id,
        environment=f"{{{{ params.{stage}_environment }}}}",
        previous_configuration=plan["previous_configuration"],
        restore_from=plan["restore_from"],
        use_history=False,
        delete_created_environment=True,
        poll_interval=CONFIG.poll_interval,
    )
    return rollback


def stage_params() -> dict[str, Param]:
    params = {}
    for name, stage in CONFIG.stages.items():
        params[f"{name}_agent"] = Param(stage.agent, type="string", description=f"{name} agent (resource name)")
        params[f"{name}_environment"] = Param(stage.environment, type="string", description=f"{name} environment")
    return params


with DAG(
    dag_id="cx_release_promotion",
    description="Promote a Dialogflow CX release dev -> staging -> prod with gates, approval and rollback",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,  # two releases at once would race on the same staging and prod agents
    default_args={
        "retries": CONFIG.task_retries,
        "retry_delay": timedelta(seconds=30),
        "on_execute_callback": record_start,
    },
    params={
        **stage_params(),
        "release_id": Param(
            "",
            type="string",
            # The form refuses what prepare_release would: an empty value means "generate one".
            pattern=f"^(|{RELEASE_ID_PATTERN.pattern})$",
            description="release id (letters, digits, '.', '_', '-'; at most 64); empty: rel-<time>-<run hash>",
        ),
        "artifacts_base": Param(CONFIG.artifacts_base, type="string", description="where release folders go"),
    },
    tags=["dialogflow-cx", "release"],
    user_defined_filters=TEMPLATE_FILTERS,
) as dag:
    release = prepare_release()
    export_dev = CXExportAgentOperator(
        task_id="export_dev",
        agent="{{ params.dev_agent }}",
        environment="{{ params.dev_environment }}",
        destination=f"{FOLDER}/dev-export.zip",
        gcp_conn_id=CONFIG.stages["dev"].gcp_conn_id,
        poll_interval=CONFIG.poll_interval,
    )
    lint = CXLintAgentPackageOperator(
        task_id="lint_package",
        source="{{ ti.xcom_pull(task_ids='export_dev')['uri'] }}",
        fail_on=SETTINGS.lint_fail_on,
        report_to=f"{FOLDER}/reports/lint",
    )
    export_prod = CXExportAgentOperator(
        task_id="export_prod_current",
        agent="{{ params.prod_agent }}",
        destination=f"{FOLDER}/prod-current.zip",
        gcp_conn_id=CONFIG.stages["prod"].gcp_conn_id,
        poll_interval=CONFIG.poll_interval,
    )
    diff = CXDiffAgentPackagesOperator(
        task_id="diff_release",
        base="{{ ti.xcom_pull(task_ids='export_prod_current')['uri'] }}",
        target="{{ ti.xcom_pull(task_ids='export_dev')['uri'] }}",
        report_to=f"{FOLDER}/reports",
        title=f"Release {RELEASE_ID}: changes against prod",
        substitutions="{{ ti.xcom_pull(task_ids='stage_package_staging')['change_list']['json'] }}",
    )
    staging = promote("staging")
    approval = CXReleaseApprovalOperator(
        task_id="approve_prod",
        subject=f"Promote release {RELEASE_ID} to prod?",
        body=APPROVAL_BODY,
    )
    prod = promote("prod")
    smoke = CXDetectIntentOperator(
        task_id="smoke_test_prod",
        agent="{{ params.prod_agent }}",
        gcp_conn_id=CONFIG.stages["prod"].gcp_conn_id,
        environment="{{ params.prod_environment }}",
        utterances=list(SETTINGS.smoke_test),
        min_accuracy=SETTINGS.min_smoke_accuracy,
        report_to=f"{FOLDER}/reports/prod",
        subject="prod environment {{ params.prod_environment }}",
        stage="prod",
    )

    chain(release, export_dev, lint, *staging, approval, *prod, smoke)
    export_dev >> export_prod >> diff >> approval
    staging[0] >> diff  # the release notes list staging's substitutions

    rollbacks = [roll_back("staging", staging), roll_back("prod", [*prod, smoke])]
    [smoke, *rollbacks] >> summarize_release()
