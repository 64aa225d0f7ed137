"""Shelly nodes (``node-red-contrib-shelly``)."""

from __future__ import annotations

from ..flows import Node
from ..values import Shape
from .declare import AUTOMATION, DEVICE, Config, NodeType, Target, starts, text

PACKAGE = "node-red-contrib-shelly"


def _shelly(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    host = text(node.get("hostname"))
    if not host:
        return [Target("shelly", None, "<msg>", shape[1])]
    return [Target("shelly", f"shelly:{host}", host, shape[1], DEVICE)]


TYPES: list[NodeType] = [
    NodeType(name, PACKAGE, "Commands a Shelly device and reports its status (automation).",
             trigger=starts(AUTOMATION), targets=_shelly, roles=(DEVICE,))
    for name in ("shelly-gen1", "shelly-gen2")
]
