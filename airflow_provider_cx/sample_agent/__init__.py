"""The project's own sample Dialogflow CX agent, "Acme Bank Support", as an unzipped JSON package.

It ships as package data so the demo, the operator tests and the emulator's conversation-runtime
tests all restore and replay the same agent; see README.md in this folder for what it contains. The
export itself sits in a folder of its own so that nothing but agent files is read into the package.
"""

from __future__ import annotations

from pathlib import Path

_FOLDER = Path(__file__).resolve().parent / "acme-bank-support"
_PROFILES = Path(__file__).resolve().parent / "profiles"


def sample_agent_path() -> Path:
    """The folder holding the sample agent's ``agent.json`` (readable with ``read_package``)."""
    return _FOLDER


def sample_profile_path(stage: str) -> Path:
    """The stage profile of the sample agent for ``stage`` ("staging" or "prod")."""
    path = _PROFILES / f"{stage}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in _PROFILES.glob("*.json")))
        raise FileNotFoundError(f"the sample agent has no stage profile {stage!r}; it has: {known}")
    return path


__all__ = ["sample_agent_path", "sample_profile_path"]
