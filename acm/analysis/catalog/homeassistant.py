"""Home Assistant nodes (``node-red-contrib-home-assistant-websocket``).

Which entity domains are devices and which are shared state, and which
feature of a device each service acts on, are tables here (docs/analysis.md
shows them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..flows import Node
from ..keys import ha_key
from ..values import UNKNOWN, Shape, Value, const, decode
from .declare import (
    AUTOMATION,
    DEVICE,
    EXTERNAL,
    MANUAL,
    STATE,
    Config,
    NodeType,
    Provenance,
    Role,
    Target,
    computes_payload,
    json_object,
    passes,
    starts,
    text,
)

PACKAGE = "node-red-contrib-home-assistant-websocket"

# Service domains that tell people something or look after Home Assistant itself:
# no target at all.
NOT_A_TARGET = frozenset(
    {"notify", "persistent_notification", "tts", "system_log", "logbook", "recorder",
     "logger", "conversation", "frontend", "hassio", "backup", "mqtt", "shell_command",
     "rest_command", "camera", "image_processing"}
)

# Entity domains that hold shared state (helpers and virtual values), not physical devices.
STATE_DOMAINS = frozenset(
    {"input_boolean", "input_number", "input_select", "input_text", "input_datetime",
     "input_button", "counter", "timer", "variable", "var", "automation", "schedule",
     "sensor", "binary_sensor", "device_tracker", "person", "zone", "todo", "sun", "weather",
     "shopping_list", "calendar"}
)

# The feature of a device each service acts on, per entity domain. Services missing
# from a domain's table (and domains missing here, such as light) act on the whole
# device. homeassistant.turn_on/turn_off/toggle count as the domain's own service.
FEATURES: Mapping[str, Mapping[str, str]] = {
    "climate": {
        **dict.fromkeys(("turn_on", "turn_off", "toggle", "set_hvac_mode"), "hvac mode"),
        "set_temperature": "target temperature",
        "set_humidity": "target humidity",
        "set_fan_mode": "fan mode",
        "set_preset_mode": "preset",
        "set_swing_mode": "swing mode",
        "set_swing_horizontal_mode": "swing mode",
    },
    "media_player": {
        **dict.fromkeys(("turn_on", "turn_off", "toggle"), "power"),
        **dict.fromkeys(("volume_set", "volume_up", "volume_down", "volume_mute"), "volume"),
        "select_source": "source",
        "select_sound_mode": "sound mode",
        **dict.fromkeys(("play_media", "media_play", "media_pause", "media_stop",
                         "media_play_pause", "media_next_track", "media_previous_track",
                         "media_seek", "shuffle_set", "repeat_set", "clear_playlist"), "media"),
        **dict.fromkeys(("join", "unjoin"), "grouping"),
    },
    "cover": {
        **dict.fromkeys(("open_cover", "close_cover", "stop_cover", "set_cover_position",
                         "toggle", "turn_on", "turn_off"), "position"),
        **dict.fromkeys(("open_cover_tilt", "close_cover_tilt", "stop_cover_tilt",
                         "set_cover_tilt_position", "toggle_cover_tilt"), "tilt"),
    },
    "fan": {
        **dict.fromkeys(("turn_on", "turn_off", "toggle", "set_percentage", "increase_speed",
                         "decrease_speed", "set_preset_mode"), "power and speed"),
        "oscillate": "oscillation",
        "set_direction": "direction",
    },
    "water_heater": {
        **dict.fromkeys(("turn_on", "turn_off", "set_operation_mode"), "operation mode"),
        "set_temperature": "target temperature",
        "set_away_mode": "away mode",
    },
    "humidifier": {
        **dict.fromkeys(("turn_on", "turn_off", "toggle"), "power"),
        "set_humidity": "target humidity",
        "set_mode": "mode",
    },
}

_GENERIC_SERVICES = frozenset({"turn_on", "turn_off", "toggle"})


def entity_role(entity_id: str) -> Role:
    """Helpers are state; so are the switches that enable Node-RED's own exposed nodes."""
    domain, _, object_id = entity_id.partition(".")
    if domain in STATE_DOMAINS or (domain == "switch" and object_id.startswith("nodered_")):
        return STATE
    return DEVICE


