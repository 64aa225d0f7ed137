"""The analysis pipeline: flows -> graph -> propagation -> actuators -> rules -> report."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from .actuators import NodeRef, PathFinder, find_actuators
from .findings import Application, Report
from .flows import Flows, load_flows
from .graph import FlowGraph, build_graph
from .propagate import propagate
from .rules import ActuatorFacts, RuleSet, evaluate, load_ruleset


def default_applications(fg: FlowGraph) -> dict[tuple[str, str], Application]:
    """One application per live tab; ids are tab ids (runtime-prefixed if several)."""
    apps: dict[tuple[str, str], Application] = {}
    multi = len(fg.flows) > 1
    for runtime, flows in fg.flows.items():
        for tab in flows.tabs:
            app_id = f"{runtime}/{tab['id']}" if multi else tab["id"]
            apps[(runtime, tab["id"])] = Application(
                app_id, flows.tab_label(tab["id"]), runtime, (tab["id"],))
    return apps


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic data.

    The pipeline allocates millions of small containers and frees almost
    none; without this, repeated full collections make large sites
    quadratic. Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def analyze_flows(
    sources: Mapping[str, Flows],
    ruleset: RuleSet | None = None,
    applications: Mapping[tuple[str, str], Application] | None = None,
) -> Report:
    """Analyse already-loaded flows, keyed by runtime id."""
    with gc_paused():
        return _analyze(sources, ruleset, applications)


def _analyze(
    sources: Mapping[str, Flows],
    ruleset: RuleSet | None,
    applications: Mapping[tuple[str, str], Application] | None,
) -> Report:
    started = time.perf_counter()
    ruleset = ruleset or load_ruleset()
    fg = build_graph(dict(sources))
    apps = dict(applications) if applications is not None else default_applications(fg)

    def application_of(gid: str) -> str:
        info = fg.info[gid]
        found = apps.get((info.runtime, info.tab))
        return found.id if found else info.tab

    prop = propagate(fg, application_of)
    scan = find_actuators(fg, prop)
    by_id = {a.id: a for a in apps.values()}
    names = {a.id: a.name for a in apps.values()}
    facts = [ActuatorFacts(a, names) for a in scan.actuators]
    findings = evaluate(ruleset, facts, PathFinder(fg, prop))

    mentioned: set[NodeRef] = {ref for f in findings for path in f.paths for ref in path.nodes}
    mentioned.update(ref for a in scan.actuators for ref in a.nodes)
    labels = {ref: _label(sources[ref.runtime], ref.id) for ref in mentioned}
    stats = {
        "nodes": sum(len(f.nodes) for f in sources.values()),
        "graph_nodes": fg.graph.number_of_nodes(),
        "edges": sum(len(targets) for targets in fg.graph._succ.values()),
        "tabs": sum(len(f.tabs) for f in sources.values()),
        "applications": len(by_id),
        "triggers": len(prop.triggers),
        "actuators": len(scan.actuators),
        "driven_actuators": sum(1 for a in scan.actuators if a.drivers),
        "unknown_targets": len(scan.unknown),
        "dynamic_link_calls": fg.dynamic_link_calls,
        "findings": {lvl: sum(1 for f in findings if f.severity == lvl)
                     for lvl in ("error", "warning", "info")},
        "seconds": round(time.perf_counter() - started, 4),
    }
    return Report(
        sources={rt: f.source for rt, f in sources.items()},
        findings=tuple(findings),
        actuators=scan.actuators,
        unknown=scan.unknown,
        applications=by_id,
        node_labels=labels,
        rules=ruleset.info,
        stats=stats,
    )


def analyze(flows_path: str | Path, rules: Sequence[str | Path] = ()) -> Report:
    """Analyse one flows file with the built-in rules plus ``rules`` files."""
    ruleset = load_ruleset(rules)
    return analyze_flows({"local": load_flows(flows_path)}, ruleset)


def _label(flows: Flows, node_id: str) -> str:
    node = flows.by_id.get(node_id)
    if node is None:
        return node_id
    name = node.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    return f"{node['type']} {node_id}"
