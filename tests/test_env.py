"""``${NAME}`` in actuator nodes inside subflows takes the instance's value, as in Node-RED."""

from __future__ import annotations

from typing import Any

from conftest import broker, node, tab

import acm
from acm.analysis.findings import Report

SUBFLOW = "sf1"


def analyse(flows: list[dict[str, Any]]) -> Report:
    return acm.analyze_flows({"local": acm.flows_from_data(flows, "<test>")})


def subflow(inner: dict[str, Any], default: str) -> list[dict[str, Any]]:
    """A subflow 'Set light' whose one input feeds ``inner``; NAME defaults to ``default``."""
    return [
        {"id": SUBFLOW, "type": "subflow", "name": "Set light", "info": "",
         "in": [{"x": 50, "y": 30, "wires": [{"id": inner["id"]}]}], "out": [],
         "env": [{"name": "NAME", "type": "str", "value": default}]},
        {**inner, "z": SUBFLOW},
    ]


def instance(node_id: str, z: str, value: str | None) -> dict[str, Any]:
    env = [] if value is None else [{"name": "NAME", "type": "str", "value": value}]
    return node(node_id, f"subflow:{SUBFLOW}", z, [], env=env)


def tabs(first: str | None, second: str | None, cron2: str = "00 23 * * *"
         ) -> list[dict[str, Any]]:
    """Two tabs, each a schedule into an instance of the subflow (NAME as given)."""
    return [
        tab("T1", "Evening"), tab("T2", "Night"),
        node("T1.in", "inject", "T1", [["T1.sf"]], crontab="00 19 * * *", payload="on",
             payloadType="str"),
        instance("T1.sf", "T1", first),
        node("T2.in", "inject", "T2", [["T2.sf"]], crontab=cron2, payload="off",
             payloadType="str"),
        instance("T2.sf", "T2", second),
    ]


def service_call() -> dict[str, Any]:
    return node("call", "api-call-service", SUBFLOW, [], server="S", version=5,
                domain="homeassistant", service="toggle", entityId=["${NAME}"], data="",
                dataType="json")


def test_entity_list_takes_each_instances_value() -> None:
    flows = [*subflow(service_call(), "light.hall"), *tabs("light.kitchen", None),
             {"id": "S", "type": "server", "name": "HA"}]
    report = analyse(flows)
    keys = {a.key: a for a in report.actuators}
    assert set(keys) == {"ha:light.kitchen", "ha:light.hall"}  # T2 keeps the default
    assert set(keys["ha:light.kitchen"].drivers) == {"T1"}
    assert set(keys["ha:light.hall"].drivers) == {"T2"}
    assert [f for f in report.findings if f.rule == "direct"] == []


def test_two_instances_on_one_entity_are_a_conflict() -> None:
    flows = [*subflow(service_call(), "light.hall"), *tabs("light.porch", "light.porch"),
             {"id": "S", "type": "server", "name": "HA"}]
    report = analyse(flows)
    [finding] = [f for f in report.findings if f.rule == "direct"]
    assert finding.actuators[0].key == "ha:light.porch"
    assert set(finding.applications) == {"T1", "T2"}


def test_mqtt_topic_takes_the_instances_value() -> None:
    out = node("out", "mqtt out", SUBFLOW, [], topic="${NAME}", broker="broker")
    flows = [*subflow(out, "home/hall/light/set"), *tabs("home/kitchen/light/set", None),
             broker()]
    keys = {a.key for a in analyse(flows).actuators}
    assert keys == {"mqtt:mqtt.local:1883/home/kitchen/light/set",
                    "mqtt:mqtt.local:1883/home/hall/light/set"}
