"""Rewrite flows so that conflicting commands pass a resolver: resolve and revert.

For each conflict ``sources -> actuator node(s)`` becomes
``sources -> tag -> resolver -> actuator node(s)``, built from core nodes only:

* a *tag* (``change`` node) on each wire into an actuator node records, in
  ``msg.acm``, which actuator node the command was for (``target``) and which
  application sent it (``app``); where a wire's source is shared by several
  applications, *app tags* go further upstream, on the first wires that carry
  one application only;
* the *resolver* (``function`` node) runs one vetted template per strategy
  (``acm/data/resolvers/common.js`` followed by ``<strategy>.js``); its
  configuration is JSON in the ``env`` of the ``group`` around it, never pasted
  into code;
* wires cannot cross tabs, so commands to or from another tab travel over a
  pair of ``link out``/``link in`` nodes that ACM adds.

Every added node carries ``"acm": {"role": ...}`` and every node put on a
wire remembers the wire's original target, so :func:`revert` restores the
original flows exactly. Ids are derived from the conflict id, so resolving
again yields the same nodes: :func:`resolve` first reverts, then re-applies.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .actuators import NodeRef
from .catalog import actuator_targets
from .engine import Analysis, inspect, model_applications
from .errors import AcmError
from .findings import Finding, Report
from .flows import MANIFEST_ENV, Flows, flows_from_data, load_flows, restore_markers
from .model import Model
from .policy import DEFAULTS, STRATEGIES, Policy, matches
from .rules import ActuatorFacts, RuleSet
from .values import UNKNOWN, const_text

MARKER = "acm"
ENV_NAME = "ACM_RESOLVER"
RESOLVED_KINDS = ("direct", "indirect")


@dataclass(frozen=True)
class Planned:
    """One resolver to build."""

    finding: Finding
    policy: Policy
    target_key: str
    label: str
    targets: tuple[str, ...]  # actuator node ids, in output-port order
    guard_key: str | None = None
    guards: tuple[str, ...] = ()  # interlock: the guard actuator's node ids


@dataclass(frozen=True)
class Skipped:
    finding: Finding
    reason: str


@dataclass
class ResolveResult:
    nodes: list[dict[str, Any]]
    planned: list[Planned] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    defaults: list[Planned] = field(default_factory=list)  # planned by a default policy
    notes: list[str] = field(default_factory=list)  # warnings for the user


def node_id(*parts: str) -> str:
    """A deterministic 16-hex id, like the ones Node-RED makes."""
    return hashlib.sha256("|".join(("acm", *parts)).encode()).hexdigest()[:16]


def _marker(node: Mapping[str, Any]) -> dict[str, Any] | None:
    value = node.get(MARKER)
    return value if isinstance(value, dict) and "role" in value else None


def revert(nodes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The flows without anything ACM added, with the original wiring restored.

    Nodes ACM only changed (role ``rerouted``: a publisher moved to a topic of
    ACM's namespace) get their original properties back.
    """
    nodes = restore_markers(nodes)
    by_id = {n["id"]: n for n in nodes}
    added = {n["id"] for n in nodes if (m := _marker(n)) and m["role"] != "rerouted"}
    if not added and not any(_marker(n) for n in nodes):
        return [dict(n) for n in nodes]

    def original(target: str, seen: frozenset[str] = frozenset()) -> str | None:
        if target not in added:
            return target
        restore = (_marker(by_id[target]) or {}).get("restore")
        if not isinstance(restore, str) or restore in seen:
            return None  # a node ACM added beside a wire (a guard tap): drop the wire
        return original(restore, seen | {target})

    out: list[dict[str, Any]] = []
    for node in nodes:
        if node["id"] in added:
            continue
        kept_node = dict(node)
        marker = _marker(node)
        if marker is not None:  # rerouted: put back what ACM changed
            kept_node.update(marker.get("original") or {})
            del kept_node[MARKER]
        if isinstance(node.get("wires"), list):
            wires = []
            for port in node["wires"]:
                kept: list[str] = []
                for target in port:
                    restored = original(target)
                    if restored is not None and restored not in kept:
                        kept.append(restored)
                wires.append(kept)
            kept_node["wires"] = wires
        if isinstance(node.get("links"), list):
            kept_node["links"] = [t for t in node["links"] if t not in added]
        out.append(kept_node)
    return out


