"""Find the actuators of a flow graph and which applications drive them.

Input: the graph, the propagation result and the tab -> application mapping.
Output: plain frozen :class:`Actuator` records, one per actuator key, each
with its nodes and, per driving application, the commands it can send and
one path from a trigger of that application to the actuator node.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, NamedTuple

from ..once import Once
from .catalog import (
    ACTUATOR_TYPES,
    AUTOMATION,
    CHANNEL,
    DEVICE,
    MANUAL,
    STATE,
    Target,
    acm_role,
    actuator_targets,
    trigger_provenance,
)
from .catalog.core import starts_once
from .catalog.homeassistant import applies_to, entity_role
from .graph import FlowGraph, GraphNode, entry_bypass, outermost_instance
from .keys import ha_entity, kind_of
from .propagate import Propagation, Reach, Source
from .values import ANY_MESSAGE, Value


class NodeRef(NamedTuple):
    """A node as it is in a flows file.

    A named tuple (immutable, hashed in C): findings, suppressions and labels
    keep NodeRefs in sets and dicts, tens of thousands of them on a large site.
    """

    runtime: str
    id: str


class Command(NamedTuple):
    """One way an application commands an actuator: who starts it, which feature, what value.

    A named tuple, like :class:`NodeRef`: commands are kept in ordered sets (dict keys).
    """

    source: Source  # the application and the provenance of its trigger
    feature: str | None  # feature of the device; None: the whole device (or not known)
    value: Value
    node: str  # graph id of the actuator node that sends it (paths: PathFinder)
    ref: NodeRef  # that node in its flows file
    origin: str  # runtime of the trigger the command starts at
    gates: frozenset[str] = frozenset()  # shared state that decides whether it flows
    # replayed at start through a person's widget (see _restored): the person's choice
    restored: bool = False

    @property
    def provenance(self) -> str:
        return MANUAL if self.restored else self.source.provenance


@dataclass(frozen=True)
class Driver:
    """One application that can drive one actuator, and every way it does."""

    application: str
    sends: tuple[Command, ...]

    # Worked out once: rules and reports read them per actuator, several times.
    @Once
    def commands(self) -> frozenset[Value]:
        return frozenset(c.value for c in self.sends)

    @Once
    def provenances(self) -> frozenset[str]:
        return frozenset(c.provenance for c in self.sends)

    def keeping(self, test: Callable[[Command], bool]) -> Driver | None:
        """This driver with only the commands that pass ``test`` (None if none do)."""
        kept = tuple(c for c in self.sends if test(c))
        return Driver(self.application, kept) if kept else None


@dataclass(frozen=True)
class Actuator:
    key: str
    kind: str
    name: str
    nodes: tuple[NodeRef, ...]
    drivers: Mapping[str, Driver] = field(default_factory=dict)
    zone: str | None = None
    effects: Mapping[str, str] = field(default_factory=dict)
    declared: bool = False  # named in the deployment model
    runtimes: frozenset[str] = frozenset()  # runtimes whose triggers drive it
    managed_by: str | None = None  # strategy of the ACM resolver every command passes
    role: str = DEVICE  # device, channel or state (see acm.analysis.catalog)

    @property
    def applications(self) -> frozenset[str]:
        return frozenset(self.drivers)

    def keeping(self, test: Callable[[Command], bool]) -> Actuator:
        """This actuator with only the commands that pass ``test``: drivers left with none
        are dropped, nodes and runtimes are those of the commands kept."""
        drivers: dict[str, Driver] = {}
        for app, driver in self.drivers.items():
            kept = driver.keeping(test)
            if kept is not None:
                drivers[app] = kept
        sends = [c for d in drivers.values() for c in d.sends]
        return replace(self, drivers=drivers, nodes=tuple(dict.fromkeys(c.ref for c in sends)),
                       runtimes=frozenset(c.origin for c in sends))


@dataclass(frozen=True)
class UnknownTarget:
    """An actuator node whose target is only known at run time."""

    node: NodeRef
    kind: str
    name: str
    applications: frozenset[str]


@dataclass(frozen=True)
class ActuatorScan:
    actuators: tuple[Actuator, ...]
    unknown: tuple[UnknownTarget, ...]


def find_actuators(fg: FlowGraph, prop: Propagation) -> ActuatorScan:
    """One pass over the actuator nodes; no graph walks besides reading paths."""
    scan = _Scan(fg, prop)
    info_of = fg.info
    for gid in fg.endpoints:  # the actuators among them, in graph order
        info = info_of[gid]
        if info.type in ACTUATOR_TYPES:
            scan.node(gid, info)
    actuators = tuple(entry.actuator(key) for key, entry in sorted(scan.by_key.items()))
    return ActuatorScan(actuators, tuple(scan.unknown))


class _Entry:
    """What :func:`find_actuators` gathers for one actuator key: its nodes and roles, and
    per driving application its commands (ordered sets: dict keys), the runtimes they
    start in and the resolver strategy each passes (None: none, or not every one).

    Slotted: a large site has one per actuator, tens of thousands.
    """

    __slots__ = ("kind", "name", "nodes", "roles", "drivers", "runtimes", "managed")

    def __init__(self, target: Target) -> None:
        self.kind = target.kind
        self.name = target.name
        self.nodes: dict[NodeRef, None] = {}
        self.roles: set[str] = set()
        self.drivers: dict[str, dict[Command, None]] = {}
        self.runtimes: set[str] = set()
        self.managed: list[Any] = []

    def actuator(self, key: str) -> Actuator:
        managed = self.managed
        return Actuator(
            key=key,
            kind=self.kind,
            name=self.name,
            nodes=tuple(self.nodes),
            drivers={app: Driver(app, tuple(sends)) for app, sends in sorted(self.drivers.items())},
            runtimes=frozenset(self.runtimes),
            managed_by=managed[0] if managed and all(managed) else None,
            role=_first_role(self.roles),
        )


def _first_role(roles: set[str]) -> str:
    """The role that wins among those the nodes command a target as (see _ROLE_ORDER)."""
    for role in _ROLE_ORDER:
        if role in roles:
            return role
    raise ValueError(f"no known role among {sorted(roles)}")


class _Scan:
    """What :func:`find_actuators` gathers, node by node: per actuator key an entry of its
    nodes, drivers and commands, and the nodes whose target is known only at run time."""

    def __init__(self, fg: FlowGraph, prop: Propagation) -> None:
        self.fg, self.prop = fg, prop
        self.by_key: dict[str, _Entry] = {}
        self.unknown: list[UnknownTarget] = []
        self.configs = {runtime: config_lookup(flows.by_id) for runtime, flows in fg.flows.items()}
        # no resolver walks in flows without nodes ACM added
        self.resolvers = any(flows.marked for flows in fg.flows.values())
        self.replays = _replaying_sources(fg, prop)

    def node(self, gid: str, info: GraphNode) -> None:
        """Add what actuator node ``gid`` commands, for each source that reaches it."""
        node = with_env(info, self.fg)
        config = self.configs[info.runtime]
        ref = NodeRef(info.runtime, info.origin)
        # a listening node (trigger and actuator) does not drive itself
        driving = [(source, state) for source, state in self.prop.reach.get(gid, {}).items()
                   if state.pred is not None or state.shapes]
        if not driving:
            # Not driven by anything; still an actuator if its target is static.
            for target in actuator_targets(node, config, info.runtime, ANY_MESSAGE):
                if target.key is not None:
                    self._entry(target, ref)
            return
        unknown_apps: set[str] = set()
        unknown_target: Target | None = None
        managed: object = _UNSET
        for source, state in driving:
            for target in actuator_targets(node, config, info.runtime,
                                           state.shapes or ANY_MESSAGE):
                if target.key is None:
                    unknown_apps.add(source.application)
                    unknown_target = target
                    continue
                if managed is _UNSET:  # once per node: it may walk a subflow
                    managed = _resolver_strategy(self.fg, gid, self.prop.triggers) \
                        if self.resolvers else None
                self._command(gid, ref, source, state, target, managed)
        if unknown_target is not None:
            self.unknown.append(UnknownTarget(ref, unknown_target.kind, unknown_target.name,
                                              frozenset(unknown_apps)))

    def _entry(self, target: Target, ref: NodeRef) -> _Entry:
        """The entry of ``target``'s key, with node ``ref`` and the target's role added."""
        assert target.key is not None
        entry = self.by_key.get(target.key)
        if entry is None:
            entry = self.by_key[target.key] = _Entry(target)
        entry.nodes[ref] = None  # an ordered set
        entry.roles.add(target.role)
        return entry

    def _command(self, gid: str, ref: NodeRef, source: Source, state: Reach, target: Target,
                 managed: object) -> None:
        """Record that ``source`` commands ``target`` through actuator node ``gid``."""
        entry = self._entry(target, ref)
        sends = entry.drivers.get(source.application)
        if sends is None:
            sends = entry.drivers[source.application] = {}
        restored = source in self.replays and _restored(self.fg, self.prop.path(gid, source))
        sends[Command(source, target.feature, target.command, gid, ref,
                      state.origin, state.gates, restored)] = None
        entry.runtimes.add(state.origin)
        entry.managed.append(managed)


def _replaying_sources(fg: FlowGraph, prop: Propagation) -> frozenset[Source]:
    """The automation sources with a trigger that fires once at start (see _restored)."""
    return frozenset(source for gid, source in prop.triggers.items()
                     if source.provenance == AUTOMATION and starts_once(fg.info[gid].node))


def _restored(fg: FlowGraph, path: Sequence[str]) -> bool:
    """Whether a command comes from an inject that fires once at start and passes a
    widget a person uses (a dashboard switch with "pass through" on): restoring, at
    start, the setting the person chose. It is the person's command, not an
    automation's: a schedule that overrides the setting is the person's concern
    (override, info), not a conflict of two automations."""
    if not path or not starts_once(fg.info[path[0]].node):
        return False
    return any(trigger_provenance(fg.info[gid].node, True) == MANUAL for gid in path[1:-1])


_ENV_REF = re.compile(r"^\$\{(\S+)\}$")  # Node-RED substitutes whole values only


def with_env(info: GraphNode, fg: FlowGraph) -> Mapping[str, Any]:
    """The node with ``${NAME}`` properties filled in where the flows define NAME.

    As in Node-RED, only a property whose whole value is ``${NAME}`` is
    substituted; items of lists and values of objects (a service call's
    entity list and target) count as properties too.

    Looked up as Node-RED does: the subflow instance's env, the subflow
    definition's env (innermost first), then the tab's env. What is left is
    process environment: the same for every node of a runtime, so it stays
    literal in keys.
    """
    node = info.node
    flows = fg.flows[info.runtime]
    if not flows.defines_env or not _mentions_env(node):
        return node
    scopes: list[Any] = []
    instance = info.instance
    while instance is not None:
        inst = fg.info[instance]
        scopes.append(inst.node.get("env"))
        scopes.append(flows.by_id.get(inst.type[8:], {}).get("env"))
        instance = inst.instance
    scopes.append((flows.by_id.get(info.tab) or {}).get("env"))
    values: dict[str, str] = {}
    for env in reversed(scopes):  # outer first, so inner definitions win
        for item in env or []:
            if isinstance(item, dict) and item.get("type", "str") in ("str", "num", "bool"):
                values[str(item.get("name"))] = str(item.get("value", ""))

    def fill(value: Any, depth: int = 0) -> Any:
        if isinstance(value, str):
            match = _ENV_REF.match(value.strip()) if "${" in value else None
            return values.get(match.group(1), value) if match else value
        if depth >= 2:  # a target's entity list is as deep as it goes
            return value
        if isinstance(value, list):  # an entity list: ["${LIGHT}"]
            return [fill(v, depth + 1) for v in value]
        if isinstance(value, dict):  # a target: {"entity_id": ["${LIGHT}"]}
            return {k: fill(v, depth + 1) for k, v in value.items()}
        return value

    return {k: fill(v) if k not in ("id", "z", "wires") else v for k, v in node.items()}


def _mentions_env(node: Mapping[str, Any]) -> bool:
    """Whether a ``${`` appears in any of the node's values (lists and objects included)."""
    for key, value in node.items():
        if isinstance(value, str):
            if "${" in value:
                return True
        elif isinstance(value, (list, dict)) and key not in ("wires", "links"):
            try:
                if "${" in str(value):
                    return True
            except RecursionError:  # nested deeper than any setting: not followed
                continue
    return False


_UNSET = object()


def _resolver_strategy(fg: FlowGraph, gid: str, starts: Container[str] = ()) -> str | None:
    """The strategy of the ACM resolver feeding this node, if every input comes from one.

    Link nodes ACM added to cross tabs are looked through. A node inside a
    subflow instance is fed through the instance's input (where ``acm resolve``
    puts the resolver) unless a trigger inside (``starts``) or a broker feeds it.
    """
    strategies: set[str] = set()
    seen = {gid}
    stack = [gid]
    outer = outermost_instance(fg, gid)
    if outer is not None:
        if entry_bypass(fg, gid, outer, starts) is not None:
            return None
        seen.add(outer)
        stack = [outer]
    while stack:
        for pred in fg.pred[stack.pop()]:
            if pred in seen:
                continue
            seen.add(pred)
            node = fg.info[pred].node
            role = acm_role(node)
            if role == "resolver":
                strategies.add(str(node["acm"].get("strategy", "?")))
            elif role == "link":
                stack.append(pred)
            else:
                return None
    return ",".join(sorted(strategies)) if strategies else None


def config_lookup(by_id: Mapping[str, Any]) -> Callable[[Any], Any]:
    """A config node by the id a node refers to; None for a missing id or one that is no id."""

    def lookup(node_id: Any) -> Any:
        return by_id.get(node_id) if isinstance(node_id, str) else None

    return lookup


def _applies(entity: str, command: Command) -> bool:
    return applies_to(command.value, entity)


_ROLE_ORDER = (DEVICE, STATE, CHANNEL)  # an actuator some node commands as a device is one


class PathFinder:
    """Reads, on demand, the path from a trigger of an application to an actuator node.

    Only findings need paths, so they are not computed for every actuator; each
    is read once (several rules report on one actuator).
    """

    def __init__(self, fg: FlowGraph, prop: Propagation) -> None:
        self.fg = fg
        self.prop = prop
        self.read: dict[tuple[str, Source], tuple[NodeRef, ...]] = {}

    def __call__(self, gid: str, source: Source) -> tuple[NodeRef, ...]:
        found = self.read.get((gid, source))
        if found is not None:
            return found
        refs: list[NodeRef] = []
        info = self.fg.info
        for step in self.prop.path(gid, source):
            node: GraphNode = info[step]
            ref = NodeRef(node.runtime, node.origin)
            if not refs or refs[-1] != ref:  # a subflow instance and its entry share no id
                refs.append(ref)
        found = self.read[(gid, source)] = tuple(refs)
        return found


def merge_model(scan: ActuatorScan, declared: Sequence[Any],
                expand: Callable[[str], Sequence[str]]) -> ActuatorScan:
    """Apply the deployment model: canonical keys, then zones and effects by key.

    ``expand`` maps a key to its canonical form (broker aliases), or to the
    keys of the entities it stands for (a Home Assistant area the model
    lists); actuators that end up with one key are merged. A declared
    actuator that no flow commands is still listed (with no nodes and no
    drivers).
    """
    merged: dict[str, Actuator] = {}
    for act, key in ((a, k) for a in scan.actuators for k in expand(a.key)):
        entity = ha_entity(key) if key != act.key and act.drivers else None
        if entity is not None:  # an area's entity ...
            act = replace(act.keeping(partial(_applies, entity)), name=entity,
                          role=entity_role(entity))
            if not act.drivers:
                continue  # light.turn_off on the office does not touch its media player
        other = merged.get(key)
        if other is None:
            merged[key] = replace(act, key=key)
            continue
        drivers = dict(other.drivers)
        for app, d in act.drivers.items():
            old = drivers.get(app)
            drivers[app] = d if old is None else Driver(
                app, tuple(dict.fromkeys(old.sends + d.sends)))
        merged[key] = replace(other, nodes=tuple(dict.fromkeys(other.nodes + act.nodes)),
                              drivers=dict(sorted(drivers.items())),
                              runtimes=other.runtimes | act.runtimes,
                              role=min(other.role, act.role, key=_ROLE_ORDER.index))
    for item in declared:
        found = merged.get(item.key)
        if found is None:
            kind = kind_of(item.key)
            merged[item.key] = Actuator(item.key, kind, item.name, (), {}, zone=item.zone,
                                        effects=dict(item.effects), declared=True)
        else:  # what the model binds is a device, whatever the catalog says
            merged[item.key] = replace(found, name=item.name, zone=item.zone,
                                       effects=dict(item.effects), declared=True, role=DEVICE)
    return ActuatorScan(tuple(merged[k] for k in sorted(merged)), scan.unknown)
