"""Smaller device packages: TRÅDFRI, Hubitat, Sonoff, Yeelight, WeMo, Sonos, Alexa and others.

One module for the packages that bring a node or two each: IKEA TRÅDFRI,
Hubitat, Sonoff (Tasmota firmware over MQTT), Yeelight, Homebridge, Belkin
WeMo, Logitech Harmony, Sonos, Onkyo receivers (eISCP), Alexa (remote
control of Echo devices and of Alexa's smart home) and play audio. Grouped by
package below. A device is keyed by what names it for good (a gateway and
its device id, a serial number, a host); one named by the message is an
unknown target.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..flows import Node
from ..keys import mqtt_key
from ..values import UNKNOWN, Shape, Shapes, Value, const, decode
from .core import mqtt_broker_address
from .declare import (
    AUTOMATION,
    CHANNEL,
    DEVICE,
    MANUAL,
    Config,
    NodeType,
    Provenance,
    Target,
    computes_payload,
    host_port,
    passes,
    starts,
    swallows,
    text,
)

_ABSENT = object()  # a payload only known at run time


def _decoded(value: Value) -> Any:
    """A constant as its JSON value; ``_ABSENT`` when only known at run time."""
    return _ABSENT if value is UNKNOWN else decode(value)  # type: ignore[arg-type]


def _word(value: Any) -> str:
    """A setting or constant as text: strings stripped, numbers as written, else ''."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return text(value)


def _is_on(value: Any) -> bool:
    """Node-RED nodes' usual reading of on: true, 1, "1", "on", "true"."""
    if isinstance(value, str):
        return value.strip().lower() in ("on", "1", "true")
    return value is True or (isinstance(value, (int, float)) and value == 1)


# ---------------------------------------------------------------------------
# IKEA TRÅDFRI (node-red-contrib-tradfri): a device or group id on a gateway

TRADFRI = "node-red-contrib-tradfri"


def _tradfri_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    hub = config(node.get("hub"))
    gateway = (text(hub.get("hubip")) if hub else "") or "?"
    payload = _decoded(shape[1])
    # a string payload is a state ("on"/"off"), lower-cased; an object carries the settings
    command = const(payload.strip().lower()) if isinstance(payload, str) else shape[1]
    ident = _word(node.get("tradfri_id"))
    if not ident or ident == "0":  # 0: the id and type come in msg.payload
        return [Target("tradfri", None, f"{gateway} <msg.payload.tradfri_id>", command)]
    group = text(node.get("dtype")) == "group"
    where = f"{gateway}/group/{ident}" if group else f"{gateway}/{ident}"
    return [Target("tradfri", f"tradfri:{where}", text(node.get("name")) or where, command,
                   DEVICE)]


def _tradfri_out_transfer(node: Node, shapes: Shapes) -> Shapes:
    """With its output on, sends payload true (done) or false (failed)."""
    if node.get("output") not in (True, "true"):
        return frozenset()
    return frozenset((t, const(ok)) for t, _ in shapes for ok in (True, False))


# ---------------------------------------------------------------------------
# Hubitat (node-red-contrib-hubitat): a device id on a hub, and its Maker API command

HUBITAT = "node-red-contrib-hubitat"
_HUBITAT_BUTTON_EVENTS = frozenset({"pushed", "held", "doubletapped", "released"})
# Commands of notification and speech devices (Notification, SpeechSynthesis, AudioNotification
# capabilities): messages for people, so the device is a channel.
_HUBITAT_MESSAGES = frozenset({"deviceNotification", "speak", "playText", "playTextAndRestore",
                               "playTextAndResume"})


def _hubitat_hub(node: Node, config: Config) -> str:
    server = config(node.get("server"))
    if server is None:
        return "?"
    secure = server.get("usetls") in (True, "true")
    return host_port(server.get("host"), server.get("port"), 443 if secure else 80)


