"""Node-RED's own nodes.

Inject, MQTT, HTTP, TCP/UDP, websockets, the sequence and function nodes
(package ``node-red``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..flows import Node
from ..keys import http_key, mqtt_key
from ..values import UNKNOWN, Shape, Shapes, Value, const, typed_constant
from .context import switch_gates
from .declare import (
    AUTOMATION,
    CHANNEL,
    DEVICE,
    EXTERNAL,
    MANUAL,
    Config,
    NodeType,
    Provenance,
    Role,
    Target,
    computes_payload,
    forgets,
    from_msg,
    host_port,
    passes,
    starts,
    swallows,
    text,
)
from .switch import switch_routes

PACKAGE = "node-red"
_EMPTY = const("")  # the empty string, as a constant


# ---------------------------------------------------------------------------
# inject


def _inject_provenance(node: Node, has_inputs: bool) -> Provenance:
    """The editor's button is a person; a repeat, a cron time or "once at start" is automation."""
    if text(node.get("repeat")) or text(node.get("crontab")) or node.get("once") in (True, "true"):
        return AUTOMATION
    return MANUAL


def starts_once(node: Node) -> bool:
    """An inject that fires once when the flows start (or are deployed), and never again:
    typically one that restores saved settings."""
    return (node.get("type") == "inject" and node.get("once") in (True, "true")
            and not text(node.get("repeat")) and not text(node.get("crontab")))


def _inject_emits(node: Node) -> Shapes:
    props = node.get("props")
    topic: Value = _EMPTY
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
        return frozenset({(topic, payload)})
    payload = typed_constant(node.get("payload"), node.get("payloadType", "date"))
    return frozenset({(const(str(node.get("topic") or "")), payload)})


# ---------------------------------------------------------------------------
# MQTT


def normalise_topic(topic: str) -> str:
    return topic.rstrip("/") or topic


def mqtt_broker_address(broker: Node | None, fallback: str) -> str:
    if broker is None:
        return fallback
    return host_port(broker.get("broker"), broker.get("port"), 1883)


# Levels that mark a topic as a device command (Tasmota cmnd/..., zigbee2mqtt and homie
# .../set, Shelly and ESPHome .../command, nodes@home .../control/..., .../setpoint).
COMMAND_LEVELS = frozenset({"set", "setpoint", "cmnd", "command", "commands", "cmd",
                             "control", "ctrl"})
_REMOTE_LEVELS = frozenset({"action", "click", "button"})


def command_role(levels: Iterable[str]) -> Role:
    """A device when a level follows a command convention, otherwise a channel."""
    lowered = set(map(str.lower, levels))
    if not lowered.isdisjoint(COMMAND_LEVELS) \
            or any(level.startswith(("set_", "set-")) for level in lowered):
        return DEVICE
    return CHANNEL


def mqtt_role(topic: str) -> Role:
    return command_role(topic.split("/"))


def url_role(url: str) -> Role:
    """A URL whose path (or a query key) follows a command convention commands a device.

    ``http://plug/cm?cmnd=Power%20On`` (Tasmota) and ``…/api/valve/set`` are
    devices; a logging or cloud API is a channel.
    """
    parts = urlsplit(url)
    keys = [pair.split("=", 1)[0] for pair in parts.query.split("&") if pair]
    return command_role([*parts.path.split("/"), *keys])


def _mqtt_in_provenance(node: Node, has_inputs: bool) -> Provenance | None:
    topic = text(node.get("topic"))
    wildcard = "+" in topic or "#" in topic
    if not topic:
        return EXTERNAL  # a dynamic subscription, set by messages to its input
    if has_inputs and not wildcard:
        # Fed over the broker by publishers in the analysed flows: an exact
        # subscription only hears them (see acm.analysis.propagate for the rest).
        return None
    last = topic.rsplit("/", 1)[-1].lower()
    return MANUAL if last in _REMOTE_LEVELS else EXTERNAL


