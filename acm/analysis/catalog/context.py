"""Global context variables as shared state: a core switch that tests one is a gate,
and the flows that write one set it (docs/analysis.md, "Gates").

A common way for two automations to hand a device over in plain Node-RED: one
flow sets ``global.mode`` ("away", "manual", ...) with a change node or
``global.set("mode", ...)`` in a function, the other routes its commands
through a switch on ``global.mode``. Such a switch gates the messages that pass
it by the variable, exactly as a current-state condition does by a Home
Assistant helper. Flow context is not followed: it belongs to one tab, so only
that tab's own application can set it. A variable is named by its top-level
name (``settings.mode`` is in ``settings``), whatever context store holds it.
"""

from __future__ import annotations

import re
from typing import Any

from ..flows import Node
from .declare import Config

#: ``#:(store)::name``: a variable in a named context store (Node-RED's syntax).
_STORE = re.compile(r"^#:\((?P<store>[^)]*)\)::(?P<name>.*)$", re.S)
_TOP_LEVEL = re.compile(r"^[^.\[]+")
#: ``global.set("name", ...)`` (or with a store) in a function node's code.
_SET_CALL = re.compile(r"""\bglobal\s*\.\s*set\s*\(\s*(['"])(?P<name>[^'"\\]+)\1""")


def global_key(name: Any) -> str | None:
    """The key of the global variable a property names (``mode``, ``settings.mode``,
    ``#:(file)::mode``), or None when it names none."""
    if not isinstance(name, str):
        return None
    found = _STORE.match(name.strip())
    if found:
        name = found["name"]
    top = _TOP_LEVEL.match(name.strip())
    return f"context:global.{top.group(0).strip()}" if top and top.group(0).strip() else None


def switch_gates(node: Node, config: Config) -> frozenset[str]:
    """The global variables a switch tests: its property, or a rule's value (a message
    compared with ``global.mode``)."""
    gates: set[str | None] = set()
    if node.get("propertyType") == "global":
        gates.add(global_key(node.get("property")))
    rules = node.get("rules")
    for rule in rules if isinstance(rules, list) else ():
        if isinstance(rule, dict):
            for kind, value in (("vt", "v"), ("v2t", "v2")):
                if rule.get(kind) == "global":
                    gates.add(global_key(rule.get(value)))
    return frozenset(g for g in gates if g is not None)


def global_writes(node: Node) -> frozenset[str]:
    """The global variables a change node or a function node writes."""
    if node.get("type") == "change":
        return _change_writes(node)
    if node.get("type") == "function":
        code = node.get("func")
        if isinstance(code, str) and "global" in code:
            keys = {global_key(m["name"]) for m in _SET_CALL.finditer(code)}
            return frozenset(k for k in keys if k is not None)
    return frozenset()


def _change_writes(node: Node) -> frozenset[str]:
    """Set, delete and move rules onto ``global.*`` (a move also empties its source)."""
    rules = node.get("rules")
    keys: set[str | None] = set()
    for rule in rules if isinstance(rules, list) else ():
        if not isinstance(rule, dict) or rule.get("t") not in ("set", "delete", "move"):
            continue
        if rule.get("pt") == "global":
            keys.add(global_key(rule.get("p")))
        if rule.get("t") == "move" and rule.get("tot") == "global":
            keys.add(global_key(rule.get("to")))
    return frozenset(k for k in keys if k is not None)
