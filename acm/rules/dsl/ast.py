"""Typed syntax tree of the ACM rule language. Plain frozen data; no meaning here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pos:
    """Where something is written: file, 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


# ---- expressions


@dataclass(frozen=True)
class Expr:
    pos: Pos = field(compare=False)


@dataclass(frozen=True)
class Literal(Expr):
    value: Any


@dataclass(frozen=True)
class Var(Expr):
    name: str


@dataclass(frozen=True)
class Attr(Expr):
    target: Expr
    name: str


@dataclass(frozen=True)
class Call(Expr):
    function: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Compare(Expr):
    op: str  # == != >= <= > <
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Contains(Expr):
    item: Expr
    container: Expr


@dataclass(frozen=True)
class SetOp(Expr):
    op: str  # | &
    left: Expr
    right: Expr


@dataclass(frozen=True)
class And(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr


# ---- statements


@dataclass(frozen=True)
class Binding:
    type: str  # e.g. "actuator"
    name: str  # variable
    pos: Pos


@dataclass(frozen=True)
class SeverityClause:
    level: str
    when: Expr | None
    pos: Pos


@dataclass(frozen=True)
class Template:
    """A message: literal text and ``{expression}`` placeholders, in order."""

    parts: tuple[str | Expr, ...]
    pos: Pos


@dataclass(frozen=True)
class Rule:
    name: str
    pos: Pos
    code: str | None = None
    summary: str | None = None
    kind: str | None = None
    bindings: tuple[Binding, ...] = ()
    where: Expr | None = None
    severities: tuple[SeverityClause, ...] = ()
    message: Template | None = None
    doc: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Override:
    """``override R severity L`` (level set), ``disable R`` / ``enable R`` (level None)."""

    rule: str
    pos: Pos
    level: str | None = None
    enabled: bool | None = None


@dataclass(frozen=True)
class Option:
    name: str
    values: tuple[Any, ...]  # str, int/float, Duration, Word, bool or None
    pos: Pos


@dataclass(frozen=True)
class Duration:
    """A time span written like 15m, 30s, 1.5h, 250ms."""

    milliseconds: int
    text: str


@dataclass(frozen=True)
class Word:
    """A bare word used as an option value (drop, queue, max ...)."""

    text: str


@dataclass(frozen=True)
class Policy:
    name: str
    pos: Pos
    bindings: tuple[Binding, ...] = ()
    where: Expr | None = None
    strategy: str | None = None
    strategy_pos: Pos | None = None
    options: tuple[Option, ...] = ()


@dataclass(frozen=True)
class RuleFile:
    path: str
    rules: tuple[Rule, ...]
    overrides: tuple[Override, ...]
    policies: tuple[Policy, ...] = ()
