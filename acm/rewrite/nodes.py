"""The nodes ACM inserts into flows: the marker each one carries, its roles, and the
shapes local and cross-runtime resolution share (function nodes, the group's style).

Every node ACM adds (and every node it reroutes) carries ``"acm": {"role": ...,
"conflict": ...}``, so that re-running a resolution finds what is already there
and ``acm revert`` removes exactly what ACM added. The roles are a ``str`` enum:
a marker reads and writes as the plain JSON string it always was. The builders
keep each node's keys in the order ACM has always written them, so resolved flows
files do not change from one version to the next.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

#: The node property that holds ACM's marker.
MARKER = "acm"


class MarkerRole(str, Enum):
    """What a node ACM added is for (the ``role`` of its marker)."""

    TAG = "tag"  # a change node that tells the resolver where a command came from
    RESOLVER = "resolver"  # the function node that runs a strategy
    LINK = "link"  # link out / link in pairs that carry commands to and from it
    GROUP = "group"  # the group drawn around a resolution
    PUBLISHER = "publisher"  # an mqtt out a cross-runtime resolver publishes with
    CONFIG = "config"  # a config node ACM had to add (an mqtt-broker)
    TAB = "tab"  # the tab that hosts cross-runtime resolvers
    REROUTED = "rerouted"  # not added: a publisher moved to ACM's topic, restored by revert

    def __str__(self) -> str:  # "tag", not "MarkerRole.TAG", wherever a role is written
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


#: The message property a tag sets (msg._acm): the tag's JSON text, see :func:`tag_rule`.
TAG_PROPERTY = "_acm"


def tag_rule(target: int, role: str, app: str | None = None,
             command: str | None = None) -> dict[str, Any]:
    """The one rule of a tag (a change node in front of a resolver): set ``msg._acm`` to
    the JSON text ``{"target", "role", "app"?, "command"?}`` as a string. The resolver
    parses each text once (common.js); a rule per property (msg.acm.target, .role,
    .app, as ACM wrote them before, and still reads) costs the change node about 1 µs
    each per message, and a JSON-typed rule a JSON.parse per message."""
    tag: dict[str, Any] = {"target": target, "role": role}
    if app is not None:
        tag["app"] = app
    if command is not None:
        tag["command"] = command
    text = json.dumps(tag, separators=(",", ":"), ensure_ascii=False)
    return {"t": "set", "p": TAG_PROPERTY, "pt": "msg", "to": text, "tot": "str"}


#: How the group around a resolution is drawn (the editor's orange, half transparent).
GROUP_STYLE = {"label": True, "stroke": "#ff7f0e", "fill": "#fff3e0", "fill-opacity": "0.5"}


def marker(role: MarkerRole, conflict: str | None = None, **extra: Any) -> dict[str, Any]:
    """The marker of a node ACM adds for ``conflict`` (none for shared nodes: a tab, a
    broker), with what revert or a later run needs besides (``restore``, ``policy`` ...)."""
    found: dict[str, Any] = {"role": role}
    if conflict is not None:
        found["conflict"] = conflict
    found.update(extra)
    return found


def resolver_marker(strategy: str, conflict: str, policy: str) -> dict[str, Any]:
    """The marker of a resolver function node; ``version`` is that of its configuration."""
    return {"role": MarkerRole.RESOLVER, "strategy": strategy, "conflict": conflict,
            "policy": policy, "version": 1}


def function_node(node_id: str, name: str, func: str, outputs: int, wires: list[list[str]],
                  marker: dict[str, Any], *, z: str, g: str, x: float | None = None,
                  y: float | None = None) -> dict[str, Any]:
    """A function node as the editor writes one (no libraries, no timeout, no setup code);
    ``x``/``y`` when the caller places it, else the layout places it later."""
    node: dict[str, Any] = {
        "id": node_id, "type": "function", "z": z, "g": g, "name": name, "func": func,
        "outputs": outputs, "timeout": 0, "noerr": 0, "initialize": "", "finalize": "",
        "libs": [],
    }
    if x is not None and y is not None:
        node["x"], node["y"] = x, y
    node["wires"] = wires
    node[MARKER] = marker
    return node
