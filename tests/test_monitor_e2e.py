"""acm monitor end to end: a real Mosquitto and a real Node-RED 4.

Two tabs command one lamp through a topic computed in function nodes, so
static analysis cannot see them meet. The monitor, on the broker, sees "on"
from one and "off" from the other within the window: a runtime conflict that
static analysis does not report, written as an observed finding that
``acm analyze --runtime-findings`` shows beside the static ones. With an ACM
priority resolver in front of the lamp, only the resolver's arbitration
reaches the topic: no conflict.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mosquitto import Mosquitto
from mosquitto import missing as mosquitto_missing
from nodered import NodeRed
from nodered import missing as nodered_missing

from acm.rewrite.resolve import template

ROOT = Path(__file__).resolve().parent.parent
LAMP = "home/lamp/set"
COMPUTE = 'msg.topic = ["home", "lamp", "set"].join("/");\nreturn msg;'


@pytest.fixture(scope="module")
def broker() -> Iterator[Mosquitto]:
    reason = mosquitto_missing()
    if reason:
        pytest.skip(reason)
    with Mosquitto() as instance:
        yield instance


@pytest.fixture(scope="module")
def runtime() -> Iterator[NodeRed]:
    reason = nodered_missing("4")
    if reason:
        pytest.skip(reason)
    with NodeRed("4") as instance:
        yield instance


def node(node_id: str, node_type: str, z: str, wires: list[list[str]], **extra: Any
         ) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "z": z, "x": 150, "y": 80, "wires": wires,
            **extra}


def inject(node_id: str, z: str, payload: str, target: str) -> dict[str, Any]:
    return node(node_id, "inject", z, [[target]], name=payload, props=[{"p": "payload"}],
                repeat="", crontab="00 03 1 1 *", once=False, onceDelay=0.1, topic="",
                payload=payload, payloadType="str")


def computed(node_id: str, z: str, target: str) -> dict[str, Any]:
    return node(node_id, "function", z, [[target]], name="lamp topic", func=COMPUTE,
                outputs=1, timeout=0, noerr=0, initialize="", finalize="", libs=[])


def publisher(node_id: str, z: str) -> dict[str, Any]:
    return node(node_id, "mqtt out", z, [], name="lamp", topic="", qos="0", retain="",
                broker="mq")


def mqtt_broker(port: int) -> dict[str, Any]:
    return {"id": "mq", "type": "mqtt-broker", "name": "home", "broker": "127.0.0.1",
            "port": str(port), "clientid": "", "autoConnect": True, "usetls": False,
            "protocolVersion": "4", "keepalive": "60", "cleansession": True,
            "autoUnsubscribe": True, "birthTopic": "", "closeTopic": "", "willTopic": ""}


def tab(tab_id: str, label: str) -> dict[str, Any]:
    return {"id": tab_id, "type": "tab", "label": label, "disabled": False, "info": ""}


def unresolved(port: int) -> list[dict[str, Any]]:
    """Morning sends "on", Away "off", each through its own computed topic."""
    return [mqtt_broker(port), tab("morning", "Morning"), tab("away", "Away"),
            inject("m_in", "morning", "on", "m_fn"), computed("m_fn", "morning", "m_out"),
            publisher("m_out", "morning"),
            inject("a_in", "away", "off", "a_fn"), computed("a_fn", "away", "a_out"),
            publisher("a_out", "away")]


def resolved(port: int) -> list[dict[str, Any]]:
    """The same commands, tagged and sent over links to an ACM priority resolver
    (Morning first) in front of the one computed-topic publisher."""
    config = {"strategy": "priority", "conflict": "e2e", "label": "lamp", "targets": 1,
              "options": {"order": ["morning", "away"], "ttl": None, "default": None,
                          "release": "release"}}

    def tagged(app: str, value: str) -> list[dict[str, Any]]:
        return [inject(f"{app}_in", app, value, f"{app}_tag"),
                node(f"{app}_tag", "change", app, [[f"{app}_link"]], name="ACM tag",
                     rules=[{"t": "set", "p": "acm", "pt": "msg",
                             "to": json.dumps({"app": app, "target": 0}), "tot": "json"}]),
                node(f"{app}_link", "link out", app, [], mode="link", links=["r_in"])]

    return [mqtt_broker(port), tab("morning", "Morning"), tab("away", "Away"),
            tab("resolvers", "ACM resolvers"), *tagged("morning", "on"), *tagged("away", "off"),
            node("r_in", "link in", "resolvers", [["r_fn"]], links=["morning_link", "away_link"],
                 g="r_group"),
            node("r_fn", "function", "resolvers", [["r_topic"]], name="ACM priority: lamp",
                 func=template("priority"), outputs=1, timeout=0, noerr=0, initialize="",
                 finalize="", libs=[], g="r_group"),
            {"id": "r_group", "type": "group", "z": "resolvers", "name": "ACM",
             "nodes": ["r_in", "r_fn"], "x": 20, "y": 20, "w": 400, "h": 100,
             "env": [{"name": "ACM_RESOLVER", "value": json.dumps(config), "type": "str"}]},
            computed("r_topic", "resolvers", "r_out"), publisher("r_out", "resolvers")]


def write_site(folder: Path, flows: list[dict[str, Any]], port: int) -> Path:
    (folder / "flows.json").write_text(json.dumps(flows), encoding="utf-8")
    model = folder / "site.yaml"
    model.write_text(f"""version: 1
