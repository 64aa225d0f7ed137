"""Other nodes that report what devices and services see: automation triggers."""

from __future__ import annotations

from .declare import AUTOMATION, NodeType, computes_payload, starts

_SENSORS = {
    "hb-event": "node-red-contrib-homebridge-automation",
    "hb-status": "node-red-contrib-homebridge-automation",
    "wemo in": "node-red-node-wemo",
    "Sonoff PIR": "node-red-contrib-sonoff",
    "nut-ups": "node-red-contrib-nut-ups",
    "mpd in": "node-red-contrib-mpd",
    "harmonyws-observer": "node-red-contrib-harmony-websocket",
    "better-sonos-status": "node-red-contrib-better-sonos",
    "Dhcp events": "node-red-contrib-dhcp-events",
}

TYPES: list[NodeType] = [
    *[NodeType(name, package, "A device or service reports: automation.",
               trigger=starts(AUTOMATION)) for name, package in _SENSORS.items()],
    NodeType("owntracks", "node-red-contrib-owntracks", "Turns the OwnTracks messages it is "
             "given (from an mqtt in) into locations: not a trigger.",
             transfer=computes_payload),
]
