"""The deployment model: its schema, loading errors, applications and declared actuators.

Models are written as YAML text next to small flows files in a temporary
directory, then checked through the CLI (``acm model check``, ``acm analyze
--model``) and the JSON findings contract. Every invalid model must give exit
2 and one line on stderr naming the file, the line, the path in the document
and what was expected.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, broker, publisher

SITE = ROOT / "flows" / "site" / "site.yaml"
KEY = "mqtt:mqtt.local:1883"

# A valid model: two runtimes (a, b), one broker, one zone, four actuators.
BASE = """\
version: 1
name: Test site
runtimes:
  - id: a
    url: "http://127.0.0.1:1880"
    flows: a.json
    credentials: {token_env: ACM_A_TOKEN}
  - id: b
    flows: b.json
brokers:
  - {id: mq, host: mqtt.local, port: 1883}
zones:
  - {id: room, name: Room}
actuators:
  - id: heater
    name: Room heater
    zone: room
    binding: {type: mqtt, broker: mq, topic: room/heater/set}
    effects: {temperature: increase}
  - id: window
    zone: room
    binding: {type: ha, entity_id: cover.room_window}
    effects: {temperature: decrease}
  - id: pin
    binding: {type: gpio, runtime: a, pin: "12"}
  - id: fan
    binding: {type: http, method: PUT, url: "http://fan.local/set"}
    effects: {temperature: decrease}
"""




def flows_a() -> list[dict[str, Any]]:
    return [broker(), *publisher("ta1", "Heating", "on", "room/heater/set"),
            *publisher("ta2", "Heating evening", "off", "room/heater/set")]


def flows_b() -> list[dict[str, Any]]:
    return [broker(), *publisher("tb1", "Night", "off", "room/other/set")]


def make_site(tmp_path: Path, text: str = BASE, a: Any = None, b: Any = None) -> Path:
    """Write the model ``text`` with a.json and b.json next to it; return the model path."""
    (tmp_path / "a.json").write_text(json.dumps(flows_a() if a is None else a), "utf-8")
    (tmp_path / "b.json").write_text(json.dumps(flows_b() if b is None else b), "utf-8")
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def changed(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(text: str, marker: str) -> int:
    """1-based line of the first line containing ``marker``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in model text")


def analyse_json(run_acm: Any, *args: str, code: int | None = None) -> dict[str, Any]:
    result = run_acm("analyze", *args, "--format", "json")
    assert result.code in ((0, 1) if code is None else (code,)), result.err
    doc: dict[str, Any] = result.json()
    assert doc["schema"] == "acm.findings/1"
    return doc


# ---------------------------------------------------------------------------
# Valid models


def test_bundled_site_model_is_valid(run_acm):
    result = run_acm("model", "check", str(SITE))
    assert result.code == 0, result.err
    assert result.err == ""
    assert "valid model" in result.out and "Office 2F" in result.out
    assert "2 runtime(s)" in result.out and "6 actuator(s)" in result.out


def test_base_model_is_valid(run_acm, tmp_path):
    result = run_acm("model", "check", str(make_site(tmp_path)))
    assert result.code == 0, result.err
    assert "2 runtime(s), 1 broker(s), 0 application(s), 1 zone(s), 4 actuator(s)" in result.out


def test_extension_fields_x_are_allowed(run_acm, tmp_path):
    text = BASE + "x-owner: facility\n"
    text = changed("  - id: pin\n", "  - id: pin\n    x-note: spare\n", text)
    assert run_acm("model", "check", str(make_site(tmp_path, text))).code == 0


def test_an_effect_may_say_whether_its_actuator_guards(tmp_path: Path) -> None:
    """``effects: {p: {direction, guard}}`` is the long form of ``{p: direction}``: the
    effect reads the same everywhere, the guard flag is kept beside it (the default
    interlock reads it: docs/resolve.md)."""
    from acm.model import load_model

    text = changed("effects: {temperature: decrease}\n  - id: pin",
                   "effects: {temperature: {direction: decrease, guard: true}, "
                   "humidity: {direction: decrease}}\n  - id: pin")
    text = changed("effects: {temperature: increase}",
                   "effects: {temperature: {direction: increase, guard: false}}", text)
    model = load_model(make_site(tmp_path, text))
    heater, window, pin, fan = model.actuators
    assert (heater.effects, heater.guards) == ({"temperature": "increase"}, {"temperature": False})
    assert (window.effects, window.guards) == (
        {"temperature": "decrease", "humidity": "decrease"}, {"temperature": True})
    assert (fan.effects, fan.guards) == ({"temperature": "decrease"}, {})
    assert (pin.effects, pin.guards) == ({}, {})
    # the rules see the same effects as with the short form
    assert load_model(make_site(tmp_path)).actuators[0].effects == heater.effects


