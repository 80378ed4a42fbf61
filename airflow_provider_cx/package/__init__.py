"""Pure agent-package code: the model, reading and writing, lint, diff and reports (no Airflow, no network)."""

from __future__ import annotations

from airflow_provider_cx.package.io import (
    ReadLimits,
    package_files,
    parse_files,
    read_package,
    write_folder,
    write_zip,
)
from airflow_provider_cx.package.model import (
    AgentPackage,
    Flow,
    PackageError,
    PackageLimitError,
    Resource,
    UnsafePackageError,
    encode_stem,
    new_id,
)

__all__ = [
    "AgentPackage",
    "Flow",
    "PackageError",
    "PackageLimitError",
    "ReadLimits",
    "Resource",
    "UnsafePackageError",
    "encode_stem",
    "new_id",
    "package_files",
    "parse_files",
    "read_package",
    "write_folder",
    "write_zip",
]
