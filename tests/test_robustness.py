"""Hostile input gets a one-line error and exit 2; a bug gets exit 3; files are never lost.

Shapes that are valid JSON but not valid flows, deep nesting and huge numbers
are refused before the analysis walks them. Writing with ``-o`` onto the
input replaces the file in one step, so a failed write leaves it intact.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import broker, node, tab

TAB = {"id": "t", "type": "tab", "label": "T"}

HOSTILE: dict[str, tuple[str, str]] = {
    # name: (file content, what the one-line error must say)
    "wire-target-is-a-list": (json.dumps([TAB, {"id": "a", "type": "inject", "z": "t",
                                                  "wires": [[["b"]]]}]), "malformed 'wires'"),
    "links-is-a-number": (json.dumps([TAB, {"id": "a", "type": "link out", "z": "t",
                                            "links": 5, "wires": []}]), "malformed 'links'"),
    "links-nested": (json.dumps([TAB, {"id": "a", "type": "link out", "z": "t",
                                       "links": [["b"]], "wires": []}]), "malformed 'links'"),
    "x-is-text": (json.dumps([TAB, {"id": "a", "type": "inject", "z": "t", "x": "abc",
                                    "wires": []}]), "non-numeric 'x'"),
    "env-is-a-number": (json.dumps([{**TAB, "env": 5}]), "malformed 'env'"),
    "single-flow-configs-is-a-number": (json.dumps({"id": "t", "label": "x", "nodes": [],
                                                    "configs": 5}), "'configs'"),
    "subflow-in-is-an-object": (json.dumps([TAB, {"id": "s", "type": "subflow", "name": "s",
                                                  "in": {"a": 1}, "out": []}]),
                                "malformed 'in' ports"),
    "subflow-wire-is-text": (json.dumps([TAB, {"id": "s", "type": "subflow", "name": "s",
                                               "in": [], "out": [{"wires": ["x"]}]}]),
                             "malformed 'out' ports"),
    "nested-1200-deep": ("[" * 1200 + "]" * 1200, "nested too deeply"),
    "integer-of-5000-digits": ('[{"id": "a", "type": "inject", "x": ' + "9" * 5000 + "}]",
                               "out of range"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_flows_give_one_line_and_exit_2(run_acm, tmp_path: Path, name: str) -> None:
    content, expected = HOSTILE[name]
    path = tmp_path / f"{name}.json"
    path.write_text(content, encoding="utf-8")
    result = run_acm("analyze", str(path))
    assert result.code == 2, result.err
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"acm: error: {path}: "), result.err
    assert expected in lines[0]
    assert "Traceback" not in result.err


def test_what_contrib_nodes_keep_in_env_or_links_is_their_business(run_acm, write_flows) -> None:
    """Only tabs, subflows and link nodes must have Node-RED's shapes there."""
    flows = [TAB, {"id": "a", "type": "some-contrib", "z": "t", "env": {"mode": "x"},
                   "links": 3, "broker": [], "wires": [[]]},
             {"id": "o", "type": "mqtt out", "z": "t", "broker": ["x"], "topic": "a/set",
              "wires": []},
             {"id": "i", "type": "mqtt in", "z": "t", "broker": {"id": 1}, "topic": "a/set",
              "wires": [[]]}]
    result = run_acm("analyze", str(write_flows(flows)))
    assert result.code == 0, result.err


def test_deeply_nested_settings_do_not_crash(run_acm, write_flows) -> None:
    deep: Any = "${X}"
    for _ in range(900):
        deep = [deep]
    flows = [TAB, {"id": "a", "type": "inject", "z": "t", "crontab": "0 7 * * *",
                   "payload": "[" * 900 + "]" * 900, "payloadType": "json", "wires": [["o"]]},
             {"id": "o", "type": "mqtt out", "z": "t", "topic": "a/set", "extra": deep,
              "wires": []}]
    result = run_acm("analyze", str(write_flows(flows)))
    assert result.code in (0, 1), result.err


