"""The built-in actuator catalog, as data: the ``targets`` of tests/cases/catalog/*.yaml.

Each case names one actuator node (as a flows file holds it), the config
nodes it refers to and the constant topic/payload an upstream ``change`` node
sets. The test puts that chain on two tabs and runs the whole analysis, so a
case checks the actuator key, the command, and that the key is stable enough
for two applications to be found driving the same actuator.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import broker, node, tab

import acm
from acm.analysis.findings import Report
from acm.analysis.values import UNKNOWN, const_text

CASES_DIR = Path(__file__).parent / "cases" / "catalog"
CASE_FILES = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
              for p in sorted(CASES_DIR.glob("*.yaml"))}
CASES: list[dict[str, Any]] = [c for doc in CASE_FILES.values() for c in doc.get("targets", [])]
TABS = ("T1", "T2")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", CASES, ids=[c["name"] for c in CASES])


# ---------------------------------------------------------------------------
# building flows


def _change_rules(msg: dict[str, Any]) -> list[dict[str, Any]]:
    rules = []
    for prop in ("topic", "payload"):
        if prop not in msg:
            continue
        value = msg[prop]
        if isinstance(value, str):
            rules.append({"t": "set", "p": prop, "pt": "msg", "to": value, "tot": "str"})
        else:
            rules.append({"t": "set", "p": prop, "pt": "msg", "to": json.dumps(value),
                          "tot": "json"})
    return rules


def _tab_chain(case: dict[str, Any], tab_id: str) -> list[dict[str, Any]]:
    """inject -> [change] -> [upstream ...] -> the actuator node, on one tab."""
    fields = copy.deepcopy(case["node"])
    if tab_id == "T2":
        for key, value in (case.get("t2") or {}).items():
            if value is None:
                fields.pop(key, None)
            else:
                fields[key] = value
    node_type = fields.pop("type")
    act_id = f"{tab_id}.act"
    chain: list[tuple[str, str, dict[str, Any]]] = []
    if case.get("msg"):
        chain.append((f"{tab_id}.chg", "change", {"name": "", "rules": _change_rules(case["msg"])}))
    for index, up in enumerate(case.get("upstream") or []):
        up = dict(up)
        chain.append((f"{tab_id}.up{index}", up.pop("type"), up))
    ids = [f"{tab_id}.inj"] + [c[0] for c in chain] + [act_id]
    nodes = [node(f"{tab_id}.inj", "inject", tab_id, [[ids[1]]], name="", topic="",
                  payload="", payloadType="date", repeat="", crontab="00 07 * * *", once=False)]
    for position, (node_id, node_type_up, extra) in enumerate(chain, start=1):
        nodes.append(node(node_id, node_type_up, tab_id, [[ids[position + 1]]], **extra))
    nodes.append(node(act_id, node_type, tab_id, [], **fields))
    return nodes


def build_flows(case: dict[str, Any]) -> list[dict[str, Any]]:
    flows: list[dict[str, Any]] = [tab(t, f"App {t}") for t in TABS]
    for t in TABS:
        flows.extend(_tab_chain(case, t))
    flows.extend(copy.deepcopy(case.get("configs") or []))
    return flows


def analyse(flows: list[dict[str, Any]]) -> Report:
    return acm.analyze_flows({"local": acm.flows_from_data(flows, "<test>")})


def _commands(actuator: Any) -> set[str | None]:
    out: set[str | None] = set()
    for driver in actuator.drivers.values():
        out.update(None if c is UNKNOWN else const_text(c) for c in driver.commands)
    return out


# ---------------------------------------------------------------------------
# the data-driven test


def test_case_is_well_formed(case: dict[str, Any]) -> None:
    outcomes = [bool(case.get("expect")), bool(case.get("expect_unknown")),
                bool(case.get("expect_none"))]
    assert sum(outcomes) == 1, f"{case['name']}: give exactly one of expect/expect_unknown/none"
    assert "type" in case["node"]
    for entry in case.get("expect") or []:
        assert set(entry) <= {"key", "command", "commands", "role"}


def test_catalog_case(case: dict[str, Any]) -> None:
    report = analyse(build_flows(case))
    keys = {a.key: a for a in report.actuators}
    act_nodes = {f"{t}.act" for t in TABS}

    if case.get("expect_none"):
        assert keys == {}, f"not an actuator, got {sorted(keys)}"
        assert report.stats["unknown_targets"] == 0
        assert report.unknown == ()
        assert report.findings == ()
        return

    if case.get("expect_unknown"):
        assert keys == {}, f"target known only at run time, got {sorted(keys)}"
        assert report.stats["unknown_targets"] == 2
        assert {u.node.id for u in report.unknown} == act_nodes
        assert {a for u in report.unknown for a in u.applications} == set(TABS)
        assert report.findings == ()
        return

    expected = {e["key"]: e for e in case["expect"]}
    assert set(keys) == set(expected), f"keys {sorted(keys)} != {sorted(expected)}"
    assert report.stats["unknown_targets"] == 0, [u.name for u in report.unknown]
    assert report.stats["actuators"] == len(expected)

    found = {(f.rule, f.actuators[0].key): f for f in report.findings}
    for key, entry in expected.items():
        actuator = keys[key]
        role = entry.get("role", "device")
        assert actuator.role == role
        assert set(actuator.drivers) == set(TABS)
        assert {ref.id for ref in actuator.nodes} == act_nodes
        if "commands" in entry:
            assert _commands(actuator) == set(entry["commands"])
        elif "command" in entry:
            for app, driver in actuator.drivers.items():
                got = {None if c is UNKNOWN else const_text(c)
                       for c in driver.commands}
                assert got == {entry["command"]}, f"{app}: {got}"

        rule = {"device": "direct", "channel": "channel", "state": "shared-state"}[role]
        finding = found.get((rule, key))
        assert finding is not None, f"no {rule} finding on {key}"
        assert set(finding.applications) == set(TABS)
        assert {ref.id for ref in finding.nodes} == act_nodes
        # every path runs from something on the tab to the actuator node there
        assert {p.application for p in finding.paths} == set(TABS)
        for path in finding.paths:
            assert path.nodes[-1].id == f"{path.application}.act"
        commands = _commands(actuator)
        if "severity" in case:
            wanted = case["severity"]
        else:
            wanted = "warning" if None in commands and role == "device" else "info"
        assert finding.severity == wanted, finding.message


# ---------------------------------------------------------------------------
# dashboard widgets are where commands start, not actuators


def _ui_switch(node_id: str, z: str, wires: list[list[str]]) -> dict[str, Any]:
    return node(node_id, "ui_switch", z, wires, name="Hall light", label="hall",
                group="G", order=1, width=0, height=0, passthru=True, decouple="false",
                topic="", topicType="str", style="", onvalue="on", onvalueType="str",
                onicon="", oncolor="", offvalue="off", offvalueType="str", officon="",
                offcolor="")


def test_ui_switch_alone_is_not_an_actuator() -> None:
    flows = [tab("T1"), _ui_switch("sw", "T1", []),
             {"id": "G", "type": "ui_group", "name": "g", "tab": "UT"},
             {"id": "UT", "type": "ui_tab", "name": "Home"}]
    report = analyse(flows)
    assert report.actuators == ()
    assert report.unknown == ()
    assert report.findings == ()
    assert report.stats["triggers"] == 1


def test_ui_switches_on_two_tabs_drive_the_actuator_but_people_are_no_conflict() -> None:
    flows: list[dict[str, Any]] = []
    for t in TABS:
        flows += [
            tab(t),
            _ui_switch(f"{t}.sw", t, [[f"{t}.out"]]),
            node(f"{t}.out", "mqtt out", t, [], topic="home/hall/light/set", qos="",
                 retain="", broker="broker"),
        ]
    flows += [broker(), {"id": "G", "type": "ui_group", "name": "g", "tab": "UT"},
              {"id": "UT", "type": "ui_tab", "name": "Home"}]
    report = analyse(flows)
    assert [a.key for a in report.actuators] == ["mqtt:mqtt.local:1883/home/hall/light/set"]
    actuator = report.actuators[0]
    for driver in actuator.drivers.values():
        assert {const_text(c) for c in driver.commands} == {"on", "off"}
    for driver in actuator.drivers.values():
        assert driver.provenances == {"manual"}
        assert [c.ref.id for c in driver.sends][0].endswith(".out")
    # two people switching one light arbitrate among themselves: nothing to report
    assert report.findings == ()


def test_ui_switch_with_input_wire_still_starts_messages() -> None:
    """A switch fed by a flow (passthru) is a source on its own as well."""
    flows = [
        tab("T1"), tab("T2"),
        node("inj", "inject", "T1", [["T1.sw"]], payload="dim", payloadType="str", topic=""),
        _ui_switch("T1.sw", "T1", [["T1.out"]]),
        node("T1.out", "mqtt out", "T1", [], topic="x/y", broker="broker"),
        node("T2.inj", "inject", "T2", [["T2.out"]], payload="on", payloadType="str", topic=""),
        node("T2.out", "mqtt out", "T2", [], topic="x/y", broker="broker"),
        broker(),
    ]
    report = analyse(flows)
    [actuator] = report.actuators
    assert set(actuator.drivers) == set(TABS)
    # its own on/off plus what passes through it
    assert {const_text(c) for c in actuator.drivers["T1"].commands} == {"on", "off", "dim"}


def test_cases_cover_every_catalog_actuator_type() -> None:
    """Every actuator type of a catalog module has a case in that module's file."""
    from acm.analysis.catalog import MODULES

    for module in MODULES:
        name = module.__name__.rsplit(".", 1)[-1]
        covered = {c["node"]["type"] for c in CASE_FILES.get(name, {}).get("targets", [])}
        actuators = {t.type for t in module.TYPES if t.targets is not None}
        missing = actuators - covered - {"rpi-gpio-out"}  # same extractor, alias
        assert not missing, f"no case in tests/cases/catalog/{name}.yaml for {sorted(missing)}"