def manifest_entry(added: Sequence[Mapping[str, Any]],
                   extra: Mapping[str, Any]) -> dict[str, str]:
    """The group env entry listing the markers of the nodes ACM added with the group."""
    listed = {n["id"]: n[MARKER] for n in added if _marker(n)}
    listed.update(extra)
    return {"name": MANIFEST_ENV, "value": json.dumps(listed, sort_keys=True), "type": "str"}


def resolver_options(policy: Policy, report: Report, label: str,
                     notes: list[str]) -> dict[str, Any]:
    """The policy's options as the resolver reads them: a priority order of
    application names (tab labels) or ids becomes ids; unknown ones are noted."""
    options = dict(policy.options)
    if isinstance(options.get("order"), list):
        apps = report.applications.values()
        by_name = {a.name: a.id for a in apps}
        ids = {a.id for a in apps}
        for item in options["order"]:
            if str(item) not in by_name and str(item) not in ids:
                notes.append(f"{label}: '{item}' in the priority order names no application "
                             "(known: " + ", ".join(sorted(by_name)) + ")")
        options["order"] = [by_name.get(str(o), o) for o in options["order"]]
    return options


def template(strategy: str) -> str:
    """The function node body for ``strategy``: fixed files, nothing from flows.

    A resolution strategy's body is ``common.js`` (configuration, shared helpers)
    followed by ``<strategy>.js``; other templates (``mqtt-source``) stand alone.
    """
    files = resources.files("acm.data") / "resolvers"
    text = (files / f"{strategy}.js").read_text(encoding="utf-8")
    if strategy not in STRATEGIES:
        return text
    return (files / "common.js").read_text(encoding="utf-8") + "\n" + text


def existing_resolvers(nodes: Sequence[Mapping[str, Any]]) -> dict[str, Policy]:
    """The strategy and options of every resolver already in the flows, by conflict id."""
    found: dict[str, Policy] = {}
    for node in nodes:
        marker = _marker(node)
        if not marker or marker.get("role") != "group":
            continue
        for item in node.get("env") or []:
            if isinstance(item, dict) and item.get("name") == ENV_NAME:
                try:
                    config = json.loads(str(item.get("value")))
                except json.JSONDecodeError:
                    continue
                options = dict(config.get("options") or {})
                found[str(marker.get("conflict"))] = Policy(
                    str(marker.get("policy") or "kept"), str(config.get("strategy")), options,
                    "kept")
    return found


def plan(analysis: Analysis, policies: Sequence[Policy], *,
         kept: Mapping[str, Policy] | None = None, only: Collection[str] | None = None,
         chosen: Policy | None = None) -> ResolveResult:
    """Pick a policy for each error/warning conflict; say why others are left.

    Precedence: ``chosen`` (for the conflicts in ``only``), then the first
    matching policy, then the resolver the flows already had (``kept``), then
    the default for the kind. With ``only``, other conflicts keep their
    resolvers and get no new ones.
    """
    kept = kept or {}
    result = ResolveResult(nodes=[])
    facts = {(f.actuator.key, f.feature): f for f in analysis.facts}
    taken: dict[str, str] = {}  # actuator key -> conflict id resolving it
    subflows = {runtime: set(flows.subflows) for runtime, flows in analysis.graph.flows.items()}
    for finding in analysis.report.findings:
        if finding.kind not in RESOLVED_KINDS or finding.severity == "info":
            continue
        selected = only is None or finding.id in only
        if not selected and finding.id not in kept:
            continue
        bound = [facts[(a.key, a.feature)] for a in finding.actuators]
        if selected and chosen is not None:
            candidates: Sequence[Policy] = [chosen]
        elif selected:
            candidates = policies
        else:
            candidates = []
        planned = _choose(finding, bound, candidates, kept.get(finding.id))
        if isinstance(planned, Skipped):
            result.skipped.append(planned)
            continue
        if planned.target_key in taken:
            result.skipped.append(Skipped(finding, f"{planned.label} already gets a resolver "
                                          f"for {taken[planned.target_key]}"))
            continue
        target = next(f for f in bound if f.actuator.key == planned.target_key)
        inner = [ref.id for ref in target.actuator.nodes
                 if _in_subflow(analysis, ref, subflows)]
        if inner:
            result.skipped.append(Skipped(finding, f"actuator node {inner[0]} is inside a "
                                          "subflow; move it out of the subflow to resolve"))
            continue
        taken[planned.target_key] = finding.id
        result.planned.append(planned)
        if planned.policy.source == "default":
            result.defaults.append(planned)
    return result


