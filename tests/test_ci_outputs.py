"""What CI sees: SARIF, the Markdown comment, suppressions, baselines, ``acm check``.

SARIF is validated against the official SARIF 2.1.0 JSON schema, looked up
next to the project (``../shared/schemas/sarif-schema-2.1.0.json``); the test
is skipped when it is not there (the schema is not vendored).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, broker, node, tab

import acm

BUILDING = ROOT / "flows" / "building" / "flows.json"
SITE = ROOT / "flows" / "site" / "site.yaml"
SARIF_SCHEMA = ROOT.parent / "shared" / "schemas" / "sarif-schema-2.1.0.json"
TOPIC = "home/hall/light/set"
KEY = f"mqtt:mqtt.local:1883/{TOPIC}"


def commanding(tab_id: str, label: str, payload: str, topic: str = TOPIC,
               **tab_extra: Any) -> list[dict[str, Any]]:
    """A tab: inject ``payload`` -> mqtt out ``topic``."""
    return [
        tab(tab_id, label, **tab_extra),
        node(f"{tab_id}-in", "inject", tab_id, [[f"{tab_id}-out"]],
             payload=payload, payloadType="str", name=f"{label} trigger"),
        node(f"{tab_id}-out", "mqtt out", tab_id, [], broker="broker", topic=topic,
             name=f"{label} light"),
    ]


def two_tabs(**t1_extra: Any) -> list[dict[str, Any]]:
    """An error conflict: t1 sends on, t2 sends off to one topic."""
    return [broker(), *commanding("t1", "Motion", "on", **t1_extra),
            *commanding("t2", "Schedule", "off")]


# ---------------------------------------------------------------------------
# JSON


@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_large_json_report_is_encoded_in_pieces_to_the_same_text(batch: int) -> None:
    # a large report is written compact a batch of conflicts and actuators at a time:
    # the same text as encoding the whole document at once, whatever the batch
    from acm.output import json_format

    report = acm.analyze(BUILDING)
    assert report.findings and len(report.actuators) > 2
    whole = json.dumps(json_format.document(report), ensure_ascii=False)
    assert "".join(json_format.compact_pieces(report, batch)) == whole


def test_json_is_compact_past_the_size_for_people(monkeypatch) -> None:
    from acm.output import json_format

    report = acm.analyze(BUILDING)
    indented = acm.render(report, "json")
    assert indented.startswith('{\n  "schema"')
    monkeypatch.setattr(json_format, "INDENTED_UP_TO", 0)
    compact = acm.render(report, "json")
    assert "\n" not in compact[:-1] and compact.endswith("}\n")
    assert json.loads(compact) == json.loads(indented)


def test_a_large_report_reaches_stdout_and_files_whole(run_acm, monkeypatch, tmp_path) -> None:
    # the command writes a large report's pieces as they are made, to either
    from acm.output import json_format

    def document(text: str) -> Any:
        doc = json.loads(text)
        del doc["stats"]["seconds"]
        return doc

    indented = run_acm("analyze", str(BUILDING), "-f", "json", "--fail-on", "never").out
    monkeypatch.setattr(json_format, "INDENTED_UP_TO", 0)
    printed = run_acm("analyze", str(BUILDING), "-f", "json", "--fail-on", "never").out
    written = tmp_path / "report.json"
    assert run_acm("analyze", str(BUILDING), "-f", "json", "--fail-on", "never",
                   "-o", str(written)).code == 0
    for text in (printed, written.read_text(encoding="utf-8")):
        assert text.count("\n") == 1 and text.endswith("}\n")
        assert document(text) == document(indented)


# ---------------------------------------------------------------------------
# SARIF


@pytest.fixture(scope="module")
def sarif_validator() -> Any:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"SARIF 2.1.0 schema not found at {SARIF_SCHEMA}")
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def definition_lines(path: Path) -> dict[str, list[int]]:
    """Lines of each top-level node's own ``"id"`` key in a flows file (an array): one per
    definition of the id, in file order."""
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    lines: dict[str, list[int]] = {}
    index = text.index("[") + 1
    while True:
        while text[index] in " \t\r\n,":
            index += 1
        if text[index] == "]":
            return lines
        obj, end = decoder.raw_decode(text, index)
        own = re.search(r'"id"\s*:\s*' + re.escape(json.dumps(obj["id"])), text[index:end])
        assert own is not None
        lines.setdefault(obj["id"], []).append(text.count("\n", 0, index + own.start()) + 1)
        index = end


def id_lines(path: Path) -> dict[str, int]:
    """Line of the definition of each node id that ACM analyses (of several, the last)."""
    return {node_id: found[-1] for node_id, found in definition_lines(path).items()}


def check_sarif(doc: dict[str, Any], validator: Any, files: dict[str, Path],
                findings: dict[str, Any]) -> None:
    """``files``: runtime -> flows file (relative to cwd); ``findings``: the JSON report."""
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    assert doc["version"] == "2.1.0"
    [run] = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    rule_ids = [r["id"] for r in rules]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in rules:
        assert rule["help"]["text"].strip()
        assert rule["shortDescription"]["text"].strip()
    uris = {str(p.as_posix()) for p in files.values()}
    assert {a["location"]["uri"] for a in run["artifacts"]} == uris
    lines = {rt: id_lines(p) for rt, p in files.items()}
    every = {rt: definition_lines(p) for rt, p in files.items()}
    by_fingerprint = {c["id"]: c for c in findings["conflicts"]}
    results = run["results"]
    assert len(results) == len(findings["conflicts"])
    level = {"error": "error", "warning": "warning", "info": "note"}
    for result in results:
        assert result["ruleId"] in rule_ids
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        conflict = by_fingerprint[result["partialFingerprints"]["acmConflictId/v1"]]
        assert result["level"] == level[conflict["severity"]]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"] == conflict["message"]
        node_ids = {n for a in conflict["actuators"] for n in a["nodes"]}
        logical = {loc["logicalLocations"][0]["name"] for loc in result["locations"]}
        assert node_ids <= logical
        if conflict["definitions"]:  # a duplicated id: located at each of its definitions
            defined = conflict["definitions"]
            wanted = [(d["runtime"], every[d["runtime"]][d["id"]][k])
                      for k, d in enumerate(defined)]
            for located in (result["locations"], result["relatedLocations"]):
                assert [(loc["logicalLocations"][0]["fullyQualifiedName"].split("/")[0],
                         loc["physicalLocation"]["region"]["startLine"])
                        for loc in located] == wanted
                assert [f"element {d['index']} " in loc["message"]["text"]
                        for d, loc in zip(defined, located, strict=True)] == [True] * len(defined)
            continue
        for loc in [*result["locations"], *result.get("relatedLocations", [])]:
            physical = loc["physicalLocation"]
            uri = physical["artifactLocation"]["uri"]
            assert uri in uris
            runtime, node_id = loc["logicalLocations"][0]["fullyQualifiedName"].split("/", 1)
            assert loc["logicalLocations"][0]["name"] == node_id
            assert files[runtime].as_posix() == uri
            assert run["artifacts"][physical["artifactLocation"]["index"]]["location"]["uri"] \
                == uri
            assert physical["region"]["startLine"] == lines[runtime][node_id], \
                (uri, node_id, physical["region"], lines[runtime][node_id])


def test_sarif_building_example(run_acm, sarif_validator, monkeypatch):
    monkeypatch.chdir(ROOT)
    relative = BUILDING.relative_to(ROOT)
    result = run_acm("analyze", str(relative), "--format", "sarif")
    assert result.code == 1
    doc = json.loads(result.out)
    findings = run_acm("analyze", str(relative), "--format", "json").json()
    check_sarif(doc, sarif_validator, {"local": relative}, findings)
    levels = sorted(r["level"] for r in doc["runs"][0]["results"])
    assert levels == ["error"] * 4 + ["note", "warning"]


def test_sarif_site_model(run_acm, sarif_validator, monkeypatch):
    monkeypatch.chdir(ROOT)
    model = SITE.relative_to(ROOT)
    result = run_acm("analyze", "--model", str(model), "--format", "sarif")
    assert result.code == 1
    doc = json.loads(result.out)
    findings = run_acm("analyze", "--model", str(model), "--format", "json").json()
    files = {"hub": Path("flows/site/hub.json"), "gateway": Path("flows/site/gateway.json")}
    check_sarif(doc, sarif_validator, files, findings)
    results = doc["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"ACM001", "ACM002", "ACM003", "ACM004"}
    assert sorted(r["level"] for r in results).count("note") == 1
    cross = [r for r in results if r["ruleId"] == "ACM004"]
    for r in cross:  # the heater's: locations in both files
        uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for loc in r["locations"]}
        if "heater" in r["message"]["text"]:
            assert uris == {"flows/site/hub.json", "flows/site/gateway.json"}


def test_sarif_empty_report_is_valid(run_acm, sarif_validator, write_flows, monkeypatch,
                                     tmp_path):
    monkeypatch.chdir(tmp_path)
    path = write_flows([broker(), *commanding("t1", "Only", "on")], "quiet.json")
    result = run_acm("analyze", path.name, "--format", "sarif")
    assert result.code == 0
    doc = json.loads(result.out)
    assert not list(sarif_validator.iter_errors(doc))
    assert doc["runs"][0]["results"] == []


def test_sarif_line_of_a_node_inside_a_subflow(run_acm, sarif_validator, write_flows,
                                               monkeypatch, tmp_path):
    """The subflow definition names its inner nodes in its port wires before they are defined;
    the region must still be the line of the node's own definition."""
    nodes: list[dict[str, Any]] = [
        broker(),
        {"id": "sf", "type": "subflow", "name": "Set light", "info": "",
         "in": [{"x": 50, "y": 30, "wires": [{"id": "sf-out"}]}], "out": [], "env": []},
        node("sf-out", "mqtt out", "sf", [], broker="broker", topic=TOPIC, name="light"),
        tab("t1", "Motion"), tab("t2", "Schedule"),
        node("i1", "inject", "t1", [["s1"]], payload="on", payloadType="str"),
        node("s1", "subflow:sf", "t1", [[]]),
        node("i2", "inject", "t2", [["s2"]], payload="off", payloadType="str"),
        node("s2", "subflow:sf", "t2", [[]]),
    ]
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "sub.json"
    path.write_text(json.dumps(nodes, indent=4), encoding="utf-8")
    result = run_acm("analyze", "sub.json", "--format", "sarif")
    assert result.code == 1
    findings = run_acm("analyze", "sub.json", "--format", "json").json()
    check_sarif(json.loads(result.out), sarif_validator, {"local": Path("sub.json")}, findings)


