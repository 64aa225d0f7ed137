"""Conflicts that need the deployment model: indirect, compounding, cross-runtime.

Also how a command crosses an MQTT broker from one runtime to another
(``mqtt out`` with a fixed topic -> ``mqtt in`` subscribed to it, wildcards
included), user rules that talk about effects, and the bundled example site
(``flows/site``) with the findings listed in ``flows/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, broker, node, publisher, tab

import acm
from acm.analysis.graph import topic_matches

SITE = ROOT / "flows" / "site" / "site.yaml"
B = "mqtt:mqtt.local:1883"
HEATER = f"{B}/room/heater/set"
WINDOW = f"{B}/room/window/set"




def write_site(tmp_path: Path, runtimes: dict[str, list[dict[str, Any]]],
               actuators: str = "", extra: str = "") -> Path:
    """A model with one runtime per entry (flows written next to it) and zones a, b."""
    lines = ["version: 1", "runtimes:"]
    for runtime, nodes in runtimes.items():
        (tmp_path / f"{runtime}.json").write_text(json.dumps(nodes), encoding="utf-8")
        lines.append(f"  - {{id: {runtime}, flows: {runtime}.json}}")
    lines += ["brokers:", "  - {id: mq, host: mqtt.local, port: 1883}",
              "zones:", "  - {id: room}", "  - {id: hall}"]
    if actuators:
        lines += ["actuators:", actuators.rstrip("\n")]
    path = tmp_path / "site.yaml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def declared(ident: str, topic: str, zone: str | None, effects: str | None) -> str:
    out = f"  - id: {ident}\n    binding: {{type: mqtt, broker: mq, topic: {topic}}}\n"
    if zone:
        out += f"    zone: {zone}\n"
    if effects:
        out += f"    effects: {{{effects}}}\n"
    return out


def analyse(run_acm: Any, *args: str) -> dict[str, Any]:
    result = run_acm("analyze", *args, "--format", "json", "--fail-on", "never")
    assert result.code == 0, result.err
    doc: dict[str, Any] = result.json()
    assert doc["schema"] == "acm.findings/1"
    return doc


def of_rule(doc: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [c for c in doc["conflicts"] if c["rule"] == rule]


def heater_and_window(tmp_path: Path, window_effect: str = "temperature: decrease",
                      window_zone: str | None = "room", same_app: bool = False,
                      heater_effect: str = "temperature: increase") -> Path:
    if same_app:
        nodes = [broker(), tab("t1", "Comfort"),
                 node("t1-in", "inject", "t1", [["t1-out", "t2-out"]], payload="on",
                      payloadType="str"),
                 node("t1-out", "mqtt out", "t1", [], broker="broker", topic="room/heater/set"),
                 node("t2-out", "mqtt out", "t1", [], broker="broker", topic="room/window/set")]
    else:
        nodes = [broker(), *publisher("t1", "Comfort", "on", "room/heater/set"),
                 *publisher("t2", "Air quality", "open", "room/window/set")]
    return write_site(tmp_path, {"a": nodes},
                      declared("heater", "room/heater/set", "room", heater_effect)
                      + declared("window", "room/window/set", window_zone, window_effect))


# ---------------------------------------------------------------------------
# indirect and compounding


def test_opposing_effects_same_zone_different_apps_is_indirect(
        run_acm, tmp_path):
    doc = analyse(run_acm, "--model", str(heater_and_window(tmp_path)))
    [finding] = of_rule(doc, "indirect")
    assert finding["code"] == "ACM002"
    assert finding["kind"] == "indirect"
    assert finding["severity"] == "warning"
    assert {a["key"] for a in finding["actuators"]} == {HEATER, WINDOW}
    assert {n for a in finding["actuators"] for n in a["nodes"]} == {"t1-out", "t2-out"}
    assert sorted(finding["applications"]) == ["t1", "t2"]
    assert "temperature" in finding["message"] and "room" in finding["message"]
    assert "Comfort" in finding["message"] and "Air quality" in finding["message"]
    # each application's path: its trigger to its actuator node
    paths = dict(zip(finding["path_applications"], map(tuple, finding["paths"]), strict=True))
    assert paths == {"t1": ("t1-in", "t1-out"), "t2": ("t2-in", "t2-out")}
    assert not of_rule(doc, "compounding")
    assert not of_rule(doc, "direct")


def test_same_direction_is_compounding_info(run_acm, tmp_path):
    doc = analyse(run_acm, "--model",
                  str(heater_and_window(tmp_path, window_effect="temperature: increase")))
    assert not of_rule(doc, "indirect")
    [finding] = of_rule(doc, "compounding")
    assert finding["code"] == "ACM003"
    assert finding["severity"] == "info"
    assert {a["key"] for a in finding["actuators"]} == {HEATER, WINDOW}
    assert sorted(finding["applications"]) == ["t1", "t2"]
    assert "temperature" in finding["message"] and "room" in finding["message"]


def test_one_opposing_and_one_compounding_property(run_acm, tmp_path):
    path = heater_and_window(tmp_path, heater_effect="temperature: increase, humidity: decrease",
                             window_effect="temperature: decrease, humidity: decrease")
    doc = analyse(run_acm, "--model", str(path))
    [indirect] = of_rule(doc, "indirect")
    [compounding] = of_rule(doc, "compounding")
    assert "temperature" in indirect["message"] and "humidity" not in indirect["message"]
    assert "humidity" in compounding["message"]


@pytest.mark.parametrize("case", ["different-zones", "same-application", "no-zone",
                                  "other-property"])
def test_no_indirect_finding(run_acm, tmp_path, case):
    path = {
        "different-zones": lambda: heater_and_window(tmp_path, window_zone="hall"),
        "same-application": lambda: heater_and_window(tmp_path, same_app=True),
        "no-zone": lambda: heater_and_window(tmp_path, window_zone=None),
        "other-property": lambda: heater_and_window(tmp_path, window_effect="co2: decrease"),
    }[case]()
    doc = analyse(run_acm, "--model", str(path))
    assert doc["conflicts"] == [], doc["conflicts"]


def test_same_application_by_model_grouping_is_not_indirect(
        run_acm, tmp_path):
    heater_and_window(tmp_path)
    path = tmp_path / "site.yaml"
    path.write_text(path.read_text("utf-8")
                    + "applications:\n  - {id: climate, tabs: [Comfort, Air quality]}\n",
                    encoding="utf-8")
    doc = analyse(run_acm, "--model", str(path))
    assert doc["conflicts"] == []


def test_undriven_declared_actuator_is_not_indirect(run_acm, tmp_path):
    nodes = [broker(), *publisher("t1", "Comfort", "on", "room/heater/set")]
    path = write_site(tmp_path, {"a": nodes},
                      declared("heater", "room/heater/set", "room", "temperature: increase")
                      + declared("window", "room/window/set", "room", "temperature: decrease"))
    doc = analyse(run_acm, "--model", str(path))
    assert doc["conflicts"] == []


def test_indirect_across_runtimes(run_acm, tmp_path):
    path = write_site(
        tmp_path,
        {"a": [broker(), *publisher("t1", "Comfort", "on", "room/heater/set")],
         "b": [broker(), *publisher("t2", "Air quality", "open", "room/window/set")]},
        declared("heater", "room/heater/set", "room", "temperature: increase")
        + declared("window", "room/window/set", "room", "temperature: decrease"))
    doc = analyse(run_acm, "--model", str(path))
    [finding] = of_rule(doc, "indirect")
    assert sorted(finding["applications"]) == ["a/t1", "b/t2"]
    runtimes = {loc["runtime"] for a in finding["actuators"] for loc in a["locations"]}
    assert runtimes == {"a", "b"}
    assert not of_rule(doc, "cross-runtime")  # two keys: not one actuator


# ---------------------------------------------------------------------------
# cross-runtime


@pytest.mark.parametrize(("payloads", "severity"), [(("on", "off"), "error"),
                                                    (("on", "on"), "warning")])
def test_same_topic_from_two_runtimes(run_acm, tmp_path, payloads, severity):
    path = write_site(tmp_path, {
        "a": [broker(), *publisher("t1", "Day", payloads[0], "room/heater/set")],
        "b": [broker(), *publisher("t2", "Night", payloads[1], "room/heater/set")],
    })
    doc = analyse(run_acm, "--model", str(path))
    [finding] = of_rule(doc, "cross-runtime")
    assert finding["code"] == "ACM004"
    assert finding["kind"] == "cross-runtime"
    assert finding["severity"] == severity
    [actuator] = finding["actuators"]
    assert actuator["key"] == HEATER
    assert sorted(actuator["nodes"]) == ["t1-out", "t2-out"]
    by_runtime = {loc["runtime"]: loc for loc in actuator["locations"]}
    assert set(by_runtime) == {"a", "b"}
    assert by_runtime["a"]["id"] == "t1-out" and by_runtime["b"]["id"] == "t2-out"
    assert Path(by_runtime["a"]["file"]).name == "a.json"
    assert Path(by_runtime["b"]["file"]).name == "b.json"
    assert sorted(finding["applications"]) == ["a/t1", "b/t2"]
    assert "2 runtimes" in finding["message"]
    # alone, each flows file has no conflict at all
    for runtime in ("a", "b"):
        alone = analyse(run_acm, str(tmp_path / f"{runtime}.json"))
        assert alone["conflicts"] == []


def test_same_topic_from_one_runtime_is_not_cross_runtime(
        run_acm, tmp_path):
    path = write_site(tmp_path, {
        "a": [broker(), *publisher("t1", "Day", "on", "room/heater/set"),
              *publisher("t2", "Night", "off", "room/heater/set")],
        "b": [broker(), *publisher("t3", "Other", "on", "room/other/set")],
    })
    doc = analyse(run_acm, "--model", str(path))
    assert [c["rule"] for c in doc["conflicts"]] == ["direct"]


# ---------------------------------------------------------------------------
# Across the broker


def relay(tab_id: str, subscription: str, to_topic: str | None = "site/dev/set",
          broker_id: str = "broker") -> list[dict[str, Any]]:
    """mqtt in ``subscription`` -> change (msg.topic = to_topic) -> mqtt out (no topic)."""
    if to_topic is None:  # exact relay: mqtt in -> mqtt out with a fixed topic
        return [tab(tab_id, "Relay"),
                node(f"{tab_id}-sub", "mqtt in", tab_id, [[f"{tab_id}-out"]],
                     broker=broker_id, topic=subscription),
                node(f"{tab_id}-out", "mqtt out", tab_id, [], broker=broker_id,
                     topic="site/dev/set")]
    return [
        tab(tab_id, "Relay"),
        node(f"{tab_id}-sub", "mqtt in", tab_id, [[f"{tab_id}-set"]], broker=broker_id,
             topic=subscription),
        node(f"{tab_id}-set", "change", tab_id, [[f"{tab_id}-out"]],
             rules=[{"t": "set", "p": "topic", "pt": "msg", "to": to_topic, "tot": "str"}]),
        node(f"{tab_id}-out", "mqtt out", tab_id, [], broker=broker_id, topic=""),
    ]


def relay_site(tmp_path: Path, subscription: str, published: str = "site/cmd/x",
               b_broker: dict[str, Any] | None = None, exact: bool = False) -> Path:
    return write_site(tmp_path, {
        "a": [broker(), *publisher("pub", "Publisher", "on", published)],
        "b": [b_broker or broker(),
              *relay("rel", subscription, None if exact else "site/dev/set")],
    })


DEV = f"{B}/site/dev/set"


def test_wildcard_subscription_carries_the_path_across_runtimes(
        run_acm, tmp_path):
    path = relay_site(tmp_path, "site/cmd/#")
    report = acm.analyze_model(path)
    assert report.stats["broker_edges"] == 1
    dev = next(a for a in report.actuators if a.key == DEV)
    assert [r.id for r in dev.nodes] == ["rel-out"]  # key from constant propagation
    assert "a/pub" in dev.drivers
    assert "a" in dev.runtimes
    doc = analyse(run_acm, "--model", str(path))
    listed = next(a for a in doc["actuators"] if a["key"] == DEV)
    assert "a/pub" in listed["applications"]
    [cross] = of_rule(doc, "cross-runtime")  # relay (wildcard: its own trigger) and a/pub
    paths = dict(zip(cross["path_applications"], cross["paths"], strict=True))
    assert paths["a/pub"] == ["pub-in", "pub-out", "rel-sub", "rel-set", "rel-out"]
    assert paths["a/pub"][0] == "pub-in" and "rel-sub" in paths["a/pub"]


@pytest.mark.parametrize(("subscription", "published", "crosses"), [
    ("site/+/x", "site/cmd/x", True),
    ("site/cmd/+", "site/cmd/x", True),
    ("+/+/+", "site/cmd/x", True),
    ("site/#", "site/cmd/x", True),
    ("#", "site/cmd/x", True),
    ("site/+", "site/cmd/x", False),
    ("site/+/y", "site/cmd/x", False),
    ("site/cmd/x/+", "site/cmd/x", False),
    ("other/#", "site/cmd/x", False),
])
def test_wildcard_matching(tmp_path, subscription, published, crosses):
    report = acm.analyze_model(relay_site(tmp_path, subscription, published))
    assert report.stats["broker_edges"] == (1 if crosses else 0)
    dev = next(a for a in report.actuators if a.key == DEV)
    assert ("a/pub" in dev.drivers) is crosses
    assert ("a" in dev.runtimes) is crosses


@pytest.mark.parametrize(("pattern", "topic", "expected"), [
    ("a/b", "a/b", True), ("a/b", "a/c", False), ("a/+", "a/b", True),
    ("a/+", "a/b/c", False), ("a/#", "a/b/c", True), ("a/#", "a", True),
    ("+/b/#", "x/b", True), ("+", "a/b", False), ("a/b/c", "a/b", False),
])
def test_topic_matches(pattern, topic, expected):
    assert topic_matches(pattern.split("/"), topic.split("/")) is expected


def test_different_broker_no_edge(tmp_path):
    path = relay_site(tmp_path, "site/cmd/#", b_broker=broker(host="other.local"))
    report = acm.analyze_model(path)
    assert report.stats["broker_edges"] == 0
    dev = next(a for a in report.actuators if a.key == "mqtt:other.local:1883/site/dev/set")
    assert "a/pub" not in dev.drivers
    assert dev.runtimes == frozenset({"b"})


def test_exact_subscription_fed_by_a_publisher_is_not_a_trigger(
        run_acm, tmp_path):
    report = acm.analyze_model(relay_site(tmp_path, "site/cmd/x", exact=True))
    assert report.stats["broker_edges"] == 1
    assert report.stats["triggers"] == 1  # only the publisher's inject
    dev = next(a for a in report.actuators if a.key == DEV)
    assert list(dev.drivers) == ["a/pub"]  # the relay tab does not drive it on its own
    assert dev.runtimes == frozenset({"a"})
    assert "b/rel" not in report.applications
    doc = analyse(run_acm, "--model", str(tmp_path / "site.yaml"))
    assert doc["conflicts"] == []


def test_exact_subscription_not_fed_is_a_trigger(tmp_path):
    report = acm.analyze_model(relay_site(tmp_path, "site/cmd/x", "site/cmd/y", exact=True))
    assert report.stats["broker_edges"] == 0
    dev = next(a for a in report.actuators if a.key == DEV)
    assert list(dev.drivers) == ["b/rel"]
    assert dev.runtimes == frozenset({"b"})


def test_wildcard_subscription_fed_by_a_publisher_stays_a_trigger(tmp_path):
    report = acm.analyze_model(relay_site(tmp_path, "site/cmd/#"))
    dev = next(a for a in report.actuators if a.key == DEV)
    assert sorted(dev.drivers) == ["a/pub", "b/rel"]
    assert dev.runtimes == frozenset({"a", "b"})


# ---------------------------------------------------------------------------
# User rules over effects

USER_RULE = """\
rule heater-window {
    code USR010
    for actuator a, actuator b
    where a.zone == b.zone and "temperature increase" in a.effects
        and "temperature decrease" in b.effects
    severity error
    message "{a.name} heats {a.zone} while {b.name} cools it"
}
"""


def test_user_rule_using_effects_fires(run_acm, tmp_path):
    path = heater_and_window(tmp_path)
    rules = tmp_path / "site.acm"
    rules.write_text(USER_RULE, encoding="utf-8")
    result = run_acm("analyze", "--model", str(path), "--rules", str(rules), "--format", "json")
    assert result.code == 1, result.err  # an error finding
    doc = result.json()
    [finding] = of_rule(doc, "heater-window")
    assert finding["code"] == "USR010"
    assert finding["severity"] == "error"
    assert [a["key"] for a in finding["actuators"]] == [HEATER, WINDOW]
    assert finding["message"] == "heater heats room while window cools it"
    assert of_rule(doc, "indirect")  # the built-in rule still runs
    # in the other zone it does not fire
    path = heater_and_window(tmp_path, window_zone="hall")
    doc = analyse(run_acm, "--model", str(path), "--rules", str(rules))
    assert not of_rule(doc, "heater-window")


def test_user_rule_properties_and_declared(run_acm, tmp_path):
    rules = tmp_path / "declared.acm"
    rules.write_text("""\
