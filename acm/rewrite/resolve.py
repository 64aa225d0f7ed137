"""Rewrite flows so that conflicting commands pass a resolver: resolve and revert.

For each conflict ``sources -> actuator node(s)`` becomes
``sources -> tag -> resolver -> actuator node(s)``, built from core nodes only:

* a *tag* (``change`` node, one rule) on each wire into an actuator node records,
  in ``msg._acm``, which actuator node the command was for (``target``) and which
  application sent it (``app``); where a wire's source is shared by several
  applications, *app tags* go further upstream, on the first wires that carry
  one application only, and set ``msg.acm.app``. (Tags of earlier versions set
  ``msg.acm.target``, ``.role``, ``.app`` with a rule each; resolvers still read
  them, and revert and re-resolving go by the markers, not the rules);
* the *resolver* (``function`` node) runs one vetted template per strategy
  (``acm/data/resolvers/common.js`` followed by ``<strategy>.js``); its
  configuration is JSON in the ``env`` of the ``group`` around it, never pasted
  into code;
* wires cannot cross tabs, so commands to or from another tab travel over a
  pair of ``link out``/``link in`` nodes that ACM adds;
* an actuator node inside a subflow is never touched there: the subflow
  instances on tabs through which its commands arrive stand for it, and the
  resolver goes in front of them (one output per instance).

Added nodes go into free space: boxes are estimated as Node-RED's editor
draws them, and no added node overlaps another or lies in a group it is not in.

Every added node carries ``"acm": {"role": ...}`` and every node put on a
wire remembers the wire's original target and its place in the output port,
so :func:`revert` restores the original flows exactly. Ids are derived from
the conflict id, so resolving again yields the same nodes: :func:`resolve`
first reverts, then re-applies.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from ..analysis.actuators import NodeRef
from ..analysis.catalog import actuator_targets
from ..analysis.findings import Finding, Report
from ..analysis.flows import (
    Flows,
    copy_nodes,
    flows_from_data,
    load_flows,
    restore_markers,
)
from ..analysis.graph import entry_bypass, outermost_instance
from ..analysis.keys import ha_entity
from ..analysis.values import UNKNOWN, const_text
from ..engine import Analysis, inspect, model_applications
from ..errors import AcmError
from ..model import Model, ModelActuator
from ..rules.ruleset import ActuatorFacts, RuleSet
from .nodes import (
    ENV_NAME,
    MARKER,
    MarkerRole,
    added_by_acm,
    change_node,
    env_entry,
    function_node,
    group_node,
    has_native_resolver,
    link_in,
    link_out,
    manifest_entry,
    marker,
    marker_of,
    native_resolver_node,
    resolver_marker,
    set_rule,
    tag_rule,
)
from .policy import DEFAULTS, STRATEGIES, Policy, matches
from .strategies import manifest, resolves

RESOLVED_KINDS = ("direct", "override", "indirect")  # cross-runtime: acm.nodered.site
#: Templates that are no strategy and run alone (the cross-runtime entry of acm.nodered.site).
STANDALONE_TEMPLATES = ("mqtt-source",)


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
    # (subflow instance id, actuator node id inside its subflow) for each target or
    # guard that is a subflow instance standing for an actuator node inside it
    through: tuple[tuple[str, str], ...] = ()
    why: str = ""  # interlock: why this guard (a default's is announced with it)


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


def revert(nodes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The flows without anything ACM added, with the original wiring restored.

    Nodes ACM only changed (role ``rerouted``: a publisher moved to a topic of
    ACM's namespace) get their original properties back.
    """
    nodes = restore_markers(nodes)
    by_id = {n["id"]: n for n in nodes}
    added = {n["id"] for n in nodes if added_by_acm(n)}
    if not added and not any(marker_of(n) for n in nodes):
        return [dict(n) for n in nodes]

    def original(target: str) -> str | None:
        return _original(target, added, by_id)

    return [_reverted(node, added, original, by_id) for node in nodes if node["id"] not in added]


def _original(target: str, added: Collection[str], by_id: Mapping[str, Mapping[str, Any]],
              seen: frozenset[str] = frozenset()) -> str | None:
    """Where a wire to ``target`` went before ACM put nodes on it (following the
    ``restore`` of each node ACM added), None where it goes nowhere any more."""
    if target not in added:
        return target if target in by_id else None  # a marker may name a deleted node
    restore = (marker_of(by_id[target]) or {}).get("restore")
    if not isinstance(restore, str) or restore in seen:
        return None  # a node ACM added beside a wire (a guard tap): drop the wire
    return _original(restore, added, by_id, seen | {target})


