"""The built-in catalog: which node types start messages, pass them on, or command actuators.

An *actuator* is the physical thing commanded, named by a stable key
(``mqtt:<host:port>/<topic>``, ``ha:<entity_id>``, ``gpio:<runtime>/<pin>``,
``http:<METHOD> <url>`` ...). For each actuator node type the catalog has one
function that turns the node's configuration, its config nodes and one
abstract incoming message into :class:`Target` s. A target whose key depends on
a run-time value that constant propagation could not fix has ``key=None``:
it is counted as an unknown target, never guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .flows import Node
from .values import UNKNOWN, Shape, Shapes, Value, const, typed_constant

Config = Callable[[Any], Node | None]  # config node by id (None when missing)


@dataclass(frozen=True, slots=True)
class Target:
    """One actuator commanded by one node for one incoming message shape."""

    kind: str  # binding type: mqtt, ha, gpio, http, ...
    key: str | None  # None: decided at run time
    name: str  # readable target: topic, entity id, pin ...
    command: Value


# ---------------------------------------------------------------------------
# Triggers: nodes where a message starts without an incoming message.

TRIGGER_TYPES = frozenset(
    {
        # core
        "inject", "mqtt in", "http in", "tcp in", "udp in", "websocket in", "watch",
        "status", "catch", "complete", "serial in", "e-mail in", "twitter in", "feedparse",
        # dashboards (1.x ui_*, 2.x ui-*)
        "ui_button", "ui_switch", "ui_slider", "ui_dropdown", "ui_numeric", "ui_text_input",
        "ui_date_picker", "ui_colour_picker", "ui_form", "ui_ui_control",
        "ui-button", "ui-switch", "ui-slider", "ui-dropdown", "ui-number-input",
        "ui-text-input", "ui-form", "ui-radio-group", "ui-button-group", "ui-control",
        # Home Assistant
        "server-state-changed", "trigger-state", "poll-state", "server-events", "ha-time",
        "ha-webhook", "ha-button", "ha-switch", "ha-zone", "ha-tag", "ha-device",
        "ha-calendar", "ha-select", "ha-number", "ha-text", "ha-time-entity",
        # schedulers and timers
        "cronplus", "bigtimer", "schedex", "eztimer", "light-scheduler", "timerswitch",
        "sunevents", "sun-position", "within-time-switch", "time-inject",
        # devices and buses
        "zigbee2mqtt-in", "rpi-gpio in", "rpi-gpio-in", "modbus-read", "modbus-getter",
        "s7 in", "knxUltimate", "hue-motion", "hue-switch", "hue-button", "hue-temperature",
        "hue-brightness", "deconz-input", "deconz-battery", "Tasmota Sensor",
        "Tasmota Button", "shelly-gen1", "shelly-gen2", "telegram receiver",
        "telegram command", "alexa-local", "alexa-home", "google-action in",
        "owntracks", "hb-event", "hb-status", "wemo in", "Sonoff PIR", "Sonoff RF Button",
        "nut-ups", "mpd in", "harmonyws-observer", "better-sonos-status", "Dhcp events",
    }
)

# Core nodes that pass the message on with topic and payload as they were.
PASS_THROUGH_TYPES = frozenset(
    {"junction", "link in", "link out", "link call", "switch", "delay", "rbe", "filter",
     "mqtt in"}
)
# Core nodes that compute a new payload but leave msg.topic alone.
PAYLOAD_TYPES = frozenset(
    {"range", "json", "csv", "xml", "yaml", "html", "split", "smooth", "sort", "batch",
     "api-current-state", "api-render-template", "http request"}
)


def is_trigger(node: Node, has_inputs: bool) -> bool:
    """A node that starts messages on its own.

    Besides the catalog's types, a node of a type the catalog does not know
    that has no incoming wire is taken as a trigger: nothing else could make
    it emit (contrib schedulers, device listeners ...).
    """
    node_type = node["type"]
    if node_type == "mqtt in" and has_inputs:
        # Fed over the broker by publishers in the analysed flows: an exact
        # subscription only hears them; a wildcard may hear devices as well.
        topic = str(node.get("topic") or "")
        return "+" in topic or "#" in topic
    if node_type in TRIGGER_TYPES:
        if node_type == "ha-device":
            return bool(node.get("deviceType", "trigger") == "trigger")
        return True
    if not has_inputs and node_type not in KNOWN_TYPES and not node_type.startswith("subflow:"):
        return any(port for port in node.get("wires", []))
    return False


def trigger_shapes(node: Node) -> Shapes:
    """What a trigger emits by itself, as far as its configuration says."""
    node_type = node["type"]
    if node_type == "inject":
        return frozenset({_inject_shape(node)})
    if node_type == "mqtt in":
        subscribed = str(node.get("topic") or "")
        known = subscribed and "+" not in subscribed and "#" not in subscribed
        return frozenset({(const(subscribed) if known else UNKNOWN, UNKNOWN)})
    if node_type in ("ui_switch", "ui-switch"):
        topic = _topic_const(node)
        on = typed_constant(node.get("onvalue", True), node.get("onvalueType", "bool"))
        off = typed_constant(node.get("offvalue", False), node.get("offvalueType", "bool"))
        return frozenset({(topic, on), (topic, off)})
    if node_type in ("ui_button", "ui-button"):
        return frozenset(
            {(_topic_const(node), typed_constant(node.get("payload"), node.get("payloadType")))}
        )
    return frozenset({(UNKNOWN, UNKNOWN)})


def _topic_const(node: Node) -> Value:
    topic = node.get("topic")
    topic_type = node.get("topicType", "str")
    if topic_type != "str" or not isinstance(topic, str):
        return UNKNOWN
    return const(topic)


def _inject_shape(node: Node) -> Shape:
    props = node.get("props")
    topic: Value = const("")
    payload: Value = UNKNOWN
    if isinstance(props, list):
        for prop in props:
            if not isinstance(prop, dict):
                continue
            name = prop.get("p")
            # Node-RED (20-inject.js): a prop's own v/vt win; the node's
            # payload/topic fields fill in only when v is absent.
            if name == "payload":
                if "v" in prop:
                    payload = typed_constant(prop.get("v"), prop.get("vt"))
                else:
                    payload = typed_constant(node.get("payload"), node.get("payloadType"))
            elif name == "topic":
                topic = typed_constant(prop["v"] if "v" in prop else node.get("topic"),
                                       prop.get("vt", "str"))
        return (topic, payload)
    payload = typed_constant(node.get("payload"), node.get("payloadType", "date"))
    return (const(str(node.get("topic") or "")), payload)


# ---------------------------------------------------------------------------
# Transfer: what a node does to the (topic, payload) of a message it passes on.


def acm_role(node: Node) -> str | None:
    """The role of a node ACM added (resolver, tag, group), or None for users' nodes."""
    marker = node.get("acm")
    return str(marker.get("role")) if isinstance(marker, dict) and marker.get("role") else None


