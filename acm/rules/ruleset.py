"""Rule sets: the built-in rules and users' rule files, and what rules can talk about.

The conflict rules are written in the ACM rule language; this module defines
the vocabulary they use (actuators and their attributes, functions), loads
and checks rule files, applies ``override`` / ``disable`` / ``enable``, and
evaluates the rules over actuator facts into :class:`~acm.analysis.findings.Finding` s.
It also declares ``duplicate-id``, a built-in rule about the flows files
themselves, which the rule language (over actuators) cannot express.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from importlib import resources
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from ..analysis.actuators import Actuator, Command, NodeRef
from ..analysis.catalog import AUTOMATION, EXTERNAL, MANUAL, Provenance
from ..analysis.findings import (
    SEVERITIES,
    CommandPath,
    Finding,
    Involved,
    RuleInfo,
    Severity,
    report_order,
)
from ..analysis.flows import DuplicateId, Flows
from ..analysis.propagate import Source
from ..analysis.values import UNKNOWN, Value, const_text
from ..errors import RuleError
from ..once import Once
from .dsl import ast
from .dsl.cache import cached_rules
from .dsl.check import Attribute, Function, Vocabulary, check_rule
from .dsl.evaluate import (
    Domains,
    Plan,
    compile_expr,
    compile_template,
    enumerate_matches,
    plan_rule,
)
from .suppress import UNUSED

BUILTIN_RULES = "builtin.acm"


PERSON = frozenset({MANUAL})
AUTOMATED = frozenset({AUTOMATION, EXTERNAL})

class _Who(NamedTuple):
    """The applications that drive an actuator from automations and by hand, and the
    runtimes of the automations."""

    automated: frozenset[str]
    manual: frozenset[str]
    automated_runtimes: frozenset[str]


@dataclass(frozen=True)
class ActuatorFacts:
    """An actuator as rules see it: one feature of it when its drivers use several."""

    actuator: Actuator
    app_names: Mapping[str, str]
    feature: str | None = None
    split: bool = False  # one of several features of the device: see facts_of
    # the applications that command each actuator key (to see who sets a gate)
    commanders: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @Once
    def _who(self) -> _Who:
        """Who drives it, read in one pass over the commands: every device rule reads
        all three, and most actuators have a single command."""
        automated: list[str] = []
        manual: list[str] = []
        runtimes: list[str] = []
        for app, driver in self.actuator.drivers.items():
            for c in driver.sends:
                provenance = c.provenance
                if provenance in AUTOMATED:
                    automated.append(app)
                    runtimes.append(c.origin)
                elif provenance in PERSON:
                    manual.append(app)
        return _Who(frozenset(automated), frozenset(manual), frozenset(runtimes))

    def _values(self, provenances: frozenset[str] | None) -> list[Value]:
        return [c.value for d in self.actuator.drivers.values() for c in d.sends
                if provenances is None or c.provenance in provenances]

    @Once
    def automated(self) -> frozenset[str]:
        return self._who.automated

    @Once
    def manual(self) -> frozenset[str]:
        return self._who.manual

    @Once
    def _crossing(self) -> tuple[tuple[Command, ...], frozenset[str]]:
        """Automations' commands that another application's automation can cross, and the
        gates through which the others take turns.

        Two commands of different applications do not cross when one of the
        applications sets a gate of the other's command: they take turns by
        design (a mode that switches a room's automation off before taking
        the light over). Commands of one application with the same gates
        behave alike, so pairs are checked per such group.
        """
        groups = self._automation_groups()
        in_play = frozenset(g for (_, gates) in groups for g in gates)
        by_app: dict[str, list[frozenset[str]]] = {}  # app -> the gates of each of its groups
        for app, gates in groups:
            by_app.setdefault(app, []).append(gates)
        setters = {app for g in in_play for app in self.commanders.get(g, ())}
        if setters.isdisjoint(by_app):  # no gates (most actuators), or none that one of the
            # automations sets: every automation crosses the others
            if len(by_app) < 2:
                return (), frozenset()
            return tuple(c for commands in groups.values() for c in commands), frozenset()
        sets = {app: frozenset(g for g in in_play if app in self.commanders.get(g, ()))
                for app in by_app}  # app -> the gates in play it sets
        crossing: list[Command] = []
        turns: set[str] = set()
        for (app, gates), commands in groups.items():
            if _group_crosses(app, gates, by_app, sets, turns):
                crossing.extend(commands)
        return tuple(crossing), frozenset(turns)

    def _automation_groups(self) -> dict[tuple[str, frozenset[str]], list[Command]]:
        """The automations' commands, grouped by application and the gates they pass."""
        groups: dict[tuple[str, frozenset[str]], list[Command]] = {}
        for driver in self.actuator.drivers.values():
            for c in driver.sends:
                if c.provenance in AUTOMATED:
                    groups.setdefault((c.source.application, c.gates), []).append(c)
        return groups

    @property
    def contending(self) -> tuple[Command, ...]:
        return self._crossing[0]

    @property
    def turn_taking(self) -> str:
        """For messages: how automations that do not contend take turns, or ""."""
        if len(self.contenders) >= 2 or not self._crossing[1]:
            return ""
        names = ", ".join(sorted(g.split(":", 1)[-1] for g in self._crossing[1]))
        return f"; they take turns through {names}"

    @Once
    def contenders(self) -> frozenset[str]:
        return frozenset(c.source.application for c in self.contending)

    @Once
    def contending_commands(self) -> frozenset[str]:
        return frozenset(const_text(c.value) for c in self.contending if c.value is not UNKNOWN)

    @Once
    def contending_dynamic(self) -> bool:
        return any(c.value is UNKNOWN for c in self.contending)

    @Once
    def commands(self) -> frozenset[str]:
        return frozenset(const_text(c) for c in self._values(None) if c is not UNKNOWN)

    @Once
    def automated_commands(self) -> frozenset[str]:
        return frozenset(const_text(c) for c in self._values(AUTOMATED) if c is not UNKNOWN)

    @Once
    def dynamic(self) -> bool:
        return UNKNOWN in self._values(None)

    @Once
    def automated_dynamic(self) -> bool:
        return UNKNOWN in self._values(AUTOMATED)

    @Once
    def automated_runtimes(self) -> frozenset[str]:
        return self._who.automated_runtimes

    @property
    def title(self) -> str:
        return f"{self.actuator.name} ({self.feature})" if self.feature else self.actuator.name

    @Once
    def application_names(self) -> frozenset[str]:
        return self.names(self.actuator.drivers)

    def names(self, apps: Iterable[str]) -> frozenset[str]:
        return frozenset(self.app_names.get(a, a) for a in apps)


