"""The policy language: ``policy NAME { for ... where ... strategy S; options }``.

Valid policies are loaded with :func:`acm.rewrite.policy.load_policies` (options
converted: durations to milliseconds, words to text, booleans); invalid ones
are run through ``acm resolve FLOWS --policy FILE --diff`` and must fail with
exit 2 and one line ``FILE:LINE:COL: message`` pointing at the culprit.
Which policy applies is checked on the resolver ``acm resolve`` writes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, broker, node, tab

from acm.rewrite.policy import DEFAULTS, STRATEGIES, load_policies, policy_from_options
from acm.rewrite.strategies import manifest

TOPIC = "home/hall/light/set"


def flows_nodes(topic: str = TOPIC) -> list[dict[str, Any]]:
    """A direct error conflict: Motion (t1) sends "on", Schedule (t2) "off"."""
    return [
        tab("t1", "Motion"), tab("t2", "Schedule"), broker(),
        node("i1", "inject", "t1", [["o1"]], payload="on", payloadType="str"),
        node("o1", "mqtt out", "t1", [], broker="broker", topic=topic, x=600),
        node("i2", "inject", "t2", [["o2"]], payload="off", payloadType="str"),
        node("o2", "mqtt out", "t2", [], broker="broker", topic=topic, x=600),
    ]


def write(tmp_path: Path, text: str, name: str = "site.policy") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_options(strategy: str, got: dict[str, Any], expected: dict[str, Any]) -> None:
    """``got`` has ``expected``; every other option of the strategy has its default."""
    assert {k: got.get(k) for k in expected} == expected
    specs = STRATEGIES[strategy]
    assert set(got) == set(specs)
    for name, spec in specs.items():
        if name not in expected:
            assert got[name] == spec.default, name


def one(tmp_path: Path, text: str) -> Any:
    [policy] = load_policies([write(tmp_path, text)])
    return policy


# ---------------------------------------------------------------------------
# valid policies, one per strategy


def test_priority_options(tmp_path: Path) -> None:
    policy = one(tmp_path, """
policy office-heater {
    for actuator a
    where a.name == "office/heater/set"
    strategy priority
    order "safety", "comfort", "schedule"
    ttl 15m
    default "off"
    release "let-go"
}
""")
    assert policy.name == "office-heater"
    assert policy.strategy == "priority"
    assert_options(policy.strategy, dict(policy.options), {
        "order": ["safety", "comfort", "schedule"], "ttl": 900_000, "default": "off",
        "release": "let-go"})
    assert policy.source.endswith("site.policy:2:8")
    json.dumps(policy.options)  # JSON-ready


def test_priority_defaults_and_bare_words(tmp_path: Path) -> None:
    policy = one(tmp_path, """
policy p {
    for actuator a
    strategy priority
    order safety, comfort
}
""")
    assert_options(policy.strategy, dict(policy.options), {
        "order": ["safety", "comfort"], "ttl": None, "default": None, "release": "release"})


@pytest.mark.parametrize("text, ms", [
    ("250ms", 250), ("30s", 30_000), ("15m", 900_000), ("1.5h", 5_400_000), ("2h", 7_200_000),
    ("0.5s", 500),
])
def test_durations_in_milliseconds(tmp_path: Path, text: str, ms: int) -> None:
    policy = one(tmp_path, f"policy d {{\n    for actuator a\n    strategy dwell\n"
                           f"    min {text}\n}}\n")
    assert_options(policy.strategy, dict(policy.options), {"min": ms})
    assert isinstance(policy.options["min"], int)


def test_lock_options(tmp_path: Path) -> None:
    policy = one(tmp_path, """
policy door {
    for actuator a
    strategy lock
    hold 250ms
    mode queue
}
""")
    assert policy.strategy == "lock"
    assert_options("lock", dict(policy.options), {"hold": 250, "mode": "queue"})
    policy = one(tmp_path, "policy d {\n for actuator a\n strategy lock\n hold 1m\n}\n")
    assert_options("lock", dict(policy.options), {"hold": 60_000, "mode": "drop"})


def test_dwell_options(tmp_path: Path) -> None:
    policy = one(tmp_path, """
