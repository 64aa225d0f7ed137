"""The analysis pipeline: flows -> graph -> propagation -> actuators -> rules -> report."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .analysis.actuators import (
    Actuator,
    ActuatorScan,
    NodeRef,
    PathFinder,
    config_lookup,
    find_actuators,
    merge_model,
)
from .analysis.catalog import gates
from .analysis.catalog.context import global_writes
from .analysis.environment import Chain, find_chains
from .analysis.findings import Application, Finding, Report, count_by_severity, report_order
from .analysis.flows import Flows, gc_paused, load_flows
from .analysis.graph import FlowGraph, build_graph
from .analysis.keys import ha_key, mqtt_key, mqtt_parts
from .analysis.propagate import GatesOf, Propagation, Source, SourceOf, propagate
from .errors import ModelError
from .rules.ruleset import (
    ActuatorFacts,
    RuleSet,
    duplicate_findings,
    evaluate,
    facts_of,
    load_ruleset,
)
from .rules.suppress import apply_suppressions, find_suppressions

if TYPE_CHECKING:  # the model (YAML, JSON Schema) is imported only to read one
    from .model import Model


def default_applications(sources: Mapping[str, Flows]) -> dict[tuple[str, str], Application]:
    """One application per tab; ids are tab ids (``runtime/tab`` if several runtimes).

    Names are tab labels; tabs that share a label are named ``label (tab id)``.
    """
    apps: dict[tuple[str, str], Application] = {}
    multi = len(sources) > 1
    labels = Counter(flows.tab_label(tab["id"]) for flows in sources.values()
                     for tab in flows.tabs if not tab.get("disabled"))
    for runtime, flows in sources.items():
        for tab in flows.tabs:
            if tab.get("disabled"):
                continue
            app_id = f"{runtime}/{tab['id']}" if multi else tab["id"]
            label = flows.tab_label(tab["id"])
            if labels[label] > 1:  # two tabs called "Lights": tell them apart
                label = f"{label} ({tab['id']})"
            apps[(runtime, tab["id"])] = Application(app_id, label, (runtime,), (tab["id"],))
    return apps


def model_applications(
    model: Model, sources: Mapping[str, Flows]
) -> dict[tuple[str, str], Application]:
    """The model's applications (tabs named by id, label or ``runtime/tab``); others per tab."""
    apps = default_applications(sources)
    for app in model.applications:
        members: list[tuple[str, str]] = []
        for index, ref in enumerate(app.tabs):
            found = [
                (runtime, tab["id"])
                for runtime, flows in sources.items() for tab in flows.tabs
                if ref in (tab["id"], tab.get("label"), f"{runtime}/{tab['id']}",
                           f"{runtime}/{tab.get('label')}")
            ]
            where = app.where[index] if index < len(app.where) else str(model.path)
            path = f"{app.path}.tabs[{index}]"
            if not found:
                raise ModelError(f"{path}: no tab {ref!r} in the flows of any runtime "
                                 "(name a tab by id, label or runtime/label)", where)
            if len(found) > 1:
                places = ", ".join(f"{rt}/{tab}" for rt, tab in found)
                raise ModelError(f"{path}: tab {ref!r} is ambiguous ({places}); "
                                 "write runtime/label or the tab id", where)
            members.append(found[0])
        runtimes = sorted({rt for rt, _ in members})
        application = Application(app.id, app.name, tuple(runtimes),
                                  tuple(tab for _, tab in members), app.provenance)
        for member in members:
            apps[member] = application
    return apps


def _canonical_keys(aliases: Mapping[str, str], members: Mapping[str, Sequence[str]]
                    ) -> Callable[[str], Sequence[str]]:
    """Broker aliases to one broker; Home Assistant areas, devices, floors and labels the
    model lists to the keys of their entities."""
    def expand(key: str) -> Sequence[str]:
        mqtt = mqtt_parts(key) if aliases else None
        if mqtt is not None and mqtt[0] in aliases:
            return [mqtt_key(aliases[mqtt[0]], mqtt[1])]
        if key in members:
            return [ha_key(entity) for entity in members[key]]
        return [key]

    return expand


