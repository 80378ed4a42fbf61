"""scan_package: every check of read_package, one file in memory at a time, only webhooks and tools modelled."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest

from airflow_provider_cx.package import PackageError, Resource, new_id, read_package, write_zip
from airflow_provider_cx.package.io import scan_package
from airflow_provider_cx.sample_agent import sample_agent_path


def sample_zip() -> bytes:
    return write_zip(read_package(sample_agent_path()))


def rezip(data: bytes, **changes: bytes | None) -> bytes:
    """``data`` with files replaced, added (``name=bytes``) or removed (``name=None``); ``__`` is ``/``."""
    changes = {name.replace("__", "/").replace("_DOT_", "."): value for name, value in changes.items()}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist()}
    for name, value in changes.items():
        if value is None:
            files.pop(name)
        else:
            files[name] = value
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_scan_models_the_agent_and_its_webhooks_only() -> None:
    full = read_package(sample_zip())
    scanned = scan_package(sample_zip())
    assert scanned.agent == full.agent
    assert [w.data for w in scanned.webhooks] == [w.data for w in full.webhooks]
    assert scanned.flows == []
    assert scanned.intents == []


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda z: b"PK\x03\x04 not really a zip", id="not-a-zip"),
        pytest.param(lambda z: rezip(z, **{"..__evil_DOT_json": b"{}"}), id="zip-slip"),
        pytest.param(lambda z: rezip(z, agent_DOT_json=None), id="no-agent-json"),
        pytest.param(lambda z: rezip(z, agent_DOT_json=b"[1]"), id="agent-json-not-an-object"),
        pytest.param(lambda z: rezip(z, flows__x__x_DOT_json=b"{broken"), id="invalid-json-in-a-flow"),
        pytest.param(lambda z: rezip(z, intents__pad_DOT_json=b" " * (8 << 20) + b"{}"), id="zip-bomb"),
    ],
)
def test_scan_refuses_what_read_package_refuses_with_the_same_message(broken) -> None:
    data = broken(sample_zip())
    with pytest.raises(PackageError) as read_error:
        read_package(data)
    with pytest.raises(PackageError) as scan_error:
        scan_package(data)
    assert str(scan_error.value) == str(read_error.value)


def test_scan_holds_about_one_file_not_the_model() -> None:
    package = read_package(sample_agent_path())
    for n in range(30):
        phrases = [{"id": new_id(), "parts": [{"text": f"phrase {n} {i} " * 8}], "repeatCount": 1} for i in range(200)]
        data = {"name": new_id(), "displayName": f"bulk.{n}"}
        package.intents.append(
            Resource("intents", data["displayName"], data, {"trainingPhrases/en.json": {"trainingPhrases": phrases}})
        )
    data = write_zip(package)

    def peak(function) -> int:
        tracemalloc.start()
        try:
            function(data)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    read_peak, scan_peak = peak(read_package), peak(scan_package)
    assert scan_peak * 5 < read_peak, (scan_peak, read_peak)
