"""Chains and loops through the environment: the cases in tests/cases/environment.yaml,
and what the rules language and the findings make of them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, broker, node, tab

import acm
from acm.errors import RuleError
from acm.rules.ruleset import load_ruleset

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "environment.yaml").read_text(encoding="utf-8"))["cases"]
BASE = """version: 1
runtimes: [{id: home, flows: flows.json}]
brokers: [{id: mq, host: mqtt.local, port: 1883}]
zones: [{id: living, name: Living room}, {id: bedroom, name: Bedroom}]
"""
ENVIRONMENT = ("chain", "loop")


def build_site(tmp_path: Path, case: dict[str, Any]) -> Path:
    """The case's flows file and model, written to ``tmp_path``."""
    nodes: list[dict[str, Any]] = [broker()]
    for label, chain in case["tabs"].items():
        tab_id = label.replace(" ", "_")
        nodes.append(tab(tab_id, label))
        for index, spec in enumerate(chain):
            fields = dict(spec)
            node_type = fields.pop("type")
            if node_type.startswith("mqtt"):
                fields.setdefault("broker", "broker")
            wires = [[f"{label}-{index + 1}"]] if index + 1 < len(chain) else []
            nodes.append(node(f"{label}-{index}", node_type, tab_id, wires, **fields))
    (tmp_path / "flows.json").write_text(json.dumps(nodes), encoding="utf-8")
    model = tmp_path / "site.yaml"
    model.write_text(BASE + "".join(case.get("model") or []), encoding="utf-8")
    return model


def words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_environment_case(case: dict[str, Any], tmp_path: Path) -> None:
    report = acm.analyze_model(build_site(tmp_path, case))
    found = sorted(
        (f.rule, f.severity, words(f.message), sorted(r.id for r in f.subject))
        for f in report.findings if f.rule in ENVIRONMENT)
    expected = sorted(
        (e["rule"], e["severity"], words(e["message"]), sorted(e.get("triggers", [])))
        for e in case["expect"])
    assert found == expected


def test_chain_finding_names_actuators_triggers_and_paths(tmp_path: Path) -> None:
    case = next(c for c in CASES if c["name"] == "heater-sets-off-the-fan-is-a-chain")
    report = acm.analyze_model(build_site(tmp_path, case))
    (finding,) = [f for f in report.findings if f.rule == "chain"]
    assert finding.code == "ACM010" and finding.kind == "chain"
    assert [a.key for a in finding.actuators] == [
        "mqtt:mqtt.local:1883/living/heater/set", "mqtt:mqtt.local:1883/living/fan/set"]
    assert set(finding.applications) == {"Heating", "Fan"}
    # the path of the application that starts it, then the reaction's path
    assert [(p.application, [r.id for r in p.nodes]) for p in finding.paths] == [
        ("Heating", ["Heating-0", "Heating-1"]), ("Fan", ["Fan-0", "Fan-1"])]
    again = acm.analyze_model(build_site(tmp_path, case))
    assert [f.id for f in again.findings] == [f.id for f in report.findings]  # stable


def test_loop_is_suppressed_like_any_finding(tmp_path: Path) -> None:
    case = next(c for c in CASES if c["name"] == "heater-and-window-oscillate")
    model = build_site(tmp_path, case)
    flows = json.loads((tmp_path / "flows.json").read_text(encoding="utf-8"))
    for item in flows:
        if item.get("id") == "Air":
            item["info"] = "acm-ignore loop the window has a dead band"
    (tmp_path / "flows.json").write_text(json.dumps(flows), encoding="utf-8")
    assert not [f for f in acm.analyze_model(model).findings if f.rule == "loop"]


