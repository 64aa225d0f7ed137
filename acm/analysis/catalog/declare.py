"""How a node type is declared: one :class:`NodeType` says everything ACM knows of it.

A declaration answers, for one Node-RED node type, the questions the analysis
asks: does it start messages (and is it a person, an automation or the outside
world that starts them), what does it do to ``(topic, payload)`` on the way
through, and which targets does it command (device, channel or shared state,
and which feature of the device). Each node package has its module in this
folder; :mod:`acm.analysis.catalog` collects them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, NamedTuple

from ...enums import TextEnum
from ..flows import Node
from ..values import ANY_MESSAGE, UNKNOWN, Shape, Shapes, Value, const, decode

Config = Callable[[Any], Node | None]  # config node by id (None when missing)

class Provenance(TextEnum):
    """Who starts a message at a trigger (see docs/analysis.md, "Provenance")."""

    MANUAL = "manual"  # a person acts: a dashboard widget, the editor's inject button, voice
    AUTOMATION = "automation"  # a schedule or a sensor event
    EXTERNAL = "external"  # another system: http in, websocket in, an mqtt in of unknown sender


class Role(TextEnum):
    """What a command target is (see docs/analysis.md, "Devices, channels and shared
    state")."""

    DEVICE = "device"  # a physical actuator: a light, a relay, a valve, a thermostat
    CHANNEL = "channel"  # a transport or a message for people: log, speech, pub/sub
    STATE = "state"  # shared variables such as Home Assistant helpers


MANUAL: Final = Provenance.MANUAL
AUTOMATION: Final = Provenance.AUTOMATION
EXTERNAL: Final = Provenance.EXTERNAL
PROVENANCES: Final = tuple(Provenance)

DEVICE: Final = Role.DEVICE
CHANNEL: Final = Role.CHANNEL
STATE: Final = Role.STATE
ROLES: Final = tuple(Role)


class Target(NamedTuple):
    """One target commanded by one node for one incoming message shape.

    A named tuple: immutable like a frozen dataclass, but made in a third of the
    time, and a large site makes one per actuator node and source, tens of thousands.
    """

    kind: str  # binding type: mqtt, ha, gpio, http, ...
    key: str | None  # None: decided at run time
    name: str  # readable target: topic, entity id, pin ...
    command: Value
    role: Role = DEVICE
    feature: str | None = None  # the feature of the device it acts on; None: the whole device


Starts = Callable[[Node, bool], Provenance | None]  # (node, has input wires) -> who, or None
Emits = Callable[[Node], Shapes]  # what a trigger sends by itself
Transfer = Callable[[Node, Shapes], Shapes]  # (topic, payload) in -> out
Routes = Callable[[Node, Shapes], list[Shapes]]  # (topic, payload) in -> out, per output port
Targets = Callable[[Node, Config, str, Shape], list[Target]]  # node, configs, runtime, msg
Gates = Callable[[Node, Config], frozenset[str]]  # keys of shared state deciding what passes


def starts(provenance: Provenance) -> Starts:
    """A trigger of one fixed provenance, wired input or not."""
    def decide(node: Node, has_inputs: bool) -> Provenance:
        return provenance

    decide.__doc__ = provenance
    return decide


def passes(node: Node, shapes: Shapes) -> Shapes:
    """Passes the message on with topic and payload as they were."""
    return shapes


def computes_payload(node: Node, shapes: Shapes) -> Shapes:
    """Computes a new payload; msg.topic stays."""
    return frozenset([(t, UNKNOWN) for t, _ in shapes])


def forgets(node: Node, shapes: Shapes) -> Shapes:
    """Sends something computed: topic and payload are only known at run time."""
    return ANY_MESSAGE if shapes else shapes


def swallows(node: Node, shapes: Shapes) -> Shapes:
    """Sends nothing on for an incoming message."""
    return frozenset()


def unknown_message(node: Node) -> Shapes:
    return ANY_MESSAGE


@dataclass(frozen=True)
class NodeType:
    """Everything the analysis knows of one node type.

    ``trigger`` is None for nodes that never start a message by themselves;
    otherwise it decides the trigger's provenance from the node's settings
    (or says None: not a trigger with these settings). ``transfer`` maps the
    abstract messages arriving to those sent on; ``targets`` lists what a
    node commands. Its test cases are data in tests/cases/catalog/<module>.yaml.
    """

    type: str
    package: str
    summary: str
    trigger: Starts | None = None
    emits: Emits = unknown_message
    transfer: Transfer = forgets
    targets: Targets | None = None
    roles: tuple[Role, ...] = ()  # what its targets can be, for the docs table
    # Shared state (a helper, a node's enable switch) that decides whether messages
    # start at (or pass) this node. When another application sets that state,
    # the two applications take turns by design (see docs/analysis.md, "Gates").
    gates: Gates | None = None
    # for nodes that send a message to some of their outputs only (a switch): what each
    # output port sends; ``transfer`` is then what all ports together send
    routes: Routes | None = None


# ---------------------------------------------------------------------------
# Reading node settings


def text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def from_msg(node_value: Any, msg_value: Value) -> str | None:
    """A node property that, left empty, is taken from the message."""
    own = text(node_value)
    if own:
        return own
    if msg_value is UNKNOWN:
        return None
    decoded = decode(msg_value)  # type: ignore[arg-type]
    return decoded.strip() if isinstance(decoded, str) and decoded.strip() else None


def host_port(host: Any, port: Any, default_port: int | str) -> str:
    host_text, url_port = _url_host(text(host))
    port = url_port or port
    return f"{host_text or '?'}:{text(str(port)) if port not in (None, '') else default_port}"


_URL = re.compile(r"^[a-z0-9+]+://([^/:]+)(?::(\d+))?", re.I)


@lru_cache(maxsize=1024)
def _url_host(host: str) -> tuple[str, str | None]:
    """The host and port of a URL (``mqtt://broker:1883``), else the text and None.

    Memoised: every mqtt out of a site names one of a few brokers, and the
    answer (strings) depends on the text alone.
    """
    match = _URL.match(host)
    return (match.group(1), match.group(2)) if match else (host, None)


def topic_const(node: Node) -> Value:
    topic = node.get("topic")
    if node.get("topicType", "str") != "str" or not isinstance(topic, str):
        return UNKNOWN
    return const(topic)


def json_object(raw: Any) -> dict[str, Any] | None:
    """A JSON object from a setting; ``{}`` when empty, None when a template or not an object."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