def transfer(node: Node, shapes: Shapes) -> Shapes:
    node_type = node["type"]
    if node_type in PASS_THROUGH_TYPES or node_type.startswith("subflow:"):
        return shapes
    if acm_role(node) == "resolver":  # emits one of the commands it received
        return shapes
    if node_type == "change":
        return frozenset(_change(node, s) for s in shapes)
    if node_type == "trigger":
        return _trigger_node(node, shapes)
    if node_type == "template":
        return _template(node, shapes)
    if node_type in ("ui_switch", "ui-switch") and node.get("passthru"):
        return shapes
    if node_type == "mqtt out":  # seen by subscribers over the broker
        fixed = _str(node.get("topic"))
        return shapes if not fixed else frozenset(
            (const(normalise_topic(fixed)), p) for _, p in shapes)
    if node_type == "OpcUa-Item":  # names the OPC UA node to read or write
        item = _str(node.get("item"))
        named: Value = const(item) if item else UNKNOWN
        value = node.get("value")
        return frozenset(
            (named, p if value in (None, "") else UNKNOWN) for _, p in shapes)
    if node_type in PAYLOAD_TYPES:
        return frozenset((t, UNKNOWN) for t, _ in shapes)
    return frozenset({(UNKNOWN, UNKNOWN)}) if shapes else shapes


