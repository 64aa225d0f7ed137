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
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from .errors import FlowsError
from .flows import STRUCTURAL_TYPES, Flows, Node


@dataclass(frozen=True, slots=True)
class GraphNode:
    """What the analysis needs to know about one graph node."""

    gid: str
    node: Node
    tab: str  # the top-level tab the message is on (outermost instance's tab)
    runtime: str
    instance: str | None = None  # graph id of the innermost subflow instance, if any

    @property
    def origin(self) -> str:
        return str(self.node["id"])

    @property
    def type(self) -> str:
        return str(self.node["type"])


@dataclass
class FlowGraph:
    """The message graph plus the flows it came from, per runtime."""

    graph: Any  # nx.DiGraph; node attribute "n" holds the GraphNode
    flows: dict[str, Flows]  # runtime id -> flows
    info: dict[str, GraphNode] = field(default_factory=dict)
    dynamic_link_calls: int = 0

    def successors(self, gid: str) -> Iterable[str]:
        return self.graph.successors(gid)  # type: ignore[no-any-return]

    def predecessors(self, gid: str) -> Iterable[str]:
        return self.graph.predecessors(gid)  # type: ignore[no-any-return]

    def in_degree(self, gid: str) -> int:
        return int(self.graph.in_degree(gid))

    def tab_label(self, runtime: str, tab_id: str) -> str:
        return self.flows[runtime].tab_label(tab_id)


def is_flow_node(node: Node) -> bool:
    """True for nodes on the canvas that can carry messages (not config nodes)."""
    if node["type"] in STRUCTURAL_TYPES:
        return False
    return "wires" in node or "x" in node


def build_graph(sources: Mapping[str, Flows] | Flows) -> FlowGraph:
    """Build the graph of one flows file, or of several keyed by runtime id."""
    if isinstance(sources, Flows):
        sources = {"local": sources}
    multi = len(sources) > 1
    fg = FlowGraph(graph=nx.DiGraph(), flows=dict(sources))
    for runtime, flows in sources.items():
        _Builder(fg, flows, runtime, f"{runtime}::" if multi else "").build()
    return fg


class _Builder:
    def __init__(self, fg: FlowGraph, flows: Flows, runtime: str, prefix: str) -> None:
        self.fg = fg
        self.flows = flows
        self.runtime = runtime
        self.prefix = prefix
        self.g = fg.graph
        self.subflows = flows.subflows
        # nodes of each scope (a tab's nodes are one top-level scope; each subflow its own)
        self.by_scope: dict[str, list[Node]] = {}
        for node in flows.nodes:
            z = node.get("z")
            if isinstance(z, str) and z:
                self.by_scope.setdefault(z, []).append(node)
        self.link_calls: list[tuple[str, list[str], list[str]]] = []
        self.edges: list[tuple[str, str]] = []  # added in bulk: much faster than one by one

    def build(self) -> None:
        live_tabs = [
            t for t in self.flows.tabs if not t.get("disabled") and not t.get("d")
        ]
        top_nodes = [n for t in live_tabs for n in self.by_scope.get(t["id"], [])]
        # Links between top-level tabs are global, so all live tabs form one scope.
        self._add_scope(top_nodes, self.prefix, tab=None, stack=())
        self.g.add_edges_from(self.edges)
        self.edges = []
        self._add_link_returns()
        self.g.add_edges_from(self.edges)

    def _add_scope(
        self, nodes: list[Node], prefix: str, tab: str | None, stack: tuple[str, ...]
    ) -> dict[str, str]:
        """Add one scope's nodes and internal edges; return id -> graph id."""
        local: dict[str, str] = {}
        live = [n for n in nodes if is_flow_node(n) and not n.get("d")]
        instance_gid = prefix[:-1] if tab is not None else None
        for node in live:
            gid = prefix + node["id"]
            local[node["id"]] = gid
            node_tab = tab if tab is not None else str(node["z"])
            info = GraphNode(gid, node, node_tab, self.runtime, instance_gid)
            self.fg.info[gid] = info
        self.g.add_nodes_from(local.values())
        for node in live:
            gid = local[node["id"]]
            node_type = node["type"]
            if node_type.startswith("subflow:"):
                self._expand_instance(node, gid, local, stack)
                continue
            if node_type == "link call":
                self._note_link_call(node, gid, local)
                continue
            for port in node.get("wires", []):
                for target in port:
                    if target in local:
                        self.edges.append((gid, local[target]))
            if node_type == "link out" and node.get("mode", "link") != "return":
                for target in node.get("links") or []:
                    if target in local:
                        self.edges.append((gid, local[target]))
        return local

    def _expand_instance(
        self, node: Node, gid: str, outer: dict[str, str], stack: tuple[str, ...]
    ) -> None:
        sub_id = node["type"][8:]
        if sub_id in stack:
            raise FlowsError(
                f"subflow {sub_id} contains itself (through instance {node['id']})",
                self.flows.source,
            )
        definition = self.subflows[sub_id]
        tab = self.fg.info[gid].tab
        inner = self._add_scope(
            self.by_scope.get(sub_id, []), gid + "/", tab=tab, stack=(*stack, sub_id)
        )
        for port in definition.get("in") or []:
            for wire in port.get("wires") or []:
                target = wire.get("id")
                if target in inner:
                    self.edges.append((gid, inner[target]))
        for index, port in enumerate(definition.get("out") or []):
            outer_wires = node.get("wires", [])
            if index >= len(outer_wires):
                continue
            targets = [outer[t] for t in outer_wires[index] if t in outer]
            for wire in port.get("wires") or []:
                source = wire.get("id")
                # a wire from the subflow's own input straight to an output
                src_gid = gid if source == sub_id else inner.get(source)
                if src_gid is None:
                    continue
                for t in targets:
                    self.edges.append((src_gid, t))

    def _note_link_call(self, node: Node, gid: str, local: dict[str, str]) -> None:
        if node.get("linkType", "static") != "static":
            self.fg.dynamic_link_calls += 1
            return
        targets = [local[t] for t in node.get("links") or [] if t in local]
        for t in targets:
            self.edges.append((gid, t))
        outputs = [local[t] for port in node.get("wires", []) for t in port if t in local]
        self.link_calls.append((gid, targets, outputs))

    def _add_link_returns(self) -> None:
        """Wire each return-mode ``link out`` back to the callers that reach it."""
        memo: dict[str, list[str]] = {}
        for _call, targets, outputs in self.link_calls:
            if not outputs:
                continue
            for link_in in targets:
                if link_in not in memo:
                    memo[link_in] = self._returns_reached_from(link_in)
                for ret in memo[link_in]:
                    for out in outputs:
                        self.edges.append((ret, out))

    def _returns_reached_from(self, start: str) -> list[str]:
        seen = {start}
        queue = deque([start])
        found: list[str] = []
        while queue:
            gid = queue.popleft()
            node = self.fg.info[gid].node
            if node["type"] == "link out" and node.get("mode") == "return":
                found.append(gid)
                continue
            for nxt in self.g.successors(gid):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return found