def test_a_model_given_as_flows_suggests_model(run_acm, tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("version: 1\nruntimes: []\n", encoding="utf-8")
    result = run_acm("analyze", str(path))
    assert result.code == 2
    assert "--model" in result.err


def test_an_internal_error_is_exit_3_with_one_line(run_acm, write_flows, monkeypatch) -> None:
    """A bug must not look like a finding (exit 1) or print a traceback."""
    import acm.engine

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(acm.engine, "inspect", broken)  # the CLI imports it when run
    monkeypatch.delenv("ACM_DEBUG", raising=False)
    path = str(write_flows([TAB]))
    result = run_acm("analyze", path)
    assert result.code == 3
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("acm: internal error (KeyError")
    assert "--debug" in lines[0]
    with pytest.raises(KeyError):  # --debug: the traceback, for the bug report
        run_acm("analyze", path, "--debug")


def _conflict_flows(name: str) -> list[dict[str, Any]]:
    return [tab("t1", name), tab("t2", "Night"), broker(),
            node("a", "inject", "t1", [["o1"]], payload="on", payloadType="str", name=name),
            node("o1", "mqtt out", "t1", [], topic="home/lamp/set", broker="broker"),
            node("b", "inject", "t2", [["o2"]], payload="off", payloadType="str"),
            node("o2", "mqtt out", "t2", [], topic="home/lamp/set", broker="broker")]


def test_output_onto_the_input_with_a_lone_surrogate(run_acm, tmp_path: Path) -> None:
    """A name with an escaped lone surrogate (valid JSON) is written back, not lost."""
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(_conflict_flows("Lamp \ud800")), encoding="utf-8")
    before = json.loads(path.read_text(encoding="utf-8"))
    result = run_acm("resolve", str(path), "-o", str(path))
    assert result.code == 0, result.err
    after = json.loads(path.read_text(encoding="utf-8"))
    assert len(after) > len(before)
    assert any(n.get("name") == "Lamp \ud800" for n in after)
    text = run_acm("analyze", str(path), "--format", "json")
    assert text.code in (0, 1) and text.err == ""


def test_a_failed_write_leaves_the_file_intact(run_acm, tmp_path: Path, monkeypatch) -> None:
    """The disk fills up half way: the flows file keeps every byte, no temporary is left."""
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(_conflict_flows("Lamp")), encoding="utf-8")
    original = path.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    result = run_acm("resolve", str(path), "-o", str(path))
    assert result.code == 2
    last = result.err.splitlines()[-1]  # after the plan resolve announces
    assert last.startswith("acm: error: ") and "No space left" in last and "unchanged" in last
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flows.json"]


def test_a_report_that_fails_half_written_leaves_the_file_intact(tmp_path: Path) -> None:
    """A large report is written in pieces as they are made (acm.files.write_atomic):
    a failure between two pieces still leaves the old file whole."""
    from acm.files import write_atomic

    path = tmp_path / "report.json"
    path.write_text("old report", encoding="utf-8")

    def pieces() -> Any:
        yield '{"conflicts": ['
        raise RuntimeError("a bug while rendering")

    with pytest.raises(RuntimeError):
        write_atomic(path, pieces())
    assert path.read_text(encoding="utf-8") == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    write_atomic(path, iter(["new ", "report \ud800"]))  # a lone surrogate, escaped
    assert path.read_text(encoding="utf-8") == "new report \\ud800"


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown"])
def test_secrets_in_request_urls_never_reach_a_report(run_acm, write_flows, fmt: str) -> None:
    url = "https://ann:hunter2@plug.local/relay/0/set?token=abc123&room=1"
    flows = [tab("t1", "Evening"), tab("t2", "Night")]
    for z, payload in (("t1", "on"), ("t2", "off")):
        flows += [node(f"{z}.in", "inject", z, [[f"{z}.out"]], payload=payload,
                       payloadType="str"),
                  node(f"{z}.out", "http request", z, [], method="POST", url=url)]
    result = run_acm("analyze", str(write_flows(flows)), "--format", fmt)
    assert result.code == 1, result.err
    for secret in ("hunter2", "abc123"):
        assert secret not in result.out + result.err
    if fmt != "markdown":  # (markdown escapes the stars)
        assert "ann:***@plug.local/relay/0/set?token=***&room=1" in result.out


def test_escape_sequences_from_flows_do_not_reach_the_terminal(run_acm, write_flows) -> None:
    name = "Evening\x1b]0;pwned\x07\x1b[2J"
    result = run_acm("analyze", str(write_flows(_conflict_flows(name))))
    assert result.code == 1
    assert "\x1b" not in result.out and "\x07" not in result.out
    assert "Evening\\x1b]0;pwned\\x07\\x1b[2J" in result.out  # shown, harmlessly