def facts_of(actuator: Actuator, app_names: Mapping[str, str],
             commanders: Mapping[str, frozenset[str]] | None = None) -> list[ActuatorFacts]:
    """The facts rules see: one per feature when the drivers act on several features.

    A command whose feature is not known (None) acts on every feature, so it
    is in each feature's facts.
    """
    features = sorted({c.feature for d in actuator.drivers.values() for c in d.sends
                       if c.feature is not None})
    commanders = commanders or {}
    if len(features) < 2:  # one feature (named in findings), or the whole device
        return [ActuatorFacts(actuator, app_names, features[0] if features else None,
                              False, commanders)]
    return [ActuatorFacts(actuator.keeping(partial(_on_feature, feature)), app_names,
                          feature, True, commanders)
            for feature in features]


def _on_feature(feature: str, command: Command) -> bool:
    return command.feature in (None, feature)


def command_text(commands: frozenset[str], dynamic: bool) -> str:
    """The commands for people: constants, and whether some are computed at run time."""
    listed = ", ".join(sorted(commands))
    if not dynamic:
        return listed or "none"
    return f"{listed} and computed at run time" if listed else "computed at run time"


def _count(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, (str, set, frozenset, list, tuple, dict)):
        return len(value)
    return 1


ACTUATOR_ATTRIBUTES: Mapping[str, Attribute] = {
    "key": Attribute(attrgetter("actuator.key"), "stable actuator key, e.g. ha:light.hall"),
    "kind": Attribute(attrgetter("actuator.kind"), "binding type: mqtt, ha, gpio, http, ..."),
    "name": Attribute(attrgetter("actuator.name"), "readable target: topic, entity id, pin"),
    "applications": Attribute(attrgetter("actuator.applications"),
                              "ids of the applications that can drive it"),
    "application_names": Attribute(attrgetter("application_names"),
                                   "names (tab labels) of those applications"),
    "automated": Attribute(attrgetter("automated"),
                           "applications that drive it from an automation or external trigger"),
    "automated_names": Attribute(lambda f: f.names(f.automated), "names of those applications"),
    "manual": Attribute(attrgetter("manual"),
                        "applications where a person commands it (dashboard, voice, button)"),
    "manual_names": Attribute(lambda f: f.names(f.manual), "names of those applications"),
    "commands": Attribute(attrgetter("commands"),
                          "distinct constant commands sent to it (e.g. on, off)"),
    "dynamic": Attribute(attrgetter("dynamic"),
                         "true when some command is only known at run time"),
    "command_text": Attribute(lambda f: command_text(f.commands, f.dynamic),
                              "the commands for people ('on, off and computed at run time')"),
    "contenders": Attribute(attrgetter("contenders"),
                            "automated applications with commands no gate of another "
                            "application holds back (see docs/analysis.md, Gates)"),
    "contender_names": Attribute(lambda f: f.names(f.contenders), "names of those applications"),
    "turn_taking": Attribute(attrgetter("turn_taking"),
                             "for messages: '; they take turns through <gates>' when the "
                             "automations are not contenders, else empty"),
    "contending_commands": Attribute(attrgetter("contending_commands"),
                                     "distinct constant commands of the contenders"),
    "contending_dynamic": Attribute(attrgetter("contending_dynamic"),
                                    "true when some contender's command is only known at run "
                                    "time"),
    "contending_command_text": Attribute(
        lambda f: command_text(f.contending_commands, f.contending_dynamic),
        "the contenders' commands, for people"),
    "automated_commands": Attribute(attrgetter("automated_commands"),
                                    "distinct constant commands from automations"),
    "automated_dynamic": Attribute(attrgetter("automated_dynamic"),
                                   "true when some automation's command is only known at run "
                                   "time"),
    "automated_command_text": Attribute(
        lambda f: command_text(f.automated_commands, f.automated_dynamic),
        "the commands from automations, for people"),
    "role": Attribute(attrgetter("actuator.role"),
                      "what it is: device, channel (log, speech, transport) or state (helpers)"),
    "feature": Attribute(attrgetter("feature"),
                         "the feature of the device the facts are about (thermostat mode, "
                         "setpoint ...), or none for the whole device"),
    "runtimes": Attribute(attrgetter("actuator.runtimes"),
                          "runtimes whose flows drive it"),
    "automated_runtimes": Attribute(attrgetter("automated_runtimes"),
                                    "runtimes whose automations drive it"),
    "title": Attribute(attrgetter("title"),
                       "the name, with the feature when the facts are about one feature"),
    "nodes": Attribute(lambda f: frozenset(r.id for r in f.actuator.nodes),
                       "ids of its actuator nodes"),
    "zone": Attribute(attrgetter("actuator.zone"), "zone from the deployment model, or none"),
    "effects": Attribute(lambda f: frozenset(f"{p} {d}" for p, d in f.actuator.effects.items()),
                         "effects from the model, as 'property direction' texts"),
    "properties": Attribute(lambda f: frozenset(f.actuator.effects),
                            "physical properties it affects (temperature, ...)"),
    "declared": Attribute(attrgetter("actuator.declared"),
                          "true when the deployment model names it"),
    "managed": Attribute(lambda f: f.actuator.managed_by is not None,
                         "true when every command passes an ACM resolver"),
    "strategy": Attribute(attrgetter("actuator.managed_by"),
                          "the strategy of that resolver (priority, lock, ...), or none"),
}