def test_docs_catalog_is_generated_from_the_declarations() -> None:
    """docs/catalog.md is what scripts/catalog_doc.py writes: it cannot drift from the code."""
    from acm.analysis.catalog.table import markdown

    written = (Path(__file__).parent.parent / "docs" / "catalog.md").read_text(encoding="utf-8")
    assert written == markdown() + "\n", "run: python scripts/catalog_doc.py"


def test_rules_explain_lists_how_targets_are_classified(run_acm) -> None:
    """`acm rules --explain channel` / `shared-state` list what the catalog uses, word for word."""
    from acm.analysis.catalog import core, homeassistant

    channel = " ".join(run_acm("rules", "--explain", "channel").out.split())
    for level in core.COMMAND_LEVELS:
        assert f" {level}" in channel, level
    for domain in homeassistant.NOT_A_TARGET:
        assert f" {domain}" in channel, domain
    state = " ".join(run_acm("rules", "--explain", "shared-state").out.split())
    for domain in homeassistant.STATE_DOMAINS:
        assert f" {domain}" in state, domain


# ---------------------------------------------------------------------------
# what a widget does with the messages it receives


def _feedback_flows(widget: dict[str, Any]) -> list[dict[str, Any]]:
    """T1: the relay's state (mqtt in) -> widget -> the relay's command topic.
    T2: a schedule switches the relay off."""
    return [
        tab("T1", "Dashboard"), tab("T2", "Night"), broker(),
        node("T1.state", "mqtt in", "T1", [["T1.w"]], topic="sonoff/1/stat/POWER",
             broker="broker"),
        {**widget, "id": "T1.w", "z": "T1", "x": 100, "y": 100, "wires": [["T1.out"]]},
        node("T1.out", "mqtt out", "T1", [], topic="sonoff/1/cmnd/POWER", broker="broker"),
        node("T2.in", "inject", "T2", [["T2.out"]], payload="OFF", payloadType="str"),
        node("T2.out", "mqtt out", "T2", [], topic="sonoff/1/cmnd/POWER", broker="broker"),
    ]


