"""A whole site at once: resolution across runtimes over MQTT, and resolved files.

Cross-runtime resolution: a conflict on one MQTT topic published from several
runtimes cannot be arbitrated inside any one of them. Each publisher is moved
to its own topic ``acm/<conflict id>/<application id>`` (``/`` in the id
written ``~``), and a resolver flow on one runtime (the model's
``resolution.runtime``, else the first runtime) subscribes to
``acm/<conflict id>/+`` and publishes the winning command to the real topic.

Cross-runtime interlocks: an indirect conflict whose actuators are commanded on
more than one runtime is the site's, not one runtime's. Its interlock is chosen
as inside a runtime (:func:`acm.rewrite.resolve.choose_interlock`: a policy, else the
default the model implies); the target's runtime (the heater's) gets the
interlock resolver, and each other runtime that commands the guard (the window)
publishes, retained, a copy of every command it sends it to
``acm/<conflict id>/state/<guard>``, read by an ``mqtt in`` beside the resolver.

Resolved files: :func:`site_files` and :func:`write_site` put each runtime's
resolved flows in its flows file (or an output folder), writing only what
changes, so that resolving again rewrites nothing.

Deploying the site is :mod:`acm.nodered.deploy`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..analysis.actuators import NodeRef
from ..analysis.catalog import actuator_targets, mqtt_broker_address
from ..analysis.findings import Finding, Report
from ..analysis.flows import MANIFEST_ENV, Flows, copy_nodes, flows_from_data
from ..analysis.keys import mqtt_parts
from ..analysis.values import UNKNOWN, const_text
from ..engine import Analysis, inspect, model_applications
from ..errors import AcmError
from ..files import write_atomic
from ..model import Model, Runtime
from ..rewrite.nodes import (
    ENV_NAME,
    MARKER,
    MarkerRole,
    broker_node,
    change_node,
    delete_rule,
    env_entry,
    function_node,
    group_node,
    has_native_resolver,
    has_role,
    manifest_entry,
    marker,
    mqtt_in,
    mqtt_out,
    reroute,
    resolver_marker,
    role_of,
    set_rule,
    tab_node,
)
from ..rewrite.policy import DEFAULTS, Policy, matches
from ..rewrite.resolve import (
    Skipped,
    _Builder,
    choose_interlock,
    default_note,
    node_id,
    resolve,
    resolver_options,
    revert,
    template,
)
from ..rewrite.strategies import resolves
from ..rules.ruleset import ActuatorFacts, RuleSet

NAMESPACE = "acm"


@dataclass
class SiteResolution:
    flows: dict[str, list[dict[str, Any]]]  # runtime id -> resolved nodes
    resolved: list[tuple[Finding, Policy, str]] = field(default_factory=list)  # + runtime
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    before: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # nodes as read


def resolution_runtime(model: Model) -> Runtime:
    wanted = model.resolution_runtime
    found = next((r for r in model.runtimes if r.id == wanted), None) if wanted else None
    return found or model.runtimes[0]


def resolution_broker(model: Model) -> str | None:
    """host:port of the broker carrying interlock guard states: ``resolution.broker``,
    else the model's first broker; None when the model names no broker."""
    wanted = model.resolution_broker
    found = next((b for b in model.brokers if b.id == wanted), None) if wanted else None
    found = found or (model.brokers[0] if model.brokers else None)
    return found.address if found else None


