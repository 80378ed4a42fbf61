from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from airflow_provider_cx.package import (
    PackageError,
    ReadLimits,
    encode_stem,
    package_files,
    read_package,
    write_folder,
    write_zip,
)


def _source_files(source: Path) -> dict[str, object]:
    """The files of a real export as parsed JSON, relative to the folder holding agent.json."""
    if source.is_dir():
        raw = {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    else:
        with zipfile.ZipFile(source) as zf:
            raw = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    raw = {p: b for p, b in raw.items() if "__MACOSX" not in p and not PurePosixPath(p).name.startswith(".")}
    root = min((p for p in raw if p.endswith("agent.json")), key=len)[: -len("agent.json")]
    return {p[len(root) :]: json.loads(b) if p.endswith(".json") else b for p, b in raw.items() if p.startswith(root)}


def _as_json(files: dict[str, bytes]) -> dict[str, object]:
    return {p: json.loads(b) if p.endswith(".json") else b for p, b in files.items()}


def test_every_shared_agent_round_trips_file_by_file(shared_agents):
    assert len(shared_agents) >= 5
    for source in shared_agents:
        package = read_package(source)
        again = read_package(write_zip(package))
        assert _as_json(package_files(again)) == _source_files(source), source.name


def test_reader_understands_the_structure(shared_agents):
    by_name = {p.name: read_package(p) for p in shared_agents}
    qatar = by_name["qatar-airways"]
    assert len(qatar.flows) == 1
    assert len(qatar.flows[0].pages) == 19
    assert len(qatar.flows[0].route_groups) == 1
    assert len(qatar.intents) == 17
    assert len(qatar.entity_types) == 8
    assert len(qatar.test_cases) == 17
    assert len(qatar.webhooks) == 1
    # trailing spaces survive, and a trimmed reference still resolves
    assert qatar.intent("flights.animals_on_board  ") is qatar.intent("flights.animals_on_board")
    graffiti = by_name["goodbye-graffiti.zip"]
    assert len(graffiti.flows) == 3
    assert sum(len(f.pages) for f in graffiti.flows) == 28
    assert len(graffiti.resources("generators")) == 2
    assert graffiti.webhook("prebuilt_components_address_collection:address_validation") is not None
    assert "generativeSettings/en.json" in graffiti.other_files


def test_training_phrases_and_entities(shared_agents):
    optus = read_package(next(p for p in shared_agents if p.name == "optus-dev"))
    welcome = optus.intent("Default Welcome Intent")
    assert optus.training_phrases(welcome, "pt-br")
    assert len(optus.training_phrases(welcome)) > len(optus.training_phrases(welcome, "en"))


def test_export_is_deterministic(shared_agents):
    package = read_package(shared_agents[0])
    assert write_zip(package) == write_zip(read_package(write_zip(package)))


def test_folder_round_trip(tmp_path, shared_agents):
    package = read_package(shared_agents[0])
    write_folder(package, tmp_path / "out")
    assert package_files(read_package(tmp_path / "out")) == package_files(package)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a zip", "not a zip archive"),
        (_zip({"flows/x.json": b"{}"}), "no agent.json"),
        (_zip({"agent.json": b"{not json"}), "agent.json is not valid JSON"),
        (_zip({"agent.json": b"{}", "../evil.json": b"{}"}), "escapes the package"),
        (_zip({"agent.json": b"{}", "/etc/passwd": b"x"}), "escapes the package"),
        (_zip({"agent.json": b"[]"}), "must hold a JSON object"),
    ],
)
def test_bad_packages_are_clear_errors(data, message):
    with pytest.raises(PackageError, match=message):
        read_package(data)


def test_zip_bomb_is_refused():
    bomb = _zip({"agent.json": b"{}", "intents/big.json": b" " * 5_000_000})
    with pytest.raises(PackageError, match="zip bomb"):
        read_package(bomb)
    with pytest.raises(PackageError, match="inflates past"):
        read_package(bomb, ReadLimits(max_total_bytes=1000, max_compression_ratio=10**9))


def test_missing_path_is_clear(tmp_path):
    with pytest.raises(PackageError, match="not found"):
        read_package(tmp_path / "nope.zip")


def test_encode_stem_matches_export_escaping():
    assert encode_stem("> confirm address") == "%3e confirm address"
    assert encode_stem("Don't select") == "Don%27t select"
    assert encode_stem("a:b") == "a%3ab"
    with pytest.raises(PackageError):
        encode_stem("  ")
