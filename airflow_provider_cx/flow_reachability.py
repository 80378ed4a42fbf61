"""Which flows a conversation can reach: one rule for agent packages and for the CX API. Pure data in, names out.

The rule:

- **Roots** are the agent's start flow plus every flow a playbook names (a playbook hands the
  conversation to a flow by naming it anywhere in its instructions or examples). With no root —
  an agent without a start flow and without playbooks naming flows — reachability is unknown:
  :func:`reachable_flows` returns ``None`` and callers treat every flow as in play.
- A flow **reaches** another through a target flow anywhere in the flow itself (its start page's
  routes and event handlers), its pages (routes, event handlers, form reprompt handlers) and the
  route groups those use. Subtrees holding user data (custom payloads, parameter presets, webhook
  request bodies) are not structure: a ``targetFlow`` key inside them is not a transition.

Callers give each flow a key and, through ``targets_of``, the keys its resources' dict forms
transition to (:func:`flow_targets`); they resolve references to keys themselves: an export names
flows by display name, the API by resource name. Both dict spellings are read
(``targetFlow`` in exports, ``target_flow`` in proto-plus ``to_dict`` output).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

TARGET_FLOW_KEYS = frozenset({"targetFlow", "target_flow"})
#: Keys whose values are user data, not agent structure (both spellings).
OPAQUE_KEYS = frozenset(
    {
        "setParameterActions",
        "set_parameter_actions",
        "payload",
        "sessionParameters",
        "session_parameters",
        "parameterMapping",
        "parameter_mapping",
        "requestBody",
        "request_body",
    }
)


def target_flow_refs(resources: Iterable[Any]) -> Iterator[str]:
    """Every non-empty target flow reference in the dict forms of ``resources`` (user data skipped)."""
    stack: list[Any] = list(resources)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in TARGET_FLOW_KEYS:
                    if isinstance(value, str) and value:
                        yield value
                elif key not in OPAQUE_KEYS and isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(item for item in node if isinstance(item, dict | list))


def playbook_flow_refs(playbooks: Iterable[Any], flow_names: Iterable[str]) -> set[str]:
    """The names of ``flow_names`` that some playbook's dict form contains as a string (stripped)."""
    wanted = {name.strip() for name in flow_names}
    found: set[str] = set()
    stack: list[Any] = list(playbooks)
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if node.strip() in wanted:
                found.add(node.strip())
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def flow_targets(resources: Iterable[Any], resolve: Callable[[str], str | None]) -> set[str]:
    """Keys of the flows that ``resources`` (a flow, its pages and the route groups they use) transition to.

    ``resolve`` turns a target reference into a flow key, or ``None`` for a flow that does not exist.
    """
    return {key for ref in target_flow_refs(resources) if (key := resolve(ref)) is not None}


def reachable_flows(roots: Iterable[str | None], targets_of: Callable[[str], Iterable[str]]) -> set[str] | None:
    """Keys of the flows reachable from ``roots`` (which count as reached); ``None`` when there is no root.

    ``targets_of(key)`` is called once per reached flow, so a caller reading through the API lists
    the pages of reachable flows only.
    """
    seen = {root for root in roots if root}
    if not seen:
        return None
    todo = list(seen)
    while todo:
        for target in targets_of(todo.pop()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen
