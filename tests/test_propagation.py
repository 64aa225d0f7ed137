"""Constant propagation of (msg.topic, msg.payload), seen through the public API.

Every test builds a small flows file, runs ``acm.analyze_flows`` and looks at
the actuators, their commands, the unknown targets and the ``direct``
findings: what a user of the library sees.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import broker, node, tab

import acm
from acm.analysis.findings import Finding, Report
from acm.analysis.values import UNKNOWN, const_text

TOPIC = "home/hall/light/set"
KEY = f"mqtt:mqtt.local:1883/{TOPIC}"


def analyse(flows: list[dict[str, Any]]) -> Report:
    return acm.analyze_flows({"local": acm.flows_from_data(flows, "<test>")})


def inject(node_id: str, z: str, to: str, payload: Any = "", payload_type: str = "str",
           topic: str = "") -> dict[str, Any]:
    """An old-style inject (no ``props``), as flows from before Node-RED 1.1 hold it; daily."""
    return node(node_id, "inject", z, [[to]], name="", topic=topic, payload=payload,
                payloadType=payload_type, repeat="", crontab="00 07 * * *", once=False,
                onceDelay=0.1)


def mqtt_out(node_id: str, z: str, topic: str = TOPIC) -> dict[str, Any]:
    return node(node_id, "mqtt out", z, [], name="", topic=topic, qos="", retain="",
                broker="broker")


def change(node_id: str, z: str, to: list[str] | list[list[str]], *rules: dict[str, Any]
           ) -> dict[str, Any]:
    wires: Any = to if to and isinstance(to[0], list) else [to]
    return node(node_id, "change", z, wires, name="", rules=list(rules), action="",
                property="", **{"from": "", "to": "", "reg": False})


def set_rule(prop: str, value: str, tot: str = "str") -> dict[str, Any]:
    return {"t": "set", "p": prop, "pt": "msg", "to": value, "tot": tot}


def commands_of(report: Report, key: str, app: str | None = None) -> set[str | None]:
    [actuator] = [a for a in report.actuators if a.key == key]
    drivers = [actuator.drivers[app]] if app else list(actuator.drivers.values())
    return {None if c is UNKNOWN else const_text(c) for d in drivers for c in d.commands}


def direct(report: Report, key: str = KEY) -> Finding | None:
    found = [f for f in report.findings if f.rule == "direct" and f.actuators[0].key == key]
    return found[0] if found else None


def two_tabs(t1: list[dict[str, Any]], t2: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [tab("T1", "Lighting"), tab("T2", "Security"), *t1, *t2, broker()]


def simple_t2(payload: Any = "off", payload_type: str = "str") -> list[dict[str, Any]]:
    return [inject("T2.inj", "T2", "T2.out", payload, payload_type), mqtt_out("T2.out", "T2")]


# ---------------------------------------------------------------------------
# constants from inject nodes


def test_different_constants_from_two_tabs_is_an_error() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.out", "on"), mqtt_out("T1.out", "T1")],
        simple_t2("off"),
    ))
    assert [a.key for a in report.actuators] == [KEY]
    assert commands_of(report, KEY) == {"on", "off"}
    assert commands_of(report, KEY, "T1") == {"on"}
    assert commands_of(report, KEY, "T2") == {"off"}
    finding = direct(report)
    assert finding is not None and finding.severity == "error"
    assert set(finding.applications) == {"T1", "T2"}
    assert "on" in finding.message and "off" in finding.message


def test_same_constant_from_two_tabs_is_info() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.out", "on"), mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert commands_of(report, KEY) == {"on"}
    finding = direct(report)
    assert finding is not None and finding.severity == "info"


def test_typed_constants_compare_by_value() -> None:
    """num 1 and num 2.0 differ; json {"a":1} equals {"a": 1}; num 2 equals num 2.0."""
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.out", "1", "num"), mqtt_out("T1.out", "T1")],
        simple_t2("2.0", "num"),
    ))
    assert commands_of(report, KEY) == {"1", "2"}
    assert direct(report).severity == "error"  # type: ignore[union-attr]
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.out", "2", "num"), mqtt_out("T1.out", "T1")],
        simple_t2("2.0", "num"),
    ))
    assert direct(report).severity == "info"  # type: ignore[union-attr]
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.out", '{"a":1}', "json"), mqtt_out("T1.out", "T1")],
        simple_t2('{ "a": 1 }', "json"),
    ))
    assert direct(report).severity == "info"  # type: ignore[union-attr]


def test_timestamp_payload_is_dynamic() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.out", "", "date"), mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert commands_of(report, KEY, "T1") == {None}
    assert direct(report).severity == "warning"  # type: ignore[union-attr]


def test_function_node_makes_the_command_dynamic() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.fn", "on"),
         node("T1.fn", "function", "T1", [["T1.out"]], func="return msg;", outputs=1),
         mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert commands_of(report, KEY, "T1") == {None}
    finding = direct(report)
    assert finding is not None and finding.severity == "warning"


@pytest.mark.parametrize("function_first", [True, False])
def test_a_known_command_survives_a_computed_one_on_another_path(function_first: bool) -> None:
    """19:00 ON and a computed path in one tab, 23:00 OFF in the other: still an error.

    Whichever path the propagation meets first, the known ON is kept next to
    the computed command instead of being swallowed by it.
    """
    evening = [inject("T1.inj", "T1", "T1.out", "ON"),
               inject("T1.sensor", "T1", "T1.fn", "x"),
               node("T1.fn", "function", "T1", [["T1.out"]], func="return msg;", outputs=1),
               mqtt_out("T1.out", "T1")]
    if function_first:
        evening = evening[1:3] + evening[:1] + evening[3:]
    report = analyse(two_tabs(evening, simple_t2("OFF")))
    assert commands_of(report, KEY, "T1") == {"ON", None}
    finding = direct(report)
    assert finding is not None and finding.severity == "error", finding
    assert "ON, OFF" in finding.message or "OFF, ON" in finding.message
    assert "computed at run time" in finding.message


# ---------------------------------------------------------------------------
# change nodes


def test_change_set_payload_overrides_the_inject_constant() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.chg", "on"),
         change("T1.chg", "T1", ["T1.out"], set_rule("payload", "off")),
         mqtt_out("T1.out", "T1")],
        simple_t2("off"),
    ))
    assert commands_of(report, KEY, "T1") == {"off"}
    assert direct(report).severity == "info"  # type: ignore[union-attr]


def test_change_set_typed_payload() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.chg", "", "date"),
         change("T1.chg", "T1", ["T1.out"], set_rule("payload", "true", "bool")),
         mqtt_out("T1.out", "T1")],
        simple_t2("false", "bool"),
    ))
    assert commands_of(report, KEY) == {"true", "false"}
    assert direct(report).severity == "error"  # type: ignore[union-attr]


def test_change_set_payload_from_flow_context_is_dynamic() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.chg", "on"),
         change("T1.chg", "T1", ["T1.out"], set_rule("payload", "level", "flow")),
         mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert commands_of(report, KEY, "T1") == {None}
    assert direct(report).severity == "warning"  # type: ignore[union-attr]


def test_change_set_payload_from_msg_topic() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.chg", "x", topic="off"),
         change("T1.chg", "T1", ["T1.out"], set_rule("payload", "topic", "msg")),
         mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert commands_of(report, KEY, "T1") == {"off"}


def test_change_delete_payload_forgets_the_constant() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.chg", "on"),
         change("T1.chg", "T1", ["T1.out"], {"t": "delete", "p": "payload", "pt": "msg"}),
         mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert "on" not in commands_of(report, KEY, "T1")
    assert direct(report).severity != "info"  # type: ignore[union-attr]


def test_change_delete_topic_leaves_an_unknown_target() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.chg", "on", topic=TOPIC),
         change("T1.chg", "T1", ["T1.out"], {"t": "delete", "p": "topic", "pt": "msg"}),
         mqtt_out("T1.out", "T1", topic="")],
        simple_t2("off"),
    ))
    assert [a.key for a in report.actuators] == [KEY]
    assert set(report.actuators[0].drivers) == {"T2"}
    assert [u.node.id for u in report.unknown] == ["T1.out"]
    assert direct(report) is None


def test_change_move_payload_away_forgets_the_constant() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.chg", "on"),
         change("T1.chg", "T1", ["T1.out"],
                {"t": "move", "p": "payload", "pt": "msg", "to": "saved", "tot": "msg"}),
         mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert "on" not in commands_of(report, KEY, "T1")
    assert direct(report).severity != "info"  # type: ignore[union-attr]


def test_change_move_into_topic_never_keeps_the_old_topic() -> None:
    """msg.payload moved into msg.topic: the target is the payload's value or unknown."""
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.chg", "garden/valve/set", topic=TOPIC),
         change("T1.chg", "T1", ["T1.out"],
                {"t": "move", "p": "payload", "pt": "msg", "to": "topic", "tot": "msg"}),
         mqtt_out("T1.out", "T1", topic="")],
        simple_t2("on"),
    ))
    t1_keys = {a.key for a in report.actuators if "T1" in a.drivers}
    assert KEY not in t1_keys  # the old topic is gone
    assert t1_keys <= {"mqtt:mqtt.local:1883/garden/valve/set"}
    if not t1_keys:
        assert [u.node.id for u in report.unknown] == ["T1.out"]
    assert direct(report) is None


