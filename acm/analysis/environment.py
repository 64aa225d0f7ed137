"""Chains through the environment: an actuator's effect, a sensor, a flow that reacts.

The deployment model says what an actuator does to its zone (``effects``) and
which sensors measure which property of which zone (``sensors``). A flow's
trigger that listens to such a sensor (an ``mqtt in`` on its topic, a Home
Assistant state node on its entity) reacts to that actuator, and so does every
actuator the trigger's messages reach. This module turns those facts into
plain :class:`Chain` records that the rules ``chain`` and ``loop`` (written in
the rule language, ``for chain c``) report. Only what the model declares links
a chain: no zone, effect or sensor is ever guessed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from .actuators import Actuator, Command, NodeRef
from .catalog import AUTOMATION, DEVICE, EXTERNAL, Provenance, mqtt_broker_address, normalise_topic
from .catalog.homeassistant import LISTENING_TYPES, watched_entities
from .findings import CommandPath
from .graph import FlowGraph, topic_matches
from .keys import ha_key, mqtt_parts
from .propagate import Propagation, Source

if TYPE_CHECKING:  # the model (YAML, JSON Schema) is imported only to read one
    from ..model import Sensor

AUTOMATED = frozenset({AUTOMATION, EXTERNAL})
MAX_LOOP_STEPS = 4  # a loop through more rooms and properties than this is not followed
ARROW = " → "


@dataclass(frozen=True)
class Step:
    """One reaction through the environment.

    ``cause`` changes ``quantity`` in ``zone`` (in ``direction``); ``sensors``
    measure it there; ``triggers`` of ``application`` listen to them, and
    their messages reach ``target``. ``starters`` are the applications whose
    automations command ``cause`` besides the one that reacts.
    """

    cause: Actuator
    quantity: str  # the property it goes through (temperature ...)
    zone: str
    direction: str
    sensors: tuple[Sensor, ...]
    application: str
    provenance: str
    triggers: tuple[NodeRef, ...]
    trigger_label: str  # the first trigger, for the explanation
    target: Actuator
    path: tuple[NodeRef, ...]  # the shortest, from a trigger to the target's node
    starters: frozenset[str]

    @property
    def counteracts(self) -> bool:
        """The target pushes the same property of the same zone back the other way."""
        return (self.target.zone == self.zone
                and self.target.effects.get(self.quantity) not in (None, self.direction))

    @property
    def ident(self) -> str:
        return "\0".join((self.cause.key, self.quantity, self.application, self.target.key))


@dataclass(frozen=True)
class Chain:
    """What the rules see (``for chain c``): one step, or a loop of steps that closes."""

    steps: tuple[Step, ...]
    closed: bool = False  # the last step commands the first step's cause again
    on_loop: bool = False  # one step that is part of a closed chain also reported
    app_names: Mapping[str, str] | None = None
    zone_names: Mapping[str, str] | None = None

    @property
    def ident(self) -> str:
        return ("loop:" if self.closed else "") + "\n".join(s.ident for s in self.steps)

    @property
    def first(self) -> Step:
        return self.steps[0]

    @property
    def counteracts(self) -> bool:
        return any(s.counteracts for s in self.steps)

    @cached_property
    def actuators(self) -> tuple[Actuator, ...]:
        found = [self.first.cause, *(s.target for s in self.steps)]
        return tuple({a.key: a for a in found}.values())

    @property
    def starters(self) -> frozenset[str]:
        return self.first.starters

    @property
    def reacting(self) -> frozenset[str]:
        return frozenset(s.application for s in self.steps)

    @property
    def applications(self) -> frozenset[str]:
        return self.reacting if self.closed else self.starters | self.reacting

    @property
    def subject(self) -> tuple[NodeRef, ...]:
        """The triggers that react: the nodes a chain is about besides actuator nodes."""
        return tuple(dict.fromkeys(t for s in self.steps for t in s.triggers))

    def name(self, app: str) -> str:
        return (self.app_names or {}).get(app, app)

    def names(self, apps: Iterable[str]) -> frozenset[str]:
        return frozenset(self.name(a) for a in apps)

    def where(self, step: Step) -> str:
        return f"{step.quantity} ({(self.zone_names or {}).get(step.zone, step.zone)})"

    @property
    def path_text(self) -> str:
        """``Office heater → temperature (Office) → 'Air: too warm' → Office window``."""
        parts = [self.first.cause.name]
        for step in self.steps:
            parts += [self.where(step), f"'{self.name(step.application)}: {step.trigger_label}'",
                      step.target.name]
        return ARROW.join(parts)

    @property
    def property_text(self) -> str:
        return ", ".join(dict.fromkeys(self.where(s) for s in self.steps))

    @property
    def outcome(self) -> str:
        """What the chain comes to, for messages."""
        if self.closed:
            apps = ", ".join(sorted(self.names(self.reacting)))
            return (f"a loop: {apps} set each other off through "
                    f"{self.property_text}, over and over")
        step = next((s for s in self.steps if s.counteracts), None)
        starters = ", ".join(sorted(self.names(self.starters)))
        if step is not None:
            return (f"{self.name(step.application)} pushes {self.where(step)} back against "
                    f"what {starters} set")
        verb = "sets" if len(self.starters) == 1 else "set"
        return f"{starters} {verb} off {self.name(self.first.application)} through the " \
               f"environment"

    def paths(self, paths_of: Callable[[str, Source], tuple[NodeRef, ...]]
              ) -> tuple[CommandPath, ...]:
        """Per application that starts it, its shortest path to the first actuator (an open
        chain); then each reaction's path from its trigger to the actuator it commands."""
        out: list[CommandPath] = []
        if not self.closed:
            best: dict[tuple[str, str], tuple[NodeRef, ...]] = {}
            for command in _automated(self.first.cause):
                if command.source.application not in self.starters:
                    continue
                way = (command.source.application, command.provenance)
                path = paths_of(command.node, command.source)
                if way not in best or len(path) < len(best[way]):
                    best[way] = path
            out += [CommandPath(app, best[(app, provenance)], Provenance(provenance))
                    for app, provenance in sorted(best)]
        out += [CommandPath(s.application, s.path, Provenance(s.provenance))
                for s in self.steps]
        return tuple(out)


