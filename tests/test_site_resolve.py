"""`acm resolve --model site.yaml` without FLOWS: a whole site resolved offline.

A two-runtime site written to tmp_path: the hub heats (tab Comfort, heater on
``site/heater/set``) and switches the light on (tab Lights); the gateway
switches the same light off (tab Night: a cross-runtime conflict over MQTT) and
opens the window (tab Ventilation). Heater and window are in one zone with
opposing effects on its temperature: an indirect conflict whose actuators are
on different runtimes, resolved with a cross-runtime interlock (the window's
state is published by the gateway, the heater's resolver on the hub reads it).

See docs/resolve.md ("The whole site offline", "Cross-runtime interlocks").
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, broker, node, tab

import acm.nodered.site
from acm.model import load_model
from acm.nodered.site import resolve_site
from acm.rewrite.policy import load_policies
from acm.rewrite.resolve import template

Flows = list[dict[str, Any]]

HEATER, LIGHT, WINDOW = "site/heater/set", "site/light/set", "site/window/set"
BROKER_KEY = "mqtt:mqtt.site.local:1883"


def inject(node_id: str, z: str, to: str, payload: str) -> dict[str, Any]:
    return node(node_id, "inject", z, [[to]], payload=payload, payloadType="str")


def mqtt_out(node_id: str, z: str, topic: str) -> dict[str, Any]:
    out = node(node_id, "mqtt out", z, [], broker="broker", topic=topic, qos="1")
    out["x"] = 400
    return out


def hub_flows() -> Flows:
    return [
        broker(host="mqtt.site.local"),
        tab("comfort", "Comfort"), inject("hub_heat", "comfort", "hub_heater", "on"),
        mqtt_out("hub_heater", "comfort", HEATER),
        tab("lights", "Lights"), inject("hub_light_on", "lights", "hub_light", "on"),
        mqtt_out("hub_light", "lights", LIGHT),
    ]


def gateway_flows() -> Flows:
    return [
        broker(host="mqtt.site.local"),
        tab("night", "Night"), inject("gw_light_off", "night", "gw_light", "off"),
        mqtt_out("gw_light", "night", LIGHT),
        tab("vent", "Ventilation"), inject("gw_open", "vent", "gw_window", "open"),
        mqtt_out("gw_window", "vent", WINDOW),
    ]


MODEL = """\
version: 1
name: site resolve
runtimes:
  - {id: hub, flows: hub.json}
  - {id: gateway, flows: gateway.json}
brokers:
  - {id: site-mqtt, host: mqtt.site.local, port: 1883}
zones:
  - {id: room}
actuators:
  - id: heater
    name: Heater
    zone: room
    binding: {type: mqtt, broker: site-mqtt, topic: site/heater/set}
    effects: {temperature: increase}
  - id: window
    name: Window
    zone: room
    binding: {type: mqtt, broker: site-mqtt, topic: site/window/set}
    effects: {temperature: decrease}
"""

POLICY = """\
policy light {
    for actuator a
    where a.name == "site/light/set"
    strategy priority
    order "Night", "Lights"
}