def resolve_site(model: Model, policies: Sequence[Policy] = (),
                 ruleset: RuleSet | None = None, native: bool | None = None) -> SiteResolution:
    """Resolve every runtime's own conflicts, then the cross-runtime ones over the broker.

    Anything ACM added before is taken out first, so the result depends on the
    flows files' own nodes only: resolving resolved files gives the same flows.
    ``native`` (see :func:`acm.rewrite.resolve.resolve`) is for each runtime's own
    resolvers, None keeping to what its file had; cross-runtime resolvers are always
    function nodes (the runtime that hosts them need not have nodered-bridge).
    """
    originals = model.load_flows()
    nodes: dict[str, list[dict[str, Any]]] = {}
    result = SiteResolution(flows=nodes)
    taken: dict[str, str] = {}  # actuator key -> the conflict whose resolver it gets
    for runtime, flows in originals.items():
        flows.require_unique_ids("resolving")  # revert() below would drop the duplicates
        result.before[runtime] = copy_nodes(flows.nodes, flows.source)
    plain = {rt: flows_from_data(revert(f.nodes), f.source) for rt, f in originals.items()}
    across = _site_interlocks(model, plain, ruleset)
    for runtime, flows in plain.items():
        kind = native if native is not None else has_native_resolver(originals[runtime].nodes)
        _resolve_runtime(model, runtime, flows, policies, ruleset, across, result, taken,
                         kind)
    sources = {rt: flows_from_data(ns, originals[rt].source) for rt, ns in nodes.items()}
    analysis = inspect(sources, ruleset, model_applications(model, sources), model=model)
    facts = {(f.actuator.key, f.feature): f for f in analysis.facts}
    host = resolution_runtime(model)
    interlocks: list[Finding] = []
    for finding in analysis.report.findings:
        if finding.kind == "indirect" and finding.severity != "info" \
                and _spans_runtimes(finding):
            interlocks.append(finding)  # after the publishers have moved: see below
        elif finding.kind == "cross-runtime" and finding.severity != "info":
            _resolve_across(finding, policies, facts, sources, analysis, host, result, taken)
    names = {rt: f.source for rt, f in originals.items()}
    _resolve_interlocks(interlocks, facts, policies, model, ruleset, names, taken, result)
    return result


def _spans_runtimes(finding: Finding) -> bool:
    """Whether the actuators of ``finding`` are commanded on more than one runtime."""
    return len({r.runtime for a in finding.actuators for r in a.nodes}) > 1


def _site_interlocks(model: Model, plain: Mapping[str, Flows],
                     ruleset: RuleSet | None) -> set[str]:
    """The ids of the indirect conflicts of the site (its flows without ACM's nodes) whose
    actuators are commanded on several runtimes.

    Those are the site's to resolve (:func:`_interlock_across`), not one runtime's: an
    interlock there would see only its part.
    """
    site_wide = inspect(plain, ruleset, model_applications(model, plain), model=model)
    return {f.id for f in site_wide.report.findings
            if f.kind == "indirect" and _spans_runtimes(f)}


def _resolve_runtime(model: Model, runtime: str, flows: Flows, policies: Sequence[Policy],
                     ruleset: RuleSet | None, leave: set[str], result: SiteResolution,
                     taken: dict[str, str], native: bool) -> None:
    """Resolve one runtime's own conflicts as ``acm resolve`` does (but those in ``leave``)
    into ``result``, and mark the actuators that got a resolver in ``taken``."""
    local = resolve(flows, policies, ruleset, model=model, runtime=runtime, leave=leave,
                    native=native)
    result.flows[runtime] = local.nodes
    result.skipped.extend(local.skipped)
    result.notes.extend(local.notes)
    result.notes.extend(default_note(p, f" on {runtime}") for p in local.defaults)
    result.resolved.extend((p.finding, p.policy, runtime) for p in local.planned)
    taken.update((p.target_key, p.finding.id) for p in local.planned)


def _resolve_across(finding: Finding, policies: Sequence[Policy],
                    facts: Mapping[tuple[str, str | None], ActuatorFacts],
                    sources: Mapping[str, Flows], analysis: Analysis, host: Runtime,
                    result: SiteResolution, taken: dict[str, str]) -> None:
    """A cross-runtime conflict on one MQTT topic: move each publisher to its own topic
    and give ``host`` the resolver, into ``result`` (or say there why it cannot be)."""
    key = finding.actuators[0].key
    if mqtt_parts(key) is None:
        result.skipped.append(Skipped(finding, "only MQTT actuators can be resolved across "
                                      "runtimes (over the broker)"))
        return
    fact = facts[(key, finding.actuators[0].feature)]
    policy = _across_policy(fact, policies, result.notes)
    inner = [r for r in fact.actuator.nodes
             if sources[r.runtime].by_id[r.id].get("z") in sources[r.runtime].subflows]
    if inner:
        result.skipped.append(Skipped(finding, f"publisher {inner[0].id} is inside a "
                                      "subflow; move it out to resolve"))
        return
    nodes = result.flows  # each runtime's nodes, rewritten in place
    _reroute(finding, key, fact.actuator.nodes, analysis, nodes)
    _host_resolver(finding, key, policy, nodes[host.id], analysis.report,
                   fact.actuator.nodes, nodes, result.notes)
    result.resolved.append((finding, policy, host.id))
    taken[key] = finding.id