def analyze_model(model: Model | str | Path, ruleset: RuleSet | None = None) -> Report:
    """Analyse every runtime of a deployment model together."""
    from .model import Model, load_model

    if not isinstance(model, Model):
        model = load_model(model)
    sources = model.load_flows()
    return analyze_flows(sources, ruleset, model_applications(model, sources), model=model)


def analyze_flows(
    sources: Mapping[str, Flows],
    ruleset: RuleSet | None = None,
    applications: Mapping[tuple[str, str], Application] | None = None,
    *,
    model: Model | None = None,
) -> Report:
    """Analyse already-loaded flows, keyed by runtime id (optionally with their model)."""
    return inspect(sources, ruleset, applications, model=model).report


@dataclass(frozen=True)
class Analysis:
    """A report with the graph and propagation it came from (for acm resolve)."""

    report: Report
    graph: FlowGraph
    propagation: Propagation
    facts: tuple[ActuatorFacts, ...]


def inspect(
    sources: Mapping[str, Flows],
    ruleset: RuleSet | None = None,
    applications: Mapping[tuple[str, str], Application] | None = None,
    *,
    model: Model | None = None,
) -> Analysis:
    """Like :func:`analyze_flows`, keeping the intermediate results."""
    with gc_paused():
        return _analyze(sources, ruleset, applications, model)


def _analyze(
    sources: Mapping[str, Flows],
    ruleset: RuleSet | None,
    applications: Mapping[tuple[str, str], Application] | None,
    model: Model | None,
) -> Analysis:
    """The pipeline, stage by stage: graph, propagation, actuators, facts, rules, report."""
    started = time.perf_counter()
    ruleset = ruleset or load_ruleset()
    aliases = model.broker_aliases() if model else {}
    fg = build_graph(dict(sources), aliases)
    apps = dict(applications) if applications is not None else default_applications(sources)
    prop = propagate(fg, _source_namer(fg, apps, model.triggers if model else {}),
                     _gate_reader(fg))
    scan = _with_model(find_actuators(fg, prop), model, aliases)
    # Applications are what starts messages: tabs with no trigger are not listed.
    with_triggers = {source.application for source in prop.triggers.values()}
    by_id = {a.id: a for a in apps.values() if a.id in with_triggers}
    names = {a.id: a.name for a in apps.values()}
    facts = _facts(scan.actuators, names, fg, prop)
    chains = _chains(fg, prop, scan.actuators, model, aliases, names)
    findings, suppressed = _judge(ruleset, sources, facts, PathFinder(fg, prop), chains)
    labels = _labels(sources, findings, scan.actuators)
    report = Report(
        sources={rt: f.source for rt, f in sources.items()},
        findings=tuple(findings),
        actuators=scan.actuators,
        unknown=scan.unknown,
        applications=by_id,
        node_labels=labels,
        rules=ruleset.info,
        stats=_stats(sources, fg, prop, scan, len(by_id), findings, suppressed, started),
    )
    return Analysis(report, fg, prop, tuple(facts))


def _source_namer(fg: FlowGraph, apps: Mapping[tuple[str, str], Application],
                  overrides: Mapping[str, str]) -> SourceOf:
    """What names a trigger's :class:`Source`: the application of its tab, and who
    acts there (the model's ``triggers`` by node id or name, else the application's
    provenance, else the catalog's)."""
    def source_of(gid: str, provenance: str) -> Source:
        info = fg.info[gid]
        found = apps.get((info.runtime, info.tab))
        node = info.node
        said = overrides.get(str(node["id"])) or overrides.get(str(node.get("name") or "")) \
            or (found.provenance if found else None)
        return Source(found.id if found else info.tab, said or provenance)

    return source_of


def _gate_reader(fg: FlowGraph) -> GatesOf:
    """What reads the gates of a node of ``GATED_TYPES`` (the shared state it checks)."""
    lookups = {runtime: config_lookup(flows.by_id) for runtime, flows in fg.flows.items()}

    def gates_of(gid: str) -> frozenset[str]:  # asked for nodes of GATED_TYPES only
        info = fg.info[gid]
        return gates(info.node, lookups[info.runtime])

    return gates_of


