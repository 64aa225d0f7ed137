"""Zigbee2MQTT nodes (``node-red-contrib-zigbee2mqtt``)."""

from __future__ import annotations

import json

from ..flows import Node
from ..keys import mqtt_key
from ..values import UNKNOWN, Shape, const, typed_constant
from .declare import (
    AUTOMATION,
    DEVICE,
    MANUAL,
    Config,
    NodeType,
    Provenance,
    Target,
    host_port,
    text,
)

PACKAGE = "node-red-contrib-zigbee2mqtt"


def _in_provenance(node: Node, has_inputs: bool) -> Provenance:
    """A remote's ``action`` is a person pressing a button; other properties are sensors."""
    # the package keeps the chosen device property in `state` (older copies: `property`)
    prop = (text(node.get("state")) or text(node.get("property"))).lower()
    return MANUAL if prop in ("action", "click") else AUTOMATION


def _out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    server = config(node.get("server"))
    base = text(server.get("base_topic")) if server else ""
    broker = host_port(server.get("host"), server.get("mqtt_port"), 1883) if server else "?"
    device = text(node.get("friendly_name")) or text(node.get("device_id"))
    if not device:
        return [Target("zigbee2mqtt", None, "<msg>", shape[1])]
    topic = f"{base or 'zigbee2mqtt'}/{device}/set"
    command = shape[1]
    name = text(node.get("command"))
    payload_type = node.get("payloadType", "msg")
    if name and node.get("commandType", "z2m_cmd") in ("z2m_cmd", "str"):
        if payload_type in ("z2m_payload", "str", "num", "json", "bool"):
            value = typed_constant(node.get("payload"),
                                   "str" if payload_type == "z2m_payload" else payload_type)
            command = UNKNOWN if value is UNKNOWN else const({name: json.loads(str(value))})
        elif payload_type != "msg":
            command = UNKNOWN  # flow/global/env context: decided at run time
    elif name:
        command = UNKNOWN  # the command itself comes from the message
    return [Target("zigbee2mqtt", mqtt_key(broker, topic), device, command, DEVICE)]


TYPES: list[NodeType] = [
    NodeType("zigbee2mqtt-in", PACKAGE, "A device reports: manual for a remote's action, "
             "otherwise automation (a sensor).", trigger=_in_provenance),
    NodeType("zigbee2mqtt-out", PACKAGE, "Sets a Zigbee device (…/set on the bridge's broker).",
             targets=_out, roles=(DEVICE,)),
]