policy relay {
    for actuator a
    strategy dwell
    min 1.5h
}
""")
    assert_options(policy.strategy, dict(policy.options), {"min": 5_400_000})


def test_merge_options(tmp_path: Path) -> None:
    policy = one(tmp_path, """
policy lights {
    for actuator a
    strategy merge
    op any
    on true
    off false
}
""")
    assert_options(policy.strategy, dict(policy.options), {"op": "any", "on": True, "off": False})
    policy = one(tmp_path, """
policy setpoint {
    for actuator a
    strategy merge
    op max
    on "ON"
    off 0
}
""")
    assert_options(policy.strategy, dict(policy.options), {"op": "max", "on": "ON", "off": 0})


def test_interlock_options(tmp_path: Path) -> None:
    policy = one(tmp_path, """
policy window-heater {
    for actuator window, actuator heater
    where window.zone == heater.zone
    strategy interlock
    blocked_when "open", "tilted"
    mode override
    override "off"
    restore false
}
""")
    assert policy.strategy == "interlock"
    assert_options(policy.strategy, dict(policy.options), {
        "blocked_when": ["open", "tilted"], "mode": "override", "override": "off",
        "restore": False})
    policy = one(tmp_path, """
policy w {
    for actuator window, actuator heater
    strategy interlock
    blocked_when "open"
    restore true
}
""")
    assert_options(policy.strategy, dict(policy.options), {
        "blocked_when": ["open"], "mode": "block", "override": None, "restore": True})


def test_override_options(tmp_path: Path) -> None:
    policy = one(tmp_path, """
policy hall {
    for actuator a
    strategy override
}
""")
    assert policy.strategy == "override"
    assert_options("override", dict(policy.options), {
        "hold": 3_600_000, "release": "auto", "resume": "latest", "manual": None})
    policy = one(tmp_path, """
policy garden-pump {
    for actuator a
    where a.name == "garden/pump/set"
    strategy override
    hold none
    release "back to schedule"
    resume none
    manual "Dashboard", "Voice"
}
""")
    assert_options("override", dict(policy.options), {
        "hold": None, "release": "back to schedule", "resume": "none",
        "manual": ["Dashboard", "Voice"]})
    policy = one(tmp_path, "policy p {\n for actuator a\n strategy override\n hold 90s\n"
                           " release none\n}\n")
    assert_options("override", dict(policy.options), {"hold": 90_000, "release": None})


def test_editor_settings_for_override() -> None:
    """``--set`` (the editor's form): 'none' is the word resume takes, durations are read."""
    policy = policy_from_options("override", ["hold=15m", "resume=none", "manual=Dashboard,Voice"])
    assert_options("override", dict(policy.options), {
        "hold": 900_000, "resume": "none", "manual": ["Dashboard", "Voice"]})
    policy = policy_from_options("override", ["resume=latest", "release=off"])
    assert (policy.options["resume"], policy.options["release"]) == ("latest", "off")


def test_policies_keep_file_order(tmp_path: Path) -> None:
    policies = load_policies([
        write(tmp_path, "policy b {\n for actuator a\n strategy dwell\n min 1s\n}\n"
                        "policy a {\n for actuator a\n strategy lock\n hold 1s\n}\n", "1.policy"),
        write(tmp_path, "policy c {\n for actuator a\n strategy merge\n op min\n}\n", "2.policy"),
    ])
    assert [(p.name, p.strategy) for p in policies] == [("b", "dwell"), ("a", "lock"),
                                                         ("c", "merge")]


def test_every_strategy_has_a_template() -> None:
    from acm.rewrite.resolve import template

    for strategy in STRATEGIES:
        assert template(strategy).strip()


# ---------------------------------------------------------------------------
# errors, through the CLI


def error_of(run_acm: Any, write_flows: Any, tmp_path: Path, text: str) -> tuple[str, str]:
    """(location, message) of the one-line error ``acm resolve --policy`` gives."""
    flows = write_flows(flows_nodes())
    policy = write(tmp_path, text, "bad.policy")
    result = run_acm("resolve", str(flows), "--policy", str(policy), "--diff")
    assert result.code == 2, (result.out, result.err)
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    match = re.fullmatch(r"acm: error: (.+?):(\d+):(\d+): (.+)", lines[0])
    assert match, lines[0]
    assert match.group(1) == str(policy)
    return f"{match.group(2)}:{match.group(3)}", match.group(4)


def test_unknown_strategy(run_acm, write_flows, tmp_path):
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    strategy foo
    min 1m
}
""")
    assert where == "3:14"  # the strategy's name
    assert "unknown strategy 'foo'" in message
    for name in STRATEGIES:
        assert name in message


def test_missing_strategy(run_acm, write_flows, tmp_path):
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    min 1m
}
""")
    assert where == "1:8"  # the policy's name
    assert "strategy" in message and "policy x" in message


