"""Issue 18: hostile archives are refused with an error naming the problem, at a bounded cost.

Each test builds its archive by hand (see ``hostile_zip``) and checks both the message and, where
memory is the point, the peak Python allocation while reading it.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from pathlib import Path

import pytest
from hostile_zip import AGENT, STORED, RawEntry, deflate_repeated, entry, peak_bytes, raw_zip

from airflow_provider_cx.package import (
    PackageError,
    PackageLimitError,
    ReadLimits,
    UnsafePackageError,
    read_package,
    write_zip,
)
from airflow_provider_cx.package.__main__ import main
from airflow_provider_cx.package.io import parse_files, scan_package
from airflow_provider_cx.sample_agent import sample_agent_path

MiB = 1 << 20


@pytest.fixture(scope="module")
def gigabyte_of_spaces() -> tuple[bytes, int]:
    """1 GiB of spaces as one deflate stream (about 1 MB) and its CRC."""
    return deflate_repeated(b" " * MiB, 1024)


# --- bomb limits trust the zip headers ---------------------------------------------------------------
def test_an_entry_whose_header_says_1000_bytes_and_inflates_to_1_gib_stops_without_allocating_it(
    gigabyte_of_spaces,
) -> None:
    stream, crc = gigabyte_of_spaces
    archive = raw_zip([AGENT, RawEntry("flows/big.json", stream, crc=crc, declared_size=1000)])
    peak, raised = peak_bytes(lambda: read_package(archive))
    assert isinstance(raised, PackageError)
    assert "flows/big.json" in str(raised)
    assert peak < 8 * MiB, peak


def test_an_entry_whose_header_claims_its_true_size_of_1_gib_stops_at_the_per_file_limit(gigabyte_of_spaces) -> None:
    stream, crc = gigabyte_of_spaces
    archive = raw_zip([AGENT, RawEntry("flows/big.json", stream, crc=crc, declared_size=1 << 30)])
    limits = ReadLimits(max_entry_bytes=16 * MiB, max_compression_ratio=1 << 30)
    peak, raised = peak_bytes(lambda: read_package(archive, limits))
    assert isinstance(raised, PackageLimitError)
    assert str(raised) == (
        "<bytes>: flows/big.json inflates past the per-file limit of 16777216 bytes (ReadLimits.max_entry_bytes)"
    )
    assert peak < 3 * 16 * MiB, peak


def test_the_ratio_is_measured_on_inflated_bytes_whatever_the_header_declares() -> None:
    stream, crc = deflate_repeated(b" " * MiB, 32)  # 32 MiB from about 32 KB
    archive = raw_zip([AGENT, RawEntry("flows/big.json", stream, crc=crc, declared_size=10)])
    truthful = raw_zip([AGENT, RawEntry("flows/big.json", stream, crc=crc, declared_size=32 * MiB)])
    assert "Bad CRC-32" in str(peak_bytes(lambda: read_package(archive))[1])  # stops at the declared size
    peak, raised = peak_bytes(lambda: read_package(truthful))
    assert isinstance(raised, PackageLimitError)
    assert "flows/big.json is compressed more than 100:1" in str(raised)
    assert "zip bomb" in str(raised)
    assert peak < 3 * 100 * len(stream) + MiB, peak  # stopped at 100 x its compressed size


def _archive_at_162_to_1(entries: int) -> bytes:
    """``entries`` files of 16 MiB that deflate about 162:1 (random bytes among spaces), zipped."""
    block = os.urandom(640) + b" " * (160 * 640)  # blocks are longer than deflate's window: no reuse
    stream, crc = deflate_repeated(block, (16 * MiB) // len(block))
    size = len(block) * ((16 * MiB) // len(block))
    return raw_zip(
        [AGENT, *(RawEntry(f"assets/i{n}.bin", stream, crc=crc, declared_size=size) for n in range(entries))]
    )


def test_a_6_mb_archive_at_162_to_1_is_refused_for_its_ratio_at_a_bounded_cost() -> None:
    archive = _archive_at_162_to_1(60)
    assert 5 * MiB < len(archive) < 8 * MiB
    peak, raised = peak_bytes(lambda: read_package(archive))
    assert isinstance(raised, PackageLimitError)
    assert "assets/i0.bin is compressed more than 100:1" in str(raised)
    assert peak < 3 * len(archive) + 16 * MiB, peak


def test_the_total_limit_counts_bytes_produced_across_entries() -> None:
    archive = _archive_at_162_to_1(60)
    limits = ReadLimits(max_total_bytes=40 * MiB, max_compression_ratio=1000)
    peak, raised = peak_bytes(lambda: scan_package(archive, limits))
    assert isinstance(raised, PackageLimitError)
    assert "inflates past 41943040 bytes (ReadLimits.max_total_bytes)" in str(raised)
    assert peak < 3 * 16 * MiB, peak  # scan holds one file at a time


def test_a_2_gb_file_that_is_not_a_zip_is_refused_from_its_first_bytes(tmp_path: Path) -> None:
    huge = tmp_path / "huge.zip"
    with huge.open("wb") as sparse:
        sparse.truncate(2 << 30)
    peak, raised = peak_bytes(lambda: read_package(huge))
    assert isinstance(raised, PackageError)
    assert str(raised) == f"{huge} is not a zip archive: it starts with b'\\x00\\x00\\x00\\x00', not a zip header"
    assert peak < MiB, peak


def test_too_many_files_are_refused_from_the_directory() -> None:
    archive = raw_zip([AGENT, *(entry(f"other/{n}.txt", b"x") for n in range(20))])
    with pytest.raises(PackageLimitError, match=r"has 21 files; the limit is 10 \(ReadLimits.max_files\)"):
        read_package(archive, ReadLimits(max_files=10))


def test_limits_must_be_positive_integers() -> None:
    with pytest.raises(ValueError, match=r"ReadLimits\.max_files must be a positive integer"):
        ReadLimits(max_files=0)


# --- crashes reported as findings --------------------------------------------------------------------
def test_deeply_nested_json_is_a_limit_error_not_a_recursion_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    archive = raw_zip([AGENT, entry("flows/f/f.json", deep)])
    with pytest.raises(PackageLimitError, match=r"flows/f/f.json nests JSON deeper than 64 levels"):
        read_package(archive)
    with pytest.raises(PackageLimitError, match="nests JSON deeper"):
        parse_files({"agent.json": b"{}", "intents/i/i.json": b'{"a":' * 5000 + b"1" + b"}" * 5000})


@pytest.mark.parametrize(("depth", "accepted"), [(64, True), (65, False)], ids=["at-the-limit", "one-past-the-limit"])
def test_json_depth_limit_is_exact_and_ignores_brackets_in_strings(depth: int, accepted: bool) -> None:
    inner = b'{"s": "[[[[{{{{ \\" ]]]", "n": 1}'  # depth 1, with brackets and an escaped quote in a string
    nested = b'{"a": [' * ((depth - 1) // 2) + b"[" * ((depth - 1) % 2)
    closing = b"]" * ((depth - 1) % 2) + b"]}" * ((depth - 1) // 2)
    document = nested + inner + closing
    files = {"agent.json": b"{}", "flows/f/f.json": document}
    if accepted:
        assert parse_files(files).flows[0].data
    else:
        with pytest.raises(PackageLimitError, match="deeper than 64 levels"):
            parse_files(files)


def test_an_encrypted_entry_is_refused_before_reading() -> None:
    archive = raw_zip([AGENT, entry("flows/f/f.json", b"{}", flags=0x1)])
    with pytest.raises(UnsafePackageError, match=r"entry 'flows/f/f.json' is encrypted"):
        read_package(archive)


@pytest.mark.parametrize("method", [99, 12, 14], ids=["aes", "bzip2", "lzma"])
def test_an_unknown_compression_method_is_refused(method: int) -> None:
    archive = raw_zip([AGENT, entry("flows/f/f.json", b"{}", method=method)])
    with pytest.raises(UnsafePackageError, match=rf"entry 'flows/f/f.json' uses compression method {method}"):
        read_package(archive)


def test_a_corrupt_entry_is_a_package_error_naming_it() -> None:
    archive = raw_zip([AGENT, RawEntry("flows/f/f.json", b"\xff\xff\xff garbage", crc=1, declared_size=50)])
    with pytest.raises(PackageError, match=r"cannot read flows/f/f\.json"):
        read_package(archive)
    archive = raw_zip([AGENT, RawEntry("flows/f/f.json", b"{}", method=STORED, crc=1, declared_size=2)])
    with pytest.raises(PackageError, match=r"cannot read flows/f/f\.json: Bad CRC-32"):
        read_package(archive)


# --- duplicate entries ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "names",
    [("agent.json", "agent.json"), ("flows/f/f.json", "flows/f/./f.json"), ("flows/f/f.json", "flows\\f\\f.json")],
    ids=["same-name", "dot-segment", "backslashes"],
)
def test_duplicate_entries_are_refused(names: tuple[str, str]) -> None:
    archive = raw_zip([AGENT, *(entry(name, b'{"displayName": "copy"}') for name in names)])
    with pytest.raises(UnsafePackageError, match=r"appears more than once"):
        read_package(archive)
    with pytest.raises(UnsafePackageError, match=r"appears more than once"):
        scan_package(archive)


def test_a_duplicate_written_by_zipfile_is_refused() -> None:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate it writes
        archive.writestr("agent.json", b'{"displayName": "first"}')
        archive.writestr("agent.json", b'{"displayName": "second"}')
    with pytest.raises(UnsafePackageError, match=r"'agent\.json' appears more than once"):
        read_package(buffer.getvalue())


# --- sources -------------------------------------------------------------------------------------------
def test_a_seekable_stream_reads_like_bytes(tmp_path: Path) -> None:
    data = write_zip(read_package(sample_agent_path()))
    from_stream = read_package(io.BytesIO(data))
    assert write_zip(from_stream) == data
    path = tmp_path / "agent.zip"
    path.write_bytes(data)
    with path.open("rb") as stream:
        assert write_zip(read_package(stream)) == data


def test_folder_reading_is_bounded_too(tmp_path: Path) -> None:
    (tmp_path / "agent.json").write_bytes(b"{}")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "big.json").write_bytes(b" " * (2 * MiB) + b"{}")
    with pytest.raises(PackageLimitError, match=r"flows/big.json inflates past the per-file limit of 1048576"):
        read_package(tmp_path, ReadLimits(max_entry_bytes=MiB))
    (tmp_path / "flows" / "deep.json").write_bytes(b"[" * 200 + b"]" * 200)
    with pytest.raises(PackageLimitError, match=r"deep\.json nests JSON deeper than 64"):
        read_package(tmp_path)


# --- the CLI reports each refusal as one line and exit 2 -----------------------------------------------
@pytest.mark.parametrize(
    ("archive", "problem"),
    [
        (raw_zip([AGENT, entry("flows/f/f.json", b"[" * 5000 + b"]" * 5000)]), "nests JSON deeper than 64"),
        (raw_zip([AGENT, entry("flows/f/f.json", b"{}", flags=0x1)]), "is encrypted"),
        (raw_zip([AGENT, entry("flows/f/f.json", b"{}", method=99)]), "compression method 99"),
        (raw_zip([AGENT, AGENT]), "appears more than once"),
    ],
    ids=["deep-json", "encrypted", "unknown-method", "duplicate"],
)
def test_cli_refusals_exit_2_with_one_line(archive: bytes, problem: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "hostile.zip"
    path.write_bytes(archive)
    for command in (["lint", str(path)], ["diff", str(path), str(path)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert problem in err
        assert err.count("\n") == 1
        assert err.startswith("error: ")
        assert "Traceback" not in err


def test_cli_limit_flags(tmp_path: Path, capsys) -> None:
    path = tmp_path / "agent.zip"
    path.write_bytes(write_zip(read_package(sample_agent_path())))
    assert main(["lint", str(path), "--fail-on", "none"]) == 0
    assert main(["lint", str(path), "--max-bytes", "1000"]) == 2
    assert "inflates past 1000 bytes (ReadLimits.max_total_bytes)" in capsys.readouterr().err
    assert main(["lint", str(path), "--max-files", "3"]) == 2
    assert "the limit is 3 (ReadLimits.max_files)" in capsys.readouterr().err
    assert main(["diff", str(path), str(path), "--max-json-depth", "2"]) == 2
    assert "nests JSON deeper than 2 levels" in capsys.readouterr().err
    assert main(["lint", str(path), "--max-entry-bytes", "100"]) == 2
    assert "(ReadLimits.max_entry_bytes)" in capsys.readouterr().err
    assert main(["lint", str(path), "--max-ratio", "0"]) == 2
    assert "ReadLimits.max_compression_ratio must be a positive integer" in capsys.readouterr().err


# --- reading is linear in the file count ----------------------------------------------------------------
class _CountingDict(dict[str, object]):
    """A dict that counts how many keys iterating it has visited, over all iterations."""

    visits = 0

    def __iter__(self):  # type: ignore[override]
        for key in super().__iter__():
            self.visits += 1
            yield key


def test_building_the_model_visits_each_file_a_bounded_number_of_times() -> None:
    from airflow_provider_cx.package.io import _build

    for intents in (500, 2000):
        files = _CountingDict({"agent.json": {"displayName": "many"}})
        for n in range(intents):
            files[f"intents/i{n}/i{n}.json"] = {"displayName": f"i{n}"}
            files[f"intents/i{n}/trainingPhrases/en.json"] = {"trainingPhrases": []}
        package = _build(files)
        assert len(package.intents) == intents
        assert package.intents[0].parts == {"trainingPhrases/en.json": {"trainingPhrases": []}}
        assert files.visits <= 4 * 2 * intents, (intents, files.visits)  # quadratic: intents x files


def test_a_package_of_20k_files_reads_completely() -> None:
    files = {"agent.json": b'{"displayName": "many"}'}
    for n in range(10_000):
        files[f"intents/i{n}/i{n}.json"] = b'{"displayName": "i%d"}' % n
        files[f"intents/i{n}/trainingPhrases/en.json"] = b'{"trainingPhrases": []}'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    package = read_package(buffer.getvalue())
    assert len(package.intents) == 10_000
    assert package.intent("i9999") is not None


def test_many_small_entries_each_under_the_ratio_floor_cannot_add_up_to_a_bomb() -> None:
    stream, crc = deflate_repeated(b" " * 1024, 1023)  # just under 1 MiB each, about 1 KB compressed
    archive = raw_zip(
        [AGENT, *(RawEntry(f"assets/{n}.bin", stream, crc=crc, declared_size=1023 * 1024) for n in range(300))]
    )
    peak, raised = peak_bytes(lambda: read_package(archive))
    assert isinstance(raised, PackageLimitError)
    assert str(raised) == (
        "<bytes> inflates more than 100:1 in all (ReadLimits.max_compression_ratio), which looks like a zip bomb"
    )
    assert peak < 3 * 100 * len(archive) + 2 * MiB, (peak, len(archive))
