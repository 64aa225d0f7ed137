"""The built-in catalog: what each node type starts, passes on and commands.

Every node type ACM knows is one :class:`~acm.analysis.catalog.declare.NodeType`
declaration in the module of its node package (``core``, ``dashboard``,
``homeassistant``, ``zigbee2mqtt`` …). This module collects them and answers
the analysis' questions by type. A node type the catalog does not know is
passed through with topic and payload forgotten; one with no input wire is a
trigger (automation): nothing else could make it emit.

An *actuator* is the physical thing commanded, named by a stable key
(``mqtt:<host:port>/<topic>``, ``ha:<entity_id>``, ``gpio:<runtime>/<pin>``
...). A target whose key depends on a run-time value that constant
propagation could not fix has ``key=None``: it is counted as an unknown
target, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..flows import Node
from ..values import UNKNOWN, Shape, Shapes
from . import (
    core,
    dashboard,
    devices,
    gpio,
    homeassistant,
    industrial,
    lighting,
    people,
    schedulers,
    sensors,
    shelly,
    tasmota,
    zigbee2mqtt,
)
from .core import mqtt_broker_address, normalise_topic
from .declare import (
    AUTOMATION,
    CHANNEL,
    DEVICE,
    EXTERNAL,
    MANUAL,
    PROVENANCES,
    ROLES,
    STATE,
    Config,
    NodeType,
    Provenance,
    Role,
    Target,
    forgets,
    passes,
)

MODULES = (core, dashboard, homeassistant, zigbee2mqtt, tasmota, shelly, gpio, industrial,
           lighting, schedulers, people, sensors, devices)


def _collect() -> dict[str, NodeType]:
    found: dict[str, NodeType] = {}
    for module in MODULES:
        for declared in module.TYPES:
            if declared.type in found:
                raise AssertionError(f"node type {declared.type!r} is declared twice")
            found[declared.type] = declared
    return found


NODE_TYPES: Mapping[str, NodeType] = _collect()
ACTUATOR_TYPES = frozenset(t for t, d in NODE_TYPES.items() if d.targets is not None)
ROUTED_TYPES = frozenset(t for t, d in NODE_TYPES.items() if d.routes is not None)
KNOWN_TYPES = frozenset(NODE_TYPES)
#: Declared types that never start a message (no ``trigger``): the propagation skips
#: them without asking :func:`trigger_provenance`, once per node of a site.
NOT_TRIGGERS = frozenset(t for t, d in NODE_TYPES.items() if d.trigger is None)
#: Types with shared state that decides whether messages pass (see :func:`gates`).
GATED_TYPES = frozenset(t for t, d in NODE_TYPES.items() if d.gates is not None)
#: Types that pass topic and payload on as they were (delay, link, junction ...): the
#: propagation's hot loop need not ask :func:`transfer` about them.
PASSING_TYPES = frozenset(t for t, d in NODE_TYPES.items() if d.transfer is passes)

__all__ = [
    "ACTUATOR_TYPES", "AUTOMATION", "CHANNEL", "DEVICE", "EXTERNAL", "GATED_TYPES",
    "KNOWN_TYPES", "MANUAL", "NODE_TYPES", "NOT_TRIGGERS", "PASSING_TYPES", "PROVENANCES",
    "ROLES",
    "ROUTED_TYPES", "STATE", "NodeType", "Provenance", "Role", "Target", "acm_role",
    "actuator_targets", "gates",
    "mqtt_broker_address", "routes", "normalise_topic", "transfer", "trigger_provenance",
    "trigger_shapes",
]


def acm_role(node: Node) -> str | None:
    """The role of a node ACM added (resolver, tag, group), or None for users' nodes."""
    marker = node.get("acm")
    return str(marker.get("role")) if isinstance(marker, dict) and marker.get("role") else None


def trigger_provenance(node: Node, has_inputs: bool) -> Provenance | None:
    """Who starts messages at this node: manual, automation or external; None if nobody.

    A node of a type the catalog does not know that has no incoming wire is
    taken as an automation trigger: nothing else could make it emit
    (contrib schedulers, device listeners ...).
    """
    node_type = node["type"]
    declared = NODE_TYPES.get(node_type)
    if declared is not None:
        return declared.trigger(node, has_inputs) if declared.trigger else None
    if not has_inputs and not node_type.startswith("subflow:"):
        wires = node.get("wires")
        if isinstance(wires, list) and any(port for port in wires):
            return AUTOMATION
    return None


def trigger_shapes(node: Node) -> Shapes:
    """What a trigger emits by itself, as far as its configuration says."""
    declared = NODE_TYPES.get(node["type"])
    return declared.emits(node) if declared else frozenset({(UNKNOWN, UNKNOWN)})


def gates(node: Node, config: Config) -> frozenset[str]:
    """Keys of the shared state that decides whether messages start at or pass this node."""
    declared = NODE_TYPES.get(node["type"])
    return declared.gates(node, config) if declared and declared.gates else frozenset()


def transfer(node: Node, shapes: Shapes) -> Shapes:
    """What a node does to the (topic, payload) of the messages it passes on."""
    node_type = node["type"]
    if node_type.startswith("subflow:") or ("acm" in node and acm_role(node) == "resolver"):
        return shapes  # a resolver emits one of the commands it received
    declared = NODE_TYPES.get(node_type)
    return declared.transfer(node, shapes) if declared else forgets(node, shapes)


def routes(node: Node, shapes: Shapes) -> list[Shapes] | None:
    """What each output port sends, for nodes that choose ports by the message; else None."""
    declared = NODE_TYPES.get(node["type"])
    return declared.routes(node, shapes) if declared and declared.routes else None


def actuator_targets(
    node: Node, config: Config, runtime: str, shapes: Iterable[Shape]
) -> list[Target]:
    """Every target a node commands for the given incoming message shapes."""
    declared = NODE_TYPES.get(node["type"])
    if declared is None or declared.targets is None:
        return []
    out: list[Target] = []
    for shape in shapes:
        out.extend(declared.targets(node, config, runtime, shape))
    return out
