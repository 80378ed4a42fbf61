"""Bad-input catalogue: each bad input gets a clear error that names the problem, and changes nothing.

Every case runs an operator (or the hook) against the shared emulator over gRPC, inside
:func:`nothing_changes`: the target agent's export is byte-identical afterwards and no
state-changing RPC reached the server (except where only the server can judge the input, and then
it must refuse). One agent serves the whole module, so a case that did change it would also show up
as a changed export in the cases after it.
"""

from __future__ import annotations

import io
import json
import os
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from change_guard import nothing_changes
from operator_harness import CONN_ID, FAST, make_context

from airflow_provider_cx.emulator.testing import package_bytes
from airflow_provider_cx.hooks.errors import CXConnectionNotFoundError, CXCredentialsError, CXEndpointError
from airflow_provider_cx.operators.base import MAX_XCOM_BYTES
from airflow_provider_cx.operators.calculate_coverage import CXCalculateCoverageOperator
from airflow_provider_cx.operators.create_versions import CXCreateVersionsOperator
from airflow_provider_cx.operators.deploy_environment import CXDeployEnvironmentOperator
from airflow_provider_cx.operators.detect_intent import CXDetectIntentOperator
from airflow_provider_cx.operators.errors import (
    CXInvalidInputError,
    CXResourceNotFoundError,
    CXXComTooLargeError,
)
from airflow_provider_cx.operators.export_agent import CXExportAgentOperator
from airflow_provider_cx.operators.lint_package import CXLintAgentPackageOperator
from airflow_provider_cx.operators.restore_agent import CXRestoreAgentOperator
from airflow_provider_cx.operators.run_test_cases import CXRunTestCasesOperator
from airflow_provider_cx.sample_agent import sample_agent_path

pytestmark = pytest.mark.timeout(60)


# --- packages that must never be restored -----------------------------------------------------------


def sample_files() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package_bytes(sample_agent_path()))) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}


def zip_of(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name), content, compress_type=compression)
    return buffer.getvalue()


def with_files(**extra: bytes) -> bytes:
    """The sample agent plus files (keyword names use ``__`` for ``/`` and ``_DOT_`` for ``.``)."""
    return zip_of({**sample_files(), **extra})


def malformed_zip() -> bytes:
    return b"PK\x03\x04" + os.urandom(64)


def zip_slip() -> bytes:
    return zip_of({**sample_files(), "../../../tmp/cx-zip-slip.json": b"{}"})


def absolute_member() -> bytes:
    return zip_of({**sample_files(), "/etc/cron.d/cx-evil": b"* * * * * root true"})


def zip_bomb() -> bytes:
    """A package whose one extra file inflates 1000:1 (64 MB from a few tens of kilobytes)."""
    return zip_of({**sample_files(), "flows/padding.json": b" " * (64 << 20) + b"{}"})


def without_agent_json() -> bytes:
    return zip_of({name: content for name, content in sample_files().items() if not name.endswith("agent.json")})


