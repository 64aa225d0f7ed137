"""The nodes ACM inserts into flows: the marker each one carries, its roles, and the
shape of every node local and cross-runtime resolution add (function, change, link,
group, MQTT and tab nodes), one builder each; and how revert recognises them.

Every node ACM adds (and every node it reroutes) carries ``"acm": {"role": ...,
"conflict": ...}``, so that re-running a resolution finds what is already there
and ``acm revert`` removes exactly what ACM added. The roles are a ``str`` enum:
a marker reads and writes as the plain JSON string it always was. The builders
keep each node's keys in the order ACM has always written them, so resolved flows
files do not change from one version to the next.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from ..analysis.flows import MANIFEST_ENV

#: The node property that holds ACM's marker.
MARKER = "acm"
#: The group env variable that holds a resolver's configuration (JSON).
ENV_NAME = "ACM_RESOLVER"


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
    return set_rule(TAG_PROPERTY, text)


def set_rule(prop: str, value: Any, kind: str = "str") -> dict[str, Any]:
    """A change node rule that sets ``msg.<prop>`` to ``value`` (as text) of type ``kind``."""
    return {"t": "set", "p": prop, "pt": "msg", "to": str(value), "tot": kind}


def delete_rule(prop: str) -> dict[str, Any]:
    """A change node rule that deletes ``msg.<prop>``."""
    return {"t": "delete", "p": prop, "pt": "msg"}


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


#: The node type of nodered-bridge's native resolver (``acm resolve --native``).
NATIVE_RESOLVER = "acm-resolver"


def native_resolver_node(node_id: str, name: str, strategy: str, template: str,
                         outputs: int, wires: list[list[str]], marker: dict[str, Any], *,
                         z: str, g: str) -> dict[str, Any]:
    """A native resolver node (nodered-bridge's ``acm-resolver``): the strategy's
    template runs in Node-RED's own context instead of a function node's vm; the same
    group env configures it. Flows with one need the bridge in their runtime.
    ``template`` is the digest of the template text this acm writes it for (the node
    warns when the bridge's differs): the first 16 hex digits of its SHA-256."""
    digest = hashlib.sha256(template.encode("utf-8")).hexdigest()[:16]
    return {"id": node_id, "type": NATIVE_RESOLVER, "z": z, "g": g, "name": name,
            "strategy": strategy, "template": digest, "outputs": outputs, "wires": wires,
            MARKER: marker}


def has_native_resolver(nodes: Sequence[Mapping[str, Any]]) -> bool:
    """Whether ACM put a native resolver in these flows (a later run keeps to that)."""
    return any(n.get("type") == NATIVE_RESOLVER and role_of(n) == MarkerRole.RESOLVER
               for n in nodes)


def _placed(node: dict[str, Any], x: float | None, y: float | None) -> None:
    """Give ``node`` its place when the caller has one (else the layout adds it later)."""
    if x is not None and y is not None:
        node["x"], node["y"] = x, y


def change_node(node_id: str, name: str, rules: list[dict[str, Any]], wires: list[list[str]],
                marker: dict[str, Any], *, z: str, g: str | None = None,
                x: float | None = None, y: float | None = None) -> dict[str, Any]:
    """A change node (a tag, an app tag, a guard state tap) with its rules."""
    node: dict[str, Any] = {"id": node_id, "type": "change", "z": z}
    if g is not None:
        node["g"] = g
    node.update(name=name, rules=rules)
    _placed(node, x, y)
    node["wires"] = wires
    node[MARKER] = marker
    return node


def link_in(node_id: str, name: str, links: list[str], wires: list[list[str]],
            marker: dict[str, Any], *, z: str, g: str | None = None) -> dict[str, Any]:
    """A ``link in`` node fed by the ``link out`` nodes in ``links``."""
    node: dict[str, Any] = {"id": node_id, "type": "link in", "z": z}
    if g is not None:
        node["g"] = g
    node.update(name=name, links=links, wires=wires)
    node[MARKER] = marker
    return node


def link_out(node_id: str, name: str, links: list[str], marker: dict[str, Any], *, z: str,
             g: str | None = None) -> dict[str, Any]:
    """A ``link out`` node (mode ``link``) sending to the ``link in`` nodes in ``links``."""
    node: dict[str, Any] = {"id": node_id, "type": "link out", "z": z}
    if g is not None:
        node["g"] = g
    node.update(mode="link", name=name, links=links, wires=[])
    node[MARKER] = marker
    return node


def env_entry(name: str, value: Any) -> dict[str, str]:
    """A group env variable of type ``str`` holding ``value`` as JSON (keys sorted)."""
    return {"name": name, "value": json.dumps(value, sort_keys=True), "type": "str"}


def group_node(node_id: str, name: str, members: list[str], env: list[dict[str, str]],
               marker: dict[str, Any], *, z: str,
               box: tuple[float, float, float, float] | None = None) -> dict[str, Any]:
    """A group drawn around ACM's nodes (:data:`GROUP_STYLE`); ``box`` is its
    ``x, y, w, h`` when the caller knows it, else it is fitted later (after the marker)."""
    node: dict[str, Any] = {"id": node_id, "type": "group", "z": z, "name": name,
                            "style": dict(GROUP_STYLE), "nodes": members, "env": env}
    if box is not None:
        node.update(zip(("x", "y", "w", "h"), box, strict=True))
    node[MARKER] = marker
    return node


def mqtt_in(node_id: str, name: str, topic: str, broker: str, wires: list[list[str]],
            marker: dict[str, Any], *, datatype: str, z: str, g: str, x: float,
            y: float) -> dict[str, Any]:
    """An ``mqtt in`` node subscribed to ``topic`` at QoS 1 (not its own messages)."""
    return {"id": node_id, "type": "mqtt in", "z": z, "g": g, "name": name, "topic": topic,
            "qos": "1", "datatype": datatype, "broker": broker, "nl": False, "rap": True,
            "rh": 0, "inputs": 0, "x": x, "y": y, "wires": wires, MARKER: marker}


def mqtt_out(node_id: str, name: str, topic: str, broker: str, marker: dict[str, Any], *,
             qos: Any, retain: Any, z: str, g: str, x: float, y: float) -> dict[str, Any]:
    """An ``mqtt out`` node publishing to ``topic``."""
    return {"id": node_id, "type": "mqtt out", "z": z, "g": g, "name": name, "topic": topic,
            "qos": qos, "retain": retain, "broker": broker, "x": x, "y": y, "wires": [],
            MARKER: marker}


def broker_node(node_id: str, address: str) -> dict[str, Any]:
    """The ``mqtt-broker`` config node ACM adds for ``host:port`` when a runtime has none
    (plain MQTT 3.1.1, no credentials)."""
    host, _, port = address.rpartition(":")
    return {"id": node_id, "type": "mqtt-broker", "name": f"ACM {address}", "broker": host,
            "port": port, "clientid": "", "protocolVersion": "4", "keepalive": "60",
            "cleansession": True, MARKER: marker(MarkerRole.CONFIG)}


def tab_node(node_id: str, label: str, info: str) -> dict[str, Any]:
    """A tab ACM adds (the one that hosts cross-runtime resolvers)."""
    return {"id": node_id, "type": "tab", "label": label, "disabled": False, "info": info,
            MARKER: marker(MarkerRole.TAB)}


def reroute(node: dict[str, Any], conflict: str, topic: str) -> None:
    """Move a publisher to ``topic`` (ACM's namespace), marked ``rerouted`` with its
    original topic, which revert puts back."""
    original = {"topic": node.get("topic", "")}
    node["topic"] = topic
    node[MARKER] = marker(MarkerRole.REROUTED, conflict, original=original)


# ---------------------------------------------------------------- recognising ACM's nodes


def marker_of(node: Mapping[str, Any]) -> dict[str, Any] | None:
    """The node's marker (a dict with a ``role``), None on a node ACM did not add or change."""
    value = node.get(MARKER)
    return value if isinstance(value, dict) and "role" in value else None


def role_of(node: Mapping[str, Any]) -> Any:
    """The role of the node's marker (a :class:`MarkerRole` value), None without one."""
    found = marker_of(node)
    return found["role"] if found else None


def added_by_acm(node: Mapping[str, Any]) -> bool:
    """Whether ACM added the node (revert removes it), not only changed it (rerouted)."""
    found = marker_of(node)
    return found is not None and found["role"] != MarkerRole.REROUTED


def has_role(node: Mapping[str, Any], role: MarkerRole, conflict: str) -> bool:
    """Whether ACM added the node as ``role`` for ``conflict``."""
    found = marker_of(node)
    return found is not None and found["role"] == role and found.get("conflict") == conflict


def manifest_entry(added: Sequence[Mapping[str, Any]],
                   extra: Mapping[str, Any]) -> dict[str, str]:
    """The group env entry listing the markers of the nodes ACM added with the group."""
    listed = {n["id"]: n[MARKER] for n in added if marker_of(n)}
    listed.update(extra)
    return env_entry(MANIFEST_ENV, listed)