def _across_policy(fact: ActuatorFacts, policies: Sequence[Policy], notes: list[str]) -> Policy:
    """The first policy that resolves cross-runtime conflicts and matches the actuator,
    else the default (and a note that says so)."""
    policy = next((p for p in policies if resolves(p.strategy, "cross-runtime")
                   and matches(p, [fact])), None)
    if policy is None:
        strategy, options = DEFAULTS["direct"]
        policy = Policy("default", strategy, dict(options), "default")
        notes.append(f"no policy matched {fact.actuator.name}; used the default "
                     f"{strategy} {options} across runtimes")
    return policy


def _resolve_interlocks(interlocks: Sequence[Finding],
                        facts: Mapping[tuple[str, str | None], ActuatorFacts],
                        policies: Sequence[Policy], model: Model, ruleset: RuleSet | None,
                        names: Mapping[str, str], taken: dict[str, str],
                        result: SiteResolution) -> None:
    """Resolve the indirect conflicts across runtimes (:func:`_interlock_across`) into
    ``result``; what the site says of them replaces what each runtime said alone."""
    crossing = {f.id for f in interlocks}
    result.skipped = [s for s in result.skipped if s.finding.id not in crossing]
    for finding in interlocks:
        bound = [facts[(a.key, a.feature)] for a in finding.actuators]
        done = _interlock_across(finding, bound, policies, model, ruleset, result.flows, names,
                                 taken, result)
        if isinstance(done, Skipped):
            result.skipped.append(done)


def _reroute(finding: Finding, key: str, refs: Sequence[Any], analysis: Any,
             nodes: dict[str, list[dict[str, Any]]]) -> None:
    multi = len(analysis.graph.flows) > 1
    for ref in refs:
        node = next(n for n in nodes[ref.runtime] if n["id"] == ref.id)
        gid = f"{ref.runtime}::{ref.id}" if multi else ref.id
        apps = analysis.propagation.applications_at(gid)
        source = apps[0] if len(apps) == 1 else f"{ref.runtime}.{ref.id}"
        reroute(node, finding.id, f"{NAMESPACE}/{finding.id}/{source.replace('/', '~')}")


def _broker_config(nodes: list[dict[str, Any]], address: str) -> tuple[str, dict[str, Any] | None]:
    """The id of the runtime's ``mqtt-broker`` config node for ``address``, and the node
    if ACM had to add it (plain MQTT 3.1.1, no credentials)."""
    found = next((n["id"] for n in nodes if n.get("type") == "mqtt-broker"
                  and mqtt_broker_address(n, "") == address), None)
    if found is not None:
        return found, None
    added = broker_node(node_id("site", "broker", address), address)
    nodes.append(added)
    return added["id"], added


