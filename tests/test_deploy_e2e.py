"""End to end: `acm deploy` on a two-runtime site, and cross-runtime resolution over MQTT.

One throw-away Mosquitto (tests/mosquitto.py) and two real Node-RED 4 runtimes:
"hub" (no adminAuth) and "gateway" (adminAuth, static bearer token; the model
names the variable that holds it, ``ACM_GATEWAY_TOKEN``). The hub's tab
"Comfort" publishes "on", the gateway's tab "Night" publishes "off", both to
``site/heater/set`` on the broker: one actuator driven from two runtimes (a
cross-runtime conflict, ACM004, and a direct one, ACM001). A paho client plays
the heater: it records what reaches the real topic (and the ACM namespace
``acm/#``) with monotonic timestamps, and the test checks it against the
priority strategy of docs/strategies.md.

See docs/deploy.md for the behaviour under test.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from mosquitto import Mosquitto
from mosquitto import missing as mosquitto_missing
from nodered import AUTH_TOKEN, NodeRed
from nodered import missing as nodered_missing

import acm.nodered.deploy
from acm.nodered.admin_api import TOKEN_ENV, AdminClient

Flows = list[dict[str, Any]]

TOPIC = "site/heater/set"
COMFORT = "c0f0c0f0c0f0c0f0"  # hub tab "Comfort"  -> application hub/c0f0c0f0c0f0c0f0
NIGHT = "a1a1a1a1a1a1a1a1"  # gateway tab "Night" -> application gateway/a1a1a1a1a1a1a1a1
GATEWAY_TOKEN_ENV = "ACM_GATEWAY_TOKEN"
STATES = ("deployed", "unchanged", "failed", "unknown", "rolled back", "rollback refused",
          "rollback failed", "not attempted")

# -- services (one broker and two runtimes for the module) ---------------------------------


@pytest.fixture(scope="module")
def broker() -> Iterator[Mosquitto]:
    reason = mosquitto_missing()
    if reason:
        pytest.skip(reason)
    with Mosquitto() as instance:
        yield instance


def _runtime(auth: dict[str, Any] | None = None) -> Iterator[NodeRed]:
    reason = nodered_missing("4")
    if reason:
        pytest.skip(reason)
    with NodeRed("4", auth) as instance:
        yield instance


@pytest.fixture(scope="module")
def hub() -> Iterator[NodeRed]:
    yield from _runtime()


@pytest.fixture(scope="module")
def gateway() -> Iterator[NodeRed]:
    yield from _runtime({"token": AUTH_TOKEN})


# -- the site ---------------------------------------------------------------------------------


def tab(tab_id: str, label: str) -> dict[str, Any]:
    return {"id": tab_id, "type": "tab", "label": label, "disabled": False, "info": ""}


def inject(node_id: str, z: str, payload: str, target: str) -> dict[str, Any]:
    return {"id": node_id, "type": "inject", "z": z, "name": f"{payload}",
            "props": [{"p": "payload"}], "repeat": "", "crontab": "00 03 1 1 *", "once": False,
            "onceDelay": 0.1, "topic": "", "payload": payload, "payloadType": "str",
            "x": 130, "y": 80, "wires": [[target]]}


def mqtt_out(node_id: str, z: str, broker_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "mqtt out", "z": z, "name": "heater", "topic": TOPIC,
            "qos": "1", "retain": "", "respTopic": "", "contentType": "", "userProps": "",
            "correl": "", "expiry": "", "broker": broker_id, "x": 380, "y": 80, "wires": []}


def mqtt_broker(node_id: str, port: int) -> dict[str, Any]:
    return {"id": node_id, "type": "mqtt-broker", "name": "site broker", "broker": "127.0.0.1",
            "port": str(port), "clientid": "", "autoConnect": True, "usetls": False,
            "protocolVersion": "4", "keepalive": "60", "cleansession": True,
            "autoUnsubscribe": True, "birthTopic": "", "closeTopic": "", "willTopic": ""}


def hub_flows(port: int) -> Flows:
    return [tab(COMFORT, "Comfort"), inject("hub_on", COMFORT, "on", "hub_out"),
            mqtt_out("hub_out", COMFORT, "hub_broker"), mqtt_broker("hub_broker", port)]


def gateway_flows(port: int) -> Flows:
    return [tab(NIGHT, "Night"), inject("gw_off", NIGHT, "off", "gw_out"),
            mqtt_out("gw_out", NIGHT, "gw_broker"), mqtt_broker("gw_broker", port)]


POLICY = """\
policy heater-priority {
    for actuator a
    where a.kind == "mqtt"
    strategy priority
    order "Night", "Comfort"
    ttl 2s
    default "off"
}
"""


@dataclass
class Site:
    dir: Path
    model: Path
    policy: Path
    backups: Path
    hub: NodeRed
    gateway: NodeRed
    broker: Mosquitto
    originals: dict[str, Flows]

    def runtime(self, name: str) -> NodeRed:
        return self.hub if name == "hub" else self.gateway

    def deployed(self) -> dict[str, tuple[Flows, str]]:
        return {"hub": self.hub.deployed_flows(), "gateway": self.gateway.deployed_flows()}

    def backup_files(self) -> list[Path]:
        return sorted(self.backups.iterdir()) if self.backups.exists() else []


def write_model(folder: Path, hub: NodeRed, gateway: NodeRed, broker: Mosquitto) -> Path:
    model = folder / "site.yaml"
    model.write_text(f"""\