def applies_to(command: Value, entity_id: str) -> bool:
    """Whether a service call on an area, device, floor or label acts on this entity:
    Home Assistant applies a service to the target's entities of the service's domain
    (homeassistant.* to every entity). A command known only at run time may."""
    if command is UNKNOWN:
        return True
    called = decode(command)  # type: ignore[arg-type]
    domain = str(called).split(".", 1)[0]
    return domain in ("homeassistant", entity_id.split(".", 1)[0])


#: Domains whose services act on entities of that domain only (Home Assistant skips the
#: other entity ids of a call: ``light.toggle`` on ``switch.kitchen`` does nothing).
#: ``homeassistant.*`` and integration services (``zwave_js.set_value``,
#: ``sonos.join`` ...) act on entities of any domain, and old-style ``group.*``
#: entities are expanded to their members, so neither is filtered.
ENTITY_DOMAINS = frozenset(
    {"alarm_control_panel", "button", "climate", "cover", "fan", "humidifier", "lawn_mower",
     "light", "lock", "media_player", "number", "remote", "scene", "script", "select", "siren",
     "switch", "text", "update", "vacuum", "valve", "water_heater", "input_boolean",
     "input_number", "input_select", "input_text", "input_datetime", "input_button",
     "counter", "timer", "automation", "date", "datetime", "time", "todo"}
)


def service_acts_on(domain: str, entity_id: str) -> bool:
    """Whether a service of ``domain`` called with ``entity_id`` explicitly acts on it
    (see :data:`ENTITY_DOMAINS`)."""
    if domain not in ENTITY_DOMAINS:
        return True
    return entity_id.split(".", 1)[0] in (domain, "group")


def feature_of(entity_id: str, service: str) -> str | None:
    return FEATURES.get(entity_id.split(".", 1)[0], {}).get(service)


# ---------------------------------------------------------------------------
# Triggers: state changes are automation, unless the entity is something a person presses


_MANUAL_DOMAINS = frozenset({"input_button", "button", "event"})
_MANUAL_SUFFIXES = ("_action", "_click", "_button", "_press")
# Events a person causes: a tap on a phone notification, an answer to Alexa, a remote's or a
# wall switch's button, a scanned tag. Z-Wave JS fires zwave_js_value_notification for Central
# Scene, the scene buttons of wall switches and remotes (zwave_js_notification is the
# Notification CC of sensors and locks, and stays automation). emulated_roku fires roku_command
# for each key pressed on a Roku remote or phone app.
MANUAL_EVENTS = frozenset(
    {"zha_event", "deconz_event", "hue_event", "tag_scanned", "nanoleaf_event",
     "zwave_js_value_notification", "zwave.scene_activated", "ozw.scene_activated",
     "roku_command"}
)
# shortcut_event: an Apple Shortcut run from a phone or watch (a tap, or Siri)
_MANUAL_EVENT_WORDS = ("action", "button", "switch", "remote", "click", "press", "keypad",
                       "shortcut")
# Device trigger types of remotes and buttons: short_release, remote_button_long_press ...
_BUTTON_EVENT_WORDS = ("press", "click", "button", "action", "release", "double", "triple",
                       "quadruple", "hold", "repeat")


def _entities_of(node: Node) -> list[str]:
    """The entity ids a node names exactly (a substring or regex filter names none)."""
    for match_type in ("entityidfiltertype", "entityIdType"):
        kind = node.get(match_type)
        if kind and text(str(kind)) in ("substring", "regex"):
            return []
    out: list[str] = []
    for field_name in ("entityId", "entityid", "entityidfilter", "entity_id"):
        value = node.get(field_name)
        if value is not None:  # (most nodes have one of the four)
            out += _entities(value) or []  # a templated list names none
    return out


#: Nodes that start a message when an entity's state changes (or is polled): the ones that
#: listen to a sensor's entity (rules chain and loop, acm/analysis/environment.py).
LISTENING_TYPES = frozenset({"server-state-changed", "trigger-state", "poll-state"})


def watched_entities(node: Node) -> list[str]:
    """The entity ids a state node listens to, where it names them exactly."""
    if node.get("type") not in LISTENING_TYPES:
        return []
    chosen = node.get("entities")  # version 6 nodes: {entity: [...], substring: [...], ...}
    exact = (_entities(chosen.get("entity")) or []) if isinstance(chosen, dict) else []
    return list(dict.fromkeys(_entities_of(node) + exact))


