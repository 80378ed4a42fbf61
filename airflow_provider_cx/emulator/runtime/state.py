"""What a conversation remembers between turns, and what one turn returns."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

START_PAGE = "Start Page"
END_SESSION = "End Session"
END_FLOW = "End Flow"


class RuntimeErrorBase(Exception):
    """Base of the conversation runtime's errors."""


class UnknownTargetError(RuntimeErrorBase):
    """A request names a flow or page the agent does not have (the message names it)."""


class TransitionLoopError(RuntimeErrorBase):
    """One turn made more transitions than any sane agent does: the agent loops between pages."""


class MatchType:
    """``QueryResult.match.match_type`` values the runtime produces."""

    INTENT = "INTENT"
    DIRECT_INTENT = "DIRECT_INTENT"
    PARAMETER_FILLING = "PARAMETER_FILLING"
    NO_MATCH = "NO_MATCH"
    NO_INPUT = "NO_INPUT"
    EVENT = "EVENT"


def param_of(params: dict[str, Any], name: str) -> Any:
    """A parameter's value; names are case-insensitive in CX ("Artist" and "artist" are one parameter)."""
    if name in params:
        return params[name]
    folded = name.casefold()
    for key, value in params.items():
        if key.casefold() == folded:
            return value
    return None


def set_param_in(params: dict[str, Any], name: str, value: Any) -> None:
    """Set (or, with None, clear) a parameter, keeping the spelling it was first set with."""
    folded = name.casefold()
    key = next((k for k in params if k.casefold() == folded), name)
    if value is None:
        params.pop(key, None)
    else:
        params[key] = value


@dataclass
class SessionState:
    """The state of one session: where it is, what it knows, and its no-match/no-input counters.

    ``flow``/``page`` are display names (``page`` None means the flow's start page); ``flow_stack``
    holds the (flow, page) pairs to return to on END_FLOW; ``flow_params`` holds ``$flow.x``
    parameters per flow.
    """

    flow: str | None = None
    page: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    flow_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    flow_stack: list[tuple[str, str | None]] = field(default_factory=list)
    prompted_param: str | None = None
    no_match_count: int = 0
    no_input_count: int = 0
    previous_page: tuple[str, str | None] | None = None
    ended: bool = False
    turn_count: int = 0

    def reset(self) -> None:
        """Start over, as CX does for a session that reached END_SESSION."""
        self.__init__()  # type: ignore[misc]

    def copy(self) -> SessionState:
        return copy.deepcopy(self)


@dataclass
class ResponseText:
    """A text message as sent, with every variant the agent could have sent instead (CX picks one at random)."""

    text: str
    variants: list[str]


@dataclass
class TurnResult:
    """The outcome of one DetectIntent turn, by display names."""

    match_type: str
    intent: str | None
    confidence: float
    flow: str
    page: str
    parameters: dict[str, Any]
    messages: list[dict[str, Any]]
    texts: list[ResponseText]
    end_interaction: bool
    webhook_statuses: list[dict[str, Any]]
    diagnostic_info: dict[str, Any]
    intent_parameters: dict[str, Any] = field(default_factory=dict)
    language: str = "en"
    event: str | None = None

    @property
    def text_responses(self) -> list[str]:
        return [t.text for t in self.texts]
