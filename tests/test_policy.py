"""The policy language: ``policy NAME { for ... where ... strategy S; options }``.

Valid policies are loaded with :func:`acm.policy.load_policies` (options
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
from conftest import broker, node, tab

from acm.policy import STRATEGIES, load_policies

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


def test_policies_keep_file_order(tmp_path: Path) -> None:
    policies = load_policies([
        write(tmp_path, "policy b {\n for actuator a\n strategy dwell\n min 1s\n}\n"
                        "policy a {\n for actuator a\n strategy lock\n hold 1s\n}\n", "1.policy"),
        write(tmp_path, "policy c {\n for actuator a\n strategy merge\n op min\n}\n", "2.policy"),
    ])
    assert [(p.name, p.strategy) for p in policies] == [("b", "dwell"), ("a", "lock"),
                                                         ("c", "merge")]


def test_every_strategy_has_a_template() -> None:
    from acm.resolve import template

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


def test_unknown_strategy(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
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


def test_missing_strategy(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    min 1m
}
""")
    assert where == "1:8"  # the policy's name
    assert "strategy" in message and "policy x" in message


def test_unknown_option_lists_known(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
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


def test_option_given_twice(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    strategy dwell
    min 1m
      min 3m
}
""")
    assert where == "5:7"  # the second one
    assert "'min' given twice" in message


def test_strategy_given_twice(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
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
    ("merge", ["op median"], "4:5", ["op", "min", "max", "mean", "any", "all"]),
    ("priority", ["order 15m"], "4:5", ["order"]),
    ("dwell", ["min 1m, 2m"], "4:5", ["min", "one value"]),
    ("priority", ['order "a"', "release 3"], "5:5", ["release", "text"]),
])
def test_wrong_value_kind(run_acm, write_flows, tmp_path,  # type: ignore[no-untyped-def]
                          strategy, lines, where, words):
    binding = ("for actuator g, actuator t" if strategy == "interlock" else "for actuator a")
    body = "\n".join(f"    {line}" for line in lines)
    got, message = error_of(run_acm, write_flows, tmp_path,
                            f"policy x {{\n    {binding}\n    strategy {strategy}\n{body}\n}}\n")
    assert got == where, message
    for word in words:
        assert word in message


@pytest.mark.parametrize("strategy, option", [
    ("priority", "order"), ("lock", "hold"), ("dwell", "min"), ("merge", "op"),
    ("interlock", "blocked_when"),
])
def test_missing_required_option(run_acm, write_flows, tmp_path,  # type: ignore[no-untyped-def]
                                 strategy, option):
    binding = ("for actuator g, actuator t" if strategy == "interlock" else "for actuator a")
    where, message = error_of(run_acm, write_flows, tmp_path,
                              f"policy x {{\n    {binding}\n    strategy {strategy}\n}}\n")
    assert where == "1:8"
    assert f"'{option}'" in message and strategy in message


def test_interlock_with_one_binding(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    strategy interlock
    blocked_when "open"
}
""")
    assert where == "1:8"
    assert "for actuator guard, actuator target" in message


def test_non_interlock_with_two_bindings(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a, actuator b
    strategy dwell
    min 1m
}
""")
    assert where == "1:8"
    assert "for actuator a" in message


def test_unknown_attribute_in_where(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    where a.zone == "hall" and a.colour == "red"
    strategy dwell
    min 1m
}
""")
    assert where == "3:34"  # 'colour'
    assert "colour" in message and "zone" in message  # lists the known attributes


def test_unbound_variable_in_where(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    where b.zone == "hall"
    strategy dwell
    min 1m
}
""")
    assert where.startswith("3:")
    assert "b" in message


def test_syntax_error_space_in_duration(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
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


def test_syntax_error_missing_brace(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    where, message = error_of(run_acm, write_flows, tmp_path, """policy x {
    for actuator a
    strategy dwell
    min 1m
""")
    assert where == "5:1"  # just past the last character
    assert "end of file" in message and "'}'" in message


def test_syntax_error_names_what_is_expected_readably(  # type: ignore[no-untyped-def]
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


def test_policy_file_with_a_rule(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
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


def test_policy_file_with_an_override(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    where, message = error_of(run_acm, write_flows, tmp_path, """
disable direct
""")
    assert where == "2:9"
    assert "policies only" in message


def test_missing_policy_file(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
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


def test_first_matching_policy_wins(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
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


def test_first_matching_policy_across_files(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    flows = write_flows(flows_nodes())
    one_file = write(tmp_path, "policy a {\n for actuator a\n strategy dwell\n min 5s\n}\n",
                     "a.policy")
    two_file = write(tmp_path, "policy b {\n for actuator a\n strategy lock\n hold 5s\n}\n",
                     "b.policy")
    name, cfg, _ = resolved_strategy(run_acm, flows, "--policy", str(two_file),
                                     "--policy", str(one_file))
    assert (name, cfg["strategy"]) == ("b", "lock")


def test_interlock_policy_does_not_apply_to_direct(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
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


def test_no_policy_matches_default(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
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


def test_policy_matches_by_zone_from_model(run_acm, tmp_path):  # type: ignore[no-untyped-def]
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