def _effects(value: Any) -> Mapping[str, str]:
    if not isinstance(value, ActuatorFacts):
        raise TypeError("expected an actuator")
    return value.actuator.effects


def _opposing(a: Any, b: Any) -> frozenset[str]:
    ea, eb = _effects(a), _effects(b)
    return frozenset(p for p in ea.keys() & eb.keys() if ea[p] != eb[p])


def _compounding(a: Any, b: Any) -> frozenset[str]:
    ea, eb = _effects(a), _effects(b)
    return frozenset(p for p in ea.keys() & eb.keys() if ea[p] == eb[p])

FUNCTIONS: Mapping[str, Function] = {
    "count": Function(1, _count, "number of items in a set (or characters in a text)"),
    "opposing": Function(2, _opposing,
                         "properties two actuators push in opposite directions",
                         params=("actuator", "actuator")),
    "compounding": Function(2, _compounding,
                            "properties two actuators push in the same direction",
                            params=("actuator", "actuator")),
}

def _keys(chain: Any) -> frozenset[str]:
    return frozenset(a.key for a in chain.actuators)


# A chain through the environment (acm.analysis.environment.Chain): one actuator's effect on a
# zone's property, a sensor of the model that measures it, a flow's trigger listening to
# the sensor, the actuator its messages reach; or a loop of such steps.
CHAIN_ATTRIBUTES: Mapping[str, Attribute] = {
    "steps": Attribute(lambda c: len(c.steps), "number of steps through the environment"),
    "closed": Attribute(attrgetter("closed"),
                        "true for a loop: the last step commands the first actuator again"),
    "counteracts": Attribute(attrgetter("counteracts"),
                             "true when a reacting application commands an actuator that pushes "
                             "the measured property of that zone back the other way"),
    "on_loop": Attribute(attrgetter("on_loop"),
                         "true for a one-step chain that is part of a closed chain"),
    "keys": Attribute(_keys, "keys of the actuators along it"),
    "first": Attribute(attrgetter("first.cause.name"), "name of the actuator it starts at"),
    "last": Attribute(lambda c: c.steps[-1].target.name,
                      "name of the actuator the last reaction commands"),
    "starters": Attribute(attrgetter("starters"),
                          "applications whose automations command the first actuator (not "
                          "the one reacting to it)"),
    "starter_names": Attribute(lambda c: c.names(c.starters), "names of those applications"),
    "reacting": Attribute(attrgetter("reacting"),
                          "applications whose triggers react to a sensor along it"),
    "reacting_names": Attribute(lambda c: c.names(c.reacting), "names of those applications"),
    "applications": Attribute(attrgetter("applications"),
                              "every application along it (starters and reacting)"),
    "application_names": Attribute(lambda c: c.names(c.applications),
                                   "names of those applications"),
    "properties": Attribute(lambda c: frozenset(s.quantity for s in c.steps),
                            "the physical properties it goes through"),
    "zones": Attribute(lambda c: frozenset(s.zone for s in c.steps), "the zones it goes through"),
    "sensors": Attribute(lambda c: frozenset(x.id for s in c.steps for x in s.sensors),
                         "ids of the model's sensors it goes through"),
    "path": Attribute(attrgetter("path_text"),
                      "the way through the world: actuator → property (zone) → "
                      "'application: trigger' → actuator"),
    "property_text": Attribute(attrgetter("property_text"),
                               "the properties with their zones: 'temperature (Office)'"),
    "outcome": Attribute(attrgetter("outcome"), "what it comes to, in words"),
    "managed": Attribute(lambda c: all(s.target.managed_by is not None for s in c.steps),
                         "true when every actuator a reaction commands is behind an ACM "
                         "resolver"),
}