def _automated(actuator: Actuator) -> list[Command]:
    return [c for d in actuator.drivers.values() for c in d.sends if c.provenance in AUTOMATED]


def listened_keys(fg: FlowGraph, gid: str, aliases: Mapping[str, str]
                  ) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """What a trigger listens to: (broker address, topic filter levels) of an ``mqtt in``
    with a fixed subscription, and the ``ha:`` keys of the entities a state node names."""
    info = fg.info[gid]
    node = info.node
    if info.type == "mqtt in":
        topic = node.get("topic")
        if not isinstance(topic, str) or not topic.strip():
            return [], []  # subscribed at run time
        topic = normalise_topic(topic.strip())
        if topic.split("/")[0] == "#":
            return [], []  # everything: a logger or a bridge, not a reaction to one sensor
        broker = node.get("broker")
        config = fg.flows[info.runtime].by_id.get(broker) if isinstance(broker, str) else None
        address = mqtt_broker_address(config, str(broker or "?"))
        return [(aliases.get(address, address), topic.split("/"))], []
    if info.type in LISTENING_TYPES:
        return [], [ha_key(entity) for entity in watched_entities(node)]
    return [], []


def _hears(sensor: Sensor, mqtt: list[tuple[str, list[str]]], ha: list[str]) -> bool:
    parts = mqtt_parts(sensor.key)
    if parts is not None:
        address, topic = parts
        levels = topic.split("/")
        return any(addr == address and topic_matches(pattern, levels) for addr, pattern in mqtt)
    return sensor.key in ha


def _label(fg: FlowGraph, gid: str) -> str:
    node = fg.info[gid].node
    name = node.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    return f"{node.get('type')} {node.get('id')}"


def _reached(fg: FlowGraph, start: str) -> dict[str, str | None]:
    """Every graph node a trigger's messages can reach, with the node each came from."""
    parents: dict[str, str | None] = {start: None}
    queue = deque([start])
    succ = fg.succ
    while queue:
        gid = queue.popleft()
        for nxt in succ[gid]:
            if nxt not in parents:
                parents[nxt] = gid
                queue.append(nxt)
    return parents


def _refs(fg: FlowGraph, parents: Mapping[str, str | None], end: str) -> tuple[NodeRef, ...]:
    gids: list[str] = []
    at: str | None = end
    while at is not None:
        gids.append(at)
        at = parents[at]
    refs: list[NodeRef] = []
    for gid in reversed(gids):
        info = fg.info[gid]
        ref = NodeRef(info.runtime, info.origin)
        if not refs or refs[-1] != ref:
            refs.append(ref)
    return tuple(refs)


def find_chains(fg: FlowGraph, prop: Propagation, actuators: Sequence[Actuator],
                sensors: Sequence[Sensor], aliases: Mapping[str, str] | None = None,
                app_names: Mapping[str, str] | None = None,
                zone_names: Mapping[str, str] | None = None) -> tuple[Chain, ...]:
    """Every step through the environment, and every loop of steps, in a stable order.

    Nothing without sensors in zones: the chains come from the model only.
    """
    placed = [s for s in sensors if s.zone is not None]
    if not placed:
        return ()
    hearing = _hearing(fg, prop, placed, aliases or {})
    if not hearing:
        return ()
    reactions = _reactions(fg, prop, hearing, actuators)
    steps = _steps(fg, prop, actuators, hearing, reactions)
    loops = _loops(steps)
    on_loops = {s.ident for chain in loops for s in chain}
    names = dict(app_names or {})
    zones = dict(zone_names or {})
    return (*(Chain(loop, True, False, names, zones) for loop in loops),
            *(Chain((s,), False, s.ident in on_loops, names, zones) for s in steps))