def _reverted(node: Mapping[str, Any], added: Collection[str],
              original: Callable[[str], str | None],
              by_id: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A node of the flows as it was before ACM: its changes undone, its wires and
    links back to the nodes they went to."""
    kept_node = dict(node)
    found = marker_of(node)
    if found is not None:  # rerouted: put back what ACM changed
        kept_node.update(found.get("original") or {})
        del kept_node[MARKER]
    if isinstance(node.get("wires"), list):
        kept_node["wires"] = [_restored_port(port, added, original, by_id)
                              for port in node["wires"]]
    if isinstance(node.get("links"), list):
        kept_node["links"] = [t for t in node["links"]  # (any shape off link nodes)
                              if not (isinstance(t, str) and t in added)]
    return kept_node


def _restored_port(port: Sequence[str], added: Collection[str],
                   original: Callable[[str], str | None],
                   by_id: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One output port with every wire a tag took back where it was: at the position
    the tag recorded (an editor that re-adds a changed wire puts it last in its
    port), else where the tag is. A wire the flows had twice comes back twice; a
    wire drawn by hand meanwhile to where a tag's wire goes back to is one wire
    with it, at the tag's place; wires to nodes ACM added beside a wire go."""
    back: list[tuple[int, str]] = []  # (position, original target) of the tags' wires
    for index, target in enumerate(port):
        restored = original(target) if target in added else None
        if restored is not None:
            position = (marker_of(by_id[target]) or {}).get("position")
            if not isinstance(position, int) or isinstance(position, bool) or position < 0:
                position = index
            back.append((position, restored))
    taken = {target for _, target in back}
    kept = [t for t in port if t not in added and t not in taken]
    for position, target in sorted(back, key=lambda item: item[0]):
        kept.insert(min(position, len(kept)), target)
    return kept


def resolver_options(policy: Policy, report: Report, label: str,
                     notes: list[str]) -> dict[str, Any]:
    """The policy's options as the resolver reads them: application names (tab labels)
    or ids in options of type ``applications`` (priority's ``order``, override's
    ``manual``) become ids, because tags name the application by its id; unknown ones
    are noted and passed on as they are."""
    options = dict(policy.options)
    apps = report.applications.values()
    by_name = {a.name: a.id for a in apps}
    ids = {a.id for a in apps}
    for name, spec in STRATEGIES.get(policy.strategy, {}).items():
        if spec.kind != "applications" or not isinstance(options.get(name), list):
            continue
        for item in options[name]:
            if str(item) not in by_name and str(item) not in ids:
                notes.append(f"{label}: '{item}' in {policy.strategy} option '{name}' names "
                             "no application (known: " + ", ".join(sorted(by_name)) + ")")
        options[name] = [by_name.get(str(o), o) for o in options[name]]
    return options


def template(strategy: str) -> str:
    """The function node body for ``strategy``: fixed files, nothing from flows.

    A resolution strategy's body is ``common.js`` (configuration, shared helpers)
    followed by its template file (acm/data/resolvers/, named in the strategy
    manifest); the templates in :data:`STANDALONE_TEMPLATES` stand alone. Any other
    name (a strategy read from flows that ACM does not know) is an error.
    """
    files = resources.files("acm.data") / "resolvers"
    if strategy in STANDALONE_TEMPLATES:
        return (files / f"{strategy}.js").read_text(encoding="utf-8")
    declared = manifest().strategies.get(strategy)
    if declared is None:
        raise AcmError(f"no resolver template for strategy {strategy!r} "
                       f"(known: {', '.join(STRATEGIES)})")
    return (files / "common.js").read_text(encoding="utf-8") + "\n" + \
        (files / declared.template).read_text(encoding="utf-8")


def existing_resolvers(nodes: Sequence[Mapping[str, Any]]) -> dict[str, Policy]:
    """The strategy and options of every resolver already in the flows, by conflict id."""
    found: dict[str, Policy] = {}
    for node in nodes:
        group = marker_of(node)
        if not group or group.get("role") != MarkerRole.GROUP:
            continue
        for item in node.get("env") or []:
            if isinstance(item, dict) and item.get("name") == ENV_NAME:
                try:
                    config = json.loads(str(item.get("value")))
                except json.JSONDecodeError:
                    continue
                options = dict(config.get("options") or {})
                found[str(group.get("conflict"))] = Policy(
                    str(group.get("policy") or "kept"), str(config.get("strategy")), options,
                    "kept")
    return found


def plan(analysis: Analysis, policies: Sequence[Policy], *,
         kept: Mapping[str, Policy] | None = None, only: Collection[str] | None = None,
         chosen: Policy | None = None, model: Model | None = None,
         leave: Collection[str] = ()) -> ResolveResult:
    """Pick a policy for each error/warning conflict; say why others are left.

    Precedence: ``chosen`` (for the conflicts in ``only``), then the first
    matching policy, then the resolver the flows already had (``kept``), then
    the default for the kind. With ``only``, other conflicts keep their
    resolvers and get no new ones. Conflicts in ``leave`` are the caller's to
    resolve (a site's, across runtimes): neither planned nor listed as skipped.
    """
    kept = kept or {}
    result = ResolveResult(nodes=[])
    facts = {(f.actuator.key, f.feature): f for f in analysis.facts}
    taken: dict[str, str] = {}  # actuator key -> conflict id resolving it
    entered: dict[str, str] = {}  # node a resolver sends to -> conflict id
    subflows = {runtime: set(flows.subflows) for runtime, flows in analysis.graph.flows.items()}
    for finding in sorted(analysis.report.findings, key=lambda f: _claim_order(f, only, kept)):
        if not _planned_here(finding, only, kept, leave):
            continue
        selected = only is None or finding.id in only
        bound = [facts[(a.key, a.feature)] for a in finding.actuators]
        planned = _choose(finding, bound, _candidates(selected, chosen, policies),
                          kept.get(finding.id), model, explicit=selected and chosen is not None)
        if isinstance(planned, Planned):
            planned = _placed(analysis, planned, bound, subflows, taken, entered)
        if isinstance(planned, Skipped):
            result.skipped.append(planned)
            continue
        taken[planned.target_key] = finding.id
        entered.update(dict.fromkeys(planned.targets, finding.id))
        result.planned.append(planned)
        if planned.policy.source == "default":
            result.defaults.append(planned)
    return result


def _planned_here(finding: Finding, only: Collection[str] | None,
                  kept: Mapping[str, Policy], leave: Collection[str]) -> bool:
    """Whether :func:`plan` considers ``finding``: a kind resolved inside a runtime, not
    left to the caller, not at info level (unless asked for), and asked for (all are,
    without ``only``) or already resolved in the flows."""
    if finding.kind not in RESOLVED_KINDS or finding.id in leave:
        return False
    if finding.severity == "info" and not _asked_at_info(finding, only, kept):
        return False
    return only is None or finding.id in only or finding.id in kept


def _candidates(selected: bool, chosen: Policy | None,
                policies: Sequence[Policy]) -> Sequence[Policy]:
    """The policies to choose from: the one asked for, else all; none for a conflict not
    asked for (it keeps its resolver)."""
    if not selected:
        return []
    return [chosen] if chosen is not None else policies


def _placed(analysis: Analysis, planned: Planned, bound: Sequence[ActuatorFacts],
            subflows: Mapping[str, Collection[str]], taken: Mapping[str, str],
            entered: Mapping[str, str]) -> Planned | Skipped:
    """``planned`` in front of the nodes its commands enter (:func:`_at_entries`), or why
    not: its actuator, or one of those nodes, already gets another resolver."""
    finding = planned.finding
    if planned.target_key in taken:
        return Skipped(finding, f"{planned.label} already gets a resolver "
                       f"for {taken[planned.target_key]}")
    placed = _at_entries(analysis, planned, bound, subflows)
    if isinstance(placed, Skipped):
        return placed
    busy = next((e for e in placed.targets if e in entered), None)
    if busy is not None:
        return Skipped(finding, f"its commands go through node {busy}, "
                       f"which already gets the resolver for {entered[busy]}; "
                       "that one arbitrates them too (one resolver in front "
                       "of a node)")
    return placed


def _at_entries(analysis: Analysis, planned: Planned, bound: Sequence[ActuatorFacts],
                subflows: Mapping[str, Collection[str]]) -> Planned | Skipped:
    """``planned`` with each actuator node inside a subflow replaced by the subflow
    instances on tabs through which commands reach it (docs/resolve.md,
    "Actuators inside subflows"); Skipped when some reach it otherwise."""
    facts = {f.actuator.key: f for f in bound}
    through: dict[str, str] = {}
    sides: list[tuple[str, ...]] = []
    for key, nodes in ((planned.target_key, planned.targets),
                       (planned.guard_key, planned.guards)):
        if key is None or not any(_in_subflow(analysis, NodeRef(r, n), subflows)
                                  for n in nodes for r in subflows):
            sides.append(nodes)
            continue
        entries = _entries(analysis, facts[key], subflows, through)
        if isinstance(entries, str):
            return Skipped(planned.finding, entries)
        sides.append(entries)
    if not through:
        return planned
    return replace(planned, targets=sides[0], guards=sides[1],
                   through=tuple(sorted(through.items())))


def _entries(analysis: Analysis, fact: ActuatorFacts,
             subflows: Mapping[str, Collection[str]],
             through: dict[str, str]) -> tuple[str, ...] | str:
    """The nodes on tabs through which the actuator's commands arrive: each of its
    nodes on a tab, and for one inside a subflow each outermost instance on a tab
    whose input the commands enter (noted in ``through``). A reason instead when
    commands reach a node inside a subflow from a trigger inside it (or a broker)."""
    fg = analysis.graph
    entries: dict[str, None] = {}
    for ref in fact.actuator.nodes:
        if not _in_subflow(analysis, ref, subflows):
            entries[ref.id] = None
            continue
        instances: set[str] = set()
        for driver in fact.actuator.drivers.values():
            for command in driver.sends:
                if command.ref != ref:
                    continue
                outer = outermost_instance(fg, command.node)
                bypass = None if outer is None else entry_bypass(
                    fg, command.node, outer, analysis.propagation.triggers)
                if outer is None or bypass is not None:
                    start = fg.info[bypass or command.node].origin
                    return (f"actuator node {ref.id} inside subflow "
                            f"{fg.flows[ref.runtime].by_id[ref.id].get('z')} is commanded "
                            f"from inside the subflow (node {start}), not only through an "
                            "instance's input; a resolver can only stand in front of the "
                            "instances (docs/resolve.md)")
                instances.add(fg.info[outer].origin)
        nodes = fg.flows[ref.runtime].nodes
        order = {n["id"]: i for i, n in enumerate(nodes) if n["id"] in instances}
        for instance in sorted(instances, key=lambda i: order.get(i, 0)):
            entries[instance] = None
            through.setdefault(instance, ref.id)
    return tuple(entries)


def _in_subflow(analysis: Analysis, ref: NodeRef,
                subflows: Mapping[str, Collection[str]]) -> bool:
    """Whether the node is inside a subflow (``subflows``: their ids, by runtime)."""
    flows = analysis.graph.flows.get(ref.runtime)
    node = flows.by_id.get(ref.id) if flows is not None else None
    return node is not None and node.get("z") in subflows[ref.runtime]


def _asked_at_info(finding: Finding, only: Collection[str] | None,
                   kept: Mapping[str, Policy]) -> bool:
    """Info-level findings are left alone, except those of a kind the strategy manifest
    marks ``resolve_info`` (a person's override, ACM006) when they are asked for by id
    (``--only``, the editor's Resolve) or already have a resolver."""
    default = manifest().defaults.get(finding.kind)
    return default is not None and default.resolve_info and (
        finding.id in kept or (only is not None and finding.id in only))


def _claim_order(finding: Finding, only: Collection[str] | None,
                 kept: Mapping[str, Policy]) -> tuple[int, bool]:
    """Which findings claim their actuator first (one resolver per actuator): those asked
    for by id, then those whose resolver is in the flows, then the rest in report order.
    So a resolver chosen for one finding (a person's override) is not replaced by the
    default for another finding on the same actuator (a direct one) when resolving again.
    Within each, an interlock comes after the conflicts about the actuator itself: it
    takes the actuator only when they leave it free (whatever the severities)."""
    tier = 0 if only is not None and finding.id in only else 1 if finding.id in kept else 2
    return tier, finding.kind == "indirect"


def _manual_found(act: ActuatorFacts) -> list[str]:
    """The applications whose commands to the actuator count as a person's: those that
    command it from manual triggers only, else (none does) those with any manual trigger."""
    people = act.manual - act.automated or act.manual
    return sorted(people)


#: Configuration a strategy gets from the analysis, not from the policy (the manifest's
#: ``derived``; interlock's ``guard`` is the guard's key, set where the resolver is built).
DERIVED = {"manual_found": _manual_found}


def _choose(finding: Finding, bound: list[ActuatorFacts], policies: Sequence[Policy],
            kept: Policy | None = None, model: Model | None = None,
            explicit: bool = False) -> Planned | Skipped:
    """The policy for one conflict: the first policy whose strategy resolves the
    conflict's kind (acm/data/strategies.json) and whose ``where`` holds, else the
    resolver the flows already have, else the default for the kind (for an indirect
    conflict: :func:`choose_interlock`). ``explicit``: ``policies`` is the one strategy
    asked for by id (the editor's Resolve form, ``--strategy``)."""
    if finding.kind == "indirect":
        return _choose_indirect(finding, bound, policies, kept, model, explicit)
    act = bound[0]
    policy = _direct_policy(finding, act, policies, kept)
    if isinstance(policy, Skipped):
        return policy
    return Planned(finding, _with_derived(policy, act), act.actuator.key, act.actuator.name,
                   tuple(r.id for r in act.actuator.nodes))


def _able(kind: str) -> str:
    """The strategies that resolve ``kind`` conflicts, for a reason."""
    return ", ".join(s.name for s in manifest().resolving(kind))


def _choose_indirect(finding: Finding, bound: list[ActuatorFacts],
                     policies: Sequence[Policy], kept: Policy | None, model: Model | None,
                     explicit: bool) -> Planned | Skipped:
    """An indirect conflict's interlock (:func:`choose_interlock`); a strategy asked for
    by id that cannot resolve the kind leaves it, with the reason."""
    kind = finding.kind
    wrong = next((p for p in policies if not resolves(p.strategy, kind)), None) \
        if explicit else None
    if wrong is not None:
        return Skipped(finding, f"strategy {wrong.strategy} does not resolve {kind} "
                       f"conflicts (these do: {_able(kind)})")
    return choose_interlock(finding, bound, policies, model, kept)


def _direct_policy(finding: Finding, act: ActuatorFacts, policies: Sequence[Policy],
                   kept: Policy | None) -> Policy | Skipped:
    """The policy for a conflict on one actuator: the first that resolves its kind and
    matches, else the flows' resolver, else the kind's default; or why there is none."""
    kind = finding.kind
    policy = next((p for p in policies if resolves(p.strategy, kind)
                   and matches(p, [act])), None)
    if policy is not None:
        return policy
    if kept is not None and resolves(kept.strategy, kind):
        return kept
    # a policy meant for this actuator whose strategy cannot resolve the kind
    # (say --strategy override on a direct conflict): say so, no silent default
    wrong = next((p for p in policies if matches(p, [act])), None)
    if wrong is not None:
        return Skipped(finding, f"policy {wrong.name} matches, but strategy "
                       f"{wrong.strategy} does not resolve {kind} conflicts "
                       f"(these do: {_able(kind)})")
    if kind not in DEFAULTS:
        return Skipped(finding, f"no policy matches and {kind} conflicts have no "
                       "default: see docs/resolve.md")
    strategy, options = DEFAULTS[kind]
    return Policy("default", strategy, dict(options), "default")


def _with_derived(policy: Policy, act: ActuatorFacts) -> Policy:
    """``policy`` with the options its strategy takes from the analysis (:data:`DERIVED`)."""
    derived = manifest().strategies[policy.strategy].derived
    found = {k: DERIVED[k](act) for k in derived if k in DERIVED}
    if not found:
        return policy
    # found afresh each time: a kept resolver's may be stale
    return Policy(policy.name, policy.strategy, {**policy.options, **found},
                  policy.source, policy.node)


# ------------------------------------------------------------ indirect conflicts: interlocks


@dataclass(frozen=True)
class GuardChoice:
    """Which of an indirect conflict's two actuators guards the other, and why."""

    guard: ActuatorFacts
    target: ActuatorFacts
    why: str  # for people: "guard: true on temperature in the model", ...


def opposed_properties(a: ActuatorFacts, b: ActuatorFacts) -> list[str]:
    """The properties the two actuators push in opposite directions (model effects)."""
    ea, eb = a.actuator.effects, b.actuator.effects
    return sorted(p for p in ea if p in eb and ea[p] != eb[p])


def default_guard(bound: Sequence[ActuatorFacts], model: Model | None) -> GuardChoice | str:
    """The guard a deployment model implies for an indirect conflict (docs/resolve.md,
    "The default interlock"), or why there is none.

    Over the properties the two push in opposite directions: the actuator whose effect
    is declared ``guard: true`` guards the other; otherwise, of those not declared
    ``guard: false``, the one listed first in the model's ``actuators:`` (an actuator
    the model does not declare counts as listed after every declared one; between two
    such, the conflict's order, which is by key). Both ``guard: true``: the first listed
    of the two. Both ``guard: false``: none (the text says so).
    """
    first, second = bound[0], bound[1]
    listed = _listed(model)
    props = opposed_properties(first, second) or sorted(
        set(first.actuator.effects) | set(second.actuator.effects))

    def rank(fact: ActuatorFacts) -> int:
        entry = listed.get(fact.actuator.key)
        return entry[0] if entry else len(listed)

    order = sorted((first, second), key=rank)  # stable: the conflict's order breaks ties
    flags = [_guard_flag(f, listed, props) for f in order]
    on = ", ".join(props)
    guarding = [f for f, flag in zip(order, flags, strict=True) if flag is True]
    able = guarding or [f for f, flag in zip(order, flags, strict=True) if flag is not False]
    if not able:
        return (f"the model declares guard: false on {on} for both {first.actuator.name} "
                f"and {second.actuator.name}: write an interlock policy (or choose in "
                "the editor) to say which guards which")
    guard = able[0]
    target = order[1] if guard is order[0] else order[0]
    return GuardChoice(guard, target, _why_guard(guard, target, guarding, able, on, listed))


def _listed(model: Model | None) -> dict[str, tuple[int, ModelActuator]]:
    """The model's actuators by key, with their place in ``actuators:``."""
    listed: dict[str, tuple[int, ModelActuator]] = {}
    for index, item in enumerate(model.actuators if model else ()):
        listed.setdefault(item.key, (index, item))  # a key declared twice: its first entry
    return listed


def _guard_flag(fact: ActuatorFacts, listed: Mapping[str, tuple[int, ModelActuator]],
                props: Sequence[str]) -> bool | None:
    """What the model declares of the actuator as a guard on ``props``: True (``guard:
    true`` on one), False (only ``guard: false``), None (nothing)."""
    entry = listed.get(fact.actuator.key)
    marks = [entry[1].guards[p] for p in props if entry and p in entry[1].guards]
    return True if any(marks) else (False if marks else None)


def _why_guard(guard: ActuatorFacts, other: ActuatorFacts, guarding: Sequence[ActuatorFacts],
               able: Sequence[ActuatorFacts], on: str,
               listed: Mapping[str, tuple[int, ModelActuator]]) -> str:
    """Why :func:`default_guard` chose ``guard`` (``guarding``: those declared ``guard:
    true``; ``able``: those that may guard), for people."""
    if len(guarding) == 1:
        return f"guard: true on {on} in the model"
    if len(guarding) == 2:
        return (f"both declare guard: true on {on}; {guard.actuator.name} is listed "
                "first in the model's actuators")
    if len(able) == 1:
        return f"{other.actuator.name} is declared guard: false on {on}"
    if guard.actuator.key in listed:
        return f"listed before {other.actuator.name} in the model's actuators"
    return "neither is listed in the model's actuators; the first by key"


#: Home Assistant services that make a device active (on, open), by domain; other
#: domains: ``turn_on``. A guard's state is its command, the service when the node
#: fixes it (``cover.open_cover``).
ACTIVE_SERVICES: Mapping[str, str] = {"cover": "open_cover", "valve": "open_valve"}


def active_states(guard: ActuatorFacts, base: Sequence[str]) -> list[str]:
    """The guard states that block by default: ``base`` (the manifest's ``blocked_when``
    for indirect conflicts: on, open, true, 1 ...), the service that switches on or
    opens a Home Assistant guard's domain, and each constant command the guard is sent
    that means one of these (``On``, ``light.turn_on`` ...)."""
    words = {w.lower() for w in base}
    services = {"turn_on", *ACTIVE_SERVICES.values()}
    states = list(base)
    entity = ha_entity(guard.actuator.key)
    if entity is not None and "." in entity:
        domain = entity.split(".", 1)[0]
        states.append(f"{domain}.{ACTIVE_SERVICES.get(domain, 'turn_on')}")
    for command in sorted(guard.commands):
        if command.lower() in words or command.rpartition(".")[2] in services:
            states.append(command)
    return list(dict.fromkeys(states))


def _names(named: Any, fact: ActuatorFacts, model: Model | None) -> bool:
    """Whether ``named`` (an interlock's ``guard`` option) names this actuator: by its
    key, its model id or its name."""
    ids = {m.id for m in (model.actuators if model else ()) if m.key == fact.actuator.key}
    return str(named) in {fact.actuator.key, fact.actuator.name, *ids}


def _interlock(finding: Finding, policy: Policy, guard: ActuatorFacts,
               target: ActuatorFacts, why: str) -> Planned:
    """The interlock resolver in front of ``target``, fed ``guard``'s commands; the
    policy's ``guard`` option becomes the guard's key (what the resolver gets)."""
    options = {**policy.options, "guard": guard.actuator.key}
    return Planned(finding, Policy(policy.name, policy.strategy, options, policy.source,
                                   policy.node),
                   target.actuator.key, target.actuator.name,
                   tuple(r.id for r in target.actuator.nodes), guard.actuator.key,
                   tuple(r.id for r in guard.actuator.nodes), why=why)


def default_interlock(finding: Finding, bound: Sequence[ActuatorFacts],
                      model: Model | None) -> Planned | Skipped:
    """The default for an indirect conflict no policy matches: the strategy the manifest
    names for the kind (interlock) with :func:`default_guard` as guard, blocking while
    the guard is in one of its :func:`active_states`."""
    default = manifest().defaults.get(finding.kind)
    if default is None or default.strategy is None:
        return Skipped(finding, f"no interlock policy matches and {finding.kind} conflicts "
                       "have no default: see docs/resolve.md")
    choice = default_guard(bound, model)
    if isinstance(choice, str):
        return Skipped(finding, choice)
    options = dict(default.options)
    if isinstance(options.get("blocked_when"), list):
        options["blocked_when"] = active_states(choice.guard, options["blocked_when"])
    return _interlock(finding, Policy("default", default.strategy, options, "default"),
                      choice.guard, choice.target,
                      f"{choice.guard.actuator.name} guards {choice.target.actuator.name} "
                      f"({choice.why})")


def choose_interlock(finding: Finding, bound: Sequence[ActuatorFacts],
                     policies: Sequence[Policy], model: Model | None = None,
                     kept: Policy | None = None) -> Planned | Skipped:
    """The interlock for an indirect conflict, inside a runtime or across runtimes.

    The first policy (in order) whose strategy resolves the kind and whose ``where``
    holds with one actuator as guard and the other as target, tried both ways round,
    the model's choice (:func:`default_guard`) first, and whose ``guard`` option, when
    set, names that guard; else the resolver the flows already have (same guard); else
    :func:`default_interlock`. A policy whose ``where`` holds but whose ``guard`` names
    neither actuator leaves the conflict, with the reason.
    """
    kind = finding.kind
    choice = default_guard(bound, model)
    ways = [(bound[0], bound[1]), (bound[1], bound[0])]
    if isinstance(choice, GuardChoice) and choice.guard is not bound[0]:
        ways.reverse()
    for policy in policies:
        if resolves(policy.strategy, kind):
            found = _interlock_by(policy, finding, bound, ways, model)
            if found is not None:
                return found
    if kept is not None and resolves(kept.strategy, kind):
        for guard, target in ways:
            if kept.options.get("guard") in (None, guard.actuator.key):
                return _interlock(finding, kept, guard, target, "kept from the flows")
    return default_interlock(finding, bound, model)


def _interlock_by(policy: Policy, finding: Finding, bound: Sequence[ActuatorFacts],
                  ways: Sequence[tuple[ActuatorFacts, ActuatorFacts]],
                  model: Model | None) -> Planned | Skipped | None:
    """The interlock ``policy`` makes, trying ``ways`` (guard, target) in order; Skipped
    when its ``where`` holds but its ``guard`` names neither actuator; None when its
    ``where`` holds no way round (the next policy is tried)."""
    named = policy.options.get("guard")
    for guard, target in ways:
        if not matches(policy, [guard, target]):
            continue
        if named is None or _names(named, guard, model):
            return _interlock(finding, policy, guard, target, f"policy {policy.name}")
        if not any(_names(named, f, model) for f in bound):
            both = " and ".join(f"{f.actuator.name} ({f.actuator.key})" for f in bound)
            return Skipped(finding, f"policy {policy.name} names guard '{named}', which "
                           f"is neither of the conflict's actuators: {both}")
    return None


def default_note(planned: Planned, where: str = "") -> str:
    """The note that announces a default (``where``: " on <runtime>" for a site)."""
    why = f"; {planned.why}" if planned.why else ""
    return (f"no policy matched {planned.label}{where}; used the default "
            f"{planned.policy.strategy} {dict(planned.policy.options)}{why}")


def resolve(flows: Flows, policies: Sequence[Policy] = (), ruleset: RuleSet | None = None,
            model: Model | None = None, runtime: str = "local", *,
            only: Collection[str] | None = None, chosen: Policy | None = None,
            leave: Collection[str] = (), native: bool | None = None) -> ResolveResult:
    """Resolved flows for one runtime: revert what ACM added before, then re-apply.

    With a deployment model, its applications, zones and effects apply
    (``runtime`` names this flows file's runtime in the model). ``only``
    limits new resolvers to these conflict ids (others keep theirs), and
    ``chosen`` is the policy to use for them (the editor's Resolve form);
    conflicts in ``leave`` get no resolver here (:func:`plan`). ``native``: resolvers
    are nodered-bridge's ``acm-resolver`` nodes (True) or function nodes (False); None
    keeps to what the flows have (native if ACM put a native one there before).
    Flows that define a node id twice are refused: the result would lose all but
    the last definition.
    """
    flows.require_unique_ids("resolving")
    kept = existing_resolvers(flows.nodes)
    if native is None:
        native = has_native_resolver(flows.nodes)
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
    result = plan(analysis, policies, kept=kept, only=only, chosen=chosen, model=model,
                  leave=leave)
    nodes = copy_nodes(base.nodes, base.source)  # the builder rewires in place
    builder = _Builder(nodes, analysis, native)
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


#: How Node-RED's editor sizes a node (view.js): centred on its x, y; 100 px wide
#: at least, else its label's width + 57 px rounded up to 20 px; 30 px high, more
#: for many outputs or label lines. A node whose label is hidden is 30 x 30.
NODE_WIDTH, NODE_HEIGHT = 100, 30
#: Width of a label character in the editor's 14 px sans-serif, rounded up: boxes
#: are estimated a little too wide rather than too narrow.
CHAR_WIDTH = 7.5
#: The editor draws a group this far around its members' boxes (view.js).
GROUP_MARGIN = 26
#: Free space ACM keeps around what it places, and between columns of a resolver group.
GAP = 20

Box = tuple[float, float, float, float]  # left, top, right, bottom


@lru_cache(maxsize=4096)
def _label_width(text: str) -> float:
    """The width of the widest line of a label (the editor breaks lines at ``\\n``):
    capitals a third wider than the average, East Asian wide characters twice."""
    def width(line: str) -> float:
        if line.isascii():
            return (len(line) + 0.3 * sum(map(str.isupper, line))) * CHAR_WIDTH
        return sum(2 * CHAR_WIDTH if unicodedata.east_asian_width(c) in "WF"
                   else 1.3 * CHAR_WIDTH if c.isupper() else CHAR_WIDTH for c in line)

    return max(width(line) for line in text.split("\\n"))


def node_size(node: Mapping[str, Any], subflow_names: Mapping[str, str]) -> tuple[float, float]:
    """Width and height of a node in the editor, estimated from its label."""
    wires = node.get("wires")
    outputs = node.get("outputs")
    if not isinstance(outputs, int) or isinstance(outputs, bool):
        outputs = len(wires) if isinstance(wires, list) else 0
    node_type = str(node.get("type"))
    if node_type == "junction":
        return 10, 10
    hidden = not node["l"] if "l" in node else node_type in ("link in", "link out")
    if hidden:
        return NODE_HEIGHT, max(NODE_HEIGHT, outputs * 15)
    label = _node_label(node, subflow_names)
    width = 20 * math.ceil((_label_width(label) + 57) / 20)
    lines = label.count("\\n") + 1
    return max(NODE_WIDTH, width), max(NODE_HEIGHT, 6 + 24 * lines, outputs * 15)


def _node_label(node: Mapping[str, Any], subflow_names: Mapping[str, str]) -> str:
    """The label the editor shows: the name; without one, each type has its own
    default (a topic, a URL, ...): the longest of the likely ones stands in for it."""
    name = node.get("name")
    if isinstance(name, str) and name:
        return name
    node_type = str(node.get("type"))
    if node_type.startswith("subflow:"):
        return subflow_names.get(node_type[8:], node_type)
    candidates = [node_type] + [
        value for key in ("topic", "url", "entity_id", "payload", "property", "func_name")
        if isinstance(value := node.get(key), str) and len(value) < 200]
    return max(candidates, key=len)


def node_box(node: Mapping[str, Any], subflow_names: Mapping[str, str]) -> Box | None:
    """The rectangle a node (or a group: its x, y, w, h) covers; None when not laid out."""
    x, y = _coordinate(node, "x", math.nan), _coordinate(node, "y", math.nan)
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    if node.get("type") == "group":
        w, h = _coordinate(node, "w", math.nan), _coordinate(node, "h", math.nan)
        return (x, y, x + w, y + h) if math.isfinite(w) and math.isfinite(h) else None
    w, h = node_size(node, subflow_names)
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


class _Layout:
    """The rectangles taken on each tab (node boxes, group outlines), to find free space.

    Rectangles are filed in a grid of cells, so a check reads the few cells a
    rectangle covers, not every node of the tab. A search for free space moves
    down past the lowest rectangle in the way; and since a rectangle once taken
    stays taken, a search that starts where an earlier one of the same size
    started goes on where that one ended (``skip``): placing N blocks in one
    column costs about N checks, not N².
    """

    CELL_W, CELL_H = 200.0, 60.0

    def __init__(self) -> None:
        self.cells: dict[tuple[Any, int, int], list[Box]] = {}
        self.skip: dict[tuple[Any, float, float, float, float], float] = {}

    def _cells(self, tab: Any, box: Box) -> Iterator[tuple[Any, int, int]]:
        for col in range(math.floor(box[0] / self.CELL_W), math.floor(box[2] / self.CELL_W) + 1):
            for row in range(math.floor(box[1] / self.CELL_H),
                             math.floor(box[3] / self.CELL_H) + 1):
                yield tab, col, row

    def take(self, tab: Any, box: Box) -> None:
        if (box[2] - box[0]) * (box[3] - box[1]) > 1e8:  # no sane node or group: not filed
            return
        for cell in self._cells(tab, box):
            self.cells.setdefault(cell, []).append(box)

    def lowest_in_the_way(self, tab: Any, box: Box) -> float | None:
        """The bottom of the lowest rectangle ``box`` overlaps (with GAP), or None."""
        left, top, right, bottom = box[0] - GAP, box[1] - GAP, box[2] + GAP, box[3] + GAP
        lowest = None
        for cell in self._cells(tab, (left, top, right, bottom)):
            for other in self.cells.get(cell, ()):
                if other[0] < right and left < other[2] and other[1] < bottom and top < other[3]:
                    lowest = other[3] if lowest is None else max(lowest, other[3])
        return lowest

    def free_top(self, tab: Any, left: float, top: float, width: float, height: float) -> float:
        """The first top edge from ``top`` down where a ``width`` x ``height`` rectangle
        at ``left`` overlaps nothing taken (keeping GAP), on Node-RED's 20 px grid."""
        passed = []
        while True:
            known = self.skip.get((tab, left, top, width, height))
            if known is not None:
                passed.append(top)
                top = known
                continue
            lowest = self.lowest_in_the_way(tab, (left, top, left + width, top + height))
            if lowest is None:
                break
            passed.append(top)
            top = 20 * math.ceil((lowest + GAP + 1) / 20)
        for spot in passed:  # all taken up to top: a search from any of them goes on there
            self.skip[(tab, left, spot, width, height)] = top
        return top


@dataclass
class _Resolution:
    """What :meth:`_Builder.add` gathers while it builds one resolver."""

    planned: Planned
    tab: str  # the tab of the resolver and its group: that of the first target
    members: list[str] = field(default_factory=list)  # the group's nodes
    columns: dict[str, int] = field(default_factory=dict)  # member -> 1: what feeds the
    # resolver, 0: it and its links (laid out with the group, by _Builder._place_group)
    inbox: dict[str, str] = field(default_factory=dict)  # tab -> node to wire commands to

    @property
    def conflict(self) -> str:
        return self.planned.finding.id

    @property
    def resolver_id(self) -> str:
        return node_id(self.conflict, "resolver")

    @property
    def group_id(self) -> str:
        return node_id(self.conflict, "group")

    def place(self, node: dict[str, Any], column: int) -> dict[str, Any]:
        """Lay ``node`` out in ``column`` of the group."""
        self.columns[node["id"]] = column
        return node


class _Builder:
    """Adds the nodes of one resolver after another to a mutable copy of the flows."""

    def __init__(self, nodes: list[dict[str, Any]], analysis: Analysis,
                 native: bool = False) -> None:
        self.nodes = nodes
        self.native = native  # resolvers are acm-resolver nodes, not function nodes
        self.by_id = {n["id"]: n for n in nodes}
        self.analysis = analysis
        self.propagation = analysis.propagation
        self.notes: list[str] = []
        # node ACM added beside a wire -> (the node it goes beside, on which side)
        self.anchors: dict[str, tuple[str, str]] = {}
        self.layout = _Layout()
        self.subflow_names = {n["id"]: str(n.get("name") or n["id"]) for n in nodes
                              if n.get("type") == "subflow"}
        # the flows' nodes by tab, filed in the layout when ACM first places on the tab
        self.unfiled: dict[str, list[dict[str, Any]]] = {}
        for node in nodes:
            if isinstance(node.get("z"), str):  # else on no tab
                self.unfiled.setdefault(node["z"], []).append(node)
        self.app_names = {a.id: a.name for a in analysis.report.applications.values()}
        # The flows' own wires, by target. ACM rewires them only to nodes it adds
        # and only in place (or appends), so an entry stays right while its wire is there.
        self.wired_to: dict[str, list[tuple[dict[str, Any], int, int]]] = {}
        for node in nodes:
            if marker_of(node):
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
        of the flows (not one ACM added) on a tab or in a subflow (a node with any other
        'z' never runs, and the analysis leaves it out too)."""
        return [(source, port, position)
                for source, port, position in self.wired_to.get(target, ())
                if source["wires"][port][position] == target
                and isinstance(source.get("z"), str) and source["z"]]

    def _apps(self, node_id: str) -> list[str]:
        return self.propagation.applications_at(node_id)

    def add(self, planned: Planned) -> None:
        """Add the nodes of one resolver: tags on the wires into its targets (and guards),
        the links its commands need across tabs, the resolver, and the group around it."""
        added_from = len(self.nodes)
        first = self.by_id[planned.targets[0]]
        build = _Resolution(planned, first["z"])
        for index, target_id in enumerate(planned.targets):
            self._tag_wires(build, target_id, index, "command", None)
        inside = dict(planned.through)  # a subflow instance -> the actuator node in it
        for guard_id in planned.guards:
            self._tag_wires(build, guard_id, 0, "guard",
                            self._static_command(guard_id, inside.get(guard_id)))
        outputs = [self._output(build, index, target_id)
                   for index, target_id in enumerate(planned.targets)]
        config = self._add_resolver(build, outputs)
        self._add_group(build, first, config, added_from)
        alone = {n["id"]: n for n in self.nodes[added_from:]
                 if n["id"] not in build.columns and n.get("type") != "group"}
        for node in list(alone.values()):  # the nodes on wires elsewhere, one by one
            self._place_alone(node, alone)

    def _entry_on(self, build: _Resolution, node_tab: str) -> str:
        """Where tags on ``node_tab`` send their messages: the resolver, or a link out to
        the link in beside it (one pair per tab)."""
        if node_tab == build.tab:
            return build.resolver_id
        if node_tab not in build.inbox:
            conflict, label = build.conflict, build.planned.label
            inbox_id = node_id(conflict, "inbox", build.tab)
            outbox_id = node_id(conflict, "outbox", node_tab)
            inbox = self.by_id.get(inbox_id)
            if inbox is None:
                inbox = self._append(build.place(link_in(
                    inbox_id, f"ACM: into {label} resolver", [], [[build.resolver_id]],
                    marker(MarkerRole.LINK, conflict), z=build.tab, g=build.group_id), 1))
                build.members.append(inbox_id)
            inbox["links"].append(outbox_id)
            self._append(link_out(outbox_id, f"ACM: to {label} resolver", [inbox_id],
                                  marker(MarkerRole.LINK, conflict), z=node_tab))
            build.inbox[node_tab] = outbox_id
        return build.inbox[node_tab]

    def _wire_tag_id(self, conflict: str, role: str, source: str, port: int, target: str,
                     position: int) -> str:
        """The id of the tag on one wire; a port that has the wire twice gets a tag each."""
        tag_id = node_id(conflict, role, source, str(port), target)
        if tag_id in self.by_id:
            tag_id = node_id(conflict, role, source, str(port), target, str(position))
        return tag_id

    def _tag_wires(self, build: _Resolution, target_id: str, index: int, role: str,
                   command: str | None) -> None:
        """A tag on each wire into ``target_id``: on the wire for a command, beside it
        (a copy to the resolver) for a guard."""
        conflict = build.conflict
        for source, port, position in self._incoming(target_id):
            tag_id = self._wire_tag_id(conflict, role, source["id"], port, target_id, position)
            apps = self._apps(source["id"])
            if len(apps) > 1:  # the app tags upstream set msg.acm.app
                self._tag_upstream(source["id"], conflict)
            rule = tag_rule(index, role, apps[0] if len(apps) == 1 else None, command)
            node_tab = source["z"]
            on_wire = role == "command"
            tag = change_node(
                tag_id, f"ACM {role}: {self._app_label(apps)}", [rule],
                [[self._entry_on(build, node_tab)]],
                marker(MarkerRole.TAG, conflict, restore=target_id if on_wire else None,
                       **({"position": position} if on_wire else {})), z=node_tab)
            if on_wire:
                source["wires"][port][position] = tag_id
            else:
                source["wires"][port].append(tag_id)  # a copy to the resolver
            if node_tab == build.tab:
                tag["g"] = build.group_id  # joins the group ("g" after the marker, as ever)
                build.members.append(tag_id)
                build.place(tag, 1)
            else:
                self.anchors[tag_id] = (source["id"], "right")
                self.anchors.setdefault(tag["wires"][0][0], (tag_id, "right"))
            self._append(tag)

    def _output(self, build: _Resolution, index: int, target_id: str) -> list[str]:
        """The resolver's output port to target ``index``: wired to it on the resolver's
        tab, else through a link out / link in pair."""
        target = self.by_id[target_id]
        if target["z"] == build.tab:
            return [target_id]
        conflict = build.conflict
        out_id = node_id(conflict, "out", str(index))
        in_id = node_id(conflict, "deliver", str(index))
        self._append(build.place(link_out(
            out_id, f"ACM: to {target.get('name') or target_id}", [in_id],
            marker(MarkerRole.LINK, conflict), z=build.tab, g=build.group_id), 0))
        build.members.append(out_id)
        self.anchors[in_id] = (target_id, "left")
        self._append(link_in(in_id, f"ACM: from {build.planned.label} resolver", [out_id],
                             [[target_id]], marker(MarkerRole.LINK, conflict),
                             z=target["z"]))
        return [out_id]

    def _add_resolver(self, build: _Resolution, outputs: list[list[str]]) -> dict[str, Any]:
        """Add the resolver (a function node, or a native acm-resolver node); returns its
        configuration (the group's env)."""
        planned, policy, conflict = build.planned, build.planned.policy, build.conflict
        options = resolver_options(policy, self.analysis.report, planned.label, self.notes)
        if planned.guard_key:
            options["guard"] = planned.guard_key
        config = {
            "strategy": policy.strategy, "conflict": conflict, "label": planned.label,
            "targets": len(planned.targets), "options": options,
        }
        name = f"ACM {policy.strategy}: {planned.label}"
        mark = resolver_marker(policy.strategy, conflict, policy.name)
        if self.native:
            self._append(native_resolver_node(
                build.resolver_id, name, policy.strategy, template(policy.strategy),
                len(planned.targets), outputs, mark, z=build.tab, g=build.group_id))
        else:
            self._append(function_node(
                build.resolver_id, name, template(policy.strategy), len(planned.targets),
                outputs, mark, z=build.tab, g=build.group_id))
        build.members.append(build.resolver_id)
        build.columns[build.resolver_id] = 0
        return config

    def _add_group(self, build: _Resolution, first: Mapping[str, Any], config: dict[str, Any],
                   added_from: int) -> None:
        """Lay out the resolver's group beside ``first`` and add it, with the resolver's
        configuration and the manifest of the nodes added since ``added_from``."""
        planned, conflict, group_id = build.planned, build.conflict, build.group_id
        policy = planned.policy
        name = f"ACM: {planned.finding.rule} conflict on {planned.label} ({policy.strategy})"
        outline = self._place_group(first, [self.by_id[m] for m in build.members],
                                    build.columns, name)
        env = [env_entry(ENV_NAME, config),
               manifest_entry(self.nodes[added_from:],
                              {group_id: marker(MarkerRole.GROUP, conflict, policy=policy.name)})]
        box = (_whole(outline[0]), _whole(outline[1]), _whole(outline[2] - outline[0]),
               _whole(outline[3] - outline[1]))
        self._append(group_node(group_id, name, build.members, env,
                                marker(MarkerRole.GROUP, conflict, policy=policy.name),
                                z=build.tab, box=box))

    def _place_group(self, first: Mapping[str, Any], members: Sequence[dict[str, Any]],
                     columns: Mapping[str, int], name: str) -> Box:
        """Lay out a resolver's group in free space next to its first actuator node;
        returns the group's outline (what the editor draws: its members' boxes plus
        GROUP_MARGIN, at least as wide as its label).

        Two columns: what feeds the resolver (tags, link in) on the left, the
        resolver with its link outs on the right. The group goes left of the
        actuator node, with the resolver level with it where that is free, else
        further down; where the tab has no room on the left, from its left edge.
        """
        tab = first.get("z")
        self._file_tab(tab)
        sizes = {n["id"]: node_size(n, self.subflow_names) for n in members}
        resolver = members[-1]
        stacks: list[list[dict[str, Any]]] = [
            [n for n in members if columns[n["id"]] == 1],
            [resolver, *(n for n in members if columns[n["id"]] == 0 and n is not resolver)]]
        widths = [max((sizes[n["id"]][0] for n in stack), default=0.0) for stack in stacks]
        lefts = [0.0, widths[0] + 2 * GAP if stacks[0] else 0.0]
        spot: dict[str, tuple[float, float]] = {}  # member -> centre, from the content's corner
        bottom = 0.0
        for stack, left, width in zip(stacks, lefts, widths, strict=True):
            y = 0.0
            for n in stack:
                w, h = sizes[n["id"]]
                spot[n["id"]] = (left + width / 2, y + h / 2)
                y += h + GAP
            bottom = max(bottom, y - GAP)
        content = lefts[1] + widths[1]
        width = max(content + 2 * GROUP_MARGIN, _label_width(name) + 8)
        height = bottom + 2 * GROUP_MARGIN
        first_box = node_box(first, self.subflow_names) or (160.0, 85.0, 260.0, 115.0)
        level = (first_box[1] + first_box[3]) / 2
        left = max(0.0, first_box[0] - 2 * GAP - GROUP_MARGIN - content)
        left = float(math.floor(left))
        width, height = float(math.ceil(width)), float(math.ceil(height))
        top = 20.0 * round((level - spot[resolver["id"]][1] - GROUP_MARGIN) / 20)
        top = self.layout.free_top(tab, left, max(0.0, top), width, height)
        for n in members:
            x, y = spot[n["id"]]
            n["x"], n["y"] = _whole(left + GROUP_MARGIN + x), _whole(top + GROUP_MARGIN + y)
        outline = (left, top, left + width, top + height)
        self.layout.take(tab, outline)
        return outline

    def _place_alone(self, node: dict[str, Any], waiting: dict[str, dict[str, Any]]) -> None:
        """Put a node beside the node it belongs to (its anchor: right of a wire's
        source, left of the node it delivers to), moved down to the first spot where
        its box overlaps nothing. An anchor among ``waiting`` is placed first."""
        if waiting.pop(node["id"], None) is None:
            return  # placed already
        anchor_id, side = self.anchors.get(node["id"], ("", "right"))
        if anchor_id in waiting:
            self._place_alone(waiting[anchor_id], waiting)
        anchor = self.by_id.get(anchor_id) or {}
        self._file_tab(node.get("z"))
        w, h = node_size(node, self.subflow_names)
        box = node_box(anchor, self.subflow_names) or (100.0, 85.0, 200.0, 115.0)
        left = box[2] + GAP if side == "right" else box[0] - GAP - w
        left = float(math.floor(max(0.0, left)))
        top = self.layout.free_top(node.get("z"), left, max(0.0, (box[1] + box[3] - h) / 2),
                                   w, h)
        node["x"], node["y"] = _whole(left + w / 2), _whole(top + h / 2)
        self.layout.take(node.get("z"), (left, top, left + w, top + h))

    def _app_label(self, apps: list[str]) -> str:
        return ", ".join(self.app_names.get(a, a) for a in apps) or "unknown"

    def _file_tab(self, tab: Any) -> None:
        """File the boxes of the flows' own nodes on ``tab`` before placing anything there."""
        for node in self.unfiled.pop(tab, ()) if isinstance(tab, str) else ():
            box = node_box(node, self.subflow_names)
            if box is not None:
                self.layout.take(tab, box)

    def _static_command(self, actuator_id: str, inside: str | None = None) -> str | None:
        """The command an actuator node sends whatever the message (HA service ...);
        for a subflow instance, the actuator node ``inside`` its subflow."""
        node = self.by_id[inside or actuator_id]
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
            for pred in graph.pred.get(current, ()):
                if pred in seen or pred not in self.by_id:  # only top-level nodes
                    continue
                seen.add(pred)
                apps = self._apps(pred)
                source = self.by_id[pred]
                wired = [(p, i) for p, port in enumerate(source.get("wires") or [])
                         for i, t in enumerate(port) if t == current]
                if len(apps) == 1 and wired:
                    self._app_tags(source, current, wired, apps[0], conflict)
                elif len(apps) > 1 or not wired:
                    queue.append(pred)

    def _app_tags(self, source: dict[str, Any], current: str, wired: Sequence[tuple[int, int]],
                  app: str, conflict: str) -> None:
        """An app tag (``msg.acm.app``) on each of the wires from ``source`` to ``current``."""
        for port, position in wired:
            tag_id = self._wire_tag_id(conflict, "app", source["id"], port, current, position)
            source["wires"][port][position] = tag_id
            self.anchors[tag_id] = (source["id"], "right")
            self._append(change_node(
                tag_id, f"ACM app: {self._app_label([app])}", [set_rule("acm.app", app)],
                [[current]], marker(MarkerRole.TAG, conflict, restore=current,
                                    position=position), z=source["z"]))


def _whole(value: float) -> int | float:
    """A coordinate as Node-RED writes it: a whole number where it is one."""
    return int(value) if float(value).is_integer() else value


def describe_changes(before: Sequence[Mapping[str, Any]],
                     after: Sequence[Mapping[str, Any]]) -> list[str]:
    """A readable diff: nodes added and removed, wires changed."""
    old = {n["id"]: n for n in before}
    new = {n["id"]: n for n in after}
    name = _namer(before, after)
    lines = [f"+ {name(new[i])}" for i in new if i not in old]
    lines += [f"- {name(old[i])}" for i in old if i not in new]
    for node_id in new:
        if node_id in old:
            lines += _node_changes(old[node_id], new[node_id], name(new[node_id]))
    return lines


def _namer(before: Sequence[Mapping[str, Any]],
           after: Sequence[Mapping[str, Any]]) -> Callable[[Mapping[str, Any]], str]:
    """How :func:`describe_changes` names a node: type, id, name and tab."""
    tabs = {n["id"]: n.get("label") or n["id"] for n in after if n.get("type") == "tab"}
    tabs.update({n["id"]: n.get("label") or n["id"] for n in before if n.get("type") == "tab"})

    def name(node: Mapping[str, Any]) -> str:
        label = node.get("name") or node.get("label") or ""
        where = tabs.get(str(node.get("z")), "")
        return f"{node['type']} {node['id']}" + (f" \"{label}\"" if label else "") + \
            (f" on {where}" if where else "")

    return name


def _node_changes(was: Mapping[str, Any], now: Mapping[str, Any], name: str) -> list[str]:
    """What changed in one node (``name``: how it is named): its wires, then each other
    property but its place and marker (credentials never shown)."""
    lines = []
    if was.get("wires") != now.get("wires"):
        lines.append(f"~ wires of {name}: {was.get('wires')} -> {now.get('wires')}")
    for key in sorted((was.keys() | now.keys()) - {"wires", "x", "y", MARKER}):
        if was.get(key) == now.get(key):
            continue
        if key == "credentials":  # never print secrets
            lines.append(f"~ credentials of {name}: changed (not shown)")
            continue
        lines.append(f"~ {key} of {name}: {_short(was.get(key))} -> {_short(now.get(key))}")
    return lines


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if value is not None else "(none)"
    return text if len(text) <= 60 else text[:57] + "..."
