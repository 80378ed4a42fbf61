"""Escaping untrusted text for Markdown, so that no value can change the structure of a document.

Display names, routes, URIs and messages come from agent packages and API responses, and the
documents they land in (release notes, reports, the approval request) are read by the person who
approves a release. A value must therefore stay one piece of inline text: control characters
(CR, LF, ESC, other C0 and C1 codes, line and paragraph separators, bidi overrides) are shown as
visible escapes such as ``\\r`` or ``\\u202e``; Markdown punctuation is backslash-escaped in text;
code spans get a fence no backtick inside can close.

This module imports nothing from the project, so any renderer (operators, DAGs) can use it.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, line / paragraph separators and the bidi embedding, override and
# isolate controls: each can break a line or make text display differently from what it says.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_LINE_BREAK = re.compile("\r\n|\r|\n|\u2028|\u2029")
# Characters that start inline markup anywhere (emphasis, code, links, HTML, tables, entities).
_INLINE_MARKUP = re.compile(r"([\\`*_\[\]<>|~&])")
# Constructs that only mean something at the start of a line: headings, lists, quotes, setext rules.
_LINE_START_MARKUP = re.compile(r"^([#+=-]|\d+(?=[.)]))")


def visible(text: str) -> str:
    """``text`` with every control character replaced by a visible escape (``\\r``, ``\\x1b``, ``\\u202e``)."""
    return _CONTROL.sub(_escape_control, text)


def md_text(value: object, *, line_breaks: bool = False) -> str:
    """``value`` as plain Markdown text: safe in prose, a list item, a heading or a table cell.

    With ``line_breaks``, the value's own line breaks are kept as ``<br>`` (one cell, several
    lines); otherwise they are shown escaped like any other control character.
    """
    text = str(value)
    lines = _LINE_BREAK.split(text) if line_breaks else [text]
    return "<br>".join(_escape_line(line) for line in lines)


def md_code(value: object, *, in_table: bool = False) -> str:
    """``value`` as an inline code span, whatever backticks it holds (and pipes, ``in_table``)."""
    text = visible(str(value))
    if in_table:  # GitHub splits table cells on a pipe even inside a code span
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _escape_line(line: str) -> str:
    escaped = _INLINE_MARKUP.sub(r"\\\1", visible(line))
    return _LINE_START_MARKUP.sub(lambda m: _escape_line_start(m.group(1)), escaped, count=1)


def _escape_line_start(start: str) -> str:
    # An ordered-list marker is a number followed by "." or ")": escape the punctuation after it.
    return f"\\{start}" if not start[0].isdigit() else start + "\\"


def _escape_control(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


__all__ = ["md_code", "md_text", "visible"]