def test_sarif_duplicate_id_at_each_definition(run_acm, sarif_validator, monkeypatch,
                                              tmp_path):
    """A tab pasted twice by hand: the duplicate-id results point at every definition, the
    conflict at the definitions ACM analysed (the last ones)."""
    nodes = [broker(), *commanding("t1", "Motion", "on"), *commanding("t2", "Schedule", "off")]
    copy = [{**n, "z": "t3"} if n.get("z") == "t1" else n for n in nodes[1:4]]
    copy[0] = tab("t3", "Motion (copy)")
    copy[1] = {**copy[1], "payload": "dim"}
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "copied.json"
    path.write_text(json.dumps([*nodes, *copy], indent=4), encoding="utf-8")
    result = run_acm("analyze", "copied.json", "--format", "sarif", "--fail-on", "warning")
    assert result.code == 1
    doc = json.loads(result.out)
    findings = run_acm("analyze", "copied.json", "--format", "json").json()
    check_sarif(doc, sarif_validator, {"local": Path("copied.json")}, findings)
    results = doc["runs"][0]["results"]
    duplicates = [r for r in results if r["ruleId"] == "ACM009"]
    assert sorted(r["locations"][0]["logicalLocations"][0]["name"] for r in duplicates) == [
        "t1-in", "t1-out"]
    assert {r["level"] for r in duplicates} == {"warning"}
    assert all(len(r["locations"]) == 2 for r in duplicates)
    [direct] = [r for r in results if r["ruleId"] == "ACM001"]
    assert "dim" in direct["message"]["text"]  # the copy's command was analysed
    [rule] = [r for r in doc["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "ACM009"]
    assert rule["defaultConfiguration"]["level"] == "warning"
    assert "Anti-pattern" in rule["help"]["text"]


# ---------------------------------------------------------------------------
# Markdown

NASTY = "<img src=x onerror=alert(1)> | **bold**"


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_markdown_table_one_row_per_finding(run_acm):
    result = run_acm("analyze", str(BUILDING), "--format", "markdown")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith("### ACM: 6 conflicts")
    header = lines.index("| Severity | Rule | Actuator | Applications | Finding |")
    assert lines[header + 1] == "|---|---|---|---|---|"
    rows = [ln for ln in lines[header + 2:] if ln.startswith("|")]
    assert len(rows) == 6
    for row in rows:
        assert unescaped_pipes(row) == 6, row
    assert sum("error" in r.split("|")[1] for r in rows) == 4


def test_markdown_escapes_text_from_flows(run_acm, write_flows):
    nodes = [broker(), *commanding("t1", NASTY, "on", topic=f"home/{NASTY}/set"),
             *commanding("t2", "Schedule", "off", topic=f"home/{NASTY}/set")]
    result = run_acm("analyze", str(write_flows(nodes)), "--format", "markdown")
    assert result.code == 1
    out = result.out
    assert "<img" not in out
    assert "**bold**" not in out
    rows = [ln for ln in out.splitlines() if ln.startswith("| ")]
    assert len(rows) == 2  # header + one finding
    for row in rows:
        assert unescaped_pipes(row) == 6, row
    assert "&lt;img" in out


def test_markdown_keeps_an_apostrophe_readable(run_acm, write_flows):
    """Escaping must not break HTML entities: html.escape turns ' into &#x27;, and escaping
    the '#' afterwards (&\\#x27;) makes a Markdown renderer show the entity text literally."""
    nodes = [broker(), *commanding("t1", "Bob's lights", "on"),
             *commanding("t2", "Schedule", "off")]
    out = run_acm("analyze", str(write_flows(nodes)), "--format", "markdown").out
    assert "Bob" in out
    assert "&\\#" not in out, out


def test_markdown_no_findings(run_acm, write_flows):
    out = run_acm("analyze", str(write_flows([broker(), *commanding("t1", "Only", "on")])),
                  "--format", "markdown")
    assert out.code == 0
    assert "No actuation conflicts found." in out.out
    assert "| Severity" not in out.out


# ---------------------------------------------------------------------------
# Suppressions


def analyse(run_acm: Any, path: Path, *args: str) -> dict[str, Any]:
    result = run_acm("analyze", str(path), "--format", "json", *args)
    assert result.code in (0, 1), result.err
    doc: dict[str, Any] = result.json()
    return doc


def test_unsuppressed_baseline(run_acm, write_flows):
    doc = analyse(run_acm, write_flows(two_tabs()))
    assert [c["rule"] for c in doc["conflicts"]] == ["direct"]
    assert doc["stats"]["suppressed"] == 0


def with_info(nodes: list[dict[str, Any]], node_id: str, info: str) -> list[dict[str, Any]]:
    for n in nodes:
        if n["id"] == node_id:
            n["info"] = info
    return nodes


@pytest.mark.parametrize("where", ["t1-out", "t1-in", "t2-out", "t1", "t2"])
def test_acm_ignore_on_node_or_tab(run_acm, write_flows, where):
    nodes = with_info(two_tabs(), where, "Owned by the lighting team.\n"
                      "acm-ignore direct the schedule only runs when nobody is in\n")
    result = run_acm("analyze", str(write_flows(nodes)), "--format", "json")
    assert result.code == 0
    doc = result.json()
    assert doc["conflicts"] == []
    assert doc["stats"]["suppressed"] == 1


def test_acm_ignore_on_group(run_acm, write_flows):
    nodes = two_tabs()
    nodes.append({"id": "g1", "type": "group", "z": "t1", "name": "lights",
                  "nodes": ["t1-out"], "info": "acm-ignore direct accepted by ops",
                  "x": 10, "y": 10, "w": 200, "h": 80})
    for n in nodes:
        if n["id"] == "t1-out":
            n["g"] = "g1"
    doc = analyse(run_acm, write_flows(nodes))
    assert doc["conflicts"] == []
    assert doc["stats"]["suppressed"] == 1


def test_acm_ignore_on_nested_group(run_acm, write_flows):
    nodes = two_tabs()
    nodes += [{"id": "g1", "type": "group", "z": "t1", "nodes": ["g2"],
               "info": "acm-ignore direct outer group"},
              {"id": "g2", "type": "group", "z": "t1", "g": "g1", "nodes": ["t1-out"]}]
    for n in nodes:
        if n["id"] == "t1-out":
            n["g"] = "g2"
    doc = analyse(run_acm, write_flows(nodes))
    assert doc["conflicts"] == [] and doc["stats"]["suppressed"] == 1


def test_acm_ignore_on_unrelated_group_does_not_suppress(run_acm, write_flows):
    nodes = two_tabs()
    nodes += [tab("t3", "Other"),
              node("x", "debug", "t3", [], g="g9"),
              {"id": "g9", "type": "group", "z": "t3", "nodes": ["x"],
               "info": "acm-ignore direct not here"}]
    doc = analyse(run_acm, write_flows(nodes))
    rules = sorted(c["rule"] for c in doc["conflicts"])
    assert rules == ["direct", "unused-suppression"]
    assert doc["stats"]["suppressed"] == 0


@pytest.mark.parametrize("text", ["acm-ignore ACM001", "acm-ignore acm001 by code",
                                  "acm-ignore * everything here", "acm-ignore DIRECT"])
def test_acm_ignore_by_code_or_star(run_acm, write_flows, text):
    doc = analyse(run_acm, write_flows(with_info(two_tabs(), "t1-out", text)))
    assert doc["conflicts"] == []
    assert doc["stats"]["suppressed"] == 1


def test_unused_suppression_is_reported(run_acm, write_flows):
    nodes = with_info(two_tabs(), "t1-out", "acm-ignore indirect not relevant")
    result = run_acm("analyze", str(write_flows(nodes)), "--format", "json")
    assert result.code == 1  # the direct error is still there
    doc = result.json()
    assert doc["stats"]["suppressed"] == 0
    [direct] = [c for c in doc["conflicts"] if c["rule"] == "direct"]
    [unused] = [c for c in doc["conflicts"] if c["rule"] == "unused-suppression"]
    assert unused["code"] == "ACM900"
    assert unused["severity"] == "info"
    assert unused["nodes"] == ["t1-out"]
    assert "t1-out" in unused["message"] and "indirect" in unused["message"]
    assert direct["severity"] == "error"
    assert any(r["code"] == "ACM900" for r in doc["rules"])


def test_acm_ignore_must_start_a_line(run_acm, write_flows):
    nodes = with_info(two_tabs(), "t1-out", "do not write acm-ignore direct here")
    doc = analyse(run_acm, write_flows(nodes))
    assert [c["rule"] for c in doc["conflicts"]] == ["direct"]


# ---------------------------------------------------------------------------
# Baselines


def test_baseline_roundtrip_then_only_new_conflicts(run_acm, write_flows, tmp_path):
    flows = write_flows(two_tabs(), "flows.json")
    baseline = tmp_path / "acm-baseline.json"
    written = run_acm("analyze", str(flows), "--write-baseline", str(baseline))
    assert written.code == 0, written.err
    assert baseline.is_file()
    recorded = json.loads(baseline.read_text(encoding="utf-8"))
    assert recorded["schema"] == "acm.baseline/1"
    assert [c["rule"] for c in recorded["conflicts"]] == ["direct"]
    assert "1 conflict" in written.err

    again = run_acm("analyze", str(flows), "--baseline", str(baseline), "--format", "json")
    assert again.code == 0, again.err
    doc = again.json()
    assert doc["conflicts"] == []
    assert doc["stats"]["baselined"] == 1
    assert doc["stats"]["findings"] == {"error": 0, "warning": 0, "info": 0}

    # unrelated edits (renames, moves) keep the baseline valid
    nodes = two_tabs()
    nodes[1]["label"] = "Motion (renamed)"
    flows.write_text(json.dumps(nodes), encoding="utf-8")
    assert run_acm("analyze", str(flows), "--baseline", str(baseline)).code == 0

    # a new conflicting pair of tabs: only that one is reported
    nodes += [*commanding("t3", "Alarm", "on", "home/siren/set"),
              *commanding("t4", "Quiet hours", "off", "home/siren/set")]
    flows.write_text(json.dumps(nodes), encoding="utf-8")
    new = run_acm("analyze", str(flows), "--baseline", str(baseline), "--format", "json")
    assert new.code == 1
    doc = new.json()
    assert [c["actuators"][0]["key"] for c in doc["conflicts"]] == [
        "mqtt:mqtt.local:1883/home/siren/set"]
    assert doc["stats"]["baselined"] == 1


def test_write_baseline_exits_0_even_with_errors(run_acm, write_flows, tmp_path):
    baseline = tmp_path / "b.json"
    result = run_acm("analyze", str(write_flows(two_tabs())), "--write-baseline", str(baseline),
                     "--fail-on", "info")
    assert result.code == 0


@pytest.mark.parametrize("content", [None, "{not json", '{"schema": "other/1", "conflicts": []}',
                                     "[]", '{"schema": "acm.baseline/1"}'])
def test_bad_baseline_is_exit_2_one_line(run_acm, write_flows, tmp_path, content):
    baseline = tmp_path / "baseline.json"
    if content is not None:
        baseline.write_text(content, encoding="utf-8")
    result = run_acm("analyze", str(write_flows(two_tabs())), "--baseline", str(baseline))
    assert result.code == 2
    assert result.out == ""
    err = result.err.strip()
    assert "\n" not in err
    assert err.startswith("acm: error: ") and "baseline.json" in err
    assert "Traceback" not in err


def test_baseline_with_model(run_acm, tmp_path):
    baseline = tmp_path / "site-baseline.json"
    assert run_acm("analyze", "--model", str(SITE), "--write-baseline", str(baseline)).code == 0
    result = run_acm("analyze", "--model", str(SITE), "--baseline", str(baseline),
                     "--format", "json")
    assert result.code == 0
    assert result.json()["stats"]["baselined"] == 8


# ---------------------------------------------------------------------------
# acm check (pre-commit)


def test_check_exit_1_when_one_file_has_an_error(run_acm, write_flows):
    bad = write_flows(two_tabs(), "bad.json")
    good = write_flows([broker(), *commanding("t1", "Only", "on")], "good.json")
    result = run_acm("check", str(good), str(bad))
    assert result.code == 1
    assert "bad.json" in result.out
    assert "good.json" not in result.out
    assert KEY in result.out and "ACM001" in result.out


def test_check_exit_0_when_none(run_acm, write_flows):
    one = write_flows([broker(), *commanding("t1", "Only", "on")], "one.json")
    two = write_flows([broker(), *commanding("t2", "Other", "on", "home/x/set")], "two.json")
    result = run_acm("check", str(one), str(two))
    assert result.code == 0
    assert result.err == ""


def test_check_prints_each_failing_files_report(run_acm, write_flows):
    first = write_flows(two_tabs(), "first.json")
    second = write_flows([broker(), *commanding("a", "A", "on", "home/y/set"),
                          *commanding("b", "B", "off", "home/y/set")], "second.json")
    result = run_acm("check", str(first), str(second))
    assert result.code == 1
    assert "first.json" in result.out and "second.json" in result.out
    assert KEY in result.out and "mqtt:mqtt.local:1883/home/y/set" in result.out


def test_check_exit_2_when_one_file_is_malformed(run_acm, write_flows, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    bad = write_flows(two_tabs(), "bad.json")
    result = run_acm("check", str(broken), str(bad))
    assert result.code == 2
    assert "broken.json" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "bad.json" in result.out  # the other files are still checked and reported
    good = write_flows([broker(), *commanding("t1", "Only", "on")], "good.json")
    assert run_acm("check", str(good), str(broken)).code == 2


def test_check_fail_on(run_acm, write_flows):
    nodes = [broker(), *commanding("t1", "A", "on"), *commanding("t2", "B", "on")]  # info
    path = write_flows(nodes)
    assert run_acm("check", str(path)).code == 0
    assert run_acm("check", "--fail-on", "info", str(path)).code == 1


def test_pre_commit_hooks_file():
    path = ROOT / ".pre-commit-hooks.yaml"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the project should ship a pre-commit hook "
                    "definition with an 'acm' hook running 'acm check'")
    hooks = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(hooks, list), "a .pre-commit-hooks.yaml is a list of hooks"
    by_id = {h["id"]: h for h in hooks}
    assert "acm" in by_id, sorted(by_id)
    hook = by_id["acm"]
    for field in ("id", "name", "entry", "language"):
        assert field in hook, field
    assert hook["entry"].split()[:2] == ["acm", "check"], hook["entry"]
    assert hook["language"] == "python"
    assert hook.get("pass_filenames", True) is True
    if "files" in hook:  # the usual flows file names are checked, credentials are not
        assert re.search(hook["files"], "flows.json")
        assert re.search(hook["files"], "site/flows_pi.json")
        exclude = hook.get("exclude")
        assert exclude and re.search(exclude, "flows_cred.json")
        assert not re.search(exclude, "flows.json")


def test_text_summary_says_how_many_were_baselined(run_acm, tmp_path: Path) -> None:
    baseline = tmp_path / "acm-baseline.json"
    assert run_acm("analyze", str(BUILDING), "--write-baseline", str(baseline)).code == 0
    result = run_acm("analyze", str(BUILDING), "--baseline", str(baseline))
    assert result.code == 0
    assert "not shown: 6 baselined" in result.out
