"""Propagate applications and abstract messages over the flow graph, once.

Each trigger seeds its application. A worklist then pushes, along every edge,
which applications can reach a node and which ``(topic, payload)`` shapes they
bring, until nothing changes. Cost is proportional to edges times the
applications that meet on a node (usually one), not to actuators: no
per-actuator walks. For every (node, application) the first predecessor that
brought the application is kept, so a path back to a trigger is read off in
time proportional to its length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .catalog import acm_role, is_trigger, transfer, trigger_shapes
from .graph import FlowGraph, GraphNode
from .values import NO_MESSAGE, Shapes, covered, join


@dataclass(slots=True)
class Reach:
    """How one application reaches one node."""

    pred: str | None  # graph id it came from (None at the trigger itself)
    shapes: Shapes  # message shapes arriving at the node's input
    origin: str  # runtime of the trigger that first brought the application here
    seed: Shapes = NO_MESSAGE  # what the node emits by itself (triggers only)


@dataclass
class Propagation:
    reach: dict[str, dict[str, Reach]]  # graph id -> application -> Reach
    triggers: dict[str, str]  # trigger graph id -> application

    def path(self, gid: str, app: str) -> list[str]:
        """Graph ids from a trigger of ``app`` to ``gid``."""
        path = [gid]
        reach = self.reach[gid][app]
        while reach.pred is not None:
            path.append(reach.pred)
            reach = self.reach[reach.pred][app]
        path.reverse()
        return path


def propagate(fg: FlowGraph, application_of: Callable[[str], str]) -> Propagation:
    """Run the propagation; ``application_of(gid)`` names a trigger's application."""
    reach: dict[str, dict[str, Reach]] = {}
    triggers: dict[str, str] = {}
    # apps waiting per node, as an ordered set (a dict): sets would make paths vary per run
    pending: dict[str, dict[str, None]] = {}
    queue: deque[str] = deque()
    info = fg.info
    # networkx's adjacency dicts, read directly: the views cost more than the walk
    succ, pred = fg.graph._succ, fg.graph._pred
    for gid, node_info in info.items():
        if node_info.call_site is None and acm_role(node_info.node) is None \
                and is_trigger(node_info.node, bool(pred[gid])):
            app = application_of(gid)
            triggers[gid] = app
            reach[gid] = {
                app: Reach(None, NO_MESSAGE, node_info.runtime, trigger_shapes(node_info.node))
            }
            pending[gid] = {app: None}
            queue.append(gid)

    # An exact-topic mqtt in fed over the broker is no trigger of its own, unless
    # no publisher feeding it is reached by anything (then the messages it hears
    # come from outside the flows): those are seeded once the rest has settled.
    deferred = [gid for gid, n in info.items() if n.type == "mqtt in" and gid not in reach
                and pred[gid] and n.call_site is None]
    while True:
        _run(queue, pending, reach, info, succ)
        late = [gid for gid in deferred if gid not in reach]
        deferred = []
        if not late:
            break
        for gid in late:
            app = application_of(gid)
            triggers[gid] = app
            reach[gid] = {app: Reach(None, NO_MESSAGE, info[gid].runtime,
                                     trigger_shapes(info[gid].node))}
            pending[gid] = {app: None}
            queue.append(gid)
    return Propagation(reach, triggers)


def _run(queue: deque[str], pending: dict[str, dict[str, None]],
         reach: dict[str, dict[str, Reach]], info: Mapping[str, GraphNode],
         succ: Mapping[str, Mapping[str, object]]) -> None:
    """The worklist loop: push applications and shapes until nothing changes."""
    while queue:
        gid = queue.popleft()
        apps = pending.pop(gid)
        node = info[gid].node
        here = reach[gid]
        successors = succ[gid]
        if not successors:
            continue
        for app in apps:
            state = here[app]
            out = transfer(node, state.shapes) if state.shapes else NO_MESSAGE
            if state.seed:
                out = join(out, state.seed)
            for nxt in successors:
                there = reach.setdefault(nxt, {})
                current = there.get(app)
                if current is None:
                    there[app] = Reach(gid, out, state.origin)
                elif not covered(out, current.shapes):
                    current.shapes = join(current.shapes, out)
                else:
                    continue
                waiting = pending.get(nxt)
                if waiting is None:
                    pending[nxt] = {app: None}
                    queue.append(nxt)
                else:
                    waiting[app] = None