def _hearing(fg: FlowGraph, prop: Propagation, placed: Sequence[Sensor],
             aliases: Mapping[str, str]) -> dict[str, list[Sensor]]:
    """The triggers of automations that hear a placed sensor: graph id -> its sensors."""
    hearing: dict[str, list[Sensor]] = {}
    for gid, source in prop.triggers.items():
        if source.provenance not in AUTOMATED:
            continue
        mqtt, ha = listened_keys(fg, gid, aliases)
        if mqtt or ha:
            heard = [s for s in placed if _hears(s, mqtt, ha)]
            if heard:
                hearing[gid] = heard
    return hearing


Reaction = tuple[tuple[NodeRef, ...], Actuator]  # the shortest path, and the device it commands


def _reactions(fg: FlowGraph, prop: Propagation, hearing: Mapping[str, list[Sensor]],
               actuators: Sequence[Actuator]) -> dict[str, dict[str, Reaction]]:
    """What each hearing trigger's messages reach: trigger -> device key -> reaction."""
    commanded: dict[str, list[tuple[Actuator, Command]]] = {}  # actuator node gid -> ...
    for act in actuators:
        if act.role != DEVICE:
            continue
        for command in _automated(act):
            commanded.setdefault(command.node, []).append((act, command))
    reactions: dict[str, dict[str, Reaction]] = {}
    for gid in hearing:
        source = prop.triggers[gid]
        parents = _reached(fg, gid)
        found: dict[str, Reaction] = {}
        for node in parents:
            for act, command in commanded.get(node, ()):
                if command.source != source:
                    continue
                path = _refs(fg, parents, node)
                if act.key not in found or len(path) < len(found[act.key][0]):
                    found[act.key] = (path, act)
        reactions[gid] = found
    return reactions


def _steps(fg: FlowGraph, prop: Propagation, actuators: Sequence[Actuator],
           hearing: Mapping[str, list[Sensor]],
           reactions: Mapping[str, Mapping[str, Reaction]]) -> list[Step]:
    """Each step cause -> (zone, property) -> sensor -> trigger -> device, one per reaction
    (more sensors or triggers of one reaction are merged into it), sorted."""
    grouped: dict[str, Step] = {}
    for cause in actuators:
        if cause.zone is None or not cause.effects or not cause.drivers:
            continue
        automated = frozenset(c.source.application for c in _automated(cause))
        for prop_name, direction in sorted(cause.effects.items()):
            for gid, here, source, starters in _listeners(cause, prop_name, hearing, prop,
                                                          automated):
                info = fg.info[gid]
                trigger = NodeRef(info.runtime, info.origin)
                for key, (path, target) in sorted(reactions[gid].items()):
                    if key == cause.key:
                        continue  # the same device: the rule direct says it
                    step = Step(cause, prop_name, cause.zone, direction, here,
                                source.application, source.provenance, (trigger,),
                                _label(fg, gid), target, path, starters)
                    grouped[step.ident] = _merged(grouped.get(step.ident), step)
    return [grouped[k] for k in sorted(grouped)]


def _listeners(cause: Actuator, quantity: str, hearing: Mapping[str, list[Sensor]],
               prop: Propagation, automated: frozenset[str]
               ) -> Iterator[tuple[str, tuple[Sensor, ...], Source, frozenset[str]]]:
    """The triggers that hear ``quantity`` in the zone of ``cause``, with their sensors there,
    their source and the other applications whose automations command ``cause``."""
    for gid, heard in hearing.items():
        here = tuple(s for s in heard if s.zone == cause.zone and quantity in s.measures)
        if not here:
            continue
        source = prop.triggers[gid]
        starters = automated - {source.application}
        if not starters:
            continue  # the application's own feedback (a thermostat), or nobody's
        yield gid, here, source, starters


def _merged(old: Step | None, step: Step) -> Step:
    """``step``, or, when ``old`` is the same reaction, ``old`` with the sensors and the
    trigger of ``step`` added (and the shorter path of the two)."""
    if old is None:
        return step
    return Step(step.cause, step.quantity, step.zone, step.direction,
                tuple(dict.fromkeys(old.sensors + step.sensors)),
                old.application, old.provenance,
                tuple(dict.fromkeys(old.triggers + step.triggers)),
                old.trigger_label, step.target, min(old.path, step.path, key=len),
                step.starters)


def _loops(steps: Sequence[Step]) -> list[tuple[Step, ...]]:
    """Simple cycles of steps (actuator to actuator) that come back to where they started,
    each once, starting at its smallest actuator key; consecutive reactions belong to
    different applications (else the second is the first one's own design)."""
    leaving: dict[str, list[Step]] = {}
    for step in steps:
        leaving.setdefault(step.cause.key, []).append(step)
    found: list[tuple[Step, ...]] = []
    seen: set[tuple[str, ...]] = set()

    def walk(start: str, way: list[Step]) -> None:
        here = way[-1].target.key
        if here == start:
            if way[-1].application != way[0].application:
                ends = tuple(s.ident for s in way)
                if ends not in seen:
                    seen.add(ends)
                    found.append(tuple(way))
            return
        if len(way) >= MAX_LOOP_STEPS or here < start \
                or any(s.cause.key == here for s in way):
            return
        for step in leaving.get(here, ()):
            if step.application != way[-1].application:
                walk(start, [*way, step])

    for start in sorted(leaving):
        for step in leaving[start]:
            walk(start, [step])
    return found