def _mqtt_in_emits(node: Node) -> Shapes:
    subscribed = text(node.get("topic"))
    known = subscribed and "+" not in subscribed and "#" not in subscribed
    return frozenset({(const(subscribed) if known else UNKNOWN, UNKNOWN)})


def _mqtt_in_transfer(node: Node, shapes: Shapes) -> Shapes:
    """What publishers in the flows send over the broker; a dynamic one's input is control."""
    return shapes if text(node.get("topic")) else swallows(node, shapes)


def _mqtt_out_transfer(node: Node, shapes: Shapes) -> Shapes:
    """Seen by subscribers over the broker, with the node's topic if it has one."""
    fixed = text(node.get("topic"))
    return shapes if not fixed else frozenset((const(normalise_topic(fixed)), p)
                                              for _, p in shapes)


# Tasmota commands that only ask: the device answers on stat/…, nothing changes.
_TASMOTA_QUERIES = frozenset({"status", "state"})


def tasmota_query(topic: str, payload: Value) -> bool:
    """A Tasmota ``cmnd/<device>/<Command>`` that reads: STATUS or STATE, or any command
    sent with an empty payload (Tasmota then reports the current value)."""
    if "cmnd" not in topic.lower():  # most topics: no level can be cmnd
        return False
    levels = topic.split("/")
    if "cmnd" not in (level.lower() for level in levels[:-1]):
        return False
    return levels[-1].lower() in _TASMOTA_QUERIES or payload == _EMPTY


def _mqtt_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    broker_id = node.get("broker")
    broker = mqtt_broker_address(config(broker_id), str(broker_id or "?"))
    topic = from_msg(node.get("topic"), shape[0])
    if topic is None:
        return [Target("mqtt", None, f"{broker}/<msg.topic>", shape[1])]
    topic = normalise_topic(topic)
    if tasmota_query(topic, shape[1]):
        return []  # a poll of the device's state, not a command
    return [Target("mqtt", mqtt_key(broker, topic), topic, shape[1], mqtt_role(topic))]


# ---------------------------------------------------------------------------
# Other transports: without a known device API they are channels


WRITING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


