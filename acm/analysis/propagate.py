"""Propagate applications and abstract messages over the flow graph, once.

Each trigger seeds its :class:`Source`: its application and its provenance
(a person, an automation or another system started the message). A worklist
then pushes, along every edge, which sources can reach a node and which
``(topic, payload)`` shapes they bring, until nothing changes. Cost is
proportional to edges times the sources that meet on a node (usually one),
not to actuators: no per-actuator walks. For every (node, source) the first
predecessor that brought it is kept, so a path back to a trigger is read off
in time proportional to its length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from .catalog import (
    EXTERNAL,
    GATED_TYPES,
    PASSING_TYPES,
    acm_role,
    routes,
    transfer,
    trigger_provenance,
    trigger_shapes,
)
from .graph import FlowGraph, GraphNode
from .values import MAX_SHAPES, NO_MESSAGE, Shapes, covered, join


class Source(NamedTuple):
    """Where messages start: an application, and who acts there (manual, automation, external)."""

    application: str
    provenance: str


@dataclass(slots=True)
class Reach:
    """How one source reaches one node."""

    pred: str | None  # graph id it came from (None at the trigger itself)
    shapes: Shapes  # message shapes arriving at the node's input
    origin: str  # runtime of the trigger that first brought the application here
    seed: Shapes = NO_MESSAGE  # what the node emits by itself (triggers only)
    widened: bool = False  # shapes were widened: compare by covering from now on
    # Gates that hold on every way the source reaches the node: keys of the shared
    # state (a Home Assistant helper, the switch that enables an exposed node) that
    # decides whether the messages flow, because the trigger listens to it or a
    # condition on the way checks it. Only ever shrinks (intersection), so the
    # propagation stays linear.
    gates: frozenset[str] = frozenset()


@dataclass
class Propagation:
    reach: dict[str, dict[Source, Reach]]  # graph id -> source -> Reach
    triggers: dict[str, Source]  # trigger graph id -> its source

    def path(self, gid: str, source: Source) -> list[str]:
        """Graph ids from a trigger of ``source`` to ``gid``."""
        path = [gid]
        reach = self.reach[gid][source]
        while reach.pred is not None:
            path.append(reach.pred)
            reach = self.reach[reach.pred][source]
        path.reverse()
        return path

    def applications_at(self, gid: str) -> list[str]:
        """The applications whose messages reach ``gid``, in a stable order."""
        return list(dict.fromkeys(s.application for s in self.reach.get(gid, {})))


SourceOf = Callable[[str, str], Source]  # (trigger graph id, catalog provenance) -> Source
GatesOf = Callable[[str], frozenset[str]]  # graph id -> the shared state a condition checks

NO_GATES: frozenset[str] = frozenset()


def propagate(fg: FlowGraph, source_of: SourceOf,
              gates_of: GatesOf = lambda gid: frozenset()) -> Propagation:
    """Run the propagation; ``source_of`` names a trigger's application and provenance.

    A message that starts at, or passes, a node with gates (``gates_of``, asked
    only for nodes of the types that have gates: ``GATED_TYPES``) carries them from
    there on; where ways meet, the gates all of them carry.
    """
    reach: dict[str, dict[Source, Reach]] = {}
    triggers: dict[str, Source] = {}
    # sources waiting per node, as an ordered set (a dict): sets would make paths vary per run
    pending: dict[str, dict[Source, None]] = {}
    queue: deque[str] = deque()
    info = fg.info
    # the adjacency dicts (FlowGraph.succ/pred): networkx's views cost more than the walk
    succ, pred = fg.succ, fg.pred
    gates: dict[str, frozenset[str]] = {}

    def gated(gid: str) -> frozenset[str]:
        if info[gid].type not in GATED_TYPES:  # most nodes: nothing to ask
            return NO_GATES
        found = gates.get(gid)
        if found is None:
            found = gates[gid] = gates_of(gid)
        return found

    def seed(gid: str, provenance: str) -> None:
        """Start messages at trigger ``gid``, with its source and gates."""
        _seed(gid, source_of(gid, provenance), gated(gid), info, triggers, reach, pending, queue)

    _seed_triggers(fg.starts, info, pred, seed)
    # An exact-topic mqtt in fed over the broker is no trigger of its own, unless
    # no publisher feeding it is reached by anything (then the messages it hears
    # come from outside the flows): those are seeded once the rest has settled.
    deferred = [gid for gid in fg.endpoints if info[gid].type == "mqtt in" and gid not in reach
                and pred[gid] and info[gid].call_site is None]
    branching = {source for source, _ in fg.ports}  # nodes whose outputs carry different ports
    while True:
        _run(queue, pending, reach, info, succ, gated, fg.ports, branching)
        late = [gid for gid in deferred if gid not in reach]
        deferred = []
        if not late:
            break
        for gid in late:
            seed(gid, trigger_provenance(info[gid].node, False) or EXTERNAL)
    return Propagation(reach, triggers)


def _seed_triggers(starts: Iterable[str], info: Mapping[str, GraphNode],
                   pred: Mapping[str, Mapping[str, object]],
                   seed: Callable[[str, str], None]) -> None:
    """Seed every node that starts messages (the catalog names its provenance), in
    graph order: of ``starts`` (FlowGraph.starts: no copies made for a link call, no
    type that never starts one), not the nodes ACM added."""
    for gid in starts:
        node = info[gid].node
        if "acm" in node and acm_role(node) is not None:
            continue  # a node ACM added (a resolver, a tag) starts nothing
        provenance = trigger_provenance(node, bool(pred[gid]))
        if provenance is not None:
            seed(gid, provenance)


def _seed(gid: str, source: Source, gates: frozenset[str], info: Mapping[str, GraphNode],
          triggers: dict[str, Source], reach: dict[str, dict[Source, Reach]],
          pending: dict[str, dict[Source, None]], queue: deque[str]) -> None:
    triggers[gid] = source
    reach[gid] = {source: Reach(None, NO_MESSAGE, info[gid].runtime,
                                trigger_shapes(info[gid].node), gates=gates)}
    pending[gid] = {source: None}
    queue.append(gid)


def _run(  # noqa: C901 - the hot loop of a large site, kept in one frame on purpose
        queue: deque[str], pending: dict[str, dict[Source, None]],
        reach: dict[str, dict[Source, Reach]], info: Mapping[str, GraphNode],
        succ: Mapping[str, Mapping[str, object]],
        gated: Callable[[str], frozenset[str]],
        ports: Mapping[tuple[str, str], set[int]], branching: set[str]) -> None:
    """The worklist loop: push sources and shapes until nothing changes.

    The hot loop of a large site (once per edge and source that meets there),
    so it keeps to local names and builds nothing it does not keep.
    """
    while queue:
        gid = queue.popleft()
        sources = pending.pop(gid)
        successors = succ[gid]
        if not successors:
            continue
        node_info = info[gid]
        node = node_info.node
        passing = node_info.type in PASSING_TYPES  # sends on what it gets: no catalog call
        here = reach[gid]
        split = gid in branching
        own: frozenset[str] | None = None
        for source in sources:
            state = here[source]
            shapes = state.shapes
            out = shapes if passing or not shapes else transfer(node, shapes)
            if state.seed:
                out = join(out, state.seed)
            if not out:
                continue  # the node sends nothing on (a widget without pass-through)
            by_port = routes(node, shapes) if shapes and split else None
            if own is None:  # (most types have no gates: no call to ask)
                own = gated(gid) if node_info.type in GATED_TYPES else NO_GATES
            carried = state.gates | own if own else state.gates
            origin = state.origin
            for nxt in successors:
                sent = out
                if by_port is not None and (gid, nxt) in ports:
                    sent = frozenset().union(*(by_port[p] for p in ports[(gid, nxt)]
                                               if 0 <= p < len(by_port)))
                    if not sent:
                        continue  # no message this way: the switch's rules filter it out
                there = reach.get(nxt)
                if there is None:
                    there = reach[nxt] = {}
                current = there.get(source)
                if current is None:
                    there[source] = Reach(gid, sent, origin, NO_MESSAGE, False, carried)
                else:
                    shared = current.gates & carried
                    fewer = shared != current.gates
                    if fewer:
                        current.gates = shared
                    known = current.shapes
                    grows = not (sent <= known or (current.widened and covered(sent, known)))
                    if grows:
                        if len(known) + len(sent) > MAX_SHAPES \
                                and len(known | sent) > MAX_SHAPES:
                            current.widened = True
                        grown = join(known, sent)
                        grows = grown != known
                        current.shapes = grown
                    if not (grows or fewer):
                        continue
                if not succ[nxt]:
                    continue  # a node that sends nothing on has nothing to do in the queue
                waiting = pending.get(nxt)
                if waiting is None:
                    pending[nxt] = {source: None}
                    queue.append(nxt)
                else:
                    waiting[source] = None