rule undeclared-in-zone {
    code USR011
    for actuator a
    where not a.declared and count(a.applications) >= 1
    severity info
    message "{a.name} is not in the model"
}
rule temperature-actuator {
    code USR012
    for actuator a
    where "temperature" in a.properties and a.zone == "room"
    severity info
    message "{a.name} acts on temperature"
}
""", encoding="utf-8")
    nodes = [broker(), *publisher("t1", "Comfort", "on", "room/heater/set"),
             *publisher("t2", "Other", "on", "room/lamp/set")]
    path = write_site(tmp_path, {"a": nodes},
                      declared("heater", "room/heater/set", "room", "temperature: increase"))
    doc = analyse(run_acm, "--model", str(path), "--rules", str(rules))
    [undeclared] = of_rule(doc, "undeclared-in-zone")
    assert undeclared["actuators"][0]["key"] == f"{B}/room/lamp/set"
    [temp] = of_rule(doc, "temperature-actuator")
    assert temp["actuators"][0]["key"] == HEATER


# ---------------------------------------------------------------------------
# The bundled example site (flows/README.md, "flows/site")

OFFICE = "mqtt:mqtt.office.local:1883/office"
HEAT = f"{OFFICE}/heater/set"
FLOOR = f"{OFFICE}/floorheat/set"
WIN = "ha:cover.office_window"
BLINDS = "ha:cover.meeting_blinds"
LIGHT = "ha:light.meeting_room"
COMFORT = "comfort"
AIR, MEETING = "hub/15688ddf1ecddba7", "hub/e68efe6319f9f66b"
NIGHT, RELAY = "gateway/8d7403d9215189ac", "gateway/881d177d73011536"
SUN, FROST = "gateway/988749471c0e6cd2", "gateway/d282c773a2d50262"

EXPECTED_SITE = {
    ("direct", "error", (HEAT,), (COMFORT, NIGHT)),
    ("cross-runtime", "error", (HEAT,), (COMFORT, NIGHT)),
    ("direct", "warning", (FLOOR,), (RELAY, FROST, MEETING)),
    ("cross-runtime", "warning", (FLOOR,), (RELAY, FROST, MEETING)),
    ("indirect", "warning", (WIN, HEAT), (AIR, COMFORT, NIGHT)),
    ("indirect", "warning", (WIN, FLOOR), (AIR, RELAY, FROST, MEETING)),
    ("indirect", "warning", (BLINDS, LIGHT), (SUN, MEETING)),
    ("compounding", "info", (HEAT, FLOOR), (COMFORT, NIGHT, RELAY, FROST, MEETING)),
}

NODES = {
    HEAT: {("hub", "d14cc146a78a9fed"), ("hub", "d48cc211fea12b2b"),
           ("gateway", "2f8fddd183a82c4c")},
    FLOOR: {("gateway", "3541f9d9764d6de7"), ("gateway", "f5963b678ce6b13d")},
    WIN: {("hub", "51ac937bb3d79f74")},
    BLINDS: {("gateway", "3c3032372bbbb26f")},
    LIGHT: {("hub", "c2bfcea09dce7589")},
}


def test_bundled_site_findings(run_acm):
    result = run_acm("analyze", "--model", str(SITE), "--format", "json")
    assert result.code == 1, result.err  # findings 1 and 2 are errors
    doc = result.json()
    got = {(c["rule"], c["severity"], tuple(sorted(a["key"] for a in c["actuators"])),
            tuple(sorted(c["applications"]))) for c in doc["conflicts"]}
    expected = {(rule, sev, tuple(sorted(keys)), tuple(sorted(apps)))
                for rule, sev, keys, apps in EXPECTED_SITE}
    assert got == expected
    assert len(doc["conflicts"]) == 8
    for conflict in doc["conflicts"]:
        for actuator in conflict["actuators"]:
            locations = {(loc["runtime"], loc["id"]) for loc in actuator["locations"]}
            assert locations == NODES[actuator["key"]], actuator
    names = {a["id"]: a["name"] for a in doc["applications"]}
    assert names == {
        COMFORT: "Comfort", AIR: "Air quality", MEETING: "Meeting room", NIGHT: "Night mode",
        RELAY: "Relay", SUN: "Sun protection", FROST: "Frost guard",
        "gateway/1365a1c1010035ce": "Door",
    }
    keys = {a["key"] for c in doc["conflicts"] for a in c["actuators"]}
    assert "gpio:gateway/12" not in keys
    assert f"{OFFICE}/cmd/floorheat" not in keys
    indirect = {tuple(sorted(a["key"] for a in c["actuators"])): c["message"]
                for c in doc["conflicts"] if c["rule"] == "indirect"}
    assert "temperature" in indirect[tuple(sorted((WIN, HEAT)))]
    assert "office" in indirect[tuple(sorted((WIN, HEAT)))]
    assert "illuminance" in indirect[tuple(sorted((BLINDS, LIGHT)))]
    assert "meeting_room" in indirect[tuple(sorted((BLINDS, LIGHT)))]


def test_bundled_site_path_across_the_broker(run_acm):
    doc = run_acm("analyze", "--model", str(SITE), "--format", "json").json()
    floor = next(c for c in doc["conflicts"]
                 if c["rule"] == "direct" and c["actuators"][0]["key"] == FLOOR)
    paths = dict(zip(floor["path_applications"], floor["paths"], strict=True))
    assert paths[MEETING] == ["623d19c6f8c37c8a", "709e5b7444ae66fc", "07436fd9fd9ca33b",
                              "2398f9cfc30c1c0f", "1f94327a19b749b2", "3541f9d9764d6de7"]
    report = acm.analyze_model(SITE)
    act = next(a for a in report.actuators if a.key == FLOOR)
    assert act.runtimes == frozenset({"hub", "gateway"})


def test_bundled_site_flows_alone(run_acm):
    hub = run_acm("analyze", str(SITE.parent / "hub.json"), "--format", "json").json()
    assert [(c["rule"], c["severity"], c["actuators"][0]["key"]) for c in hub["conflicts"]] \
        == [("direct", "error", HEAT)]
    gateway = run_acm("analyze", str(SITE.parent / "gateway.json"), "--format", "json").json()
    assert [(c["rule"], c["severity"], c["actuators"][0]["key"])
            for c in gateway["conflicts"]] == [("direct", "warning", FLOOR)]
