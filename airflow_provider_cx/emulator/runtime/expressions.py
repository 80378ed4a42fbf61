"""The CX condition language: parsing and evaluation of route conditions and ``$sys.func`` calls.

Supported (what real agents use): ``AND`` / ``OR`` / ``NOT`` (any case) and parentheses;
comparisons ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` and ``:`` (has / contains);
references ``$session.params.x``, ``$page.params.x`` (and ``$page.params.status``), ``$flow.x``,
``$intent.params.x`` (``.resolvedValue`` / ``.originalValue``), ``$intent.display_name``,
``$request.language``; literals ``"strings"`` (backslash escapes), numbers, ``true``/``false``
(any case), ``null``; bare words such as ``FINAL`` are strings. Function calls
``$sys.func.NAME(args…)`` are evaluated by :mod:`functions`.

Semantics chosen to match what CX agents rely on:
- a reference to a parameter that is not set is ``null``;
- the quoted string ``"null"`` compares like ``null`` (real agents write ``$page.params.x != "null"``
  to test that a parameter is set, and their recorded conversations show CX treating it that way);
- ``=`` compares numbers numerically and booleans as ``true``/``false`` text against strings;
- ordering comparisons with a ``null`` side are false.
A condition that cannot be parsed raises :class:`ConditionError`, naming the condition.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from airflow_provider_cx.emulator.runtime.functions import call_function
from airflow_provider_cx.emulator.runtime.values import as_null, as_number, as_text, equal, truthy

MISSING = None  # an unset parameter evaluates to null


class ConditionError(ValueError):
    """A condition or template expression is not valid CX syntax."""


# --- lexer ------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<func>\$sys\.func\.[A-Za-z_][A-Za-z0-9_.]*)\s*\(
    | (?P<ref>\$[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+|\[\d+\])*)
    | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
    | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
    | (?P<op>!=|<=|>=|=|<|>|:)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<comma>,)
    | (?P<word>[^\s()",=<>!:]+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    end: int


def _lex(source: str, pos: int = 0) -> list[Token]:
    out: list[Token] = []
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if not match or match.end() == pos:
            raise ConditionError(f"cannot read condition {source!r} at offset {pos}")
        kind = match.lastgroup or ""
        out.append(Token(kind, match.group(kind), match.end()))
        pos = match.end()
    return out


# --- AST --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Ref:
    path: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    operand: Any


@dataclass(frozen=True)
class BoolOp:
    op: str
    operands: tuple[Any, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any
    right: Any


class _Parser:
    def __init__(self, source: str, tokens: list[Token]) -> None:
        self.source = source
        self.tokens = tokens
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise ConditionError(f"condition {self.source!r} ends too early")
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "word" and tok.text.upper() == word:
            self.i += 1
            return True
        return False

    def parse_or(self) -> Any:
        items = [self.parse_and()]
        while self.keyword("OR"):
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def parse_and(self) -> Any:
        items = [self.parse_not()]
        while self.keyword("AND"):
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def parse_not(self) -> Any:
        if self.keyword("NOT"):
            return Not(self.parse_not())
        return self.parse_compare()

    def parse_compare(self) -> Any:
        left = self.parse_primary()
        tok = self.peek()
        if tok is not None and tok.kind == "op":
            self.i += 1
            return Compare(tok.text, left, self.parse_primary())
        return left

    def parse_primary(self) -> Any:
        tok = self.take()
        if tok.kind == "lparen":
            inner = self.parse_or()
            self.expect("rparen")
            return inner
        if tok.kind == "func":
            return self.parse_call(tok.text[len("$sys.func.") :])
        if tok.kind == "ref":
            return Ref(tok.text)
        if tok.kind == "string":
            return Literal(_unescape(tok.text[1:-1]))
        if tok.kind == "number":
            return Literal(_number(tok.text))
        if tok.kind == "word":
            return Literal(_word_value(tok.text))
        raise ConditionError(f"unexpected {tok.text!r} in condition {self.source!r}")

    def parse_call(self, name: str) -> Call:
        args: list[Any] = []
        tok = self.peek()
        if tok is not None and tok.kind == "rparen":
            self.i += 1
            return Call(name.upper(), ())
        while True:
            args.append(self.parse_or())
            tok = self.take()
            if tok.kind == "rparen":
                return Call(name.upper(), tuple(args))
            if tok.kind != "comma":
                raise ConditionError(f"expected ',' or ')' in {self.source!r}, found {tok.text!r}")

    def expect(self, kind: str) -> Token:
        tok = self.take()
        if tok.kind != kind:
            raise ConditionError(f"expected {kind} in condition {self.source!r}, found {tok.text!r}")
        return tok


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def _word_value(word: str) -> Any:
    lowered = word.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if lowered == "null":
        return None
    return word


@lru_cache(maxsize=8192)
def parse_condition(source: str) -> Any:
    """Parse a route condition into an AST (cached: conditions repeat on every turn)."""
    if not source.strip():
        return Literal(True)
    parser = _Parser(source, _lex(source))
    tree = parser.parse_or()
    if parser.peek() is not None:
        raise ConditionError(f"unexpected {parser.peek().text!r} in condition {source!r}")  # type: ignore[union-attr]
    return tree


def parse_call_at(source: str, start: int) -> tuple[Call, int]:
    """Parse one ``$sys.func.NAME(...)`` call starting at ``start``; return it and the end offset."""
    match = _TOKEN.match(source, start)
    if not match or match.lastgroup != "func":
        raise ConditionError(f"no function call at offset {start} of {source!r}")
    tokens: list[Token] = [Token("func", match.group("func"), match.end())]
    depth, pos = 1, match.end()
    while depth and pos < len(source):
        tok_match = _TOKEN.match(source, pos)
        if not tok_match or tok_match.end() == pos:
            raise ConditionError(f"cannot read function call in {source!r}")
        kind = tok_match.lastgroup or ""
        if kind == "func" or kind == "lparen":
            depth += 1
        elif kind == "rparen":
            depth -= 1
        tokens.append(Token(kind, tok_match.group(kind), tok_match.end()))
        pos = tok_match.end()
    if depth:
        raise ConditionError(f"unbalanced parentheses in {source!r}")
    parser = _Parser(source, tokens)
    call = parser.parse_primary()
    return call, pos


# --- evaluation -------------------------------------------------------------------------------
Resolver = Callable[[str], Any]


def evaluate(tree: Any, resolve: Resolver) -> Any:
    """Evaluate an AST; ``resolve`` maps a reference such as ``$session.params.x`` to its value."""
    if isinstance(tree, Literal):
        return tree.value
    if isinstance(tree, Ref):
        return resolve(tree.path)
    if isinstance(tree, Call):
        return call_function(tree.name, [evaluate(arg, resolve) for arg in tree.args], condition=_holds)
    if isinstance(tree, Not):
        return not truthy(evaluate(tree.operand, resolve))
    if isinstance(tree, BoolOp):
        if tree.op == "AND":
            return all(truthy(evaluate(item, resolve)) for item in tree.operands)
        return any(truthy(evaluate(item, resolve)) for item in tree.operands)
    if isinstance(tree, Compare):
        return compare(tree.op, evaluate(tree.left, resolve), evaluate(tree.right, resolve))
    raise ConditionError(f"cannot evaluate {tree!r}")


def check(condition: str, resolve: Resolver) -> bool:
    """Whether a route condition holds (an empty condition holds)."""
    return truthy(evaluate(parse_condition(condition), resolve))


def _holds(condition: str) -> bool:
    """A condition given to ``$sys.func.IF`` as text: references in it are already substituted."""
    return check(condition, lambda _path: None)


def compare(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    if op == ":":
        if isinstance(left, list):
            return any(equal(item, right) for item in left)
        if left is None or right is None:
            return False
        return as_text(right).lower() in as_text(left).lower()
    left, right = as_null(left), as_null(right)
    if left is None or right is None:
        return False
    ln, rn = as_number(left), as_number(right)
    if ln is None or rn is None:
        ln, rn = as_text(left), as_text(right)  # type: ignore[assignment]
    if op == "<":
        return ln < rn  # type: ignore[operator]
    if op == "<=":
        return ln <= rn  # type: ignore[operator]
    if op == ">":
        return ln > rn  # type: ignore[operator]
    if op == ">=":
        return ln >= rn  # type: ignore[operator]
    raise ConditionError(f"unknown operator {op!r}")
