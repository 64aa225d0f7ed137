"""Schedulers, timers and sun events: the start of most automations."""

from __future__ import annotations

from .declare import AUTOMATION, NodeType, passes, starts

_SCHEDULERS = {
    "cronplus": "node-red-contrib-cron-plus",
    "bigtimer": "node-red-contrib-bigtimer",
    "schedex": "node-red-contrib-schedex",
    "eztimer": "node-red-contrib-eztimer",
    "light-scheduler": "node-red-contrib-light-scheduler",
    "timerswitch": "node-red-contrib-timerswitch",
    "sunevents": "node-red-contrib-sunevents",
    "sun-position": "node-red-contrib-sun-position",
    "time-inject": "node-red-contrib-sun-position",
    "looptimer": "node-red-contrib-looptimer",
}

TYPES: list[NodeType] = [
    *[NodeType(name, package, "Schedules and sun events: automation.",
               trigger=starts(AUTOMATION)) for name, package in _SCHEDULERS.items()],
    NodeType("within-time-switch", "node-red-contrib-sun-position", "Passes a message on "
             "inside a time window (a switch, not a trigger).", transfer=passes),
    NodeType("time-range-switch", "node-red-contrib-time-range-switch", "Passes a message "
             "to one output inside a time range and to the other outside it (a switch, not a "
             "trigger).", transfer=passes),
]