VOCABULARY = Vocabulary(types={"actuator": ACTUATOR_ATTRIBUTES, "chain": CHAIN_ATTRIBUTES},
                        functions=FUNCTIONS,
                        identity={"actuator": lambda f: f.actuator.key,
                                  "chain": attrgetter("ident")})



def _group_crosses(app: str, gates: frozenset[str], by_app: Mapping[str, list[frozenset[str]]],
                   sets: Mapping[str, frozenset[str]], turns: set[str]) -> bool:
    """Whether the commands of ``app`` that pass ``gates`` cross another application's.

    A pair of groups (a, b) of different applications is held when a's gates meet
    what b's application sets, or b's gates what a's sets; a group crosses when
    some pair it is in is not held. Pairs are walked per application of b, so an
    application that sets no gate costs one check, not one per group. The gates
    that hold a pair are added to ``turns``.
    """
    mine = sets[app]
    crosses = False
    for other, their_groups in by_app.items():
        if other == app:
            continue
        blocked = gates & sets[other]
        if blocked:
            turns |= blocked
        if not mine:
            crosses = crosses or not blocked
            continue
        for other_gates in their_groups:
            held = other_gates & mine
            if held:
                turns |= held
            elif not blocked:
                crosses = True
    return crosses

@dataclass(frozen=True)
class LoadedRule:
    rule: ast.Rule
    plan: Plan
    code: str
    enabled: bool
    forced_level: str | None = None  # set by 'override R severity L'

    @property
    def info(self) -> RuleInfo:
        levels = tuple(dict.fromkeys(c.level for c in self.rule.severities))
        if self.forced_level:
            levels = (self.forced_level,)
        ordered = tuple(sorted(levels, key=SEVERITIES.index, reverse=True))
        return RuleInfo(
            name=self.rule.name, code=self.code, kind=self.rule.kind or self.rule.name,
            summary=self.rule.summary or "", doc=self.rule.doc or self.rule.summary or "",
            levels=ordered, enabled=self.enabled, source=self.rule.pos.file,
        )