def test_unknown_option_lists_known(run_acm, write_flows, tmp_path):
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    strategy priority
    order "a", "b"
    tll 15m
}
""")
    assert where == "5:5"
    assert "'tll'" in message
    assert "known: order, ttl, default, release" in message


def test_option_given_twice(run_acm, write_flows, tmp_path):
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    strategy dwell
    min 1m
      min 3m
}
""")
    assert where == "5:7"  # the second one
    assert "'min' given twice" in message


def test_strategy_given_twice(run_acm, write_flows, tmp_path):
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    strategy dwell
    min 1m
    strategy lock
}
""")
    assert where == "5:14"
    assert "given twice" in message


@pytest.mark.parametrize("strategy, lines, where, words", [
    ("priority", ['order "a"', 'ttl "abc"'], "5:5", ["ttl", "duration"]),
    ("priority", ['order "a"', "ttl 15"], "5:5", ["ttl", "duration"]),
    ("lock", ["hold 1m", "mode maybe"], "5:5", ["mode", "drop", "queue"]),
    ("interlock", ['blocked_when "open"', "mode maybe"], "5:5", ["mode", "block", "override"]),
    ("interlock", ['blocked_when "open"', 'restore "yes"'], "5:5", ["restore", "true"]),
    ("interlock", ['blocked_when "open"', "guard window"], "5:5", ["guard", "quoted"]),
    ("interlock", ['blocked_when "open"', "guard 3"], "5:5", ["guard", "key, model id or name"]),
    ("merge", ["op median"], "4:5", ["op", "min", "max", "mean", "any", "all"]),
    ("priority", ["order 15m"], "4:5", ["order"]),
    ("dwell", ["min 1m, 2m"], "4:5", ["min", "one value"]),
    ("priority", ['order "a"', "release 3"], "5:5", ["release", "text"]),
    ("override", ["resume later"], "4:5", ["resume", "latest", "none"]),
    ("override", ["hold 10"], "4:5", ["hold", "duration"]),
    ("override", ["manual 3"], "4:5", ["manual", "names"]),
])
def test_wrong_value_kind(run_acm, write_flows, tmp_path,
                          strategy, lines, where, words):
    binding = binding_of(strategy)
    body = "\n".join(f"    {line}" for line in lines)
    got, message = error_of(run_acm, write_flows, tmp_path,
                            f"policy x {{\n    {binding}\n    strategy {strategy}\n{body}\n}}\n")
    assert got == where, message
    for word in words:
        assert word in message


def binding_of(strategy: str) -> str:
    """``for actuator a`` (or ``for actuator guard, actuator target``), from the manifest."""
    return "for " + ", ".join(f"actuator {b}" for b in manifest().strategies[strategy].bindings)


#: The first required option of each strategy that has one (read from the manifest).
REQUIRED = [(name, next(o for o, spec in specs.items() if spec.required))
            for name, specs in STRATEGIES.items() if any(s.required for s in specs.values())]


def test_required_options_are_read_from_the_manifest() -> None:
    assert {("priority", "order"), ("lock", "hold"), ("dwell", "min"), ("merge", "op"),
            ("interlock", "blocked_when")} <= set(REQUIRED)


@pytest.mark.parametrize("strategy, option", REQUIRED)
def test_missing_required_option(run_acm, write_flows, tmp_path,
                                 strategy, option):
    binding = binding_of(strategy)
    where, message = error_of(run_acm, write_flows, tmp_path,
                              f"policy x {{\n    {binding}\n    strategy {strategy}\n}}\n")
    assert where == "1:8"
    assert f"'{option}'" in message and strategy in message


def test_interlock_with_one_binding(run_acm, write_flows, tmp_path):
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    strategy interlock
    blocked_when "open"
}
""")
    assert where == "1:8"
    assert "for actuator guard, actuator target" in message


