"""What playbooks name by display name: ``referencedTools``, ``referencedPlaybooks``, ``referencedFlows``.

Package references are display names, so renaming a tool or a playbook rewrites the playbooks that
name it, and deleting one either is refused or (forced) drops those names.
"""

from __future__ import annotations

from airflow_provider_cx.package import AgentPackage, Resource


def playbooks_naming(package: AgentPackage, key: str, display: str) -> list[Resource]:
    """The playbooks whose ``key`` list names ``display``."""
    playbooks = package.collections.get("playbooks", [])
    return [p for p in playbooks if display.strip() in [str(v).strip() for v in p.data.get(key, []) or []]]


def rewrite(package: AgentPackage, key: str, old: str, new: str | None) -> None:
    """Point playbooks naming ``old`` under ``key`` at ``new`` (None drops the name)."""
    for playbook in playbooks_naming(package, key, old):
        names = [str(v) for v in playbook.data.get(key, [])]
        renamed = [new if name.strip() == old.strip() else name for name in names]
        playbook.data[key] = [name for name in renamed if name is not None]
