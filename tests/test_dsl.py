"""The ACM rule language: valid rules evaluated end to end, and every kind of error.

Errors are checked through the CLI (``acm analyze FLOWS --rules F`` and
``acm rules --rules F``): exit 2 and exactly one line on stderr,
``acm: error: FILE:LINE:COLUMN: ...`` with the exact position.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import broker, node, tab

from acm.errors import RuleError
from acm.rules.dsl.evaluate import plan_rule
from acm.rules.dsl.parser import parse_rules
from acm.rules.ruleset import VOCABULARY, builtin_rule_file, load_ruleset

# --------------------------------------------------------------------------- flows


def commanding_tab(tab_id: str, label: str, payload: str | None, topic: str,
                   broker_id: str = "broker", prefix: str | None = None) -> list[dict[str, Any]]:
    """A tab whose inject sends ``payload`` (None: computed by a function) to an mqtt out."""
    p = prefix or tab_id
    nodes = [tab(tab_id, label)]
    out = node(f"{p}-out", "mqtt out", tab_id, name=f"{label} out", topic=topic,
               broker=broker_id, qos="1", retain="false")
    if payload is None:
        nodes.append(node(f"{p}-in", "inject", tab_id, [[f"{p}-fn"]], name=f"{label} tick",
                          payload="", payloadType="date", props=[{"p": "payload"}]))
        nodes.append(node(f"{p}-fn", "function", tab_id, [[f"{p}-out"]], name="compute",
                          func="msg.payload = Math.random(); return msg;", outputs=1))
    else:
        nodes.append(node(f"{p}-in", "inject", tab_id, [[f"{p}-out"]], name=f"{label} tick",
                          payload=payload, payloadType="str", props=[{"p": "payload"}]))
    nodes.append(out)
    return nodes


def lamp_flows(p1: str | None = "on", p2: str | None = "off",
               topic: str = "home/lamp/set") -> list[dict[str, Any]]:
    """Two tabs, Lighting and Security, commanding one MQTT topic."""
    return [broker(), *commanding_tab("t1", "Lighting", p1, topic),
            *commanding_tab("t2", "Security", p2, topic)]


@pytest.fixture
def rules_file(tmp_path: Path):
    counter = iter(range(1000))

    def write(text: str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"rules{next(counter)}.acm")
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def analyze(run_acm, write_flows, rules_file):
    """Analyse flows with extra rule text; returns the JSON conflicts."""

    def run(rules: str, flows: Any = None, expect_code: int | None = None) -> list[dict[str, Any]]:
        path = write_flows(flows if flows is not None else lamp_flows())
        result = run_acm("analyze", str(path), "--rules", str(rules_file(rules)),
                         "--format", "json", "--fail-on", "never")
        assert result.code == 0, result.err
        assert result.err == ""
        conflicts: list[dict[str, Any]] = result.json()["conflicts"]
        return conflicts

    return run


def by_code(conflicts: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [c for c in conflicts if c["code"] == code]


# --------------------------------------------------------------------------- valid rules

MQTT_SHARED = """
rule mqtt-shared {
    code USR001
    summary "An MQTT topic published from two applications."
    for actuator a
    where a.kind == "mqtt" and count(a.applications) >= 2
    severity warning
    message "{a.key}"
}
"""


def test_user_rule_adds_findings_with_its_code(analyze):
    conflicts = analyze(MQTT_SHARED)
    mine = by_code(conflicts, "USR001")
    assert len(mine) == 1
    finding = mine[0]
    assert finding["rule"] == "mqtt-shared"
    assert finding["severity"] == "warning"
    assert finding["message"] == "mqtt:mqtt.local:1883/home/lamp/set"
    assert finding["actuators"][0]["key"] == "mqtt:mqtt.local:1883/home/lamp/set"
    assert sorted(finding["actuators"][0]["nodes"]) == ["t1-out", "t2-out"]
    assert sorted(finding["applications"]) == ["t1", "t2"]
    # the built-in rule still runs next to it
    assert len(by_code(conflicts, "ACM001")) == 1


def test_user_rule_does_not_fire_when_where_is_false(analyze):
    flows = [broker(), *commanding_tab("t1", "Lighting", "on", "home/a"),
             *commanding_tab("t2", "Security", "off", "home/b")]
    assert analyze(MQTT_SHARED, flows) == []


def test_user_rule_listed_by_acm_rules(run_acm, rules_file):
    result = run_acm("rules", "--rules", str(rules_file(MQTT_SHARED)))
    assert result.code == 0
    lines = result.out.splitlines()
    index = next(i for i, ln in enumerate(lines) if ln.startswith("USR001"))
    assert "mqtt-shared" in lines[index]
    assert "warning" in lines[index]
    assert lines[index + 1].strip() == "An MQTT topic published from two applications."


def test_rule_of_same_name_replaces_builtin(analyze):
    conflicts = analyze("""