def test_change_rules_apply_in_order() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.chg", "", "date"),
         change("T1.chg", "T1", ["T1.out"], set_rule("payload", "on"),
                set_rule("topic", TOPIC), set_rule("payload", "off")),
         mqtt_out("T1.out", "T1", topic="")],
        simple_t2("off"),
    ))
    assert commands_of(report, KEY, "T1") == {"off"}
    assert direct(report).severity == "info"  # type: ignore[union-attr]


def test_change_of_other_properties_keeps_the_constant() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.chg", "on"),
         change("T1.chg", "T1", ["T1.out"], set_rule("retain", "true", "bool"),
                {"t": "set", "p": "last", "pt": "flow", "to": "payload", "tot": "msg"}),
         mqtt_out("T1.out", "T1")],
        simple_t2("off"),
    ))
    assert commands_of(report, KEY, "T1") == {"on"}
    assert direct(report).severity == "error"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------
# trigger and template nodes


def trigger(node_id: str, z: str, to: str, op1: str, op1type: str, op2: str, op2type: str
            ) -> dict[str, Any]:
    return node(node_id, "trigger", z, [[to]], name="", op1=op1, op2=op2, op1type=op1type,
                op2type=op2type, duration="5", extend=False, overrideDelay=False,
                units="s", reset="", bytopic="all", topic="topic", outputs=1)