def _host_resolver(finding: Finding, key: str, policy: Policy, host_nodes: list[dict[str, Any]],
                   report: Report, publishers: Sequence[Any],
                   nodes: dict[str, list[dict[str, Any]]], notes: list[str]) -> None:
    mqtt = mqtt_parts(key)
    assert mqtt is not None  # only MQTT actuators get here (see resolve_site)
    address, topic = mqtt
    conflict = finding.id
    tab_id = node_id("site", "tab")
    if not any(n["id"] == tab_id for n in host_nodes):
        host_nodes.append(tab_node(
            tab_id, "ACM resolvers",
            "Added by ACM to arbitrate commands published from several runtimes.\n"
            "`acm revert` removes it."))
    broker, _ = _broker_config(host_nodes, address)
    first = next(n for n in nodes[publishers[0].runtime] if n["id"] == publishers[0].id)
    row = 80 + 120 * sum(1 for n in host_nodes if role_of(n) == MarkerRole.GROUP)
    ids = {part: node_id(conflict, "site", part) for part in ("in", "tag", "resolver", "out",
                                                             "group")}
    options = resolver_options(policy, report, topic, notes)
    config = {"strategy": policy.strategy, "conflict": conflict, "label": topic, "targets": 1,
              "options": options}
    common = {"z": tab_id, "g": ids["group"]}
    host_nodes.extend([
        mqtt_in(ids["in"], f"ACM: commands for {topic}", f"{NAMESPACE}/{conflict}/+", broker,
                [[ids["tag"]]], marker(MarkerRole.LINK, conflict), datatype="auto", **common,
                x=160, y=row),
        function_node(ids["tag"], "ACM: application from topic", template("mqtt-source"), 1,
                      [[ids["resolver"]]], marker(MarkerRole.LINK, conflict), **common,
                      x=380, y=row),
        function_node(ids["resolver"], f"ACM {policy.strategy}: {topic}",
                      template(policy.strategy), 1, [[ids["out"]]],
                      resolver_marker(policy.strategy, conflict, policy.name), **common,
                      x=600, y=row),
        mqtt_out(ids["out"], f"ACM: {topic}", topic, broker,
                 marker(MarkerRole.PUBLISHER, conflict), qos=first.get("qos", ""),
                 retain=first.get("retain", ""), **common, x=820, y=row),
        group_node(ids["group"], f"ACM: {finding.rule} conflict on {topic} ({policy.strategy})",
                   [ids["in"], ids["tag"], ids["resolver"], ids["out"]],
                   [env_entry(ENV_NAME, config)],
                   marker(MarkerRole.GROUP, conflict, policy=policy.name), z=tab_id,
                   box=(54, row - 40, 872, 82)),
    ])
    group = host_nodes[-1]
    shared = [n for n in host_nodes if n["id"] in (tab_id, broker)]
    group["env"].append(manifest_entry([*shared, *host_nodes[-5:-1]],
                                       {group["id"]: group[MARKER]}))


# ------------------------------------------------------------------ interlocks across runtimes


def _interlock_across(finding: Finding, bound: Sequence[ActuatorFacts],
                      policies: Sequence[Policy], model: Model, ruleset: RuleSet | None,
                      nodes: dict[str, list[dict[str, Any]]], names: Mapping[str, str],
                      taken: dict[str, str], result: SiteResolution) -> Skipped | None:
    """An interlock whose guard is commanded on other runtimes than its target.

    The target's runtime gets the interlock resolver as ``acm resolve`` builds it
    (command tags, resolver, group; guard nodes on that runtime are tapped as
    usual) plus an ``mqtt in`` for the guard's state topic; each other runtime
    commanding the guard publishes, retained, a copy of those commands there.
    """
    chosen = choose_interlock(finding, bound, policies, model)  # as inside a runtime
    if isinstance(chosen, Skipped):
        return chosen
    policy = chosen.policy
    guard = next(f for f in bound if f.actuator.key == chosen.guard_key)
    target = next(f for f in bound if f.actuator.key == chosen.target_key)
    home = _interlock_home(finding, target, guard, model, nodes, taken)
    if isinstance(home, Skipped):
        return home
    conflict = finding.id
    sources = {rt: flows_from_data(ns, names[rt]) for rt, ns in nodes.items()}
    local = inspect({home: sources[home]}, ruleset, model_applications(model, sources),
                    model=model)
    builder = _Builder(nodes[home], local)  # appends to nodes[home] and rewires it in place
    builder.add(replace(chosen, guards=tuple(r.id for r in guard.actuator.nodes
                                             if r.runtime == home)))
    result.notes.extend(builder.notes)
    if policy.source == "default":
        result.notes.append(default_note(chosen, f" on {home}"))
    taken[target.actuator.key] = conflict
    result.resolved.append((finding, policy, home))
    remote = [r for r in guard.actuator.nodes if r.runtime != home]
    _remote_guards(model, nodes, home, conflict, guard, remote, target.actuator.name, policy)
    return None


