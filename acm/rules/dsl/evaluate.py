"""Evaluate checked rules: compile expressions to closures and enumerate matches.

Rules with several variables are planned, not brute-forced: conjuncts of the
``where`` clause that read one variable filter that variable's domain first,
and ``x == y`` conjuncts between two variables become a hash join, so a rule
over pairs of actuators costs about the number of candidate pairs, not n².
A variable's first test that reads one attribute (``a.role == "device"``) is
decided once per distinct value of it (:class:`Domains`), not once per thing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
    var, getter = _reader(expr, scope, vocab)
    return lambda env: getter(env[var])


def _reader(expr: ast.Attr, scope: Mapping[str, str], vocab: Vocabulary
            ) -> tuple[str, Callable[[Any], Any]]:
    """The variable ``var.attribute`` reads, and the getter of the attribute."""
    assert isinstance(expr.target, ast.Var)
    var = expr.target.name
    return var, vocab.types[scope[var]][expr.name].getter


def _call(expr: ast.Call, scope: Mapping[str, str], vocab: Vocabulary) -> Compiled:
    """A function of the vocabulary applied to its arguments."""
    impl = vocab.functions[expr.function].impl
    if len(expr.args) == 1 and isinstance(expr.args[0], ast.Attr):  # count(a.x): one call
        var, getter = _reader(expr.args[0], scope, vocab)
        return lambda env: impl(getter(env[var]))
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
    if isinstance(expr.right, ast.Literal):  # 'count(a.x) >= 2': the constant read once
        return _compare_constant(left, compare, ordering, expr.right.value)

    def run(env: Env) -> bool:
        a, b = left(env), right(env)
        if ordering and (a is None or b is None):
            return False  # none is not ordered against anything
        try:
            return bool(compare(a, b))
        except TypeError:
            return False

    return run


def _compare_constant(left: Compiled, compare: Callable[[Any, Any], bool], ordering: bool,
                      b: Any) -> Compiled:
    """A comparison with a constant on the right: as :func:`_compare`, one call less."""
    def run(env: Env) -> bool:
        a = left(env)
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
    # variable -> the one attribute its first filter reads (and nothing else of it), with
    # that attribute's getter: the filter's answer is the same for things of equal value
    grouped: Mapping[str, tuple[str, Callable[[Any], Any]]] = field(default_factory=dict)


def plan_rule(rule: ast.Rule, vocab: Vocabulary) -> Plan:
    scope = {b.name: b.type for b in rule.bindings}
    names = tuple(b.name for b in rule.bindings)
    filters: dict[str, list[Compiled]] = {n: [] for n in names}
    grouped: dict[str, tuple[str, Callable[[Any], Any]]] = {}
    join = None
    rest: list[Compiled] = []
    for conjunct in _conjuncts(rule.where):
        used = variables(conjunct)
        compiled = compile_expr(conjunct, scope, vocab)
        if len(used) == 1:
            (name,) = used
            attribute = _one_attribute(conjunct)
            if not filters[name] and attribute is not None:
                grouped[name] = (attribute, vocab.types[scope[name]][attribute].getter)
            filters[name].append(compiled)
        elif join is None and len(names) == 2 and _joins(conjunct):
            assert isinstance(conjunct, ast.Compare)
            (lv,), (rv,) = variables(conjunct.left), variables(conjunct.right)
            join = (lv, compile_expr(conjunct.left, scope, vocab),
                    rv, compile_expr(conjunct.right, scope, vocab))
        else:
            rest.append(compiled)
    return Plan(names, tuple(scope[n] for n in names),
                {k: tuple(v) for k, v in filters.items()}, join, tuple(rest), grouped)


def _joins(conjunct: ast.Expr) -> bool:
    """Whether ``conjunct`` is ``key(x) == key(y)`` for two variables x and y."""
    return (isinstance(conjunct, ast.Compare) and conjunct.op == "=="
            and len(variables(conjunct.left)) == 1 and len(variables(conjunct.right)) == 1
            and variables(conjunct.left) != variables(conjunct.right))


def _one_attribute(expr: ast.Expr) -> str | None:
    """The attribute ``expr`` reads of its variable, when it reads that one and nothing
    else of it (not the variable itself, which a function may read whole)."""
    read = _attributes(expr)
    return next(iter(read)) if read is not None and len(read) == 1 else None


def _attributes(expr: ast.Expr) -> frozenset[str] | None:
    """The attributes ``expr`` reads, or None when it reads a variable itself."""
    if isinstance(expr, ast.Var):
        return None
    if isinstance(expr, ast.Attr):
        return frozenset({expr.name})
    found: frozenset[str] = frozenset()
    for part in _parts(expr):
        read = _attributes(part)
        if read is None:
            return None
        found |= read
    return found


def _parts(expr: ast.Expr) -> tuple[ast.Expr, ...]:
    """The expressions ``expr`` is made of (none for a literal)."""
    if isinstance(expr, ast.Call):
        return expr.args
    if isinstance(expr, ast.Not):
        return (expr.operand,)
    if isinstance(expr, ast.Contains):
        return (expr.item, expr.container)
    if isinstance(expr, (ast.Compare, ast.SetOp, ast.And, ast.Or)):
        return (expr.left, expr.right)
    return ()


class Domains:
    """What the variables of each type range over, shared by the rules evaluated over it.

    Several rules start with a test of one attribute (``a.role == "device"``); the
    things are grouped by that attribute's value on first use, and the groups kept for
    every rule that starts with a test of it, so the test is run once per group.
    """

    def __init__(self, things: Mapping[str, Sequence[Any]]) -> None:
        self._things = things
        self._groups: dict[tuple[str, str], dict[Any, list[Any]] | None] = {}

    def of(self, type_name: str) -> Sequence[Any]:
        """The things of a type, in order."""
        return self._things.get(type_name, ())

    def grouped(self, type_name: str, attribute: str, getter: Callable[[Any], Any]
                ) -> dict[Any, list[Any]] | None:
        """The things of a type by the value of ``attribute``, each group in order;
        None when some value cannot be a dict key (a mapping)."""
        key = (type_name, attribute)
        if key not in self._groups:
            self._groups[key] = _group(self.of(type_name), getter)
        return self._groups[key]


def _group(things: Sequence[Any], getter: Callable[[Any], Any]) -> dict[Any, list[Any]] | None:
    groups: dict[Any, list[Any]] = {}
    try:
        for thing in things:
            groups.setdefault(getter(thing), []).append(thing)
    except TypeError:  # unhashable: the test is run per thing instead
        return None
    return groups


def enumerate_matches(plan: Plan, domains: Domains,
                      identity: Mapping[str, Callable[[Any], Any]] | None = None
                      ) -> Iterator[Env]:
    """Every binding of the rule's variables that satisfies its ``where``.

    Two variables never bind one thing, nor one pair twice; ``identity`` says,
    per type, what makes values one thing (by default: being one object).
    """
    candidates: dict[str, list[Any]] = {}
    for name, type_name in zip(plan.names, plan.types, strict=True):
        candidates[name] = _filtered(plan, domains, name, type_name)
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


def _filtered(plan: Plan, domains: Domains, name: str, type_name: str) -> list[Any]:
    """The values of variable ``name`` that pass its single-variable tests."""
    domain = domains.of(type_name)
    tests = plan.filters[name]
    grouped = plan.grouped.get(name)
    groups = domains.grouped(type_name, *grouped) if grouped is not None else None
    if groups is not None:
        domain = _passing(groups, domain, name, tests[0])
        tests = tests[1:]
    kept = []
    for obj in domain:
        env = {name: obj}
        for test in tests:  # (a loop, not all(): this runs once per actuator and rule)
            if not test(env):
                break
        else:
            kept.append(obj)
    return kept


def _passing(groups: Mapping[Any, list[Any]], domain: Sequence[Any], name: str,
             test: Compiled) -> Sequence[Any]:
    """The things of ``domain`` whose group passes ``test``, in order; the test reads only
    the value the group shares, so it is run on the group's first thing."""
    passing = [group for group in groups.values() if test({name: group[0]})]
    if len(passing) <= 1:
        return passing[0] if passing else []
    if len(passing) == len(groups):
        return domain
    kept = {id(thing) for group in passing for thing in group}
    return [thing for thing in domain if id(thing) in kept]


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


def compile_template(template: ast.Template, scope: Mapping[str, str], vocab: Vocabulary
                     ) -> Callable[[Env], str]:
    """A message as a function of the variables' values, its expressions compiled once
    (a rule renders its message once per finding)."""
    parts = [(part, None) if isinstance(part, str)
             else ("", compile_expr(part, scope, vocab)) for part in template.parts]

    def run(env: Env) -> str:
        return "".join([text if value is None else format_value(value(env))
                        for text, value in parts])

    return run


def format_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (set, frozenset, list, tuple)):
        return ", ".join(sorted(format_value(v) for v in value)) or "none"
    return str(value)
