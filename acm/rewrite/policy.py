"""Resolution policies: which strategy, with which options, for which actuators.

Policies are written in the rule language (``policy NAME { ... }``, see
docs/resolve.md). This module checks them (strategy and options known, values
of the right kind, at file:line:column) and picks the policy for a conflict:
the first policy in file order whose ``where`` matches. Without a matching
policy a documented default applies per conflict kind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RuleError
from ..rules.dsl import ast
from ..rules.dsl.check import check_expr
from ..rules.dsl.evaluate import compile_expr
from ..rules.dsl.parser import load_rule_file, parse_rules
from ..rules.ruleset import VOCABULARY, ActuatorFacts
from .strategies import Option, manifest

#: An option's declaration (kind, required, words, default ...): see acm/rewrite/strategies.py.
OptionSpec = Option

#: Strategy name -> its options, in declaration order (acm/data/strategies.json).
STRATEGIES: Mapping[str, Mapping[str, OptionSpec]] = {
    s.name: s.options for s in manifest().strategies.values()}

#: What ``acm resolve`` does for a conflict no policy matches, per conflict kind:
#: (strategy, complete options); kinds without a default are not resolved without a policy.
DEFAULTS: Mapping[str, tuple[str, Mapping[str, Any]]] = {
    kind: (d.strategy, d.options) for kind, d in manifest().defaults.items() if d.strategy}


@dataclass(frozen=True)
class Policy:
    name: str
    strategy: str
    options: Mapping[str, Any]  # JSON-ready: durations in ms, words as text
    source: str  # file:line or "default"
    node: ast.Policy | None = None


#: What a text-like option takes, said when it is given something else.
_QUOTED = {"text": "takes a quoted text (or none)",
           "actuator": "takes an actuator's key, model id or name, quoted (or none)"}


def _value(option: ast.Option, spec: OptionSpec) -> Any:
    """An option's value as the resolver gets it, once it is of the kind ``spec`` declares."""
    if spec.kind in ("texts", "applications"):
        return _names(option)
    value = _single(option)
    where = str(option.pos)
    if spec.kind == "duration":
        return _duration(option, value)
    if spec.kind == "word":
        return _word(option, spec, value)
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise RuleError(f"'{option.name}' takes true or false", where)
        return value
    if spec.kind in _QUOTED:
        if not isinstance(value, str) and value is not None:
            raise RuleError(f"'{option.name}' {_QUOTED[spec.kind]}", where)
        return value
    if isinstance(value, ast.Duration):  # a "value" option: whatever was written
        return value.milliseconds
    return value.text if isinstance(value, ast.Word) else value


def _names(option: ast.Option) -> list[str]:
    """The names a list option (``texts``, ``applications``) is given: one or more."""
    values = option.values
    if not values or not all(isinstance(v, (str, ast.Word)) for v in values):
        raise RuleError(f"'{option.name}' takes one or more quoted names", str(option.pos))
    return [v.text if isinstance(v, ast.Word) else v for v in values]


def _single(option: ast.Option) -> Any:
    """The one value an option of any other kind is given."""
    if len(option.values) != 1:
        raise RuleError(f"'{option.name}' takes one value, {len(option.values)} given",
                        str(option.pos))
    return option.values[0]


def _duration(option: ast.Option, value: Any) -> int | None:
    """A duration option's value in milliseconds (None for ``none``)."""
    if value is None:
        return None
    if not isinstance(value, ast.Duration):
        raise RuleError(f"'{option.name}' takes a duration such as 30s, 15m or 1h",
                        str(option.pos))
    return value.milliseconds


def _word(option: ast.Option, spec: OptionSpec, value: Any) -> str:
    """A word option's value: one of its words (``none`` too, where it is one)."""
    text = value.text if isinstance(value, ast.Word) else value
    if value is None and "none" in spec.words:  # `resume none`: the literal none
        text = "none"
    if text not in spec.words:
        raise RuleError(f"'{option.name}' must be one of: {', '.join(spec.words)}",
                        str(option.pos))
    return text


def check_policy(node: ast.Policy) -> Policy:
    """A parsed policy checked against its strategy's declaration, with every option set
    (the defaults for those not given)."""
    strategy, specs = _strategy_of(node)
    scope = {b.name: b.type for b in node.bindings}
    if node.where is not None:
        check_expr(node.where, scope, VOCABULARY)
    options = _given_options(node, specs)
    for name, spec in specs.items():
        if name not in options:
            if spec.required:
                raise RuleError(f"policy {node.name}: strategy {strategy} needs "
                                f"option '{name}'", str(node.pos))
            options[name] = spec.default
    return Policy(node.name, strategy, options, str(node.pos), node)


