"""Check a parsed rule file against a vocabulary before anything is evaluated.

The vocabulary (what binding types exist, their attributes, the functions) is
given by the caller, so the language stays independent of what it talks
about. Every problem is a :class:`~acm.errors.RuleError` at file:line:column.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import RuleError
from . import ast


@dataclass(frozen=True)
class Attribute:
    getter: Callable[[Any], Any]
    doc: str


@dataclass(frozen=True)
class Function:
    arity: int
    impl: Callable[..., Any]
    doc: str
    # For each argument, the binding type it must be a variable of (``"actuator"``),
    # or None for any value; empty: no argument is checked.
    params: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    types: Mapping[str, Mapping[str, Attribute]]  # binding type -> attribute -> Attribute
    functions: Mapping[str, Function]
    # binding type -> what makes two values one thing (views of one thing never pair up)
    identity: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)


def _did_you_mean(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    listed = ", ".join(sorted(known))
    return f"did you mean '{close[0]}'? (known: {listed})" if close else f"known: {listed}"


def check_rule(rule: ast.Rule, vocab: Vocabulary) -> None:
    if not rule.bindings:
        raise RuleError(f"rule {rule.name} has no 'for' clause (e.g. 'for actuator a')",
                        str(rule.pos))
    scope: dict[str, str] = {}
    for binding in rule.bindings:
        if binding.type not in vocab.types:
            raise RuleError(
                f"unknown kind of thing '{binding.type}'; "
                + _did_you_mean(binding.type, list(vocab.types)),
                str(binding.pos),
            )
        if binding.name in scope:
            raise RuleError(f"variable '{binding.name}' bound twice", str(binding.pos))
        scope[binding.name] = binding.type
    if rule.where is not None:
        check_expr(rule.where, scope, vocab)
    if not rule.severities:
        raise RuleError(f"rule {rule.name} has no 'severity' (e.g. 'severity warning')",
                        str(rule.pos))
    for index, clause in enumerate(rule.severities):
        last = index == len(rule.severities) - 1
        if clause.when is None and not last:
            raise RuleError(
                "an unconditional 'severity' must come last: the clauses after it never apply",
                str(clause.pos),
            )
        if clause.when is not None:
            check_expr(clause.when, scope, vocab)
    if rule.severities[-1].when is not None:
        raise RuleError(
            f"rule {rule.name} needs a final unconditional 'severity <level>' for when "
            "no 'when' matches",
            str(rule.severities[-1].pos),
        )
    if rule.message is None:
        raise RuleError(f"rule {rule.name} has no 'message'", str(rule.pos))
    for part in rule.message.parts:
        if isinstance(part, ast.Expr):
            check_expr(part, scope, vocab)


def check_expr(expr: ast.Expr, scope: Mapping[str, str], vocab: Vocabulary) -> None:
    """Every variable, attribute and function ``expr`` names is known, at file:line:column."""
    if isinstance(expr, ast.Literal):
        return
    if isinstance(expr, ast.Var):
        if expr.name not in scope:
            raise RuleError(
                f"unknown variable '{expr.name}'; " + _did_you_mean(expr.name, list(scope)),
                str(expr.pos),
            )
        return
    if isinstance(expr, ast.Attr):
        _check_attr(expr, scope, vocab)
        return
    if isinstance(expr, ast.Call):
        _check_call(expr, scope, vocab)
        return
    if isinstance(expr, ast.Not):
        check_expr(expr.operand, scope, vocab)
        return
    if isinstance(expr, ast.Contains):
        check_expr(expr.item, scope, vocab)
        check_expr(expr.container, scope, vocab)
        return
    if isinstance(expr, (ast.Compare, ast.SetOp, ast.And, ast.Or)):
        check_expr(expr.left, scope, vocab)
        check_expr(expr.right, scope, vocab)
        return
    raise AssertionError(f"unhandled expression {expr!r}")


def _check_attr(expr: ast.Attr, scope: Mapping[str, str], vocab: Vocabulary) -> None:
    """``a.name``: read from a variable, and an attribute of the variable's type."""
    if not isinstance(expr.target, ast.Var):
        raise RuleError("attributes are read from a variable, as in 'a.key'", str(expr.pos))
    check_expr(expr.target, scope, vocab)
    attrs = vocab.types[scope[expr.target.name]]
    if expr.name not in attrs:
        raise RuleError(
            f"{scope[expr.target.name]} has no attribute '{expr.name}'; "
            + _did_you_mean(expr.name, list(attrs)),
            str(expr.pos),
        )


def _check_call(expr: ast.Call, scope: Mapping[str, str], vocab: Vocabulary) -> None:
    """``f(...)``: a known function, its number of arguments, each argument checked, and
    a variable of the declared type where the function wants one."""
    function = vocab.functions.get(expr.function)
    if function is None:
        raise RuleError(
            f"unknown function '{expr.function}'; "
            + _did_you_mean(expr.function, list(vocab.functions)),
            str(expr.pos),
        )
    if len(expr.args) != function.arity:
        raise RuleError(
            f"{expr.function}() takes {function.arity} argument(s), "
            f"{len(expr.args)} given",
            str(expr.pos),
        )
    for arg in expr.args:
        check_expr(arg, scope, vocab)
    for index, (arg, wanted) in enumerate(zip(expr.args, function.params, strict=False)):
        if wanted is not None and not (isinstance(arg, ast.Var)
                                       and scope.get(arg.name) == wanted):
            raise RuleError(
                f"argument {index + 1} of {expr.function}() must be a variable of type "
                f"{wanted} (as bound by 'for {wanted} a')",
                str(arg.pos),
            )


def variables(expr: ast.Expr) -> frozenset[str]:
    """Names of the variables an expression reads."""
    if isinstance(expr, ast.Var):
        return frozenset({expr.name})
    if isinstance(expr, ast.Attr):
        return variables(expr.target)
    if isinstance(expr, ast.Call):
        return frozenset().union(*(variables(a) for a in expr.args))
    if isinstance(expr, ast.Not):
        return variables(expr.operand)
    if isinstance(expr, ast.Contains):
        return variables(expr.item) | variables(expr.container)
    if isinstance(expr, (ast.Compare, ast.SetOp, ast.And, ast.Or)):
        return variables(expr.left) | variables(expr.right)
    return frozenset()