def _in_subflow(analysis: Analysis, ref: NodeRef,
                subflows: Mapping[str, Collection[str]]) -> bool:
    """Whether the node is inside a subflow (``subflows``: their ids, by runtime)."""
    z = analysis.graph.flows[ref.runtime].by_id[ref.id].get("z")
    return z in subflows[ref.runtime]


def _choose(finding: Finding, bound: list[ActuatorFacts], policies: Sequence[Policy],
            kept: Policy | None = None) -> Planned | Skipped:
    if finding.kind == "direct":
        act = bound[0]
        policy = next((p for p in policies if p.strategy != "interlock"
                       and matches(p, [act])), None) or kept
        if policy is None:
            strategy, options = DEFAULTS["direct"]
            policy = Policy("default", strategy, dict(options), "default")
        return Planned(finding, policy, act.actuator.key, act.actuator.name,
                       tuple(r.id for r in act.actuator.nodes))
    for guard, target in ((bound[0], bound[1]), (bound[1], bound[0])):
        policy = next((p for p in policies if p.strategy == "interlock"
                       and matches(p, [guard, target])), None)
        if policy is None and kept is not None and kept.strategy == "interlock" \
                and kept.options.get("guard") in (None, guard.actuator.key):
            policy = kept
        if policy is not None:
            return Planned(finding, policy, target.actuator.key, target.actuator.name,
                           tuple(r.id for r in target.actuator.nodes), guard.actuator.key,
                           tuple(r.id for r in guard.actuator.nodes))
    return Skipped(finding, "no interlock policy matches; indirect conflicts need one "
                   "(which actuator guards which, in which state): see docs/resolve.md")


def resolve(flows: Flows, policies: Sequence[Policy] = (), ruleset: RuleSet | None = None,
            model: Model | None = None, runtime: str = "local", *,
            only: Collection[str] | None = None, chosen: Policy | None = None) -> ResolveResult:
    """Resolved flows for one runtime: revert what ACM added before, then re-apply.

    With a deployment model, its applications, zones and effects apply
    (``runtime`` names this flows file's runtime in the model). ``only``
    limits new resolvers to these conflict ids (others keep theirs), and
    ``chosen`` is the policy to use for them (the editor's Resolve form).
    Flows that define a node id twice are refused: the result would lose all but
    the last definition.
    """
    flows.require_unique_ids("resolving")
    kept = existing_resolvers(flows.nodes)
    base = flows_from_data(revert(flows.nodes), flows.source)
    sources = {runtime: base}
    applications = None
    if model is not None:
        everything = {r.id: load_flows(r.flows) for r in model.runtimes if r.id != runtime}
        everything[runtime] = base
        applications = model_applications(model, everything)
    analysis = inspect(sources, ruleset, applications, model=model)
    if only:
        known = {f.id for f in analysis.report.findings}
        missing = sorted(set(only) - known)
        if missing:
            raise AcmError(f"no conflict {missing[0]} in these flows (conflicts: "
                           + (", ".join(sorted(known)) or "none") + ")", flows.source)
    result = plan(analysis, policies, kept=kept, only=only, chosen=chosen)
    nodes = copy.deepcopy([dict(n) for n in base.nodes])  # the builder rewires in place
    builder = _Builder(nodes, analysis)
    for planned in result.planned:
        builder.add(planned)
    result.nodes = builder.nodes
    result.notes = builder.notes
    return result


def _coordinate(node: Mapping[str, Any], axis: str, default: float) -> float:
    """The node's ``x`` or ``y``; ``default`` where that is missing, null or not finite."""
    value = node.get(axis)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return default


class _Layout:
    """The spots taken on each tab, to move an added node down to a free one.

    Two nodes overlap when less than a node's width across and height down
    apart. Spots are filed in a grid of cells that size, so a check reads 9
    cells, not every node of the tab. A spot once taken stays taken, so a
    search can start where an earlier search from the same spot ended
    (``skip``): placing N nodes in one column costs N checks, not N².
    """

    WIDTH, HEIGHT, STEP = 100, 30, 40

    def __init__(self) -> None:
        self.cells: dict[tuple[Any, int, int], list[tuple[float, float]]] = {}
        self.skip: dict[tuple[Any, float, float], float] = {}

    def take(self, tab: Any, x: float, y: float) -> None:
        cell = (tab, math.floor(x / self.WIDTH), math.floor(y / self.HEIGHT))
        self.cells.setdefault(cell, []).append((x, y))

    def is_taken(self, tab: Any, x: float, y: float) -> bool:
        col, row = math.floor(x / self.WIDTH), math.floor(y / self.HEIGHT)
        return any(abs(x - ox) < self.WIDTH and abs(y - oy) < self.HEIGHT
                   for c in (col - 1, col, col + 1) for r in (row - 1, row, row + 1)
                   for ox, oy in self.cells.get((tab, c, r), ()))

    def free_y(self, tab: Any, x: float, y: float) -> float:
        """The first of ``y``, ``y + STEP``, ... where a node at ``x`` overlaps none."""
        passed = []
        while self.is_taken(tab, x, y):
            passed.append(y)
            y = self.skip.get((tab, x, y), y + self.STEP)
        for spot in passed:  # all taken, up to y: the next search from any of them goes on there
            self.skip[(tab, x, spot)] = y
        return y