_SECRET_PARAMETER = re.compile(r"(token|key|pass|secret|auth|sig)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """A URL fit for reports: no password in it, secret-looking query values hidden.

    ``https://ann:pw@host/x?token=abc&room=1`` -> ``https://ann:***@host/x?token=***&room=1``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"***@{host}"
    query = "&".join(
        f"{name}=***" if sep and _SECRET_PARAMETER.search(name) else pair
        for pair in parts.query.split("&") if pair
        for name, sep, _ in [pair.partition("=")])
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _http_request(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    method = text(node.get("method")).upper() or "GET"
    url = redact_url(text(node.get("url")))
    if method == "USE":  # method from msg.method: may or may not write
        return [Target("http", None, url or "<msg.url>", shape[1], CHANNEL)]
    if method not in WRITING_METHODS:
        return []
    if not url or "{{" in url:
        return [Target("http", None, url or "<msg.url>", shape[1], CHANNEL)]
    return [Target("http", http_key(method, url), f"{method} {url}", shape[1], url_role(url))]


def _tcp_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    if node.get("beserver") == "reply":
        return []  # answers a tcp in connection; not a commanded device
    host = text(node.get("host"))
    if node.get("beserver") == "server":
        address = f"listen:{text(str(node.get('port', '')))}"
    elif not host:
        return [Target("tcp", None, "<msg.host>", shape[1], CHANNEL)]
    else:
        address = host_port(host, node.get("port"), "?")
    return [Target("tcp", f"tcp:{address}", address, shape[1], CHANNEL)]


def _udp_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    addr = text(node.get("addr"))
    if not addr:
        return [Target("udp", None, "<msg.ip>", shape[1], CHANNEL)]
    address = host_port(addr, node.get("port"), "?")
    return [Target("udp", f"udp:{address}", address, shape[1], CHANNEL)]


def _websocket_out(node: Node, config: Config, runtime: str, shape: Shape) -> list[Target]:
    endpoint = config(node.get("server")) or config(node.get("client"))
    if endpoint is None:
        return [Target("websocket", None, "<unknown endpoint>", shape[1], CHANNEL)]
    where = text(endpoint.get("path")) or redact_url(text(endpoint.get("url")))
    if endpoint["type"] == "websocket-listener":
        where = f"{runtime}{where}"
    return [Target("websocket", f"ws:{where}", where, shape[1], CHANNEL)]


# ---------------------------------------------------------------------------
# change, trigger, template: constant propagation


def _change_transfer(node: Node, shapes: Shapes) -> Shapes:
    rules = [rule for rule in _change_rules(node)
             if isinstance(rule, dict) and _touches_shape(rule)]
    if not rules:
        return shapes  # topic and payload pass as they were
    return frozenset([_change(rules, s) for s in shapes])


def _change(rules: Sequence[Node], shape: Shape) -> Shape:
    """What a change node's rules on payload and topic make of one shape, rule after rule."""
    for rule in rules:
        shape = _apply_change_rule(rule, shape)
    return shape


def _change_rules(node: Node) -> list[Any]:
    """The node's rules; very old change nodes kept their one rule on the node."""
    rules = node.get("rules")
    if isinstance(rules, list):
        return rules
    return [{"t": node.get("action"), "p": node.get("property"), "to": node.get("to"),
             "tot": "str", "from": node.get("from")}]


def _touches_shape(rule: Node) -> bool:
    """Whether a rule acts on msg.payload or msg.topic, or moves something into them."""
    if rule.get("pt", "msg") == "msg" and rule.get("p") in ("payload", "topic"):
        return True
    return rule.get("t") == "move" and rule.get("to") in ("payload", "topic")


def _apply_change_rule(rule: Node, shape: Shape) -> Shape:
    """One rule on payload or topic: set, delete, change (search/replace) or move."""
    topic, payload = shape
    action = rule.get("t")
    if action == "move":
        return _move(rule, shape)
    if action == "set":
        value = _set_value(rule, shape)
    elif action == "delete":
        value = UNKNOWN if rule.get("p") == "payload" else const("")
    else:  # change (search/replace): not followed
        value = UNKNOWN
    return (topic, value) if rule.get("p") == "payload" else (value, payload)


def _set_value(rule: Node, shape: Shape) -> Value:
    """The value a set rule writes: a copy of msg.payload/topic, or a typed constant."""
    tot = rule.get("tot", "str")
    if tot == "msg" and rule.get("to") in ("payload", "topic"):
        return shape[1] if rule["to"] == "payload" else shape[0]
    return typed_constant(rule.get("to"), tot)


def _move(rule: Node, shape: Shape) -> Shape:
    """A move leaves its source unset (when payload or topic), its destination not followed."""
    topic, payload = shape
    if rule.get("p") == "payload":  # moved away: now unset
        payload = UNKNOWN
    elif rule.get("p") == "topic":
        topic = const("")
    if rule.get("to") == "payload":
        payload = UNKNOWN
    elif rule.get("to") == "topic":
        topic = UNKNOWN
    return (topic, payload)


def _trigger_transfer(node: Node, shapes: Shapes) -> Shapes:
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


def _template_transfer(node: Node, shapes: Shapes) -> Shapes:
    field_name = node.get("field", "payload")
    if node.get("fieldType", "msg") != "msg" or field_name not in ("payload", "topic"):
        return shapes
    template = node.get("template", "")
    value: Value = UNKNOWN
    if isinstance(template, str) and ("{{" not in template or node.get("syntax") == "plain"):
        value = typed_constant(template, "json") if node.get("output") == "json" \
            else const(template)
    if field_name == "payload":
        return frozenset((t, value) for t, _ in shapes)
    return frozenset((value, p) for _, p in shapes)


# ---------------------------------------------------------------------------

def _simple(names: str, summary: str, **kwargs: Any) -> list[NodeType]:
    return [NodeType(name, PACKAGE, summary, **kwargs) for name in names.split("|")]


TYPES: list[NodeType] = [
    NodeType("inject", PACKAGE, "Sends a message by hand (the editor's button: manual), "
             "on an interval, at a cron time or once at start (automation).",
             trigger=_inject_provenance, emits=_inject_emits),
    NodeType("mqtt in", PACKAGE, "Messages from a broker: external, or manual when the topic "
             "ends in /action, /click or /button (remotes); fed by publishers in the flows "
             "when the topic is exact. A dynamic subscription (no topic) is set by its "
             "input, which it does not pass on.",
             trigger=_mqtt_in_provenance, emits=_mqtt_in_emits, transfer=_mqtt_in_transfer),
    NodeType("mqtt out", PACKAGE, "Publishes to a broker: a device when the topic follows a "
             "command convention (…/set, cmnd/…, …/command), otherwise a channel. A Tasmota "
             "query (cmnd/…/STATUS, cmnd/…/STATE, or a command with an empty payload) "
             "commands nothing.",
             transfer=_mqtt_out_transfer, targets=_mqtt_out, roles=(DEVICE, CHANNEL)),
    NodeType("http request", PACKAGE, "POST/PUT/PATCH/DELETE to a URL: a device when the URL "
             "follows a command convention (…/set, ?cmnd=…), otherwise a channel.",
             transfer=computes_payload, targets=_http_request, roles=(DEVICE, CHANNEL)),
    NodeType("tcp out", PACKAGE, "Writes to a TCP connection: a channel.", targets=_tcp_out,
             roles=(CHANNEL,)),
    NodeType("udp out", PACKAGE, "Sends a datagram: a channel.", targets=_udp_out,
             roles=(CHANNEL,)),
    NodeType("websocket out", PACKAGE, "Sends over a websocket: a channel.",
             targets=_websocket_out, roles=(CHANNEL,)),
    *_simple("http in|tcp in|udp in|websocket in|serial in|e-mail in|twitter in",
             "Requests and data from another system.", trigger=starts(EXTERNAL)),
    *_simple("watch|status|catch|complete|feedparse",
             "Starts messages on events in the runtime or on a poll.", trigger=starts(AUTOMATION)),
    *_simple("junction|link in|link out|link call|delay|rbe|filter",
             "Passes messages on unchanged.", transfer=passes),
    NodeType("switch", PACKAGE, "Passes messages on unchanged, to the outputs whose rules "
             "match when the tested value is a constant (see acm/analysis/catalog/switch.py); "
             "a global variable it tests is a gate (catalog/context.py).",
             transfer=passes, routes=switch_routes, gates=switch_gates),
    *_simple("range|json|csv|xml|yaml|html|split|smooth|sort|batch",
             "Computes a new payload; msg.topic stays.", transfer=computes_payload),
    NodeType("change", PACKAGE, "Sets, moves or deletes msg.topic and msg.payload (followed "
             "when constant).", transfer=_change_transfer),
    NodeType("trigger", PACKAGE, "Sends its first and second output values (followed when "
             "constant).", transfer=_trigger_transfer),
    NodeType("template", PACKAGE, "Fills msg.payload or msg.topic from a template (followed "
             "when it has no mustache fields).", transfer=_template_transfer),
    *_simple("function|debug|http response|exec|file|file in|comment|join|sqlite|mysql",
             "Computes messages (or ends them): topic and payload only known at run time.",
             transfer=forgets),
    NodeType("acm-resolver", "node-red-acm-bridge", "ACM's native resolver (`acm resolve "
             "--native`): sends on some of the commands it receives, as they were.",
             transfer=passes),
]
