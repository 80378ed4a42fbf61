"""Docstrings on a terminal: reStructuredText literals and roles are dropped, nothing else changes."""

from __future__ import annotations

from airflow_provider_cx.terminal_text import plain


def test_literals_and_roles_lose_their_markup() -> None:
    assert plain("run ``cx-emulator --port 0`` or :func:`.read_package`") == "run cx-emulator --port 0 or .read_package"
    assert (
        plain("see :class:`~airflow_provider_cx.package.AgentPackage`")
        == "see airflow_provider_cx.package.AgentPackage"
    )


def test_text_without_markup_is_unchanged() -> None:
    text = "a `single` backquote, a * star and ``unclosed"
    assert plain(text) == text
