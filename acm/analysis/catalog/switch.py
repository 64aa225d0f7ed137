"""The core ``switch`` node's rules, evaluated on constant messages.

When the value a switch tests is a constant on a path (msg.topic,
msg.payload, or a property inside a constant JSON payload), its rules decide
which outputs the message can take; branches it cannot take are dropped.
A rule ACM cannot decide (a value from context, JSONata, a sequence rule, a
comparison between different types) may match: its branch is kept. An
unknown value takes every branch. Semantics follow Node-RED's 10-switch.js.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..flows import Node
from ..values import UNKNOWN, Shape, Shapes, Value, decode, to_number

_MISSING = object()  # the tested property is not there (undefined)
Maybe = bool | None  # None: cannot tell


def _tested(node: Node, shape: Shape) -> Any:
    """The value the switch tests for this message, or UNKNOWN."""
    if node.get("propertyType", "msg") != "msg":
        return UNKNOWN
    path = str(node.get("property") or "payload").strip()
    head, _, rest = path.partition(".")
    if head == "topic" and not rest:
        value: Value = shape[0]
    elif head == "payload":
        value = shape[1]
    else:
        return UNKNOWN
    if value is UNKNOWN:
        return UNKNOWN
    decoded: Any = decode(value)  # type: ignore[arg-type]
    for part in rest.split(".") if rest else []:
        if "[" in part or not isinstance(decoded, dict):
            return UNKNOWN  # indexes, and properties of strings and arrays: not followed
        decoded = decoded.get(part, _MISSING)
        if decoded is _MISSING:
            return _MISSING
    return decoded


def _operand(rule: dict[str, Any], key: str = "v", kind_key: str = "vt") -> Any:
    kind = rule.get(kind_key) or "str"
    raw = rule.get(key)
    if kind == "str":
        return "" if raw is None else str(raw)
    if kind == "num":
        try:
            return to_number(raw)
        except (TypeError, ValueError):
            return UNKNOWN
    if kind == "bool":
        return str(raw).lower() == "true"
    if kind == "json":
        try:
            return json.loads(raw) if isinstance(raw, str) else raw
        except (ValueError, RecursionError):  # not JSON, nested or sized beyond any setting
            return UNKNOWN
    return UNKNOWN  # msg, flow, global, env, jsonata, prev: only known at run time


def _number(value: Any) -> float | None:
    """JavaScript's Number() for the values a message can hold, or None (NaN / unsure)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return to_number(value)
    if isinstance(value, str):
        try:
            number = float(value.strip()) if value.strip() else 0.0
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def _loose_equal(a: Any, b: Any) -> Maybe:
    """JavaScript ``==`` between a message value and a rule operand."""
    if a is _MISSING:
        return b is None
    if type(a) is type(b) or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                              and not isinstance(a, bool) and not isinstance(b, bool)):
        return bool(a == b) if not isinstance(a, (dict, list)) else None
    if isinstance(a, (str, int, float, bool)) and isinstance(b, (str, int, float, bool)):
        na, nb = _number(a), _number(b)
        return None if na is None or nb is None else na == nb
    return None


def _compare(a: Any, b: Any, op: str) -> Maybe:
    """JavaScript's <, <=, >, >=: strings compare as text, anything else as numbers."""
    if isinstance(a, str) and isinstance(b, str):
        left: Any = a
        right: Any = b
    else:
        left, right = _number(a), _number(b)
        if left is None or right is None:
            return None
    if op == "lt":
        return bool(left < right)
    if op == "lte":
        return bool(left <= right)
    if op == "gt":
        return bool(left > right)
    return bool(left >= right)


def _type_of(value: Any) -> str:
    if value is _MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# Patterns whose meaning is the same in JavaScript and Python and that cannot backtrack