def _hubitat_command(node: Node) -> Value:
    """The node's own command and arguments (a msg.command would replace them at run time)."""
    command = text(node.get("command"))
    args = node.get("commandArgs", node.get("command_args"))
    if not command or node.get("commandArgsType") not in (None, "", "str", "num", "json"):
        return UNKNOWN
    args_text = _word(args) if not isinstance(args, (dict, list)) else const(args)
    return const(f"{command} {args_text}" if args_text else command)


def _hubitat_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    hub = _hubitat_hub(node, config)
    device = _word(node.get("deviceId")) or _word(node.get("device_id"))
    command = _hubitat_command(node)
    if not device:  # msg.deviceId
        return [Target("hubitat", None, f"{hub} <msg.deviceId>", command)]
    label = text(node.get("deviceLabel")) or device
    role = CHANNEL if text(node.get("command")) in _HUBITAT_MESSAGES else DEVICE
    return [Target("hubitat", f"hubitat:{hub}/{device}", label, command, role)]


def _hubitat_device_provenance(node: Node, has_inputs: bool) -> Provenance | None:
    """Device events, when it sends them: a button's push is a person, the rest sensors."""
    if node.get("sendEvent") in (False, "false"):
        return None  # only answers its input with the current state
    if text(node.get("attribute")).lower() in _HUBITAT_BUTTON_EVENTS:
        return MANUAL
    return AUTOMATION


def _hubitat_device_topic(node: Node) -> Value:
    name = text(node.get("name"))
    return const(name) if name else UNKNOWN


def _hubitat_device_emits(node: Node) -> Shapes:
    return frozenset({(_hubitat_device_topic(node), UNKNOWN)})


def _hubitat_device_transfer(node: Node, shapes: Shapes) -> Shapes:
    """Answers an input with the device's current state, named by the node."""
    return _hubitat_device_emits(node) if shapes else shapes


# ---------------------------------------------------------------------------
# Sonoff (node-red-contrib-sonoff, Whitebytes' node-red-sonoff): Tasmota devices over MQTT.
# Keyed as acm/analysis/catalog/tasmota.py keys a Tasmota device: mqtt:<broker>/cmnd/<device>.

SONOFF = "node-red-contrib-sonoff"


def _sonoff_device(node: Node) -> str:
    return text(node.get("device")) or "sonoff"  # the editor's default id