version: 1
name: "Deploy e2e"
runtimes:
  - id: hub
    url: "{hub.url}"
    flows: hub.json
  - id: gateway
    url: "{gateway.url}"
    flows: gateway.json
    credentials: {{token_env: {GATEWAY_TOKEN_ENV}}}
brokers:
  - {{id: site-mqtt, host: 127.0.0.1, port: {broker.port}}}
resolution: {{runtime: hub}}
""", encoding="utf-8")
    return model


@pytest.fixture
def site(tmp_path: Path, hub: NodeRed, gateway: NodeRed, broker: Mosquitto,
         monkeypatch: pytest.MonkeyPatch) -> Site:
    """The model, flows files and policy in tmp_path; both runtimes run the original flows."""
    for name in (TOKEN_ENV, "ACM_NODERED_USERNAME", "ACM_NODERED_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(GATEWAY_TOKEN_ENV, AUTH_TOKEN)
    originals = {"hub": hub_flows(broker.port), "gateway": gateway_flows(broker.port)}
    for name, flows in originals.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(flows, indent=1), encoding="utf-8")
    policy = tmp_path / "site.policy"
    policy.write_text(POLICY, encoding="utf-8")
    # Removing every node first also drops the resolver's node context of an earlier test.
    hub.reset_flows([])
    gateway.reset_flows([])
    hub.reset_flows(originals["hub"])
    gateway.reset_flows(originals["gateway"])
    return Site(tmp_path, write_model(tmp_path, hub, gateway, broker), policy,
                tmp_path / "backups", hub, gateway, broker, originals)


def deploy(run_acm: Any, site: Site, *args: str) -> Any:
    return run_acm("deploy", str(site.model), "--backup-dir", str(site.backups), *args)


def summary(out: str) -> dict[str, str]:
    """Runtime -> state, from the summary table `acm deploy` prints."""
    rows: dict[str, str] = {}
    pattern = re.compile(r"^(\S+)\s+(" + "|".join(STATES) + r")(?:\s|$)")
    for line in out.splitlines():
        match = pattern.match(line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def by_role(flows: Flows, role: str) -> list[dict[str, Any]]:
    return [n for n in flows if isinstance(n.get("acm"), dict) and n["acm"].get("role") == role]


def node(flows: Flows, node_id: str) -> dict[str, Any]:
    return next(n for n in flows if n["id"] == node_id)


def namespace_topic(conflict: str, application: str) -> str:
    return f"acm/{conflict}/{application.replace('/', '~')}"


# -- the heater: an MQTT subscriber -----------------------------------------------------------


@dataclass(frozen=True)
class Message:
    at: float  # time.monotonic() on arrival
    topic: str
    payload: str


class Subscriber:
    """Records every message on ``topics`` (paho, MQTT 3.1.1, QoS 1)."""

    def __init__(self, broker: Mosquitto, topics: tuple[str, ...]) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        subscribed = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="acm-test-heater")  # type: ignore[attr-defined]

        def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
            client.subscribe([(t, 1) for t in topics])

        def on_subscribe(client: mqtt.Client, userdata: Any, mid: Any, reasons: Any,
                         properties: Any) -> None:
            subscribed.set()

        def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
            with self.lock:
                self.messages.append(Message(time.monotonic(), message.topic,
                                             message.payload.decode("utf-8", "replace")))

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.connect(broker.host, broker.port)
        client.loop_start()
        self.client = client
        if not subscribed.wait(5):
            self.close()
            raise AssertionError(f"could not subscribe to {topics} on {broker.address}")

    def received(self, topic: str = TOPIC) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m.topic == topic]

    def payloads(self, topic: str = TOPIC) -> list[str]:
        return [m.payload for m in self.received(topic)]

    def wait_for(self, count: int, topic: str = TOPIC, timeout: float = 5.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(topic)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{topic}: expected {count} message(s) within {timeout:g} s, "
                             f"got {self.payloads(topic)}")

    def quiet(self, count: int, seconds: float, topic: str = TOPIC) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = self.payloads(topic)
            assert len(got) <= count, f"{topic}: expected no more than {count}, got {got}"
            time.sleep(0.02)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# -- 1. the gate --------------------------------------------------------------------------------


def test_gate_refuses_unmanaged_error_conflicts_and_force_overrides(
    site: Site, run_acm: Any
) -> None:
    site.hub.reset_flows([])
    site.gateway.reset_flows([])
    before = site.deployed()

    refused = deploy(run_acm, site)
    assert refused.code == 1, refused.err
    assert "ACM004" in refused.out and "cross-runtime" in refused.out
    assert "ACM001" in refused.out and "direct" in refused.out
    assert TOPIC in refused.out
    assert "refusing to deploy" in refused.err
    assert site.deployed() == before  # nothing written ...
    assert site.backup_files() == []  # ... not even a backup

    forced = deploy(run_acm, site, "--force")
    assert forced.code == 0, forced.err
    assert summary(forced.out) == {"hub": "deployed", "gateway": "deployed"}
    deployed = site.deployed()
    for name in ("hub", "gateway"):
        assert deployed[name][0] == site.originals[name]  # the model's flows files, as they are
    assert len(site.backup_files()) == 2

    # The same again: read with its rev, nothing differs, nothing written.
    again = deploy(run_acm, site, "--force")
    assert again.code == 0, again.err
    assert summary(again.out) == {"hub": "unchanged", "gateway": "unchanged"}
    assert site.deployed() == deployed
    assert len(site.backup_files()) == 2
    for text in (refused.out, refused.err, forced.out, forced.err):
        assert AUTH_TOKEN not in text


# -- 2. dry run -----------------------------------------------------------------------------------


def sections(out: str) -> dict[str, list[str]]:
    """`== RUNTIME URL (rev ...): N change(s)` headers and their lines."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in out.splitlines():
        match = re.match(r"^== (\S+) ", line)
        if match:
            current = found.setdefault(match.group(1), [line])
        elif current is not None:
            current.append(line)
    return found