DUPLICATE_ID = RuleInfo(
    name="duplicate-id", code="ACM009", kind="duplicate-id",
    summary="A node id is defined more than once in a flows file.",
    doc="""\
Node-RED finds nodes by id: wires, links and config references name ids.
A flows file that defines one id twice (a tab copied by hand in the JSON,
two exports pasted together) still loads. Node-RED's runtime keeps the
last definition of an id on each tab or subflow (of tabs, subflows and
config nodes outside tabs: the last in the file), so copies on one tab
are dropped but copies on two tabs both run. ACM keeps only the last
definition in the file, and reports every duplicated id with each place
it is defined: its position in the file's array of nodes (from 0), type,
name and tab or subflow.

When the copies are on different tabs, ACM analyses less than runs: the
earlier copies are left out, and wires to the id, even from an earlier
copy's tab, reach the last one. acm resolve and acm apply refuse such
flows: writing them back would lose the earlier definitions.

Severity:
- warning: always.

Anti-pattern: the JSON of the "Lights" tab is pasted into flows.json a
second time with a new tab id and the label "Lights (weekend)"; its nodes
keep their ids, so elements 2 and 9 are both node 6f1c2a3b4d5e6f70.

Best practice: copy tabs in the editor (copy and paste, or Export and
Import), which gives the copies new ids; to repair a file, give one copy's
nodes new ids, and change the wires, links and groups that name them.""",
    levels=("warning",), enabled=True, source="<builtin>",
)

#: Built-in rules written in Python: rule files cannot reuse their names or codes.
#: runtime (ACM012): found by acm monitor on the running site, not by the rules below;
#: listed by `acm rules` so that --explain and acm-ignore know it
RUNTIME = RuleInfo(
    name="runtime", code="ACM012", kind="runtime",
    summary="Different sources sent different commands to one actuator within a short "
            "time, on the running site (acm monitor).",
    doc="""\
Recorded by `acm monitor` on the site's MQTT brokers, not derived from the
flows: within the window (default 60 s) one actuator received different
values from different sources. A source is an application when ACM can tell
(an MQTT 5 user property acm-app, the topic of a cross-runtime resolver, the
only application static analysis knows for that command), the resolver when
every command passes an ACM resolver, and unknown otherwise.

Severity:
- error: two applications that ACM can tell apart;
- warning: a source is unknown (two unknown sources may be one flow).

The finding says whether static analysis reports a conflict on that
actuator; one it did not see usually comes from a topic computed at run
time or a publisher outside Node-RED.

Anti-pattern: two tabs compute home/lamp/set in function nodes; one sends
"on", the other "off" a few seconds later.

Best practice: put a resolver in front of the actuator (acm resolve), or
declare the topic in the flows so static analysis sees it.""",
    levels=("error", "warning"), enabled=True, source="<builtin>",
)


