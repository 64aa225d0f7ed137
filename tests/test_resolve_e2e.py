"""End to end: `acm apply` / `acm revert` against a real Node-RED, and the resolvers at work.

A small HTTP server in the test plays the actuator: every `http request` node of the
flows posts to it, and it records each body with a monotonic timestamp. Two tabs,
"Comfort" and "Safety", command the same URL (one actuator, a direct conflict);
their inject nodes are fired through the Admin API (`POST /inject/<id>`) and the
test checks what reaches the actuator, and when, against docs/strategies.md.

The full strategy set runs on Node-RED 4; apply, priority and revert also on 5.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from nodered import AUTH_TOKEN, VERSIONS, NodeRed, missing

import acm.nodered.admin_api
from acm.nodered.admin_api import TOKEN_ENV, AdminClient

Flows = list[dict[str, Any]]

COMFORT = "c0f0c0f0c0f0c0f0"  # tab ids = application ids without a model
SAFETY = "5afe5afe5afe5afe"

# -- the actuator: a recording HTTP server ------------------------------------------------


@dataclass(frozen=True)
class Hit:
    at: float  # time.monotonic() when the request arrived
    path: str
    body: str
    headers: dict[str, str]


class Actuator:
    """Records every POST/PUT body it receives, per path."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        hits, lock = self.hits, self.lock

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _record(self) -> None:
                now = time.monotonic()
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    body = b""
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    hits.append(Hit(now, self.path, body.decode("utf-8", "replace"),
                                    {k.lower(): v for k, v in self.headers.items()}))
                answer = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_POST = do_PUT = _record

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/actuator/set") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def received(self, path: str = "/actuator/set") -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def bodies(self, path: str = "/actuator/set") -> list[str]:
        return [h.body for h in self.received(path)]

    def wait_for(self, count: int, path: str = "/actuator/set", timeout: float = 5.0) -> list[Hit]:
        """Poll until ``count`` requests reached ``path``; fail with what came if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{path}: expected {count} request(s) within {timeout:g} s, "
                             f"got {self.bodies(path)}")

    def quiet(self, count: int, seconds: float, path: str = "/actuator/set") -> None:
        """Nothing beyond ``count`` requests arrives at ``path`` for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = self.bodies(path)
            assert len(got) <= count, f"{path}: expected no more than {count}, got {got}"
            time.sleep(0.02)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def actuator() -> Iterator[Actuator]:
    server = Actuator()
    yield server
    server.close()


# -- flows --------------------------------------------------------------------------------


def tab(tab_id: str, label: str) -> dict[str, Any]:
    return {"id": tab_id, "type": "tab", "label": label, "disabled": False, "info": ""}


# A schedule (an automation, not the editor's button) that does not fire during a test run;
# the tests fire the injects through the Admin API.
NEVER_SOON = "00 03 1 1 *"


def inject(node_id: str, z: str, payload: Any, target: str, y: int) -> dict[str, Any]:
    kind = "num" if isinstance(payload, (int, float)) else "str"
    return {
        "id": node_id, "type": "inject", "z": z, "name": node_id,
        "props": [{"p": "payload"}], "repeat": "", "crontab": NEVER_SOON, "once": False,
        "onceDelay": 0.1, "topic": "", "payload": str(payload), "payloadType": kind,
        "x": 130, "y": y, "wires": [[target]],
    }


def http_out(node_id: str, z: str, url: str, y: int = 100) -> dict[str, Any]:
    return {
        "id": node_id, "type": "http request", "z": z, "name": node_id, "method": "POST",
        "ret": "txt", "paytoqs": "ignore", "url": url, "tls": "", "persist": False,
        "proxy": "", "insecureHTTPParser": False, "authType": "", "senderr": False,
        "headers": [], "x": 420, "y": y, "wires": [[]],
    }


def two_apps(url: str, comfort: dict[str, Any], safety: dict[str, Any]) -> Flows:
    """Tabs Comfort and Safety, each with injects (id -> payload) into its own
    `http request` node; both nodes post to ``url``: one actuator, two applications."""
    flows: Flows = [tab(COMFORT, "Comfort"), tab(SAFETY, "Safety")]
    for z, injects, target in ((COMFORT, comfort, "c_http"), (SAFETY, safety, "s_http")):
        for i, (node_id, payload) in enumerate(injects.items()):
            flows.append(inject(node_id, z, payload, target, 60 + 60 * i))
        flows.append(http_out(target, z, url))
    return flows


ON_OFF = {"c_on": "on", "c_off": "off"}, {"s_on": "on", "s_off": "off"}


def client_for(nodered: NodeRed) -> AdminClient:
    return AdminClient(nodered.url, token=nodered.token)


def deploy(nodered: NodeRed, flows: Flows) -> str:
    """Deploy ``flows`` with the Admin API client (read rev, write with it)."""
    client = client_for(nodered)
    _, rev = client.get_flows()
    return client.set_flows(flows, rev)


def write_policy(tmp_path: Path, text: str, name: str = "site.policy") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def priority_policy(tmp_path: Path) -> Path:
    return write_policy(tmp_path, f"""
policy actuator-priority {{
    for actuator a
    where a.kind == "http"
    strategy priority
    order "{SAFETY}", "{COMFORT}"
    ttl 2s
    default "off"
}}
""")