def test_dry_run_lists_each_runtimes_changes_and_writes_nothing(
    site: Site, run_acm: Any
) -> None:
    before = site.deployed()
    dry = deploy(run_acm, site, "--dry-run", "--resolve", "--policy", str(site.policy))
    assert dry.code == 0, dry.err
    assert "dry run" in dry.err
    parts = sections(dry.out)
    assert set(parts) == {"hub", "gateway"}
    hub_text = "\n".join(parts["hub"])
    assert site.hub.url in parts["hub"][0]
    assert '+ tab' in hub_text and '"ACM resolvers"' in hub_text
    assert "+ mqtt in" in hub_text and "+ function" in hub_text and "+ mqtt out" in hub_text
    assert site.deployed() == before
    assert site.backup_files() == []
    # The gateway gets no new node, but its publisher moves to another topic: a dry run
    # that says "0 change(s)" for it would hide what the deploy writes.
    gateway_text = "\n".join(parts["gateway"])
    assert "gw_out" in gateway_text, dry.out
    assert "hub_out" in hub_text, dry.out


# -- 3. deploy with cross-runtime resolution ------------------------------------------------------


def resolved_deploy(run_acm: Any, site: Site, *args: str) -> Any:
    return deploy(run_acm, site, "--resolve", "--policy", str(site.policy), *args)