def is_manual_entity(entity_id: str) -> bool:
    domain = entity_id.split(".", 1)[0]
    return domain in _MANUAL_DOMAINS or entity_id.endswith(_MANUAL_SUFFIXES)


def _state_provenance(node: Node, has_inputs: bool) -> Provenance:
    entities = _entities_of(node)
    if entities and all(is_manual_entity(e) for e in entities):
        return MANUAL
    return AUTOMATION


def _events_provenance(node: Node, has_inputs: bool) -> Provenance:
    event = text(node.get("eventType") or node.get("event_type") or node.get("event")).lower()
    if event in MANUAL_EVENTS or any(word in event for word in _MANUAL_EVENT_WORDS):
        return MANUAL
    return AUTOMATION


def _device_provenance(node: Node, has_inputs: bool) -> Provenance | None:
    if node.get("deviceType", "trigger") != "trigger":
        return None  # an action node: sends commands, starts nothing
    event = node.get("event")
    kind = str(event.get("type", "")) if isinstance(event, dict) else ""
    return MANUAL if any(w in kind for w in _BUTTON_EVENT_WORDS) else AUTOMATION


_STATE_TRIGGERS = frozenset({"server-state-changed", "trigger-state"})


def condition_gates(node: Node, config: Config) -> frozenset[str]:
    """A current-state check on one helper (or enable switch) lets messages through by state."""
    conditional = text(str(node.get("halt_if") or "")) or node.get("outputs") in (2, "2")
    watched = _entities_of(node)
    if conditional and len(set(watched)) == 1 and entity_role(watched[0]) == STATE:
        return frozenset({ha_key(watched[0])})
    return frozenset()


def _slug(name: str) -> str:
    """Home Assistant's entity id slug: lower case, runs of other characters as one '_'."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def trigger_gates(node: Node, config: Config) -> frozenset[str]:
    """The shared state that decides whether this trigger's messages flow (see ``gates``).

    An exposed node (``exposeToHomeAssistant``, or an entity config in newer
    versions) appears in Home Assistant as ``switch.<slug of its name>``, or
    ``switch.nodered_<node id>`` without a name; turning it off stops the
    node. A state node that listens to one helper (or such a switch) starts
    messages because that state changed.
    """
    gates = set()
    watched = _entities_of(node) if node.get("type") in _STATE_TRIGGERS else []
    if len(set(watched)) == 1 and entity_role(watched[0]) == STATE:
        gates.add(ha_key(watched[0]))
    settings: Any = None
    if node.get("exposeToHomeAssistant") in (True, "true"):
        settings = node.get("haConfig")
    elif isinstance(node.get("exposeAsEntityConfig"), str) and node["exposeAsEntityConfig"]:
        entity_config = config(node["exposeAsEntityConfig"])
        settings = entity_config.get("haConfig") if entity_config else None
    else:
        return frozenset(gates)
    name = ""
    if isinstance(settings, list):
        name = next((text(item.get("value")) for item in settings
                     if isinstance(item, dict) and item.get("property") == "name"), "")
    slug = _slug(name) if name else f"nodered_{_slug(str(node.get('id', '')))}"
    if slug:
        gates.add(ha_key(f"switch.{slug}"))
    return frozenset(gates)


# ---------------------------------------------------------------------------
# Service calls


def _entities(value: Any) -> list[str] | None:
    """Entity ids from a string (comma separated) or list; None if templated."""
    items: list[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        return []
    out = [entity for v in items if isinstance(v, str) and (entity := v.strip())]
    for entity in out:
        if "{{" in entity or "$" in entity:
            return None
    return out


def _data(node: Node) -> dict[str, Any] | None:
    """The service data if it is a constant; ``{}`` when empty, whatever its type."""
    raw = node.get("data")
    if raw in (None, "") or (isinstance(raw, str) and not raw.strip()):
        return {}
    return json_object(raw) if node.get("dataType", "json") == "json" else None


def _command(domain: str, service: str, entity: str, data: dict[str, Any] | None) -> Value:
    if data is None or not domain or not service or "{{" in domain + service:
        return UNKNOWN
    if domain == "homeassistant" and service in _GENERIC_SERVICES:
        domain = entity.split(".", 1)[0]  # homeassistant.turn_off on a light is light.turn_off
    rest = {k: v for k, v in data.items() if k != "entity_id"}
    return const(f"{domain}.{service}" + (f" {const(rest)}" if rest else ""))


def _message(shape: Shape) -> dict[str, Any]:
    """A constant msg.payload object: what the message tells the node to call, if anything."""
    if shape[1] is UNKNOWN:
        return {}
    decoded = decode(shape[1])  # type: ignore[arg-type]
    return decoded if isinstance(decoded, dict) else {}


def _call_service(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    """What a service call acts on: its entities, else its places, else the script it runs.

    An incoming msg.payload with action/domain/service/data/target overrides the
    node's configuration (as the node documents); followed when the payload is a
    constant.
    """
    message = _message(shape)
    domain, service = _service_of(node, message)
    if _moves_nothing(domain, service):
        return []
    data = _call_data(node, message)
    target = message.get("target") if isinstance(message.get("target"), dict) \
        else node.get("target")
    entities = _called_entities(node, message, data, target)
    if entities == []:  # areas, devices, floors, labels: in the target, or on v5+ nodes
        places = target if isinstance(target, dict) else node
        if _names_places(places):
            return _places(domain, service, places, data)
    if entities:  # an entity of another domain: Home Assistant does not call it
        return [_entity_target(domain, service, e, data)
                for e in entities if service_acts_on(domain, e)]
    if entities == [] and domain in ("script", "scene") and service not in _SCRIPT_SERVICES:
        # script.good_night: the script is the target
        return [_entity_target(domain, service, f"{domain}.{service}", data)]
    name = f"{domain or '?'}.{service or '?'} <msg>"
    return [Target("ha", None, name, _command(domain, service, "", data))]


# Services of the script and scene domains themselves; any other names a script or scene.
_SCRIPT_SERVICES = frozenset({"turn_on", "turn_off", "toggle", "reload", "apply", "create"})


def _service_of(node: Node, message: Mapping[str, Any]) -> tuple[str, str]:
    """The domain and service called: ``action`` (domain.service), else domain and service."""
    action = text(message.get("action")) or text(node.get("action"))
    if action and "." in action:
        domain, service = action.split(".", 1)
        return domain, service
    domain = text(message.get("domain")) or text(node.get("domain")) \
        or text(node.get("service_domain"))
    service = text(message.get("service")) or text(node.get("service"))
    return domain, service


def _moves_nothing(domain: str, service: str) -> bool:
    """Notifications, restarts and reloads (input_select.reload ...): calls that move nothing."""
    if domain in NOT_A_TARGET or service == "reload":
        return True
    return domain == "homeassistant" and bool(service) and service not in _GENERIC_SERVICES


def _call_data(node: Node, message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The node's service data, with the message's on top; None if not a constant."""
    data = _data(node)
    if isinstance(message.get("data"), dict) and data is not None:
        data = {**data, **message["data"]}
    return data


