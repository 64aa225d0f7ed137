"""Voice assistants, HomeKit, chat bots and remotes: where people give commands."""

from __future__ import annotations

from .declare import MANUAL, NodeType, starts, swallows

_PERSON = {
    "alexa-local": ("node-red-contrib-alexa-local", "An Alexa voice command"),
    "alexa-home": ("node-red-contrib-alexa-home-skill", "An Alexa voice command"),
    "alexa-remote-event": ("node-red-contrib-alexa-remote2-applestrudel",
                           "Something said to an Echo device"),
    "google-action in": ("node-red-contrib-google-action", "A Google Assistant command"),
    "google-home": ("node-red-contrib-googlehome", "A Google Assistant command"),
    "google-device": ("node-red-contrib-google-smarthome", "A Google Assistant command"),
    "homekit-service": ("node-red-contrib-homekit-bridged", "A change made in Apple Home"),
    "telegram receiver": ("node-red-contrib-telegrambot", "A Telegram message"),
    "telegram command": ("node-red-contrib-telegrambot", "A Telegram command"),
    "Sonoff RF Button": ("node-red-contrib-sonoff", "An RF remote's button"),
}

# What such a node receives (the device's state, to show in the app) is not passed on.
TYPES: list[NodeType] = [
    NodeType(name, package, f"{what}: manual. Input messages only update what the person "
             "sees.", trigger=starts(MANUAL), transfer=swallows)
    for name, (package, what) in _PERSON.items()
]
