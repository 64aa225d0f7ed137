"""Build the message graph of one or more flows files (networkx ``DiGraph``).

A graph node is one place a message can be: a flow node on a live tab, or a
node inside an expanded subflow instance. Edges are the ways a message moves:
wires, ``link out`` -> ``link in``, ``link call`` -> ``link in`` and back from a
``link out`` in return mode, and subflow ports. Disabled nodes and disabled
tabs carry no messages, so they are left out; config nodes are not on message
paths but stay reachable through :attr:`FlowGraph.flows` to identify actuators.

Graph ids: a node's own id; inside a subflow instance the instance's graph id,
``/`` and the inner id (nested instances stack); with several runtimes each id
is prefixed ``<runtime>::``. :attr:`GraphNode.origin` is always the id in the
file, so findings only ever name ids that exist there.

networkx is imported by :func:`build_graph`, not with this module: commands
that never build a graph (``acm rules``, ``acm model check``) do not pay its
start-up cost (some 0.15 s of imports).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..errors import FlowsError
from .catalog import (
    ACTUATOR_TYPES,
    NOT_TRIGGERS,
    ROUTED_TYPES,
    mqtt_broker_address,
    normalise_topic,
)
from .flows import STRUCTURAL_TYPES, Flows, Node


class GraphNode(NamedTuple):
    """What the analysis needs to know about one graph node.

    A named tuple: immutable like a frozen dataclass, but made and read several
    times faster, and a 100k-node site makes one per node and reads its fields
    millions of times. ``type`` is stored, not derived from ``node``, for the same
    reason.
    """

    gid: str
    node: Node
    tab: str  # the top-level tab the message is on (outermost instance's tab)
    runtime: str
    type: str  # node["type"]
    instance: str | None = None  # graph id of the innermost subflow instance, if any
    call_site: str | None = None  # set on copies of a flow made for one link call

    @property
    def origin(self) -> str:
        return str(self.node["id"])


@dataclass
class FlowGraph:
    """The message graph plus the flows it came from, per runtime."""

    graph: Any  # nx.DiGraph of graph ids (what each is: info)
    flows: dict[str, Flows]  # runtime id -> flows
    info: dict[str, GraphNode] = field(default_factory=dict)
    # graph ids of the nodes that talk to the world outside the flows (ENDPOINT_TYPES:
    # actuators, MQTT nodes), in graph order (as info): what looks for them (broker
    # edges, actuators) need not read every node of a large site
    endpoints: list[str] = field(default_factory=list)
    # graph ids of the nodes that may start messages (a type not in NOT_TRIGGERS), in
    # graph order, less the copies made for a link call (which start nothing)
    starts: list[str] = field(default_factory=list)
    dynamic_link_calls: int = 0
    broker_edges: int = 0
    # (source, target) -> the output ports of source wired to target, for sources with
    # more than one output (a switch's rules send a message to some ports only)
    ports: dict[tuple[str, str], set[int]] = field(default_factory=dict)

    # The walks read successors and predecessors millions of times on a large site;
    # networkx's views (graph.succ[n]) cost more than the walks, so these hand out
    # its adjacency dicts, read-only by convention. This is the one place that
    # knows how networkx stores them.

    @property
    def succ(self) -> Mapping[str, Mapping[str, Any]]:
        """Graph id -> its successors (as the keys of a mapping)."""
        succ: Mapping[str, Mapping[str, Any]] = self.graph._succ
        return succ

    @property
    def pred(self) -> Mapping[str, Mapping[str, Any]]:
        """Graph id -> its predecessors (as the keys of a mapping)."""
        pred: Mapping[str, Mapping[str, Any]] = self.graph._pred
        return pred

    # Building: networkx's add_nodes_from/add_edges_from handle attributes, node
    # tuples and missing nodes per item, about a quarter of what they cost here (some
    # 0.15 s on a 100k-node site). These two write the same dicts, in the same order,
    # for what the builder adds: new nodes without attributes, edges without data.
    # tests/test_graph.py checks the result equals networkx's own building.

    def add_nodes(self, gids: Iterable[str]) -> None:
        """``graph.add_nodes_from(gids)``, for graph ids without attributes."""
        attrs, succ, pred = self.graph._node, self.graph._succ, self.graph._pred
        for gid in gids:
            if gid not in attrs:
                attrs[gid] = {}
                succ[gid] = {}
                pred[gid] = {}

    def add_edges(self, edges: Iterable[tuple[str, str]]) -> None:
        """``graph.add_edges_from(edges)``, for edges without data between nodes added."""
        succ, pred = self.graph._succ, self.graph._pred
        for source, target in edges:
            if source not in succ or target not in succ:  # never, from the builder
                self.graph.add_edge(source, target)
                continue
            out = succ[source]
            data = out.get(target)
            if data is None:
                data = out[target] = {}
            pred[target][source] = data  # one dict for both directions, as networkx


def outermost_instance(fg: FlowGraph, gid: str) -> str | None:
    """Graph id of the subflow instance on a tab that graph node ``gid`` is inside.

    None for a node on a tab itself. Inside a copy made for a ``link call``
    it is that copy of the instance. Ids of nodes in a subflow are
    ``<instance graph id>/<inner id>``, so the instance is a prefix of ``gid``
    ending at a ``/``; the shortest one that is an instance on a tab.
    """
    if fg.info[gid].instance is None:
        return None
    cut = gid.find("/")
    while cut > 0:
        outer = fg.info.get(gid[:cut])
        if outer is not None and outer.instance is None and outer.type.startswith("subflow:"):
            return outer.gid
        cut = gid.find("/", cut + 1)
    return None


def entry_bypass(fg: FlowGraph, gid: str, outer: str, starts: Container[str]) -> str | None:
    """A node inside instance ``outer`` that sends messages to ``gid`` other than from
    the instance's input: a trigger inside the subflow (in ``starts``) or a node
    reached from outside (over an MQTT broker). None when all of ``gid``'s
    messages come in through the input, i.e. through wires into ``outer``.
    """
    inner = outer + "/"
    seen = {gid}
    stack = [gid]
    while stack:
        current = stack.pop()
        if current in starts and current != gid:  # a node that listens does not drive itself
            return current
        for pred in fg.pred[current]:
            if pred == outer or pred in seen:
                continue
            if not pred.startswith(inner):
                return current
            seen.add(pred)
            stack.append(pred)
    return None


#: The node types a broker connects.
MQTT_TYPES = frozenset({"mqtt in", "mqtt out"})
#: The node types listed in FlowGraph.endpoints.
ENDPOINT_TYPES = ACTUATOR_TYPES | MQTT_TYPES


def is_flow_node(node: Node) -> bool:
    """True for nodes on the canvas that can carry messages (not config nodes)."""
    if node["type"] in STRUCTURAL_TYPES:
        return False
    return "wires" in node or "x" in node


def build_graph(
    sources: Mapping[str, Flows] | Flows, broker_aliases: Mapping[str, str] | None = None
) -> FlowGraph:
    """Build the graph of one flows file, or of several keyed by runtime id.

    ``broker_aliases`` maps other host:port spellings of a broker to one.
    """
    import networkx as nx  # here, not at the top: see the module docstring

    if isinstance(sources, Flows):
        sources = {"local": sources}
    multi = len(sources) > 1
    fg = FlowGraph(graph=nx.DiGraph(), flows=dict(sources))
    for runtime, flows in sources.items():
        _Builder(fg, flows, runtime, f"{runtime}::" if multi else "").build()
    _connect_brokers(fg, broker_aliases or {})
    return fg


def _connect_brokers(fg: FlowGraph, aliases: Mapping[str, str]) -> None:
    """Wire each ``mqtt out`` with a fixed topic to the ``mqtt in`` s that receive it.

    Publisher and subscriber must use the same broker (host:port, after
    aliases); subscriptions may use ``+`` and ``#``. This is how a command's
    path crosses from one runtime (or tab) to another.
    """
    exact: dict[tuple[str, str], list[str]] = {}
    wildcard: list[tuple[str, list[str], str]] = []
    publishers: list[tuple[str, str, str]] = []
    for gid, address, topic, publishes in _mqtt_endpoints(fg, aliases):
        if publishes:
            publishers.append((gid, address, topic))
        elif "+" in topic or "#" in topic:
            wildcard.append((address, topic.split("/"), gid))
        else:
            exact.setdefault((address, topic), []).append(gid)
    edges: list[tuple[str, str]] = []
    for gid, address, topic in publishers:
        edges.extend((gid, sub) for sub in exact.get((address, topic), ()))
        levels = topic.split("/")
        edges.extend((gid, sub) for addr, pattern, sub in wildcard
                     if addr == address and topic_matches(pattern, levels))
    fg.add_edges(edges)
    fg.broker_edges = len(edges)


def _mqtt_endpoints(fg: FlowGraph, aliases: Mapping[str, str]
                    ) -> Iterator[tuple[str, str, str, bool]]:
    """``(graph id, broker host:port, topic, publishes)`` of every ``mqtt in`` and
    ``mqtt out`` with a fixed topic, in graph order (a dynamic topic is only known
    at run time)."""
    addresses: dict[tuple[str, Any], str] = {}  # (runtime, broker id) -> host:port
    for gid in fg.endpoints:
        info = fg.info[gid]
        node_type = info.type
        if node_type not in MQTT_TYPES:
            continue
        topic = info.node.get("topic")
        if not isinstance(topic, str) or not topic.strip():
            continue  # dynamic: only known at run time
        address = _broker_address(fg, info, aliases, addresses)
        yield gid, address, normalise_topic(topic.strip()), node_type == "mqtt out"


def _broker_address(fg: FlowGraph, info: GraphNode, aliases: Mapping[str, str],
                    addresses: dict[tuple[str, Any], str]) -> str:
    """The host:port (after aliases) of the broker an MQTT node uses, remembered in
    ``addresses`` per runtime and broker id."""
    broker_id = info.node.get("broker")
    try:
        return addresses[(info.runtime, broker_id)]
    except (KeyError, TypeError):  # not seen yet; or an id that is no string (unhashable)
        pass
    flows = fg.flows[info.runtime]
    config = flows.by_id.get(broker_id) if isinstance(broker_id, str) else None
    address = mqtt_broker_address(config, str(broker_id or "?"))
    address = aliases.get(address, address)
    if isinstance(broker_id, str):
        addresses[(info.runtime, broker_id)] = address
    return address


def topic_matches(pattern: list[str], levels: list[str]) -> bool:
    """MQTT topic filter matching (``+`` one level, ``#`` the rest), pre-split on '/'."""
    for i, part in enumerate(pattern):
        if part == "#":
            return True
        if i >= len(levels) or (part != "+" and part != levels[i]):
            return False
    return len(pattern) == len(levels)


#: Nodes that all subflow instances of one flows file may add to the graph (~6 s of
#: analysis); a real site stays far below, a nesting that doubles per level does not.
MAX_INSTANCE_NODES = 100_000


class _Builder:
    def __init__(self, fg: FlowGraph, flows: Flows, runtime: str, prefix: str) -> None:
        self.fg = fg
        self.flows = flows
        self.runtime = runtime
        self.prefix = prefix
        self.g = fg.graph
        self.subflows = flows.subflows
        # the live flow nodes of each scope (a tab's nodes are one top-level scope; each
        # subflow its own): not config nodes, not disabled ones (is_flow_node, inlined)
        self.by_scope: dict[str, list[Node]] = {}
        structural = STRUCTURAL_TYPES
        for node in flows.nodes:
            z = node.get("z")
            if isinstance(z, str) and z and node["type"] not in structural \
                    and ("wires" in node or "x" in node) and not node.get("d"):
                self.by_scope.setdefault(z, []).append(node)
        # link call graph id -> (called link in graph ids, the call's own outputs)
        self.link_calls: dict[str, tuple[list[str], list[str]]] = {}
        self.regions: dict[str, tuple[list[str], set[str]]] = {}
        self.clone_budget = 200_000  # graph nodes that link-call copies may add
        self.instance_budget = MAX_INSTANCE_NODES  # graph nodes subflow instances may add
        self.edges: list[tuple[str, str]] = []  # added in bulk: much faster than one by one

    def build(self) -> None:
        live_tabs = [
            t for t in self.flows.tabs if not t.get("disabled") and not t.get("d")
        ]
        top_nodes = [n for t in live_tabs for n in self.by_scope.get(t["id"], [])]
        # Links between top-level tabs are global, so all live tabs form one scope.
        self._add_scope(top_nodes, self.prefix, tab=None, stack=())
        self.fg.add_edges(self.edges)
        self.edges = []
        self._inline_link_calls()
        self.fg.add_edges(self.edges)

    def _add_scope(
        self, live: list[Node], prefix: str, tab: str | None, stack: tuple[str, ...]
    ) -> dict[str, str]:
        """Add one scope's live nodes and internal edges; return id -> graph id.

        Runs once per node of a site (and per node of every subflow instance),
        so the loops keep to local names.
        """
        local = self._add_nodes(live, prefix, tab)
        self._add_edges(live, local, stack)
        return local

    def _add_nodes(self, live: list[Node], prefix: str, tab: str | None) -> dict[str, str]:
        """Add the live nodes of one scope to the graph; return id -> graph id.

        ``tab`` is None on top-level tabs (each node is on its own ``z``), else
        the tab of the subflow instance whose graph id ``prefix`` ends with ``/``.
        """
        local: dict[str, str] = {}
        instance_gid = prefix[:-1] if tab is not None else None
        info = self.fg.info
        runtime = self.runtime
        endpoints, starts = self.fg.endpoints, self.fg.starts
        make = tuple.__new__  # GraphNode(...) without its Python-level __new__: every field
        for node in live:
            node_id = node["id"]
            node_type = node["type"]
            gid = prefix + node_id
            local[node_id] = gid
            info[gid] = make(GraphNode, (gid, node, tab if tab is not None else str(node["z"]),
                                         runtime, node_type, instance_gid, None))
            if node_type in ENDPOINT_TYPES:
                endpoints.append(gid)
            if node_type not in NOT_TRIGGERS:
                starts.append(gid)
        self.fg.add_nodes(local.values())
        return local

    def _add_edges(self, live: list[Node], local: dict[str, str],
                   stack: tuple[str, ...]) -> None:
        """Queue the wires and links between the nodes of one scope; expand its subflow
        instances and note its link calls."""
        edges = self.edges
        ports = self.fg.ports
        for node in live:
            gid = local[node["id"]]
            node_type = node["type"]
            if node_type.startswith("subflow:"):
                self._expand_instance(node, gid, local, stack)
                continue
            if node_type == "link call":
                self._note_link_call(node, gid, local)
                continue
            wires = node.get("wires", ())
            by_port = len(wires) > 1 or node_type in ROUTED_TYPES  # a one-output switch filters
            for index, port in enumerate(wires):
                for target in port:
                    target_gid = local.get(target)
                    if target_gid is not None:
                        edges.append((gid, target_gid))
                        if by_port:
                            ports.setdefault((gid, target_gid), set()).add(index)
            if node_type == "link out":
                self._add_links(node, gid, local)

    def _add_links(self, node: Node, gid: str, local: dict[str, str]) -> None:
        """Queue the edges from a ``link out`` to the ``link in`` s it sends to (none in
        return mode: those go back to the calling ``link call``)."""
        if node.get("mode", "link") == "return":
            return
        for target in node.get("links") or ():
            target_gid = local.get(target)
            if target_gid is not None:
                self.edges.append((gid, target_gid))

    def _expand_instance(
        self, node: Node, gid: str, outer: dict[str, str], stack: tuple[str, ...]
    ) -> None:
        """Add a copy of the subflow that instance ``node`` (graph id ``gid``) runs, and
        wire its ports to the instance's own wires in ``outer``."""
        sub_id = node["type"][8:]
        definition = self.subflows[sub_id]
        self._check_expansion(node, sub_id, stack)
        tab = self.fg.info[gid].tab
        inner = self._add_scope(
            self.by_scope.get(sub_id, []), gid + "/", tab=tab, stack=(*stack, sub_id)
        )
        # (the loader checks ports are lists of objects; a wire's id may still be anything)
        for port in definition.get("in") or []:
            for wire in port.get("wires") or []:
                target = wire.get("id")
                if isinstance(target, str) and target in inner:
                    self.edges.append((gid, inner[target]))
        outer_wires = node.get("wires", [])
        for index, port in enumerate(definition.get("out") or []):
            if index >= len(outer_wires):
                continue
            targets = [outer[t] for t in outer_wires[index] if t in outer]
            for wire in port.get("wires") or []:
                self._wire_output(wire, gid, sub_id, inner, targets)

    def _check_expansion(self, node: Node, sub_id: str, stack: tuple[str, ...]) -> None:
        """Refuse a subflow that contains itself, and instances beyond the budget.

        Each instance is a copy: subflows holding two instances of the next one
        double with every level, so 30 levels of a few nodes would be 10⁹ nodes.
        """
        if sub_id in stack:
            raise FlowsError(
                f"subflow {sub_id} contains itself (through instance {node['id']})",
                self.flows.source,
            )
        self.instance_budget -= len(self.by_scope.get(sub_id, []))
        if self.instance_budget < 0:
            raise FlowsError(
                f"subflow instances expand to more than {MAX_INSTANCE_NODES:,} nodes "
                f"(subflows inside subflows, here {sub_id} in instance {node['id']}); "
                "not analysed",
                self.flows.source,
            )

    def _wire_output(self, wire: Mapping[str, Any], gid: str, sub_id: str,
                     inner: dict[str, str], targets: list[str]) -> None:
        """Queue the edges of one wire into a subflow's output port, from its source
        inside instance ``gid`` to ``targets``, the instance's wires from that port."""
        source = wire.get("id")
        if not isinstance(source, str):
            return
        # a wire from the subflow's own input straight to an output
        src_gid = gid if source == sub_id else inner.get(source)
        if src_gid is None:
            return
        for t in targets:
            self.edges.append((src_gid, t))
            inner_node = self.fg.info[src_gid].node
            port_index = wire.get("port")
            if src_gid != gid and type(port_index) is int and port_index >= 0 and (
                    len(inner_node.get("wires") or []) > 1
                    or inner_node["type"] in ROUTED_TYPES):
                self.fg.ports.setdefault((src_gid, t), set()).add(port_index)

    def _note_link_call(self, node: Node, gid: str, local: dict[str, str]) -> None:
        if node.get("linkType", "static") != "static":
            self.fg.dynamic_link_calls += 1
            return
        targets = [local[t] for t in node.get("links") or [] if t in local]
        outputs = [local[t] for port in node.get("wires", []) for t in port if t in local]
        self.link_calls[gid] = (targets, outputs)

    def _inline_link_calls(self) -> None:
        """Give every static ``link call`` its own copy of the flow it calls.

        A return-mode ``link out`` answers only the call that sent the message,
        so the called flow is copied per call site (like a subflow instance):
        call -> copy of the called flow -> copy of its return -> the call's own
        outputs. Recursive calls, and sites beyond a size budget, share one copy
        of the return edges instead (an over-approximation, never a miss).
        """
        for call, (targets, outputs) in list(self.link_calls.items()):
            self._inline(call, targets, outputs, stack=())

    def _inline(self, call: str, targets: list[str], outputs: list[str],
                stack: tuple[str, ...]) -> None:
        """Wire link call ``call`` to a copy of each flow it calls (``targets``), and the
        copy's returns to the call's ``outputs``; ``stack`` holds the ``link in`` s
        being copied (a call back into one of them is recursive)."""
        for link_in in targets:
            region, returns = self._region(link_in)
            if link_in in stack or len(region) > self.clone_budget:
                for ret in returns:
                    self.edges.extend((ret, out) for out in outputs)
                self.edges.append((call, link_in))
                continue
            self.clone_budget -= len(region)
            clone = self._clone(call, region)
            self.edges.append((call, clone[link_in]))
            self._clone_edges(region, clone, returns, outputs)
            for gid in region:
                if gid in self.link_calls:
                    inner_targets, inner_outputs = self.link_calls[gid]
                    self._inline(clone[gid], inner_targets,
                                 [clone[o] for o in inner_outputs if o in clone],
                                 (*stack, link_in))

    def _clone(self, call: str, region: list[str]) -> dict[str, str]:
        """Add a copy of the graph nodes ``region`` for link call ``call``; return
        graph id -> the copy's graph id."""
        clone = {gid: f"{call}>{gid}" for gid in region}
        for gid in region:
            original = self.fg.info[gid]
            self.fg.info[clone[gid]] = original._replace(gid=clone[gid], call_site=call)
            if original.type in ENDPOINT_TYPES:
                self.fg.endpoints.append(clone[gid])
        self.fg.add_nodes(clone.values())
        return clone

    def _clone_edges(self, region: list[str], clone: dict[str, str], returns: set[str],
                     outputs: list[str]) -> None:
        """Queue the copied region's edges: the original's between copies (with their
        ports), and from each copied return to the call's ``outputs``."""
        for gid in region:
            if gid in self.link_calls:
                continue  # a nested call: wired by the recursion in _inline
            if gid in returns:
                self.edges.extend((clone[gid], out) for out in outputs)
                continue
            for nxt in self.g.successors(gid):
                if nxt in clone:
                    self.edges.append((clone[gid], clone[nxt]))
                    if (gid, nxt) in self.fg.ports:
                        self.fg.ports[(clone[gid], clone[nxt])] = self.fg.ports[(gid, nxt)]

    def _region(self, start: str) -> tuple[list[str], set[str]]:
        """Nodes a called flow runs through from ``start``, and its return nodes.

        A nested ``link call`` is stepped over to its own outputs: what it
        calls is inlined separately.
        """
        cached = self.regions.get(start)
        if cached is not None:
            return cached
        seen = {start}
        order = [start]
        queue = deque([start])
        returns: set[str] = set()
        while queue:
            gid = queue.popleft()
            node = self.fg.info[gid].node
            if node["type"] == "link out" and node.get("mode") == "return":
                returns.add(gid)
                continue
            nexts = self.link_calls[gid][1] if gid in self.link_calls else self.g.successors(gid)
            for nxt in nexts:
                if nxt not in seen:
                    seen.add(nxt)
                    order.append(nxt)
                    queue.append(nxt)
        self.regions[start] = (order, returns)
        return order, returns