# badly: no quantified group, no backreference, no named or look-behind group, no {,n}.
_FOREIGN = re.compile(r"\\[1-9kpPuxc]|\(\?[P<]|\{,|\)[*+?{]")
# Quantifiers side by side backtrack polynomially even without a group: "a*a*a*a*!"
# takes 13 s on 200 a's, one more "a*" hours. With at most three, a failing search on a
# subject of 64 characters takes a few milliseconds; anything more is decided at run time.
_QUANTIFIER = re.compile(r"[*+?]|\{\d")
MAX_QUANTIFIERS = 3
MAX_SUBJECT = 64


def _plain_pattern(source: str) -> bool:
    return (len(source) <= 200 and not _FOREIGN.search(source)
            and len(_QUANTIFIER.findall(source)) <= MAX_QUANTIFIERS)


def _rule(rule: dict[str, Any], value: Any) -> Maybe:  # noqa: C901 - one branch per operator of Node-RED's switch, read top to bottom against its source
    """Whether one rule matches a known value (None: cannot tell)."""
    kind = rule.get("t")
    if kind in ("true", "false"):
        return value is (kind == "true")
    if kind in ("null", "nnull"):
        is_null = value is None or value is _MISSING
        return is_null if kind == "null" else not is_null
    if kind in ("empty", "nempty"):
        if isinstance(value, (str, list, dict)):
            return bool((len(value) == 0) == (kind == "empty"))
        return False
    if kind == "istype":
        wanted = rule.get("v")
        if wanted == "json":
            return None
        return _type_of(value) == wanted
    operand = _operand(rule)
    if operand is UNKNOWN:
        return None
    if kind == "eq":
        return _loose_equal(value, operand)
    if kind == "neq":
        equal = _loose_equal(value, operand)
        return None if equal is None else not equal
    if kind in ("lt", "lte", "gt", "gte"):
        return _compare(value, operand, kind)
    if kind == "btwn":
        high = _operand(rule, "v2", "v2t")
        if high is UNKNOWN:
            return None
        checks = [_compare(value, operand, "gte"), _compare(value, high, "lte"),
                  _compare(value, operand, "lte"), _compare(value, high, "gte")]
        if None in checks:
            return None
        # Node-RED accepts the bounds either way round
        return bool((checks[0] and checks[1]) or (checks[2] and checks[3]))
    if kind == "cont":
        return str(operand) in value if isinstance(value, str) else None
    if kind == "regex":
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            return None
        source = str(operand)
        subject = str(value)
        # ($ also matches before a final newline in Python, not in JavaScript)
        if len(subject) > MAX_SUBJECT or "\n" in subject or not _plain_pattern(source):
            return None  # decided at run time rather than risk a slow or foreign match
        try:
            pattern = re.compile(source, re.IGNORECASE if rule.get("case") else 0)
        except re.error:
            return None
        return pattern.search(subject) is not None
    return None  # head, tail, index, hask, jsonata_exp, sequences: only at run time


def switch_routes(node: Node, shapes: Shapes) -> list[Shapes]:
    """What each output of a switch sends, for the messages arriving."""
    rules = node.get("rules")
    rules = [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []
    outputs = max(len(rules), len(node.get("wires") or []), 1)
    check_all = str(node.get("checkall", "true")).lower() == "true"
    tested = [(shape, _tested(node, shape)) for shape in shapes]
    if all(value is UNKNOWN for _, value in tested):
        return [shapes] * outputs  # every message may take every output
    ports: list[set[Shape]] = [set() for _ in range(outputs)]
    for shape, value in tested:
        taken = range(outputs) if value is UNKNOWN else _rules_passed(rules, value, check_all)
        for index in taken:
            ports[index].add(shape)
    return [frozenset(p) for p in ports]


def _rules_passed(rules: list[dict[str, Any]], value: Any, check_all: bool) -> list[int]:
    """The rules a known value may pass, by index; with check_all off, up to the first match."""
    passed = []
    matched: Maybe = False  # whether an earlier rule matched
    for index, rule in enumerate(rules):
        if not check_all and matched is True:
            break
        if rule.get("t") == "else":
            result: Maybe = None if matched is None else not matched
        else:
            result = _rule(rule, value)
        if result is not False:
            passed.append(index)
        if result is True:
            matched = True
        elif result is None and matched is False:
            matched = None
    return passed
