"""The site as a picture: runtimes, applications, actuators, zones and conflicts as plain data.

:func:`picture` turns a report (and the deployment model, when there is one)
into :class:`Picture` nodes and edges; the ``graph_dot``, ``graph_svg`` and
``graph_html`` formatters only draw it. Texts here are raw (as written in the
flows, whitespace collapsed); every formatter escapes them for its own syntax.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..analysis.findings import SEVERITIES, Finding, Report, severity_rank
from ..analysis.values import const_text
from ..model import Model, without_userinfo

#: Node kinds in drawing order (the SVG layout's columns, left to right).
KINDS = ("runtime", "application", "actuator", "zone")
#: Colours shared by every format so a conflict looks the same everywhere.
SEVERITY_COLOURS = {"error": "#d62728", "warning": "#e67e00", "info": "#1f77b4"}
KIND_COLOURS = {"runtime": "#e8e8e8", "application": "#dbe9f7", "actuator": "#fff2cc",
                "zone": "#dff0d8"}
EDGE_COLOUR = "#7f7f7f"
_PREFIX = {"runtime": "r", "application": "a", "actuator": "x", "zone": "z"}
_ARROW = {"increase": "\u2191", "decrease": "\u2193"}
_MAX_COMMANDS = 4


@dataclass(frozen=True)
class Node:
    """A box in the picture. ``id`` is a short safe identifier (``a3``); ``key`` is the
    domain identity (application id, actuator key, ...)."""

    id: str
    kind: str
    key: str
    label: str
    detail: str
    runtime: str | None = None  # the runtime whose cluster holds it (applications)
    severity: str | None = None  # worst finding that names it


@dataclass(frozen=True)
class Edge:
    """``hosts`` runtime->application, ``drives`` application->actuator, ``in``
    actuator->zone, ``conflict`` between applications or between actuators."""

    source: str
    target: str
    kind: str
    label: str
    severity: str | None = None  # conflict edges, and drives edges a conflict is about
    findings: tuple[str, ...] = ()  # ids of the findings behind it


@dataclass(frozen=True)
class Conflict:
    """One finding, in words, for legends and tables."""

    id: str
    code: str
    rule: str
    kind: str
    severity: str
    message: str
    actuators: tuple[str, ...]  # names
    applications: tuple[str, ...]  # names


@dataclass(frozen=True)
class Picture:
    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    conflicts: tuple[Conflict, ...]

    def of_kind(self, kind: str) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.kind == kind)


def one_line(text: str) -> str:
    """Flow text on one line: names may hold newlines and tabs."""
    return " ".join(str(text).split())


def _worst(levels: Iterable[str | None]) -> str | None:
    found = [lvl for lvl in levels if lvl in SEVERITIES]
    return max(found, key=severity_rank) if found else None


def _commands(values: Iterable[str]) -> str:
    texts = sorted(set(values))
    if len(texts) > _MAX_COMMANDS:
        texts = texts[:_MAX_COMMANDS] + [f"+{len(texts) - _MAX_COMMANDS} more"]
    return ", ".join(texts)


def picture(report: Report, model: Model | None = None) -> Picture:
    """The site a report was made from, ready to draw.

    In steps: how bad the findings about each thing are, the things (runtimes,
    applications, actuators, zones) in drawing order, the edges between them,
    and the conflicts listed beside the drawing.
    """
    worst = _worst_by_thing(report)
    apps = _applications(report)
    nodes, ids = _nodes(worst, _runtime_rows(report, model), apps, report, _zones(report, model))
    edges = _hosting_edges(apps, ids) + _actuator_edges(report, ids)
    edges += _conflict_edges(report, ids)
    conflicts = tuple(
        Conflict(f.id, f.code, f.rule, f.kind, f.severity, one_line(f.message),
                 tuple(one_line(a.name) for a in f.actuators),
                 tuple(one_line(report.app_name(a)) for a in f.applications))
        for f in sorted(report.findings,
                        key=lambda f: (-severity_rank(f.severity), f.code, f.id))
    )
    title = model.name if model is not None else ", ".join(sorted(set(report.sources.values())))
    return Picture(one_line(title), tuple(nodes), tuple(edges), conflicts)


def _worst_by_thing(report: Report) -> dict[tuple[str, str], str]:
    """(kind, key) -> the worst severity of the findings about that application or actuator."""
    worst: dict[tuple[str, str], str] = {}

    def mark(kind: str, key: str, level: str) -> None:
        worst[(kind, key)] = _worst([worst.get((kind, key)), level]) or level

    for f in report.findings:
        for app in f.applications:
            mark("application", app, f.severity)
        for involved in f.actuators:
            mark("actuator", involved.key, f.severity)
    return worst


def _runtime_rows(report: Report, model: Model | None) -> list[tuple[str, str, str]]:
    """(id, label, detail) of each runtime: the model's, else one per analysed source."""
    runtime_rows: list[tuple[str, str, str]] = []
    if model is not None:
        runtime_rows = [
            (r.id, r.name or r.id, without_userinfo(r.url) if r.url else str(r.flows.name))
            for r in model.runtimes
        ]
    known_runtimes = {r[0] for r in runtime_rows}
    for rt, source in sorted(report.sources.items()):
        if rt not in known_runtimes:
            runtime_rows.append((rt, rt, source))
            known_runtimes.add(rt)
    return runtime_rows