def test_deploy_resolves_across_runtimes_and_reanalysis_shows_it_managed(
    site: Site, run_acm: Any
) -> None:
    before = site.deployed()
    result = resolved_deploy(run_acm, site)
    assert result.code == 0, result.err
    assert summary(result.out) == {"hub": "deployed", "gateway": "deployed"}
    [conflict] = re.findall(r"acm: (ACM004-[0-9a-f]+) \(cross-runtime\) on hub: priority",
                            result.err)
    assert "[1/2] hub" in result.err and "[2/2] gateway" in result.err

    # Backups: one per runtime, each holding what was deployed before.
    backups = site.backup_files()
    assert len(backups) == 2
    saved = sorted(json.loads(b.read_text(encoding="utf-8"))["rev"] for b in backups)
    assert saved == sorted(rev for _, rev in before.values())
    for backup in backups:
        assert AUTH_TOKEN not in backup.read_text(encoding="utf-8")
    assert AUTH_TOKEN not in result.out + result.err

    deployed = site.deployed()
    hub_nodes, gateway_nodes = deployed["hub"][0], deployed["gateway"][0]
    hub_app, night_app = f"hub/{COMFORT}", f"gateway/{NIGHT}"
    assert node(hub_nodes, "hub_out")["topic"] == namespace_topic(conflict, hub_app)
    assert node(gateway_nodes, "gw_out")["topic"] == namespace_topic(conflict, night_app)
    assert node(hub_nodes, "hub_out")["acm"]["original"] == {"topic": TOPIC}
    # The resolver runs on the runtime the model names (resolution.runtime: hub).
    [resolvers_tab] = [n for n in hub_nodes if n["type"] == "tab" and n.get("acm")]
    assert resolvers_tab["label"] == "ACM resolvers"
    assert not any(n["type"] == "tab" and n.get("acm") for n in gateway_nodes)
    [listener] = [n for n in hub_nodes if n["type"] == "mqtt in" and n.get("acm")]
    assert listener["topic"] == f"acm/{conflict}/+"
    assert listener["z"] == resolvers_tab["id"]
    [publisher] = by_role(hub_nodes, "publisher")
    assert publisher["type"] == "mqtt out" and publisher["topic"] == TOPIC
    assert publisher["broker"] == "hub_broker"  # the hub's own broker node for that address
    [resolver] = by_role(hub_nodes, "resolver")
    assert resolver["acm"]["strategy"] == "priority"
    [group] = by_role(hub_nodes, "group")
    config = json.loads({e["name"]: e for e in group["env"]}["ACM_RESOLVER"]["value"])
    # Names in the policy's order (tab labels) become application ids.
    assert config["options"]["order"] == [night_app, hub_app]
    assert config["options"]["ttl"] == 2000 and config["options"]["default"] == "off"

    # Deploying the same again changes nothing (same ids, same flows).
    again = resolved_deploy(run_acm, site)
    assert again.code == 0, again.err
    assert summary(again.out) == {"hub": "unchanged", "gateway": "unchanged"}
    assert site.deployed() == deployed
    assert len(site.backup_files()) == 2

    # Re-analysis of what is deployed: the conflict is managed, nothing at error.
    copy = site.dir / "deployed"
    copy.mkdir()
    for name, (flows, _) in deployed.items():
        (copy / f"{name}.json").write_text(json.dumps(flows), encoding="utf-8")
    (copy / "site.yaml").write_text(site.model.read_text(encoding="utf-8"), encoding="utf-8")
    report = run_acm("analyze", "--model", str(copy / "site.yaml"), "--format", "json")
    assert report.code == 0, report.out + report.err
    conflicts = report.json()["conflicts"]
    managed = [c for c in conflicts if c["code"] == "ACM005"]
    assert managed and all(c["severity"] == "info" for c in managed), conflicts
    assert any(c["actuators"][0]["key"] == f"mqtt:{site.broker.address}/{TOPIC}"
               for c in managed), managed
    assert not [c for c in conflicts if c["code"] == "ACM004" and c["severity"] == "error"]
    assert not [c for c in conflicts if c["severity"] == "error"], conflicts


# -- 4. over the broker ----------------------------------------------------------------------------