policy window-blocks-heater {
    for actuator g, actuator t
    where g.name == "Window" and t.name == "Heater"
    strategy interlock
    blocked_when "open"
    mode override
    override "off"
}
"""


class Site:
    def __init__(self, folder: Path, model_text: str = MODEL) -> None:
        self.dir = folder
        self.model = folder / "site.yaml"
        self.model.write_text(model_text, encoding="utf-8")
        self.policy = folder / "site.policy"
        self.policy.write_text(POLICY, encoding="utf-8")
        self.originals = {"hub": hub_flows(), "gateway": gateway_flows()}
        for name, flows in self.originals.items():
            self.file(name).write_text(json.dumps(flows), encoding="utf-8")

    def file(self, runtime: str) -> Path:
        return self.dir / f"{runtime}.json"

    def flows(self, runtime: str, folder: Path | None = None) -> Flows:
        path = (folder or self.dir) / f"{runtime}.json"
        loaded: Flows = json.loads(path.read_text(encoding="utf-8"))
        return loaded

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        return {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
                for p in sorted(self.dir.glob("*.json"))}


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


def resolve(run_acm: Any, site: Site, *args: str) -> Any:
    return run_acm("resolve", "--model", str(site.model), "--policy", str(site.policy), *args)


def by_role(flows: Flows, role: str) -> list[dict[str, Any]]:
    return [n for n in flows if isinstance(n.get("acm"), dict) and n["acm"]["role"] == role]


def by_id(flows: Flows) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in flows}


def env(group: dict[str, Any], name: str) -> Any:
    return json.loads({e["name"]: e for e in group["env"]}[name]["value"])


def conflict_of(err: str, rule: str, runtime: str) -> str:
    [found] = re.findall(rf"acm: (ACM\d+-[0-9a-f]+) \({rule}\) on {runtime}: ", err)
    return str(found)


# -- resolving in place ------------------------------------------------------------------------


def test_resolves_every_runtime_in_place_cross_runtime_conflicts_included(
    site: Site, run_acm: Any
) -> None:
    result = resolve(run_acm, site)
    assert result.code == 0, result.err
    assert result.out == ""
    # One line per resolved conflict (with its runtime), then one per runtime's file.
    cross = conflict_of(result.err, "cross-runtime", "hub")
    interlock = conflict_of(result.err, "indirect", "hub")
    assert f"acm: {cross} (cross-runtime) on hub: priority (policy light)" in result.err
    assert f"acm: {interlock} (indirect) on hub: interlock (policy window-blocks-heater)" \
        in result.err
    assert f"acm: hub: {site.file('hub')}: written; 2 resolver(s) placed there" in result.err
    assert f"acm: gateway: {site.file('gateway')}: written; 0 resolver(s) placed there" \
        in result.err
    assert "not resolved" not in result.err

    hub, gateway = site.flows("hub"), site.flows("gateway")
    # The cross-runtime conflict: both light publishers moved, the resolver on the hub.
    assert by_id(hub)["hub_light"]["topic"] == f"acm/{cross}/hub~lights"
    assert by_id(gateway)["gw_light"]["topic"] == f"acm/{cross}/gateway~night"
    assert [n["topic"] for n in by_role(hub, "publisher")] == [LIGHT]
    # Re-analysis of the files: every conflict managed, nothing left above info.
    report = run_acm("analyze", "--model", str(site.model), "--format", "json")
    assert report.code == 0, report.out
    conflicts = report.json()["conflicts"]
    assert {c["code"] for c in conflicts} == {"ACM005"}, conflicts
    managed = {c["actuators"][0]["key"]: c["message"] for c in conflicts}
    assert "interlock" in managed[f"{BROKER_KEY}/{HEATER}"]
    assert "priority" in managed[f"{BROKER_KEY}/{LIGHT}"]


def test_a_cross_runtime_interlock_publishes_the_guards_state_and_the_target_reads_it(
    site: Site, run_acm: Any
) -> None:
    result = resolve(run_acm, site)
    assert result.code == 0, result.err
    conflict = conflict_of(result.err, "indirect", "hub")
    topic = f"acm/{conflict}/state/window"
    hub, gateway = by_id(site.flows("hub")), by_id(site.flows("gateway"))

    # Gateway: a copy of each command to the window goes to a retained state publisher;
    # the window's own wire is kept, first, as it was.
    assert gateway["gw_open"]["wires"][0][0] == "gw_window"
    [tap_id] = gateway["gw_open"]["wires"][0][1:]
    tap = gateway[tap_id]
    assert tap["type"] == "change" and tap["acm"] == {"role": "tag", "conflict": conflict,
                                                      "restore": None}
    assert tap["z"] == "vent"
    [[out_id]] = tap["wires"]
    out = gateway[out_id]
    assert out["type"] == "mqtt out" and out["topic"] == topic
    assert out["retain"] == "true" and out["qos"] == "1"
    assert out["broker"] == "broker"  # the gateway's own config node for that broker
    [state_group] = [n for n in gateway.values() if n["type"] == "group"]
    assert sorted(state_group["nodes"]) == sorted([tap_id, out_id])
    assert set(env(state_group, "ACM_MANIFEST")) == {tap_id, out_id, state_group["id"]}

    # Hub: the heater's interlock resolver, fed by the heater's commands and the state.
    [resolver] = [n for n in hub.values() if n.get("acm", {}).get("role") == "resolver"
                  and n["acm"]["strategy"] == "interlock"]
    assert resolver["func"] == template("interlock")
    assert resolver["wires"] == [["hub_heater"]]
    [listener] = [n for n in hub.values() if n["type"] == "mqtt in"
                  and n.get("topic") == topic]
    assert listener["datatype"] == "utf8" and listener["rh"] == 0
    assert listener["broker"] == "broker"
    [[guard_tag]] = listener["wires"]
    assert hub[guard_tag]["rules"] == [{"t": "set", "p": "acm.role", "pt": "msg",
                                        "to": "guard", "tot": "str"}]
    assert hub[guard_tag]["wires"] == [[resolver["id"]]]
    [group] = [n for n in hub.values() if n["type"] == "group"
               and n["acm"]["conflict"] == conflict]
    assert {listener["id"], guard_tag, resolver["id"]} <= set(group["nodes"])
    assert {listener["id"], guard_tag} <= set(env(group, "ACM_MANIFEST"))
    config = env(group, "ACM_RESOLVER")
    assert config["strategy"] == "interlock" and config["options"]["blocked_when"] == ["open"]
    assert config["options"]["guard"] == f"{BROKER_KEY}/{WINDOW}"
    # Every member sits inside the group's box.
    for member in group["nodes"]:
        assert group["x"] < hub[member]["x"] < group["x"] + group["w"]
        assert group["y"] < hub[member]["y"] < group["y"] + group["h"]


def test_resolving_again_changes_no_byte_and_writes_no_file(site: Site, run_acm: Any) -> None:
    first = resolve(run_acm, site)
    assert first.code == 0, first.err
    before = site.snapshot()
    again = resolve(run_acm, site)
    assert again.code == 0, again.err
    assert site.snapshot() == before  # same bytes, not even rewritten (same mtime)
    assert "hub.json: unchanged" in again.err and "gateway.json: unchanged" in again.err
    # What `acm deploy --resolve` would push from these files: the files themselves.
    resolved = resolve_site(load_model(site.model), load_policies([site.policy]))
    assert resolved.flows == resolved.before


def test_a_runtime_with_nothing_to_resolve_keeps_its_file(tmp_path: Path, run_acm: Any) -> None:
    site = Site(tmp_path, MODEL.replace("  - {id: gateway, flows: gateway.json}\n",
                                        "  - {id: gateway, flows: gateway.json}\n"
                                        "  - {id: cellar, flows: cellar.json}\n"))
    cellar = [tab("c", "Cellar"), inject("c_in", "c", "c_out", "on"),
              mqtt_out("c_out", "c", "cellar/pump/set"), broker(host="mqtt.site.local")]
    text = json.dumps(cellar)  # not the way acm writes: rewriting it would show
    site.file("cellar").write_text(text, encoding="utf-8")
    result = resolve(run_acm, site)
    assert result.code == 0, result.err
    assert site.file("cellar").read_text(encoding="utf-8") == text
    assert f"acm: cellar: {site.file('cellar')}: unchanged" in result.err


def test_revert_restores_each_runtimes_file_exactly(site: Site, run_acm: Any) -> None:
    assert resolve(run_acm, site).code == 0
    for name in ("hub", "gateway"):
        out = site.dir / f"{name}.reverted.json"
        reverted = run_acm("revert", str(site.file(name)), "-o", str(out))
        assert reverted.code == 0, reverted.err
        assert json.loads(out.read_text(encoding="utf-8")) == site.originals[name]


# -- --out-dir and --diff ----------------------------------------------------------------------


def test_out_dir_gets_every_file_by_name_and_the_model_files_stay(
    site: Site, run_acm: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    before = site.snapshot()
    out = tmp_path_factory.mktemp("out") / "resolved"  # created as needed
    result = resolve(run_acm, site, "--out-dir", str(out))
    assert result.code == 0, result.err
    assert site.snapshot() == before
    assert sorted(p.name for p in out.iterdir()) == ["gateway.json", "hub.json"]
    assert f"acm: hub: {out / 'hub.json'}: written" in result.err
    written = {p.name: p.read_bytes() for p in out.iterdir()}
    # The same bytes as resolving in place; a second run into the folder changes nothing.
    again = resolve(run_acm, site, "--out-dir", str(out))
    assert again.code == 0 and "hub.json: unchanged" in again.err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == written
    assert resolve(run_acm, site).code == 0
    assert {p.name: p.read_bytes() for p in site.dir.glob("*.json")} == written


def test_diff_shows_every_files_changes_and_writes_nothing(site: Site, run_acm: Any) -> None:
    before = site.snapshot()
    result = resolve(run_acm, site, "--diff")
    assert result.code == 0, result.err
    assert site.snapshot() == before
    headers = re.findall(r"^== (\S+) (\S+): (\d+) change\(s\)$", result.out, re.M)
    assert [(rt, path) for rt, path, _ in headers] == [
        ("hub", str(site.file("hub"))), ("gateway", str(site.file("gateway")))]
    assert '~ topic of mqtt out gw_light on Night: "site/light/set" -> "acm/' in result.out
    assert "   + mqtt out " in result.out and "ACM: state of Window" in result.out
    assert "   ~ wires of inject gw_open on Ventilation" in result.out
    assert "   ~ wires of inject hub_heat on Comfort" in result.out
    assert "would change (nothing written)" in result.err

    assert resolve(run_acm, site).code == 0
    after = resolve(run_acm, site, "--diff")
    assert after.out.splitlines() == [f"== hub {site.file('hub')}: no changes",
                                      f"== gateway {site.file('gateway')}: no changes"]


def test_diff_with_out_dir_shows_and_writes(site: Site, run_acm: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = resolve(run_acm, site, "--diff", "--out-dir", str(out))
    assert result.code == 0, result.err
    assert "== hub" in result.out
    assert (out / "hub.json").exists() and (out / "gateway.json").exists()


# -- what is not resolved ------------------------------------------------------------------------


#: The site's model with the window's effect declared guard: true.
WINDOW_GUARDS = MODEL.replace("    effects: {temperature: decrease}\n",
                              "    effects: {temperature: {direction: decrease, guard: true}}\n")


def test_without_an_interlock_policy_the_default_interlocks_across_runtimes(
    tmp_path: Path, run_acm: Any
) -> None:
    """The same default as inside one runtime (the chooser of acm.rewrite.resolve): the window,
    guard: true in the model, guards the heater on the other runtime; announced."""
    site = Site(tmp_path, WINDOW_GUARDS)
    site.policy.write_text(POLICY.split("policy window-blocks-heater")[0], encoding="utf-8")
    result = resolve(run_acm, site)
    assert result.code == 0, result.err
    assert "not resolved" not in result.err
    conflict = conflict_of(result.err, "indirect", "hub")
    assert f"acm: {conflict} (indirect) on hub: interlock (default)" in result.err
    [note] = [line for line in result.err.splitlines() if "default interlock" in line]
    assert note.startswith("acm: note: no policy matched Heater on hub; used the default "
                           "interlock {'blocked_when': ['on', 'ON', 'open', 'OPEN', 'true', '1'],")
    assert note.endswith("; Window guards Heater (guard: true on temperature in the model)")
    hub, gateway = by_id(site.flows("hub")), by_id(site.flows("gateway"))
    [resolver] = [n for n in hub.values() if n.get("acm", {}).get("role") == "resolver"
                  and n["acm"]["strategy"] == "interlock"]
    assert resolver["wires"] == [["hub_heater"]] and resolver["acm"]["policy"] == "default"
    [group] = [n for n in hub.values() if n["type"] == "group"
               and n["acm"]["conflict"] == conflict]
    options = env(group, "ACM_RESOLVER")["options"]
    assert options["guard"] == f"{BROKER_KEY}/{WINDOW}" and options["mode"] == "block"
    [listener] = [n for n in hub.values() if n["type"] == "mqtt in"
                  and n.get("topic") == f"acm/{conflict}/state/window"]
    [tap] = [t for t in gateway["gw_open"]["wires"][0] if t != "gw_window"]
    [[out]] = gateway[tap]["wires"]
    assert gateway[out]["topic"] == listener["topic"]
    report = run_acm("analyze", "--model", str(site.model), "--format", "json")
    assert report.code == 0 and {c["code"] for c in report.json()["conflicts"]} == {"ACM005"}
    again = site.snapshot()
    assert resolve(run_acm, site).code == 0
    assert site.snapshot() == again


def test_without_guard_true_the_actuator_listed_first_guards_across_runtimes(
    site: Site, run_acm: Any
) -> None:
    """MODEL lists the heater first and marks no guard: the heater guards the window;
    the resolver goes to the window's runtime, the heater's state comes over the broker."""
    site.policy.write_text(POLICY.split("policy window-blocks-heater")[0], encoding="utf-8")
    result = resolve(run_acm, site)
    assert result.code == 0, result.err
    conflict = conflict_of(result.err, "indirect", "gateway")
    assert "Heater guards Window (listed before Window in the model's actuators)" in result.err
    gateway = by_id(site.flows("gateway"))
    [resolver] = [n for n in gateway.values() if n.get("acm", {}).get("role") == "resolver"]
    assert resolver["wires"] == [["gw_window"]]
    assert any(n["type"] == "mqtt in" and n.get("topic") == f"acm/{conflict}/state/heater"
               for n in gateway.values())


def test_both_guard_false_leaves_the_cross_runtime_conflict_listed_once(
    tmp_path: Path, run_acm: Any
) -> None:
    model = MODEL.replace("effects: {temperature: increase}",
                          "effects: {temperature: {direction: increase, guard: false}}") \
        .replace("effects: {temperature: decrease}",
                 "effects: {temperature: {direction: decrease, guard: false}}")
    site = Site(tmp_path, model)
    site.policy.write_text(POLICY.split("policy window-blocks-heater")[0], encoding="utf-8")
    result = resolve(run_acm, site)
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if line.startswith("acm: not resolved")]
    assert len(lines) == 1, result.err
    assert "(indirect): the model declares guard: false on temperature for both" in lines[0]
    assert not [n for n in site.flows("gateway") if n["type"] == "group"]


def window_on_the_hub_too(site: Site) -> None:
    """The hub opens the window too (tab Air): heater and window meet inside the hub."""
    hub = hub_flows()
    hub += [tab("air", "Air"), inject("air_open", "air", "air_window", "open"),
            mqtt_out("air_window", "air", WINDOW)]
    site.file("hub").write_text(json.dumps(hub), encoding="utf-8")


def test_without_a_policy_a_conflict_seen_by_a_runtime_and_the_site_is_listed_once(
    tmp_path: Path, run_acm: Any
) -> None:
    """The hub resolves it alone (the default interlock), the site sees it whole: one line,
    and the window's commands on the gateway reach the hub's resolver too."""
    site = Site(tmp_path, WINDOW_GUARDS)
    window_on_the_hub_too(site)
    site.policy.write_text(POLICY.split("policy window-blocks-heater")[0], encoding="utf-8")
    result = resolve(run_acm, site)
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if "(indirect)" in line]
    assert len(lines) == 1, result.err
    assert lines[0].endswith("(indirect) on hub: interlock (default)")
    conflict = conflict_of(result.err, "indirect", "hub")
    assert any(n["type"] == "mqtt in" and n.get("topic") == f"acm/{conflict}/state/window"
               for n in site.flows("hub"))


def test_an_interlock_is_not_placed_inside_one_runtime_when_its_target_is_commanded_on_others(
    tmp_path: Path, run_acm: Any
) -> None:
    """The gateway switches the heater too. The hub alone would interlock its own heater
    commands only, and the cross-runtime resolution would then see the window's
    application reach the heater's publishers: the conflict is the site's. The heater
    gets its cross-runtime resolver, with each publisher on its application's topic; the
    interlock is left, with the reason (one resolver per actuator), once."""
    site = Site(tmp_path, WINDOW_GUARDS)
    window_on_the_hub_too(site)  # the window only there: the hub alone sees both
    gateway = [n for n in gateway_flows() if n["id"] not in ("vent", "gw_open", "gw_window")]
    gateway += [tab("boost", "Boost"), inject("gw_boost", "boost", "gw_heater", "on"),
                mqtt_out("gw_heater", "boost", HEATER)]
    site.file("gateway").write_text(json.dumps(gateway), encoding="utf-8")
    site.policy.write_text(POLICY.split("policy window-blocks-heater")[0], encoding="utf-8")
    result = resolve(run_acm, site)
    assert result.code == 0, result.err
    [heater] = re.findall(r"acm: (ACM004-\w+) \(cross-runtime\) on hub: dwell \(default\)",
                          result.err)  # the light's has the policy light
    lines = [line for line in result.err.splitlines() if "(indirect)" in line]
    assert len(lines) == 1, result.err
    assert re.match(rf"acm: not resolved: ACM002-\w+ \(indirect\): Heater already gets a "
                    rf"resolver for {heater}$", lines[0]), lines[0]
    hub, gateway_out = by_id(site.flows("hub")), by_id(site.flows("gateway"))
    assert hub["hub_heater"]["topic"] == f"acm/{heater}/hub~comfort"
    assert gateway_out["gw_heater"]["topic"] == f"acm/{heater}/gateway~boost"
    assert not [n for n in hub.values() if n.get("acm", {}).get("strategy") == "interlock"]


def test_an_interlock_inside_one_runtime_also_hears_the_guard_on_the_others(
    site: Site, run_acm: Any
) -> None:
    window_on_the_hub_too(site)
    result = resolve(run_acm, site)
    assert result.code == 0, result.err
    conflict = conflict_of(result.err, "indirect", "hub")
    hub, gateway = by_id(site.flows("hub")), by_id(site.flows("gateway"))
    [resolver] = [n for n in hub.values() if n.get("acm", {}).get("role") == "resolver"
                  and n["acm"]["strategy"] == "interlock"]
    feeding = {n["id"] for n in hub.values() if [resolver["id"]] in n.get("wires", [])}
    # The hub's own window command is tapped on the hub (over a link pair: another tab) ...
    [local_tap] = [t for t in hub["air_open"]["wires"][0] if t != "air_window"]
    assert json.loads(hub[local_tap]["rules"][0]["to"])["role"] == "guard"
    # ... the gateway's arrives over the broker.
    [listener] = [n for n in hub.values() if n["type"] == "mqtt in"
                  and n.get("topic") == f"acm/{conflict}/state/window"]
    [[state_tag]] = listener["wires"]
    assert state_tag in feeding
    [tap] = [t for t in gateway["gw_open"]["wires"][0] if t != "gw_window"]
    [[out]] = gateway[tap]["wires"]
    assert gateway[out]["topic"] == listener["topic"] and gateway[out]["retain"] == "true"
    again = site.snapshot()
    assert resolve(run_acm, site).code == 0
    assert site.snapshot() == again


def test_a_target_with_a_resolver_of_its_own_gets_no_interlock(
    tmp_path: Path, run_acm: Any
) -> None:
    site = Site(tmp_path)
    hub = hub_flows()
    hub += [tab("boost", "Boost"), inject("boost_in", "boost", "boost_out", "off"),
            mqtt_out("boost_out", "boost", HEATER)]
    site.file("hub").write_text(json.dumps(hub), encoding="utf-8")
    result = resolve(run_acm, site)
    assert result.code == 0, result.err
    direct = conflict_of(result.err, "direct", "hub")
    assert re.search(rf"not resolved: ACM002-\w+ \(indirect\): Heater already gets a resolver "
                     rf"for {direct}", result.err), result.err


def test_a_model_without_brokers_leaves_the_interlock_with_the_reason(
    tmp_path: Path, run_acm: Any
) -> None:
    def http(node_id: str, z: str, url: str) -> dict[str, Any]:
        return node(node_id, "http request", z, [], method="POST", url=url, ret="txt")

    hub = [tab("comfort", "Comfort"), inject("h", "comfort", "h_out", "on"),
           http("h_out", "comfort", "http://heater.local/set")]
    gateway = [tab("vent", "Ventilation"), inject("w", "vent", "w_out", "open"),
               http("w_out", "vent", "http://window.local/set")]
    model = MODEL.split("brokers:")[0] + """\
