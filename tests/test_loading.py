"""Loading flows: every input shape Node-RED produces, and every way a file can be bad.

Good inputs are checked through what a user gets out of them (the actuator
and conflict found); bad inputs through the CLI contract: exit code 2 and
exactly one line on stderr naming the file and, where there is one, the node.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, broker, node, tab

import acm

PYTHON = ROOT / ".venv" / "bin" / "python"
if not PYTHON.exists():  # pragma: no cover - outside the project venv
    PYTHON = Path(sys.executable)


def conflicting_flows(topic: str = "home/hall/light/set") -> list[dict[str, Any]]:
    """Two tabs, each with inject -> mqtt out to the same topic: one direct conflict."""
    return [
        tab("t1", "Motion"),
        tab("t2", "Schedule"),
        broker("b1"),
        node("i1", "inject", "t1", [["o1"]], payload="on", payloadType="str"),
        node("o1", "mqtt out", "t1", [], broker="b1", topic=topic),
        node("i2", "inject", "t2", [["o2"]], payload="off", payloadType="str"),
        node("o2", "mqtt out", "t2", [], broker="b1", topic=topic),
    ]


def only_conflict(result: Any) -> dict[str, Any]:
    doc = result.json()
    assert doc["schema"] == "acm.findings/1"
    assert len(doc["conflicts"]) == 1, doc["conflicts"]
    return doc["conflicts"][0]


def run_module(*args: str, stdin: str | bytes) -> subprocess.CompletedProcess[bytes]:
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    return subprocess.run(
        [str(PYTHON), "-m", "acm", *args], input=data, capture_output=True,
        cwd=ROOT, timeout=60, check=False,
    )


# ---------------------------------------------------------------------------
# Accepted shapes


def test_plain_array_finds_the_conflict(run_acm, write_flows) -> None:
    path = write_flows(conflicting_flows())
    result = run_acm("analyze", str(path), "--format", "json")
    assert result.code == 1, result.err
    conflict = only_conflict(result)
    assert conflict["kind"] == "direct"
    assert conflict["severity"] == "error"  # "on" vs "off"
    assert sorted(conflict["applications"]) == ["t1", "t2"]
    assert sorted(conflict["actuators"][0]["nodes"]) == ["o1", "o2"]
    assert result.json()["sources"] == {"local": str(path)}


def test_admin_api_v2_object_keeps_rev_and_is_analysed(run_acm, write_flows) -> None:
    path = write_flows({"flows": conflicting_flows(), "rev": "abc"})
    loaded = acm.load_flows(path)
    assert loaded.rev == "abc"
    assert [t["id"] for t in loaded.tabs] == ["t1", "t2"]
    result = run_acm("analyze", str(path), "--format", "json")
    assert result.code == 1, result.err
    conflict = only_conflict(result)
    assert sorted(conflict["applications"]) == ["t1", "t2"]


def test_plain_array_has_no_rev(write_flows) -> None:
    assert acm.load_flows(write_flows(conflicting_flows())).rev is None


def test_single_flow_as_get_flow_returns_it(run_acm, write_flows) -> None:
    # GET /flow/:id: the tab's own properties, its nodes (z omitted or set), its configs
    single = {
        "id": "t1",
        "label": "Lighting",
        "disabled": False,
        "info": "",
        "nodes": [
            {"id": "i1", "type": "inject", "x": 100, "y": 100, "wires": [["o1"]],
             "payload": "on", "payloadType": "str"},
            {"id": "o1", "type": "mqtt out", "x": 300, "y": 100, "wires": [],
             "broker": "b1", "topic": "home/hall/light/set"},
        ],
        "configs": [broker("b1", host="10.0.0.5", port="1884")],
    }
    path = write_flows(single)
    loaded = acm.load_flows(path)
    assert [t["id"] for t in loaded.tabs] == ["t1"]
    assert loaded.tab_label("t1") == "Lighting"
    assert loaded.by_id["o1"]["z"] == "t1"
    result = run_acm("analyze", str(path), "--format", "json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["conflicts"] == []
    [actuator] = doc["actuators"]
    assert actuator["key"] == "mqtt:10.0.0.5:1884/home/hall/light/set"
    assert actuator["nodes"] == ["o1"]
    assert actuator["applications"] == ["t1"]
    assert actuator["commands"] == ["on"]


def test_stdin(tmp_path: Path) -> None:
    proc = run_module("analyze", "-", "--format", "json",
                      stdin=json.dumps(conflicting_flows()))
    assert proc.returncode == 1, proc.stderr.decode()
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "acm.findings/1"
    [conflict] = doc["conflicts"]
    assert sorted(conflict["applications"]) == ["t1", "t2"]
    assert sorted(conflict["actuators"][0]["nodes"]) == ["o1", "o2"]


def test_stdin_error_names_stdin() -> None:
    proc = run_module("analyze", "-", stdin="[{")
    assert proc.returncode == 2
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert "<stdin>" in lines[0]
    assert "malformed JSON" in lines[0]
    assert proc.stdout == b""


def test_stdin_with_utf8_bom() -> None:
    # the same bytes as a BOM-prefixed file (PowerShell, Notepad) piped in
    proc = run_module("analyze", "-", "--format", "json",
                      stdin=b"\xef\xbb\xbf" + json.dumps(conflicting_flows()).encode())
    assert proc.returncode == 1, proc.stderr.decode()
    assert len(json.loads(proc.stdout)["conflicts"]) == 1


def test_file_with_utf8_bom(run_acm, tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(conflicting_flows()).encode("utf-8"))
    result = run_acm("analyze", str(path), "--format", "json")
    assert result.code == 1, result.err
    assert sorted(only_conflict(result)["applications"]) == ["t1", "t2"]


def test_unknown_node_type_passes_messages(run_acm, write_flows) -> None:
    flows = conflicting_flows()
    # put a node ACM knows nothing about between trigger and actuator on tab t1
    flows[3]["wires"] = [["c1"]]
    flows.append(node("c1", "my-custom-node", "t1", [["o1"]], foo="bar"))
    path = write_flows(flows)
    result = run_acm("analyze", str(path), "--format", "json")
    assert result.code in (0, 1), result.err
    conflict = only_conflict(result)
    assert conflict["kind"] == "direct"
    assert sorted(conflict["applications"]) == ["t1", "t2"]
    assert ["i1", "c1", "o1"] in conflict["paths"]
    assert ["i2", "o2"] in conflict["paths"]
    # what the custom node sends is not known, so the commands cannot be shown to differ
    assert conflict["severity"] == "warning"


# ---------------------------------------------------------------------------
# Bad input: exit 2, one line on stderr naming the file (and node)


def assert_one_line_error(result: Any, *needles: str) -> str:
    assert result.code == 2, (result.out, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    for needle in needles:
        assert needle in line, (needle, line)
    assert result.out == ""
    return line


def test_malformed_json_gives_line_and_column(run_acm, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"id": "a", "type": "inject"},\n  {"id": "b" "type": "debug"}\n]\n',
                    encoding="utf-8")
    line = assert_one_line_error(run_acm("analyze", str(path)), str(path), "malformed JSON")
    assert "line 3" in line
    assert "column 14" in line


@pytest.mark.parametrize(
    "data",
    [{"a": 1}, 42, "flows", None, {"flows": "nope"}, {"nodes": []}],
    ids=["object", "number", "string", "null", "flows-not-array", "nodes-without-id"],
)
def test_json_that_is_not_a_flows_file(run_acm, write_flows, data: Any) -> None:
    path = write_flows(data)
    line = assert_one_line_error(run_acm("analyze", str(path)), str(path))
    assert "not a flows file" in line


def test_element_that_is_not_an_object(run_acm, write_flows) -> None:
    path = write_flows([tab("t1"), "oops"])
    line = assert_one_line_error(run_acm("analyze", str(path)), str(path))
    assert "element 1" in line


def test_node_without_type(run_acm, write_flows) -> None:
    path = write_flows([tab("t1"), {"id": "n42", "z": "t1", "wires": []}])
    line = assert_one_line_error(run_acm("analyze", str(path)), str(path), "n42")
    assert "type" in line


# ---------------------------------------------------------------------------
# Ids defined twice: loaded as Node-RED's runtime loads them (the last wins);
# what the analysis reports about them is in test_duplicate_ids.py


def test_duplicate_id_on_one_tab_keeps_the_last_definition(write_flows) -> None:
    path = write_flows([tab("t1", "Lights"), node("dup1", "inject", "t1", name="first"),
                        node("keep", "debug", "t1"),
                        node("dup1", "debug", "t1", name="second")])
    flows = acm.load_flows(path)
    assert [n["id"] for n in flows.nodes] == ["t1", "keep", "dup1"]  # where the last one stands
    assert flows.by_id["dup1"]["name"] == "second"
    [duplicate] = flows.duplicates
    assert duplicate.id == "dup1"
    assert [(d.index, d.type, d.name, d.z, d.z_label, d.z_type)
            for d in duplicate.definitions] == [(1, "inject", "first", "t1", "Lights", "tab"),
                                                (3, "debug", "second", "t1", "Lights", "tab")]
    assert duplicate.loaded.index == 3
    assert duplicate.also_in_node_red == ()  # one tab: Node-RED keeps only the last too


def test_duplicate_ids_on_two_tabs_are_each_kept_by_node_red(write_flows) -> None:
    """parseConfig files flow nodes per tab: a copy on another tab runs too."""
    nodes = [tab("t1", "Lights"), node("i1", "inject", "t1", [["o1"]]),
             node("o1", "debug", "t1"),
             tab("t2", "Copy"), node("i1", "inject", "t2", [["o1"]]),
             node("o1", "debug", "t2"),
             node("o1", "debug", "t2", name="last on t2")]
    flows = acm.load_flows(write_flows(nodes))
    assert [(n["id"], n.get("z")) for n in flows.nodes] == [
        ("t1", None), ("t2", None), ("i1", "t2"), ("o1", "t2")]
    by_id = {d.id: d for d in flows.duplicates}
    assert [d.index for d in by_id["i1"].definitions] == [1, 4]
    assert [d.index for d in by_id["i1"].also_in_node_red] == [1]
    assert [d.index for d in by_id["o1"].definitions] == [2, 5, 6]
    assert [d.index for d in by_id["o1"].also_in_node_red] == [2]  # 5 lost to 6 on tab t2


def test_duplicate_tab_id_keeps_the_last_tab_and_both_tabs_nodes(write_flows) -> None:
    flows = acm.load_flows(write_flows([
        tab("t1", "Old"), node("a", "inject", "t1", [["b"]]),
        tab("t1", "New"), node("b", "debug", "t1")]))
    assert [t["label"] for t in flows.tabs] == ["New"]
    assert [n["id"] for n in flows.nodes] == ["a", "t1", "b"]
    [duplicate] = flows.duplicates
    assert [d.index for d in duplicate.definitions] == [0, 2]
    assert duplicate.also_in_node_red == ()


def test_earlier_definition_is_not_checked(write_flows) -> None:
    """Node-RED drops it, so a wire of the dropped one to nowhere is no error."""
    flows = acm.load_flows(write_flows([
        tab("t1"), node("n1", "inject", "t1", [["ghost"]]), node("n1", "inject", "t1")]))
    assert flows.by_id["n1"]["wires"] == []
    assert len(flows.duplicates) == 1


def test_require_unique_ids_names_both_places(write_flows) -> None:
    path = write_flows([tab("t1", "Lights"), node("n1", "inject", "t1", name="Morning"),
                        tab("t2", "Lights copy"), node("n1", "inject", "t2", name="Morning"),
                        node("n2", "debug", "t2"), node("n2", "debug", "t2")])
    flows = acm.load_flows(path)
    with pytest.raises(acm.FlowsError) as info:
        flows.require_unique_ids("resolving")
    assert info.value.where == str(path)
    assert info.value.what == (
        'duplicate node id n1 at element 1 (inject "Morning" on tab "Lights") and element 3 '
        '(inject "Morning" on tab "Lights copy") (and 1 more duplicate id); '
        "fix the file before resolving")
    acm.load_flows(write_flows([tab("t1")])).require_unique_ids("resolving")  # no error


def test_wire_to_missing_node_names_source_and_target(run_acm, write_flows) -> None:
    path = write_flows([tab("t1"), node("src1", "inject", "t1", [["ghost9"]])])
    assert_one_line_error(run_acm("analyze", str(path)), str(path), "src1", "ghost9")


def test_instance_of_missing_subflow(run_acm, write_flows) -> None:
    path = write_flows([tab("t1"), node("inst1", "subflow:nosuchsub", "t1")])
    assert_one_line_error(run_acm("analyze", str(path)), str(path), "inst1", "nosuchsub")


def test_missing_file(run_acm, tmp_path: Path) -> None:
    path = tmp_path / "nope" / "flows.json"
    line = assert_one_line_error(run_acm("analyze", str(path)), str(path))
    assert "not found" in line


def test_file_that_is_not_utf8(run_acm, tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'[{"id": "t1", "type": "tab", "label": "K\xfcche"}]')
    assert_one_line_error(run_acm("analyze", str(path)), str(path))


def subflow_def(sub_id: str, inner_first: str) -> dict[str, Any]:
    return {"id": sub_id, "type": "subflow", "name": sub_id,
            "in": [{"x": 50, "y": 30, "wires": [{"id": inner_first}]}], "out": []}


def test_subflow_that_contains_itself(run_acm, write_flows) -> None:
    path = write_flows([
        tab("t1"),
        subflow_def("sfA", "selfinst"),
        node("selfinst", "subflow:sfA", "sfA"),
        node("i1", "inject", "t1", [["inst1"]]),
        node("inst1", "subflow:sfA", "t1"),
    ])
    line = assert_one_line_error(run_acm("analyze", str(path)), str(path), "sfA")
    assert "selfinst" in line or "inst1" in line
    assert "itself" in line


def test_subflows_that_contain_each_other(run_acm, write_flows) -> None:
    path = write_flows([
        tab("t1"),
        subflow_def("sfA", "a_has_b"),
        node("a_has_b", "subflow:sfB", "sfA"),
        subflow_def("sfB", "b_has_a"),
        node("b_has_a", "subflow:sfA", "sfB"),
        node("inst1", "subflow:sfA", "t1"),
    ])
    line = assert_one_line_error(run_acm("analyze", str(path)), str(path))
    assert "sfA" in line or "sfB" in line
    assert "itself" in line


def test_library_raises_flows_error_with_where(tmp_path: Path) -> None:
    path = tmp_path / "dangling.json"
    path.write_text(json.dumps([tab("t1"), node("n1", "inject", "t1", [["ghost"]])]),
                    encoding="utf-8")
    with pytest.raises(acm.FlowsError) as info:
        acm.load_flows(path)
    assert info.value.where == str(path)
    assert "n1" in info.value.what and "ghost" in info.value.what