def _sonoff_basic(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    broker = mqtt_broker_address(config(node.get("broker")), str(node.get("broker") or "?"))
    topic = f"cmnd/{_sonoff_device(node)}"
    payload = _decoded(shape[1])
    # publishes cmnd/<device>/power ON or OFF
    command = UNKNOWN if payload is _ABSENT else const("ON" if _is_on(payload) else "OFF")
    return [Target("mqtt", mqtt_key(broker, topic), topic, command, DEVICE)]


def _sonoff_state_topic(node: Node) -> Value:
    return const(f"stat/{_sonoff_device(node)}/STATUS")


def _sonoff_basic_emits(node: Node) -> Shapes:
    """The relay's state as the device reports it: true (on) or false (off)."""
    return frozenset((_sonoff_state_topic(node), const(on)) for on in (True, False))


def _sonoff_basic_transfer(node: Node, shapes: Shapes) -> Shapes:
    """A command comes back as the state the device then reports."""
    out: set[Shape] = set()
    for _, payload in shapes:
        value = _decoded(payload)
        if value is _ABSENT:
            return _sonoff_basic_emits(node)
        out.add((_sonoff_state_topic(node), const(_is_on(value))))
    return frozenset(out)


def _sonoff_rf_provenance(node: Node, has_inputs: bool) -> Provenance:
    """An RF remote's button is a person; a PIR (or other RF sensor) is automation."""
    return MANUAL if text(node.get("rfType")).lower() == "button" else AUTOMATION


def _sonoff_rf_emits(node: Node) -> Shapes:
    return frozenset((const(topic), const(on)) for topic in ("pir", "daylight")
                     for on in (True, False))


# ---------------------------------------------------------------------------
# Yeelight (node-red-contrib-node-yeelight; node-red-contrib-yeelight-compat-hue)

YEELIGHT = "node-red-contrib-node-yeelight"
YEELIGHT_HUE = "node-red-contrib-yeelight-compat-hue"
_NO_ARGUMENT = frozenset({"toggle"})


def _yeelight_key(node: Node, config: Config, field: str) -> tuple[str | None, str]:
    """The lamp: its host when the flows say it, else its config node (hosts are credentials)."""
    host = text(node.get("ip"))
    settings = config(node.get(field))
    if not host and settings is not None:
        host = text(settings.get("hostname"))
    if host:
        return f"yeelight:{host}", host
    if settings is not None:
        name = text(settings.get("name")) or str(settings.get("id"))
        return f"yeelight:config/{settings.get('id')}", name
    return None, "<yeelight>"


def _yeelight(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    method = text(node.get("command"))
    payload = _decoded(shape[1])
    if method in _NO_ARGUMENT:
        command: Value = const(method)
    elif not method or payload is _ABSENT:
        command = UNKNOWN
    else:  # the light's method, called with msg.payload
        command = const(f"{method} {_word(payload) or const(payload)}")
    key, name = _yeelight_key(node, config, "config")
    return [Target("yeelight", key, name, command, DEVICE)]


def _yeelight_hue(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    key, name = _yeelight_key(node, config, "server")
    return [Target("yeelight", key, name, shape[1], DEVICE)]


# ---------------------------------------------------------------------------
# Homebridge (node-red-contrib-homebridge-automation): an accessory's service, by unique id

HOMEBRIDGE = "node-red-contrib-homebridge-automation"


def _hb_control(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    device = text(node.get("device"))
    name = " ".join(filter(None, (text(node.get("name")), text(node.get("Service")))))
    if not device:
        return [Target("homebridge", None, name or "<accessory>", shape[1])]
    return [Target("homebridge", f"homebridge:{device}", name or device, shape[1], DEVICE)]


# ---------------------------------------------------------------------------
# Belkin WeMo (node-red-node-wemo): the device's serial number in a wemo-dev config node

WEMO = "node-red-node-wemo"


def _wemo_command(value: Value) -> Value:
    payload = _decoded(value)
    if payload is _ABSENT or isinstance(payload, dict):
        return value
    if payload in ("toggle", 2):
        return const("toggle")
    return const("on" if _is_on(payload) else "off")


def _wemo_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    settings = config(node.get("device"))
    serial = text(settings.get("device")) if settings else ""
    device = serial or text(node.get("ipaddr"))  # the first versions named an IP address
    name = text(node.get("label")) or (text(settings.get("name")) if settings else "") or device
    if not device:
        return [Target("wemo", None, name or "<wemo>", _wemo_command(shape[1]))]
    return [Target("wemo", f"wemo:{device}", name, _wemo_command(shape[1]), DEVICE)]


# ---------------------------------------------------------------------------
# Logitech Harmony (node-red-contrib-harmony-websocket): the hub runs one activity at a time

HARMONY = "node-red-contrib-harmony-websocket"


def _harmony_activity_command(node: Node, value: Value) -> Value:
    payload = _decoded(value)
    if payload is _ABSENT:
        return UNKNOWN  # it may name the activity, or switch off
    if isinstance(payload, dict) and payload.get("activity"):
        activity = _word(payload["activity"])
    elif payload is False or payload == 0 or (
            isinstance(payload, str) and payload.strip().lower() in ("false", "0", "off")):
        activity = "-1"
    else:
        activity = _word(node.get("activity"))
    if not activity:
        return UNKNOWN
    return const("off" if activity == "-1" else f"activity {activity}")


def _harmony_activity(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    server = config(node.get("server"))
    hub = text(server.get("ip")) if server else ""
    command = _harmony_activity_command(node, shape[1])
    if not hub:
        return [Target("harmony", None, "<harmony hub>", command)]
    name = text(server.get("name")) if server else ""
    return [Target("harmony", f"harmony:{hub}", name or hub, command, DEVICE)]


# ---------------------------------------------------------------------------
# Sonos (node-red-contrib-better-sonos): playback and volume of one player.
# Features as Home Assistant's media_player: media, volume.

SONOS = "node-red-contrib-better-sonos"
_SONOS_MEDIA = frozenset({"play", "playing", "pause", "stop", "toggle", "playpause", "next",
                          "previous"})
_SONOS_VOLUME = frozenset({"mute", "unmute", "vol_up", "vol_down", "vol+", "vol-"})


def _sonos_payload(value: Value) -> list[tuple[str | None, Value]]:
    """(feature, command) a payload asks for, when the node itself asks for nothing."""
    payload = _decoded(value)
    if payload is _ABSENT:
        return [(None, UNKNOWN)]
    if isinstance(payload, dict):
        out: list[tuple[str | None, Value]] = [
            ("media", const(_word(payload[k]))) for k in ("mode", "track") if payload.get(k)]
        if payload.get("volume"):
            how = "volume" if payload["volume"] == "vol_set" else _word(payload["volume"])
            out.append(("volume", const(f"{how} {_word(payload.get('volume_value'))}".strip())))
        return out
    word = _word(payload).lower()
    if word in _SONOS_MEDIA:
        return [("media", const(word))]
    if word in _SONOS_VOLUME or re.fullmatch(r"[+-]?\d+", word):
        return [("volume", const(word if word in _SONOS_VOLUME else f"volume {word}"))]
    return []


def _sonos_control(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    settings = config(node.get("confignode"))
    player = (text(settings.get("serialnum")) or text(settings.get("ipaddress"))
              if settings else "")
    wanted: list[tuple[str | None, Value]] = []
    for field in ("mode", "track"):
        if text(node.get(field)):
            wanted.append(("media", const(text(node.get(field)))))
    volume = text(node.get("volume"))
    if volume and volume != "empty":
        amount = _word(node.get("volume_value"))
        wanted.append(("volume", const(f"{volume} {amount}" if amount and volume in (
            "volume", "vol_up", "vol_down") else volume)))
    if not wanted:  # the node leaves it all to msg.payload
        wanted = _sonos_payload(shape[1])
    if not player:
        return [Target("sonos", None, "<sonos player>", command, feature=feature)
                for feature, command in wanted]
    name = text(settings.get("name")) if settings else ""
    return [Target("sonos", f"sonos:{player}", name or player, command, DEVICE, feature)
            for feature, command in wanted]


# ---------------------------------------------------------------------------
# Onkyo / Integra receivers (node-red-contrib-eiscp): eiscp-out commands the receiver of
# its eiscp-controller config node. A command ("system-power=on", "zone2.volume=20", or
# ISCP's "PWR01") sets one feature; names as Home Assistant's media_player.

EISCP = "node-red-contrib-eiscp"
_EISCP_FEATURES = {"system-power": "power", "power": "power", "master-volume": "volume",
                   "volume": "volume", "audio-muting": "volume", "muting": "volume",
                   "input-selector": "source", "selector": "source",
                   "listening-mode": "sound mode"}
_ISCP_FEATURES = {"PWR": "power", "MVL": "volume", "AMT": "volume", "SLI": "source",
                  "LMD": "sound mode"}


def _eiscp_feature(command: str) -> str | None:
    named = re.fullmatch(r"\s*(?:([a-z0-9]+)\.)?([a-z0-9-]+)\s*[=\s].*", command, re.I)
    if named:
        zone, name = (named.group(1) or "main").lower(), named.group(2).lower()
        feature = _EISCP_FEATURES.get(name, name)
        return feature if zone == "main" else f"{zone} {feature}"
    raw = re.fullmatch(r"\s*(?:!1)?([A-Z]{3})\S*\s*", command)
    return _ISCP_FEATURES.get(raw.group(1), raw.group(1)) if raw else None


def _eiscp_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    controller = config(node.get("controller"))
    payload = _decoded(shape[1])
    feature = _eiscp_feature(payload) if isinstance(payload, str) else None
    if controller is None or not text(controller.get("host")):
        return [Target("eiscp", None, "<receiver>", shape[1], feature=feature)]
    where = host_port(controller.get("host"), controller.get("port"), 60128)
    name = text(controller.get("name")) or where
    return [Target("eiscp", f"eiscp:{where}", name, shape[1], DEVICE, feature)]


# ---------------------------------------------------------------------------
# Alexa (node-red-contrib-alexa-remote2-applestrudel): a smart home action on an appliance
# (a device, keyed alexa:<entity>), a stored routine, or speech, sounds and music on Echo
# devices (channels, keyed alexa-echo:<serial number or name>).

ALEXA = "node-red-contrib-alexa-remote2-applestrudel"
_SPEAKER_STEPS = frozenset({"speak", "speakAtVolume", "textCommand", "stop", "prompt",
                            "phrase", "sound", "volume", "music", "skill"})


def _typed(value: Any) -> Any:
    """A typed input {type, value} of these nodes: its constant, or ``_ABSENT`` from msg."""
    if isinstance(value, dict) and set(value) == {"type", "value"}:
        if value["type"] == "json" and isinstance(value["value"], str):
            try:
                return json.loads(value["value"]) if value["value"].strip() else None
            except json.JSONDecodeError:
                return _ABSENT
        if value["type"] in ("str", "num", "bool", "json"):
            return value["value"]
        return _ABSENT
    return value


def _smarthome_command(step: Node) -> Value:
    action = _typed(step.get("action"))
    if not isinstance(action, str) or not action:
        return UNKNOWN
    raw = step.get("value")
    if raw is None and isinstance(step.get("parameters"), dict):
        raw = step["parameters"].get("value")  # the first versions' layout
    value = _typed(raw)
    if value is _ABSENT:
        return UNKNOWN
    return const(f"{action} {_word(value) or const(value)}" if value not in (None, "")
                 else action)


def _smarthome_target(entity: Any, command: Value) -> Target:
    entity = _typed(entity)
    if not isinstance(entity, str) or not entity.strip():
        return Target("alexa", None, "<smart home entity>", command)
    return Target("alexa", f"alexa:{entity.strip()}", entity.strip(), command, DEVICE)


def _alexa_smarthome(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    settings = node.get("config")
    if not isinstance(settings, dict) or settings.get("option") != "action":
        return []  # get, query, discover, forget: nothing moves
    steps = settings.get("value")
    if isinstance(steps, dict):
        steps = steps.get("list")  # the first versions' layout
    if not isinstance(steps, list) or not steps:  # the actions come in msg.payload
        return [Target("alexa", None, "<msg.payload>", shape[1])]
    return [_smarthome_target(s.get("entity"), _smarthome_command(s))
            for s in steps if isinstance(s, dict)]


def _echo_devices(payload: Node) -> list[Any]:
    devices = payload.get("devices", payload.get("device"))
    devices = _typed(devices)
    if devices is _ABSENT:
        return [_ABSENT]
    items = devices if isinstance(devices, list) else [devices] if devices else []
    return [_typed(d) for d in items]


def _routine_targets(step: Any, account: str, depth: int = 0) -> list[Target]:
    """The targets of one step of an Alexa routine, with those of the steps inside it."""
    if isinstance(step, dict) and set(step) == {"type", "value"}:  # the sequence as an input
        sequence = _typed(step)
        if sequence is _ABSENT:
            return [Target("alexa", None, "<sequence from msg>", UNKNOWN)]
        return _routine_targets(sequence, account, depth + 1)
    if not isinstance(step, dict) or depth > 20:
        return []
    kind, payload = _typed(step.get("type")), step.get("payload")
    if not isinstance(payload, dict):
        payload = {}
    if kind == "node":
        return _children_targets(payload, account, depth)
    if kind == "custom":
        return _routine_targets(payload, account, depth + 1)
    if kind == "smarthome":
        return [_smarthome_target(payload.get("entity"), _smarthome_command(payload))]
    if kind == "routine":
        return [_run_routine_target(payload)]
    if kind == "pushNotification":
        return [Target("alexa", f"alexa-push:{account}", "Alexa app notification",
                       _echo_command(kind, payload), CHANNEL)]
    if kind in _SPEAKER_STEPS:
        return _speaker_targets(kind, payload)
    return []  # wait


def _children_targets(payload: Node, account: str, depth: int) -> list[Target]:
    """Serial or parallel steps: the targets of each of them."""
    children = payload.get("children")
    return [t for child in (children if isinstance(children, list) else [])
            for t in _routine_targets(child, account, depth + 1)]


def _run_routine_target(payload: Node) -> Target:
    """A step that runs another routine, by its name."""
    routine = _typed(payload.get("routine"))
    if not isinstance(routine, str) or not routine.strip():
        return Target("alexa", None, "<routine>", UNKNOWN)
    return Target("alexa", f"alexa-routine:{routine.strip()}", routine.strip(),
                  const(f"run {routine.strip()}"), DEVICE)


def _speaker_targets(kind: str, payload: Node) -> list[Target]:
    """A step an Echo device plays (speak, volume, sound ...): one target per device."""
    command = _echo_command(kind, payload)
    devices = _echo_devices(payload)
    if not devices and kind == "speak" and _typed(payload.get("type")) != "regular":
        devices = ["ALEXA_ALL_DSN"]  # an announcement without devices goes to all of them
    out = []
    for device in devices:
        if isinstance(device, str) and device.strip():
            out.append(Target("alexa", f"alexa-echo:{device.strip()}", device.strip(),
                              command, CHANNEL))
        else:
            out.append(Target("alexa", None, "<echo device>", command, CHANNEL))
    return out


def _echo_command(kind: str, payload: Node) -> Value:
    for field in ("text", "sound", "value", "search", "category", "type", "skill"):
        if field in payload:
            value = _typed(payload[field])
            if value is _ABSENT:
                return UNKNOWN
            return const(f"{kind} {_word(value) or const(value)}")
    return const(kind)


def _alexa_routine(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    return _routine_targets(node.get("routineNode"), str(node.get("account") or "?"))


# ---------------------------------------------------------------------------
# play audio (node-red-contrib-play-audio): sound or speech in the editor's browser

PLAY_AUDIO = "node-red-contrib-play-audio"


def _play_audio(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    return [Target("audio", f"play-audio:{runtime}", "the editor's browser", shape[1], CHANNEL)]


# ---------------------------------------------------------------------------

TYPES: list[NodeType] = [
    # IKEA TRÅDFRI
    NodeType("tradfri-out", TRADFRI, "Sets a TRÅDFRI device or group on a gateway "
             "(tradfri:<gateway>/<id>, …/group/<id>); id 0 takes it from msg.payload.",
             targets=_tradfri_out, transfer=_tradfri_out_transfer, roles=(DEVICE,)),
    NodeType("tradfri-get", TRADFRI, "Answers an input with the gateway's devices and "
             "groups: no trigger.", transfer=computes_payload),
    # Hubitat
    NodeType("hubitat command", HUBITAT, "Sends a Maker API command to a device "
             "(hubitat:<hub>/<device id>); msg.deviceId when the node names none. A "
             "notification or speech command (deviceNotification, speak …) is a channel.",
             targets=_hubitat_out, transfer=passes, roles=(DEVICE, CHANNEL)),
    NodeType("hubitat device", HUBITAT, "A device's events (Send events on): automation, "
             "manual for a button's pushed/held/doubleTapped/released; otherwise no trigger.",
             trigger=_hubitat_device_provenance, emits=_hubitat_device_emits,
             transfer=_hubitat_device_transfer),
    # Sonoff (Tasmota over MQTT)
    NodeType("Sonoff basic", SONOFF, "Switches a Tasmota relay (cmnd/<device>/power ON/OFF) "
             "and reports its state: automation.", trigger=starts(AUTOMATION),
             emits=_sonoff_basic_emits, transfer=_sonoff_basic_transfer,
             targets=_sonoff_basic, roles=(DEVICE,)),
    NodeType("Sonoff RF", SONOFF, "An RF bridge code: manual for an RF button, automation "
             "for a PIR; its input is the lamp's state, it commands nothing.",
             trigger=_sonoff_rf_provenance, emits=_sonoff_rf_emits, transfer=swallows),
    # Yeelight
    NodeType("yeelight", YEELIGHT, "Calls a Yeelight method (toggle, set_bright …) with "
             "msg.payload on the lamp of its config node (whose host is a credential).",
             targets=_yeelight, roles=(DEVICE,)),
    NodeType("yeelight-compat-hue", YEELIGHT_HUE, "Sets a Yeelight lamp from a Hue-like "
             "payload (yeelight:<host>).", targets=_yeelight_hue, roles=(DEVICE,)),
    NodeType("yeelight-compat-hue-state", YEELIGHT_HUE, "Answers an input with the lamp's "
             "state: no trigger.", transfer=computes_payload),
    # Homebridge
    NodeType("hb-control", HOMEBRIDGE, "Sets characteristics of a Homebridge accessory "
             "(homebridge:<unique id>).", targets=_hb_control, transfer=computes_payload,
             roles=(DEVICE,)),
    # Belkin WeMo
    NodeType("wemo out", WEMO, "Switches a WeMo device (wemo:<serial number>).",
             targets=_wemo_out, transfer=swallows, roles=(DEVICE,)),
    NodeType("wemo lookup", WEMO, "Answers an input with a WeMo device's state: no trigger.",
             transfer=computes_payload),
    # Logitech Harmony
    NodeType("harmonyws-activity", HARMONY, "Starts an activity on a Harmony hub "
             "(harmony:<hub>); one activity runs at a time, -1 or a false payload is off.",
             targets=_harmony_activity, transfer=computes_payload, roles=(DEVICE,)),
    # Sonos
    NodeType("better-sonos-control", SONOS, "Plays, pauses, skips and sets the volume of a "
             "Sonos player (sonos:<serial number>; features media and volume).",
             targets=_sonos_control, transfer=passes, roles=(DEVICE,)),
    # Onkyo / Integra
    NodeType("eiscp-out", EISCP, "Sends an eISCP command to the receiver of its "
             "eiscp-controller (eiscp:<host:port>); the command names the feature.",
             targets=_eiscp_out, transfer=swallows, roles=(DEVICE,)),
    NodeType("eiscp-in", EISCP, "What the receiver reports: automation.",
             trigger=starts(AUTOMATION)),
    # Alexa
    NodeType("alexa-remote-smarthome", ALEXA, "A smart home action on appliances "
             "(alexa:<entity>); get, query and discover command nothing.",
             targets=_alexa_smarthome, transfer=computes_payload, roles=(DEVICE,)),
    NodeType("alexa-remote-routine", ALEXA, "A sequence: smart home actions and stored "
             "routines are devices; speech, sounds, music and volume on Echo devices "
             "(alexa-echo:<device>) and app notifications are channels.",
             targets=_alexa_routine, transfer=computes_payload, roles=(DEVICE, CHANNEL)),
    # play audio
    NodeType("play audio", PLAY_AUDIO, "Plays sound or speaks msg.payload in the editor's "
             "browser: a channel.", targets=_play_audio, transfer=swallows,
             roles=(CHANNEL,)),
]