# ------------------------------------------------------------------ found by tests/test_fuzz.py


def test_a_number_beyond_any_double_is_infinity_not_a_crash(run_acm, write_flows) -> None:
    """JSON may hold 10**400 where a number is typed; JavaScript reads it as Infinity."""
    huge = 10**400
    flows = [tab("t1", "Comfort"), tab("t2", "Night"), broker(),
             node("a", "inject", "t1", [["o1"]], payload=huge, payloadType="num"),
             node("o1", "mqtt out", "t1", [], topic="home/heater/setpoint", broker="broker"),
             node("b", "inject", "t2", [["s"]], payload="5", payloadType="num"),
             node("s", "switch", "t2", [["o2"]], property="payload", propertyType="msg",
                  rules=[{"t": "lt", "v": huge, "vt": "num"}], outputs=1),
             node("o2", "mqtt out", "t2", [], topic="home/heater/setpoint", broker="broker")]
    result = run_acm("analyze", str(write_flows(flows)), "--format", "json")
    assert result.code == 1, result.err  # Infinity and 5 differ: an error-level conflict
    (conflict,) = result.json()["conflicts"]
    assert conflict["severity"] == "error"


def test_switch_operands_beyond_range_or_depth_are_decided_at_run_time() -> None:
    from acm.analysis.catalog.switch import switch_routes
    from acm.analysis.values import const

    shape = (const(""), const(5))
    for rule in ({"t": "gt", "v": 10**400, "vt": "num"},  # 5 > Infinity: never
                 {"t": "eq", "v": "[" * 5000, "vt": "json"},  # too deep to read: may match
                 {"t": "eq", "v": "9" * 5000, "vt": "json"}):  # too many digits: may match
        switch: dict[str, Any] = {"type": "switch", "property": "payload", "propertyType": "msg",
                  "rules": [rule], "wires": [[]]}
        (port,) = switch_routes(switch, frozenset({shape}))
        assert bool(port) is (rule["t"] == "eq"), rule


def test_a_regex_that_backtracks_without_groups_is_decided_at_run_time() -> None:
    """'a*a*a*a*a*a*!' on 60 a's would search for hours; the branch is kept instead."""
    import time

    from acm.analysis.catalog.switch import switch_routes
    from acm.analysis.values import const

    switch = {"type": "switch", "property": "payload", "propertyType": "msg",
              "rules": [{"t": "regex", "v": "a*" * 6 + "!", "vt": "str"}], "wires": [[]]}
    shape = (const(""), const("a" * 60))
    started = time.monotonic()
    (port,) = switch_routes(switch, frozenset({shape}))
    assert time.monotonic() - started < 1
    assert port == {shape}  # may match: decided at run time
    plain = {**switch, "rules": [{"t": "regex", "v": "^a+!?$", "vt": "str"}]}
    assert switch_routes(plain, frozenset({shape})) == [frozenset({shape})]  # still decided
    other = (const(""), const("b"))
    assert switch_routes(plain, frozenset({other})) == [frozenset()]


def test_subflows_that_double_per_level_are_refused_not_expanded(run_acm, write_flows) -> None:
    """Each subflow holds two instances of the next: 30 levels would be 2**30 nodes."""
    flows: list[dict[str, Any]] = [tab("t", "T"), broker()]
    depth = 30
    for k in range(depth):
        inner = f"subflow:s{k + 1}" if k + 1 < depth else "mqtt out"
        flows += [{"id": f"s{k}", "type": "subflow", "name": f"s{k}",
                   "in": [{"wires": [{"id": f"s{k}a"}, {"id": f"s{k}b"}]}], "out": []},
                  node(f"s{k}a", inner, f"s{k}", topic="a/set", broker="broker"),
                  node(f"s{k}b", inner, f"s{k}", topic="a/set", broker="broker")]
    flows += [node("i", "inject", "t", [["sf"]]), node("sf", "subflow:s0", "t")]
    path = write_flows(flows)
    result = run_acm("analyze", str(path))
    assert result.code == 2, result.err
    assert result.err.startswith(f"acm: error: {path}: subflow instances expand to more than")
    assert len(result.err.splitlines()) == 1