def _interlock_home(finding: Finding, target: ActuatorFacts, guard: ActuatorFacts,
                    model: Model, nodes: Mapping[str, list[dict[str, Any]]],
                    taken: Mapping[str, str]) -> str | Skipped:
    """The runtime that gets the interlock resolver across runtimes (the one that commands
    its target), or why the interlock cannot be built."""
    label = target.actuator.name
    if target.actuator.key in taken:
        return Skipped(finding, f"{label} already gets a resolver for "
                       f"{taken[target.actuator.key]}")
    homes = sorted({r.runtime for r in target.actuator.nodes})
    if len(homes) != 1:
        return Skipped(finding, f"{label} is commanded on {len(homes)} runtimes "
                       f"({', '.join(homes)}); an interlock across runtimes needs the guarded "
                       "actuator on one")
    inner = _in_subflows((*target.actuator.nodes, *guard.actuator.nodes), nodes)
    if inner:
        return Skipped(finding, f"actuator node {inner[0].id} is inside a subflow; move it "
                       "out of the subflow to resolve")
    if resolution_broker(model) is None:
        return Skipped(finding, f"an interlock across runtimes {NO_BROKER}")
    return homes[0]


def _in_subflows(refs: Sequence[NodeRef],
                 nodes: Mapping[str, list[dict[str, Any]]]) -> list[NodeRef]:
    """The nodes of ``refs`` that sit inside a subflow of their runtime."""
    by_runtime = {rt: {n["id"]: n for n in ns} for rt, ns in nodes.items()}
    subflows = {rt: {n["id"] for n in ns if n.get("type") == "subflow"}
                for rt, ns in nodes.items()}
    return [r for r in refs if by_runtime[r.runtime][r.id].get("z") in subflows[r.runtime]]


NO_BROKER = ("sends the guard's state over MQTT, and the model names no broker "
             "(brokers:, resolution.broker)")


def _remote_guards(model: Model, nodes: dict[str, list[dict[str, Any]]], home: str,
                   conflict: str, guard: ActuatorFacts, remote: Sequence[NodeRef], label: str,
                   policy: Policy) -> str | None:
    """Feed the interlock resolver of ``conflict`` on ``home`` with the commands sent
    to the guard's nodes on other runtimes; what prevents it, if anything."""
    address = resolution_broker(model)
    if not remote:
        return None
    if address is None:
        return f"an interlock across runtimes {NO_BROKER}"
    inner = _in_subflows(remote, nodes)
    if inner:
        return f"guard node {inner[0].id} on {inner[0].runtime} is inside a subflow"
    topic = f"{NAMESPACE}/{conflict}/state/{_topic_level(model, guard)}"
    _state_listener(nodes[home], conflict, topic, address, guard,
                    sorted({r.runtime for r in remote}))
    for ref in remote:
        _state_publisher(nodes[ref.runtime], ref.runtime, ref.id, conflict, topic, address,
                         guard.actuator.name, label, home, policy)
    return None


def _topic_level(model: Model, guard: ActuatorFacts) -> str:
    """The guard's name in its state topic: its id in the model (ids are topic-safe)."""
    named = next((a.id for a in model.actuators if a.key == guard.actuator.key), None)
    return named or node_id("guard", guard.actuator.key)


def _state_listener(home_nodes: list[dict[str, Any]], conflict: str, topic: str,
                    address: str, guard: ActuatorFacts, runtimes: Sequence[str]) -> None:
    """``mqtt in`` (the guard's state topic) -> guard tag -> the interlock resolver,
    inside the resolver's group."""
    resolver = next(n for n in home_nodes if has_role(n, MarkerRole.RESOLVER, conflict))
    group = next(n for n in home_nodes if has_role(n, MarkerRole.GROUP, conflict))
    tab = resolver["z"]
    broker, added = _broker_config(home_nodes, address)
    in_id, tag_id = node_id(conflict, "state", "in"), node_id(conflict, "state", "tag")
    members = [n for n in home_nodes if n["id"] in group["nodes"]]
    x = max(_coordinate(resolver, "x", 400) - 400, 80)
    y = _free_y(home_nodes, tab, (x, x + 200),
                max(_coordinate(n, "y", 100) for n in members) + 40)
    home_nodes.extend([
        mqtt_in(in_id, f"ACM: state of {guard.actuator.name}", topic, broker, [[tag_id]],
                marker(MarkerRole.LINK, conflict), datatype="utf8", z=tab, g=group["id"],
                x=x, y=y),
        change_node(tag_id, f"ACM guard: {guard.actuator.name} (from {', '.join(runtimes)})",
                    [set_rule("acm.role", "guard")], [[resolver["id"]]],
                    marker(MarkerRole.TAG, conflict, restore=None), z=tab, g=group["id"],
                    x=x + 200, y=y),
    ])
    group["nodes"] = [*group["nodes"], in_id, tag_id]
    _fit_group(group, [*members, *home_nodes[-2:]])
    _extend_manifest(group, [*home_nodes[-2:], *([added] if added else [])])