def test_non_interlock_with_two_bindings(run_acm, write_flows, tmp_path):
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a, actuator b
    strategy dwell
    min 1m
}
""")
    assert where == "1:8"
    assert "for actuator a" in message


def test_unknown_attribute_in_where(run_acm, write_flows, tmp_path):
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    where a.zone == "hall" and a.colour == "red"
    strategy dwell
    min 1m
}
""")
    assert where == "3:34"  # 'colour'
    assert "colour" in message and "zone" in message  # lists the known attributes


def test_unbound_variable_in_where(run_acm, write_flows, tmp_path):
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    where b.zone == "hall"
    strategy dwell
    min 1m
}
""")
    assert where.startswith("3:")
    assert "b" in message


def test_syntax_error_space_in_duration(run_acm, write_flows, tmp_path):
    # 'ttl 15' then an option named 'm' with no value: the parser stops at the '}'
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    strategy priority
    order "a"
    ttl 15 m
}
""")
    assert where == "6:1"
    assert message.startswith("syntax error: found '}'")


def test_syntax_error_missing_brace(run_acm, write_flows, tmp_path):
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    strategy dwell
    min 1m
""")
    assert where == "5:1"  # just past the last character
    assert "end of file" in message and "'}'" in message


def test_syntax_error_names_what_is_expected_readably(
        run_acm, write_flows, tmp_path):
    """The expected tokens are described in words ("a duration"), not as regexes."""
    _, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    strategy dwell
    min
}
""")
    assert "syntax error" in message
    assert "\\d" not in message, message


def test_policy_file_with_a_rule(run_acm, write_flows, tmp_path):
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    strategy dwell
    min 1m
}
rule mine {
    code X100
    for actuator a
    where count(a.applications) >= 2
    severity info
    message "x"
}
""")
    assert where == "6:6"
    assert "policies only" in message and "--rules" in message


def test_policy_file_with_an_override(run_acm, write_flows, tmp_path):
    where, message = error_of(run_acm, write_flows, tmp_path, """
disable direct
""")
    assert where == "2:9"
    assert "policies only" in message


def test_missing_policy_file(run_acm, write_flows, tmp_path):
    flows = write_flows(flows_nodes())
    result = run_acm("resolve", str(flows), "--policy", str(tmp_path / "nope.policy"), "--diff")
    assert result.code == 2
    assert "nope.policy" in result.err
    assert len(result.err.strip().splitlines()) == 1


# ---------------------------------------------------------------------------
# which policy applies


def resolved_strategy(run_acm: Any, flows: Path, *args: str) -> tuple[str, dict[str, Any], str]:
    out = flows.with_name("out.json")
    result = run_acm("resolve", str(flows), *args, "-o", str(out))
    assert result.code == 0, result.err
    nodes = json.loads(out.read_text(encoding="utf-8"))
    [resolver] = [n for n in nodes if (n.get("acm") or {}).get("role") == "resolver"]
    [group] = [n for n in nodes if (n.get("acm") or {}).get("role") == "group"]
    [env] = [e for e in group["env"] if e["name"] == "ACM_RESOLVER"]
    cfg = json.loads(env["value"])
    assert cfg["strategy"] == resolver["acm"]["strategy"]
    return resolver["acm"]["policy"], cfg, result.err


def test_first_matching_policy_wins(run_acm, write_flows, tmp_path):
    flows = write_flows(flows_nodes())
    policy = write(tmp_path, f"""