def _change(node: Node, shape: Shape) -> Shape:
    topic, payload = shape
    rules = node.get("rules")
    if not isinstance(rules, list):  # very old change nodes kept one rule on the node
        rules = [{"t": node.get("action"), "p": node.get("property"), "to": node.get("to"),
                  "tot": "str", "from": node.get("from")}]
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        prop = rule.get("p")
        if rule.get("pt", "msg") != "msg" or prop not in ("payload", "topic"):
            if rule.get("t") == "move" and rule.get("to") in ("payload", "topic"):
                pass  # moving some other property into payload/topic: unknown below
            else:
                continue
        action = rule.get("t")
        if action == "set":
            tot = rule.get("tot", "str")
            if tot == "msg" and rule.get("to") in ("payload", "topic"):
                value: Value = payload if rule["to"] == "payload" else topic
            else:
                value = typed_constant(rule.get("to"), tot)
        elif action == "delete":
            value = UNKNOWN if prop == "payload" else const("")
        else:  # change (search/replace) and move: not followed
            if action == "move":
                if prop in ("payload", "topic"):  # moved away: now unset
                    if prop == "payload":
                        payload = UNKNOWN
                    else:
                        topic = const("")
                prop = rule.get("to")
                if prop not in ("payload", "topic"):
                    continue
            value = UNKNOWN
        if prop == "payload":
            payload = value
        else:
            topic = value
    return (topic, payload)


def _trigger_node(node: Node, shapes: Shapes) -> Shapes:
    out: set[Shape] = set()
    for topic, payload in shapes:
        for op, op_type in (("op1", "op1type"), ("op2", "op2type")):
            kind = node.get(op_type, "str")
            if kind == "nul":
                continue
            if kind in ("pay", "payl"):
                out.add((topic, payload))
            else:
                out.add((topic, typed_constant(node.get(op), kind)))
    return frozenset(out)


def _template(node: Node, shapes: Shapes) -> Shapes:
    field_name = node.get("field", "payload")
    if node.get("fieldType", "msg") != "msg" or field_name not in ("payload", "topic"):
        return shapes
    text = node.get("template", "")
    value: Value = UNKNOWN
    if isinstance(text, str) and ("{{" not in text or node.get("syntax") == "plain"):
        if node.get("output") == "json":
            value = typed_constant(text, "json")
        else:
            value = const(text)
    if field_name == "payload":
        return frozenset((t, value) for t, _ in shapes)
    return frozenset((value, p) for _, p in shapes)


# ---------------------------------------------------------------------------
# Actuators


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _from_msg(node_value: Any, msg_value: Value) -> str | None:
    """A node property that, left empty, is taken from the message."""
    if _str(node_value):
        return _str(node_value)
    if msg_value is UNKNOWN:
        return None
    decoded = json.loads(msg_value)  # type: ignore[arg-type]
    return decoded.strip() if isinstance(decoded, str) and decoded.strip() else None


def _host_port(host: Any, port: Any, default_port: int | str) -> str:
    host_text = _str(host)
    match = re.match(r"^[a-z0-9+]+://([^/:]+)(?::(\d+))?", host_text, re.I)
    if match:
        host_text = match.group(1)
        port = match.group(2) or port
    return f"{host_text or '?'}:{_str(str(port)) if port not in (None, '') else default_port}"


def mqtt_broker_address(broker: Node | None, fallback: str) -> str:
    if broker is None:
        return fallback
    return _host_port(broker.get("broker"), broker.get("port"), 1883)


def normalise_topic(topic: str) -> str:
    return topic.rstrip("/") or topic


def _mqtt_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    broker = mqtt_broker_address(config(node.get("broker")), str(node.get("broker") or "?"))
    topic = _from_msg(node.get("topic"), shape[0])
    if topic is None:
        return [Target("mqtt", None, f"{broker}/<msg.topic>", shape[1])]
    topic = normalise_topic(topic)
    return [Target("mqtt", f"mqtt:{broker}/{topic}", topic, shape[1])]