def test_the_bundled_site_marks_its_window_as_the_guard() -> None:
    from acm.model import load_model

    window = next(a for a in load_model(SITE).actuators if a.id == "office-window")
    assert window.guards == {"temperature": True}
    assert window.effects == {"temperature": "decrease", "co2": "decrease"}


# ---------------------------------------------------------------------------
# Invalid models: exit 2, one line: file:line: path: what was expected

# (case id, old text, new text, marker of the reported line, document path, expected words)
INVALID = [
    ("wrong-version", "version: 1\n", "version: 2\n", "version: 2", "version",
     ["2", "expected 1"]),
    ("runtime-without-flows", "    flows: b.json\n", "", "  - id: b", "runtimes[1]",
     ["'flows'", "required"]),
    ("flows-file-missing", "flows: b.json", "flows: missing.json", "flows: missing.json",
     "runtimes[1].flows", ["missing.json", "not found"]),
    ("effect-up", "effects: {temperature: increase}", "effects: {temperature: up}",
     "temperature: up", "actuators[0].effects.temperature",
     ["'up' is not allowed; expected one of: increase | decrease, or a mapping"]),
    ("effect-direction-up", "effects: {temperature: increase}",
     "effects: {temperature: {direction: up, guard: true}}", "direction: up",
     "actuators[0].effects.temperature.direction", ["'up'", "increase | decrease"]),
    ("effect-guard-not-bool", "effects: {temperature: increase}",
     "effects: {temperature: {direction: increase, guard: sometimes}}", "guard: sometimes",
     "actuators[0].effects.temperature.guard", ["'sometimes'", "boolean"]),
    ("effect-guard-without-direction", "effects: {temperature: increase}",
     "effects: {temperature: {guard: true}}", "guard: true",
     "actuators[0].effects.temperature", ["'direction'", "required"]),
    ("effect-unknown-field", "effects: {temperature: increase}",
     "effects: {temperature: {direction: increase, gaurd: true}}", "gaurd: true",
     "actuators[0].effects.temperature", ["unknown field", "'gaurd'", "direction, guard"]),
    ("effect-a-list", "effects: {temperature: increase}", "effects: {temperature: [increase]}",
     "temperature: [increase]", "actuators[0].effects.temperature",
     ["expected one of: increase | decrease, or a mapping of direction, guard"]),
    ("bad-property-name", "effects: {temperature: increase}",
     "effects: {Temperature: increase}", "Temperature: increase", "actuators[0].effects",
     ["'Temperature'"]),
    ("mqtt-without-topic", "{type: mqtt, broker: mq, topic: room/heater/set}",
     "{type: mqtt, broker: mq}", "{type: mqtt, broker: mq}", "actuators[0].binding",
     ["'topic'", "required"]),
    ("binding-type-unknown", "{type: mqtt, broker: mq, topic: room/heater/set}",
     "{type: zigbee, broker: mq, topic: room/heater/set}", "type: zigbee",
     "actuators[0].binding.type", ["'zigbee'", "mqtt", "ha", "gpio", "http"]),
    ("unknown-broker", "{type: mqtt, broker: mq, topic: room/heater/set}",
     "{type: mqtt, broker: elsewhere, topic: room/heater/set}", "broker: elsewhere",
     "actuators[0].binding", ["unknown broker 'elsewhere'", "mq"]),
    ("unknown-zone", "    zone: room\n    binding: {type: ha",
     "    zone: kitchen\n    binding: {type: ha", "zone: kitchen", "actuators[1].zone",
     ["unknown zone 'kitchen'", "room"]),
    ("gpio-unknown-runtime", "{type: gpio, runtime: a, pin: \"12\"}",
     "{type: gpio, runtime: c, pin: \"12\"}", "runtime: c", "actuators[2].binding",
     ["unknown runtime 'c'", "a, b"]),
    ("duplicate-runtime-id", "  - id: b\n", "  - id: a\n", "  - id: a\n    flows: b.json",
     "runtimes[1].id", ["duplicate id 'a'"]),
    ("duplicate-actuator-id", "  - id: window\n", "  - id: heater\n",
     "  - id: heater\n    zone: room\n    binding: {type: ha", "actuators[1].id",
     ["duplicate id 'heater'"]),
    ("env-name-invalid", "token_env: ACM_A_TOKEN", "token_env: ACM-A-TOKEN", "ACM-A-TOKEN",
     "runtimes[0].credentials.token_env", ["not shown: it may be a secret"]),
    ("secret-instead-of-env-name", "credentials: {token_env: ACM_A_TOKEN}",
     "credentials: {token: s3cr3t}", "token: s3cr3t", "runtimes[0].credentials",
     ["unknown field", "token"]),
    ("actuator-unknown-field", "    zone: room\n    binding: {type: ha",
     "    zone: room\n    colour: red\n    binding: {type: ha", "  - id: window", "actuators[1]",
     ["unknown field", "colour"]),
]