def _applications(report: Report) -> dict[str, tuple[str, tuple[str, ...]]]:
    """id -> (name, runtimes) of the applications the report lists, plus any a finding or
    driver names."""
    apps: dict[str, tuple[str, tuple[str, ...]]] = {
        a.id: (a.name, a.runtimes)
        for a in report.applications.values()
    }
    named = [d for a in report.actuators for d in a.drivers]
    named += [app for f in report.findings for app in f.applications]
    for app in named:
        apps.setdefault(app, (report.app_name(app), ()))
    return apps


def _zones(report: Report, model: Model | None) -> dict[str, tuple[str, str]]:
    """id -> (name, detail) of the model's zones and of any zone an actuator names."""
    zones: dict[str, tuple[str, str]] = {
        z.id: (z.name, ", ".join(z.properties) or "zone") for z in model.zones
    } if model is not None else {}
    for act in report.actuators:
        if act.zone and act.zone not in zones:
            zones[act.zone] = (act.zone, "zone")
    return zones


def _nodes(worst: dict[tuple[str, str], str], runtime_rows: list[tuple[str, str, str]],
           apps: dict[str, tuple[str, tuple[str, ...]]], report: Report,
           zones: dict[str, tuple[str, str]]) -> tuple[list[Node], dict[tuple[str, str], str]]:
    """The things to draw, in drawing order, and (kind, key) -> node id."""
    nodes: list[Node] = []
    ids: dict[tuple[str, str], str] = {}
    counts = dict.fromkeys(KINDS, 0)

    def add(kind: str, key: str, label: str, detail: str, runtime: str | None = None) -> None:
        node_id = f"{_PREFIX[kind]}{counts[kind]}"
        counts[kind] += 1
        ids[(kind, key)] = node_id
        nodes.append(Node(node_id, kind, key, one_line(label) or key, one_line(detail),
                          runtime, worst.get((kind, key))))

    for rt, label, detail in sorted(runtime_rows, key=lambda r: (r[1].casefold(), r[0])):
        add("runtime", rt, label, detail)
    # Applications stacked by runtime, so neighbours in id order are neighbours when drawn.
    rank = {n.key: i for i, n in enumerate(nodes)}
    for app, (name, runtimes) in sorted(apps.items(), key=lambda a: (
            rank.get(a[1][1][0], len(rank)) if a[1][1] else len(rank), a[1][0].casefold(), a[0])):
        add("application", app, name, app, runtimes[0] if runtimes else None)
    for act in sorted(report.actuators, key=lambda a: (one_line(a.name).casefold(), a.key)):
        add("actuator", act.key, act.name, act.key)
    for zone, (name, detail) in sorted(zones.items(), key=lambda z: (z[1][0].casefold(), z[0])):
        add("zone", zone, name, detail)
    return nodes, ids


def _hosting_edges(apps: dict[str, tuple[str, tuple[str, ...]]],
                   ids: dict[tuple[str, str], str]) -> list[Edge]:
    """Runtime -> each application on it."""
    edges: list[Edge] = []
    for app, (_, runtimes) in apps.items():
        for rt in runtimes:
            if ("runtime", rt) in ids:
                edges.append(Edge(ids[("runtime", rt)], ids[("application", app)], "hosts",
                                  "hosts"))
    return edges


def _actuator_edges(report: Report, ids: dict[tuple[str, str], str]) -> list[Edge]:
    """Application -> each actuator it drives (with its commands), actuator -> its zone."""
    by_actuator: dict[str, list[Finding]] = {}
    for f in report.findings:
        for a in f.actuators:
            by_actuator.setdefault(a.key, []).append(f)
    edges: list[Edge] = []
    for act in report.actuators:
        about = by_actuator.get(act.key, [])
        for app, driver in act.drivers.items():
            naming = [f for f in about if app in f.applications]
            label = _commands(one_line(const_text(c)) for c in driver.commands)
            edges.append(Edge(ids[("application", app)], ids[("actuator", act.key)], "drives",
                              label, _worst(f.severity for f in naming),
                              tuple(f.id for f in naming)))
        if act.zone:
            effects = ", ".join(f"{one_line(prop)} {_ARROW.get(way, one_line(way))}"
                                for prop, way in sorted(act.effects.items()))
            edges.append(Edge(ids[("actuator", act.key)], ids[("zone", act.zone)], "in",
                              effects or "in"))
    return edges


def _conflict_edges(report: Report, ids: dict[tuple[str, str], str]) -> list[Edge]:
    """One edge per pair of things in conflict, coloured by the worst finding about it.

    A finding about several actuators (indirect, compounding) links those
    actuators; a finding about one actuator (direct, cross-runtime) links the
    applications that drive it. Members are chained in drawing order rather
    than paired all-with-all, so ten applications make nine edges, not 45.
    """
    pairs: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for f in report.findings:
        if len(f.actuators) > 1:
            members = [ids[("actuator", a.key)] for a in f.actuators
                       if ("actuator", a.key) in ids]
        else:
            members = [ids[("application", a)] for a in f.applications
                       if ("application", a) in ids]
        members = sorted(set(members), key=lambda m: (m[0], int(m[1:])))
        for source, target in zip(members, members[1:], strict=False):
            pairs.setdefault((source, target), []).append((f.severity, f"{f.code} {f.rule}",
                                                           f.id))
    edges = []
    for (source, target), found in pairs.items():
        found.sort(key=lambda item: (-severity_rank(item[0]), item[1], item[2]))
        label = ", ".join(dict.fromkeys(one_line(text) for _, text, _ in found))
        edges.append(Edge(source, target, "conflict", label, found[0][0],
                          tuple(item[2] for item in found)))
    return edges