def test_trigger_sends_op1_then_op2() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.trg", "", "date"),
         trigger("T1.trg", "T1", "T1.out", "on", "str", "off", "str"),
         mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert commands_of(report, KEY, "T1") == {"on", "off"}
    assert direct(report).severity == "error"  # type: ignore[union-attr]


def test_trigger_with_nothing_as_second_output() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.trg", "", "date"),
         trigger("T1.trg", "T1", "T1.out", "on", "str", "0", "nul"),
         mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert commands_of(report, KEY, "T1") == {"on"}
    assert direct(report).severity == "info"  # type: ignore[union-attr]


def test_trigger_passing_the_original_payload() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.trg", "on"),
         trigger("T1.trg", "T1", "T1.out", "", "pay", "0", "num"),
         mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert commands_of(report, KEY, "T1") == {"on", "0"}


def template(node_id: str, z: str, to: str, text: str, **extra: Any) -> dict[str, Any]:
    fields = {"name": "", "field": "payload", "fieldType": "msg", "format": "handlebars",
              "syntax": "mustache", "template": text, "output": "str", **extra}
    return node(node_id, "template", z, [[to]], **fields)


def test_template_without_mustache_is_a_constant() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.tpl", "", "date"),
         template("T1.tpl", "T1", "T1.out", "on"),
         mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert commands_of(report, KEY, "T1") == {"on"}
    assert direct(report).severity == "info"  # type: ignore[union-attr]


def test_template_with_mustache_is_dynamic() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.tpl", "on"),
         template("T1.tpl", "T1", "T1.out", "{{payload}}"),
         mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert commands_of(report, KEY, "T1") == {None}
    assert direct(report).severity == "warning"  # type: ignore[union-attr]


def test_template_plain_syntax_keeps_braces_constant() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.tpl", "", "date"),
         template("T1.tpl", "T1", "T1.out", "{{on}}", syntax="plain"),
         mqtt_out("T1.out", "T1")],
        simple_t2("{{on}}"),
    ))
    assert commands_of(report, KEY, "T1") == {"{{on}}"}
    assert direct(report).severity == "info"  # type: ignore[union-attr]