PYTHON_RULES = (DUPLICATE_ID, UNUSED)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[LoadedRule, ...]
    duplicate_id: RuleInfo = DUPLICATE_ID  # after 'override', 'disable' and 'enable'

    @property
    def info(self) -> tuple[RuleInfo, ...]:
        """The rules in force, including the built-in duplicate-id and unused-suppression."""
        return (*(r.info for r in self.rules), self.duplicate_id, UNUSED)

    @property
    def listed(self) -> tuple[RuleInfo, ...]:
        """What ``acm rules`` lists: the rules in force, and runtime (ACM012) of acm monitor."""
        return (*self.info, RUNTIME)

    def find(self, name_or_code: str) -> RuleInfo | None:
        wanted = name_or_code.lower()
        return next((r for r in self.listed if wanted in (r.name.lower(), r.code.lower())),
                    None)


def builtin_rule_file() -> ast.RuleFile:
    text = (resources.files("acm.data") / BUILTIN_RULES).read_text(encoding="utf-8")
    return cached_rules(text, f"<builtin>/{BUILTIN_RULES}")


def _user_rule_file(path: str | Path) -> ast.RuleFile:
    from .dsl.parser import load_rule_file  # lark, only for a user's file: see dsl.cache

    return load_rule_file(path)


def load_ruleset(extra: Sequence[str | Path] = ()) -> RuleSet:
    """The built-in rules, then each user file: new rules, replacements, overrides."""
    files = [builtin_rule_file(), *(_user_rule_file(p) for p in extra)]
    rules: dict[str, LoadedRule] = {}
    duplicate_id = DUPLICATE_ID
    for rule_file in files:
        for rule in rule_file.rules:
            check_rule(rule, VOCABULARY)
            code = rule.code or rule.name.upper()
            _check_name_and_code(rule, code, rules)
            rules[rule.name] = LoadedRule(rule, plan_rule(rule, VOCABULARY), code, rule.enabled)
        for override in rule_file.overrides:
            if override.rule in (DUPLICATE_ID.name, DUPLICATE_ID.code):
                duplicate_id = _overridden(duplicate_id, override)
                continue
            target = rules.get(override.rule) or next(
                (r for r in rules.values() if r.code == override.rule), None)
            if target is None:
                known = ", ".join(sorted([*rules, DUPLICATE_ID.name]))
                raise RuleError(f"no rule named '{override.rule}' to override (known: {known})",
                                str(override.pos))
            if override.level is not None:
                target = replace(target, forced_level=override.level)
            if override.enabled is not None:
                target = replace(target, enabled=override.enabled)
            rules[target.rule.name] = target
    return RuleSet(tuple(rules.values()), duplicate_id)


def _check_name_and_code(rule: ast.Rule, code: str, rules: Mapping[str, LoadedRule]) -> None:
    """A rule may not replace a rule written in Python, nor take another rule's code."""
    for builtin in PYTHON_RULES:
        if rule.name == builtin.name:
            hint = " (override its severity or disable it)" if builtin is DUPLICATE_ID else ""
            raise RuleError(f"rule {rule.name} is built in and cannot be replaced{hint}",
                            str(rule.pos))
        if code == builtin.code:
            raise RuleError(f"code {code} is already used by rule {builtin.name}", str(rule.pos))
    for other in rules.values():
        if other.code == code and other.rule.name != rule.name:
            raise RuleError(f"code {code} is already used by rule {other.rule.name}",
                            str(rule.pos))


def _overridden(info: RuleInfo, override: ast.Override) -> RuleInfo:
    """A rule written in Python with an ``override``/``enable``/``disable`` applied."""
    if override.level is not None:
        info = replace(info, levels=(override.level,))
    if override.enabled is not None:
        info = replace(info, enabled=override.enabled)
    return info


PathsOf = Callable[[str, Source], tuple[NodeRef, ...]]  # (actuator graph id, source) -> path


def evaluate(ruleset: RuleSet, facts: Iterable[ActuatorFacts], paths_of: PathsOf,
             chains: Iterable[Any] = ()) -> list[Finding]:
    """Every finding of every enabled rule, in a stable order.

    ``chains`` are the chains through the environment (:mod:`acm.analysis.environment`).
    """
    domains = Domains({"actuator": list(facts), "chain": list(chains)})
    findings: list[Finding] = []
    for loaded in ruleset.rules:
        if not loaded.enabled:
            continue
        rule = loaded.rule
        scope = {b.name: b.type for b in rule.bindings}
        severity_tests = [
            (c.level, compile_expr(c.when, scope, VOCABULARY) if c.when else None)
            for c in rule.severities
        ]
        assert rule.message is not None  # checked
        message = compile_template(rule.message, scope, VOCABULARY)
        for env in enumerate_matches(loaded.plan, domains, VOCABULARY.identity):
            level = next(lvl for lvl, test in severity_tests if test is None or test(env))
            findings.append(_finding(loaded, level, message(env),
                                     [env[b.name] for b in rule.bindings], paths_of))
    findings.sort(key=report_order)
    return findings