def _state_publisher(runtime_nodes: list[dict[str, Any]], runtime: str, guard_id: str,
                     conflict: str, topic: str, address: str, guard_name: str, label: str,
                     home: str, policy: Policy) -> None:
    """A copy of every command wired to the guard node, published retained to ``topic``.

    The copy is taken from each wire into the guard node (the wire itself is left as
    it is), as the guard tags of a local interlock are; a command the guard node's
    configuration fixes (a Home Assistant service) becomes the payload.
    """
    by_id = {n["id"]: n for n in runtime_nodes}
    guard = by_id[guard_id]
    tab: str = guard["z"]  # an actuator node: on a tab (the analysis reads no other)
    tap_id = node_id(conflict, "state", runtime, guard_id, "tap")
    out_id = node_id(conflict, "state", runtime, guard_id, "out")
    group_id = node_id(conflict, "state", runtime, guard_id, "group")
    broker, added = _broker_config(runtime_nodes, address)
    rules = [delete_rule("acm")]
    command = _static_command(guard, by_id, runtime)
    if command is not None:
        rules.append(set_rule("payload", command))
    for source in runtime_nodes:
        for port in source.get("wires") or []:
            if guard_id in port and tap_id not in port:
                port.append(tap_id)
    gx, gy = _coordinate(guard, "x", 300), _coordinate(guard, "y", 100)
    y = _free_y(runtime_nodes, tab, (gx, gx + 200), gy + 60)
    tap = change_node(tap_id, f"ACM state: {guard_name}", rules, [[out_id]],
                      marker(MarkerRole.TAG, conflict, restore=None), z=tab, g=group_id,
                      x=gx, y=y)
    out = mqtt_out(out_id, f"ACM: state of {guard_name}", topic, broker,
                   marker(MarkerRole.PUBLISHER, conflict), qos="1", retain="true", z=tab,
                   g=group_id, x=gx + 200, y=y)
    group_marker = marker(MarkerRole.GROUP, conflict, policy=policy.name)
    group = group_node(group_id,
                       f"ACM: state of {guard_name} for the interlock on {label} ({home})",
                       [tap_id, out_id],
                       [manifest_entry([tap, out, *([added] if added else [])],
                                       {group_id: group_marker})],
                       group_marker, z=tab)
    _fit_group(group, [tap, out])  # x, y, w, h: after the marker
    runtime_nodes.extend([tap, out, group])


def _static_command(node: Mapping[str, Any], by_id: Mapping[str, Any],
                    runtime: str) -> str | None:
    """The command an actuator node sends whatever the message (HA service ...)."""
    targets = actuator_targets(node, lambda i: by_id.get(i) if isinstance(i, str) else None,
                               runtime, [(UNKNOWN, UNKNOWN)])
    commands = {t.command for t in targets if t.command is not UNKNOWN}
    return const_text(next(iter(commands))) if len(commands) == 1 else None


def _coordinate(node: Mapping[str, Any], axis: str, default: float) -> float:
    value = node.get(axis)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return default


def _free_y(nodes: Sequence[Mapping[str, Any]], tab: Any, xs: Sequence[float],
            y: float) -> float:
    """The first of ``y``, ``y + 40``, ... where nodes at ``xs`` sit on no node of ``tab``."""
    taken = [(_coordinate(n, "x", math.nan), _coordinate(n, "y", math.nan)) for n in nodes
             if n.get("z") == tab and n.get("type") != "group"]
    while any(abs(x - ox) < 100 and abs(y - oy) < 30 for x in xs for ox, oy in taken):
        y += 40
    return y


def _fit_group(group: dict[str, Any], members: Sequence[Mapping[str, Any]]) -> None:
    xs = [_coordinate(n, "x", 0) for n in members]
    ys = [_coordinate(n, "y", 0) for n in members]
    group.update({"x": min(xs) - 90, "y": min(ys) - 40, "w": max(xs) - min(xs) + 180,
                  "h": max(ys) - min(ys) + 80})