policy not-this {{
    for actuator a
    where a.name == "other/topic"
    strategy merge
    op max
}}
policy first {{
    for actuator a
    where a.name == "{TOPIC}"
    strategy lock
    hold 30s
}}
policy second {{
    for actuator a
    strategy priority
    order "t1", "t2"
}}
""")
    name, cfg, err = resolved_strategy(run_acm, flows, "--policy", str(policy))
    assert name == "first"
    assert cfg["strategy"] == "lock"
    assert_options("lock", cfg["options"], {"hold": 30_000, "mode": "drop"})
    assert "policy first" in err
    assert "no policy matched" not in err


def test_first_matching_policy_across_files(run_acm, write_flows, tmp_path):
    flows = write_flows(flows_nodes())
    one_file = write(tmp_path, "policy a {\n for actuator a\n strategy dwell\n min 5s\n}\n",
                     "a.policy")
    two_file = write(tmp_path, "policy b {\n for actuator a\n strategy lock\n hold 5s\n}\n",
                     "b.policy")
    name, cfg, _ = resolved_strategy(run_acm, flows, "--policy", str(two_file),
                                     "--policy", str(one_file))
    assert (name, cfg["strategy"]) == ("b", "lock")


def test_interlock_policy_does_not_apply_to_direct(run_acm, write_flows, tmp_path):
    flows = write_flows(flows_nodes())
    policy = write(tmp_path, """
policy il {
    for actuator g, actuator t
    strategy interlock
    blocked_when "open"
}
policy fallback {
    for actuator a
    strategy merge
    op all
}
""")
    name, cfg, _ = resolved_strategy(run_acm, flows, "--policy", str(policy))
    assert (name, cfg["strategy"]) == ("fallback", "merge")


def test_no_policy_matches_default(run_acm, write_flows, tmp_path):
    flows = write_flows(flows_nodes())
    policy = write(tmp_path, """
policy elsewhere {
    for actuator a
    where a.name == "other/topic"
    strategy lock
    hold 1m
}
""")
    name, cfg, err = resolved_strategy(run_acm, flows, "--policy", str(policy))
    assert cfg["strategy"] == "dwell"
    assert cfg["options"] == {"min": 60_000}
    assert "no policy matched" in err


def test_policy_matches_by_zone_from_model(run_acm, tmp_path):
    nodes = flows_nodes("room/heater/set")
    flows = tmp_path / "a.json"
    flows.write_text(json.dumps(nodes), encoding="utf-8")
    model = tmp_path / "site.yaml"
    model.write_text("""version: 1
runtimes:
  - {id: a, flows: a.json}
brokers:
  - {id: mq, host: mqtt.local, port: 1883}
zones:
  - {id: room}
  - {id: hall}
actuators:
  - id: heater
    binding: {type: mqtt, broker: mq, topic: room/heater/set}
    zone: room
""", encoding="utf-8")
    policy = write(tmp_path, """