def test_state_feedback_into_a_widget_is_not_passed_on() -> None:
    """The relay's state only moves the switch on the screen: the relay is commanded by a
    person (the switch's ON/OFF) and by the schedule, with known commands."""
    switch = {**_ui_switch("x", "T1", []), "passthru": False, "onvalue": "ON",
              "offvalue": "OFF"}
    report = analyse(_feedback_flows(switch))
    assert report.unknown == ()  # the unknown state does not swallow the switch's values
    [relay] = report.actuators
    assert relay.drivers["T1"].provenances == {"manual"}
    assert {const_text(c) for c in relay.drivers["T1"].commands} == {"ON", "OFF"}
    assert [f.rule for f in report.findings] == ["override"]  # the schedule vs a person


def test_a_button_that_emulates_a_click_sends_its_own_payload() -> None:
    button = {"type": "ui_button", "group": "G", "passthru": True, "payload": "ON",
              "payloadType": "str", "topic": ""}
    report = analyse(_feedback_flows(button))
    [relay] = report.actuators
    # the state message presses the button: an external trigger now sends "ON"
    assert relay.drivers["T1"].provenances == {"manual", "external"}
    assert {const_text(c) for c in relay.drivers["T1"].commands} == {"ON"}
    without = analyse(_feedback_flows({**button, "passthru": False}))
    assert without.actuators[0].drivers["T1"].provenances == {"manual"}