zones:
  - {id: room}
actuators:
  - {id: heater, name: Heater, zone: room, effects: {temperature: increase},
     binding: {type: http, method: POST, url: "http://heater.local/set"}}
  - {id: window, name: Window, zone: room, effects: {temperature: decrease},
     binding: {type: http, method: POST, url: "http://window.local/set"}}
"""
    site = Site(tmp_path, model)
    site.file("hub").write_text(json.dumps(hub), encoding="utf-8")
    site.file("gateway").write_text(json.dumps(gateway), encoding="utf-8")
    before = site.snapshot()
    result = resolve(run_acm, site)
    assert result.code == 0, result.err
    assert re.search(r"not resolved: ACM002-\w+ \(indirect\): an interlock across runtimes "
                     r"sends the guard's state over MQTT, and the model names no broker",
                     result.err), result.err
    assert site.snapshot() == before


def test_resolution_broker_carries_the_guard_state(tmp_path: Path, run_acm: Any) -> None:
    model = MODEL.replace(
        "  - {id: site-mqtt, host: mqtt.site.local, port: 1883}\n",
        "  - {id: site-mqtt, host: mqtt.site.local, port: 1883}\n"
        "  - {id: backbone, host: backbone.local, port: 8883}\n") + \
        "resolution: {broker: backbone}\n"
    site = Site(tmp_path, model)
    assert resolve(run_acm, site).code == 0
    gateway = site.flows("gateway")
    [state] = [n for n in by_role(gateway, "publisher") if "/state/" in n["topic"]]
    config = by_id(gateway)[state["broker"]]
    assert (config["broker"], config["port"]) == ("backbone.local", "8883")
    assert config["acm"] == {"role": "config"}
    [listener] = [n for n in site.flows("hub") if n["type"] == "mqtt in"
                  and "/state/" in n["topic"]]
    assert listener["broker"] == config["id"]  # the same config node id on both runtimes

    site.model.write_text(model.replace("broker: backbone", "broker: nowhere"),
                          encoding="utf-8")
    bad = resolve(run_acm, site)
    assert bad.code == 2
    assert "resolution.broker" in bad.err and "nowhere" in bad.err


def test_the_bundled_site_interlocks_the_meeting_room_light_on_the_blinds_state(
    tmp_path: Path, run_acm: Any
) -> None:
    folder = tmp_path / "site"
    shutil.copytree(ROOT / "flows" / "site", folder)
    policy = tmp_path / "site.policy"
    policy.write_text("""\