policy hall {
    for actuator a
    where a.zone == "hall"
    strategy lock
    hold 1m
}
policy room {
    for actuator a
    where a.zone == "room"
    strategy priority
    order "t2", "t1"
    ttl 250ms
}
""")
    name, cfg, _ = resolved_strategy(run_acm, flows, "--model", str(model),
                                     "--policy", str(policy))
    assert name == "room"
    assert cfg["strategy"] == "priority"
    assert cfg["options"]["order"] == ["t2", "t1"]
    assert cfg["options"]["ttl"] == 250
    # without the model there is no zone: no policy matches, the default applies
    name, cfg, err = resolved_strategy(run_acm, flows, "--policy", str(policy))
    assert cfg["strategy"] == "dwell"
    assert "no policy matched" in err


# ---------------------------------------------------------------------------
# the strategy manifest (acm/data/strategies.json): one declaration, read by all


def test_manifest_declares_every_strategy_with_its_template_and_options() -> None:
    from acm.rewrite.resolve import template

    found = manifest()
    assert list(found.strategies) == list(STRATEGIES)
    assert {"priority", "lock", "dwell", "merge", "interlock", "override"} <= set(STRATEGIES)
    # the drift issue 12 found: lock's renew and interlock's restore (a bool) are declared
    assert STRATEGIES["lock"]["renew"].kind == "bool"
    assert STRATEGIES["interlock"]["restore"].kind == "bool"
    common = (ROOT / "acm" / "data" / "resolvers" / "common.js").read_text(encoding="utf-8")
    for s in found.strategies.values():
        body = (ROOT / "acm" / "data" / "resolvers" / s.template).read_text(encoding="utf-8")
        assert template(s.name) == common + "\n" + body
        assert f'function strategyName() {{ return "{s.name}"; }}' in body
        for option in s.options.values():
            assert option.help and option.kind
            if option.kind == "actuator":  # chooses the wiring (whose commands are tapped)
                continue
            assert f"opt.{option.name}" in body, f"{s.name}.js never reads option {option.name}"
        for derived in s.derived:
            assert f"opt.{derived}" in body, derived


def test_manifest_defaults_per_conflict_kind() -> None:
    assert DEFAULTS["direct"] == ("dwell", {"min": 60_000})
    assert DEFAULTS["override"] == ("override", {"hold": 3_600_000, "release": "auto",
                                                 "resume": "latest", "manual": None})
    strategy, options = DEFAULTS["indirect"]  # the guard is derived: see test_resolve.py
    assert (strategy, options["blocked_when"], options["mode"], options["guard"]) == \
        ("interlock", ["on", "ON", "open", "OPEN", "true", "1"], "block", None)
    for kind, (strategy, options) in DEFAULTS.items():
        assert kind in manifest().strategies[strategy].resolves
        assert set(options) == set(STRATEGIES[strategy])
    assert manifest().defaults["override"].resolve_info
    assert not manifest().defaults["direct"].resolve_info


def broken(change: Any) -> dict[str, Any]:
    """The shipped manifest document with ``change`` applied to it."""
    import copy

    doc = json.loads((ROOT / "acm" / "data" / "strategies.json").read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    change(doc)
    return dict(doc)


def _option(doc: dict[str, Any], strategy: str, name: str) -> dict[str, Any]:
    s = next(s for s in doc["strategies"] if s["name"] == strategy)
    found: dict[str, Any] = next(o for o in s["options"] if o["name"] == name)
    return found


@pytest.mark.parametrize("change, words", [
    (lambda d: d.update(schema="acm.strategies/9"), "schema"),
    (lambda d: _option(d, "lock", "mode").update(type="choice"), "unknown type"),
    (lambda d: _option(d, "lock", "mode").pop("words"), "lists words"),
    (lambda d: _option(d, "lock", "mode").update(default="wait"), "not one of its words"),
    (lambda d: _option(d, "dwell", "min").update(default=1000), "required option has no default"),
    (lambda d: _option(d, "dwell", "min").update(help=""), "no help"),
    (lambda d: _option(d, "lock", "renew").update(default="yes"), "is no bool"),
    (lambda d: _option(d, "override", "hold").update(default="1h"), "is no duration"),
    (lambda d: d["strategies"][5].update(derived={"hold": "x"}), "both option and derived"),
    (lambda d: d["strategies"][2].update(template="nope.js"), "no template"),
    (lambda d: d["strategies"][2].update(template="../resolvers/dwell.js"), "no template"),
    (lambda d: d["strategies"][2].update(resolves=["direkt"]), "known kinds"),
    (lambda d: d["strategies"].append(dict(d["strategies"][0])), "declared twice"),
    (lambda d: d["kinds"]["indirect"].update(default={"strategy": "dwell", "options": {}}),
     "does not resolve"),
    (lambda d: d["kinds"]["direct"].update(default={"strategy": "dwell", "options": {}}),
     "missing ['min']"),
    (lambda d: d["kinds"]["direct"]["default"]["options"].update(max=1), "unknown options"),
])
def test_manifest_refuses_inconsistent_declarations(change: Any, words: str) -> None:
    from acm.rewrite.strategies import ManifestError, parse

    parse(broken(lambda d: None))  # the shipped one is fine
    with pytest.raises(ManifestError, match=re.escape(words)):
        parse(broken(change))


def test_strategies_command_json_is_the_manifest(run_acm) -> None:
    from acm.rewrite.strategies import document

    result = run_acm("strategies", "--format", "json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc == document()
    assert doc["schema"] == "acm.strategies/1"
    assert [s["name"] for s in doc["strategies"]] == list(STRATEGIES)
    for s in doc["strategies"]:
        options = {o["name"]: o for o in s["options"]}
        assert list(options) == list(STRATEGIES[s["name"]])
        for name, o in options.items():
            spec = STRATEGIES[s["name"]][name]
            assert (o["type"], o["required"], o["default"]) == (spec.kind, spec.required,
                                                                spec.default)
            assert o.get("unit") == ("ms" if spec.kind == "duration" else None)
            assert o.get("words", []) == list(spec.words)
    assert doc["kinds"]["override"]["default"]["strategy"] == "override"
    assert doc["kinds"]["indirect"]["default"]["strategy"] == "interlock"


def test_strategies_command_text_lists_every_strategy_option_and_default(
        run_acm):
    result = run_acm("strategies")
    assert result.code == 0, result.err
    for name, specs in STRATEGIES.items():
        assert re.search(rf"^{name}: resolves ", result.out, re.M), name
        for option in specs:
            assert re.search(rf"^    {option} +\S", result.out, re.M), (name, option)
    assert re.search(r"^    override +override hold 1h, release \"auto\", resume latest$",
                     result.out, re.M), result.out
    assert re.search(r"^    indirect +interlock blocked_when \"on\", .*, mode block, restore "
                     r"true$", result.out, re.M), result.out


@pytest.mark.parametrize("doc", ["strategies.md", "resolve.md"])
def test_docs_tables_come_from_the_manifest(doc: str) -> None:
    """The generated parts of the docs are what scripts/strategies_doc.py writes."""
    from acm.rewrite.strategies import render_docs

    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    assert render_docs(text) == text, "run: python scripts/strategies_doc.py"
    regions = re.findall(r"^<!-- acm:strategies (.+) -->$", text, re.M)
    if doc == "strategies.md":
        assert regions == [f"config {name}" for name in STRATEGIES]
        for name in STRATEGIES:
            assert re.search(rf"^## {name}$", text, re.M), name
    else:
        assert regions == ["policy-options", "defaults"]


def test_docs_check_notices_a_drifted_table() -> None:
    """Control for the test above: a hand edit inside a generated region is found."""
    from acm.rewrite.strategies import render_docs

    text = (ROOT / "docs" / "strategies.md").read_text(encoding="utf-8")
    drifted = text.replace("| `renew` | bool | `true` |", "| `renew` | text | `true` |")
    assert drifted != text
    assert render_docs(drifted) == text