WRITING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _http_request(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    method = _str(node.get("method")).upper() or "GET"
    url = _str(node.get("url"))
    if method == "USE":  # method from msg.method: may or may not write
        return [Target("http", None, url or "<msg.url>", shape[1])]
    if method not in WRITING_METHODS:
        return []
    if not url or "{{" in url:
        return [Target("http", None, url or "<msg.url>", shape[1])]
    return [Target("http", f"http:{method} {url}", f"{method} {url}", shape[1])]


def _tcp_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    if node.get("beserver") == "reply":
        return []  # answers a tcp in connection; not a commanded device
    host = _str(node.get("host"))
    if node.get("beserver") == "server":
        address = f"listen:{_str(str(node.get('port', '')))}"
    elif not host:
        return [Target("tcp", None, "<msg.host>", shape[1])]
    else:
        address = _host_port(host, node.get("port"), "?")
    return [Target("tcp", f"tcp:{address}", address, shape[1])]


def _udp_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    addr = _str(node.get("addr"))
    if not addr:
        return [Target("udp", None, "<msg.ip>", shape[1])]
    address = _host_port(addr, node.get("port"), "?")
    return [Target("udp", f"udp:{address}", address, shape[1])]


def _websocket_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    endpoint = config(node.get("server")) or config(node.get("client"))
    if endpoint is None:
        return [Target("websocket", None, "<unknown endpoint>", shape[1])]
    where = _str(endpoint.get("path")) or _str(endpoint.get("url"))
    if endpoint["type"] == "websocket-listener":
        where = f"{runtime}{where}"
    return [Target("websocket", f"ws:{where}", where, shape[1])]


# Home Assistant service domains that notify people rather than move things.
_HA_NON_ACTUATING = frozenset(
    {"notify", "persistent_notification", "tts", "system_log", "logbook", "recorder",
     "logger", "conversation"}
)


def _ha_entities(value: Any) -> list[str] | None:
    """Entity ids from a string (comma separated) or list; None if templated."""
    items: list[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        return []
    out = [_str(v) for v in items if _str(v)]
    if any("{{" in v or "$" in v for v in out):
        return None
    return out


def _json_object(text: Any) -> dict[str, Any] | None:
    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None  # a template or JSONata: decided at run time
    return data if isinstance(data, dict) else None


def _ha_data(node: Node) -> dict[str, Any] | None:
    """The service data if it is a constant; ``{}`` when empty, whatever its type."""
    raw = node.get("data")
    if raw in (None, "") or (isinstance(raw, str) and not raw.strip()):
        return {}
    return _json_object(raw) if node.get("dataType", "json") == "json" else None


def _ha_call(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    action = _str(node.get("action"))
    if action and "." in action:
        domain, service = action.split(".", 1)
    else:
        domain = _str(node.get("domain")) or _str(node.get("service_domain"))
        service = _str(node.get("service"))
    if domain in _HA_NON_ACTUATING or (
        domain == "homeassistant" and service not in ("turn_on", "turn_off", "toggle")
    ):
        return []  # notifications and restarts/reloads move nothing
    data = _ha_data(node)
    entities = _ha_entities(node.get("entityId"))
    target = node.get("target")
    if entities == [] and isinstance(target, dict):
        entities = _ha_entities(target.get("entityId") or target.get("entity_id"))
    if entities == [] and data:
        entities = _ha_entities(data.get("entity_id"))
    if not domain or not service or "{{" in domain + service:
        command: Value = UNKNOWN
    else:
        rest = {k: v for k, v in (data or {}).items() if k != "entity_id"}
        command = const(f"{domain}.{service}" + (f" {const(rest)}" if rest else ""))
        if data is None:
            command = UNKNOWN
    if not entities:
        if entities == [] and domain in ("script", "scene", "automation") and service not in (
            "turn_on", "turn_off", "toggle", "trigger", "reload"
        ):
            entities = [f"{domain}.{service}"]
        else:
            return [Target("ha", None, f"{domain or '?'}.{service or '?'} <msg>", command)]
    return [Target("ha", f"ha:{e}", e, command) for e in entities]


def _ha_api(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    path = _str(node.get("path"))
    method = _str(node.get("method")).lower()
    protocol = node.get("protocol", "websocket")
    data = _ha_data(node)
    if protocol == "http" and method != "post":
        return []
    if protocol == "websocket" and not (data and data.get("type") == "call_service"):
        if not (path.startswith("services/") or path.startswith("states/")):
            return []
    entities: list[str] | None = []
    if data:
        found = data.get("entity_id") or (data.get("service_data") or {}).get("entity_id")
        found = found or (data.get("target") or {}).get("entity_id")
        entities = _ha_entities(found) if found else []
    if entities == [] and path.startswith("states/"):
        entities = [path[len("states/"):]] if path[len("states/"):] else []
    command = const(path or const(data)) if data is not None else UNKNOWN
    if not entities:
        return [Target("ha", None, path or "<ha-api>", command)]
    return [Target("ha", f"ha:{e}", e, command) for e in entities]


def _zigbee2mqtt_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    server = config(node.get("server"))
    base = _str(server.get("base_topic")) if server else ""
    broker = _host_port(server.get("host"), server.get("mqtt_port"), 1883) if server else "?"
    device = _str(node.get("friendly_name")) or _str(node.get("device_id"))
    if not device:
        return [Target("zigbee2mqtt", None, "<msg>", shape[1])]
    topic = f"{base or 'zigbee2mqtt'}/{device}/set"
    command = shape[1]
    name = _str(node.get("command"))
    payload_type = node.get("payloadType", "msg")
    if name and node.get("commandType", "z2m_cmd") in ("z2m_cmd", "str"):
        if payload_type in ("z2m_payload", "str", "num", "json", "bool"):
            value = typed_constant(node.get("payload"),
                                   "str" if payload_type == "z2m_payload" else payload_type)
            command = UNKNOWN if value is UNKNOWN else const({name: json.loads(str(value))})
        elif payload_type != "msg":
            command = UNKNOWN  # flow/global/env context: decided at run time
    elif name:
        command = UNKNOWN  # the command itself comes from the message
    return [Target("zigbee2mqtt", f"mqtt:{broker}/{topic}", device, command)]


def _gpio_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    pin = _str(str(node.get("pin", "")))
    if not pin:
        return [Target("gpio", None, "<pin>", shape[1])]
    host = _str(node.get("host"))  # remote pigpio nodes
    where = f"{host}/{pin}" if host else f"{runtime}/{pin}"
    return [Target("gpio", f"gpio:{where}", f"pin {pin}", shape[1])]


def _modbus_write(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    server = config(node.get("server"))
    if server is None:
        where = "?"
    elif server.get("clienttype") in ("simpleser", "serial"):
        where = _str(server.get("serialPort")) or "?"
    else:
        where = _host_port(server.get("tcpHost"), server.get("tcpPort"), 502)
    adr = _str(str(node.get("adr", "")))
    if not adr:
        return [Target("modbus", None, f"{where}/<msg>", shape[1])]
    # an empty Unit-ID on the node means the client's own
    unit = _str(str(node.get("unitid") or "")) or (
        _str(str(server.get("unit_id") or "")) if server else "") or "1"
    name = f"{unit}/{node.get('dataType', '?')}/{adr}"
    return [Target("modbus", f"modbus:{where}/{name}", name, shape[1])]


def _opcua_client(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    if node.get("action") != "write":
        return []
    endpoint = config(node.get("endpoint"))
    where = _str(endpoint.get("endpoint")) if endpoint else "?"
    item = _from_msg(node.get("topic"), shape[0])
    if item is None:
        return [Target("opcua", None, f"{where} <msg.topic>", shape[1])]
    return [Target("opcua", f"opcua:{where}/{item}", item, shape[1])]


def _knx(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    gateway = config(node.get("server"))
    where = _host_port(gateway.get("host"), gateway.get("port"), 3671) if gateway else "?"
    address = _from_msg(node.get("topic"), shape[0])
    if address is None:
        return [Target("knx", None, f"{where} <msg.destination>", shape[1])]
    return [Target("knx", f"knx:{where}/{address}", address, shape[1])]


def _hue_light(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    bridge = config(node.get("bridge"))
    where = _str(bridge.get("bridge")) if bridge else "?"
    light = _str(str(node.get("lightid", "")))
    if not light:
        return [Target("hue", None, f"{where} <light>", shape[1])]
    return [Target("hue", f"hue:{where}/{light}", light, shape[1])]


def _tasmota(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    broker = mqtt_broker_address(config(node.get("broker")), str(node.get("broker") or "?"))
    device = _str(node.get("device"))
    if not device:
        return [Target("mqtt", None, f"{broker}/<device>", shape[1])]
    full = _str(node.get("fullTopic")) or "%prefix%/%topic%/"
    prefix = _str(node.get("cmndPrefix")) or "cmnd"
    topic = normalise_topic(full.replace("%prefix%", prefix).replace("%topic%", device))
    return [Target("mqtt", f"mqtt:{broker}/{topic}", topic, shape[1])]


def _shelly(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    host = _str(node.get("hostname"))
    if not host:
        return [Target("shelly", None, "<msg>", shape[1])]
    return [Target("shelly", f"shelly:{host}", host, shape[1])]


def _deconz_output(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    server = config(node.get("server"))
    where = _host_port(server.get("ip"), server.get("port"), 80) if server else "?"
    devices = node.get("device_list") or ([node["device"]] if node.get("device") else [])
    devices = [_str(str(d)) for d in devices if _str(str(d))]
    if not devices:
        return [Target("deconz", None, f"{where} <device>", shape[1])]
    return [Target("deconz", f"deconz:{where}/{d}", d, shape[1]) for d in devices]


def _s7_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    endpoint = config(node.get("endpoint"))
    where = _host_port(endpoint.get("address"), endpoint.get("port"), 102) if endpoint else "?"
    variable = _str(node.get("variable"))
    if not variable:
        return [Target("s7", None, f"{where} <msg.variable>", shape[1])]
    return [Target("s7", f"s7:{where}/{variable}", variable, shape[1])]


Extractor = Callable[[Node, Config, str, Shape], list[Target]]

ACTUATOR_TYPES: Mapping[str, Extractor] = {
    "mqtt out": _mqtt_out,
    "http request": _http_request,
    "tcp out": _tcp_out,
    "udp out": _udp_out,
    "websocket out": _websocket_out,
    "api-call-service": _ha_call,
    "ha-api": _ha_api,
    "zigbee2mqtt-out": _zigbee2mqtt_out,
    "rpi-gpio out": _gpio_out,
    "rpi-gpio-out": _gpio_out,
    "pi-gpiod out": _gpio_out,
    "modbus-write": _modbus_write,
    "modbus-flex-write": _modbus_write,
    "OpcUa-Client": _opcua_client,
    "knxUltimate": _knx,
    "hue-light": _hue_light,
    "Tasmota Switch": _tasmota,
    "Tasmota Light": _tasmota,
    "shelly-gen1": _shelly,
    "shelly-gen2": _shelly,
    "deconz-output": _deconz_output,
    "s7 out": _s7_out,
}

KNOWN_TYPES = frozenset(
    TRIGGER_TYPES | PASS_THROUGH_TYPES | PAYLOAD_TYPES | set(ACTUATOR_TYPES)
    | {"change", "trigger", "template", "function", "debug", "http response", "exec",
       "file", "file in", "comment", "ui_text", "ui_gauge", "ui_chart", "ui_template",
       "ui_toast", "ui_audio", "ui_table", "join", "sort", "sqlite", "mysql",
       "api-current-state", "time-range-switch", "moment", "stoptimer", "OpcUa-Item"}
)


def actuator_targets(
    node: Node, config: Config, runtime: str, shapes: Iterable[Shape]
) -> list[Target]:
    """Every target a node commands for the given incoming message shapes."""
    extractor = ACTUATOR_TYPES.get(node["type"])
    if extractor is None:
        return []
    out: list[Target] = []
    for shape in shapes:
        out.extend(extractor(node, config, runtime, shape))
    return out