def duplicate_findings(sources: Mapping[str, Flows],
                       rule: RuleInfo = DUPLICATE_ID) -> list[Finding]:
    """One finding per node id defined more than once in a flows file (rule duplicate-id)."""
    if not rule.enabled:
        return []
    return [
        Finding(rule=rule.name, code=rule.code, kind=rule.kind, severity=Severity(rule.levels[0]),
                message=_duplicate_message(duplicate, flows.source),
                actuators=(), applications=(), paths=(),
                subject=(NodeRef(runtime, duplicate.id),), duplicate=duplicate)
        for runtime, flows in sources.items() for duplicate in flows.duplicates
    ]


def _duplicate_message(duplicate: DuplicateId, source: str) -> str:
    count = len(duplicate.definitions)
    said = (f"node id {duplicate.id} is defined {count} times in {source}: "
            f"{duplicate.places()}; ")
    running = duplicate.also_in_node_red
    if not running:
        return said + "Node-RED and ACM load only the last"
    elements = " and ".join(f"element {d.index}" for d in running)
    return said + ("ACM analyses only the last, but Node-RED keeps one per tab or subflow: "
                   f"{elements} {'is' if len(running) == 1 else 'are'} not analysed")


def _paths(actuators: Sequence[Actuator], paths_of: PathsOf) -> tuple[CommandPath, ...]:
    """Per actuator, one path per application and provenance: the shortest; automations
    first. Each (actuator node, source) path is read once."""
    best: dict[tuple[str, str, str], tuple[NodeRef, ...]] = {}
    for act in actuators:
        ways = {(c.node, c.source, c.provenance) for d in act.drivers.values() for c in d.sends}
        for node, source, provenance in sorted(ways):
            way = (act.key, source.application, provenance)
            path = paths_of(node, source)
            if way not in best or len(path) < len(best[way]):
                best[way] = path
    ordered = sorted(best, key=lambda w: w[2] == MANUAL)  # stable: apps stay in order
    return tuple(CommandPath(app, best[(key, app, provenance)], Provenance(provenance))
                 for key, app, provenance in ordered)


def _chain_finding(loaded: LoadedRule, level: str, message: str, bound: list[Any],
                   paths_of: PathsOf) -> Finding:
    """A finding about chains: their actuators, the triggers that react, and the paths of
    the applications that start them and of each reaction."""
    actuators = list({a.key: a for c in bound for a in c.actuators}.values())
    return Finding(
        rule=loaded.rule.name,
        code=loaded.code,
        kind=loaded.rule.kind or loaded.rule.name,
        severity=Severity(loaded.forced_level or level),
        message=message,
        actuators=tuple(Involved(a.key, a.name, a.nodes) for a in actuators),
        applications=tuple(sorted({app for c in bound for app in c.applications})),
        paths=tuple(dict.fromkeys(p for c in bound for p in c.paths(paths_of))),
        subject=tuple(dict.fromkeys(t for c in bound for t in c.subject)),
    )


def _finding(loaded: LoadedRule, level: str, message: str,
             bound: list[Any], paths_of: PathsOf) -> Finding:
    if not all(isinstance(f, ActuatorFacts) for f in bound):
        return _chain_finding(loaded, level, message, bound, paths_of)
    actuators = [f.actuator for f in bound]
    apps = sorted({a for act in actuators for a in act.drivers})
    paths = _paths(actuators, paths_of)
    return Finding(
        rule=loaded.rule.name,
        code=loaded.code,
        kind=loaded.rule.kind or loaded.rule.name,
        severity=Severity(loaded.forced_level or level),
        message=message,
        actuators=tuple(Involved(f.actuator.key, f.actuator.name, f.actuator.nodes, f.feature,
                                 f.split) for f in bound),
        applications=tuple(apps),
        paths=tuple(paths),
    )
