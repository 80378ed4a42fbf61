"""Checks of a release record (summary.json, summary.md and the release folder) shared by the e2e tests."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

#: A Markdown link's target: ``[text](target)``, the text possibly holding escaped brackets.
MARKDOWN_LINK = re.compile(r"(?<!\\)\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)\)")


def links_in(markdown: str) -> list[str]:
    return MARKDOWN_LINK.findall(markdown)


def broken_links(folder: Path) -> dict[str, list[str]]:
    """Every link of every Markdown file in ``folder`` that does not lead to a file inside it, by file.

    An absolute URI (``file://``, ``gs://``) is broken by definition: it names the machine or bucket
    that wrote the folder, not the folder a reader holds.
    """
    broken: dict[str, list[str]] = {}
    for document in sorted(folder.rglob("*.md")):
        for target in links_in(document.read_text()):
            if urlparse(target).scheme in ("http", "https"):
                continue  # the console and other web pages are outside the folder on purpose
            path = (document.parent / unquote(target)).resolve()
            if urlparse(target).scheme or not path.is_file() or folder.resolve() not in path.parents:
                broken.setdefault(str(document.relative_to(folder)), []).append(target)
    return broken


def copied_elsewhere(folder: Path, destination: Path) -> Path:
    """The release folder copied to ``destination`` and the original removed, as a reader would hold it."""
    shutil.copytree(folder, destination)
    shutil.rmtree(folder)
    return destination


def check_record(summary: dict[str, Any], run_id: str, *, choice: str) -> None:
    """Every field the release record promises is there and consistent."""
    assert summary["run_id"] == run_id
    start, end = datetime.fromisoformat(summary["start"]), datetime.fromisoformat(summary["end"])
    assert start < end
    approval = summary["approval"]
    assert approval["choice"] == choice
    assert approval["by"]
    assert start < datetime.fromisoformat(approval["at"]) < end
    package = summary["package"]
    assert re.fullmatch(r"[0-9a-f]{64}", package["sha256"])
    assert package["size_bytes"] > 0
    assert package["uri"] == "dev-export.zip"  # relative to the release folder
    gates = {row["task"]: row for row in summary["gates"]}
    for task in ("export_dev", "lint_package", "test_staging", "deploy_staging", "approve_prod"):
        row = gates[task]
        assert row["outcome"] == "success", row
        assert start <= datetime.fromisoformat(row["start"]) <= datetime.fromisoformat(row["end"]) <= end, row
    assert gates["approve_prod"]["detail"].startswith(f"{choice} by {approval['by']} at ")
    assert gates["test_staging"]["report"] == "reports/staging/test_cases.md"
    assert gates["lint_package"]["report"].startswith("reports/lint")
    for stage in ("staging", "prod"):
        record = summary["environments"][stage]
        assert record["versions_before"], (stage, record)
        assert record["versions_after"], (stage, record)
        assert all("/versions/" in name for name in record["versions_after"].values())
    assert summary["stage_profiles"]["staging"]["package"] == "stages/staging.zip"
    assert not any(str(path).startswith("file:") for path in summary["reports"]), summary["reports"]
