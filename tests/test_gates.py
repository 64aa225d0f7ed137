"""Gates: automations that take turns through shared state are not in conflict.

A Home Assistant node exposed to Home Assistant is switched on and off by
its enable switch; a state node that watches one helper starts messages
because the helper changed; a current-state condition on one helper lets
messages through by its state. When one application sets such a gate of the
other's commands, the two take turns by design (docs/analysis.md, Gates).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conftest import node, tab

import acm
from acm.analysis.findings import Finding, Report

LIGHT = "light.living_room"
SERVER = {"id": "S", "type": "server", "name": "Home Assistant"}


def analyse(flows: list[dict[str, Any]]) -> Report:
    return acm.analyze_flows({"local": acm.flows_from_data(flows, "<test>")})


def call(node_id: str, z: str, service: str, entity: str, wires: Sequence[Sequence[str]] = ()
         ) -> dict[str, Any]:
    domain = entity.split(".")[0]
    return node(node_id, "api-call-service", z, wires, name=f"{entity} {service}", server="S",
                version=5, domain=domain, service=service, entityId=[entity], data="",
                dataType="json")


def motion(node_id: str, z: str, wires: list[list[str]], exposed_as: str | None = None
           ) -> dict[str, Any]:
    extra: dict[str, Any] = {"exposeToHomeAssistant": False}
    if exposed_as:
        extra = {"exposeToHomeAssistant": True,
                 "haConfig": [{"property": "name", "value": exposed_as},
                              {"property": "icon", "value": ""}]}
    return node(node_id, "server-state-changed", z, wires, name="Motion", server="S",
                version=1, entityidfilter="binary_sensor.living_motion",
                entityidfiltertype="exact", haltifstate="on", **extra)


def condition(node_id: str, z: str, entity: str, wires: list[list[str]]) -> dict[str, Any]:
    return node(node_id, "api-current-state", z, [*wires, []], name=f"{entity} on?",
                server="S", version=1, outputs=2, halt_if="on", halt_if_type="str",
                halt_if_compare="is", entity_id=entity)


def schedule(node_id: str, z: str, wires: list[list[str]], cron: str) -> dict[str, Any]:
    return node(node_id, "inject", z, wires, name=cron, crontab=cron, payload="",
                payloadType="date")


def direct(report: Report, entity: str = LIGHT) -> Finding | None:
    found = [f for f in report.findings
             if f.rule == "direct" and f.actuators[0].key == f"ha:{entity}"]
    return found[0] if found else None


def room_and_mode(*, mode_sets_the_gate: bool, exposed: bool) -> list[dict[str, Any]]:
    """Room: motion turns the light on. Mode: at 22:00 (switches the room's automation off
    first, or not) and turns the light off."""
    mode = [schedule("m.22", "M", [["m.off"]], "00 22 * * *")]
    if mode_sets_the_gate:
        mode[0]["wires"] = [["m.gate"]]
        mode.append(call("m.gate", "M", "turn_off", "switch.nodered_living_room_lights",
                         [["m.off"]]))
    mode.append(call("m.off", "M", "turn_off", LIGHT))
    return [
        tab("R", "Living room"), tab("M", "House mode"), SERVER,
        motion("r.motion", "R", [["r.on"]],
               "NodeRed: Living Room Lights" if exposed else None),
        call("r.on", "R", "turn_on", LIGHT),
        *mode,
    ]


def test_a_mode_that_switches_the_room_automation_off_takes_turns() -> None:
    report = analyse(room_and_mode(mode_sets_the_gate=True, exposed=True))
    finding = direct(report)
    assert finding is not None and finding.severity == "info", finding
    assert "take turns through switch.nodered_living_room_lights" in finding.message


def test_without_the_mode_setting_the_switch_it_is_a_conflict() -> None:
    report = analyse(room_and_mode(mode_sets_the_gate=False, exposed=True))
    finding = direct(report)
    assert finding is not None and finding.severity == "error", finding
    assert "take turns" not in finding.message


def test_a_switch_that_nothing_exposes_gates_nothing() -> None:
    report = analyse(room_and_mode(mode_sets_the_gate=True, exposed=False))
    finding = direct(report)
    assert finding is not None and finding.severity == "error", finding


def test_a_condition_on_a_helper_the_other_application_sets() -> None:
    """Evening checks input_boolean.guests before switching on; Guests sets that helper."""
    flows = [
        tab("E", "Evening"), tab("G", "Guests"), SERVER,
        schedule("e.19", "E", [["e.cond"]], "00 19 * * *"),
        condition("e.cond", "E", "input_boolean.guests", [["e.on"]]),
        call("e.on", "E", "turn_on", LIGHT),
        schedule("g.23", "G", [["g.flag"]], "00 23 * * *"),
        call("g.flag", "G", "turn_on", "input_boolean.guests", [["g.off"]]),
        call("g.off", "G", "turn_off", LIGHT),
    ]
    finding = direct(analyse(flows))
    assert finding is not None and finding.severity == "info", finding
    assert "input_boolean.guests" in finding.message
    # the helper itself is shared state, reported apart at info
    state = [f for f in analyse(flows).findings if f.rule == "shared-state"]
    assert state == []  # only one application writes it


def test_two_automations_gated_by_a_third_still_cross() -> None:
    """Both check 'away' (set by a third tab): they take turns with it, not with each other."""
    flows = [
        tab("A", "Alarm"), tab("B", "Bedtime"), tab("H", "House mode"), SERVER,
        schedule("a.t", "A", [["a.cond"]], "00 21 * * *"),
        condition("a.cond", "A", "input_boolean.away", [["a.on"]]),
        call("a.on", "A", "turn_on", LIGHT),
        schedule("b.t", "B", [["b.cond"]], "00 22 * * *"),
        condition("b.cond", "B", "input_boolean.away", [["b.off"]]),
        call("b.off", "B", "turn_off", LIGHT),
        schedule("h.t", "H", [["h.away"]], "00 08 * * *"),
        call("h.away", "H", "turn_on", "input_boolean.away"),
    ]
    finding = direct(analyse(flows))
    assert finding is not None and finding.severity == "error", finding


def test_a_trigger_on_a_helper_set_by_the_other_application() -> None:
    """Night reacts to input_boolean.night, which Schedule sets: Night follows Schedule."""
    flows = [
        tab("N", "Night"), tab("S2", "Schedule"), SERVER,
        node("n.flag", "server-state-changed", "N", [["n.off"]], name="night on", server="S",
             version=1, entityidfilter="input_boolean.night", entityidfiltertype="exact"),
        call("n.off", "N", "turn_off", LIGHT),
        schedule("s.t", "S2", [["s.night"]], "00 23 * * *"),
        call("s.night", "S2", "turn_on", "input_boolean.night", [["s.on"]]),
        call("s.on", "S2", "turn_on", LIGHT),
    ]
    finding = direct(analyse(flows))
    assert finding is not None and finding.severity == "info", finding


def test_finding_ids_name_the_feature_only_when_the_device_is_split() -> None:
    """One feature in play: the id is the device's (stable as before features existed);
    several: each feature's finding has an id of its own."""
    import hashlib

    def plain_id(rule_code: str, rule: str, key: str) -> str:
        return f"{rule_code}-" + hashlib.sha256(f"{rule}\0{key}".encode()).hexdigest()[:12]

    def thermostat(t2_service: str, t2_data: str) -> Report:
        return analyse([
            tab("A", "Comfort"), tab("B", "Eco"), SERVER,
            schedule("a.t", "A", [["a.set"]], "00 07 * * *"),
            node("a.set", "api-call-service", "A", [], server="S", version=5, domain="climate",
                 service="set_temperature", entityId=["climate.living"],
                 data='{"temperature": 21}', dataType="json"),
            node("a.mode", "api-call-service", "A", [], server="S", version=5,
                 domain="climate", service="set_hvac_mode", entityId=["climate.living"],
                 data='{"hvac_mode": "heat"}', dataType="json"),
            schedule("a.t2", "A", [["a.mode"]], "00 06 * * *"),
            schedule("b.t", "B", [["b.set"]], "00 22 * * *"),
            node("b.set", "api-call-service", "B", [], server="S", version=5, domain="climate",
                 service=t2_service, entityId=["climate.living"], data=t2_data,
                 dataType="json"),
        ])

    split = thermostat("set_temperature", '{"temperature": 17}')
    [finding] = [f for f in split.findings if f.rule == "direct"]
    assert finding.actuators[0].feature == "target temperature" and finding.actuators[0].split
    assert finding.id != plain_id("ACM001", "direct", "ha:climate.living")
    # only setpoints in play: named in the message, but the id is the device's
    single = analyse([
        tab("A", "Comfort"), tab("B", "Eco"), SERVER,
        schedule("a.t", "A", [["a.set"]], "00 07 * * *"),
        node("a.set", "api-call-service", "A", [], server="S", version=5, domain="climate",
             service="set_temperature", entityId=["climate.living"],
             data='{"temperature": 21}', dataType="json"),
        schedule("b.t", "B", [["b.set"]], "00 22 * * *"),
        node("b.set", "api-call-service", "B", [], server="S", version=5, domain="climate",
             service="set_temperature", entityId=["climate.living"],
             data='{"temperature": 17}', dataType="json"),
    ])
    [finding] = [f for f in single.findings if f.rule == "direct"]
    assert "(target temperature)" in finding.message
    assert finding.id == plain_id("ACM001", "direct", "ha:climate.living")