policy blinds-before-light {
    for actuator g, actuator t
    where g.name == "Meeting room blinds" and t.name == "Meeting room light"
    strategy interlock
    blocked_when "cover.close_cover"
}
""", encoding="utf-8")
    result = run_acm("resolve", "--model", str(folder / "site.yaml"), "--policy", str(policy))
    assert result.code == 0, result.err
    [conflict] = re.findall(r"acm: (ACM002-\w+) \(indirect\) on hub: interlock "
                            r"\(policy blinds-before-light\)", result.err)
    gateway = json.loads((folder / "gateway.json").read_text(encoding="utf-8"))
    [tap] = [n for n in by_role(gateway, "tag") if n["acm"]["conflict"] == conflict]
    # The blinds node fixes its service: that is the state published.
    assert {"t": "set", "p": "payload", "pt": "msg", "to": "cover.close_cover",
            "tot": "str"} in tap["rules"]
    report = run_acm("analyze", "--model", str(folder / "site.yaml"), "--format", "json",
                     "--fail-on", "never")
    keys = {c["code"]: c for c in report.json()["conflicts"]
            if c["actuators"][0]["key"] == "ha:light.meeting_room"}
    assert "ACM002" not in keys and "interlock" in keys["ACM005"]["message"]


# -- bad input and write failures ------------------------------------------------------------


def test_duplicate_ids_in_one_runtimes_file_are_refused_before_anything_is_written(
    site: Site, run_acm: Any
) -> None:
    gateway = gateway_flows()
    gateway.append(dict(gateway[-1]))
    site.file("gateway").write_text(json.dumps(gateway), encoding="utf-8")
    before = site.snapshot()
    result = resolve(run_acm, site)
    assert result.code == 2
    [line] = result.err.splitlines()
    assert "gateway.json" in line and "duplicate node id gw_window" in line
    assert site.snapshot() == before


def test_an_out_dir_that_is_a_file_is_one_line_and_nothing_written(
    site: Site, run_acm: Any
) -> None:
    blocker = site.dir / "taken"
    blocker.write_text("", encoding="utf-8")
    before = site.snapshot()
    result = resolve(run_acm, site, "--out-dir", str(blocker / "resolved"))
    assert result.code == 2
    [line] = result.err.splitlines()
    assert line.startswith(f"acm: error: {blocker / 'resolved'}: cannot create the output "
                           "folder (Not a directory); nothing written"), line
    assert site.snapshot() == before
    assert resolve(run_acm, site, "--out-dir", str(blocker)).code == 2  # the file itself
    assert site.snapshot() == before


def test_a_target_that_cannot_be_written_writes_no_other_file(
    site: Site, run_acm: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "gateway.json").mkdir(parents=True)  # hub.json would be written first
    result = resolve(run_acm, site, "--out-dir", str(out))
    assert result.code == 2
    [line] = result.err.splitlines()
    assert line == f"acm: error: {out / 'gateway.json'}: is a folder, not a flows file; " \
        "nothing written"
    assert not (out / "hub.json").exists()


def test_a_write_failing_half_way_names_the_files_written(
    site: Site, run_acm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk cannot be made on demand: the second write fails as it would.
    real = acm.nodered.site.write_atomic  # type: ignore[attr-defined]
    calls: list[Path] = []

    def write_atomic(path: str | Path, text: str) -> None:
        calls.append(Path(path))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, text)

    monkeypatch.setattr(acm.nodered.site, "write_atomic", write_atomic)
    result = resolve(run_acm, site)
    assert result.code == 2
    [line] = result.err.splitlines()
    assert f"acm: error: {site.file('gateway')}: cannot write (No space left on device)" in line
    assert f"Written before it: {site.file('hub')}; not written: none" in line
    assert site.flows("gateway") == site.originals["gateway"]  # intact
    assert by_role(site.flows("hub"), "resolver")


def test_same_file_names_cannot_share_an_out_dir(tmp_path: Path, run_acm: Any) -> None:
    site = Site(tmp_path, MODEL.replace("flows: hub.json", "flows: a/flows.json")
                .replace("flows: gateway.json", "flows: b/flows.json"))
    for name, sub in (("hub", "a"), ("gateway", "b")):
        (tmp_path / sub).mkdir()
        site.file(name).rename(tmp_path / sub / "flows.json")
    result = resolve(run_acm, site, "--out-dir", str(tmp_path / "out"))
    assert result.code == 2
    assert "both have a flows file named flows.json" in result.err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "says"), [
    ((), "give FLOWS, or --model MODEL"),
    (("--model", "{model}", "-o", "x.json"), "--output writes one flows file"),
    (("--model", "{model}", "--plan"), "work on one flows file"),
    (("--model", "{model}", "--only", "ACM001-0"), "work on one flows file"),
    (("{hub}", "--model", "{model}", "--out-dir", "out"), "--out-dir goes with --model"),
])
def test_usage_errors(site: Site, run_acm: Any, args: tuple[str, ...], says: str) -> None:
    filled = [a.format(model=site.model, hub=site.file("hub")) for a in args]
    before = site.snapshot()
    result = run_acm("resolve", *filled)
    assert result.code == 2
    assert says in result.err
    assert site.snapshot() == before


def test_the_bundled_site_without_policies_interlocks_by_default_and_says_what_is_left(
    tmp_path: Path, run_acm: Any
) -> None:
    """flows/site with no policy at all: the blinds (listed before the light) guard the
    meeting-room light across runtimes. The window (guard: true in the model) would guard
    the heater and the floor heating, but each already gets a resolver of its own (the
    heater's cross-runtime one, the floor heating's direct one): both are listed as not
    resolved with that reason, and they are the only warnings left."""
    folder = tmp_path / "site"
    shutil.copytree(ROOT / "flows" / "site", folder)
    result = run_acm("resolve", "--model", str(folder / "site.yaml"))
    assert result.code == 0, result.err
    [meeting] = re.findall(r"acm: (ACM002-\w+) \(indirect\) on hub: interlock \(default\)",
                           result.err)
    assert "Meeting room blinds guards Meeting room light (listed before Meeting room light " \
        "in the model's actuators)" in result.err
    left = dict(re.findall(r"not resolved: (ACM002-\w+) \(indirect\): (Office (?:floor )?heat\w+) "
                           r"already gets a resolver for ACM00[14]-\w+$", result.err, re.M))
    assert sorted(left.values()) == ["Office floor heating", "Office heater"], result.err
    report = run_acm("analyze", "--model", str(folder / "site.yaml"), "--format", "json",
                     "--fail-on", "never").json()
    warned = {c["id"] for c in report["conflicts"] if c["severity"] != "info"}
    assert warned == set(left)
    assert meeting not in {c["id"] for c in report["conflicts"]}
    managed = [c for c in report["conflicts"]
               if c["actuators"][0]["key"] == "ha:light.meeting_room"]
    assert [c["code"] for c in managed] == ["ACM005"]
    again = {p.name: p.read_bytes() for p in folder.glob("*.json")}
    assert run_acm("resolve", "--model", str(folder / "site.yaml")).code == 0
    assert {p.name: p.read_bytes() for p in folder.glob("*.json")} == again