rule direct {
    code ACM001
    for actuator a
    where count(a.applications) >= 2
    severity info
    message "replaced: {a.name}"
}
""")
    assert len(conflicts) == 1
    assert conflicts[0]["rule"] == "direct"
    assert conflicts[0]["severity"] == "info"
    assert conflicts[0]["message"] == "replaced: home/lamp/set"


def test_replacing_builtin_with_new_code_frees_old_code(run_acm, rules_file):
    path = rules_file("""
rule direct {
    code USR100
    for actuator a
    severity info
    message "x"
}
""")
    result = run_acm("rules", "--rules", str(path))
    assert result.code == 0, result.err
    assert "USR100" in result.out
    assert "ACM001" not in result.out


def test_builtin_direct_is_an_error_for_on_vs_off(analyze):
    conflicts = analyze("")
    assert [c["severity"] for c in conflicts] == ["error"]


def test_override_severity(analyze):
    conflicts = analyze("override direct severity warning\n")
    assert [(c["rule"], c["severity"]) for c in conflicts] == [("direct", "warning")]


def test_override_by_code(analyze):
    conflicts = analyze("override ACM001 severity info\n")
    assert [(c["rule"], c["severity"]) for c in conflicts] == [("direct", "info")]


def test_override_changes_levels_in_rules_listing(run_acm, rules_file):
    result = run_acm("rules", "--rules", str(rules_file("override direct severity warning\n")))
    assert result.code == 0
    line = next(ln for ln in result.out.splitlines() if ln.startswith("ACM001"))
    assert re.search(r"\bwarning\b", line)
    assert "error" not in line


def test_disable_removes_findings(analyze, run_acm, rules_file):
    assert analyze("disable direct\n") == []
    listing = run_acm("rules", "--rules", str(rules_file("disable direct\n")))
    assert "disabled" in listing.out


def test_disable_then_enable(analyze):
    conflicts = analyze("disable direct\nenable direct\n")
    assert [c["rule"] for c in conflicts] == ["direct"]


def test_enable_across_files(run_acm, write_flows, rules_file):
    flows = write_flows(lamp_flows())
    off = rules_file("disable direct\n")
    on = rules_file("enable direct\n")
    result = run_acm("analyze", str(flows), "--rules", str(off), "--format", "json")
    assert result.code == 0 and result.json()["conflicts"] == []
    result = run_acm("analyze", str(flows), "--rules", str(off), "--rules", str(on),
                     "--format", "json")
    assert result.code == 1
    assert [c["rule"] for c in result.json()["conflicts"]] == ["direct"]


def test_rule_enabled_false_field(analyze):
    rules = MQTT_SHARED.replace("severity warning", "severity warning\n    enabled false")
    assert by_code(analyze(rules), "USR001") == []
    assert len(by_code(analyze(rules + "\nenable mqtt-shared\n"), "USR001")) == 1


def _probe(where: str, message: str = "hit") -> str:
    return f"""
