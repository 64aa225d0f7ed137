"""Evaluate checked rules: compile expressions to closures and enumerate matches.

Rules with several variables are planned, not brute-forced: conjuncts of the
``where`` clause that read one variable filter that variable's domain first,
and ``x == y`` conjuncts between two variables become a hash join, so a rule
over pairs of actuators costs about the number of candidate pairs, not n².
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from . import ast
from .check import Vocabulary, variables

Env = dict[str, Any]
Compiled = Callable[[Env], Any]

_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le,
    ">": operator.gt, "<": operator.lt,
}


def compile_expr(expr: ast.Expr, scope: Mapping[str, str], vocab: Vocabulary) -> Compiled:
    """``expr`` as a function of the variables' values; ``scope`` gives each variable's type."""
    compile_one = _COMPILERS.get(type(expr))
    if compile_one is None:
        raise AssertionError(f"unhandled expression {expr!r}")
    return compile_one(expr, scope, vocab)


def _literal(expr: ast.Literal, scope: Mapping[str, str], vocab: Vocabulary) -> Compiled:
    """A constant."""
    value = expr.value
    return lambda env: value


def _var(expr: ast.Var, scope: Mapping[str, str], vocab: Vocabulary) -> Compiled:
    """The value bound to a variable."""
    name = expr.name
    return lambda env: env[name]


def _attr(expr: ast.Attr, scope: Mapping[str, str], vocab: Vocabulary) -> Compiled:
    """``var.attribute``, read by the getter the vocabulary gives the variable's type."""
    assert isinstance(expr.target, ast.Var)
    var = expr.target.name
    getter = vocab.types[scope[var]][expr.name].getter
    return lambda env: getter(env[var])


def _call(expr: ast.Call, scope: Mapping[str, str], vocab: Vocabulary) -> Compiled:
    """A function of the vocabulary applied to its arguments."""
    impl = vocab.functions[expr.function].impl
    args = [compile_expr(a, scope, vocab) for a in expr.args]
    if len(args) == 1:  # count(...): the common case, without a generator per call
        (arg,) = args
        return lambda env: impl(arg(env))
    return lambda env: impl(*(a(env) for a in args))


def _not(expr: ast.Not, scope: Mapping[str, str], vocab: Vocabulary) -> Compiled:
    """``not operand``."""
    inner = compile_expr(expr.operand, scope, vocab)
    return lambda env: not inner(env)


def _and(expr: ast.And, scope: Mapping[str, str], vocab: Vocabulary) -> Compiled:
    """``left and right``, as a boolean (the right side is read only when needed)."""
    left, right = compile_expr(expr.left, scope, vocab), compile_expr(expr.right, scope, vocab)
    return lambda env: bool(left(env)) and bool(right(env))


def _or(expr: ast.Or, scope: Mapping[str, str], vocab: Vocabulary) -> Compiled:
    """``left or right``, as a boolean (the right side is read only when needed)."""
    left, right = compile_expr(expr.left, scope, vocab), compile_expr(expr.right, scope, vocab)
    return lambda env: bool(left(env)) or bool(right(env))


def _contains_expr(expr: ast.Contains, scope: Mapping[str, str], vocab: Vocabulary
                   ) -> Compiled:
    """``item in container`` (false for none, or for what cannot hold the item)."""
    item = compile_expr(expr.item, scope, vocab)
    container = compile_expr(expr.container, scope, vocab)
    return lambda env: _contains(container(env), item(env))


def _set_op(expr: ast.SetOp, scope: Mapping[str, str], vocab: Vocabulary) -> Compiled:
    """``left | right`` or ``left & right``, each side taken as a set."""
    left, right = compile_expr(expr.left, scope, vocab), compile_expr(expr.right, scope, vocab)
    op = operator.or_ if expr.op == "|" else operator.and_
    return lambda env: op(_as_set(left(env)), _as_set(right(env)))


def _compare(expr: ast.Compare, scope: Mapping[str, str], vocab: Vocabulary) -> Compiled:
    """A comparison; false where the values do not compare (none is not ordered)."""
    left, right = compile_expr(expr.left, scope, vocab), compile_expr(expr.right, scope, vocab)
    compare = _COMPARE[expr.op]
    ordering = expr.op not in ("==", "!=")

    def run(env: Env) -> bool:
        a, b = left(env), right(env)
        if ordering and (a is None or b is None):
            return False  # none is not ordered against anything
        try:
            return bool(compare(a, b))
        except TypeError:
            return False

    return run


#: How to compile each kind of expression.
_COMPILERS: Mapping[type[ast.Expr], Callable[[Any, Mapping[str, str], Vocabulary], Compiled]] = {
    ast.Literal: _literal, ast.Var: _var, ast.Attr: _attr, ast.Call: _call,
    ast.Not: _not, ast.And: _and, ast.Or: _or, ast.Contains: _contains_expr,
    ast.SetOp: _set_op, ast.Compare: _compare,
}


def _as_set(value: Any) -> frozenset[Any]:
    if value is None:
        return frozenset()
    if isinstance(value, (set, frozenset, list, tuple)):
        return frozenset(_hashable(v) for v in value)
    return frozenset({_hashable(value)})


def _contains(container: Any, item: Any) -> bool:
    if container is None:
        return False
    try:
        return item in container
    except TypeError:
        return False