@pytest.mark.parametrize(("old", "new", "marker", "doc_path", "words"),
                         [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_model_is_one_line_naming_file_line_path(
        run_acm, tmp_path, old, new, marker, doc_path, words):
    text = changed(old, new)
    path = make_site(tmp_path, text)
    line = line_of(text, marker.split("\n")[0]) if "\n" not in marker else \
        text.split(marker)[0].count("\n") + 1
    for args in (("model", "check", str(path)), ("analyze", "--model", str(path))):
        result = run_acm(*args)
        assert result.code == 2, (args, result.out, result.err)
        assert result.out == ""
        err = result.err.strip()
        assert "\n" not in err, err
        assert err.startswith(f"acm: error: {path}:{line}: {doc_path}: "), err
        for word in words:
            assert word in err, (word, err)
        assert "Traceback" not in err


def test_unknown_top_level_field_is_named_as_unknown(
        run_acm, tmp_path):
    text = BASE + "colour: blue\n"
    path = make_site(tmp_path, text)
    result = run_acm("model", "check", str(path))
    assert result.code == 2
    err = result.err.strip()
    assert "\n" not in err
    assert err.startswith(f"acm: error: {path}:"), err
    assert re.match(rf"acm: error: {re.escape(str(path))}:\d+: \(document\): ", err), err
    assert "'colour'" in err
    # says what is wrong, not jsonschema's "'colour' does not match any of the regexes: '^x-'"
    assert "unknown field" in err, err


def test_malformed_yaml_names_line_and_column(run_acm, tmp_path):
    text = changed("    flows: a.json\n", "    flows: a.json: extra\n")
    path = make_site(tmp_path, text)
    line = line_of(text, "a.json: extra")
    column = text.splitlines()[line - 1].index("a.json:") + len("a.json") + 1
    result = run_acm("model", "check", str(path))
    assert result.code == 2
    err = result.err.strip()
    assert "\n" not in err
    assert err.startswith(f"acm: error: {path}:{line}:{column}: malformed YAML"), err


def test_malformed_yaml_unclosed_flow_mapping(run_acm, tmp_path):
    text = changed("  - {id: room, name: Room}\n", "  - {id: room, name: Room\n")
    result = run_acm("model", "check", str(make_site(tmp_path, text)))
    assert result.code == 2
    assert re.match(r"acm: error: .*site\.yaml:\d+:\d+: malformed YAML", result.err), result.err


def test_yaml_list_instead_of_mapping(run_acm, tmp_path):
    path = make_site(tmp_path, "- version: 1\n- name: x\n")
    result = run_acm("model", "check", str(path))
    assert result.code == 2
    err = result.err.strip()
    assert "\n" not in err
    assert err.startswith(f"acm: error: {path}"), err
    assert "mapping" in err


def test_empty_model_file(run_acm, tmp_path):
    result = run_acm("model", "check", str(make_site(tmp_path, "")))
    assert result.code == 2
    assert "mapping" in result.err and "version" in result.err


def test_missing_model_file(run_acm, tmp_path):
    for args in (("model", "check"), ("analyze", "--model")):
        result = run_acm(*args, str(tmp_path / "nope.yaml"))
        assert result.code == 2
        assert "nope.yaml" in result.err and "not found" in result.err


def test_application_tab_in_no_runtime(run_acm, tmp_path):
    text = BASE + "applications:\n  - id: heat\n    tabs: [Heating, Nowhere]\n"
    path = make_site(tmp_path, text)
    for args in (("model", "check", str(path)), ("analyze", "--model", str(path))):
        result = run_acm(*args)
        assert result.code == 2, result.err
        err = result.err.strip()
        assert "\n" not in err
        assert "'Nowhere'" in err and "applications[0].tabs[1]" in err, err
        assert err.startswith(f"acm: error: {path}:{line_of(text, 'Nowhere')}"), err


def test_application_tab_label_ambiguous(run_acm, tmp_path):
    # the label "Night" is a tab on both runtimes
    a = [*flows_a(), *publisher("ta3", "Night", "on", "room/x/set")]
    text = BASE + "applications:\n  - id: night\n    tabs: [Night]\n"
    path = make_site(tmp_path, text, a=a)
    result = run_acm("model", "check", str(path))
    assert result.code == 2
    err = result.err.strip()
    assert "\n" not in err
    assert "'Night'" in err and "ambiguous" in err and "applications[0].tabs[0]" in err
    assert "a/ta3" in err and "b/tb1" in err
    assert err.startswith(f"acm: error: {path}:{line_of(text, 'tabs: [Night]')}"), err
    # runtime/label disambiguates
    text = BASE + "applications:\n  - id: night\n    tabs: [b/Night]\n"
    assert run_acm("model", "check", str(make_site(tmp_path, text, a=a))).code == 0


# ---------------------------------------------------------------------------
# acm analyze FLOWS --model M


def test_analyze_flows_not_in_model_exits_2(run_acm, tmp_path, write_flows):
    path = make_site(tmp_path)
    other = write_flows(flows_a(), "other.json")
    result = run_acm("analyze", str(other), "--model", str(path))
    assert result.code == 2
    err = result.err.strip()
    assert "\n" not in err
    assert "other.json" in err and "not a flows file of model" in err


def cross_site(tmp_path: Path) -> Path:
    """a: heater on/off from two tabs (direct); b: its own conflict on room/b/set."""
    b = [broker(), *publisher("tb1", "Night", "on", "room/b/set"),
         *publisher("tb2", "Day", "off", "room/b/set")]
    return make_site(tmp_path, b=b)


def test_analyze_with_one_of_the_models_flows(run_acm, tmp_path):
    path = cross_site(tmp_path)
    every = analyse_json(run_acm, "--model", str(path), code=1)
    keys = {c["actuators"][0]["key"] for c in every["conflicts"] if c["rule"] == "direct"}
    assert keys == {f"{KEY}/room/heater/set", f"{KEY}/room/b/set"}
    for runtime, wanted in (("a", "room/heater/set"), ("b", "room/b/set")):
        flows = tmp_path / f"{runtime}.json"
        doc = analyse_json(run_acm, str(flows), "--model", str(path), code=1)
        assert doc["conflicts"], runtime
        for conflict in doc["conflicts"]:
            runtimes = {loc["runtime"] for a in conflict["actuators"] for loc in a["locations"]}
            assert runtime in runtimes
        assert {c["actuators"][0]["key"] for c in doc["conflicts"]} == {f"{KEY}/{wanted}"}
        assert doc["stats"]["findings"]["error"] == len(
            [c for c in doc["conflicts"] if c["severity"] == "error"])


def test_analyze_flows_of_model_given_relative_to_cwd(
        run_acm, tmp_path, monkeypatch):
    cross_site(tmp_path)
    monkeypatch.chdir(tmp_path)
    doc = analyse_json(run_acm, "a.json", "--model", "site.yaml", code=1)
    assert {c["actuators"][0]["key"] for c in doc["conflicts"]} == {f"{KEY}/room/heater/set"}


# ---------------------------------------------------------------------------
# Applications


def apps_by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in doc["applications"]}


@pytest.mark.parametrize("refs", [
    '["Heating", "Heating evening"]',      # by label
    '["ta1", "ta2"]',                      # by id
    '["Heating", "ta2"]',                  # mixed
    '["a/Heating", "a/ta2"]',              # runtime/label, runtime/id
])
def test_two_tabs_grouped_are_one_application(run_acm, tmp_path, refs):
    plain = analyse_json(run_acm, "--model", str(make_site(tmp_path)), code=1)
    assert [c["rule"] for c in plain["conflicts"]] == ["direct"]  # two tabs: a conflict
    text = BASE + f"applications:\n  - id: heat\n    name: Heating team\n    tabs: {refs}\n"
    doc = analyse_json(run_acm, "--model", str(make_site(tmp_path, text)))
    assert not [c for c in doc["conflicts"] if c["rule"] == "direct"], doc["conflicts"]
    apps = apps_by_name(doc)
    assert apps["Heating team"]["id"] == "heat"
    assert sorted(apps["Heating team"]["tabs"]) == ["ta1", "ta2"]
    heater = next(a for a in doc["actuators"] if a["key"] == f"{KEY}/room/heater/set")
    assert heater["applications"] == ["heat"]


def test_tabs_not_listed_stay_one_application_each(run_acm, tmp_path):
    a = [*flows_a(), *publisher("ta3", "Lights", "on", "room/light/set")]
    b = [broker(), *publisher("tb1", "Night", "off", "room/other/set"),
         *publisher("tb2", "Day", "on", "room/day/set")]
    text = BASE + "applications:\n  - id: heat\n    tabs: [Heating, Heating evening]\n"
    doc = analyse_json(run_acm, "--model", str(make_site(tmp_path, text, a=a, b=b)))
    ids = sorted(a["id"] for a in doc["applications"])
    assert ids == ["a/ta3", "b/tb1", "b/tb2", "heat"]
    assert doc["stats"]["applications"] == 4


# ---------------------------------------------------------------------------
# Declared actuators


def test_model_actuator_merges_with_flow_actuator_by_key(run_acm, tmp_path):
    import acm

    path = make_site(tmp_path)
    report = acm.analyze_model(path)
    heater = next(a for a in report.actuators if a.key == f"{KEY}/room/heater/set")
    assert heater.name == "Room heater"
    assert heater.zone == "room"
    assert dict(heater.effects) == {"temperature": "increase"}
    assert heater.declared
    assert {r.id for r in heater.nodes} == {"ta1-out", "ta2-out"}
    assert sorted(heater.drivers) == ["a/ta1", "a/ta2"]
    doc = analyse_json(run_acm, "--model", str(path), code=1)
    listed = [a for a in doc["actuators"] if a["key"] == f"{KEY}/room/heater/set"]
    assert len(listed) == 1, doc["actuators"]  # one actuator, not a flow one and a model one
    assert listed[0]["name"] == "Room heater"
    assert sorted(listed[0]["nodes"]) == ["ta1-out", "ta2-out"]
    # zone and effects of a declared actuator are visible in the JSON contract
    assert listed[0].get("zone") == "room", listed[0]
    assert listed[0].get("effects") == {"temperature": "increase"}, listed[0]


def test_declared_actuator_not_in_flows_is_listed_without_applications(
        run_acm, tmp_path):
    doc = analyse_json(run_acm, "--model", str(make_site(tmp_path)), code=1)
    by_key = {a["key"]: a for a in doc["actuators"]}
    for key, name in (("ha:cover.room_window", "window"), ("gpio:a/12", "pin"),
                      ("http:PUT http://fan.local/set", "fan")):
        assert key in by_key, sorted(by_key)
        assert by_key[key]["name"] == name  # no name in the model: its id
        assert by_key[key]["applications"] == []
        assert by_key[key]["nodes"] == []
    # undeclared flow actuators are still there, as before
    assert f"{KEY}/room/other/set" in by_key
    # nothing without a node produces a finding
    for conflict in doc["conflicts"]:
        assert all(a["nodes"] for a in conflict["actuators"])


def test_broker_aliases_make_one_actuator(run_acm, tmp_path):
    # runtime b spells the broker by its IP address
    b = [broker(host="10.0.0.5"), *publisher("tb1", "Night", "off", "room/heater/set")]
    plain = analyse_json(run_acm, "--model", str(make_site(tmp_path, b=b)), code=1)
    keys = {a["key"] for a in plain["actuators"]}
    assert "mqtt:10.0.0.5:1883/room/heater/set" in keys  # two spellings, two actuators
    text = changed("{id: mq, host: mqtt.local, port: 1883}",
                   "{id: mq, host: mqtt.local, port: 1883, aliases: [\"10.0.0.5\"]}")
    doc = analyse_json(run_acm, "--model", str(make_site(tmp_path, text, b=b)), code=1)
    keys = {a["key"] for a in doc["actuators"]}
    assert "mqtt:10.0.0.5:1883/room/heater/set" not in keys
    heater = next(a for a in doc["actuators"] if a["key"] == f"{KEY}/room/heater/set")
    assert sorted(heater["nodes"]) == ["ta1-out", "ta2-out", "tb1-out"]
    assert heater["applications"] == ["a/ta1", "a/ta2", "b/tb1"]
    cross = [c for c in doc["conflicts"] if c["rule"] == "cross-runtime"]
    assert len(cross) == 1 and cross[0]["actuators"][0]["key"] == f"{KEY}/room/heater/set"


def test_broker_alias_with_port(run_acm, tmp_path):
    b = [broker(host="broker.lan", port="11883"),
         *publisher("tb1", "Night", "off", "room/heater/set")]
    text = changed("{id: mq, host: mqtt.local, port: 1883}",
                   "{id: mq, host: mqtt.local, port: 1883, aliases: [\"broker.lan:11883\"]}")
    doc = analyse_json(run_acm, "--model", str(make_site(tmp_path, text, b=b)), code=1)
    heater = next(a for a in doc["actuators"] if a["key"] == f"{KEY}/room/heater/set")
    assert "tb1-out" in heater["nodes"]


# --------------------------------------------------------------------------- HA areas


def _area_flows() -> list[dict[str, Any]]:
    """Evening switches the office area off; Work switches the desk lamp on."""
    def call(node_id: str, z: str, service: str, **target: Any) -> list[dict[str, Any]]:
        return [
            {"id": f"{node_id}-in", "type": "inject", "z": z, "crontab": "00 18 * * *",
             "payload": "", "payloadType": "date", "x": 1, "y": 1, "wires": [[node_id]]},
            {"id": node_id, "type": "api-call-service", "z": z, "server": "S", "version": 7,
             "action": service, "floorId": [], "areaId": [], "deviceId": [], "labelId": [],
             "entityId": [], "data": "", "dataType": "json", "x": 1, "y": 1, "wires": [],
             **target},
        ]

    return [{"id": "E", "type": "tab", "label": "Evening"}, {"id": "W", "type": "tab",
             "label": "Work"}, {"id": "S", "type": "server", "name": "HA"},
            *call("e", "E", "light.turn_off", areaId=["office"]),
            *call("w", "W", "light.turn_on", entityId=["light.desk"])]


def test_an_area_the_model_lists_commands_its_entities(tmp_path: Path, run_acm) -> None:
    (tmp_path / "flows.json").write_text(json.dumps(_area_flows()), encoding="utf-8")
    plain = run_acm("analyze", str(tmp_path / "flows.json"), "--format", "json").json()
    assert {a["key"] for a in plain["actuators"]} == {"ha-area:office", "ha:light.desk"}
    assert plain["conflicts"] == []  # without the model nobody knows the desk is in the office
    (tmp_path / "site.yaml").write_text(
        "version: 1\nruntimes:\n  - {id: home, flows: flows.json}\n"
        "home_assistant:\n  areas:\n    office: [light.desk, light.ceiling]\n",
        encoding="utf-8")
    doc = run_acm("analyze", "--model", str(tmp_path / "site.yaml"), "--format", "json").json()
    assert {a["key"] for a in doc["actuators"]} == {"ha:light.desk", "ha:light.ceiling"}
    [conflict] = doc["conflicts"]
    assert conflict["rule"] == "direct" and conflict["severity"] == "error"
    assert conflict["actuators"][0]["key"] == "ha:light.desk"
    assert sorted(conflict["applications"]) == ["E", "W"]


def test_an_area_entity_that_is_no_entity_id_is_a_model_error(tmp_path: Path, run_acm) -> None:
    (tmp_path / "flows.json").write_text(json.dumps(_area_flows()), encoding="utf-8")
    (tmp_path / "site.yaml").write_text(
        "version: 1\nruntimes:\n  - {id: home, flows: flows.json}\n"
        "home_assistant:\n  areas:\n    office: [desk lamp]\n", encoding="utf-8")
    result = run_acm("model", "check", str(tmp_path / "site.yaml"))
    assert result.code == 2
    assert "home_assistant.areas.office[0]" in result.err and "site.yaml:6" in result.err


# --------------------------------------------------------------------------- hostile models


def test_billion_laughs_is_refused_before_it_expands(tmp_path: Path, run_acm) -> None:
    lines = ["version: 1", 'a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, 9):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_acm("model", "check", str(path))
    assert result.code == 2
    assert "more than 100000 YAML nodes" in result.err and len(result.err.splitlines()) == 1


def test_yaml_nested_too_deep_is_refused(tmp_path: Path, run_acm) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("version: 1\nx: " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    result = run_acm("model", "check", str(path))
    assert result.code == 2 and "Traceback" not in result.err
    assert len(result.err.splitlines()) == 1


def test_a_broker_with_tls_and_credentials_by_env_name(tmp_path: Path, run_acm) -> None:
    (tmp_path / "a.json").write_text("[]", encoding="utf-8")
    path = tmp_path / "site.yaml"
    path.write_text(
        "version: 1\nruntimes:\n  - {id: a, flows: a.json}\nbrokers:\n"
        "  - id: mq\n    host: mqtt.example.com\n    port: 8883\n    tls: true\n"
        "    ca_file: ca.pem\n"
        "    credentials: {username_env: MQTT_USER, password_env: MQTT_PASS}\n",
        encoding="utf-8")
    assert run_acm("model", "check", str(path)).code == 0
    path.write_text(path.read_text(encoding="utf-8").replace("MQTT_PASS", "s3cr3t!"),
                    encoding="utf-8")
    result = run_acm("model", "check", str(path))  # a secret where a variable name belongs
    assert result.code == 2 and "password_env" in result.err


def test_an_area_service_acts_only_on_entities_of_its_domain(tmp_path: Path, run_acm) -> None:
    """light.turn_off on the office does not touch the office's media player."""
    flows = _area_flows()
    flows[-1]["action"] = "media_player.turn_on"
    flows[-1]["entityId"] = ["media_player.tv"]
    (tmp_path / "flows.json").write_text(json.dumps(flows), encoding="utf-8")
    (tmp_path / "site.yaml").write_text(
        "version: 1\nruntimes:\n  - {id: home, flows: flows.json}\n"
        "home_assistant:\n  areas:\n    office: [light.desk, media_player.tv]\n",
        encoding="utf-8")
    doc = run_acm("analyze", "--model", str(tmp_path / "site.yaml"), "--format", "json").json()
    assert [c for c in doc["conflicts"] if c["severity"] != "info"] == []
    tv = next(a for a in doc["actuators"] if a["key"] == "ha:media_player.tv")
    assert tv["applications"] == ["W"]


# ---------------------------------------------------------------------------
# Paths stay in the model's folder: a model may come from someone else, and its
# token file is sent to its url, its flows deployed there.


def site_in_folder(tmp_path: Path, text: str = BASE) -> Path:
    """The model and its flows in tmp_path/site, with a file next to that folder."""
    (tmp_path / "outside.txt").write_text("not the model's\n", encoding="utf-8")
    (tmp_path / "site").mkdir()
    return make_site(tmp_path / "site", text)


ESCAPES = [  # (id, old, new, marker of the line, path in the document)
    ("flows", "    flows: b.json\n", "    flows: ../outside.txt\n", "../outside.txt",
     "runtimes[1].flows"),
    ("token_file", "{token_env: ACM_A_TOKEN}", "{token_file: ../outside.txt}",
     "token_file", "runtimes[0].credentials.token_file"),
    ("tls-ca_file", "    flows: a.json\n",
     "    flows: a.json\n    tls: {ca_file: ../outside.txt}\n", "ca_file",
     "runtimes[0].tls.ca_file"),
    ("broker-ca_file", "port: 1883}", "port: 1883, ca_file: ../outside.txt}", "ca_file",
     "brokers[0].ca_file"),
]


@pytest.mark.parametrize(("old", "new", "marker", "doc_path"), [c[1:] for c in ESCAPES],
                         ids=[c[0] for c in ESCAPES])
def test_a_path_out_of_the_models_folder_is_refused(
        run_acm, tmp_path, old, new, marker, doc_path):
    text = changed(old, new)
    path = site_in_folder(tmp_path, text)
    for args in (("model", "check", str(path)), ("analyze", "--model", str(path))):
        result = run_acm(*args)
        assert result.code == 2, (args, result.err)
        assert result.err.startswith(
            f"acm: error: {path}:{line_of(text, marker)}: {doc_path}: '../outside.txt' is "
            f"outside the model's folder {tmp_path.resolve() / 'site'}; keep "), result.err
        assert result.err.count("\n") == 1
        assert "not the model's" not in result.err


@pytest.mark.parametrize("field", ["flows", "token_file"])
def test_an_absolute_path_out_of_the_folder_is_refused(run_acm, tmp_path, field):
    outside = tmp_path / "outside.txt"
    text = changed("    flows: b.json\n", f"    flows: '{outside}'\n") if field == "flows" \
        else changed("{token_env: ACM_A_TOKEN}", f"{{token_file: '{outside}'}}")
    path = site_in_folder(tmp_path, text)
    result = run_acm("model", "check", str(path))
    assert result.code == 2
    assert f"{field}: '{outside}' is outside the model's folder" in result.err


def test_a_symlink_out_of_the_folder_is_refused(run_acm, tmp_path):
    path = site_in_folder(tmp_path, changed("{token_env: ACM_A_TOKEN}",
                                            "{token_file: secrets/token}"))
    (path.parent / "secrets").mkdir()
    (path.parent / "secrets" / "token").symlink_to(tmp_path / "outside.txt")
    result = run_acm("model", "check", str(path))
    assert result.code == 2
    assert "runtimes[0].credentials.token_file: 'secrets/token' is outside" in result.err


def test_paths_that_stay_in_the_folder_are_fine(run_acm, tmp_path):
    folder = tmp_path / "site"
    text = changed("{token_env: ACM_A_TOKEN}", "{token_file: secrets/../secrets/token}")
    text = changed("    flows: b.json\n", f"    flows: '{folder / 'b.json'}'\n"  # absolute
                   "    tls: {ca_file: certs/ca.pem}\n", text)
    text = changed("flows: a.json", "flows: flows/a.json", text)
    path = site_in_folder(tmp_path, text)
    (folder / "flows").mkdir()
    (folder / "flows" / "a.json").symlink_to(folder / "a.json")  # a link that stays inside
    result = run_acm("model", "check", str(path))
    assert result.code == 0, result.err


def test_a_token_file_out_of_the_folder_stops_deploy_before_any_connection(
        run_acm, tmp_path):
    text = changed('url: "http://127.0.0.1:1880"', 'url: "http://127.0.0.1:9"')
    text = changed("{token_env: ACM_A_TOKEN}", "{token_file: ../outside.txt}", text)
    path = site_in_folder(tmp_path, text)
    result = run_acm("deploy", str(path), "--dry-run")
    assert result.code == 2
    assert "token_file: '../outside.txt' is outside the model's folder" in result.err
    assert "connect" not in result.err and "refused" not in result.err


def test_a_url_with_credentials_and_credentials_too_is_refused(run_acm, tmp_path):
    text = changed("http://127.0.0.1:1880", "http://admin:s3cr3t@127.0.0.1:1880")
    path = make_site(tmp_path, text)
    result = run_acm("model", "check", str(path))
    assert result.code == 2
    assert result.err.startswith(f"acm: error: {path}:{line_of(text, 'credentials:')}: "
                                 "runtimes[0].credentials: the url has credentials in it")
    assert "give either credentials in the URL or a token, not both" in result.err
    assert "s3cr3t" not in result.err
    path.write_text(changed("    credentials: {token_env: ACM_A_TOKEN}\n", "", text),
                    encoding="utf-8")
    assert run_acm("model", "check", str(path)).code == 0  # the URL's credentials alone


def test_apply_with_a_model_lacking_the_url_stops_before_any_connection(run_acm, tmp_path):
    """`acm apply --model` finds the runtime by its url; none there is bad input, named
    without the URL's password, and nothing is contacted."""
    result = run_acm("apply", "--url", "http://admin:s3cr3t@127.0.0.1:9", "--model",
                     str(ROOT / "flows" / "site" / "site.yaml"),
                     "--backup-dir", str(tmp_path / "b"))
    assert result.code == 2, result.err
    assert "has url http://127.0.0.1:9" in result.err
    assert "s3cr3t" not in result.err
    assert "refused" not in result.err and not (tmp_path / "b").exists()