disable direct
rule probe {{
    code USR010
    for actuator a
    where {where}
    severity info
    message "{message}"
}}
"""


@pytest.mark.parametrize(
    ("where", "matches"),
    [
        ('"on" in a.commands', True),
        ('"dim" in a.commands', False),
        ('not ("dim" in a.commands)', True),
        ('count(a.commands | a.nodes) == 4', True),
        ('count(a.commands & a.commands) == 2', True),
        ('count(a.commands & a.nodes) == 0', True),
        ('"t1-out" in a.nodes & a.nodes', True),
        ('a.dynamic', False),
        ('not a.dynamic', True),
        ('a.dynamic or a.kind == "mqtt"', True),
        ('a.dynamic or a.kind == "ha"', False),
        ('a.kind == "mqtt" and not a.dynamic and count(a.nodes) == 2', True),
        ('a.kind != "mqtt"', False),
        ("count(a.nodes) > 1", True),
        ("count(a.nodes) > 2", False),
        ("count(a.nodes) >= 2", True),
        ("count(a.nodes) < 3", True),
        ("count(a.nodes) <= 1", False),
        ("count(a.nodes) == 2.0", True),
        ("a.zone == none", True),
        ("a.zone != none", False),
        ("a.zone > 1", False),  # none is not ordered against anything
        ("a.dynamic == false", True),
        ("a.dynamic == true", False),
        ("true", True),
        ("false", False),
        ('"Lighting" in a.application_names', True),
        ('count("abc") == 3', True),
        ("(a.kind == \"ha\" or a.kind == \"mqtt\") and count(a.applications) == 2", True),
    ],
)
def test_expressions(analyze, where: str, matches: bool):
    found = by_code(analyze(_probe(where)), "USR010")
    assert len(found) == (1 if matches else 0), where


def test_message_placeholders_and_literals(analyze):
    message = ('{a.name}: {count(a.applications)} apps ({a.application_names}); '
               '{a.commands}; {1} {2.5} {\\"s\\"} {true} {false} {none} {a.zone} '
               '{{literal}} {{{a.kind}}}')
    found = by_code(analyze(_probe("true", message)), "USR010")
    assert [f["message"] for f in found] == [
        "home/lamp/set: 2 apps (Lighting, Security); off, on; 1 2.5 s true false none none "
        "{literal} {mqtt}"
    ]


def test_conditional_severity_takes_first_match(analyze):
    rules = """
disable direct
rule graded {
    code USR020
    for actuator a
    where count(a.applications) >= 2
    severity error when "off" in a.commands
    severity warning when count(a.applications) >= 2
    severity info
    message "{a.name}"
}
"""
    assert [c["severity"] for c in analyze(rules)] == ["error"]
    # second clause: no "off", still two applications
    assert [c["severity"] for c in analyze(rules, lamp_flows("on", "dim"))] == ["warning"]
    # fallback: nothing matches (the first two whens are false)
    fallback = rules.replace('count(a.applications) >= 2\n    severity info',
                             'count(a.applications) >= 3\n    severity info')
    assert [c["severity"] for c in analyze(fallback, lamp_flows("on", "dim"))] == ["info"]


def test_builtin_severity_levels(analyze):
    assert [c["severity"] for c in analyze("", lamp_flows("on", "off"))] == ["error"]
    assert [c["severity"] for c in analyze("", lamp_flows("on", None))] == ["warning"]
    assert [c["severity"] for c in analyze("", lamp_flows("on", "on"))] == ["info"]


PAIR_RULE = """
disable direct
rule same-name {
    code USR030
    for actuator a, actuator b
    where a.name == b.name and a.key != b.key
    severity warning
    message "{a.key} and {b.key} share {a.name}"
}
"""


def _brokers_flows(topics_by_broker: dict[str, list[str]]) -> list[dict[str, Any]]:
    flows: list[dict[str, Any]] = []
    for i, (host, topics) in enumerate(sorted(topics_by_broker.items())):
        flows.append(broker(f"b{i}", host))
        for j, topic in enumerate(topics):
            flows += commanding_tab(f"t{i}-{j}", f"Tab {i}-{j}", "on", topic,
                                    broker_id=f"b{i}")
    return flows


def test_two_variable_rule_reports_each_pair_once(analyze):
    flows = _brokers_flows({"one.local": ["x/set", "y/set"], "two.local": ["x/set", "z/set"]})
    found = by_code(analyze(PAIR_RULE, flows), "USR030")
    assert len(found) == 1
    keys = sorted(a["key"] for a in found[0]["actuators"])
    assert keys == ["mqtt:one.local:1883/x/set", "mqtt:two.local:1883/x/set"]
    assert found[0]["message"].endswith("share x/set")


def test_two_variable_rule_three_way(analyze):
    flows = _brokers_flows({"one.local": ["x/set"], "two.local": ["x/set"],
                            "three.local": ["x/set"]})
    found = by_code(analyze(PAIR_RULE, flows), "USR030")
    pairs = sorted(tuple(sorted(a["key"] for a in c["actuators"])) for c in found)
    assert len(pairs) == 3
    assert len(set(pairs)) == 3
    assert len({c["id"] for c in found}) == 3


def test_two_variable_rule_is_planned_as_hash_join() -> None:
    rule = parse_rules(PAIR_RULE).rules[0]
    plan = plan_rule(rule, VOCABULARY)
    assert plan.join is not None
    assert {plan.join[0], plan.join[2]} == {"a", "b"}
    assert len(plan.rest) == 1  # a.key != b.key is checked per candidate pair


def test_two_variable_rule_without_equality_still_pairs_once(analyze):
    rules = """