def _called_entities(node: Node, message: Mapping[str, Any], data: dict[str, Any] | None,
                     target: Any) -> list[str] | None:
    """The entity ids called, from data, the node, or the target; None if templated.

    v1 nodes may hold both data.entity_id and entityId; data.entity_id wins, as
    the node's documentation says. A message's target replaces the node's entityId.
    """
    entities = _entities(data.get("entity_id")) if data else []
    if entities == [] and not isinstance(message.get("target"), dict):
        entities = _entities(node.get("entityId"))
    if entities == [] and isinstance(target, dict):
        entities = _entities(target.get("entityId") or target.get("entity_id"))
    return entities


def _names_places(places: Mapping[str, Any]) -> bool:
    """Whether a target (or a v5+ node) names areas, devices, floors or labels."""
    return any(places.get(k) for place in _PLACES for k in place[:2])


def _entity_target(domain: str, service: str, entity: str,
                   data: dict[str, Any] | None) -> Target:
    """One entity a service call acts on, with the feature it acts on."""
    return Target("ha", ha_key(entity), entity, _command(domain, service, entity, data),
                  entity_role(entity), feature_of(entity, service))


_PLACES = (("areaId", "area_id", "area"), ("deviceId", "device_id", "device"),
           ("floorId", "floor_id", "floor"), ("labelId", "label_id", "label"))


