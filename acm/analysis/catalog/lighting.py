"""Lighting bridges: Philips Hue and deCONZ.

Packages ``node-red-contrib-huemagic`` and ``node-red-contrib-deconz``.
"""

from __future__ import annotations

from ..flows import Node
from ..values import Shape
from .declare import (
    AUTOMATION,
    DEVICE,
    MANUAL,
    Config,
    NodeType,
    Provenance,
    Target,
    host_port,
    starts,
    text,
)

HUE = "node-red-contrib-huemagic"
DECONZ = "node-red-contrib-deconz"


def _hue_light(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    bridge = config(node.get("bridge"))
    where = text(bridge.get("bridge")) if bridge else "?"
    light = text(str(node.get("lightid", "")))
    if not light:
        return [Target("hue", None, f"{where} <light>", shape[1])]
    return [Target("hue", f"hue:{where}/{light}", light, shape[1], DEVICE)]


def _deconz_output(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    server = config(node.get("server"))
    where = host_port(server.get("ip"), server.get("port"), 80) if server else "?"
    devices = node.get("device_list") or ([node["device"]] if node.get("device") else [])
    if not isinstance(devices, list):
        devices = [devices]
    names = [text(str(d)) for d in devices if text(str(d))]
    if not names:
        return [Target("deconz", None, f"{where} <device>", shape[1])]
    return [Target("deconz", f"deconz:{where}/{d}", d, shape[1], DEVICE) for d in names]


def _deconz_input_provenance(node: Node, has_inputs: bool) -> Provenance:
    """A switch's ``buttonevent`` is a person; other states are sensors.

    Version 2.x keeps the attribute in ``output_rules[].payload`` (a list),
    older versions in ``state``.
    """
    attributes = [text(node.get("state")).lower()]
    rules = node.get("output_rules")
    for rule in rules if isinstance(rules, list) else []:
        payload = rule.get("payload") if isinstance(rule, dict) else None
        if isinstance(payload, list):
            attributes += [text(p).lower() for p in payload]
        elif isinstance(payload, str):
            attributes.append(payload.strip().lower())
    return MANUAL if "buttonevent" in attributes else AUTOMATION


TYPES: list[NodeType] = [
    NodeType("hue-light", HUE, "Sets a Hue light.", targets=_hue_light, roles=(DEVICE,)),
    *[NodeType(name, HUE, "A Hue sensor reports: automation.", trigger=starts(AUTOMATION))
      for name in ("hue-motion", "hue-temperature", "hue-brightness")],
    *[NodeType(name, HUE, "A Hue switch or button is pressed: manual.", trigger=starts(MANUAL))
      for name in ("hue-switch", "hue-button")],
    NodeType("deconz-output", DECONZ, "Sets deCONZ lights or groups.", targets=_deconz_output,
             roles=(DEVICE,)),
    NodeType("deconz-input", DECONZ, "A deCONZ device reports: manual for button events, "
             "otherwise automation.", trigger=_deconz_input_provenance),
    NodeType("deconz-battery", DECONZ, "A battery level: automation.",
             trigger=starts(AUTOMATION)),
]
