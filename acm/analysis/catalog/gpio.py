"""GPIO pins of a Raspberry Pi (``node-red-node-pi-gpio``, ``node-red-node-pi-gpiod``)."""

from __future__ import annotations

from ..flows import Node
from ..keys import gpio_key
from ..values import Shape
from .declare import AUTOMATION, DEVICE, Config, NodeType, Target, starts, text

PACKAGE = "node-red-node-pi-gpio"


def _out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    pin = text(str(node.get("pin", "")))
    if not pin:
        return [Target("gpio", None, "<pin>", shape[1])]
    host = text(node.get("host"))  # remote pigpio nodes
    return [Target("gpio", gpio_key(host or runtime, pin), f"pin {pin}", shape[1], DEVICE)]


TYPES: list[NodeType] = [
    *[NodeType(name, PACKAGE, "Drives a GPIO pin.", targets=_out, roles=(DEVICE,))
      for name in ("rpi-gpio out", "rpi-gpio-out")],
    NodeType("pi-gpiod out", "node-red-node-pi-gpiod", "Drives a GPIO pin over pigpiod.",
             targets=_out, roles=(DEVICE,)),
    *[NodeType(name, PACKAGE, "A GPIO input changes (a sensor or contact): automation.",
               trigger=starts(AUTOMATION)) for name in ("rpi-gpio in", "rpi-gpio-in")],
]