disable direct
rule any-pair {
    code USR031
    for actuator a, actuator b
    where a.kind == "mqtt" and b.kind == "mqtt"
    severity info
    message "{a.name} / {b.name}"
}
"""
    flows = _brokers_flows({"one.local": ["x/set", "y/set", "z/set"]})
    found = by_code(analyze(rules, flows), "USR031")
    assert len(found) == 3  # 3 choose 2, never (a, a), never both orders


# --------------------------------------------------------------------------- errors

ERROR_LINE = re.compile(r"^acm: error: (?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<what>.+)$")


@pytest.fixture
def rule_error(run_acm, write_flows, rules_file):
    """Run the bad rules through both commands; return (line, column, message)."""
    flows = write_flows(lamp_flows())

    def run(text: str) -> tuple[int, int, str]:
        path = rules_file(text, "bad.acm")
        seen = []
        for args in (("analyze", str(flows), "--rules", str(path)),
                     ("rules", "--rules", str(path))):
            result = run_acm(*args)
            assert result.code == 2, (args, result)
            assert result.out == ""
            lines = result.err.splitlines()
            assert len(lines) == 1, result.err
            match = ERROR_LINE.match(lines[0])
            assert match, lines[0]
            assert match["file"] == str(path)
            seen.append((int(match["line"]), int(match["col"]), match["what"]))
        assert seen[0] == seen[1]
        return seen[0]

    return run


def test_syntax_missing_open_brace(rule_error):
    line, col, what = rule_error("rule r1\n    code USR001\n}\n")
    assert (line, col) == (2, 5)
    assert "syntax error" in what
    assert "'code'" in what
    assert "'{'" in what


def test_syntax_unknown_keyword_in_rule_body(rule_error):
    line, col, what = rule_error("rule r1 {\n    code USR001\n    frobnicate 3\n}\n")
    assert (line, col) == (3, 5)
    assert "'frobnicate'" in what
    for keyword in ("'for'", "'severity'", "'message'", "'}'"):
        assert keyword in what, keyword


def test_syntax_unterminated_string(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a\n    severity info\n    message "abc\n}\n')
    assert (line, col) == (4, 13)
    assert "unterminated string" in what
    assert "string" in what


def test_syntax_unclosed_doc_block_of_many_lines(rule_error):
    """An unclosed \"\"\" fails in one pass at its opening quotes. (It once took time
    exponential in the lines that follow: this test would hang, not fail.)"""
    body = "".join(f'    line {i}: "quoted" and ""doubled""\n' for i in range(2000))
    line, col, what = rule_error(f'rule r1 {{\n    code USR001\n    doc """\n{body}}}\n')
    assert (line, col) == (3, 9)
    assert "found an unterminated string" in what
    assert 'a """text"""' in what


def test_doc_block_may_hold_quotes() -> None:
    text = ('rule r1 {\n    code USR001\n    doc """\n'
            '    "on" and ""off"" are quoted; so is the end: "\n    """\n}\n'
            'rule r2 {\n    code USR002\n    doc """"starts" with one"""\n'
            '    summary ""\n}\n')
    first, second = parse_rules(text, "x.acm").rules
    assert first.doc == '"on" and ""off"" are quoted; so is the end: "'
    assert second.doc == '"starts" with one'
    assert second.summary == ""


