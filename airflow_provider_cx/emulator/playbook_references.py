"""Display-name references to tools and playbooks, kept right when one is renamed or deleted.

Package references are display names: a playbook names what it may call in ``referencedTools`` /
``referencedPlaybooks``, its examples name the tool or playbook each action used (``toolUse.tool``,
``playbookInvocation.playbook``, ``playbookTransition.playbook``), and flows name playbooks they
hand over to (``targetPlaybook``). Renaming a tool or a playbook rewrites all of them; deleting one
either is refused or (forced) drops the playbooks' names of it.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_cx.package import AgentPackage, Resource

JSON = Any
TOOLS = ("referencedTools", "tool")
PLAYBOOKS = ("referencedPlaybooks", "playbook")


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


def rename_everywhere(package: AgentPackage, keys: tuple[str, str], old: str, new: str) -> None:
    """A tool or playbook renamed: playbook lists, example actions and (playbooks) flow targets."""
    list_key, action_key = keys
    rewrite(package, list_key, old, new)
    for playbook in package.collections.get("playbooks", []):
        for path, part in playbook.parts.items():
            if path.startswith("examples/"):
                _rename_under(part, action_key, old, new)
    if keys == PLAYBOOKS:
        for flow in package.flows:
            for body in (flow.data, *(c.data for c in (*flow.pages, *flow.route_groups))):
                _rename_under(body, "targetPlaybook", old, new)
        for group in package.route_groups:
            _rename_under(group.data, "targetPlaybook", old, new)


def _rename_under(value: JSON, key: str, old: str, new: str) -> None:
    if isinstance(value, dict):
        for k, item in value.items():
            if k == key and isinstance(item, str) and item.strip() == old.strip():
                value[k] = new
            else:
                _rename_under(item, key, old, new)
    elif isinstance(value, list):
        for item in value:
            _rename_under(item, key, old, new)
