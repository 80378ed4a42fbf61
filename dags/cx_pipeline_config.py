"""The CX pipelines' configuration: which agents are dev, staging and prod, what to check and back up.

Read when a DAG file is parsed, from ``cx_config.json`` beside this module or from the file named by
``$CX_PIPELINE_CONFIG``. Each DAG turns the values into Params, so a triggered run can override them.
Everything is checked here, so a wrong config shows up as an import error naming the key, not as a
task failing halfway through a release: an unknown key (a typo would otherwise fall back to a default)
is refused with its JSON path and the nearest known key, numbers are finite and bounded, and the
artifacts base and every folder derived from it are normalised and stay inside it. The same checks
serve the DAGs' run-time params (:func:`check_release_id`, :func:`check_artifacts_base`). JSON and
resource-name parsing only: no network, and Airflow only for :meth:`PipelineConfig.backup_asset`.

Shape (every key but ``stages`` is optional)::

    {"gcp_conn_id": "google_cloud_default",          # default connection of every stage and target
     "artifacts_base": "",                            # "" -> file://$AIRFLOW_HOME/cx-artifacts
     "stages": {"dev":     {"agent": "projects/P/locations/L/agents/A", "environment": "dev"},
                "staging": {..., "profile": "profiles/staging.json"},  # stage profile: path (relative
                "prod": {..., "gcp_conn_id": "cx_prod", "profile": "gs://b/prod.json"}},  # to this file) or URI
     "deferrable_test_runs": true,                    # test-case runs wait in the triggerer
     "deferrable_versions": true,                     # the release's version creates wait there too
     "poll_interval": 2.0,                            # seconds between checks of a long-running operation
     "release": {"lint_fail_on": "ERROR", "validate_fail_on": "ERROR", "min_pass_rate": 1.0,
                 "smoke_test": [{"text": "hi", "expected_intent": "...", "expected_page": "..."}],
                 "min_smoke_accuracy": 1.0,
                 "version_all_flows": false},             # true: version every flow, changed or not
     "targets": [{"key": "prod", "agent": "...", "environments": ["production"]}],  # default: staging, prod
     "validation": {"schedule": "0 6 * * *", "fail_on": "ERROR", "min_pass_rate": 1.0,
                    "min_intent_coverage": 0.0, "min_transition_coverage": 0.0},
     "backup": {"schedule": "0 2 * * *", "keep_last": 14},
     "task_retries": 0}
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from airflow_provider_cx.resource_names import InvalidResourceNameError, parse_agent_name

CONFIG_ENV = "CX_PIPELINE_CONFIG"
DEFAULT_CONFIG_PATH = Path(__file__).with_name("cx_config.json")
STAGES = ("dev", "staging", "prod")
SEVERITIES = ("INFO", "WARNING", "ERROR")
DRAFT = "draft"
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
#: A release id names flow versions (64 characters at most) and one folder: no separators, no ``.``/``..``
#: (the leading character excludes them), no leading ``-`` (an option to any tool it reaches).
RELEASE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: One folder name under the artifacts base (release ids, target keys, slugs, run times).
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: The config's own shape is 5 levels deep; far deeper is a mistake, refused before anything walks it.
MAX_DEPTH = 8
MAX_POLL_INTERVAL = 3600.0  # an hour between operation checks is already longer than any CX operation
MAX_KEEP_LAST = 10_000
MAX_TASK_RETRIES = 20
_SMOKE_KEYS = ("text", "expected_intent", "expected_page", "language_code")
# Values quoted in messages are shortened: a config error must stay one readable line.
_REPR = reprlib.Repr()
_REPR.maxstring = 80
_REPR.maxother = 80


def slug(text: str) -> str:
    """``text`` as a file-name and task-id friendly word (``"Prod EU"`` -> ``"prod-eu"``)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


class PipelineConfigError(ValueError):
    """The pipeline configuration file is missing, not JSON, or has a wrong value (the message names it)."""


def check_release_id(release_id: Any, where: str = "release_id") -> str:
    """``release_id`` if it can name flow versions and a folder: 1..64 of ``[A-Za-z0-9._-]``, a letter or
    digit first (so never ``.``, ``..`` or an option-like ``-x``); otherwise :class:`PipelineConfigError`."""
    if not isinstance(release_id, str) or not RELEASE_ID_PATTERN.fullmatch(release_id):
        raise PipelineConfigError(
            f"{where} {_REPR.repr(release_id)} must be 1 to 64 letters, digits, '.', '_' or '-', starting with "
            "a letter or digit (it names the flow versions and the release folder)"
        )
    return release_id