def test_doc_block_ends_at_the_first_triple_quote(rule_error):
    """No escapes in a block: the first \"\"\" closes it, and a fourth quote is left over."""
    line, col, what = rule_error('rule r1 {\n    code USR001\n    doc """a \\""""\n}\n')
    assert (line, col) == (3, 18)
    assert "unterminated string" in what


def test_syntax_bad_token_in_expression(rule_error):
    line, col, what = rule_error(
        "rule r1 {\n    for actuator a\n    where a.key == == 3\n"
        '    severity info\n    message "x"\n}\n')
    assert (line, col) == (3, 20)
    assert "found '=='" in what
    assert "a name" in what and "a string" in what and "a number" in what


def test_syntax_bad_character_in_expression(rule_error):
    line, col, what = rule_error(
        "rule r1 {\n    for actuator a\n    where a.key $ 3\n"
        '    severity info\n    message "x"\n}\n')
    assert (line, col) == (3, 17)
    assert "found '$'" in what


def test_syntax_end_of_file_inside_rule(rule_error):
    # no newline at the end: the end of the file is just past 'a' on line 3
    line, col, what = rule_error("rule r1 {\n    code USR001\n    for actuator a")
    assert "found end of file" in what
    assert "'}'" in what  # what would close the rule
    assert (line, col) == (3, 19)


def test_syntax_end_of_file_after_keyword(rule_error):
    line, col, what = rule_error("rule r1 {\n    code USR001\n    summary")
    assert "found end of file" in what
    assert "a string" in what
    assert (line, col) == (3, 12)


def test_syntax_error_inside_message_placeholder(rule_error):
    # column 13 is the opening quote; '{' is column 18, '+' column 25
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a\n    severity info\n    message "key {a.key +} x"\n}\n')
    assert (line, col) == (4, 25)
    assert "found '+'" in what


def test_placeholder_syntax_error_does_not_expect_rule_keywords(rule_error):
    _, _, what = rule_error(
        'rule r1 {\n    for actuator a\n    severity info\n    message "key {a.key +} x"\n}\n')
    # inside {...} only an expression can continue; rule keywords make no sense there
    for keyword in ("'code'", "'doc'", "'enabled'", "'message'"):
        assert keyword not in what, what


def test_syntax_error_inside_placeholder_after_escapes(rule_error):
    # the column counts the characters in the file: \" is two of them
    text = 'rule r1 {\n    for actuator a\n    severity info\n    message "\\"q\\" {a.key +}"\n}\n'
    line_text = text.splitlines()[3]
    line, col, what = rule_error(text)
    assert "found '+'" in what
    assert (line, col) == (4, line_text.index("+") + 1) == (4, 27)


def test_syntax_end_of_placeholder(rule_error):
    # '{a.}' : the name is missing where '}' is, column 21
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a\n    severity info\n    message "key {a.} x"\n}\n')
    assert "a name" in what
    assert (line, col) == (4, 21)


def test_unclosed_placeholder(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a\n    severity info\n    message "key {a.key x"\n}\n')
    assert (line, col) == (4, 18)
    assert "unclosed '{'" in what


def test_unknown_attribute_in_placeholder(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a\n    severity info\n    message "key {a.topik}"\n}\n')
    assert (line, col) == (4, 21)
    assert "'topik'" in what


def test_unknown_binding_type_suggests(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for sensor s\n    severity info\n    message "x"\n}\n')
    assert (line, col) == (2, 9)
    assert "'sensor'" in what
    assert "actuator" in what


def test_misspelt_binding_type_did_you_mean(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for actuatr s\n    severity info\n    message "x"\n}\n')
    assert (line, col) == (2, 9)
    assert "did you mean 'actuator'" in what


def test_variable_bound_twice(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a, actuator a\n    severity info\n    message "x"\n}\n')
    assert (line, col) == (2, 21)
    assert "'a'" in what


def test_unknown_variable(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a\n    where b.key == "x"\n'
        '    severity info\n    message "x"\n}\n')
    assert (line, col) == (3, 11)
    assert "unknown variable 'b'" in what
    assert "a" in what