def _strategy_of(node: ast.Policy) -> tuple[str, Mapping[str, OptionSpec]]:
    """The policy's strategy and its options, once the strategy is known and the policy
    binds the actuators it needs."""
    if node.strategy is None:
        raise RuleError(f"policy {node.name} has no 'strategy' "
                        f"(one of: {', '.join(STRATEGIES)})", str(node.pos))
    specs = STRATEGIES.get(node.strategy)
    if specs is None:
        raise RuleError(f"unknown strategy '{node.strategy}'; known: {', '.join(STRATEGIES)}",
                        str(node.strategy_pos or node.pos))
    bindings = manifest().strategies[node.strategy].bindings
    if len(node.bindings) != len(bindings) or any(b.type != "actuator" for b in node.bindings):
        form = "'for " + ", ".join(f"actuator {b}" for b in bindings) + "'"
        raise RuleError(f"policy {node.name} needs {form}", str(node.pos))
    return node.strategy, specs


def _given_options(node: ast.Policy, specs: Mapping[str, OptionSpec]) -> dict[str, Any]:
    """The options the policy sets, each known to its strategy, set once, of the right kind."""
    options: dict[str, Any] = {}
    for option in node.options:
        spec = specs.get(option.name)
        if spec is None:
            raise RuleError(f"strategy {node.strategy} has no option '{option.name}'; "
                            f"known: {', '.join(specs)}", str(option.pos))
        if option.name in options:
            raise RuleError(f"option '{option.name}' given twice", str(option.pos))
        options[option.name] = _value(option, spec)
    return options


def load_policies(paths: Sequence[str | Path]) -> list[Policy]:
    """Every policy of the given files, checked, in file order."""
    out: list[Policy] = []
    for path in paths:
        rule_file = load_rule_file(path)
        if rule_file.rules or rule_file.overrides:
            first = rule_file.rules[0].pos if rule_file.rules else rule_file.overrides[0].pos
            raise RuleError("a policy file holds policies only (rules go in --rules files)",
                            str(first))
        out.extend(check_policy(p) for p in rule_file.policies)
    return out


def matches(policy: Policy, facts: Sequence[ActuatorFacts]) -> bool:
    """True when the policy's ``where`` holds for these actuators (guard first)."""
    node = policy.node
    if node is None:
        return True
    if len(node.bindings) != len(facts):
        return False
    if node.where is None:
        return True
    scope = {b.name: b.type for b in node.bindings}
    env = {b.name: f for b, f in zip(node.bindings, facts, strict=True)}
    return bool(compile_expr(node.where, scope, VOCABULARY)(env))


def policy_from_options(strategy: str, settings: Sequence[str]) -> Policy:
    """A policy from ``--strategy S --set name=value ...`` (the editor's Resolve form).

    Values are read like the rule language's: ``15m`` is a duration, ``a,b``
    a list where the option takes names, ``true``/``false`` booleans, numbers
    as numbers, anything else text.
    """
    declared = manifest().strategies.get(strategy)
    bindings = declared.bindings if declared else ("a",)
    parts = ["policy cli {\n    for " + ", ".join(f"actuator {b}" for b in bindings) + "\n",
             f"    strategy {strategy}\n"]
    for index, setting in enumerate(settings):
        name, sep, value = setting.partition("=")
        if not sep or not name.strip():
            raise RuleError(f"--set {setting!r}: expected OPTION=VALUE", f"--set #{index + 1}")
        items = [v.strip() for v in value.split(",")] if "," in value else [value.strip()]
        parts.append(f"    {name.strip()} " + ", ".join(_literal(v) for v in items) + "\n")
    parts.append("}\n")
    rule_file = parse_rules("".join(parts), "--set")
    return check_policy(rule_file.policies[0])


#: Every word a word option takes: ``--set mode=queue`` is the bare word, not a text.
_WORDS = frozenset(w for s in manifest().strategies.values() for o in s.options.values()
                   for w in o.words)


def _literal(value: str) -> str:
    if re.fullmatch(r"-?\d+(\.\d+)?(ms|s|m|h)?|true|false|none", value):
        return value
    if value in _WORDS:
        return value
    return json.dumps(value)