@pytest.mark.parametrize("z", [["t1"], {"id": "t1"}])
def test_resolve_with_a_z_that_is_not_text(run_acm, tmp_path: Path, z: Any) -> None:
    """A node's tab given as a list or object once crashed the layout of resolve (exit 3)."""
    flows = _conflict_flows("Lamp") + [{"id": "c", "type": "comment", "z": z, "x": 10, "y": 10}]
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(flows), encoding="utf-8")
    original = path.read_bytes()
    result = run_acm("resolve", str(path), "-o", str(path))
    assert result.code in (0, 2), result.err
    assert "internal error" not in result.err
    if result.code == 2:
        assert path.read_bytes() == original


def test_a_function_that_takes_actuators_is_checked_before_evaluation() -> None:
    """'where not compounding(0, 0)' once raised TypeError while analysing (exit 3).

    A function declares which arguments must be variables of a binding type;
    the check then rejects anything else at file:line:column.
    """
    from acm.errors import RuleError
    from acm.rules.dsl.check import Attribute, Function, Vocabulary, check_rule
    from acm.rules.dsl.parser import parse_rules

    def effects(a: Any, b: Any) -> frozenset[str]:
        raise AssertionError("never evaluated")

    vocab = Vocabulary(types={"actuator": {"name": Attribute(lambda f: f, "its name")}},
                       functions={"opposing": Function(2, effects, "doc",
                                                        params=("actuator", "actuator")),
                                  "loose": Function(1, effects, "doc")})
    rule = ("rule r {{\n  for actuator a, actuator b\n  where {}\n  severity info\n"
            "  message \"m\"\n}}\n")
    check_rule(parse_rules(rule.format("opposing(a, b) == opposing(b, a)"), "x.acm").rules[0],
               vocab)
    check_rule(parse_rules(rule.format("loose(0)"), "x.acm").rules[0], vocab)  # not declared
    for bad, column in (("opposing(0, b)", 18), ("opposing(a, a.name)", 23),
                        ("not opposing(a, none)", 25)):
        with pytest.raises(RuleError) as caught:
            check_rule(parse_rules(rule.format(bad), "x.acm").rules[0], vocab)
        assert str(caught.value).startswith(f"x.acm:3:{column}: argument ")
        assert "must be a variable of type actuator" in str(caught.value)


@pytest.mark.parametrize("where", ["(0 | a) != none", "a == b", "count(a.effects | b.effects) >= 0",
                                   "count(a.nodes & a) == 0"])
def test_rules_that_use_a_bound_actuator_as_a_value(run_acm, tmp_path: Path, where: str) -> None:
    """A set or join of actuators themselves (or of a mapping) once raised TypeError: unhashable."""
    rules = tmp_path / "site.acm"
    rules.write_text(f'rule x {{\n  for actuator a, actuator b\n  where {where}\n'
                     f'  severity info\n  message "{{a.effects | a}}"\n}}\n', encoding="utf-8")
    building = Path(__file__).resolve().parent.parent / "flows" / "building" / "flows.json"
    result = run_acm("analyze", str(building), "--rules", str(rules), "--format", "json")
    assert result.code in (0, 1), result.err
    found = [c for c in result.json()["conflicts"] if c["rule"] == "x"]
    assert bool(found) is (where != "a == b")  # two variables never bind one actuator


@pytest.mark.parametrize("side", ["in", "out"])
def test_a_subflow_port_wire_whose_id_is_not_text(run_acm, write_flows, side: str) -> None:
    """{"wires": [{"id": []}]} in a subflow's ports once raised TypeError: unhashable."""
    ports: dict[str, Any] = {"in": [{"wires": [{"id": "so"}]}], "out": []}
    ports[side] = [{"wires": [{"id": []}, {"id": {"a": 1}}, {"id": None}]}]
    flows = [tab("t", "T"), broker(),
             {"id": "sf", "type": "subflow", "name": "Set light", **ports},
             node("so", "mqtt out", "sf", topic="home/hall/light/set", broker="broker"),
             node("i", "inject", "t", [["s1"]], payload="on", payloadType="str"),
             node("s1", "subflow:sf", "t", [["d"]]), node("d", "debug", "t")]
    result = run_acm("analyze", str(write_flows(flows)))
    assert result.code in (0, 1), result.err
