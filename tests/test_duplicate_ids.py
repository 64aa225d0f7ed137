"""A flows file with a node id defined twice (rule duplicate-id, ACM009).

Node-RED's runtime loads such a file (the last definition of an id wins), so
ACM analyses it the same way and reports each duplicated id as a warning
with every place it is defined. Commands that write flows back refuse it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import broker, node, tab

import acm
from acm.analysis.flows import flows_from_data
from acm.rewrite.resolve import resolve

TOPIC = "home/hall/light/set"
KEY = f"mqtt:mqtt.local:1883/{TOPIC}"


def copied_tab() -> list[dict[str, Any]]:
    """Tab "Lights" pasted again by hand as "Lights (weekend)": same node ids.

    The copy was then edited to command the hall light, which Security
    switches off: the one conflict is between the copy (the later
    definitions) and Security. The original still commands the porch light.
    """
    return [
        broker(),
        tab("t1", "Lights"),                                                        # 1
        node("i1", "inject", "t1", [["o1"]], payload="on", payloadType="str",      # 2
             name="Morning"),
        node("o1", "mqtt out", "t1", [], broker="broker", topic="home/porch/set",  # 3
             name="Light"),
        tab("t2", "Lights (weekend)"),                                              # 4
        node("i1", "inject", "t2", [["o1"]], payload="on", payloadType="str",      # 5
             name="Morning"),
        node("o1", "mqtt out", "t2", [], broker="broker", topic=TOPIC,             # 6
             name="Light"),
        tab("t3", "Security"),
        node("s1", "inject", "t3", [["s2"]], payload="off", payloadType="str", name="Armed"),
        node("s2", "mqtt out", "t3", [], broker="broker", topic=TOPIC, name="Hall light"),
    ]


def only_duplicates() -> list[dict[str, Any]]:
    """One tab, a node pasted twice on it: no conflict, one duplicated id."""
    return [
        broker(),
        tab("t1", "Lights"),
        node("i1", "inject", "t1", [["o1"]], payload="on", payloadType="str"),
        node("o1", "mqtt out", "t1", [], broker="broker", topic=TOPIC, name="first"),
        node("o1", "mqtt out", "t1", [], broker="broker", topic=TOPIC, name="second"),
    ]


def analyse(run_acm: Any, path: Path, *args: str) -> dict[str, Any]:
    result = run_acm("analyze", str(path), "--format", "json", *args)
    assert result.code in (0, 1), result.err
    return result.json()


def by_rule(doc: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [c for c in doc["conflicts"] if c["rule"] == rule]


# ---------------------------------------------------------------------------
# Analysis of what Node-RED loads


def test_copied_tab_is_analysed_with_the_later_definitions(run_acm, write_flows):
    doc = analyse(run_acm, write_flows(copied_tab()))
    [direct] = by_rule(doc, "direct")
    assert direct["severity"] == "error"
    assert direct["applications"] == ["t2", "t3"]
    assert direct["paths"] == [["i1", "o1"], ["s1", "s2"]]
    # the earlier copy (porch light on tab t1) is not analysed
    assert [a["key"] for a in doc["actuators"]] == [KEY]
    assert doc["stats"]["duplicate_ids"] == 2


def test_each_duplicated_id_is_a_warning_with_every_definition(run_acm, write_flows):
    path = write_flows(copied_tab())
    doc = analyse(run_acm, path)
    duplicates = {c["nodes"][0]: c for c in by_rule(doc, "duplicate-id")}
    assert sorted(duplicates) == ["i1", "o1"]
    o1 = duplicates["o1"]
    assert o1["code"] == "ACM009" and o1["kind"] == "duplicate-id"
    assert o1["severity"] == "warning"
    assert (o1["actuators"], o1["applications"], o1["paths"]) == ([], [], [])
    assert o1["definitions"] == [
        {"runtime": "local", "file": str(path), "id": "o1", "index": 3, "type": "mqtt out",
         "name": "Light", "z": "t1", "z_label": "Lights", "analysed": False,
         "kept_by_node_red": True},
        {"runtime": "local", "file": str(path), "id": "o1", "index": 6, "type": "mqtt out",
         "name": "Light", "z": "t2", "z_label": "Lights (weekend)", "analysed": True,
         "kept_by_node_red": True},
    ]
    assert o1["message"] == (
        f'node id o1 is defined 2 times in {path}: element 3 (mqtt out "Light" on tab '
        '"Lights") and element 6 (mqtt out "Light" on tab "Lights (weekend)"); ACM analyses '
        "only the last, but Node-RED keeps one per tab or subflow: element 3 is not analysed")
    assert by_rule(doc, "direct")[0]["definitions"] == []


def test_duplicate_on_one_tab_is_loaded_like_node_red(run_acm, write_flows):
    path = write_flows(only_duplicates())
    doc = analyse(run_acm, path)
    [finding] = doc["conflicts"]
    assert finding["rule"] == "duplicate-id"
    assert [(d["index"], d["name"], d["analysed"], d["kept_by_node_red"])
            for d in finding["definitions"]] == [(3, "first", False, False),
                                                 (4, "second", True, True)]
    assert finding["message"].endswith("; Node-RED and ACM load only the last")


@pytest.mark.parametrize(("fail_on", "code"), [("warning", 1), ("error", 0), ("never", 0)])
def test_exit_code_follows_fail_on(run_acm, write_flows, fail_on, code):
    result = run_acm("analyze", str(write_flows(only_duplicates())), "--fail-on", fail_on)
    assert result.code == code, result.err
    assert result.err == ""


def test_id_is_stable_when_the_file_moves_around_it(run_acm, write_flows):
    before = analyse(run_acm, write_flows(copied_tab()))
    shifted = analyse(run_acm, write_flows([tab("t0", "New"), *copied_tab()]))
    ids = {c["nodes"][0]: c["id"] for c in by_rule(before, "duplicate-id")}
    moved = {c["nodes"][0]: c for c in by_rule(shifted, "duplicate-id")}
    assert {n: c["id"] for n, c in moved.items()} == ids
    assert moved["o1"]["definitions"][0]["index"] == 4  # what is said did change
    assert ids["i1"] != ids["o1"]
    assert all(i.startswith("ACM009-") for i in ids.values())


def test_text_output_names_the_id(run_acm, write_flows):
    result = run_acm("analyze", str(write_flows(only_duplicates())))
    lines = result.out.splitlines()
    heading = lines.index("node id o1")
    assert lines[heading + 1].split() == ["WARN", "ACM009", "duplicate-id"]
    said = " ".join(" ".join(lines[heading + 2:]).split())
    assert 'element 3 (mqtt out "first" on tab "Lights")' in said
    assert 'element 4 (mqtt out "second" on tab "Lights")' in said


def test_markdown_output_has_a_row(run_acm, write_flows):
    result = run_acm("analyze", str(write_flows(only_duplicates())), "-f", "markdown")
    [row] = [ln for ln in result.out.splitlines() if "ACM009" in ln]
    assert row.startswith("| 🟠 warning | ACM009 duplicate\\-id |")
    assert "element 3" in row and "element 4" in row


def test_model_names_the_runtime_and_its_file(run_acm, tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(only_duplicates()), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps([tab("tb", "B")]), encoding="utf-8")
    model = tmp_path / "site.yaml"
    model.write_text("version: 1\nname: Site\nruntimes:\n  - id: a\n    flows: a.json\n"
                     "  - id: b\n    flows: b.json\n", encoding="utf-8")
    result = run_acm("analyze", "--model", str(model), "--format", "json")
    assert result.code == 0, result.err
    doc = result.json()
    [finding] = doc["conflicts"]
    assert {(d["runtime"], d["file"]) for d in finding["definitions"]} == {
        ("a", doc["sources"]["a"])}
    assert doc["sources"]["a"].endswith("a.json")
    text = run_acm("analyze", "--model", str(model)).out
    assert "node id o1 in runtime a" in text.splitlines()


def test_acm_ignore_on_the_node_silences_it(run_acm, write_flows):
    nodes = only_duplicates()
    nodes[-1]["info"] = "acm-ignore duplicate-id pasted on purpose"
    doc = analyse(run_acm, write_flows(nodes))
    assert doc["conflicts"] == []
    assert doc["stats"]["suppressed"] == 1


# ---------------------------------------------------------------------------
# The rule: listed, explained, overridden, disabled, reserved


def test_rule_is_listed_and_explained(run_acm):
    listing = run_acm("rules").out.splitlines()
    [line] = [ln for ln in listing if ln.startswith("ACM009")]
    assert line.split() == ["ACM009", "duplicate-id", "warning"]
    result = run_acm("rules", "--explain", "ACM009")
    assert result.code == 0
    assert result.out.startswith("ACM009 duplicate-id  [warning]")
    for needed in ("Severity:", "Anti-pattern:", "Best practice:", "acm resolve"):
        assert needed in result.out
    assert run_acm("rules", "--explain", "duplicate-id").out == result.out


@pytest.mark.parametrize("statement", ["override duplicate-id severity error",
                                       "override ACM009 severity error"])
def test_override_changes_its_severity(run_acm, write_flows, tmp_path, statement):
    rules = tmp_path / "site.acm"
    rules.write_text(statement + "\n", encoding="utf-8")
    result = run_acm("analyze", str(write_flows(only_duplicates())), "--rules", str(rules),
                     "--format", "json")
    assert result.code == 1  # an error now, and --fail-on error is the default
    [finding] = result.json()["conflicts"]
    assert finding["severity"] == "error"
    [listed] = [r for r in result.json()["rules"] if r["code"] == "ACM009"]
    assert listed["levels"] == ["error"]


def test_disable_and_enable(run_acm, write_flows, tmp_path):
    path = write_flows(only_duplicates())
    off = tmp_path / "off.acm"
    off.write_text("disable ACM009\n", encoding="utf-8")
    doc = analyse(run_acm, path, "--rules", str(off))
    assert doc["conflicts"] == []
    assert [r["enabled"] for r in doc["rules"] if r["code"] == "ACM009"] == [False]
    on = tmp_path / "on.acm"
    on.write_text("enable duplicate-id\n", encoding="utf-8")
    assert len(analyse(run_acm, path, "--rules", str(off), "--rules", str(on))["conflicts"]) == 1


@pytest.mark.parametrize(("header", "expected"), [
    ("rule mine {\n    code ACM009\n", "code ACM009 is already used by rule duplicate-id"),
    ("rule duplicate-id {\n", "rule duplicate-id is built in and cannot be replaced"),
    ("rule mine {\n    code ACM900\n", "code ACM900 is already used by rule unused-suppression"),
])
def test_user_rules_cannot_take_its_name_or_code(run_acm, tmp_path, header, expected):
    rules = tmp_path / "clash.acm"
    rules.write_text(header + '    for actuator a\n    severity info\n    message "x"\n}\n',
                     encoding="utf-8")
    result = run_acm("rules", "--rules", str(rules))
    assert result.code == 2
    assert expected in result.err and str(rules) in result.err


# ---------------------------------------------------------------------------
# Writing flows back: refused, the earlier definitions would be lost


def test_resolve_refuses_with_both_places(run_acm, write_flows, tmp_path):
    path = write_flows(copied_tab())
    out = tmp_path / "resolved.json"
    result = run_acm("resolve", str(path), "-o", str(out))
    assert result.code == 2
    assert result.out == ""
    [line] = result.err.splitlines()
    assert line == (f'acm: error: {path}: duplicate node id i1 at element 2 (inject "Morning" '
                    'on tab "Lights") and element 5 (inject "Morning" on tab "Lights (weekend)") '
                    "(and 1 more duplicate id); fix the file before resolving")
    assert not out.exists()


def test_resolve_of_flows_from_a_server_refuses_too() -> None:
    """acm apply resolves the flows it read from the Admin API the same way."""
    flows = flows_from_data({"flows": copied_tab(), "rev": "abc"}, "http://127.0.0.1:1880")
    with pytest.raises(acm.FlowsError, match="fix the file before resolving"):
        resolve(flows)


def test_offline_revert_refuses(run_acm, write_flows, tmp_path):
    out = tmp_path / "reverted.json"
    result = run_acm("revert", str(write_flows(copied_tab())), "-o", str(out))
    assert result.code == 2
    assert "fix the file before" in result.err
    assert not out.exists()


@pytest.mark.parametrize("extra", [(), ("--resolve",)])
def test_deploy_refuses_before_any_connection(run_acm, tmp_path, extra):
    """Deploying would push the flows without the earlier definitions: refused up front."""
    (tmp_path / "a.json").write_text(json.dumps(copied_tab()), encoding="utf-8")
    model = tmp_path / "site.yaml"
    model.write_text("version: 1\nname: Site\nruntimes:\n  - id: a\n    flows: a.json\n"
                     "    url: http://127.0.0.1:9\n", encoding="utf-8")
    result = run_acm("deploy", str(model), "--force", "--backup-dir", str(tmp_path / "b"),
                     *extra)
    assert result.code == 2, result.out + result.err
    assert "duplicate node id" in result.err and "fix the file before" in result.err
    assert "connection" not in result.err
    assert not (tmp_path / "b").exists()