def test_template_parsed_as_json_compares_as_json() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.tpl", "", "date"),
         template("T1.tpl", "T1", "T1.out", '{ "state": "ON" }', output="json", format="json"),
         mqtt_out("T1.out", "T1")],
        simple_t2('{"state":"ON"}', "json"),
    ))
    assert direct(report).severity == "info"  # type: ignore[union-attr]


def test_template_setting_the_topic() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.tpl", "on"),
         template("T1.tpl", "T1", "T1.out", TOPIC, field="topic"),
         mqtt_out("T1.out", "T1", topic="")],
        simple_t2("on"),
    ))
    assert commands_of(report, KEY, "T1") == {"on"}
    assert direct(report).severity == "info"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------
# dynamic targets


def test_topic_set_on_one_path_only_is_an_unknown_target() -> None:
    """One path sets msg.topic, the other leaves it unset: the first is an
    actuator, the second is counted as unknown, never guessed."""
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.sw", "", "date"),  # a timestamp: both branches
         node("T1.sw", "switch", "T1", [["T1.chg"], ["T1.out"]], property="payload",
              propertyType="msg", rules=[{"t": "eq", "v": "on", "vt": "str"}, {"t": "else"}],
              checkall="true", repair=False, outputs=2),
         change("T1.chg", "T1", ["T1.out"], set_rule("topic", "garden/valve/set")),
         mqtt_out("T1.out", "T1", topic="")],
        simple_t2("off"),
    ))
    assert {a.key for a in report.actuators} == {KEY, "mqtt:mqtt.local:1883/garden/valve/set"}
    assert [u.node.id for u in report.unknown] == ["T1.out"]
    assert report.stats["unknown_targets"] == 1
    assert direct(report) is None  # T1's unset topic is not taken to be T2's


def test_unknown_topic_is_never_guessed_into_a_conflict() -> None:
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.out", "on"), mqtt_out("T1.out", "T1", topic="")],
        simple_t2("off"),
    ))
    [actuator] = report.actuators
    assert set(actuator.drivers) == {"T2"}
    assert [u.node.id for u in report.unknown] == ["T1.out"]
    assert report.unknown[0].applications == frozenset({"T1"})
    assert report.findings == ()


def _room_switch(payload: str, payload_type: str = "str") -> list[dict[str, Any]]:
    """T1: inject -> switch (payload == "on" -> room/1/set, otherwise room/2/set)."""
    return [inject("T1.inj", "T1", "T1.sw", payload, payload_type),
            node("T1.sw", "switch", "T1", [["T1.a"], ["T1.b"]], property="payload",
                 propertyType="msg", rules=[{"t": "eq", "v": "on", "vt": "str"}, {"t": "else"}],
                 checkall="true", outputs=2),
            change("T1.a", "T1", ["T1.out"], set_rule("topic", "room/1/set")),
            change("T1.b", "T1", ["T1.out"], set_rule("topic", "room/2/set")),
            mqtt_out("T1.out", "T1", topic="")]


ROOM_1, ROOM_2 = "mqtt:mqtt.local:1883/room/1/set", "mqtt:mqtt.local:1883/room/2/set"


def test_a_computed_value_takes_every_branch_of_a_switch() -> None:
    report = analyse(two_tabs(
        _room_switch("", "date"),
        [inject("T2.inj", "T2", "T2.out", "off"), mqtt_out("T2.out", "T2", topic="room/1/set")],
    ))
    assert {a.key for a in report.actuators} == {ROOM_1, ROOM_2}
    by_key = {a.key: a for a in report.actuators}
    assert [r.id for r in by_key[ROOM_2].nodes] == ["T1.out"]
    assert {r.id for r in by_key[ROOM_1].nodes} == {"T1.out", "T2.out"}
    assert report.unknown == ()
    found = direct(report, ROOM_1)
    assert found is not None and found.severity == "warning"  # T1's value is computed
    assert direct(report, ROOM_2) is None


