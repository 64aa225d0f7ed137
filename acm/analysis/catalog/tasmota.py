"""Tasmota nodes (``node-red-contrib-tasmota``)."""

from __future__ import annotations

from ..flows import Node
from ..keys import mqtt_key
from ..values import Shape
from .core import mqtt_broker_address, normalise_topic
from .declare import AUTOMATION, DEVICE, MANUAL, Config, NodeType, Target, starts, text

PACKAGE = "node-red-contrib-tasmota"


def _switch(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    broker = mqtt_broker_address(config(node.get("broker")), str(node.get("broker") or "?"))
    device = text(node.get("device"))
    if not device:
        return [Target("mqtt", None, f"{broker}/<device>", shape[1])]
    full = text(node.get("fullTopic")) or "%prefix%/%topic%/"
    prefix = text(node.get("cmndPrefix")) or "cmnd"
    topic = normalise_topic(full.replace("%prefix%", prefix).replace("%topic%", device))
    return [Target("mqtt", mqtt_key(broker, topic), topic, shape[1], DEVICE)]


TYPES: list[NodeType] = [
    NodeType("Tasmota Switch", PACKAGE, "Switches a Tasmota relay (cmnd/<device>/…).",
             targets=_switch, roles=(DEVICE,)),
    NodeType("Tasmota Light", PACKAGE, "Sets a Tasmota light (cmnd/<device>/…).",
             targets=_switch, roles=(DEVICE,)),
    NodeType("Tasmota Sensor", PACKAGE, "A Tasmota sensor reports: automation.",
             trigger=starts(AUTOMATION)),
    NodeType("Tasmota Button", PACKAGE, "A Tasmota button is pressed: manual.",
             trigger=starts(MANUAL)),
]