def test_commands_from_both_runtimes_reach_the_actuator_only_as_priority_allows(
    site: Site, run_acm: Any
) -> None:
    heater = Subscriber(site.broker, (TOPIC, "acm/#"))
    try:
        since = site.broker.log_offset()
        result = resolved_deploy(run_acm, site)
        assert result.code == 0, result.err
        [conflict] = re.findall(r"acm: (ACM004-[0-9a-f]+) \(cross-runtime\)", result.err)
        # Both runtimes reconnected after the full deploy and the resolver subscribed.
        site.broker.wait_for_log(r"New client connected from \S+ as nodered", since, count=2)
        site.broker.wait_for_log(r"\tacm/" + conflict + r"/\+ \(QoS 1\)", since)

        site.hub.inject("hub_on")  # Comfort "on": nobody else active
        heater.wait_for(1)
        site.hub.inject("hub_on")  # the same value again: output only on change
        heater.quiet(1, 0.3)
        night_at = site.gateway.inject("gw_off")  # Night ranks higher: "off"
        heater.wait_for(2)
        comfort_at = site.hub.inject("hub_on")  # Night still active: nothing
        heater.quiet(2, 0.5)
        # Night's command expires 2 s after it came; Comfort's (renewed) "on" applies.
        hits = heater.wait_for(3, timeout=4)
        assert 1.8 <= hits[2].at - night_at <= 3.2, hits[2].at - night_at
        # Then Comfort's expires as well: the relinquish default.
        hits = heater.wait_for(4, timeout=4)
        assert 1.8 <= hits[3].at - comfort_at <= 3.2, hits[3].at - comfort_at
        assert [m.payload for m in hits] == ["on", "off", "on", "off"]
        heater.quiet(4, 0.3)

        # The publishers themselves only ever used their own topics in the namespace.
        assert heater.payloads(namespace_topic(conflict, f"hub/{COMFORT}")) == ["on"] * 3
        assert heater.payloads(namespace_topic(conflict, f"gateway/{NIGHT}")) == ["off"]
        assert {m.topic for m in heater.messages} == {
            TOPIC, namespace_topic(conflict, f"hub/{COMFORT}"),
            namespace_topic(conflict, f"gateway/{NIGHT}")}
    finally:
        heater.close()


# -- 5. rollback ----------------------------------------------------------------------------------