@pytest.mark.parametrize("payload, reached", [("on", ROOM_1), ("off", ROOM_2)])
def test_a_constant_takes_only_the_branch_whose_rule_matches(payload: str, reached: str) -> None:
    report = analyse(two_tabs(
        _room_switch(payload),
        [inject("T2.inj", "T2", "T2.out", "off"), mqtt_out("T2.out", "T2", topic="room/1/set")],
    ))
    driven = {a.key for a in report.actuators if "T1" in a.drivers}
    assert driven == {reached}
    found = direct(report, ROOM_1)
    if reached == ROOM_1:  # "on" against "off"
        assert found is not None and found.severity == "error"
    else:  # T1 never commands room 1: only T2 does
        assert found is None


# ---------------------------------------------------------------------------
# inject formats


def test_inject_props_format_equals_old_format() -> None:
    """Node-RED >= 1.1: ``props`` lists what is set; payload/topic values stay on the node."""
    new = node("T1.inj", "inject", "T1", [["T1.out"]], name="",
               props=[{"p": "payload"}, {"p": "topic", "vt": "str"}], repeat="",
               crontab="00 07 * * *", once=False, onceDelay=0.1, topic=TOPIC, payload="on",
               payloadType="str")
    old = inject("T2.inj", "T2", "T2.out", "on", "str", topic=TOPIC)
    report = analyse(two_tabs([new, mqtt_out("T1.out", "T1", topic="")],
                              [old, mqtt_out("T2.out", "T2", topic="")]))
    assert [a.key for a in report.actuators] == [KEY]
    assert commands_of(report, KEY, "T1") == {"on"}
    assert commands_of(report, KEY, "T2") == {"on"}
    assert direct(report).severity == "info"  # type: ignore[union-attr]


def test_inject_props_with_their_own_values() -> None:
    """A props entry that carries ``v``/``vt`` is what the runtime sends
    (20-inject.js fills v from the node's payload/topic only when v is absent)."""
    injected = node("T1.inj", "inject", "T1", [["T1.out"]], name="",
                    props=[{"p": "payload", "v": "on", "vt": "str"},
                           {"p": "topic", "v": TOPIC, "vt": "str"}],
                    repeat="", crontab="00 07 * * *", once=False, onceDelay=0.1)
    report = analyse(two_tabs([injected, mqtt_out("T1.out", "T1", topic="")],
                              simple_t2("off")))
    assert [a.key for a in report.actuators] == [KEY]
    assert commands_of(report, KEY, "T1") == {"on"}
    assert direct(report).severity == "error"  # type: ignore[union-attr]


def test_inject_props_without_payload_sends_no_constant_payload() -> None:
    injected = node("T1.inj", "inject", "T1", [["T1.out"]], name="",
                    props=[{"p": "topic", "vt": "str"}], topic=TOPIC, payload="on",
                    payloadType="str", repeat="", crontab="00 07 * * *", once=False)
    report = analyse(two_tabs([injected, mqtt_out("T1.out", "T1", topic="")],
                              simple_t2("on")))
    assert [a.key for a in report.actuators] == [KEY]
    assert "on" not in commands_of(report, KEY, "T1")


def test_inject_props_payload_of_other_type() -> None:
    injected = node("T1.inj", "inject", "T1", [["T1.out"]], name="",
                    props=[{"p": "payload"}], payload="42", payloadType="num",
                    topic="", repeat="", crontab="00 07 * * *", once=False)
    report = analyse(two_tabs([injected, mqtt_out("T1.out", "T1")], simple_t2("42", "num")))
    assert commands_of(report, KEY) == {"42"}
    assert direct(report).severity == "info"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------
# size and cycles


def test_long_chain_completes_and_finds_the_conflict() -> None:
    length = 1000
    t1: list[dict[str, Any]] = [inject("T1.inj", "T1", "T1.n0", "on")]
    for i in range(length):
        nxt = f"T1.n{i + 1}" if i + 1 < length else "T1.out"
        if i % 3 == 0:
            t1.append(change(f"T1.n{i}", "T1", [nxt], set_rule("payload", "on")))
        elif i % 3 == 1:
            t1.append(node(f"T1.n{i}", "junction", "T1", [[nxt]]))
        else:
            t1.append(node(f"T1.n{i}", "delay", "T1", [[nxt]], pauseType="delay",
                           timeout="1", timeoutUnits="seconds"))
    t1.append(mqtt_out("T1.out", "T1"))
    report = analyse(two_tabs(t1, simple_t2("off")))
    finding = direct(report)
    assert finding is not None and finding.severity == "error"
    [t1_path] = [p for p in finding.paths if p.application == "T1"]
    assert len(t1_path.nodes) == length + 2
    assert t1_path.nodes[0].id == "T1.inj" and t1_path.nodes[-1].id == "T1.out"