def check_artifacts_base(value: Any, where: str = "artifacts_base") -> str:
    """``value`` as a normalised URI: ``file:///abs/path`` for local paths, ``scheme://host/path`` otherwise.

    No trailing slash, no empty, ``.`` or ``..`` segment (also percent-encoded), no control character
    or backslash, and local paths must be absolute (a worker's working directory is not fixed).
    """
    if not isinstance(value, str) or not value.strip():
        raise PipelineConfigError(f"{where} must be a non-empty path or URI, got {_REPR.repr(value)}")
    text = value.strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text) or "\\" in text:
        raise PipelineConfigError(f"{where} {_REPR.repr(text)} contains a control character or a backslash")
    parsed = urlparse(text)
    scheme = parsed.scheme.lower() if len(parsed.scheme) > 1 else ""
    if scheme in ("", "file"):
        return _local_base(text, parsed.path if scheme else os.path.expanduser(text), parsed.netloc, where)
    if not parsed.netloc or parsed.params or parsed.query or parsed.fragment:
        raise PipelineConfigError(
            f"{where} {_REPR.repr(text)} must be {scheme}://<bucket or host>/<path>, nothing after it"
        )
    path = parsed.path.rstrip("/")
    _check_segments(text, path.split("/")[1:] if path else [], where)
    return f"{scheme}://{parsed.netloc}{path}"


def _local_base(text: str, path: str, netloc: str, where: str) -> str:
    if netloc not in ("", "localhost"):
        raise PipelineConfigError(f"{where} {_REPR.repr(text)}: a file:// URI must name a local folder (file:///path)")
    path = unquote(path) if text.lower().startswith("file:") else path
    if not path.startswith("/"):
        raise PipelineConfigError(f"{where} {_REPR.repr(text)} must be an absolute path or a URI")
    _check_segments(text, [segment for segment in path.rstrip("/").split("/")[1:] if segment], where)
    return Path(path).as_uri()


def _check_segments(text: str, segments: list[str], where: str) -> None:
    for segment in segments:
        decoded = unquote(segment)  # a backend may decode %2e%2e or %2f: judge what it would see
        if decoded in ("", ".", "..") or "/" in decoded or "\\" in decoded:
            raise PipelineConfigError(
                f"{where} {_REPR.repr(text)} has an empty, '.' or '..' segment or an encoded separator; "
                "give the folder itself, normalised"
            )


def folder_in(base: str, *parts: str) -> str:
    """``base/part/...`` where each part is one plain folder name, so the result stays inside ``base``."""
    for part in parts:
        if not _SEGMENT.fullmatch(part):
            raise PipelineConfigError(f"{part!r} cannot name a folder under {base}: letters, digits, '.', '_', '-'")
    return "/".join([base.rstrip("/"), *parts])


def release_folder(artifacts_base: Any, release_id: Any) -> str:
    """``<artifacts_base>/releases/<release_id>`` after checking both (run-time params of the release DAG)."""
    base = check_artifacts_base(artifacts_base, "params.artifacts_base")
    return folder_in(base, "releases", check_release_id(release_id, "params.release_id"))


@dataclass(frozen=True)
class Stage:
    """One step of the promotion path: an agent and the environment that serves it."""

    name: str
    agent: str
    environment: str
    gcp_conn_id: str
    profile: str | None = None  # stage profile applied to the release before it reaches this stage


@dataclass(frozen=True)
class Target:
    """An agent that scheduled validation and backups cover, with the environments to cover."""

    key: str
    agent: str
    environments: tuple[str, ...]
    gcp_conn_id: str


@dataclass(frozen=True)
class ReleaseSettings:
    lint_fail_on: str = "ERROR"
    validate_fail_on: str = "ERROR"
    min_pass_rate: float = 1.0
    smoke_test: tuple[dict[str, str], ...] = ()
    min_smoke_accuracy: float = 1.0
    # False: a release versions only the flows that differ from what the stage's environment serves.
    version_all_flows: bool = False


@dataclass(frozen=True)
class ValidationSettings:
    schedule: str | None = "0 6 * * *"
    fail_on: str = "ERROR"
    min_pass_rate: float = 1.0
    min_intent_coverage: float = 0.0
    min_transition_coverage: float = 0.0


@dataclass(frozen=True)
class BackupSettings:
    schedule: str | None = "0 2 * * *"
    keep_last: int = 14


