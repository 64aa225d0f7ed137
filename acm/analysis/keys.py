"""Actuator keys, written and read back in one place: ``<kind>:<address>``.

An actuator is the physical thing commanded, and its key names it the same way
whichever node, runtime or model binding reaches it: ``mqtt:<broker host:port>/<topic>``,
``ha:<entity_id>``, ``gpio:<runtime or host>/<pin>``, ``http:<METHOD> <url>``, and one
``<kind>:`` per other transport the catalog knows. Keys travel as plain strings
(findings, the JSON contract, the rule language compare them as text), so this module
spells the kinds that other stages take apart again and parses them back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActuatorKey:
    """A key taken apart: its kind (``mqtt``, ``ha``, ...) and what follows the colon."""

    kind: str
    address: str

    @classmethod
    def parse(cls, key: str) -> ActuatorKey:
        kind, _, address = key.partition(":")
        return cls(kind, address)

    def __str__(self) -> str:
        return f"{self.kind}:{self.address}"


def kind_of(key: str) -> str:
    """``mqtt`` for ``mqtt:broker:1883/a/b``: what transport or system the key names."""
    return ActuatorKey.parse(key).kind


def mqtt_key(broker: str, topic: str) -> str:
    """The key of ``topic`` on the broker at ``broker`` (``host:port``)."""
    return f"mqtt:{broker}/{topic}"


def mqtt_parts(key: str) -> tuple[str, str] | None:
    """``(broker host:port, topic)`` of an MQTT key; None for any other kind."""
    if not key.startswith("mqtt:"):
        return None
    broker, _, topic = key[len("mqtt:"):].partition("/")
    return broker, topic


def ha_key(entity: str) -> str:
    """The key of a Home Assistant entity (``light.kitchen``)."""
    return f"ha:{entity}"


def ha_entity(key: str) -> str | None:
    """The entity id of a Home Assistant key; None for any other kind."""
    return key[len("ha:"):] if key.startswith("ha:") else None


def gpio_key(where: str, pin: str) -> str:
    """The key of a GPIO pin on a runtime (or a remote pigpio host)."""
    return f"gpio:{where}/{pin}"


def http_key(method: str, url: str) -> str:
    """The key of an HTTP endpoint written with ``method`` (``url`` already redacted)."""
    return f"http:{method} {url}"