def by_role(flows: Flows, role: str) -> list[dict[str, Any]]:
    return [n for n in flows if isinstance(n.get("acm"), dict) and n["acm"].get("role") == role]


def wiring(flows: Flows) -> dict[str, Any]:
    """Node id -> its wires (and links), to compare flows by topology."""
    return {n["id"]: (n.get("wires"), n.get("links")) for n in flows}


def apply(run_acm: Any, nodered: NodeRed, tmp_path: Path, *args: str) -> Any:
    result = run_acm("apply", "--url", nodered.url, "--backup-dir", str(tmp_path / "backups"),
                     *args)
    assert result.code == 0, result.err
    return result


@pytest.fixture(autouse=True)
def _no_credentials_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (TOKEN_ENV, "ACM_NODERED_USERNAME", "ACM_NODERED_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


# -- 1. apply -------------------------------------------------------------------------------


def test_apply_deploys_resolver_backs_up_and_is_idempotent(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    original = two_apps(actuator.url(), *ON_OFF)
    deploy(nodered, original)
    before, rev0 = nodered.deployed_flows()
    policy = priority_policy(tmp_path)
    backups = tmp_path / "backups"

    # --dry-run shows the change and writes nothing (no deploy, no backup).
    dry = run_acm("apply", "--url", nodered.url, "--policy", str(policy), "--dry-run",
                  "--backup-dir", str(backups))
    assert dry.code == 0, dry.err
    assert "+ function" in dry.out and "dry run" in dry.err
    assert nodered.deployed_flows() == (before, rev0)
    assert not backups.exists() or not any(backups.iterdir())

    result = apply(run_acm, nodered, tmp_path, "--policy", str(policy))
    assert "deployed rev" in result.err
    after, rev1 = nodered.deployed_flows()
    assert rev1 != rev0

    [resolver] = by_role(after, "resolver")
    assert resolver["type"] == "function"
    assert resolver["acm"]["strategy"] == "priority"
    [group] = by_role(after, "group")
    assert group["type"] == "group" and resolver["id"] in group["nodes"]
    assert resolver["g"] == group["id"]
    env = {e["name"]: e for e in group["env"]}
    config = json.loads(env["ACM_RESOLVER"]["value"])
    assert config["strategy"] == "priority"
    assert config["targets"] == 2
    assert config["options"]["order"] == [SAFETY, COMFORT]
    assert config["options"]["ttl"] == 2000 and config["options"]["default"] == "off"
    tags = by_role(after, "tag")
    assert {t["type"] for t in tags} == {"change"}
    # one rule each: msg._acm, the tag's JSON text (target, role, app)
    assert {len(t["rules"]) for t in tags} == {1}
    apps = {json.loads(t["rules"][0]["to"]).get("app") for t in tags}
    assert apps == {COMFORT, SAFETY}
    # Every inject now feeds a tag, not the actuator node.
    tag_ids = {t["id"] for t in tags}
    for node in after:
        if node["type"] == "inject":
            assert node["wires"][0][0] in tag_ids

    # The backup holds the flows as they were before the write.
    [backup] = list(backups.iterdir())
    saved = json.loads(backup.read_text(encoding="utf-8"))
    assert saved["rev"] == rev0
    assert saved["flows"] == before

    again = apply(run_acm, nodered, tmp_path, "--policy", str(policy))
    assert "nothing to change" in again.err
    assert nodered.deployed_flows()[1] == rev1
    assert len(list(backups.iterdir())) == 1


# -- 2. priority ----------------------------------------------------------------------------


def test_priority_resolver_on_a_live_runtime(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    deploy(nodered, two_apps(actuator.url(), *ON_OFF))
    apply(run_acm, nodered, tmp_path, "--policy", str(priority_policy(tmp_path)))

    nodered.inject("c_on")
    actuator.wait_for(1)
    nodered.inject("c_on")  # the same value again: output only on change
    actuator.quiet(1, 0.3)
    safety_at = nodered.inject("s_off")  # higher priority wins
    actuator.wait_for(2)
    comfort_at = nodered.inject("c_on")  # Safety still active: nothing
    actuator.quiet(2, 0.5)
    # Safety's command expires 2 s after it came; Comfort's (renewed) "on" applies.
    hits = actuator.wait_for(3, timeout=4)
    assert 1.8 <= hits[2].at - safety_at <= 3.0, hits[2].at - safety_at
    # Then Comfort's expires as well: the relinquish default.
    hits = actuator.wait_for(4, timeout=4)
    assert 1.8 <= hits[3].at - comfort_at <= 3.0, hits[3].at - comfort_at
    assert [h.body for h in hits] == ["on", "off", "on", "off"]
    actuator.quiet(4, 0.3)


def test_a_changed_configuration_applies_after_a_deploy_of_the_modified_nodes(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    """A resolver reads its configuration (the group's env) once per start: Node-RED
    restarts the nodes of a group whose env changed, even on a deploy of the modified
    nodes only, so a new configuration applies, with a fresh state."""
    deploy(nodered, two_apps(actuator.url(), *ON_OFF))
    policy = write_policy(tmp_path, f"""
policy p {{ for actuator a where a.kind == "http" strategy priority order "{SAFETY}", "{COMFORT}" }}
""")
    apply(run_acm, nodered, tmp_path, "--policy", str(policy))
    nodered.inject("s_off")
    actuator.wait_for(1)
    nodered.inject("c_on")  # Safety ranks first
    actuator.quiet(1, 0.3)
    client = client_for(nodered)
    flows, rev = client.get_flows()
    [group] = by_role(flows, "group")
    [env] = [e for e in group["env"] if e["name"] == "ACM_RESOLVER"]
    config = json.loads(env["value"])
    config["options"]["order"] = [COMFORT, SAFETY]
    env["value"] = json.dumps(config, sort_keys=True)
    client.set_flows(flows, rev, "nodes")
    # A fresh state: Safety's "off" is the first command. (Node-RED answers the deploy
    # before the nodes have started: fire until one gets through; again is no change.)
    deadline = time.monotonic() + 5
    while len(actuator.received()) < 2 and time.monotonic() < deadline:
        nodered.inject("s_off")
        time.sleep(0.2)
    actuator.wait_for(2)
    nodered.inject("c_on")  # Comfort ranks first now
    hits = actuator.wait_for(3)
    assert [h.body for h in hits] == ["off", "off", "on"]


def test_priority_explicit_release(
    nodered4: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    flows = two_apps(actuator.url(), {"c_on": "on", "c_rel": "release"},
                     {"s_off": "off", "s_rel": "release"})
    deploy(nodered4, flows)
    apply(run_acm, nodered4, tmp_path, "--policy", str(priority_policy(tmp_path)))

    nodered4.inject("c_on")
    actuator.wait_for(1)
    nodered4.inject("s_off")
    actuator.wait_for(2)
    released = nodered4.inject("s_rel")  # Safety gives up its slot: Comfort's "on" at once
    hits = actuator.wait_for(3)
    assert hits[2].at - released < 1.0
    nodered4.inject("c_rel")  # nobody active: the default
    hits = actuator.wait_for(4, timeout=1.5)
    assert [h.body for h in hits] == ["on", "off", "on", "off"]
    assert "release" not in actuator.bodies()


# -- 3. lock --------------------------------------------------------------------------------


LOCK_POLICY = """
policy lock-it { for actuator a strategy lock hold 1500ms mode drop }
"""


def check_lock_drops_others_during_hold(nodered: NodeRed, actuator: Actuator) -> None:
    """Against a lock resolver of 1.5 s (LOCK_POLICY) on the two applications."""
    first = nodered.inject("c_on")
    actuator.wait_for(1)
    nodered.inject("s_off")  # within the hold: dropped
    actuator.quiet(1, 0.4)
    # After the hold the lock is free and Safety can take it.
    time.sleep(max(0.0, first + 1.7 - time.monotonic()))
    nodered.inject("s_off")
    hits = actuator.wait_for(2)
    assert [h.body for h in hits] == ["on", "off"]
    # Now Safety holds it: Comfort is dropped.
    nodered.inject("c_on")
    actuator.quiet(2, 0.4)


def test_lock_resolver_drops_others_during_hold(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    deploy(nodered, two_apps(actuator.url(), *ON_OFF))
    apply(run_acm, nodered, tmp_path, "--policy", str(write_policy(tmp_path, LOCK_POLICY)))
    check_lock_drops_others_during_hold(nodered, actuator)


# -- native resolvers (acm apply --native): nodered-bridge's acm-resolver node --------------

BRIDGE = Path(__file__).resolve().parent.parent / "nodered-bridge"


class NativeNodeRed(NodeRed):
    """Node-RED with nodered-bridge linked into its user dir, as `npm install <folder>`
    links it, so that the acm-resolver node type is there."""

    def _write_settings(self) -> None:
        super()._write_settings()
        assert self.user_dir is not None
        modules = self.user_dir / "node_modules"
        modules.mkdir(exist_ok=True)
        if not (modules / "node-red-acm-bridge").exists():
            (modules / "node-red-acm-bridge").symlink_to(BRIDGE)


def test_apply_native_is_refused_by_a_runtime_without_the_bridge(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    """A stock Node-RED would take flows with an unknown node type and then start none
    of them: acm refuses before it backs up or writes anything."""
    rev = deploy(nodered, two_apps(actuator.url(), *ON_OFF))
    before, _ = client_for(nodered).get_flows()
    result = run_acm("apply", "--url", nodered.url, "--backup-dir", str(tmp_path / "backups"),
                     "--native")
    assert result.code == 2, result.err
    assert "has no node type acm-resolver" in result.err, result.err
    assert "node-red-acm-bridge" in result.err and "--function-nodes" in result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    after, now = client_for(nodered).get_flows()
    assert (after, now) == (before, rev)
    assert not (tmp_path / "backups").exists()
    dry = run_acm("apply", "--url", nodered.url, "--dry-run", "--native")
    assert dry.code == 2 and "has no node type acm-resolver" in dry.err


def test_deploy_native_is_refused_by_a_runtime_without_the_bridge(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    """`acm deploy --resolve --native`, dry run or not, asks every runtime before it
    writes the first: a runtime without the node type (the second here) stops it, and
    nothing is backed up or written anywhere, not even on the runtime that has it."""
    flows = two_apps(actuator.url(), *ON_OFF)
    (tmp_path / "home.json").write_text(json.dumps(flows), encoding="utf-8")
    model = tmp_path / "site.yaml"
    backups = tmp_path / "backups"
    with NativeNodeRed("4") as bridged:
        revs = [deploy(bridged, flows), deploy(nodered, flows)]
        model.write_text("version: 1\nruntimes:\n" + "".join(
            f"  - id: {name}\n    url: \"{red.url}\"\n    flows: home.json\n"
            for name, red in (("bridged", bridged), ("stock", nodered))), encoding="utf-8")
        for extra in (("--dry-run",), ()):
            result = run_acm("deploy", str(model), "--resolve", "--native", "--backup-dir",
                             str(backups), *extra)
            assert result.code == 2, result.err
            assert "has no node type acm-resolver" in result.out + result.err
            assert "Traceback" not in result.err
        assert [client_for(red).get_flows()[1] for red in (bridged, nodered)] == revs
    assert not backups.exists()
    usage = run_acm("deploy", str(model), "--native")
    assert usage.code == 2 and "--native and --function-nodes go with --resolve" in usage.err


@pytest.mark.parametrize("version", VERSIONS, ids=[f"nodered{v}" for v in VERSIONS])
def test_native_lock_resolver_on_a_runtime_with_the_bridge(
    version: str, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    """--native deploys acm-resolver nodes that decide as the function-node resolvers do
    (the lock test above), and a later apply without the flag keeps them."""
    reason = missing(version)
    if reason:
        pytest.skip(reason)
    with NativeNodeRed(version) as nodered:
        deploy(nodered, two_apps(actuator.url(), *ON_OFF))
        policy = write_policy(tmp_path, LOCK_POLICY)
        apply(run_acm, nodered, tmp_path, "--policy", str(policy), "--native")
        flows, rev = client_for(nodered).get_flows()
        assert [n["type"] for n in by_role(flows, "resolver")] == ["acm-resolver"]
        check_lock_drops_others_during_hold(nodered, actuator)

        again = apply(run_acm, nodered, tmp_path, "--policy", str(policy))
        assert "nothing to change" in again.err
        assert client_for(nodered).get_flows()[1] == rev


class FileContextNodeRed(NodeRed):
    """Node-RED whose context store is localfilesystem (with its cache, the default
    there), which :meth:`restart` stops and starts again over the same user dir. The
    store writes what was set at once (flushInterval 0, instead of 30 s), so a change
    made in place afterwards is saved only if the resolver sets its state again."""

    def _settings(self) -> dict[str, Any]:
        settings = super()._settings()
        settings["contextStorage"] = {"default": {"module": "localfilesystem",
                                                  "config": {"flushInterval": 0}}}
        return settings

    def restart(self) -> None:
        self._terminate()  # SIGTERM: Node-RED closes its nodes, then flushes the store
        self._spawn()
        assert self._wait_ready(), self.log_tail()


@pytest.mark.parametrize("version", VERSIONS, ids=[f"nodered{v}" for v in VERSIONS])
def test_a_resolvers_state_survives_a_restart_with_a_persistent_context_store(
    version: str, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    """docs/strategies.md: the state lives in node context, so a persistent store keeps
    it across a restart of Node-RED, a change of it made just before too."""
    reason = missing(version)
    if reason:
        pytest.skip(reason)
    nodered = FileContextNodeRed(version)
    with nodered:
        deploy(nodered, two_apps(actuator.url(), *ON_OFF))
        policy = write_policy(tmp_path, f"""
policy p {{ for actuator a where a.kind == "http" strategy priority order "{SAFETY}", "{COMFORT}" }}
""")
        apply(run_acm, nodered, tmp_path, "--policy", str(policy))
        nodered.inject("c_on")  # the first command: the resolver starts, its state is written
        actuator.wait_for(1)
        nodered.inject("s_off")  # Safety's "off" is in force: the state changed in place
        actuator.wait_for(2)
        nodered.restart()
        nodered.inject("c_off")  # Safety's command is still in force: nothing
        actuator.quiet(2, 0.5)
        nodered.inject("s_on")
        hits = actuator.wait_for(3)
        assert [h.body for h in hits] == ["on", "off", "on"]


def test_lock_queue_hands_over_when_the_hold_ends(
    nodered4: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    deploy(nodered4, two_apps(actuator.url(), *ON_OFF))
    policy = write_policy(tmp_path, """
policy lock-queue { for actuator a strategy lock hold 1500ms mode queue }
""")
    apply(run_acm, nodered4, tmp_path, "--policy", str(policy))

    first = nodered4.inject("c_on")
    actuator.wait_for(1)
    nodered4.inject("s_off")  # queued
    actuator.quiet(1, 0.4)
    hits = actuator.wait_for(2, timeout=3)  # Safety takes the lock when the hold ends
    assert [h.body for h in hits] == ["on", "off"]
    assert 1.3 <= hits[1].at - first <= 2.5, hits[1].at - first


# -- 4. dwell -------------------------------------------------------------------------------


def test_dwell_resolver_holds_a_change_until_the_dwell_time_is_over(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    deploy(nodered, two_apps(actuator.url(), *ON_OFF))
    policy = write_policy(tmp_path, """
policy no-flapping { for actuator a strategy dwell min 1500ms }
""")
    apply(run_acm, nodered, tmp_path, "--policy", str(policy))

    nodered.inject("c_on")
    [first] = actuator.wait_for(1)
    nodered.inject("s_off")  # a change 0.x s later: held
    actuator.quiet(1, 0.8)
    hits = actuator.wait_for(2, timeout=3)
    assert [h.body for h in hits] == ["on", "off"]
    gap = hits[1].at - first.at
    assert 1.4 <= gap <= 2.5, gap


def test_dwell_cancels_a_held_change_when_the_value_in_force_is_asked_again(
    nodered4: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    deploy(nodered4, two_apps(actuator.url(), *ON_OFF))
    policy = write_policy(tmp_path, """
policy no-flapping { for actuator a strategy dwell min 1500ms }
""")
    apply(run_acm, nodered4, tmp_path, "--policy", str(policy))

    first = nodered4.inject("c_on")
    actuator.wait_for(1)
    nodered4.inject("s_off")  # held
    nodered4.inject("c_on")  # back to the value in force: the held "off" is cancelled
    actuator.quiet(1, max(0.0, first + 2.2 - time.monotonic()))
    assert actuator.bodies() == ["on"]


# -- 5. merge -------------------------------------------------------------------------------


def test_merge_max_resolver_sends_the_maximum(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    flows = two_apps(actuator.url(), {"c_21": 21, "c_17": 17}, {"s_18": 18})
    deploy(nodered, flows)
    policy = write_policy(tmp_path, """
policy setpoint { for actuator a strategy merge op max }
""")
    apply(run_acm, nodered, tmp_path, "--policy", str(policy))

    nodered.inject("c_21")
    actuator.wait_for(1)
    nodered.inject("s_18")  # max stays 21: nothing
    actuator.quiet(1, 0.4)
    nodered.inject("c_17")  # max of 17 and 18
    hits = actuator.wait_for(2)
    assert [float(h.body) for h in hits] == [21, 18]
    actuator.quiet(2, 0.2)


def test_apply_with_another_policy_replaces_the_resolver(
    nodered4: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    deploy(nodered4, two_apps(actuator.url(), *ON_OFF))
    apply(run_acm, nodered4, tmp_path, "--policy", str(priority_policy(tmp_path)))
    first, _ = nodered4.deployed_flows()
    dwell = write_policy(tmp_path, """
policy no-flapping { for actuator a strategy dwell min 1500ms }
""", "dwell.policy")
    apply(run_acm, nodered4, tmp_path, "--policy", str(dwell))
    second, _ = nodered4.deployed_flows()
    [resolver] = by_role(second, "resolver")
    assert resolver["acm"]["strategy"] == "dwell"
    [group] = by_role(second, "group")
    assert json.loads({e["name"]: e for e in group["env"]}["ACM_RESOLVER"]["value"])[
        "strategy"] == "dwell"
    # Same deterministic ids, nothing duplicated.
    assert sorted(n["id"] for n in first) == sorted(n["id"] for n in second)


# -- 6. interlock (indirect conflict, with a deployment model) --------------------------------


def interlock_site(nodered: NodeRed, actuator: Actuator, tmp_path: Path,
                   run_acm: Any, *, policy: bool = True) -> None:
    """Heater (Comfort) and window (Ventilation) in one room, from a model; applied live
    with an interlock policy: window open => heater off. Without ``policy`` the model
    marks the window's effect ``guard: true`` and ACM's default interlock applies."""
    heater, window = actuator.url("/heater"), actuator.url("/window")
    flows: Flows = [
        tab(COMFORT, "Comfort"), tab(SAFETY, "Ventilation"),
        inject("h_on", COMFORT, "on", "h_http", 60),
        inject("h_eco", COMFORT, "eco", "h_http", 120),
        http_out("h_http", COMFORT, heater),
        inject("w_open", SAFETY, "open", "w_http", 60),
        inject("w_closed", SAFETY, "closed", "w_http", 120),
        http_out("w_http", SAFETY, window),
    ]
    (tmp_path / "flows.json").write_text(json.dumps(flows), encoding="utf-8")
    model = tmp_path / "site.yaml"
    model.write_text(f"""\
version: 1
name: e2e
runtimes:
  - id: rt
    url: "{nodered.url}"
    flows: flows.json
zones:
  - {{id: room, name: Room}}
actuators:
  - id: heater
    name: Heater
    zone: room
    binding: {{type: http, method: POST, url: "{heater}"}}
    effects: {{temperature: increase}}
  - id: window
    name: Window
    zone: room
    binding: {{type: http, method: POST, url: "{window}"}}
    effects: {{temperature: {{direction: decrease, guard: {str(not policy).lower()}}}}}
""", encoding="utf-8")
    if not policy:
        deploy(nodered, flows)
        result = apply(run_acm, nodered, tmp_path, "--model", str(model))
        assert "used the default interlock" in result.err, result.err
        assert "Window guards Heater" in result.err, result.err
        [group] = by_role(nodered.deployed_flows()[0], "group")
        config = json.loads({e["name"]: e for e in group["env"]}["ACM_RESOLVER"]["value"])
        assert config["options"]["guard"] == f"http:POST {window}"
        assert config["options"]["mode"] == "block"
        return
    policy_file = write_policy(tmp_path, """
policy window-blocks-heater {
    for actuator g, actuator t
    where g.name == "Window" and t.name == "Heater"
    strategy interlock
    blocked_when "open"
    mode override
    override "off"
}
""")
    deploy(nodered, flows)
    result = apply(run_acm, nodered, tmp_path, "--model", str(model), "--policy",
                   str(policy_file))
    assert "interlock" in result.err
    [resolver] = by_role(nodered.deployed_flows()[0], "resolver")
    assert resolver["acm"]["strategy"] == "interlock"
    config = json.loads({e["name"]: e for e in by_role(nodered.deployed_flows()[0], "group")[0]
                         ["env"]}["ACM_RESOLVER"]["value"])
    assert config["options"]["guard"] == f"http:POST {window}"


def test_interlock_from_a_model_blocks_the_heater_while_the_window_is_open(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    interlock_site(nodered, actuator, tmp_path, run_acm)
    nodered.inject("h_on")
    actuator.wait_for(1, "/heater")
    nodered.inject("w_open")
    actuator.wait_for(1, "/window")  # the guard actuator still gets its command
    actuator.wait_for(2, "/heater")  # the override, once
    nodered.inject("h_eco")  # dropped while the window is open
    nodered.inject("h_on")
    actuator.quiet(2, 0.5, "/heater")
    nodered.inject("w_closed")
    actuator.wait_for(2, "/window")
    actuator.wait_for(3, "/heater")  # the last request is restored
    assert actuator.bodies("/window") == ["open", "closed"]
    assert actuator.bodies("/heater") == ["on", "off", "on"]
    actuator.quiet(3, 0.2, "/heater")


def test_interlock_restores_the_command_in_force_before_the_block(
    nodered4: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    interlock_site(nodered4, actuator, tmp_path, run_acm)
    nodered4.inject("h_eco")  # passes (and is delivered) before the block
    actuator.wait_for(1, "/heater")
    nodered4.inject("w_open")
    actuator.wait_for(2, "/heater")  # the override
    nodered4.inject("w_closed")  # nothing requested during the block: "eco" again
    actuator.wait_for(3, "/heater")
    assert actuator.bodies("/heater") == ["eco", "off", "eco"]


def test_default_interlock_from_the_models_guard_blocks_the_heater_while_the_window_is_open(
    nodered4: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    """No policy: the window, marked guard: true in the model, blocks the heater's
    commands while it is open, and the command asked for meanwhile applies after."""
    interlock_site(nodered4, actuator, tmp_path, run_acm, policy=False)
    nodered4.inject("h_on")
    actuator.wait_for(1, "/heater")
    nodered4.inject("w_open")
    actuator.wait_for(1, "/window")
    nodered4.inject("h_eco")  # held back while the window is open
    actuator.quiet(1, 0.5, "/heater")
    nodered4.inject("w_closed")
    actuator.wait_for(2, "/window")
    actuator.wait_for(2, "/heater")
    assert actuator.bodies("/window") == ["open", "closed"]
    assert actuator.bodies("/heater") == ["on", "eco"]


# -- 6b. override (a person's command against an automation, ACM006) -------------------------------


def test_override_holds_automation_back_after_a_manual_command(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    """Dashboard's injects are the editor's buttons (a person); Schedule's run on a cron
    (an automation). ACM006 is info: a rule file raises it, so `acm apply` resolves it,
    with the override strategy and a 1.5 s hold."""
    flows = two_apps(actuator.url(), {"m_on": "on", "m_auto": "auto"},
                     {"a_off": "off", "a_dim": "dim"})
    for node in flows:
        if node["id"] in ("m_on", "m_auto"):
            node.update(crontab="", repeat="", once=False)
        if node.get("type") == "tab":
            node["label"] = {COMFORT: "Dashboard", SAFETY: "Schedule"}[node["id"]]
    deploy(nodered, flows)
    rules = tmp_path / "site.acm"
    rules.write_text("override override severity warning\n", encoding="utf-8")
    policy = write_policy(tmp_path, """
policy hall { for actuator a strategy override hold 1500ms }
""")
    result = apply(run_acm, nodered, tmp_path, "--rules", str(rules), "--policy", str(policy))
    assert "(override) on " in result.err and ": override (policy hall)" in result.err
    [group] = by_role(nodered.deployed_flows()[0], "group")
    config = json.loads({e["name"]: e for e in group["env"]}["ACM_RESOLVER"]["value"])
    assert config["strategy"] == "override"
    assert config["options"]["manual_found"] == [COMFORT]

    nodered.inject("a_off")  # nobody has acted: the automation passes
    actuator.wait_for(1)
    manual_at = nodered.inject("m_on")  # a person: at once, and the hold begins
    hits = actuator.wait_for(2)
    assert hits[1].at - manual_at < 1.0
    nodered.inject("a_dim")  # held back
    actuator.quiet(2, 0.6)
    hits = actuator.wait_for(3, timeout=4)  # the hold ends: the latest automation command
    assert 1.3 <= hits[2].at - manual_at <= 2.8, hits[2].at - manual_at
    nodered.inject("a_off")  # automations pass again
    actuator.wait_for(4)

    nodered.inject("m_on")  # again a person; then the release command ends the hold at once
    actuator.wait_for(5)
    nodered.inject("a_dim")
    actuator.quiet(5, 0.3)
    released = nodered.inject("m_auto")
    hits = actuator.wait_for(6)
    assert hits[5].at - released < 1.0
    assert [h.body for h in hits] == ["off", "on", "dim", "off", "on", "dim"]
    actuator.quiet(6, 0.3)  # "auto" itself never reaches the actuator


# -- 7. a concurrent deploy between read and write ---------------------------------------------


def test_apply_survives_a_concurrent_deploy(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deploy(nodered, two_apps(actuator.url(), *ON_OFF))
    original_set_flows = AdminClient.set_flows
    foreign = {"id": "f0e1f0e1f0e1f0e1", "type": "tab", "label": "Someone else's",
               "disabled": False, "info": ""}
    # ... and someone adds a command to Comfort meanwhile: it must be resolved too.
    extra = inject("c_extra", COMFORT, "eco", "c_http", 300)
    calls: list[str] = []

    def set_flows(self: AdminClient, flows: Flows, rev: str,
                  deployment_type: str = "full") -> str:
        calls.append(rev)
        if len(calls) == 1:  # someone deploys between ACM's read and its write
            other = AdminClient(nodered.url)
            current, other_rev = other.get_flows()
            original_set_flows(other, [*current, foreign, extra], other_rev)
        return original_set_flows(self, flows, rev, deployment_type)

    monkeypatch.setattr(acm.nodered.admin_api.AdminClient, "set_flows", set_flows)
    result = apply(run_acm, nodered, tmp_path, "--policy", str(priority_policy(tmp_path)))
    assert len(calls) == 2, calls
    assert "2 attempt(s)" in result.err
    deployed, _ = nodered.deployed_flows()
    assert foreign["id"] in {n["id"] for n in deployed}
    assert len(by_role(deployed, "resolver")) == 1
    [c_extra] = [n for n in deployed if n["id"] == "c_extra"]
    assert c_extra["wires"][0][0] in {t["id"] for t in by_role(deployed, "tag")}
    assert len(list((tmp_path / "backups").iterdir())) == 2


# -- 8. authentication --------------------------------------------------------------------------


def test_apply_needs_the_token_and_never_prints_it(
    nodered_auth: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deploy(nodered_auth, two_apps(actuator.url(), *ON_OFF))
    policy = priority_policy(tmp_path)
    args = ("apply", "--url", nodered_auth.url, "--policy", str(policy),
            "--backup-dir", str(tmp_path / "backups"))

    refused = run_acm(*args)
    assert refused.code == 2
    lines = refused.err.strip().splitlines()
    assert len(lines) == 1, refused.err
    assert TOKEN_ENV in lines[0]
    assert not by_role(nodered_auth.deployed_flows()[0], "resolver")

    monkeypatch.setenv(TOKEN_ENV, AUTH_TOKEN)
    accepted = run_acm(*args)
    assert accepted.code == 0, accepted.err
    assert len(by_role(nodered_auth.deployed_flows()[0], "resolver")) == 1
    for text in (refused.out, refused.err, accepted.out, accepted.err):
        assert AUTH_TOKEN not in text

    # A token file works as well (and a wrong token is refused without being echoed).
    monkeypatch.delenv(TOKEN_ENV)
    token_file = tmp_path / "token"
    token_file.write_text(AUTH_TOKEN + "\n", encoding="utf-8")
    by_file = run_acm(*args, "--token-file", str(token_file))
    assert by_file.code == 0, by_file.err
    assert "nothing to change" in by_file.err
    monkeypatch.setenv(TOKEN_ENV, "wrong-token-4711")
    wrong = run_acm(*args)
    assert wrong.code == 2
    assert len(wrong.err.strip().splitlines()) == 1
    assert "wrong-token-4711" not in wrong.err + wrong.out
    for backup in (tmp_path / "backups").iterdir():
        assert AUTH_TOKEN not in backup.read_text(encoding="utf-8")


# -- 9. revert ----------------------------------------------------------------------------------


def test_revert_online_restores_the_original_flows(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    original = two_apps(actuator.url(), *ON_OFF)
    deploy(nodered, original)
    before, _ = nodered.deployed_flows()
    apply(run_acm, nodered, tmp_path, "--policy", str(priority_policy(tmp_path)))
    assert by_role(nodered.deployed_flows()[0], "resolver")

    resolved, resolved_rev = nodered.deployed_flows()
    dry = run_acm("revert", "--url", nodered.url, "--dry-run",
                  "--backup-dir", str(tmp_path / "backups"))
    assert dry.code == 0, dry.err
    assert "- function" in dry.out
    assert nodered.deployed_flows() == (resolved, resolved_rev)

    reverted = run_acm("revert", "--url", nodered.url, "--backup-dir", str(tmp_path / "backups"))
    assert reverted.code == 0, reverted.err
    after, _ = nodered.deployed_flows()
    assert wiring(after) == wiring(before)
    assert [n["id"] for n in after] == [n["id"] for n in before]
    assert after == before

    flows_file = tmp_path / "deployed.json"
    response = requests.get(f"{nodered.url}/flows", headers=nodered.headers(), timeout=10)
    flows_file.write_text(response.text, encoding="utf-8")
    report = run_acm("analyze", str(flows_file), "--format", "json")
    assert report.code == 1, report.err
    [conflict] = [c for c in report.json()["conflicts"] if c["kind"] == "direct"]
    assert conflict["severity"] == "error"
    assert conflict["actuators"][0]["key"] == f"http:POST {actuator.url()}"
    assert sorted(conflict["applications"]) == sorted([COMFORT, SAFETY])

    # And the commands reach the actuator directly again (no resolver in between).
    nodered.inject("c_on")
    nodered.inject("s_off")
    hits = actuator.wait_for(2)
    assert sorted(h.body for h in hits) == ["off", "on"]


# -- 10. actuators inside a subflow: one resolver per instance ------------------------------------


def test_subflow_instances_with_their_own_actuators_are_arbitrated_separately(
    nodered: NodeRed, actuator: Actuator, tmp_path: Path, run_acm: Any
) -> None:
    """Subflow "Set lamp" posts its input to the URL in its env; instance A (on Comfort)
    drives /a/set, instance B (on Safety) /b/set, and both tabs command both instances (the
    other tab's through links): two direct conflicts. Safety outranks Comfort on each;
    Safety holding A does not hold B back."""
    sub = "5ub5ub5ub5ub5ub0"
    env = [{"name": "URL", "type": "str", "value": actuator.url("/none")}]

    def instance(node_id: str, z: str, path: str, y: int) -> dict[str, Any]:
        return {"id": node_id, "type": f"subflow:{sub}", "z": z, "name": f"lamp {path}",
                "env": [{"name": "URL", "type": "str", "value": actuator.url(path)}],
                "x": 420, "y": y, "wires": []}

    def link(out_id: str, out_z: str, in_id: str, in_z: str, to: str) -> Flows:
        return [{"id": out_id, "type": "link out", "z": out_z, "name": "", "mode": "link",
                 "links": [in_id], "x": 300, "y": 200, "wires": []},
                {"id": in_id, "type": "link in", "z": in_z, "name": "", "links": [out_id],
                 "x": 200, "y": 300, "wires": [[to]]}]

    flows: Flows = [
        tab(COMFORT, "Comfort"), tab(SAFETY, "Safety"),
        {"id": sub, "type": "subflow", "name": "Set lamp", "info": "", "category": "",
         "in": [{"x": 60, "y": 80, "wires": [{"id": "sub_http"}]}], "out": [], "env": env,
         "color": "#DDAA99"},
        {**http_out("sub_http", sub, "${URL}"), "wires": []},
        instance("inst_a", COMFORT, "/a/set", 60), instance("inst_b", SAFETY, "/b/set", 60),
        inject("c_a", COMFORT, "on", "inst_a", 60), inject("c_b", COMFORT, "on", "c_to_b", 200),
        inject("s_b", SAFETY, "off", "inst_b", 60), inject("s_a", SAFETY, "off", "s_to_a", 200),
        *link("c_to_b", COMFORT, "b_from_c", SAFETY, "inst_b"),
        *link("s_to_a", SAFETY, "a_from_s", COMFORT, "inst_a"),
    ]
    deploy(nodered, flows)
    policy = write_policy(tmp_path, f"""
policy safety-first {{ for actuator a  strategy priority  order "{SAFETY}", "{COMFORT}" }}
""")
    result = apply(run_acm, nodered, tmp_path, "--policy", str(policy))
    assert "not resolved" not in result.err
    deployed, _ = nodered.deployed_flows()
    resolvers = by_role(deployed, "resolver")
    assert sorted(r["name"] for r in resolvers) == [
        f"ACM priority: POST {actuator.url(path)}" for path in ("/a/set", "/b/set")]
    assert {r["z"] for r in resolvers} == {COMFORT, SAFETY}  # each beside its instance
    assert [n for n in deployed if n.get("z") == sub] == [n for n in flows if n.get("z") == sub]

    nodered.inject("s_a")  # Safety takes A
    actuator.wait_for(1, "/a/set")
    nodered.inject("c_a")  # Comfort on A: Safety holds A, nothing
    nodered.inject("c_b")  # Comfort on B: B is free, it passes
    actuator.wait_for(1, "/b/set")
    nodered.inject("s_b")  # Safety takes B as well
    actuator.wait_for(2, "/b/set")
    nodered.inject("c_b")  # now held back on B too
    actuator.quiet(1, 0.5, "/a/set")
    actuator.quiet(2, 0.1, "/b/set")
    assert actuator.bodies("/a/set") == ["off"]
    assert actuator.bodies("/b/set") == ["on", "off"]
    assert actuator.bodies("/none") == []