def _conjuncts(expr: ast.Expr | None) -> list[ast.Expr]:
    if expr is None:
        return []
    if isinstance(expr, ast.And):
        return _conjuncts(expr.left) + _conjuncts(expr.right)
    return [expr]


@dataclass(frozen=True)
class Plan:
    """How to enumerate a rule's matches."""

    names: tuple[str, ...]
    types: tuple[str, ...]
    filters: Mapping[str, tuple[Compiled, ...]]  # variable -> single-variable tests
    join: tuple[str, Compiled, str, Compiled] | None  # x, key(x) == key(y), y
    rest: tuple[Compiled, ...]


def plan_rule(rule: ast.Rule, vocab: Vocabulary) -> Plan:
    scope = {b.name: b.type for b in rule.bindings}
    names = tuple(b.name for b in rule.bindings)
    filters: dict[str, list[Compiled]] = {n: [] for n in names}
    join = None
    rest: list[Compiled] = []
    for conjunct in _conjuncts(rule.where):
        used = variables(conjunct)
        compiled = compile_expr(conjunct, scope, vocab)
        if len(used) == 1:
            filters[next(iter(used))].append(compiled)
        elif (
            join is None and len(names) == 2 and isinstance(conjunct, ast.Compare)
            and conjunct.op == "==" and len(variables(conjunct.left)) == 1
            and len(variables(conjunct.right)) == 1
            and variables(conjunct.left) != variables(conjunct.right)
        ):
            (lv,), (rv,) = variables(conjunct.left), variables(conjunct.right)
            join = (lv, compile_expr(conjunct.left, scope, vocab),
                    rv, compile_expr(conjunct.right, scope, vocab))
        else:
            rest.append(compiled)
    return Plan(names, tuple(scope[n] for n in names),
                {k: tuple(v) for k, v in filters.items()}, join, tuple(rest))


def enumerate_matches(plan: Plan, domains: Mapping[str, Sequence[Any]],
                      identity: Mapping[str, Callable[[Any], Any]] | None = None
                      ) -> Iterator[Env]:
    """Every binding of the rule's variables that satisfies its ``where``.

    Two variables never bind one thing, nor one pair twice; ``identity`` says,
    per type, what makes values one thing (by default: being one object).
    """
    candidates: dict[str, list[Any]] = {}
    for name, type_name in zip(plan.names, plan.types, strict=True):
        candidates[name] = _filtered(domains.get(type_name, ()), name, plan.filters[name])
        if not candidates[name]:
            return  # no match at all: the other variables need not be filtered
    if len(plan.names) == 1:
        name = plan.names[0]
        for obj in candidates[name]:
            env = {name: obj}
            if all(test(env) for test in plan.rest):
                yield env
        return
    same = identity or {}
    things = {n: same.get(t, id) for n, t in zip(plan.names, plan.types, strict=True)}
    seen: set[frozenset[Any]] = set()
    for combo in _combinations(plan, candidates):
        ids = frozenset(things[n](o) for n, o in combo.items())
        if len(ids) < len(combo) or ids in seen:
            continue  # the same object twice, or a pair already matched the other way round
        if all(test(combo) for test in plan.rest):
            seen.add(ids)
            yield combo


def _filtered(domain: Sequence[Any], name: str, tests: Sequence[Compiled]) -> list[Any]:
    """The values of variable ``name`` that pass its single-variable tests."""
    kept = []
    for obj in domain:
        env = {name: obj}
        for test in tests:  # (a loop, not all(): this runs once per actuator and rule)
            if not test(env):
                break
        else:
            kept.append(obj)
    return kept


def _combinations(plan: Plan, candidates: Mapping[str, list[Any]]) -> Iterator[Env]:
    if plan.join is not None:
        x, key_x, y, key_y = plan.join
        buckets: dict[Any, list[Any]] = {}
        for obj in candidates[y]:
            key = key_y({y: obj})
            if key is not None:
                buckets.setdefault(_hashable(key), []).append(obj)
        for obj in candidates[x]:
            key = key_x({x: obj})
            if key is None:
                continue
            for other in buckets.get(_hashable(key), ()):
                yield {x: obj, y: other}
        return
    for values in product(*(candidates[n] for n in plan.names)):
        yield dict(zip(plan.names, values, strict=True))


def _hashable(value: Any) -> Any:
    """``value`` as a set element or join key: equal values give equal keys."""
    if isinstance(value, (set, list)):
        return frozenset(_hashable(v) for v in value)
    if isinstance(value, dict):
        return frozenset((k, _hashable(v)) for k, v in value.items())
    try:
        hash(value)
    except TypeError:  # a bound thing itself ('a' rather than 'a.key'): itself, by identity
        return _Itself(value)
    return value


class _Itself:
    """A value that cannot be hashed, as a set element: equal only to itself."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Itself) and other.value is self.value

    def __str__(self) -> str:
        return str(self.value)


def render(template: ast.Template, scope: Mapping[str, str], vocab: Vocabulary,
           env: Env) -> str:
    out: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
        else:
            out.append(format_value(compile_expr(part, scope, vocab)(env)))
    return "".join(out)


def format_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (set, frozenset, list, tuple)):
        return ", ".join(sorted(format_value(v) for v in value)) or "none"
    return str(value)