class _Builder:
    """Adds the nodes of one resolver after another to a mutable copy of the flows."""

    def __init__(self, nodes: list[dict[str, Any]], analysis: Analysis) -> None:
        self.nodes = nodes
        self.by_id = {n["id"]: n for n in nodes}
        self.analysis = analysis
        self.propagation = analysis.propagation
        self.notes: list[str] = []
        self.layout = _Layout()
        for node in nodes:
            x, y = _coordinate(node, "x", math.nan), _coordinate(node, "y", math.nan)
            if node.get("type") != "group" and math.isfinite(x) and math.isfinite(y):
                self.layout.take(node.get("z"), x, y)
        # The flows' own wires, by target. ACM rewires them only to nodes it adds
        # and only in place (or appends), so an entry stays right while its wire is there.
        self.wired_to: dict[str, list[tuple[dict[str, Any], int, int]]] = {}
        for node in nodes:
            if _marker(node):
                continue
            for port, targets in enumerate(node.get("wires") or []):
                for position, target in enumerate(targets):
                    self.wired_to.setdefault(target, []).append((node, port, position))

    def _append(self, node: dict[str, Any]) -> dict[str, Any]:
        self.nodes.append(node)
        self.by_id[node["id"]] = node
        return node

    def _incoming(self, target: str) -> list[tuple[dict[str, Any], int, int]]:
        """(source node, port, position) of every wire into ``target`` from a node
        of the flows (not one ACM added)."""
        return [(source, port, position)
                for source, port, position in self.wired_to.get(target, ())
                if source["wires"][port][position] == target]

    def _apps(self, node_id: str) -> list[str]:
        return self.propagation.applications_at(node_id)

    def add(self, planned: Planned) -> None:
        conflict = planned.finding.id
        added_from = len(self.nodes)
        first = self.by_id[planned.targets[0]]
        tab = first["z"]
        origin_x = _coordinate(first, "x", 200)
        origin_y = _coordinate(first, "y", 100)
        resolver_id = node_id(conflict, "resolver")
        group_id = node_id(conflict, "group")
        members: list[str] = []
        row = [0]

        def place(node: dict[str, Any], column: int) -> dict[str, Any]:
            # A column per stage, left of the resolver, below the first actuator node.
            node["x"] = max(origin_x - 120 - 200 * column, 60)
            node["y"] = origin_y + 80 + 40 * row[0]
            row[0] += 1 if column else 0
            return node

        inbox: dict[str, str] = {}  # tab -> node to wire commands from that tab to

        def entry_on(node_tab: str, near: Mapping[str, Any]) -> str:
            """Where tags on ``node_tab`` send their messages: the resolver or a link out."""
            if node_tab == tab:
                return resolver_id
            if node_tab not in inbox:
                link_in_id = node_id(conflict, "inbox", tab)
                link_out_id = node_id(conflict, "outbox", node_tab)
                link_in = self.by_id.get(link_in_id)
                if link_in is None:
                    link_in = self._append(place({
                        "id": link_in_id, "type": "link in", "z": tab, "g": group_id,
                        "name": f"ACM: into {planned.label} resolver", "links": [],
                        "wires": [[resolver_id]], MARKER: {"role": "link", "conflict": conflict},
                    }, 1))
                    members.append(link_in_id)
                link_in["links"].append(link_out_id)
                self._append({
                    "id": link_out_id, "type": "link out", "z": node_tab, "mode": "link",
                    "name": f"ACM: to {planned.label} resolver", "links": [link_in_id],
                    "x": _coordinate(near, "x", 200) + 220, "y": _coordinate(near, "y", 100) + 40,
                    "wires": [],
                    MARKER: {"role": "link", "conflict": conflict},
                })
                inbox[node_tab] = link_out_id
            return inbox[node_tab]

        def tag_wires(target_id: str, index: int, role: str, command: str | None) -> None:
            for source, port, position in self._incoming(target_id):
                tag_id = node_id(conflict, role, source["id"], str(port), target_id)
                apps = self._apps(source["id"])
                rules: list[dict[str, Any]] = [
                    _set("acm.target", index, "num"), _set("acm.role", role, "str")]
                if len(apps) == 1:
                    rules.append(_set("acm.app", apps[0], "str"))
                elif apps:
                    self._tag_upstream(source["id"], conflict)
                if command is not None:
                    rules.append(_set("acm.command", command, "str"))
                node_tab = source["z"]
                tag = {
                    "id": tag_id, "type": "change", "z": node_tab,
                    "name": f"ACM {role}: {self._app_label(apps)}", "rules": rules,
                    "wires": [[entry_on(node_tab, source)]],
                    MARKER: {"role": "tag", "conflict": conflict,
                             "restore": target_id if role == "command" else None},
                }
                if role == "command":
                    source["wires"][port][position] = tag_id
                else:
                    source["wires"][port].append(tag_id)  # a copy to the resolver
                if node_tab == tab:
                    tag["g"] = group_id
                    members.append(tag_id)
                    place(tag, 1)
                else:
                    tag["x"] = _coordinate(source, "x", 200) + 60
                    tag["y"] = _coordinate(source, "y", 100) + 40
                self._append(tag)

        for index, target_id in enumerate(planned.targets):
            tag_wires(target_id, index, "command", None)
        for guard_id in planned.guards:
            tag_wires(guard_id, 0, "guard", self._static_command(guard_id))

        outputs: list[list[str]] = []
        for index, target_id in enumerate(planned.targets):
            target = self.by_id[target_id]
            if target["z"] == tab:
                outputs.append([target_id])
                continue
            out_id = node_id(conflict, "out", str(index))
            in_id = node_id(conflict, "deliver", str(index))
            self._append(place({
                "id": out_id, "type": "link out", "z": tab, "g": group_id, "mode": "link",
                "name": f"ACM: to {target.get('name') or target_id}", "links": [in_id],
                "wires": [], MARKER: {"role": "link", "conflict": conflict},
            }, 0))
            members.append(out_id)
            self._append({
                "id": in_id, "type": "link in", "z": target["z"],
                "name": f"ACM: from {planned.label} resolver", "links": [out_id],
                "x": max(_coordinate(target, "x", 200) - 160, 100),
                "y": _coordinate(target, "y", 100) + 40, "wires": [[target_id]],
                MARKER: {"role": "link", "conflict": conflict},
            })
            outputs.append([out_id])

        policy = planned.policy
        options = resolver_options(policy, self.analysis.report, planned.label, self.notes)
        if planned.guard_key:
            options["guard"] = planned.guard_key
        config = {
            "strategy": policy.strategy, "conflict": conflict, "label": planned.label,
            "targets": len(planned.targets), "options": options,
        }
        resolver = {
            "id": resolver_id, "type": "function", "z": tab, "g": group_id,
            "name": f"ACM {policy.strategy}: {planned.label}",
            "func": template(policy.strategy), "outputs": len(planned.targets),
            "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [],
            "x": max(origin_x - 120, min(origin_x - 40, 60)), "y": origin_y + 80,
            "wires": outputs,
            MARKER: {"role": "resolver", "strategy": policy.strategy, "conflict": conflict,
                     "policy": policy.name, "version": 1},
        }
        self._append(resolver)
        members.append(resolver_id)
        self._spread(added_from)
        placed = [self.by_id[m] for m in members]
        xs = [float(n["x"]) for n in placed]
        ys = [float(n["y"]) for n in placed]
        self._append({
            "id": group_id, "type": "group", "z": tab,
            "name": f"ACM: {planned.finding.rule} conflict on {planned.label} "
                    f"({policy.strategy})",
            "style": {"label": True, "stroke": "#ff7f0e", "fill": "#fff3e0",
                      "fill-opacity": "0.5"},
            "nodes": members,
            "env": [{"name": ENV_NAME, "value": json.dumps(config, sort_keys=True),
                     "type": "str"},
                    manifest_entry(self.nodes[added_from:],
                                   {group_id: {"role": "group", "conflict": conflict,
                                               "policy": policy.name}})],
            "x": min(xs) - 90, "y": min(ys) - 40, "w": max(xs) - min(xs) + 180,
            "h": max(ys) - min(ys) + 80,
            MARKER: {"role": "group", "conflict": conflict, "policy": policy.name},
        })

    def _spread(self, start: int) -> None:
        """Move the nodes added since ``start`` down until none sits on another node."""
        for node in self.nodes[start:]:
            if "x" not in node or node.get("type") == "group":
                continue
            x, y = float(node["x"]), float(node["y"])
            node["y"] = self.layout.free_y(node.get("z"), x, y)
            self.layout.take(node.get("z"), x, node["y"])

    def _app_label(self, apps: list[str]) -> str:
        names = {a.id: a.name for a in self.analysis.report.applications.values()}
        return ", ".join(names.get(a, a) for a in apps) or "unknown"

    def _static_command(self, actuator_id: str) -> str | None:
        """The command an actuator node sends whatever the message (HA service ...)."""
        node = self.by_id[actuator_id]
        runtime, flows = next(iter(self.analysis.graph.flows.items()))
        targets = actuator_targets(node, lambda i: flows.by_id.get(i) if isinstance(i, str)
                                   else None, runtime, [(UNKNOWN, UNKNOWN)])
        commands = {t.command for t in targets if t.command is not UNKNOWN}
        return const_text(next(iter(commands))) if len(commands) == 1 else None

    def _tag_upstream(self, start: str, conflict: str) -> None:
        """Put app tags on the nearest wires upstream that carry one application only."""
        graph = self.analysis.graph
        seen = {start}
        queue = deque([start])
        while queue and len(seen) < 10_000:
            current = queue.popleft()
            for pred in graph.graph._pred.get(current, ()):
                if pred in seen or pred not in self.by_id:  # only top-level nodes
                    continue
                seen.add(pred)
                apps = self._apps(pred)
                source = self.by_id[pred]
                wired = [(p, i) for p, port in enumerate(source.get("wires") or [])
                         for i, t in enumerate(port) if t == current]
                if len(apps) == 1 and wired:
                    for port, position in wired:
                        tag_id = node_id(conflict, "app", pred, str(port), current)
                        if tag_id in self.by_id:
                            continue
                        source["wires"][port][position] = tag_id
                        self._append({
                            "id": tag_id, "type": "change", "z": source["z"],
                            "name": f"ACM app: {self._app_label(apps)}",
                            "rules": [_set("acm.app", apps[0], "str")],
                            "x": _coordinate(source, "x", 200) + 60,
                            "y": _coordinate(source, "y", 100) + 40, "wires": [[current]],
                            MARKER: {"role": "tag", "conflict": conflict, "restore": current},
                        })
                elif len(apps) > 1 or not wired:
                    queue.append(pred)