def test_unknown_attribute_lists_known(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a\n    where a.topik == "x"\n'
        '    severity info\n    message "x"\n}\n')
    assert (line, col) == (3, 13)
    assert "'topik'" in what
    assert "did you mean 'key'" in what or "known:" in what
    for attr in ("key", "kind", "name", "applications", "commands"):
        assert attr in what


def test_misspelt_attribute_did_you_mean(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a\n    where a.key == "x" and\n       a.nme == 1\n'
        '    severity info\n    message "x"\n}\n')
    assert (line, col) == (4, 10)
    assert "did you mean 'name'" in what


def test_unknown_function(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a\n    where size(a.nodes) > 1\n'
        '    severity info\n    message "x"\n}\n')
    assert (line, col) == (3, 11)
    assert "unknown function 'size'" in what
    assert "count" in what


def test_wrong_argument_count(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a\n    where count(a.nodes, a.key) > 1\n'
        '    severity info\n    message "x"\n}\n')
    assert (line, col) == (3, 11)
    assert "count()" in what and "1" in what and "2 given" in what


def test_missing_for(rule_error):
    line, col, what = rule_error('rule r1 {\n    code USR001\n    severity info\n'
                                 '    message "x"\n}\n')
    assert (line, col) == (1, 6)
    assert "'for'" in what


def test_missing_severity(rule_error):
    line, col, what = rule_error('rule r1 {\n    for actuator a\n    message "x"\n}\n')
    assert (line, col) == (1, 6)
    assert "'severity'" in what


def test_unconditional_severity_not_last(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a\n    severity info\n'
        '    severity error when a.dynamic\n    message "x"\n}\n')
    assert (line, col) == (3, 5)
    assert "must come last" in what


def test_no_final_unconditional_severity(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    for actuator a\n    severity info when a.dynamic\n'
        '    severity error when not a.dynamic\n    message "x"\n}\n')
    assert (line, col) == (4, 5)
    assert "unconditional" in what


def test_missing_message(rule_error):
    line, col, what = rule_error('rule r1 {\n    for actuator a\n    severity info\n}\n')
    assert (line, col) == (1, 6)
    assert "'message'" in what


def test_field_given_twice(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    code USR001\n    for actuator a\n    severity info\n'
        '    code USR002\n    message "x"\n}\n')
    assert (line, col) == (5, 5)
    assert "'code' given twice" in what


def test_override_unknown_rule(rule_error):
    line, col, what = rule_error("\n\noverride nosuchrule severity info\n")
    assert (line, col) == (3, 10)
    assert "'nosuchrule'" in what
    assert "direct" in what


def test_disable_unknown_rule(rule_error):
    line, col, what = rule_error("disable nosuchrule\n")
    assert (line, col) == (1, 9)
    assert "'nosuchrule'" in what


def test_duplicate_code_with_builtin(rule_error):
    line, col, what = rule_error(
        'rule r1 {\n    code ACM001\n    for actuator a\n    severity info\n    message "x"\n}\n')
    assert (line, col) == (1, 6)
    assert "ACM001" in what and "direct" in what


def test_duplicate_code_across_user_rules(rule_error):
    one = ('rule {n} {{\n    code USR001\n    for actuator a\n    severity info\n'
           '    message "x"\n}}\n')
    line, col, what = rule_error(one.format(n="r1") + one.format(n="r2"))
    assert (line, col) == (7, 6)
    assert "USR001" in what and "r1" in what


def test_rules_file_not_found(run_acm, write_flows, tmp_path):
    missing = tmp_path / "nothere.acm"
    flows = write_flows(lamp_flows())
    for args in (("analyze", str(flows), "--rules", str(missing)),
                 ("rules", "--rules", str(missing))):
        result = run_acm(*args)
        assert result.code == 2
        assert result.out == ""
        assert result.err.splitlines() == [f"acm: error: {missing}: rule file not found"]


def test_rule_error_from_library_carries_position() -> None:
    with pytest.raises(RuleError) as info:
        parse_rules("rule r1 {\n  bogus\n}\n", "x.acm")
    assert str(info.value).startswith("x.acm:2:3: ")


def test_empty_rule_file_is_fine(run_acm, rules_file):
    result = run_acm("rules", "--rules", str(rules_file("# only a comment\n")))
    assert result.code == 0
    assert "ACM001" in result.out