@dataclass(frozen=True)
class PipelineConfig:
    source: Path
    gcp_conn_id: str
    artifacts_base: str
    stages: dict[str, Stage]
    targets: tuple[Target, ...]
    release: ReleaseSettings = field(default_factory=ReleaseSettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    deferrable_test_runs: bool = True
    deferrable_versions: bool = True
    poll_interval: float = 2.0
    task_retries: int = 0

    def backup_folder(self, key: str, environment: str | None) -> str:
        """Where backups of target ``key``'s ``environment`` (``None``: its draft) go, one subfolder per run."""
        return folder_in(self.artifacts_base, "backups", key, slug(environment or DRAFT))

    def backup_asset(self, key: str, environment: str | None) -> Any:
        """The Airflow Asset updated by each backup of that agent and environment: schedule DAGs on it."""
        from airflow.sdk import Asset

        self.target(key)  # unknown keys fail here, at parse time
        return Asset(name=f"cx_backup.{key}.{slug(environment or DRAFT)}", uri=self.backup_folder(key, environment))

    def target(self, key: str) -> Target:
        for target in self.targets:
            if target.key == key:
                return target
        raise PipelineConfigError(f"{self.source}: no target with key {key!r}")


#: The keys each level of the document may hold (everything else is a typo or a stale setting).
_TOP_KEYS = tuple(f.name for f in fields(PipelineConfig) if f.name not in ("source",))
_STAGE_KEYS = ("agent", "environment", "gcp_conn_id", "profile")
_TARGET_KEYS = ("key", "agent", "environments", "gcp_conn_id")


def config_path() -> Path:
    """The file to read: ``$CX_PIPELINE_CONFIG`` if set, else ``cx_config.json`` beside this module."""
    override = os.environ.get(CONFIG_ENV, "").strip()
    return Path(override).expanduser() if override else DEFAULT_CONFIG_PATH


def default_artifacts_base() -> str:
    """``file://<AIRFLOW_HOME>/cx-artifacts``: where releases, reports and backups go unless configured."""
    home = os.environ.get("AIRFLOW_HOME") or str(Path("~/airflow").expanduser())
    return (Path(home).absolute() / "cx-artifacts").as_uri()


def load_config(path: str | os.PathLike[str] | None = None) -> PipelineConfig:
    """Read and check the configuration (see the module docstring for its shape)."""
    source = Path(path) if path is not None else config_path()
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineConfigError(
            f"pipeline config {source} does not exist (set ${CONFIG_ENV} to another file)"
        ) from None
    except RecursionError:
        raise PipelineConfigError(
            f"pipeline config {source} is nested too deeply (at most {MAX_DEPTH} levels)"
        ) from None
    # ValueError covers JSONDecodeError and integers too long to convert.
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise PipelineConfigError(f"pipeline config {source} is not readable JSON: {error}") from None
    return parse_config(raw, source)


def parse_config(raw: Any, source: Path = DEFAULT_CONFIG_PATH) -> PipelineConfig:
    """Check a parsed JSON document and build the configuration from it."""
    reader = _Reader(source)
    reader.depth(raw)
    doc = reader.mapping(raw, "the top level", _TOP_KEYS, "")
    conn_id = reader.text(doc.get("gcp_conn_id", "google_cloud_default"), "gcp_conn_id")
    stages_doc = reader.mapping(doc.get("stages"), "stages", STAGES)
    missing = [name for name in STAGES if name not in stages_doc]
    if missing:
        raise reader.error(
            f"stages: {', '.join(missing)} missing; give an agent and an environment for each of {STAGES}"
        )
    stages = {name: reader.stage(name, stages_doc[name], conn_id) for name in STAGES}
    agents = [stage.agent for stage in stages.values()]
    if len(set(agents)) != len(agents):
        raise reader.error("stages: dev, staging and prod must be three different agents")
    return PipelineConfig(
        source=source,
        gcp_conn_id=conn_id,
        artifacts_base=reader.checked(check_artifacts_base, doc.get("artifacts_base") or default_artifacts_base()),
        stages=stages,
        targets=reader.targets(doc.get("targets"), stages, conn_id),
        release=reader.release(doc.get("release", {})),
        validation=reader.validation(doc.get("validation", {})),
        backup=reader.backup(doc.get("backup", {})),
        deferrable_test_runs=reader.flag(doc.get("deferrable_test_runs", True), "deferrable_test_runs"),
        deferrable_versions=reader.flag(doc.get("deferrable_versions", True), "deferrable_versions"),
        poll_interval=reader.seconds(doc.get("poll_interval", 2.0), "poll_interval", MAX_POLL_INTERVAL),
        task_retries=reader.count(doc.get("task_retries", 0), "task_retries", 0, MAX_TASK_RETRIES),
    )


def _number(value: Any) -> bool:
    """A finite JSON number (JSON's ``true`` is a bool, not 1; Python's json reads ``Infinity`` and ``NaN``)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Reader:
    """Type checks that name the offending key (by its JSON path) and the file."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def error(self, message: str) -> PipelineConfigError:
        return PipelineConfigError(f"pipeline config {self.source}: {message}")

    def checked(self, check: Callable[[Any], str], value: Any) -> str:
        """``check(value)`` with its error re-raised naming the file."""
        try:
            return check(value)
        except PipelineConfigError as error:
            raise self.error(str(error)) from None

    def depth(self, raw: Any) -> None:
        """Refuse a document nested deeper than MAX_DEPTH, walking it without recursion."""
        pending = [(raw, 1)]
        while pending:
            value, level = pending.pop()
            if level > MAX_DEPTH:
                raise self.error(f"nested too deeply (at most {MAX_DEPTH} levels of objects and lists)")
            children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
            pending.extend((child, level + 1) for child in children)

    def mapping(self, value: Any, where: str, known: tuple[str, ...], path: str | None = None) -> dict[str, Any]:
        """``value`` as an object holding only ``known`` keys; ``path`` prefixes key paths (default ``where``)."""
        if not isinstance(value, dict):
            raise self.error(f"{where} must be a JSON object, got {type(value).__name__}")
        prefix = where if path is None else path
        for key in value:
            if key not in known:
                raise self.unknown(key, f"{prefix}.{key}" if prefix else str(key), known)
        return value

    def unknown(self, key: Any, path: str, known: tuple[str, ...]) -> PipelineConfigError:
        nearest = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f"did you mean {nearest[0]}?" if nearest else f"known keys: {', '.join(known)}"
        shown = path if len(path) <= 120 else path[:117] + "..."
        return self.error(f"unknown key {_REPR.repr(key)} at {shown.encode('unicode_escape').decode()}; {hint}")

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{where} must be a non-empty string, got {_REPR.repr(value)}")
        return value.strip()

    def fraction(self, value: Any, where: str) -> float:
        if not _number(value) or not 0 <= value <= 1:
            raise self.error(f"{where} must be a number from 0 to 1, got {_REPR.repr(value)}")
        return float(value)

    def count(self, value: Any, where: str, minimum: int, maximum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise self.error(f"{where} must be a whole number from {minimum} to {maximum}, got {_REPR.repr(value)}")
        return value

    def flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.error(f"{where} must be true or false, got {_REPR.repr(value)}")
        return value

    def seconds(self, value: Any, where: str, maximum: float) -> float:
        if not _number(value) or not 0 < value <= maximum:
            raise self.error(
                f"{where} must be a positive number of seconds, at most {maximum:g}, got {_REPR.repr(value)}"
            )
        return float(value)

    def severity(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or value.upper() not in SEVERITIES:
            raise self.error(f"{where} must be one of {', '.join(SEVERITIES)}, got {_REPR.repr(value)}")
        return value.upper()

    def schedule(self, value: Any, where: str) -> str | None:
        return None if value is None else self.text(value, where)

    def agent(self, value: Any, where: str) -> str:
        name = self.text(value, where)
        try:
            parsed = parse_agent_name(name)
        except InvalidResourceNameError as error:
            raise self.error(f"{where}: {error}") from None
        if parsed.name != parsed.agent_name:
            raise self.error(f"{where}: {name!r} is not an agent; expected projects/P/locations/L/agents/A")
        return name

    def stage(self, name: str, value: Any, conn_id: str) -> Stage:
        doc = self.mapping(value, f"stages.{name}", _STAGE_KEYS)
        return Stage(
            name=name,
            agent=self.agent(doc.get("agent"), f"stages.{name}.agent"),
            environment=self.text(doc.get("environment"), f"stages.{name}.environment"),
            gcp_conn_id=self.text(doc.get("gcp_conn_id", conn_id), f"stages.{name}.gcp_conn_id"),
            profile=self.profile(name, doc.get("profile")),
        )

    def profile(self, stage: str, value: Any) -> str | None:
        """A stage profile's URI, or its local path made absolute; a local one is read and checked now."""
        if value is None:
            return None
        where = f"stages.{stage}.profile"
        if stage == "dev":
            raise self.error(f"{where}: dev's export is the release; profiles apply to staging and prod")
        text = self.text(value, where)
        if "://" in text and not text.startswith("file://"):
            return text  # object storage: read by the task
        from airflow_provider_cx.package.profile import ProfileError, load_profile

        path = Path(text.removeprefix("file://")).expanduser()
        path = path if path.is_absolute() else (self.source.parent / path).resolve()
        try:
            load_profile(path)
        except ProfileError as error:
            raise self.error(f"{where}: {error}") from None
        return str(path)

    def targets(self, value: Any, stages: dict[str, Stage], conn_id: str) -> tuple[Target, ...]:
        if value is None:  # by default: what the release pipeline deploys to
            return tuple(
                Target(stage.name, stage.agent, (stage.environment,), stage.gcp_conn_id)
                for stage in (stages["staging"], stages["prod"])
            )
        if not isinstance(value, list) or not value:
            raise self.error("targets must be a non-empty list of {key, agent, environments}")
        targets = []
        for index, item in enumerate(value):
            where = f"targets[{index}]"
            doc = self.mapping(item, where, _TARGET_KEYS)
            key = self.text(doc.get("key"), f"{where}.key")
            if not _KEY.fullmatch(key):
                raise self.error(f"{where}.key {key!r} must be lowercase letters, digits, '-' or '_' (at most 40)")
            environments = doc.get("environments")
            if not isinstance(environments, list) or not environments:
                raise self.error(f"{where}.environments must be a non-empty list of environment names")
            targets.append(
                Target(
                    key=key,
                    agent=self.agent(doc.get("agent"), f"{where}.agent"),
                    environments=tuple(self.text(env, f"{where}.environments") for env in environments),
                    gcp_conn_id=self.text(doc.get("gcp_conn_id", conn_id), f"{where}.gcp_conn_id"),
                )
            )
        keys = [target.key for target in targets]
        if len(set(keys)) != len(keys):
            raise self.error(f"targets: keys must be unique, got {keys}")
        return tuple(targets)

    def smoke_test(self, value: Any) -> tuple[dict[str, str], ...]:
        if not isinstance(value, list):
            raise self.error("release.smoke_test must be a list of {text, expected_intent, expected_page}")
        rows = []
        for index, row in enumerate(value):
            where = f"release.smoke_test[{index}]"
            doc = self.mapping(row, where, _SMOKE_KEYS)
            if not doc.get("text"):
                raise self.error(f"{where} needs a text: release.smoke_test is a list of {{text, expected_intent}}")
            rows.append({key: self.text(text, f"{where}.{key}") for key, text in doc.items()})
        return tuple(rows)

    def release(self, value: Any) -> ReleaseSettings:
        doc = self.mapping(value, "release", tuple(f.name for f in fields(ReleaseSettings)))
        defaults = ReleaseSettings()
        return ReleaseSettings(
            lint_fail_on=self.severity(doc.get("lint_fail_on", defaults.lint_fail_on), "release.lint_fail_on"),
            validate_fail_on=self.severity(
                doc.get("validate_fail_on", defaults.validate_fail_on), "release.validate_fail_on"
            ),
            min_pass_rate=self.fraction(doc.get("min_pass_rate", defaults.min_pass_rate), "release.min_pass_rate"),
            smoke_test=self.smoke_test(doc.get("smoke_test", [])),
            min_smoke_accuracy=self.fraction(
                doc.get("min_smoke_accuracy", defaults.min_smoke_accuracy), "release.min_smoke_accuracy"
            ),
            version_all_flows=self.flag(
                doc.get("version_all_flows", defaults.version_all_flows), "release.version_all_flows"
            ),
        )

    def validation(self, value: Any) -> ValidationSettings:
        doc = self.mapping(value, "validation", tuple(f.name for f in fields(ValidationSettings)))
        defaults = ValidationSettings()
        return ValidationSettings(
            schedule=self.schedule(doc.get("schedule", defaults.schedule), "validation.schedule"),
            fail_on=self.severity(doc.get("fail_on", defaults.fail_on), "validation.fail_on"),
            min_pass_rate=self.fraction(doc.get("min_pass_rate", defaults.min_pass_rate), "validation.min_pass_rate"),
            min_intent_coverage=self.fraction(
                doc.get("min_intent_coverage", defaults.min_intent_coverage), "validation.min_intent_coverage"
            ),
            min_transition_coverage=self.fraction(
                doc.get("min_transition_coverage", defaults.min_transition_coverage),
                "validation.min_transition_coverage",
            ),
        )

    def backup(self, value: Any) -> BackupSettings:
        doc = self.mapping(value, "backup", tuple(f.name for f in fields(BackupSettings)))
        defaults = BackupSettings()
        keep_last = doc.get("keep_last", defaults.keep_last)
        if type(keep_last) is int and keep_last == 0:
            raise self.error("backup.keep_last must be at least 1 (the backup just taken)")
        return BackupSettings(
            schedule=self.schedule(doc.get("schedule", defaults.schedule), "backup.schedule"),
            keep_last=self.count(keep_last, "backup.keep_last", 1, MAX_KEEP_LAST),
        )