def _set(prop: str, value: Any, kind: str) -> dict[str, Any]:
    return {"t": "set", "p": prop, "pt": "msg", "to": str(value), "tot": kind}


def describe_changes(before: Sequence[Mapping[str, Any]],
                     after: Sequence[Mapping[str, Any]]) -> list[str]:
    """A readable diff: nodes added and removed, wires changed."""
    old = {n["id"]: n for n in before}
    new = {n["id"]: n for n in after}
    tabs = {n["id"]: n.get("label") or n["id"] for n in after if n.get("type") == "tab"}
    tabs.update({n["id"]: n.get("label") or n["id"] for n in before if n.get("type") == "tab"})

    def name(node: Mapping[str, Any]) -> str:
        label = node.get("name") or node.get("label") or ""
        where = tabs.get(str(node.get("z")), "")
        return f"{node['type']} {node['id']}" + (f" \"{label}\"" if label else "") + \
            (f" on {where}" if where else "")

    lines = [f"+ {name(new[i])}" for i in new if i not in old]
    lines += [f"- {name(old[i])}" for i in old if i not in new]
    for node_id in new:
        if node_id not in old:
            continue
        was, now = old[node_id], new[node_id]
        if was.get("wires") != now.get("wires"):
            lines.append(f"~ wires of {name(now)}: {was.get('wires')} -> {now.get('wires')}")
        for key in sorted((was.keys() | now.keys()) - {"wires", "x", "y", MARKER}):
            if was.get(key) == now.get(key):
                continue
            if key == "credentials":  # never print secrets
                lines.append(f"~ credentials of {name(now)}: changed (not shown)")
                continue
            lines.append(f"~ {key} of {name(now)}: {_short(was.get(key))} -> "
                         f"{_short(now.get(key))}")
    return lines


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if value is not None else "(none)"
    return text if len(text) <= 60 else text[:57] + "..."