def _with_model(scan: ActuatorScan, model: Model | None,
                aliases: Mapping[str, str]) -> ActuatorScan:
    """The actuators found, merged with the model's (canonical keys, zones, effects)."""
    if model is None and not aliases:
        return scan
    return merge_model(scan, model.actuators if model else (),
                       _canonical_keys(aliases, model.ha_members if model else {}))


def _facts(actuators: Sequence[Actuator], names: Mapping[str, str], fg: FlowGraph,
           prop: Propagation) -> list[ActuatorFacts]:
    """What the rules see of the actuators, with application ``names``."""
    commanders = {a.key: a.applications for a in actuators}
    commanders.update(_global_writers(actuators, fg, prop))
    return [f for a in actuators for f in facts_of(a, names, commanders)]


def _global_writers(actuators: Sequence[Actuator], fg: FlowGraph,
                    prop: Propagation) -> dict[str, frozenset[str]]:
    """The applications that write each global variable some command is gated by (a
    switch tests it): who sets such a gate, as commanders are who set a helper."""
    in_play = {g for a in actuators for d in a.drivers.values() for c in d.sends
               for g in c.gates if g.startswith("context:")}
    if not in_play:  # the usual case: no switch on a global variable on any command's way
        return {}
    writers: dict[str, set[str]] = {}
    for gid, info in fg.info.items():
        for key in global_writes(info.node) & in_play:
            writers.setdefault(key, set()).update(prop.applications_at(gid))
    return {key: frozenset(apps) for key, apps in writers.items()}


def _chains(fg: FlowGraph, prop: Propagation, actuators: Sequence[Actuator],
            model: Model | None, aliases: Mapping[str, str],
            names: Mapping[str, str]) -> tuple[Chain, ...]:
    """The steps and loops through the environment, when the model has sensors."""
    if model is None or not model.sensors:
        return ()
    return find_chains(fg, prop, actuators, model.sensors, aliases, names,
                       {z.id: z.name for z in model.zones})


def _judge(ruleset: RuleSet, sources: Mapping[str, Flows], facts: Sequence[ActuatorFacts],
           paths: PathFinder, chains: tuple[Chain, ...]) -> tuple[list[Finding], int]:
    """The rules' findings and the duplicate-id ones in report order, less the
    suppressed ones; and how many were suppressed."""
    found = evaluate(ruleset, facts, paths, chains)
    found += duplicate_findings(sources, ruleset.duplicate_id)
    found.sort(key=report_order)
    return apply_suppressions(found, find_suppressions(sources))


def _labels(sources: Mapping[str, Flows], findings: Sequence[Finding],
            actuators: Sequence[Actuator]) -> dict[NodeRef, str]:
    """A label for every node the findings involve or an actuator is made of."""
    mentioned: set[NodeRef] = set()
    for finding in findings:  # whole sets and tuples at a time: tens of thousands of refs
        mentioned |= finding.involved
    for actuator in actuators:
        mentioned.update(actuator.nodes)
    return {ref: _label(sources[ref.runtime], ref.id) for ref in mentioned}


def _stats(sources: Mapping[str, Flows], fg: FlowGraph, prop: Propagation, scan: ActuatorScan,
           applications: int, findings: Sequence[Finding], suppressed: int,
           started: float) -> dict[str, Any]:
    """The report's counts, and the seconds since ``started``."""
    return {
        "nodes": sum(len(f.nodes) for f in sources.values()),
        "duplicate_ids": sum(len(f.duplicates) for f in sources.values()),
        "graph_nodes": fg.graph.number_of_nodes(),
        "edges": sum(len(targets) for targets in fg.succ.values()),
        "tabs": sum(len(f.tabs) for f in sources.values()),
        "applications": applications,
        "triggers": len(prop.triggers),
        "actuators": len(scan.actuators),
        "driven_actuators": sum(1 for a in scan.actuators if a.drivers),
        "unknown_targets": len(scan.unknown),
        "dynamic_link_calls": fg.dynamic_link_calls,
        "broker_edges": fg.broker_edges,
        "suppressed": suppressed,
        "findings": count_by_severity(findings),
        "seconds": round(time.perf_counter() - started, 4),
    }


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