def test_gates_from_many_branches_keep_one_source_per_node() -> None:
    """20 diamonds, each with a condition on its own helper on one branch: where the
    branches meet, the gates they share are kept, so each node is reached once per
    source (the propagation stays linear instead of one source per subset of gates)."""
    from acm.engine import inspect

    flows: list[dict[str, Any]] = [tab("T", "Chain"), SERVER,
                                   schedule("start", "T", [["j0"]], "00 07 * * *")]
    for i in range(20):
        flows += [node(f"j{i}", "junction", "T", [[f"c{i}", f"p{i}"]]),
                  condition(f"c{i}", "T", f"input_boolean.h{i}", [[f"j{i + 1}"]]),
                  node(f"p{i}", "junction", "T", [[f"j{i + 1}"]])]
    flows.append(node("j20", "junction", "T", [["out"]]))
    flows.append(call("out", "T", "turn_on", LIGHT))
    analysis = inspect({"local": acm.flows_from_data(flows, "<test>")})
    assert max(len(by_source) for by_source in analysis.propagation.reach.values()) == 1
    [light] = analysis.report.actuators
    [command] = light.drivers["T"].sends
    assert command.gates == frozenset()  # no helper holds on every way


# --------------------------------------------------------------------------- global context


def on_mode(node_id: str, z: str, wires: list[list[str]], prop: str = "mode",
            **extra: Any) -> dict[str, Any]:
    """A core switch that lets messages through while global.<prop> is "auto"."""
    return node(node_id, "switch", z, wires, name=f"{prop} auto?", property=prop,
                propertyType="global", rules=[{"t": "eq", "v": "auto", "vt": "str"}],
                checkall="true", repair=False, outputs=1, **extra)