def test_loop_through_a_change_node_terminates() -> None:
    t1 = [
        inject("T1.inj", "T1", "T1.chg", "", "date"),
        change("T1.chg", "T1", ["T1.sw"], set_rule("payload", "on")),
        node("T1.sw", "switch", "T1", [["T1.out"], ["T1.chg"]], property="payload",
             propertyType="msg", rules=[{"t": "eq", "v": "on", "vt": "str"}, {"t": "else"}],
             outputs=2),
        mqtt_out("T1.out", "T1"),
    ]
    report = analyse(two_tabs(t1, simple_t2("off")))
    assert commands_of(report, KEY, "T1") == {"on"}
    assert direct(report).severity == "error"  # type: ignore[union-attr]


def test_loop_alternating_topics_terminates() -> None:
    """Two change nodes in a cycle, each setting another topic: both reach the out node."""
    t1 = [
        inject("T1.inj", "T1", "T1.a", "on"),
        change("T1.a", "T1", [["T1.b", "T1.out"]], set_rule("topic", "x/1")),
        change("T1.b", "T1", [["T1.a", "T1.out"]], set_rule("topic", "x/2")),
        mqtt_out("T1.out", "T1", topic=""),
    ]
    report = analyse([tab("T1"), *t1, broker()])
    assert {a.key for a in report.actuators} == {"mqtt:mqtt.local:1883/x/1",
                                                 "mqtt:mqtt.local:1883/x/2"}
    assert report.unknown == ()


def test_self_loop_with_function_terminates() -> None:
    t1 = [
        inject("T1.inj", "T1", "T1.fn", "on"),
        node("T1.fn", "function", "T1", [["T1.fn", "T1.out"]], func="return msg;", outputs=1),
        mqtt_out("T1.out", "T1"),
    ]
    report = analyse(two_tabs(t1, simple_t2("on")))
    assert direct(report).severity == "warning"  # type: ignore[union-attr]


def test_paths_start_at_the_trigger_that_sends_and_prefer_the_shortest() -> None:
    """T1 reaches the lamp from a button (a person) and from a schedule by a long and a
    short way; the finding shows the schedule's short path first, then the person's."""
    t1 = [
        node("T1.btn", "inject", "T1", [["T1.long1"]], repeat="", crontab="", once=False,
             payload="on", payloadType="str"),  # the editor's button: a person
        inject("T1.cron", "T1", "T1.long1", "on"),
        change("T1.long1", "T1", ["T1.long2"]),
        change("T1.long2", "T1", ["T1.out"]),
        inject("T1.cron2", "T1", "T1.out", "on"),
        mqtt_out("T1.out", "T1"),
    ]
    report = analyse(two_tabs(t1, simple_t2("off")))
    finding = direct(report)
    assert finding is not None
    mine = [p for p in finding.paths if p.application == "T1"]
    assert [(p.provenance, [r.id for r in p.nodes]) for p in mine] == [
        ("automation", ["T1.cron2", "T1.out"]),
        ("manual", ["T1.btn", "T1.long1", "T1.long2", "T1.out"]),
    ]
    for path in finding.paths:  # every path ends at the node that commands the key
        assert path.nodes[-1].id in {r.id for r in finding.actuators[0].nodes}


def test_a_one_output_switch_filters_too() -> None:
    """inject "off" -> switch (payload == "on", one output) -> lamp: never sends "off"."""
    report = analyse(two_tabs(
        [inject("T1.inj", "T1", "T1.sw", "off"),
         node("T1.sw", "switch", "T1", [["T1.out"]], property="payload", propertyType="msg",
              rules=[{"t": "eq", "v": "on", "vt": "str"}], checkall="true", outputs=1),
         mqtt_out("T1.out", "T1")],
        simple_t2("on"),
    ))
    assert direct(report) is None
    assert [a for a in report.actuators if "T1" in a.drivers] == []
