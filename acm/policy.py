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

from .dsl import ast
from .dsl.check import check_expr
from .dsl.evaluate import compile_expr
from .dsl.parser import load_rule_file, parse_rules
from .errors import RuleError
from .rules import VOCABULARY, ActuatorFacts


@dataclass(frozen=True)
class OptionSpec:
    kind: str  # duration | word | text | value | texts | bool
    required: bool = False
    words: tuple[str, ...] = ()
    default: Any = None


STRATEGIES: Mapping[str, Mapping[str, OptionSpec]] = {
    "priority": {
        "order": OptionSpec("texts", required=True),
        "ttl": OptionSpec("duration"),
        "default": OptionSpec("value"),
        "release": OptionSpec("text", default="release"),
    },
    "lock": {
        "hold": OptionSpec("duration", required=True),
        "mode": OptionSpec("word", words=("drop", "queue"), default="drop"),
        "renew": OptionSpec("bool", default=True),
    },
    "dwell": {
        "min": OptionSpec("duration", required=True),
    },
    "merge": {
        "op": OptionSpec("word", required=True, words=("min", "max", "mean", "any", "all")),
        "on": OptionSpec("value"),
        "off": OptionSpec("value"),
    },
    "interlock": {
        "blocked_when": OptionSpec("texts", required=True),
        "mode": OptionSpec("word", words=("block", "override"), default="block"),
        "override": OptionSpec("value"),
        "restore": OptionSpec("bool", default=True),
    },
}

#: What ``acm resolve`` does for a conflict no policy matches (docs/resolve.md).
DEFAULTS: Mapping[str, tuple[str, Mapping[str, Any]]] = {
    "direct": ("dwell", {"min": 60_000}),
}


@dataclass(frozen=True)
class Policy:
    name: str
    strategy: str
    options: Mapping[str, Any]  # JSON-ready: durations in ms, words as text
    source: str  # file:line or "default"
    node: ast.Policy | None = None


def _value(option: ast.Option, spec: OptionSpec) -> Any:
    values = option.values
    where = str(option.pos)
    if spec.kind == "texts":
        if not values or not all(isinstance(v, (str, ast.Word)) for v in values):
            raise RuleError(f"'{option.name}' takes one or more quoted names", where)
        return [v.text if isinstance(v, ast.Word) else v for v in values]
    if len(values) != 1:
        raise RuleError(f"'{option.name}' takes one value, {len(values)} given", where)
    value = values[0]
    if spec.kind == "duration":
        if value is None:
            return None
        if not isinstance(value, ast.Duration):
            raise RuleError(f"'{option.name}' takes a duration such as 30s, 15m or 1h", where)
        return value.milliseconds
    if spec.kind == "word":
        text = value.text if isinstance(value, ast.Word) else value
        if text not in spec.words:
            raise RuleError(f"'{option.name}' must be one of: {', '.join(spec.words)}", where)
        return text
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise RuleError(f"'{option.name}' takes true or false", where)
        return value
    if spec.kind == "text":
        if not isinstance(value, str) and value is not None:
            raise RuleError(f"'{option.name}' takes a quoted text (or none)", where)
        return value
    if isinstance(value, ast.Duration):
        return value.milliseconds
    return value.text if isinstance(value, ast.Word) else value


def check_policy(node: ast.Policy) -> Policy:
    if node.strategy is None:
        raise RuleError(f"policy {node.name} has no 'strategy' "
                        f"(one of: {', '.join(STRATEGIES)})", str(node.pos))
    specs = STRATEGIES.get(node.strategy)
    if specs is None:
        raise RuleError(f"unknown strategy '{node.strategy}'; known: {', '.join(STRATEGIES)}",
                        str(node.strategy_pos or node.pos))
    wanted = 2 if node.strategy == "interlock" else 1
    if len(node.bindings) != wanted or any(b.type != "actuator" for b in node.bindings):
        form = ("'for actuator guard, actuator target'" if wanted == 2
                else "'for actuator a'")
        raise RuleError(f"policy {node.name} needs {form}", str(node.pos))
    scope = {b.name: b.type for b in node.bindings}
    if node.where is not None:
        check_expr(node.where, scope, VOCABULARY)
    options: dict[str, Any] = {}
    for option in node.options:
        spec = specs.get(option.name)
        if spec is None:
            raise RuleError(f"strategy {node.strategy} has no option '{option.name}'; "
                            f"known: {', '.join(specs)}", str(option.pos))
        if option.name in options:
            raise RuleError(f"option '{option.name}' given twice", str(option.pos))
        options[option.name] = _value(option, spec)
    for name, spec in specs.items():
        if name not in options:
            if spec.required:
                raise RuleError(f"policy {node.name}: strategy {node.strategy} needs "
                                f"option '{name}'", str(node.pos))
            options[name] = spec.default
    return Policy(node.name, node.strategy, options, str(node.pos), node)


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
    parts = ["policy cli {\n    for actuator a, actuator b\n" if strategy == "interlock"
             else "policy cli {\n    for actuator a\n", f"    strategy {strategy}\n"]
    for index, setting in enumerate(settings):
        name, sep, value = setting.partition("=")
        if not sep or not name.strip():
            raise RuleError(f"--set {setting!r}: expected OPTION=VALUE", f"--set #{index + 1}")
        items = [v.strip() for v in value.split(",")] if "," in value else [value.strip()]
        parts.append(f"    {name.strip()} " + ", ".join(_literal(v) for v in items) + "\n")
    parts.append("}\n")
    rule_file = parse_rules("".join(parts), "--set")
    return check_policy(rule_file.policies[0])


def _literal(value: str) -> str:
    if re.fullmatch(r"-?\d+(\.\d+)?(ms|s|m|h)?|true|false|none", value):
        return value
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) and value in ("drop", "queue", "block",
                                                                  "override", "min", "max",
                                                                  "mean", "any", "all"):
        return value
    return json.dumps(value)