def invalid_json() -> bytes:
    files = sample_files()
    flow = next(name for name in files if name.startswith("flows/") and name.count("/") == 2)
    return zip_of({**files, flow: files[flow][: len(files[flow]) // 2]})


def agent_json_not_an_object() -> bytes:
    return zip_of({**sample_files(), "agent.json": b'["not", "an", "agent"]'})


def with_entry_header(*, flags: int = 0, method: int | None = None) -> bytes:
    """The sample agent with one flow's flags or compression method patched in both of its headers."""
    data = bytearray(zip_of(sample_files()))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = next(i for i in archive.infolist() if i.filename.startswith("flows/"))
        central = archive.start_dir
    offsets = [info.header_offset + 6]  # the local header's flags, then method
    position = central
    while data[position : position + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from("<3H", data, position + 28)
        if data[position + 46 : position + 46 + name_length].decode() == info.filename:
            offsets.append(position + 8)  # the central directory's flags, then method
        position += 46 + name_length + extra_length + comment_length
    for offset in offsets:
        old_flags, old_method = struct.unpack_from("<2H", data, offset)
        struct.pack_into("<2H", data, offset, old_flags | flags, old_method if method is None else method)
    return bytes(data)


def encrypted_entry() -> bytes:
    return with_entry_header(flags=0x1)


def unknown_compression() -> bytes:
    return with_entry_header(method=99)


def deeply_nested_json() -> bytes:
    return zip_of({**sample_files(), "flows/deep/deep.json": b"[" * 50_000 + b"]" * 50_000})


def duplicate_entry() -> bytes:
    buffer = io.BytesIO(zip_of(sample_files()))
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "a") as archive:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate it writes
        archive.writestr("agent.json", b'{"displayName": "the other agent"}')
    return buffer.getvalue()


def lying_header() -> bytes:
    """An extra file whose header says 1,000 bytes and which inflates to 256 MiB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = b"".join(compressor.compress(b" " * (1 << 20)) for _ in range(256)) + compressor.flush()
    data = bytearray(zip_of({**sample_files(), "flows/lying.json": b"x" * 1000}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("flows/lying.json")
    start = info.header_offset + 30 + len(info.filename)
    end = start + info.compress_size
    patched = bytes(data[:start]) + stream + bytes(data[end:])
    shift = len(stream) - info.compress_size
    # Move the central directory, whose offset the end record gives, and fix the entry's compressed size.
    out = bytearray(patched)
    struct.pack_into("<L", out, info.header_offset + 18, len(stream))
    end_record = out.rfind(b"PK\x05\x06")
    (cd_offset,) = struct.unpack_from("<L", out, end_record + 16)
    struct.pack_into("<L", out, end_record + 16, cd_offset + shift)
    position = cd_offset + shift
    while out[position : position + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from("<3H", out, position + 28)
        if out[position + 46 : position + 46 + name_length] == b"flows/lying.json":
            struct.pack_into("<L", out, position + 20, len(stream))
        position += 46 + name_length + extra_length + comment_length
    return bytes(out)


def foreign_blob() -> bytes:
    """What a BLOB export of the real service (or any other tool) looks like to this emulator: opaque bytes."""
    return b"\x0a\x8f\x01" + os.urandom(512)


BAD_PACKAGES = [
    pytest.param(malformed_zip, "not a zip archive", id="malformed-zip"),
    pytest.param(zip_slip, "unsafe path '../../../tmp/cx-zip-slip.json' escapes the package", id="zip-slip"),
    pytest.param(absolute_member, "unsafe path '/etc/cron.d/cx-evil'", id="absolute-path-member"),
    pytest.param(zip_bomb, "looks like a zip bomb", id="zip-bomb"),
    pytest.param(without_agent_json, "no agent.json found", id="no-agent-json"),
    pytest.param(invalid_json, r"flows/.+\.json is not valid JSON", id="invalid-json"),
    pytest.param(agent_json_not_an_object, "agent.json must hold a JSON object", id="agent-json-not-object"),
    pytest.param(encrypted_entry, r"entry 'flows/.+' is encrypted", id="encrypted-entry"),
    pytest.param(unknown_compression, r"entry 'flows/.+' uses compression method 99", id="unknown-compression"),
    pytest.param(deeply_nested_json, "flows/deep/deep.json nests JSON deeper than 64 levels", id="deep-json"),
    pytest.param(duplicate_entry, "entry 'agent.json' appears more than once", id="duplicate-entry"),
    pytest.param(lying_header, "cannot read flows/lying.json: Bad CRC-32", id="lying-size-header"),
]


def restore_task(agent: str, source: Any, **kwargs: Any) -> CXRestoreAgentOperator:
    return CXRestoreAgentOperator(
        task_id="restore", agent=agent, source=source, gcp_conn_id=CONN_ID, **{**FAST, **kwargs}
    )


@pytest.mark.parametrize(("make_package", "problem"), BAD_PACKAGES)
def test_bad_package_is_refused_before_the_backup_and_the_restore(
    make_package: Any, problem: str, target_agent: str, cx_connection: Any, tmp_path: Path
) -> None:
    source = tmp_path / "release.zip"
    source.write_bytes(make_package())
    backup = tmp_path / "backup.zip"
    context = make_context()
    with nothing_changes(cx_connection, target_agent), pytest.raises(CXInvalidInputError, match=problem) as error:
        restore_task(target_agent, str(source), backup_to=str(backup)).execute(context)
    assert "not a readable agent package" in str(error.value)
    assert source.as_uri() in str(error.value)
    assert not backup.exists()
    assert context["ti"].xcom == {}
    assert not Path("/tmp/cx-zip-slip.json").exists()


@pytest.mark.parametrize(("make_package", "problem"), BAD_PACKAGES)
def test_the_emulator_refuses_a_bad_package_as_invalid_argument(
    make_package: Any, problem: str, target_agent: str, cx_connection: Any
) -> None:
    """The same packages sent straight to RestoreAgent (no operator check): INVALID_ARGUMENT, not INTERNAL."""
    from google.api_core import exceptions
    from google.cloud import dialogflowcx_v3 as cx

    client = cx_connection.client(cx.AgentsClient)
    with (
        nothing_changes(cx_connection, target_agent, refused_by_server=("RestoreAgent",)),
        pytest.raises(exceptions.InvalidArgument, match=problem),
    ):
        client.restore_agent(request={"name": target_agent, "agent_content": make_package()}).result(timeout=30)
    assert not Path("/tmp/cx-zip-slip.json").exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(
            foreign_blob, "BLOBs exported by Dialogflow CX itself cannot be restored", id="blob-from-elsewhere"
        ),
        pytest.param(lambda: b"CXEMU-BLOB\x00\x01" + b"\x00" * 32 + b"PK", "corrupt", id="tampered-blob"),
    ],
)
def test_blob_from_elsewhere_is_refused_by_the_server(
    content: Any, problem: str, target_agent: str, cx_connection: Any, tmp_path: Path
) -> None:
    source = tmp_path / "agent.blob"
    source.write_bytes(content())
    with (
        nothing_changes(cx_connection, target_agent, refused_by_server=("RestoreAgent",)) as guard,
        pytest.raises(CXInvalidInputError, match=f"restore of {target_agent} from .*agent.blob refused: .*{problem}"),
    ):
        restore_task(target_agent, str(source)).execute(make_context())
    assert guard.mutations == {"/google.cloud.dialogflow.cx.v3.Agents/RestoreAgent": 1}


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        pytest.param("empty.zip", b"", "is empty; expected an agent export", id="empty-file"),
        pytest.param("missing.zip", None, "does not exist or is not a file", id="missing-file"),
    ],
)
def test_empty_or_missing_source(
    name: str, content: bytes | None, problem: str, target_agent: str, cx_connection: Any, tmp_path: Path
) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with nothing_changes(cx_connection, target_agent), pytest.raises(CXInvalidInputError, match=problem):
        restore_task(target_agent, str(tmp_path / name)).execute(make_context())


# --- names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "problem"),
    [
        pytest.param("agents/a", "not a Dialogflow CX resource name", id="no-project"),
        pytest.param("projects/test-project/locations/global", "not an agent name", id="location-only"),
        pytest.param("projects/p/locations/global/agents/", "not a Dialogflow CX resource name", id="empty-agent-id"),
        pytest.param("projects/p/locations/US_Central/agents/a", "not a Dialogflow CX location", id="bad-location"),
        pytest.param("projects/p/locations/global/agents/a b", "not a Dialogflow CX resource name", id="whitespace"),
        pytest.param(
            "https://dialogflow.cloud.google.com/#/projects/p/locations/global/agents/a",
            "not a Dialogflow CX resource name",
            id="console-url",
        ),
    ],
)
def test_malformed_agent_name(agent: str, problem: str, target_agent: str, cx_connection: Any, tmp_path: Path) -> None:
    task = CXExportAgentOperator(
        task_id="export", agent=agent, destination=str(tmp_path / "a.zip"), gcp_conn_id=CONN_ID
    )
    with nothing_changes(cx_connection, target_agent) as guard, pytest.raises(CXInvalidInputError, match=problem):
        task.execute(make_context())
    assert guard.calls == {}  # refused before any call
    assert not (tmp_path / "a.zip").exists()


def test_child_resource_given_as_the_agent(target_agent: str, cx_connection: Any, tmp_path: Path) -> None:
    flow = f"{target_agent}/flows/00000000-0000-0000-0000-000000000000"
    task = CXExportAgentOperator(task_id="export", agent=flow, destination=str(tmp_path / "a.zip"), gcp_conn_id=CONN_ID)
    with (
        nothing_changes(cx_connection, target_agent),
        pytest.raises(
            CXInvalidInputError, match=f"names a resource inside an agent; pass the agent itself, '{target_agent}'"
        ),
    ):
        task.execute(make_context())


def test_unknown_agent(target_agent: str, cx_connection: Any, tmp_path: Path) -> None:
    unknown = target_agent.rsplit("/", 1)[0] + "/00000000-dead-beef-0000-000000000000"
    source = tmp_path / "release.zip"
    source.write_bytes(package_bytes(sample_agent_path()))
    with (
        nothing_changes(cx_connection, target_agent),
        pytest.raises(CXResourceNotFoundError, match=f"agent {unknown} does not exist"),
    ):
        restore_task(unknown, str(source), backup_to=str(tmp_path / "backup.zip")).execute(make_context())
    assert not (tmp_path / "backup.zip").exists()


def test_unknown_flow(target_agent: str, cx_connection: Any) -> None:
    task = CXCreateVersionsOperator(
        task_id="versions",
        agent=target_agent,
        release_id="r1",
        flows=["Transfers", "No Such Flow"],
        gcp_conn_id=CONN_ID,
    )
    with nothing_changes(cx_connection, target_agent), pytest.raises(CXResourceNotFoundError, match="No Such Flow"):
        task.execute(make_context())


def test_flow_of_another_agent(target_agent: str, cx_connection: Any) -> None:
    foreign = "projects/test-project/locations/global/agents/other/flows/00000000-0000-0000-0000-000000000000"
    task = CXCreateVersionsOperator(
        task_id="versions", agent=target_agent, release_id="r1", flows=[foreign], gcp_conn_id=CONN_ID
    )
    with (
        nothing_changes(cx_connection, target_agent),
        pytest.raises(CXInvalidInputError, match="is not a flow of agent"),
    ):
        task.execute(make_context())


def test_unknown_environment(target_agent: str, cx_connection: Any, tmp_path: Path) -> None:
    export = CXExportAgentOperator(
        task_id="export",
        agent=target_agent,
        environment="no-such-environment",
        destination=str(tmp_path / "a.zip"),
        gcp_conn_id=CONN_ID,
        **FAST,
    )
    deploy = CXDeployEnvironmentOperator(
        task_id="deploy",
        agent=target_agent,
        environment="no-such-environment",
        versions=[f"{target_agent}/flows/00000000-0000-0000-0000-000000000000/versions/1"],
        gcp_conn_id=CONN_ID,
        **FAST,
    )
    with nothing_changes(cx_connection, target_agent):
        with pytest.raises(CXResourceNotFoundError, match="no-such-environment"):
            export.execute(make_context())
        with pytest.raises(CXResourceNotFoundError, match=r"'no-such-environment' not found .* create_if_missing=True"):
            deploy.execute(make_context())
    assert not (tmp_path / "a.zip").exists()


def test_versions_of_another_agent(target_agent: str, cx_connection: Any) -> None:
    foreign = "projects/test-project/locations/global/agents/other/flows/f/versions/1"
    deploy = CXDeployEnvironmentOperator(
        task_id="deploy", agent=target_agent, environment="prod", versions=[foreign], gcp_conn_id=CONN_ID, **FAST
    )
    with (
        nothing_changes(cx_connection, target_agent) as guard,
        pytest.raises(CXInvalidInputError, match=f"is not a flow version of agent {target_agent}"),
    ):
        deploy.execute(make_context())
    assert guard.calls == {}


def test_location_that_contradicts_the_name(target_agent: str, cx_connection: Any, tmp_path: Path) -> None:
    from airflow_provider_cx.hooks.dialogflow_cx import DialogflowCXHook

    task = CXExportAgentOperator(
        task_id="export",
        agent=target_agent,
        location="europe-west2",
        destination=str(tmp_path / "a.zip"),
        gcp_conn_id=CONN_ID,
    )
    hook = DialogflowCXHook(gcp_conn_id=CONN_ID, location="us-central1")
    with nothing_changes(cx_connection, target_agent) as guard:
        with pytest.raises(CXInvalidInputError, match=r"location 'europe-west2' contradicts agent .* drop location="):
            task.execute(make_context())
        with pytest.raises(CXEndpointError, match="location 'us-central1' does not match"):
            hook.get_agents_client(target_agent)
    assert guard.calls == {}


# --- connections --------------------------------------------------------------------------------------


def test_missing_connection(target_agent: str, cx_connection: Any, tmp_path: Path) -> None:
    task = CXExportAgentOperator(
        task_id="export", agent=target_agent, destination=str(tmp_path / "a.zip"), gcp_conn_id="no_such_connection"
    )
    with (
        nothing_changes(cx_connection, target_agent) as guard,
        pytest.raises(
            CXConnectionNotFoundError, match=r"'no_such_connection' does not exist.*AIRFLOW_CONN_NO_SUCH_CONNECTION"
        ),
    ):
        task.execute(make_context())
    assert guard.calls == {}


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        pytest.param({"keyfile_dict": "{not json"}, "keyfile_dict is not valid JSON", id="keyfile-not-json"),
        pytest.param({"keyfile_dict": {"type": "authorized_user"}}, "must be a service-account key", id="not-a-sa-key"),
        pytest.param(
            {"key_path": "/nonexistent/key.json"}, "key_path '/nonexistent/key.json' is not a file", id="no-key"
        ),
        pytest.param({"emulator_host": "localhost"}, "is not host:port", id="emulator-host-without-port"),
    ],
)
def test_unusable_connection(
    extra: dict[str, Any],
    problem: str,
    target_agent: str,
    cx_connection: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,
) -> None:
    body = {"conn_type": "google_cloud_platform", "extra": {"project": "test-project", **extra}}
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN", json.dumps(body))
    task = CXExportAgentOperator(
        task_id="export", agent=target_agent, destination=str(tmp_path / "a.zip"), gcp_conn_id="broken"
    )
    with (
        nothing_changes(cx_connection, target_agent) as guard,
        pytest.raises((CXCredentialsError, CXEndpointError), match=problem),
    ):
        task.execute(make_context())
    assert guard.calls == {}


# --- selections, thresholds and options -----------------------------------------------------------------


def run_tests_task(agent: str, **kwargs: Any) -> CXRunTestCasesOperator:
    return CXRunTestCasesOperator(task_id="tests", agent=agent, gcp_conn_id=CONN_ID, **{**FAST, **kwargs})


@pytest.mark.parametrize(
    ("selection", "error", "problem"),
    [
        pytest.param({"test_cases": []}, CXInvalidInputError, "test_cases is an empty list", id="empty-list"),
        pytest.param({"tags": []}, CXInvalidInputError, "tags is an empty list", id="empty-tags"),
        pytest.param({"tags": "#smoke"}, CXInvalidInputError, "tags must be a list", id="tags-as-string"),
        pytest.param(
            {"tags": ["#nightly"]}, CXResourceNotFoundError, r"tag\(s\) \['nightly'\]; tags in use", id="no-match"
        ),
        pytest.param({"test_cases": ["Nobody wrote this"]}, CXResourceNotFoundError, "Nobody wrote this", id="unknown"),
    ],
)
def test_test_selection_that_selects_nothing(
    selection: dict[str, Any], error: type, problem: str, target_agent: str, cx_connection: Any
) -> None:
    with nothing_changes(cx_connection, target_agent), pytest.raises(error, match=problem):
        run_tests_task(target_agent, **selection).execute(make_context())


@pytest.mark.parametrize(
    ("make_task", "problem"),
    [
        pytest.param(
            lambda agent: run_tests_task(agent, min_pass_rate=95),
            r"min_pass_rate must be between 0 and 1 \(a fraction, not a percentage\), got 95",
            id="pass-rate-percentage",
        ),
        pytest.param(
            lambda agent: CXDetectIntentOperator(
                task_id="smoke",
                agent=agent,
                utterances=[{"text": "hi", "expected_intent": "Default Welcome Intent"}],
                min_accuracy=-0.1,
                gcp_conn_id=CONN_ID,
            ),
            "min_accuracy must be between 0 and 1",
            id="negative-accuracy",
        ),
        pytest.param(
            lambda agent: CXCalculateCoverageOperator(
                task_id="coverage", agent=agent, min_intent_coverage="high", gcp_conn_id=CONN_ID
            ),
            "min_intent_coverage must be a number between 0 and 1, got 'high'",
            id="coverage-not-a-number",
        ),
        pytest.param(
            lambda agent: CXCalculateCoverageOperator(
                task_id="coverage", agent=agent, min_transition_coverage=True, gcp_conn_id=CONN_ID
            ),
            "min_transition_coverage must be a number between 0 and 1, got True",
            id="coverage-bool",
        ),
    ],
)
def test_threshold_out_of_range(make_task: Any, problem: str, target_agent: str, cx_connection: Any) -> None:
    with nothing_changes(cx_connection, target_agent) as guard, pytest.raises(CXInvalidInputError, match=problem):
        make_task(target_agent).execute(make_context())
    assert guard.calls == {}


@pytest.mark.parametrize(
    ("make_task", "problem"),
    [
        pytest.param(
            lambda agent, tmp: CXExportAgentOperator(
                task_id="export", agent=agent, destination=str(tmp / "a.yaml"), data_format="YAML", gcp_conn_id=CONN_ID
            ),
            "data_format 'YAML' is not one of JSON_PACKAGE, BLOB",
            id="export-format",
        ),
        pytest.param(
            lambda agent, tmp: CXExportAgentOperator(
                task_id="export", agent=agent, destination="gs://bucket/", gcp_conn_id=CONN_ID
            ),
            "'gs://bucket/' is not a Cloud Storage object URI",
            id="gcs-folder-destination",
        ),
        pytest.param(
            lambda agent, tmp: restore_task(agent, str(sample_agent_path()), restore_option="MERGE"),
            "restore_option 'MERGE' is not one of KEEP, FALLBACK",
            id="restore-option",
        ),
        pytest.param(
            lambda agent, tmp: CXCreateVersionsOperator(
                task_id="versions", agent=agent, release_id="r1\nr2", gcp_conn_id=CONN_ID
            ),
            "must be one line",
            id="multi-line-release-id",
        ),
        pytest.param(
            lambda agent, tmp: CXDetectIntentOperator(
                task_id="smoke", agent=agent, utterances=str(tmp / "table.txt"), gcp_conn_id=CONN_ID
            ),
            "must be a .csv or .json file",
            id="utterance-table-format",
        ),
        pytest.param(
            lambda agent, tmp: CXLintAgentPackageOperator(
                task_id="lint", source=str(sample_agent_path()), fail_on="FATAL"
            ),
            "fail_on 'FATAL' is not one of",
            id="lint-gate",
        ),
    ],
)
def test_option_out_of_its_choices(
    make_task: Any, problem: str, target_agent: str, cx_connection: Any, tmp_path
) -> None:
    with nothing_changes(cx_connection, target_agent) as guard, pytest.raises(CXInvalidInputError, match=problem):
        make_task(target_agent, tmp_path).execute(make_context())
    assert guard.calls == {}


# --- XCom ---------------------------------------------------------------------------------------------------


def test_oversized_xcom_is_refused(target_agent: str, cx_connection: Any) -> None:
    """Fifty mismatches quoting 4 kB expectations would be a 200 kB XCom: the task refuses to push it."""
    rows = [{"text": f"hello {n}", "expected_intent": f"intent-{n}-" + "x" * 4000} for n in range(60)]
    task = CXDetectIntentOperator(
        task_id="smoke", agent=target_agent, utterances=rows, min_accuracy=0, gcp_conn_id=CONN_ID
    )
    context = make_context()
    with (
        nothing_changes(cx_connection, target_agent),
        pytest.raises(
            CXXComTooLargeError, match=f"XCom 'cx_detect_intent' is \\d+ bytes, over the {MAX_XCOM_BYTES}-byte"
        ),
    ):
        task.execute(context)
    assert set(context["ti"].xcom) == {"cx_agent_link"}  # the console link only, no summary