runtimes: [{{id: home, flows: flows.json}}]
brokers: [{{id: mq, host: 127.0.0.1, port: {port}}}]
zones: [{{id: hall}}]
actuators:
  - {{id: lamp, name: Hall lamp, zone: hall, binding: {{type: mqtt, broker: mq, topic: {LAMP}}}}}
""", encoding="utf-8")
    return model


def acm(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "acm", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def monitor_while(broker: Mosquitto, runtime: NodeRed, model: Path, findings: Path,
                  injects: list[str]) -> tuple[int, list[dict[str, Any]]]:
    """Run acm monitor for a few seconds while the injects fire; its exit code and lines."""
    offset = broker.log_offset()
    process = subprocess.Popen(
        [sys.executable, "-m", "acm", "monitor", "--model", str(model), "--json",
         "--duration", "6", "--write-findings", str(findings)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        broker.wait_for_log(r"Received SUBSCRIBE from acm-monitor",
                            since=offset, timeout=15)
        for node_id in injects:
            runtime.inject(node_id)
            time.sleep(0.3)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert lines and lines[-1]["type"] == "summary", err
    return process.returncode, lines


def test_computed_topics_conflict_at_run_time_only(broker: Mosquitto, runtime: NodeRed,
                                                   tmp_path: Path) -> None:
    flows = unresolved(broker.port)
    model = write_site(tmp_path, flows, broker.port)
    static = json.loads(acm("analyze", "--model", str(model), "--format", "json",
                            "--fail-on", "never").stdout)
    lamp = f"mqtt:127.0.0.1:{broker.port}/{LAMP}"
    assert not [c for c in static["conflicts"] if lamp in [a["key"] for a in c["actuators"]]]
    assert static["stats"]["unknown_targets"] == 2  # the computed topics

    offset = broker.log_offset()
    runtime.reset_flows(flows)
    broker.wait_for_log(r"New client connected", since=offset, timeout=15)
    findings = tmp_path / "observed.json"
    code, lines = monitor_while(broker, runtime, model, findings, ["m_in", "a_in"])
    commands = [(x["value"], x["source"]) for x in lines if x["type"] == "command"]
    assert commands == [("on", "unknown"), ("off", "unknown")]
    (conflict,) = [x for x in lines if x["type"] == "conflict"]
    assert conflict["key"] == lamp and conflict["static"] == []
    assert "static analysis does not see it" in conflict["message"]
    assert code == 1

    merged = acm("analyze", "--model", str(model), "--runtime-findings", str(findings),
                 "--format", "json", "--fail-on", "warning")
    assert merged.returncode == 1, merged.stderr
    (observed,) = [c for c in json.loads(merged.stdout)["conflicts"] if "observed" in c]
    assert observed["rule"] == "runtime" and observed["code"] == "ACM012"
    assert observed["id"] == conflict["id"]
    assert [c["value"] for c in observed["observed"]["commands"]] == ["on", "off"]


def test_a_resolver_arbitrates_and_the_monitor_sees_no_conflict(
        broker: Mosquitto, runtime: NodeRed, tmp_path: Path) -> None:
    flows = resolved(broker.port)
    model = write_site(tmp_path, flows, broker.port)
    offset = broker.log_offset()
    runtime.reset_flows(flows)
    broker.wait_for_log(r"New client connected", since=offset, timeout=15)
    code, lines = monitor_while(broker, runtime, model, tmp_path / "observed.json",
                                ["morning_in", "away_in", "morning_in"])
    # priority: Morning ranks first, so Away's "off" never reaches the lamp; output only
    # on change, so Morning's second "on" does not either
    assert [x["value"] for x in lines if x["type"] == "command"] == ["on"]
    assert not [x for x in lines if x["type"] == "conflict"]
    assert code == 0
