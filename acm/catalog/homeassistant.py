"""Home Assistant nodes (``node-red-contrib-home-assistant-websocket``).

Which entity domains are devices and which are shared state, and which
feature of a device each service acts on, are tables here (docs/analysis.md
shows them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..flows import Node
from ..values import UNKNOWN, Shape, Value, const
from .declare import (
    AUTOMATION,
    DEVICE,
    EXTERNAL,
    MANUAL,
    STATE,
    Config,
    NodeType,
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


def entity_role(entity_id: str) -> str:
    return STATE if entity_id.split(".", 1)[0] in STATE_DOMAINS else DEVICE


def feature_of(entity_id: str, service: str) -> str | None:
    return FEATURES.get(entity_id.split(".", 1)[0], {}).get(service)


# ---------------------------------------------------------------------------
# Triggers: state changes are automation, unless the entity is something a person presses


_MANUAL_DOMAINS = frozenset({"input_button", "button", "event"})
_MANUAL_SUFFIXES = ("_action", "_click", "_button", "_press")
# Events a person causes: a tap on a phone notification, a remote's button.
MANUAL_EVENTS = frozenset(
    {"mobile_app_notification_action", "ios.action_fired", "ios.notification_action_fired",
     "zha_event", "deconz_event", "hue_event", "lutron_caseta_button_event", "tag_scanned",
     "shelly.click", "homematic.keypress", "nanoleaf_event", "esphome.button_pressed"}
)


def _entities_of(node: Node) -> list[str]:
    out: list[str] = []
    for field_name in ("entityId", "entityid", "entityidfilter", "entity_id"):
        value = node.get(field_name)
        if isinstance(value, str):
            out += [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, list):
            out += [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return out


def is_manual_entity(entity_id: str) -> bool:
    domain = entity_id.split(".", 1)[0]
    return domain in _MANUAL_DOMAINS or entity_id.endswith(_MANUAL_SUFFIXES)


def _state_provenance(node: Node, has_inputs: bool) -> str:
    entities = _entities_of(node)
    if entities and all(is_manual_entity(e) for e in entities):
        return MANUAL
    return AUTOMATION


def _events_provenance(node: Node, has_inputs: bool) -> str:
    event = text(node.get("eventType") or node.get("event_type") or node.get("event"))
    return MANUAL if event in MANUAL_EVENTS else AUTOMATION


def _device_provenance(node: Node, has_inputs: bool) -> str | None:
    if node.get("deviceType", "trigger") != "trigger":
        return None  # an action node: sends commands, starts nothing
    event = node.get("event")
    kind = str(event.get("type", "")) if isinstance(event, dict) else ""
    return MANUAL if any(w in kind for w in ("press", "click", "button", "action")) \
        else AUTOMATION


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
    out = [text(v) for v in items if text(v)]
    if any("{{" in v or "$" in v for v in out):
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


def _call_service(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    action = text(node.get("action"))
    if action and "." in action:
        domain, service = action.split(".", 1)
    else:
        domain = text(node.get("domain")) or text(node.get("service_domain"))
        service = text(node.get("service"))
    if domain in NOT_A_TARGET or (domain == "homeassistant" and service
                                  and service not in _GENERIC_SERVICES):
        return []  # notifications, restarts and reloads move nothing
    data = _data(node)
    # v1 nodes may hold both; data.entity_id wins, as the node's documentation says
    entities = _entities(data.get("entity_id")) if data else []
    if entities == []:
        entities = _entities(node.get("entityId"))
    target = node.get("target")
    if entities == [] and isinstance(target, dict):
        entities = _entities(target.get("entityId") or target.get("entity_id"))
    if not entities:
        if entities == [] and domain in ("script", "scene") and service not in (
            "turn_on", "turn_off", "toggle", "reload", "apply", "create"
        ):
            entities = [f"{domain}.{service}"]  # script.good_night: the script is the target
        else:
            name = f"{domain or '?'}.{service or '?'} <msg>"
            return [Target("ha", None, name, _command(domain, service, "", data))]
    return [Target("ha", f"ha:{e}", e, _command(domain, service, e, data), entity_role(e),
                   feature_of(e, service))
            for e in entities]


def _api(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    path = text(node.get("path"))
    method = text(node.get("method")).lower()
    protocol = node.get("protocol", "websocket")
    data = _data(node)
    if protocol == "http" and method != "post":
        return []
    if protocol == "websocket" and not (data and data.get("type") == "call_service"):
        if not (path.startswith("services/") or path.startswith("states/")):
            return []
    entities: list[str] | None = []
    if data:
        found = data.get("entity_id") or (data.get("service_data") or {}).get("entity_id")
        found = found or (data.get("target") or {}).get("entity_id")
        entities = _entities(found) if found else []
    writes_state = path.startswith("states/")
    if entities == [] and writes_state:
        entities = [path[len("states/"):]] if path[len("states/"):] else []
    command = const(path or const(data)) if data is not None else UNKNOWN
    if not entities:
        return [Target("ha", None, path or "<ha-api>", command)]
    # Writing an entity's state through the API records a value; it moves nothing.
    return [Target("ha", f"ha:{e}", e, command, STATE if writes_state else entity_role(e))
            for e in entities]


# ---------------------------------------------------------------------------


def _types(names: str, summary: str, **kwargs: Any) -> list[NodeType]:
    return [NodeType(name, PACKAGE, summary, **kwargs) for name in names.split("|")]


TYPES: list[NodeType] = [
    *_types("server-state-changed|trigger-state",
            "An entity's state changes: automation, or manual for entities a person presses "
            "(input_button, button, event, …_action).", trigger=_state_provenance),
    *_types("poll-state|ha-time|ha-zone|ha-calendar",
            "Polls, times, zones and calendars: automation.", trigger=starts(AUTOMATION)),
    NodeType("server-events", PACKAGE, "A Home Assistant event: manual for events a person "
             "causes (mobile-app actions, remote buttons, tags), otherwise automation.",
             trigger=_events_provenance),
    *_types("ha-button|ha-switch|ha-select|ha-number|ha-text|ha-time-entity|ha-tag",
            "An entity a person uses in Home Assistant: manual.", trigger=starts(MANUAL)),
    NodeType("ha-webhook", PACKAGE, "A webhook call: external.", trigger=starts(EXTERNAL)),
    NodeType("ha-device", PACKAGE, "A device trigger: manual for button presses, otherwise "
             "automation.", trigger=_device_provenance),
    NodeType("api-call-service", PACKAGE, "Calls a service: the entity is a device, or shared "
             "state for helpers; notify/tts/log calls are no target.", transfer=passes,
             targets=_call_service, roles=(DEVICE, STATE)),
    NodeType("ha-api", PACKAGE, "Calls the Home Assistant API; writing a state is shared state.",
             transfer=computes_payload, targets=_api, roles=(DEVICE, STATE)),
    *_types("api-current-state|api-render-template|api-get-history",
            "Reads from Home Assistant into msg.payload.", transfer=computes_payload),
    NodeType("ha-wait-until", PACKAGE, "Passes the message on when a state is reached.",
             transfer=passes),
]
