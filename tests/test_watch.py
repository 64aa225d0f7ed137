"""`acm watch` against real Node-RED: deploy events, new/gone conflicts, drift, auth,
reconnect after a restart; and the small pure pieces (URLs, drift, TLS context)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, broker, node, tab
from nodered import AUTH_TOKEN, NodeRed, missing

from acm.analysis.drift import flows_drift
from acm.errors import AcmError
from acm.nodered.admin_api import NodeRedError
from acm.nodered.comms import WatchedRuntime, comms_url, ssl_context
from acm.nodered.watch import Watcher, runtime_for_url
from acm.output.events import Event

Flows = list[dict[str, Any]]
TOKEN_VARS = ("ACM_NODERED_TOKEN", "ACM_NODERED_USERNAME", "ACM_NODERED_PASSWORD")


def light_flows(second: str | None = "off") -> Flows:
    """Tab t1 switches home/light on; with ``second``, tab t2 sends it that command."""
    nodes = [broker("b", "mqtt.local"), tab("t1"),
             node("t1-in", "inject", "t1", [["t1-out"]], payload="on", payloadType="str"),
             node("t1-out", "mqtt out", "t1", topic="home/light/set", broker="b")]
    if second is not None:
        nodes += [tab("t2"),
                  node("t2-in", "inject", "t2", [["t2-out"]], payload=second, payloadType="str"),
                  node("t2-out", "mqtt out", "t2", topic="home/light/set", broker="b")]
    return nodes


def wait_until(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# -- the acm watch process ------------------------------------------------------------------


class WatchProcess:
    """``acm watch ARGS`` in a subprocess; stdout lines and stderr lines are collected."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        environ = {k: v for k, v in os.environ.items() if k not in TOKEN_VARS}
        environ.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "acm", "watch", *args], cwd=ROOT, env=environ,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=self._pump, args=(self.process.stdout, self.out.put),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, self.err.append),
                         daemon=True).start()

    @staticmethod
    def _pump(stream: Any, put: Callable[[str], None]) -> None:
        for line in stream:
            put(line.rstrip("\n"))

    def wait_log(self, text: str, timeout: float = 15.0) -> None:
        wait_until(lambda: any(text in line for line in self.err) or self._died(),
                   f"{text!r} on stderr", timeout)
        assert any(text in line for line in self.err), self.stderr

    def _died(self) -> bool:
        return self.process.poll() is not None

    def next_event(self, timeout: float = 15.0) -> dict[str, Any]:
        try:
            line = self.out.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout:g} s; stderr:\n{self.stderr}") from None
        doc: dict[str, Any] = json.loads(line)
        return doc

    def wait(self, timeout: float = 15.0) -> int:
        return self.process.wait(timeout)

    @property
    def stderr(self) -> str:
        return "\n".join(self.err)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def watch_process() -> Iterator[Callable[..., WatchProcess]]:
    started: list[WatchProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> WatchProcess:
        started.append(WatchProcess(*args, env=env))
        return started[-1]

    yield start
    for proc in started:
        proc.close()


# -- the Watcher in a thread ----------------------------------------------------------------


class InThread:
    """A :class:`Watcher` running in a background thread, collecting events and log lines."""

    def __init__(self, runtimes: list[WatchedRuntime], **kwargs: Any) -> None:
        self.events: list[Event] = []
        self.log: list[str] = []
        self.error: BaseException | None = None
        self.watcher = Watcher(runtimes, log=self.log.append, **kwargs)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.watcher.watch(self.events.append, timeout=60)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def wait_connected(self, runtime: str) -> None:
        wait_until(lambda: runtime in self.watcher.connected or self.error, f"{runtime} connected")
        assert self.error is None, self.error

    def wait_events(self, count: int, timeout: float = 10.0) -> list[Event]:
        wait_until(lambda: len(self.events) >= count or self.error, f"{count} event(s)", timeout)
        assert self.error is None, self.error
        return self.events

    def wait_log(self, text: str, timeout: float = 10.0, count: int = 1) -> None:
        wait_until(lambda: sum(text in line for line in self.log) >= count,
                   f"log {text!r} x{count}", timeout)

    def stop(self) -> None:
        self.watcher.stop()
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def in_thread() -> Iterator[Callable[..., InThread]]:
    started: list[InThread] = []

    def start(runtimes: list[WatchedRuntime], **kwargs: Any) -> InThread:
        started.append(InThread(runtimes, **kwargs))
        return started[-1]

    yield start
    for watcher in started:
        watcher.stop()


# -- real Node-RED ----------------------------------------------------------------------------


def test_once_json_reports_the_new_conflict_and_its_revision(
        nodered: NodeRed, watch_process: Callable[..., WatchProcess]) -> None:
    nodered.reset_flows(light_flows(second=None))
    proc = watch_process("--url", nodered.url, "--once", "--json", "--timeout", "20")
    proc.wait_log("connected to ws://")
    rev = nodered.reset_flows(light_flows())
    event = proc.next_event()
    assert proc.wait() == 0, proc.stderr
    assert proc.out.empty()  # exactly one event
    assert event["schema"] == "acm.watch/1" and event["type"] == "deploy"
    assert event["revision"] == rev
    assert [c["rule"] for c in event["new"]] == ["direct"]
    assert event["new"][0]["severity"] == "error"
    assert sorted(event["new"][0]["actuators"][0]["nodes"]) == ["t1-out", "t2-out"]
    assert event["gone"] == [] and event["conflicts"] == 1
    assert event["drift"] is None  # no model, nothing to compare with


def test_a_deploy_that_removes_the_conflict_reports_it_gone_and_ctrl_c_exits_0(
        nodered4: NodeRed, watch_process: Callable[..., WatchProcess]) -> None:
    nodered4.reset_flows(light_flows())
    proc = watch_process("--url", nodered4.url, "--json")
    proc.wait_log("connected to ws://")
    rev = nodered4.reset_flows(light_flows(second="on"))  # same command: info, not error
    changed = proc.next_event()
    assert changed["revision"] == rev
    assert [(c["previous_severity"], c["severity"]) for c in changed["changed"]] == \
        [("error", "info")]
    rev = nodered4.reset_flows(light_flows(second=None))
    gone = proc.next_event()
    assert gone["revision"] == rev and gone["previous_revision"] == changed["revision"]
    assert [c["rule"] for c in gone["gone"]] == ["direct"] and gone["new"] == []
    assert gone["conflicts"] == 0
    proc.process.send_signal(signal.SIGINT)
    assert proc.wait() == 0
    assert "Traceback" not in proc.stderr and "stopped" in proc.stderr


def test_text_output_names_the_conflict(
        nodered4: NodeRed, watch_process: Callable[..., WatchProcess]) -> None:
    nodered4.reset_flows([])
    proc = watch_process("--url", nodered4.url, "--once")
    proc.wait_log("connected to ws://")
    rev = nodered4.reset_flows(light_flows())
    assert proc.wait() == 0, proc.stderr
    text = wait_until(lambda: (t := "\n".join(list(proc.out.queue))) and "now " in t and t,
                      "the text event")
    assert f"deployed rev {rev[:12]}" in text
    assert "+ new" in text and "home/light" in text and "now 1 conflict(s) (1 error)" in text


def test_drift_against_the_models_flows_file(
        nodered4: NodeRed, tmp_path: Path, in_thread: Callable[..., InThread]) -> None:
    from acm.model import load_model
    from acm.nodered.watch import runtimes_from_model

    on_file = light_flows()
    on_file[2] = {**on_file[2], "payload": "dim"}  # t1-in differs
    on_file = [n for n in on_file if n["id"] != "t2-in"] + [
        node("t2-spare", "comment", "t2")]  # t2-in only running, t2-spare only in the file
    (tmp_path / "home.json").write_text(json.dumps(on_file[::-1]), encoding="utf-8")
    (tmp_path / "site.yaml").write_text(
        f"version: 1\nruntimes:\n  - {{id: home, url: '{nodered4.url}', flows: home.json}}\n",
        encoding="utf-8")
    model = load_model(tmp_path / "site.yaml")
    nodered4.reset_flows([])
    watch = in_thread(runtimes_from_model(model), model=model)
    watch.wait_connected("home")
    assert any("drift: the running flows differ" in line for line in watch.log)
    rev = nodered4.reset_flows(light_flows())
    event = watch.wait_events(1)[0]
    doc = event.document()
    assert doc["runtime"] == "home" and doc["revision"] == rev
    assert doc["drift"] is True
    assert doc["drift_detail"]["added"] == ["t2-in"]
    assert doc["drift_detail"]["removed"] == ["t2-spare"]
    assert doc["drift_detail"]["changed"] == ["t1-in"]
    # Deploying exactly the file (in another order) ends the drift.
    nodered4.reset_flows(on_file)
    event = watch.wait_events(2)[1]
    assert event.drift is not None and not event.drift.drifted
    assert "match" in event.text()


def test_admin_auth_with_the_models_token(
        nodered_auth: NodeRed, tmp_path: Path, watch_process: Callable[..., WatchProcess]) -> None:
    (tmp_path / "hub.json").write_text("[]", encoding="utf-8")
    (tmp_path / "site.yaml").write_text(
        "version: 1\nruntimes:\n"
        f"  - {{id: hub, url: '{nodered_auth.url}', flows: hub.json, "
        "credentials: {token_env: ACM_TEST_HUB_TOKEN}}\n", encoding="utf-8")
    nodered_auth.reset_flows([])
    proc = watch_process(str(tmp_path / "site.yaml"), "--once", "--json", "--timeout", "20",
                         env={"ACM_TEST_HUB_TOKEN": AUTH_TOKEN})
    proc.wait_log("hub: connected")
    rev = nodered_auth.reset_flows(light_flows())
    event = proc.next_event()
    assert proc.wait() == 0, proc.stderr
    assert event["runtime"] == "hub" and event["revision"] == rev and len(event["new"]) == 1
    assert event["drift"] is True  # the file is empty
    assert AUTH_TOKEN not in proc.stderr and AUTH_TOKEN not in json.dumps(event)


def test_admin_auth_without_a_token_is_a_one_line_error(
        nodered_auth: NodeRed, run_acm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TOKEN_VARS:
        monkeypatch.delenv(name, raising=False)
    result = run_acm("watch", "--url", nodered_auth.url, "--once", "--timeout", "5")
    assert result.code == 2
    assert result.err.count("\n") == 1 and "authentication required" in result.err
    assert nodered_auth.url in result.err


def test_a_wrong_token_is_refused_on_the_websocket_too(nodered_auth: NodeRed) -> None:
    watcher = Watcher([WatchedRuntime("hub", nodered_auth.url, "not-the-token")])
    with pytest.raises(NodeRedError) as err:
        watcher.watch(lambda event: None, timeout=10)
    assert "not-the-token" not in str(err.value)


def test_a_token_for_a_runtime_without_admin_auth_is_not_sent(
        nodered4: NodeRed, in_thread: Callable[..., InThread]) -> None:
    """Node-RED without adminAuth crashes on a /comms auth frame; we must not send one."""
    nodered4.reset_flows([])
    watch = in_thread([WatchedRuntime("nr", nodered4.url, token="unused-token")])
    watch.wait_connected("nr")
    rev = nodered4.reset_flows(light_flows())
    assert watch.wait_events(1)[0].revision == rev
    assert nodered4.process is not None and nodered4.process.poll() is None


def test_reconnects_after_a_restart_on_the_same_port(
        in_thread: Callable[..., InThread]) -> None:
    reason = missing("4")
    if reason:
        pytest.skip(reason)
    with NodeRed("4") as nr:
        watch = in_thread([WatchedRuntime("nr", nr.url)], backoff=(0.1, 0.4))
        watch.wait_connected("nr")
        nr._terminate()  # stop, keeping the user dir (flows) and the port
        watch.wait_log("nr: connection lost")
        assert "nr" not in watch.watcher.connected
        nr._spawn()
        assert nr._wait_ready(), nr.log_tail()
        watch.wait_log("nr: reconnected", timeout=15)
        assert watch.events == []  # same flows after the restart: nothing to report
        rev = nr.reset_flows(light_flows())
        event = watch.wait_events(1)[0]
        assert event.revision == rev and len(event.new) == 1
        # Flows changed while the runtime was away are reported on reconnecting.
        nr._terminate()
        watch.wait_log("nr: connection lost", count=2)
        assert nr.user_dir is not None
        (nr.user_dir / "flows.json").write_text(json.dumps(light_flows(None)), encoding="utf-8")
        nr._spawn()
        assert nr._wait_ready(), nr.log_tail()
        event = watch.wait_events(2, timeout=15)[1]
        assert len(event.gone) == 1 and event.previous_revision == rev


def test_once_with_a_timeout_and_no_deploy_exits_3(nodered4: NodeRed, run_acm: Any) -> None:
    result = run_acm("watch", "--url", nodered4.url, "--once", "--timeout", "0.5")
    assert result.code == 1 and result.out == ""
    assert "no deploy within 0.5 s" in result.err


class NoEditor(NodeRed):
    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "disableEditor": True}


def test_no_comms_without_the_editor(run_acm: Any) -> None:
    reason = missing("4")
    if reason:
        pytest.skip(reason)
    with NoEditor("4") as nr:
        # Node-RED leaves the upgrade unanswered; its HTTP server drops it after 5 s.
        result = run_acm("watch", "--url", nr.url, "--once", "--timeout", "20")
    assert result.code == 2 and result.err.count("\n") == 2, result.err  # state + error
    assert "/comms" in result.err and "disableEditor" in result.err


class WithTls(NodeRed):
    """Node-RED serving https with a self-signed certificate (``cert_dir``/cert.pem)."""

    cert_dir: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _settings(self) -> dict[str, Any]:
        key = (self.cert_dir / "key.pem").read_text(encoding="utf-8")
        cert = (self.cert_dir / "cert.pem").read_text(encoding="utf-8")
        return {**super()._settings(), "https": {"key": key, "cert": cert}}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_wss_with_a_ca_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            in_thread: Callable[..., InThread]) -> None:
    reason = missing("4")
    if reason:
        pytest.skip(reason)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # for the NodeRed helper's requests
    nr = WithTls("4")
    nr.cert_dir = tmp_path
    with nr:
        watch = in_thread([WatchedRuntime("tls", nr.url, verify=str(cert))])
        watch.wait_connected("tls")
        assert any("wss://127.0.0.1" in line for line in watch.log)
        rev = nr.reset_flows(light_flows())
        assert watch.wait_events(1)[0].revision == rev