def test_a_failing_runtime_rolls_back_the_ones_already_written(
    site: Site, run_acm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = site.deployed()
    monkeypatch.delenv(GATEWAY_TOKEN_ENV)  # the gateway (adminAuth) now answers 401

    failed = resolved_deploy(run_acm, site)
    assert failed.code == 2, failed.out + failed.err
    assert summary(failed.out) == {"hub": "rolled back", "gateway": "failed"}
    assert "[2/2] gateway: failed" in failed.err
    assert "rolled back" in failed.err
    after = site.deployed()
    assert after["hub"][0] == before["hub"][0]  # the hub runs its old flows again
    assert after["gateway"] == before["gateway"]
    # Two backups of the hub: its flows before the deploy, and the deployed ones, which
    # the rollback saved before writing over them.
    saved = [json.loads(f.read_text(encoding="utf-8"))["flows"] for f in site.backup_files()]
    assert len(saved) == 2
    assert before["hub"][0] in saved
    [deployed] = [flows for flows in saved if flows != before["hub"][0]]
    assert node(deployed, "hub_out")["topic"].startswith("acm/ACM004-")

    kept = resolved_deploy(run_acm, site, "--no-rollback")
    assert kept.code == 2, kept.out + kept.err
    assert summary(kept.out) == {"hub": "deployed", "gateway": "failed"}
    hub_now = site.hub.deployed_flows()[0]
    assert any(n["type"] == "tab" and n.get("label") == "ACM resolvers" for n in hub_now)
    assert node(hub_now, "hub_out")["topic"].startswith("acm/ACM004-")
    assert site.gateway.deployed_flows() == before["gateway"]


def test_a_runtime_without_url_leaves_no_runtime_half_deployed(
    site: Site, run_acm: Any
) -> None:
    before = site.deployed()
    text = site.model.read_text(encoding="utf-8")
    site.model.write_text(text.replace(f'    url: "{site.gateway.url}"\n', ""), encoding="utf-8")
    result = resolved_deploy(run_acm, site)
    assert result.code == 2, result.out + result.err
    assert "gateway" in result.err and "url" in result.err
    # Refused up front or rolled back: either way the hub is not left with the new flows.
    assert site.hub.deployed_flows()[0] == before["hub"][0], result.out + result.err
    assert summary(result.out).get("hub") in (None, "rolled back", "not attempted")


def test_a_missing_token_names_the_variable_the_model_gives(
    site: Site, run_acm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(GATEWAY_TOKEN_ENV)
    failed = resolved_deploy(run_acm, site, "--only", "gateway")
    assert failed.code == 2, failed.out + failed.err
    assert summary(failed.out) == {"gateway": "failed"}
    text = failed.out + failed.err
    # acm deploy takes credentials from the model only: the hint must name the model's
    # variable, not the one (and the option) of `acm apply`.
    assert GATEWAY_TOKEN_ENV in text, text
    assert "--token-file" not in text, text


# -- 6. --only ------------------------------------------------------------------------------------


def test_only_deploys_the_named_runtime(site: Site, run_acm: Any) -> None:
    before = site.deployed()
    result = resolved_deploy(run_acm, site, "--only", "hub")
    assert result.code == 0, result.err
    assert summary(result.out) == {"hub": "deployed"}
    assert "gateway" not in result.out
    assert site.gateway.deployed_flows() == before["gateway"]
    hub_now = site.hub.deployed_flows()[0]
    assert by_role(hub_now, "resolver")
    assert node(hub_now, "hub_out")["topic"].startswith("acm/ACM004-")
    assert len(site.backup_files()) == 1

    unknown = resolved_deploy(run_acm, site, "--only", "cellar")
    assert unknown.code == 2
    assert "cellar" in unknown.err


# -- 7. revert ------------------------------------------------------------------------------------


def test_revert_on_each_runtime_restores_the_original_publishers(
    site: Site, run_acm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = resolved_deploy(run_acm, site)
    assert result.code == 0, result.err
    backups = str(site.dir / "revert-backups")
    hub = run_acm("revert", "--url", site.hub.url, "--backup-dir", backups)
    assert hub.code == 0, hub.err
    monkeypatch.setenv(TOKEN_ENV, AUTH_TOKEN)  # acm revert reads the token from its variable
    gateway = run_acm("revert", "--url", site.gateway.url, "--backup-dir", backups)
    assert gateway.code == 0, gateway.err

    deployed = site.deployed()
    for name in ("hub", "gateway"):
        flows = deployed[name][0]
        assert flows == site.originals[name]
        assert not [n for n in flows if "acm" in n]
    assert node(deployed["hub"][0], "hub_out")["topic"] == TOPIC
    assert node(deployed["gateway"][0], "gw_out")["topic"] == TOPIC


# -- 8. concurrent deploys: nobody's change is lost -------------------------------------------


def comment(node_id: str, z: str, name: str) -> dict[str, Any]:
    return {"id": node_id, "type": "comment", "z": z, "name": name, "info": "", "x": 120,
            "y": 200, "wires": []}


def someone_deploys(runtime: NodeRed, edit: Any) -> None:
    """Another user deploys ``edit(flows)`` on ``runtime``, as the editor would."""
    flows, _ = runtime.deployed_flows()
    runtime.reset_flows(edit(flows))


def interleave(monkeypatch: pytest.MonkeyPatch, before_write: dict[str, Any]) -> None:
    """Run ``before_write[runtime id]()`` once, between acm's read and its write there."""
    real = acm.nodered.deploy.client_for

    def client_for(runtime: Any, model: Any, timeout: float = 10) -> AdminClient:
        client = real(runtime, model, timeout)
        action = before_write.pop(runtime.id, None)
        if action is not None:
            write = client.set_flows

            def set_flows(flows: Flows, rev: str, deployment_type: str = "full") -> str:
                action()
                client.set_flows = write  # type: ignore[method-assign]
                return write(flows, rev, deployment_type)

            client.set_flows = set_flows  # type: ignore[method-assign]
        return client

    monkeypatch.setattr(acm.nodered.deploy, "client_for", client_for)


def test_a_concurrent_deploy_is_kept_and_this_deploys_changes_go_on_top(
    site: Site, run_acm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub_file = site.dir / "hub.json"
    ours = json.loads(hub_file.read_text(encoding="utf-8"))
    node(ours, "hub_on")["payload"] = "warm"
    hub_file.write_text(json.dumps(ours), encoding="utf-8")
    their_note = comment("their_note", COMFORT, "added in the editor meanwhile")
    interleave(monkeypatch, {"hub": lambda: someone_deploys(
        site.hub, lambda flows: [*flows, their_note])})

    result = deploy(run_acm, site, "--force")  # --force: past the gate, not about data
    assert result.code == 0, result.out + result.err
    assert summary(result.out)["hub"] == "deployed"
    assert "merged with a concurrent deploy" in result.err
    hub_now = site.hub.deployed_flows()[0]
    assert node(hub_now, "hub_on")["payload"] == "warm"  # this deploy's change ...
    assert their_note in hub_now  # ... on top of theirs, which is kept


def test_a_concurrent_change_to_a_node_this_deploy_changes_is_not_overwritten(
    site: Site, run_acm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub_file = site.dir / "hub.json"
    ours = json.loads(hub_file.read_text(encoding="utf-8"))
    node(ours, "hub_on")["payload"] = "warm"
    hub_file.write_text(json.dumps(ours), encoding="utf-8")

    def boost(flows: Flows) -> Flows:
        node(flows, "hub_on")["payload"] = "boost"
        return flows

    interleave(monkeypatch, {"hub": lambda: someone_deploys(site.hub, boost)})
    before_gateway = site.gateway.deployed_flows()
    result = deploy(run_acm, site, "--force")
    assert result.code == 2, result.out + result.err
    assert summary(result.out) == {"hub": "failed", "gateway": "not attempted"}
    assert "a concurrent deploy changed node hub_on (inject 'on')" in result.out
    assert node(site.hub.deployed_flows()[0], "hub_on")["payload"] == "boost"  # theirs stays
    assert site.gateway.deployed_flows() == before_gateway


def test_a_rollback_never_overwrites_a_deploy_made_after_this_one(
    site: Site, run_acm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = site.deployed()
    monkeypatch.delenv(GATEWAY_TOKEN_ENV)  # the gateway (adminAuth) now answers 401
    their_note = comment("their_note", COMFORT, "deployed by someone after acm")
    # Someone deploys on the hub after acm wrote it, before the gateway fails.
    real = acm.nodered.deploy.client_for

    def client_for(runtime: Any, model: Any, timeout: float = 10) -> AdminClient:
        if runtime.id == "gateway":
            someone_deploys(site.hub, lambda flows: [*flows, their_note])
        return real(runtime, model, timeout)

    monkeypatch.setattr(acm.nodered.deploy, "client_for", client_for)

    refused = resolved_deploy(run_acm, site)
    assert refused.code == 2, refused.out + refused.err
    assert summary(refused.out) == {"hub": "rollback refused", "gateway": "failed"}
    assert "use --force-rollback" in refused.out
    hub_now = site.hub.deployed_flows()[0]
    assert their_note in hub_now  # not overwritten
    saved = re.search(r"their flows saved to (\S+\.json)", refused.out)
    assert saved, refused.out
    assert json.loads(Path(saved.group(1)).read_text(encoding="utf-8"))["flows"] == hub_now
    assert site.gateway.deployed_flows() == before["gateway"]

    site.hub.reset_flows(before["hub"][0])
    forced = resolved_deploy(run_acm, site, "--force-rollback")
    assert forced.code == 2, forced.out + forced.err
    assert summary(forced.out) == {"hub": "rolled back", "gateway": "failed"}
    assert site.hub.deployed_flows()[0] == before["hub"][0]


# -- 9. GitOps: resolve the files offline, review, then deploy them as they are -----------------


def test_offline_site_resolve_then_deploy_pushes_the_files_with_no_further_change(
    site: Site, run_acm: Any
) -> None:
    resolved = run_acm("resolve", "--model", str(site.model), "--policy", str(site.policy))
    assert resolved.code == 0, resolved.err
    [conflict] = re.findall(r"acm: (ACM004-[0-9a-f]+) \(cross-runtime\) on hub: priority",
                            resolved.err)
    files = {name: (site.dir / f"{name}.json").read_bytes() for name in ("hub", "gateway")}
    on_disk = {name: json.loads(text) for name, text in files.items()}
    assert node(on_disk["gateway"], "gw_out")["topic"] == namespace_topic(
        conflict, f"gateway/{NIGHT}")

    pushed = deploy(run_acm, site)  # no --resolve: the gate passes on the files as they are
    assert pushed.code == 0, pushed.out + pushed.err
    assert summary(pushed.out) == {"hub": "deployed", "gateway": "deployed"}
    deployed = site.deployed()
    for name in ("hub", "gateway"):
        assert deployed[name][0] == on_disk[name]

    # Resolving again, offline or while deploying, changes nothing.
    again = deploy(run_acm, site, "--resolve", "--policy", str(site.policy))
    assert again.code == 0, again.out + again.err
    assert summary(again.out) == {"hub": "unchanged", "gateway": "unchanged"}
    offline = run_acm("resolve", "--model", str(site.model), "--policy", str(site.policy))
    assert offline.code == 0 and "hub.json: unchanged" in offline.err
    assert {name: (site.dir / f"{name}.json").read_bytes() for name in files} == files
    assert site.deployed() == deployed

    report = run_acm("analyze", "--model", str(site.model), "--format", "json")
    assert report.code == 0, report.out + report.err
    conflicts = report.json()["conflicts"]
    assert [c["code"] for c in conflicts if c["severity"] != "info"] == [], conflicts
    assert any(c["code"] == "ACM005" and c["actuators"][0]["key"] ==
               f"mqtt:{site.broker.address}/{TOPIC}" for c in conflicts), conflicts


# -- 10. an interlock across runtimes, over the broker -------------------------------------------

WINDOW = "site/window/set"
VENT = "b2b2b2b2b2b2b2b2"  # gateway tab "Ventilation"

INTERLOCK = """\
policy window-blocks-heater {
    for actuator g, actuator t
    where g.name == "Window" and t.name == "Heater"
    strategy interlock
    blocked_when "open"
    mode override
    override "off"
}
"""


def test_a_window_on_one_runtime_blocks_the_heater_on_another_over_the_broker(
    site: Site, run_acm: Any
) -> None:
    """Heater (hub, Comfort) and window (gateway, Ventilation) in one room: window open
    => heater off, the window's state travelling retained over the real broker."""
    hub = [tab(COMFORT, "Comfort"), inject("hub_on", COMFORT, "on", "hub_out"),
           {**inject("hub_eco", COMFORT, "eco", "hub_out"), "y": 140},
           mqtt_out("hub_out", COMFORT, "hub_broker"), mqtt_broker("hub_broker", site.broker.port)]
    gateway = [tab(VENT, "Ventilation"), inject("gw_open", VENT, "open", "gw_out"),
               {**inject("gw_closed", VENT, "closed", "gw_out"), "y": 140},
               {**mqtt_out("gw_out", VENT, "gw_broker"), "name": "window", "topic": WINDOW},
               mqtt_broker("gw_broker", site.broker.port)]
    (site.dir / "hub.json").write_text(json.dumps(hub), encoding="utf-8")
    (site.dir / "gateway.json").write_text(json.dumps(gateway), encoding="utf-8")
    with site.model.open("a", encoding="utf-8") as model:
        model.write(f"""\
zones:
  - {{id: room}}
actuators:
  - {{id: heater, name: Heater, zone: room, effects: {{temperature: increase}},
     binding: {{type: mqtt, broker: site-mqtt, topic: {TOPIC}}}}}
  - {{id: window, name: Window, zone: room, effects: {{temperature: decrease}},
     binding: {{type: mqtt, broker: site-mqtt, topic: {WINDOW}}}}}
""")
    site.policy.write_text(INTERLOCK, encoding="utf-8")
    resolved = run_acm("resolve", "--model", str(site.model), "--policy", str(site.policy))
    assert resolved.code == 0, resolved.err
    [conflict] = re.findall(r"acm: (ACM002-[0-9a-f]+) \(indirect\) on hub: interlock",
                            resolved.err)
    state = f"acm/{conflict}/state/window"

    heater = Subscriber(site.broker, (TOPIC, WINDOW, "acm/#"))
    try:
        since = site.broker.log_offset()
        pushed = deploy(run_acm, site)
        assert pushed.code == 0, pushed.out + pushed.err
        assert summary(pushed.out) == {"hub": "deployed", "gateway": "deployed"}
        site.broker.wait_for_log(r"New client connected from \S+ as nodered", since, count=2)
        site.broker.wait_for_log(r"\t" + re.escape(state) + r" \(QoS 1\)", since)

        site.hub.inject("hub_on")  # nothing blocks it yet
        heater.wait_for(1)
        site.gateway.inject("gw_open")  # the guard: the window still opens ...
        heater.wait_for(1, WINDOW)
        heater.wait_for(1, state)  # ... its state goes out, retained ...
        heater.wait_for(2)  # ... and the hub's resolver sends the override, once
        site.hub.inject("hub_eco")  # blocked while the window is open
        heater.quiet(2, 0.6)
        site.gateway.inject("gw_closed")
        heater.wait_for(2, state)
        heater.wait_for(3)  # the block ends: the last request is restored
        assert heater.payloads() == ["on", "off", "eco"]
        assert heater.payloads(WINDOW) == ["open", "closed"]
        assert heater.payloads(state) == ["open", "closed"]
        heater.quiet(3, 0.3)
    finally:
        heater.close()

    # The state stays on the broker (retained) for a resolver that starts later.
    late = Subscriber(site.broker, (state,))
    try:
        assert [m.payload for m in late.wait_for(1, state)] == ["closed"]
    finally:
        late.close()