def set_mode(node_id: str, z: str, wires: list[list[str]], prop: str = "mode"
             ) -> dict[str, Any]:
    return node(node_id, "change", z, wires, name=f"{prop} manual",
                rules=[{"t": "set", "p": prop, "pt": "global", "to": "manual", "tot": "str"}])


def auto_and_manual(manual_writes: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Auto switches the light on at 19:00 while global.mode is "auto"; Manual, at 23:00,
    writes the mode (through ``manual_writes``, or not when None) and switches it off."""
    manual: list[dict[str, Any]] = [schedule("m.23", "M", [["m.off"]], "00 23 * * *")]
    if manual_writes:
        manual[0]["wires"] = [[manual_writes[0]["id"]]]
        manual += manual_writes
    return [
        tab("A", "Auto"), tab("M", "Manual"), SERVER,
        schedule("a.19", "A", [["a.mode"]], "00 19 * * *"),
        on_mode("a.mode", "A", [["a.on"]]),
        call("a.on", "A", "turn_on", LIGHT),
        *manual,
        call("m.off", "M", "turn_off", LIGHT),
    ]


def test_a_switch_on_a_global_variable_the_other_application_sets_takes_turns() -> None:
    finding = direct(analyse(auto_and_manual([set_mode("m.set", "M", [["m.off"]])])))
    assert finding is not None and finding.severity == "info", finding
    assert finding.message.endswith("they take turns through global.mode")


def test_a_global_variable_set_from_a_function_is_set_too() -> None:
    write = node("m.fn", "function", "M", [["m.off"]], name="manual",
                 func='global.set( "mode" , "manual");\nreturn msg;', outputs=1)
    finding = direct(analyse(auto_and_manual([write])))
    assert finding is not None and finding.severity == "info", finding


def test_a_global_variable_nobody_else_sets_gates_nothing() -> None:
    finding = direct(analyse(auto_and_manual(None)))
    assert finding is not None and finding.severity == "error", finding
    other = [set_mode("m.set", "M", [["m.off"]], prop="scene")]  # another variable
    finding = direct(analyse(auto_and_manual(other)))
    assert finding is not None and finding.severity == "error", finding


def test_a_variable_in_a_store_or_with_a_path_is_the_same_variable() -> None:
    flows = auto_and_manual([set_mode("m.set", "M", [["m.off"]], prop="#:(file)::mode")])
    flows[4] = on_mode("a.mode", "A", [["a.on"]], prop="mode.current")
    finding = direct(analyse(flows))
    assert finding is not None and finding.severity == "info", finding


def test_a_rule_comparing_with_a_global_variable_is_a_gate() -> None:
    flows = auto_and_manual([set_mode("m.set", "M", [["m.off"]])])
    flows[4] = node("a.mode", "switch", "A", [["a.on"]], property="payload",
                    propertyType="msg", rules=[{"t": "neq", "v": "mode", "vt": "global"}],
                    checkall="true", outputs=1)
    finding = direct(analyse(flows))
    assert finding is not None and finding.severity == "info", finding