def _places(domain: str, service: str, target: Mapping[str, Any],
            data: dict[str, Any] | None) -> list[Target]:
    """Targets by area, device, floor or label: keys of their own (``ha-area:office``)."""
    out: list[Target] = []
    for camel, snake, kind in _PLACES:
        ids = _entities(target.get(camel) or target.get(snake))
        if ids is None:
            return [Target("ha", None, f"{domain or '?'}.{service or '?'} <{kind}>",
                           _command(domain, service, "", data))]
        out += [Target("ha", f"ha-{kind}:{i}", f"{kind} {i}", _command(domain, service, "", data),
                       DEVICE, FEATURES.get(domain, {}).get(service))
                for i in ids]
    return out


def _api(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    """What a call of the Home Assistant API acts on: the entities it names or writes."""
    path = text(node.get("path"))
    data = _data(node)
    if not _api_may_act(text(node.get("method")).lower(), node.get("protocol", "websocket"),
                        path, data):
        return []
    entities = _api_entities(data)
    writes_state = path.startswith("states/")
    if entities == [] and writes_state:
        entities = [path[len("states/"):]] if path[len("states/"):] else []
    command = const(path or const(data)) if data is not None else UNKNOWN
    if not entities:
        return [Target("ha", None, path or "<ha-api>", command)]
    # Writing an entity's state through the API records a value; it moves nothing.
    return [Target("ha", ha_key(e), e, command, STATE if writes_state else entity_role(e))
            for e in entities]


def _api_may_act(method: str, protocol: Any, path: str, data: dict[str, Any] | None) -> bool:
    """Whether an API call may act: by HTTP a POST, by websocket a call_service or a
    services/ or states/ path (anything else only reads)."""
    if protocol == "http":
        return method == "post"
    if protocol == "websocket" and not (data and data.get("type") == "call_service"):
        return path.startswith("services/") or path.startswith("states/")
    return True


def _api_entities(data: dict[str, Any] | None) -> list[str] | None:
    """The entity ids the API call's data names (entity_id, service_data, target)."""
    if not data:
        return []
    found = data.get("entity_id") or (data.get("service_data") or {}).get("entity_id")
    found = found or (data.get("target") or {}).get("entity_id")
    return _entities(found) if found else []


# ---------------------------------------------------------------------------


def _types(names: str, summary: str, **kwargs: Any) -> list[NodeType]:
    return [NodeType(name, PACKAGE, summary, **kwargs) for name in names.split("|")]


TYPES: list[NodeType] = [
    *_types("server-state-changed|trigger-state",
            "An entity's state changes: automation, or manual for entities a person presses "
            "(input_button, button, event, …_action).", trigger=_state_provenance,
            gates=trigger_gates),
    *_types("poll-state|ha-time|ha-zone|ha-calendar",
            "Polls, times, zones and calendars: automation.", trigger=starts(AUTOMATION),
            gates=trigger_gates),
    NodeType("server-events", PACKAGE, "A Home Assistant event: manual for events a person "
             "causes (phone notification actions, remotes, wall switches, tags), otherwise "
             "automation.", trigger=_events_provenance, gates=trigger_gates),
    *_types("ha-button|ha-switch|ha-select|ha-number|ha-text|ha-time-entity",
            "An entity a person uses in Home Assistant: manual.", trigger=starts(MANUAL)),
    NodeType("ha-tag", PACKAGE, "A tag is scanned: manual.", trigger=starts(MANUAL),
             gates=trigger_gates),
    NodeType("ha-webhook", PACKAGE, "A webhook call: external.", trigger=starts(EXTERNAL),
             gates=trigger_gates),
    NodeType("ha-device", PACKAGE, "A device trigger: manual for button presses, otherwise "
             "automation.", trigger=_device_provenance, gates=trigger_gates),
    NodeType("api-call-service", PACKAGE, "Calls a service: the entity is a device, or shared "
             "state for helpers; notify/tts/log calls are no target.", transfer=passes,
             targets=_call_service, roles=(DEVICE, STATE)),
    NodeType("ha-api", PACKAGE, "Calls the Home Assistant API; writing a state is shared state.",
             transfer=computes_payload, targets=_api, roles=(DEVICE, STATE)),
    NodeType("api-current-state", PACKAGE, "Reads an entity's state into msg.payload; with "
             "a condition on a helper, lets messages through by that shared state.",
             transfer=computes_payload, gates=condition_gates),
    *_types("api-render-template|api-get-history",
            "Reads from Home Assistant into msg.payload.", transfer=computes_payload),
    NodeType("ha-wait-until", PACKAGE, "Passes the message on when a state is reached.",
             transfer=passes),
]