# --------------------------------------------------------------------------- built-in rules


def test_builtin_rules_parse_and_are_documented() -> None:
    rule_file = builtin_rule_file()
    assert rule_file.rules, "no built-in rules"
    assert not rule_file.overrides
    codes = set()
    for rule in rule_file.rules:
        assert rule.code, rule.name
        assert re.fullmatch(r"ACM\d{3}", rule.code), rule.code
        assert rule.code not in codes
        codes.add(rule.code)
        assert rule.summary and rule.summary.strip(), rule.name
        assert rule.doc and len(rule.doc.split()) >= 20, rule.name
        assert rule.doc.strip() != rule.summary.strip()


def test_builtin_ruleset_loads_and_contains_direct() -> None:
    ruleset = load_ruleset()
    direct = ruleset.find("direct")
    assert direct is not None
    assert direct.code == "ACM001"
    assert ruleset.find("acm001") == direct
    assert direct.levels == ("error", "warning", "info")


@pytest.mark.parametrize("chain", [
    " and ".join(["a.name == \"x\""] * 600),
    "not " * 600 + "true",
])
def test_an_expression_nested_too_deep_is_a_rule_error_not_a_crash(chain: str) -> None:
    text = ("rule deep {\n  for actuator a\n  severity info\n  summary \"s\"\n"
            f"  message \"m\"\n  where {chain}\n}}\n")
    with pytest.raises(RuleError, match=r"^deep\.acm:6: expression nested more than 100 levels"):
        parse_rules(text, "deep.acm")


def test_a_placeholder_nested_too_deep_names_its_line() -> None:
    chain = " and ".join(["a.name"] * 600)
    text = f"rule deep {{\n  for actuator a\n  severity info\n  message \"{{{chain}}}\"\n}}\n"
    with pytest.raises(RuleError, match=r"^deep\.acm:4: expression nested more than 100"):
        parse_rules(text, "deep.acm")


def test_ordinary_nesting_still_parses() -> None:
    chain = " and ".join(["a.name == \"x\""] * 40)
    text = ("rule wide {\n  for actuator a\n  severity info\n  summary \"s\"\n"
            f"  message \"m\"\n  where {chain}\n}}\n")
    assert parse_rules(text, "wide.acm").rules[0].name == "wide"


# --------------------------------------------------------------------------- planning


@pytest.mark.parametrize("where", [
    'a.kind == "mqtt"',
    'a.kind != "mqtt"',
    'a.name != "x/set" and count(a.applications) >= 1',
    'count(a.applications) >= 2',
    '"on" in a.commands',
    'a.zone == none and a.name == "x/set"',
    'not a.dynamic',
    'a.key == a.key',
])
def test_a_first_test_of_one_attribute_decides_per_value_with_the_same_matches(
        where: str) -> None:
    """The facts are grouped by the attribute the first test reads and the test run once
    per group: the same facts must match, in the same order, as one test per fact."""
    from dataclasses import replace

    from acm.analysis.flows import flows_from_data
    from acm.engine import inspect
    from acm.rules.dsl.evaluate import Domains, enumerate_matches

    flows = [*_brokers_flows({"one.local": ["x/set", "y/set"], "two.local": ["x/set"]}),
             *[n for n in lamp_flows("on", None, "x/set") if n["type"] != "mqtt-broker"]]
    facts = list(inspect({"local": flows_from_data(flows)}).facts)
    plan = plan_rule(parse_rules(_probe(where)).rules[0], VOCABULARY)
    assert "a" in plan.grouped  # the case under test: the first test reads one attribute
    grouped = [env["a"] for env in enumerate_matches(plan, Domains({"actuator": facts}))]
    one_by_one = [env["a"] for env in enumerate_matches(replace(plan, grouped={}),
                                                       Domains({"actuator": facts}))]
    assert grouped == one_by_one
    assert grouped or where == 'a.kind != "mqtt"'  # (every actuator here is mqtt)


def test_a_first_test_that_reads_the_variable_itself_is_not_grouped() -> None:
    plan = plan_rule(parse_rules(_probe('count(a) == 1')).rules[0], VOCABULARY)
    assert plan.grouped == {}