def test_user_rules_talk_about_chains(tmp_path: Path) -> None:
    case = next(c for c in CASES if c["name"] == "heater-sets-off-the-fan-is-a-chain")
    rules = tmp_path / "env.acm"
    rules.write_text('rule heat-chains {\n code SITE010\n for chain c\n'
                     ' where "temperature" in c.properties and count(c.keys) == 2\n'
                     ' severity warning\n message "{c.first} -> {c.last} ({c.starter_names} '
                     'then {c.reacting_names}; {c.steps} step)"\n}\n', encoding="utf-8")
    report = acm.analyze_model(build_site(tmp_path, case), load_ruleset([rules]))
    (finding,) = [f for f in report.findings if f.rule == "heat-chains"]
    assert finding.message == "Heater -> Ceiling fan (Heating then Fan; 1 step)"


def test_unknown_chain_attribute_is_named(tmp_path: Path) -> None:
    rules = tmp_path / "typo.acm"
    rules.write_text('rule x {\n for chain c\n where c.step >= 2\n severity info\n'
                     ' message "x"\n}\n', encoding="utf-8")
    with pytest.raises(RuleError, match=r"typo.acm:3:.*chain has no attribute 'step'; "
                                        r"did you mean 'steps'"):
        load_ruleset([rules])


def test_bundled_site_sensors_link_no_chain() -> None:
    """flows/site declares sensors; its only sensor flow (Air quality on CO2) answers its
    own window, so there is no chain there and its findings are those of flows/README.md."""
    report = acm.analyze_model(ROOT / "flows" / "site" / "site.yaml")
    assert not [f for f in report.findings if f.rule in ENVIRONMENT]


def test_bundled_home_example() -> None:
    """flows/home (docs/rules.md, Chains and loops): two loops and one chain."""
    report = acm.analyze_model(ROOT / "flows" / "home" / "home.yaml")
    found = sorted((f.rule, f.severity, f.message.split(":")[0])
                   for f in report.findings if f.rule in ENVIRONMENT)
    assert found == [
        ("chain", "info", "Living-room window → co2 (Living room) → 'Ventilation"),
        ("loop", "warning", "Living-room heater → temperature (Living room) → 'Air"),
        ("loop", "warning", "Living-room lights → illuminance (Living room) → 'Blinds"),
    ]


@pytest.mark.parametrize("sensors, message", [
    ("  - {id: s, zone: ofice, binding: {type: ha, entity_id: sensor.t}, measures: [co2]}\n",
     r"site.yaml:7: sensors\[0\].zone: unknown zone 'ofice'; known: living"),
    ("  - {id: s, binding: {type: ha, entity_id: sensor.t}, measures: [co2]}\n"
     "  - {id: s, binding: {type: ha, entity_id: sensor.u}, measures: [co2]}\n",
     r"site.yaml:8: sensors\[1\].id: duplicate id 's'"),
    ("  - {id: s, binding: {type: mqtt, broker: nowhere, topic: a}, measures: [co2]}\n",
     r"sensors\[0\].binding: unknown broker 'nowhere'"),
])
def test_model_sensor_errors(tmp_path: Path, sensors: str, message: str) -> None:
    from acm.errors import ModelError
    from acm.model import load_model

    (tmp_path / "flows.json").write_text("[]", encoding="utf-8")
    model = tmp_path / "site.yaml"
    model.write_text("version: 1\nruntimes: [{id: home, flows: flows.json}]\n"
                     "brokers: [{id: mq, host: h}]\nzones: [{id: living}]\n\n"
                     "sensors:\n" + sensors, encoding="utf-8")
    with pytest.raises(ModelError, match=message):
        load_model(model)


def test_model_sensor_records(tmp_path: Path) -> None:
    from acm.model import load_model

    model = load_model(ROOT / "flows" / "home" / "home.yaml")
    assert [(s.id, s.key, s.zone, s.measures) for s in model.sensors][:2] == [
        ("living-lux", "ha:sensor.living_illuminance", "living", ("illuminance",)),
        ("living-temperature", "mqtt:mqtt.home.local:1883/home/living/temperature", "living",
         ("temperature",))]