# -- usage and pure pieces ----------------------------------------------------------------------


def test_usage(run_acm: Any, tmp_path: Path) -> None:
    assert run_acm("watch").code == 2
    (tmp_path / "f.json").write_text("[]", encoding="utf-8")
    (tmp_path / "site.yaml").write_text("version: 1\nruntimes:\n  - {id: a, flows: f.json}\n",
                                        encoding="utf-8")
    result = run_acm("watch", str(tmp_path / "site.yaml"))
    assert result.code == 2 and "no runtime of the model has a url" in result.err
    result = run_acm("watch", str(tmp_path / "site.yaml"), "--url", "http://x:1880")
    assert result.code == 2 and "no runtime of model" in result.err


def test_comms_url() -> None:
    assert comms_url("http://pi:1880") == "ws://pi:1880/comms"
    assert comms_url("https://hub.local/admin/") == "wss://hub.local/admin/comms"
    with pytest.raises(NodeRedError):
        comms_url("ftp://x")
    assert runtime_for_url("http://u:secret@pi:1880/", None, True).id == "pi:1880"
    with pytest.raises(AcmError):
        runtime_for_url("pi:1880", None, True)
    assert "secret" not in repr(WatchedRuntime("a", "http://pi", token="secret"))


def test_flows_drift_ignores_order_and_credentials() -> None:
    a = {"id": "a", "type": "inject", "z": "t", "x": 1}
    b = {"id": "b", "type": "debug", "z": "t"}
    running: list[dict[str, Any]] = [b, a]
    expected: list[dict[str, Any]] = [{**a, "credentials": {"user": "x"}}, b]
    assert not flows_drift(running, expected, "f.json").drifted
    drift = flows_drift([{**a, "x": 2}, {"id": "c", "type": "tab"}], expected, "f.json")
    assert (drift.added, drift.removed, drift.changed) == (("c",), ("b",), ("a",))
    assert "1 added (c)" in drift.summary()


def test_ssl_context(tmp_path: Path) -> None:
    assert ssl_context(False).verify_mode == ssl.CERT_NONE
    assert ssl_context(True).verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(NodeRedError) as err:
        ssl_context(str(tmp_path / "missing.pem"))
    assert "CA file" in str(err.value)