def _extend_manifest(group: dict[str, Any], added: Sequence[Mapping[str, Any]]) -> None:
    """Add the markers of ``added`` to the group's manifest (how revert finds them if the
    editor drops the ``acm`` property)."""
    for item in group.get("env") or []:
        if isinstance(item, dict) and item.get("name") == MANIFEST_ENV:
            listed = json.loads(str(item["value"]))
            listed.update({n["id"]: n[MARKER] for n in added})
            item["value"] = json.dumps(listed, sort_keys=True)
            return
    group.setdefault("env", []).append(manifest_entry(added, {}))


# ------------------------------------------------------------------------- resolved files


@dataclass(frozen=True)
class SiteFile:
    """One runtime's resolved flows file: where it goes and whether that changes it."""

    runtime: str
    path: Path
    text: str
    changed: bool  # False: the file there already holds these flows; it is not written
    before: list[dict[str, Any]] = field(repr=False)  # the nodes the flows file had
    after: list[dict[str, Any]] = field(repr=False)


def flows_text(nodes: Sequence[Mapping[str, Any]]) -> str:
    """Flows as ``acm resolve`` writes them: a JSON array, four-space indent, newline."""
    return json.dumps(list(nodes), indent=4, ensure_ascii=False) + "\n"


def site_files(model: Model, site: SiteResolution, out_dir: Path | None = None
               ) -> list[SiteFile]:
    """Each runtime's resolved flows file, in the order of ``runtimes:``.

    In place (no ``out_dir``) a flows file is rewritten only when its nodes change,
    so a file with nothing to resolve keeps its bytes; in ``out_dir`` each file
    is named as the runtime's flows file and written unless it holds these bytes.
    """
    if out_dir is not None:
        names: dict[str, str] = {}
        for runtime in model.runtimes:
            other = names.setdefault(runtime.flows.name, runtime.id)
            if other != runtime.id:
                raise AcmError(f"runtimes {other} and {runtime.id} both have a flows file "
                               f"named {runtime.flows.name}; --out-dir keeps file names, so "
                               "resolve them in place or rename one", str(model.path))
    files = []
    for runtime in model.runtimes:
        after = site.flows[runtime.id]
        before = site.before[runtime.id]
        text = flows_text(after)
        if out_dir is None:
            path, changed = runtime.flows, after != before
        else:
            path = out_dir / runtime.flows.name
            try:
                changed = path.read_bytes() != text.encode("utf-8", "backslashreplace")
            except OSError:
                changed = True
        files.append(SiteFile(runtime.id, path, text, changed, before, after))
    return files


def write_site(files: Sequence[SiteFile], out_dir: Path | None = None) -> list[SiteFile]:
    """Write the files that change, each atomically; return those written.

    Everything that can be checked first is (the folder, each target), so that a
    bad target writes nothing; a write that still fails raises an AcmError naming
    the files written before it and those not written.
    """
    if out_dir is not None:
        _create_folder(out_dir)
    pending = [f for f in files if f.changed]
    _check_targets(pending)
    written: list[SiteFile] = []
    for index, item in enumerate(pending):
        try:
            write_atomic(item.path, item.text)
        except OSError as exc:
            done = ", ".join(str(w.path) for w in written) or "none"
            rest = ", ".join(str(f.path) for f in pending[index + 1:]) or "none"
            raise AcmError(f"cannot write ({exc.strerror or exc}); it is unchanged. Written "
                           f"before it: {done}; not written: {rest}", str(item.path)) from None
        written.append(item)
    return written


def _create_folder(out_dir: Path) -> None:
    """Make the output folder (and its parents) if it is not there yet."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AcmError(f"cannot create the output folder ({exc.strerror or exc}); "
                       "nothing written", str(out_dir)) from None


def _check_targets(pending: Sequence[SiteFile]) -> None:
    """Refuse, before anything is written, a target that is a folder or sits in a folder
    that cannot be written into."""
    for item in pending:
        folder = item.path.parent
        if item.path.is_dir():
            raise AcmError("is a folder, not a flows file; nothing written", str(item.path))
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise AcmError(f"cannot write into {folder} (not a writable folder); "
                           "nothing written", str(item.path))
