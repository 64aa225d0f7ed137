"""The Admin API client against real Node-RED 4 and 5, and against small local servers
for the faults a real Node-RED cannot be made to produce (silence, 500s, bad TLS)."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from nodered import AUTH_PASSWORD, AUTH_TOKEN, AUTH_USER, NodeRed, free_port

from acm.errors import AcmError
from acm.nodered.admin_api import (
    AdminClient,
    NodeRedError,
    OutcomeUnknown,
    RevisionConflict,
    token_from_env,
    update_flows,
)

Flows = list[dict[str, Any]]


def tab(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "tab", "label": node_id, "disabled": False, "info": ""}


def comment(node_id: str, z: str) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "comment",
        "z": z,
        "name": node_id,
        "x": 100,
        "y": 100,
        "wires": [],
    }


def ids(flows: Flows) -> set[str]:
    return {node["id"] for node in flows}


def client_for(nodered: NodeRed, **kwargs: Any) -> AdminClient:
    return AdminClient(nodered.url, token=nodered.token, **kwargs)


def one_line_error(err: pytest.ExceptionInfo[NodeRedError], url: str) -> str:
    text = str(err.value)
    assert "\n" not in text
    assert url in text
    assert isinstance(err.value, AcmError)
    return text


# -- on both versions -----------------------------------------------------------------------


def test_get_flows_returns_flows_and_rev(nodered: NodeRed) -> None:
    deployed_rev = nodered.reset_flows([tab("t1"), comment("c1", "t1")])
    flows, rev = client_for(nodered).get_flows()
    assert ids(flows) == {"t1", "c1"}
    assert rev == deployed_rev
    assert len(rev) == 64


def test_set_flows_with_the_read_rev_deploys(nodered: NodeRed) -> None:
    nodered.reset_flows([tab("t1")])
    client = client_for(nodered)
    flows, rev = client.get_flows()
    new_rev = client.set_flows([*flows, comment("c2", "t1")], rev)
    assert new_rev != rev
    on_server, server_rev = nodered.deployed_flows()
    assert ids(on_server) == {"t1", "c2"}
    assert server_rev == new_rev


def test_stale_rev_is_a_revision_conflict(nodered: NodeRed) -> None:
    nodered.reset_flows([tab("t1")])
    client = client_for(nodered)
    flows, rev = client.get_flows()
    client.set_flows([*flows, comment("first", "t1")], rev)
    with pytest.raises(RevisionConflict) as err:
        client.set_flows([*flows, comment("second", "t1")], rev)
    one_line_error(err, f"{nodered.url}/flows")
    assert err.value.status == 409
    assert "second" not in ids(nodered.deployed_flows()[0])


def test_update_flows_survives_a_concurrent_edit(nodered: NodeRed, tmp_path: Path) -> None:
    nodered.reset_flows([tab("t1"), comment("c1", "t1")])
    client, other = client_for(nodered), client_for(nodered)
    original, original_rev = client.get_flows()
    calls = 0

    def add_ours(flows: Flows) -> Flows:
        nonlocal calls
        calls += 1
        if calls == 1:  # someone deploys between our read and our write
            theirs, rev = other.get_flows()
            other.set_flows([*theirs, comment("theirs", "t1")], rev)
        if "ours" not in ids(flows):
            flows.append(comment("ours", "t1"))
        return flows

    result = update_flows(client, add_ours, tmp_path / "backups", retries=3)

    assert result.changed and result.attempts == 2
    on_server, server_rev = nodered.deployed_flows()
    assert ids(on_server) == {"t1", "c1", "theirs", "ours"}
    assert result.new_rev == server_rev
    first = json.loads(result.backups[0].read_text(encoding="utf-8"))
    assert first == {"flows": original, "rev": original_rev}
    assert result.backups[0].name.startswith(f"127.0.0.1_{nodered.port}-")
    assert result.backups[0].name.endswith(f"-{original_rev[:8]}.json")
    assert result.backup == result.backups[-1]
    assert "theirs" in ids(json.loads(result.backup.read_text(encoding="utf-8"))["flows"])


def test_login_without_admin_auth_says_so(nodered: NodeRed) -> None:
    # Node-RED 4 answers 404 here, Node-RED 5 a 400 with a TypeError: one message for both.
    url = f"{nodered.url}/auth/token"
    with pytest.raises(NodeRedError) as err:
        AdminClient(nodered.url).login("admin", "password")
    assert "adminAuth is not enabled" in one_line_error(err, url)


# -- Node-RED 4 only: the client's behaviour does not depend on the version -----------------


def test_update_flows_without_a_change_does_not_write(nodered4: NodeRed, tmp_path: Path) -> None:
    rev = nodered4.reset_flows([tab("t1")])
    result = update_flows(client_for(nodered4), lambda flows: flows, tmp_path)
    assert not result.changed and result.backup is None
    assert result.old_rev == result.new_rev == rev
    assert list(tmp_path.iterdir()) == []
    assert nodered4.deployed_flows()[1] == rev


def test_update_flows_gives_up_after_the_retries(nodered4: NodeRed, tmp_path: Path) -> None:
    nodered4.reset_flows([tab("t1")])
    other = client_for(nodered4)
    calls = 0

    def always_raced(flows: Flows) -> Flows:
        nonlocal calls
        calls += 1
        theirs, rev = other.get_flows()
        other.set_flows([*theirs, comment(f"theirs{calls}", "t1")], rev)
        return [*flows, comment("ours", "t1")] if "ours" not in ids(flows) else flows

    with pytest.raises(RevisionConflict) as err:
        update_flows(client_for(nodered4), always_raced, tmp_path, retries=2)
    text = one_line_error(err, nodered4.url)
    assert "gave up after 3 attempts" in text
    assert calls == 3 and len(list(tmp_path.iterdir())) == 3
    assert "ours" not in ids(nodered4.deployed_flows()[0])


def test_auth_required_without_a_token(nodered_auth: NodeRed) -> None:
    with pytest.raises(NodeRedError) as err:
        AdminClient(nodered_auth.url).get_flows()
    text = one_line_error(err, f"{nodered_auth.url}/flows")
    assert err.value.status == 401
    assert "authentication required" in text and "ACM_NODERED_TOKEN" in text


def test_a_rejected_token_is_not_repeated_in_the_error(nodered_auth: NodeRed) -> None:
    with pytest.raises(NodeRedError) as err:
        AdminClient(nodered_auth.url, token="wrong-token-value").set_flows([], "0" * 64)
    text = one_line_error(err, nodered_auth.url)
    assert "rejected the token" in text and "wrong-token-value" not in text


def test_the_static_token_reads_and_writes(nodered_auth: NodeRed) -> None:
    client = AdminClient(nodered_auth.url, token=AUTH_TOKEN)
    flows, rev = client.get_flows()
    assert client.set_flows([tab("t1")], rev) != rev
    assert AUTH_TOKEN not in repr(client)


def test_login_with_username_and_password(nodered_auth: NodeRed) -> None:
    client = AdminClient(nodered_auth.url)
    token = client.login(AUTH_USER, AUTH_PASSWORD)
    assert token and client.token == token
    client.get_flows()
    with pytest.raises(NodeRedError) as err:
        AdminClient(nodered_auth.url).login(AUTH_USER, "not-the-password")
    text = one_line_error(err, f"{nodered_auth.url}/auth/token")
    assert "wrong username or password" in text and "not-the-password" not in text


# -- faults ---------------------------------------------------------------------------------


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(NodeRedError) as err:
        AdminClient(url, timeout=5).get_flows()
    assert "connection refused" in one_line_error(err, url)
    assert err.value.status is None


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_timeout(silent_server: str) -> None:
    with pytest.raises(NodeRedError) as err:
        AdminClient(silent_server, timeout=0.3).get_flows()
    assert "no answer within 0.3 s" in one_line_error(err, silent_server)


Answer = Callable[[int, bytes, str], str]


class _Quiet(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a refused TLS handshake is the point of one test, not noise


def _serve(answer: tuple[int, bytes, str], tls: ssl.SSLContext | None = None) -> _Quiet:
    status, body, content_type = answer

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _Quiet(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def answering() -> Iterator[Callable[..., str]]:
    """``answering(status, body, content_type)`` -> URL of a server that always says that."""
    servers: list[_Quiet] = []

    def start(status: int, body: bytes, content_type: str = "application/json") -> str:
        servers.append(_serve((status, body, content_type)))
        return f"http://127.0.0.1:{servers[-1].server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_server_error_carries_the_servers_message(answering: Callable[..., str]) -> None:
    url = answering(500, b'{"code": "unexpected_error", "message": "flows storage failed"}')
    with pytest.raises(NodeRedError) as err:
        AdminClient(url).set_flows([], "0" * 64)
    assert "server error 500: flows storage failed" in one_line_error(err, url)
    plain = answering(502, b"Bad gateway\nupstream down", "text/plain")
    with pytest.raises(NodeRedError) as err:
        AdminClient(plain).get_flows()
    assert "server error 502: Bad gateway upstream down" in one_line_error(err, plain)


def test_an_express_error_page_gives_its_message(answering: Callable[..., str]) -> None:
    page = b"<!DOCTYPE html><html><body><pre>Cannot POST /flows</pre></body></html>"
    url = answering(404, page, "text/html; charset=utf-8")
    with pytest.raises(NodeRedError) as err:
        AdminClient(url).set_flows([], "0" * 64)
    assert one_line_error(err, url).endswith("HTTP 404: Cannot POST /flows")


def test_an_answer_that_is_not_json(answering: Callable[..., str]) -> None:
    url = answering(200, b"<!DOCTYPE html><html></html>", "text/html")
    with pytest.raises(NodeRedError) as err:
        AdminClient(url).get_flows()
    assert "not valid JSON (text/html)" in one_line_error(err, url)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_verification_is_on_and_a_ca_file_fixes_it(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _serve((200, b'{"httpNodeRoot": "/"}', "application/json"), tls=context)
    url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(NodeRedError) as err:
            AdminClient(url, timeout=5).settings()
        text = one_line_error(err, url)
        assert "TLS error" in text and "verification is on" in text and "CA file" in text
        assert AdminClient(url, verify=str(cert), timeout=5).settings() == {"httpNodeRoot": "/"}
    finally:
        server.shutdown()
        server.server_close()


# -- tokens ---------------------------------------------------------------------------------


def test_token_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACM_NODERED_TOKEN", raising=False)
    assert token_from_env(None) is None
    monkeypatch.setenv("ACM_NODERED_TOKEN", "  from-env\n")
    assert token_from_env(None) == "from-env"
    file = tmp_path / "token"
    file.write_text("from-file\n", encoding="utf-8")
    assert token_from_env(str(file)) == "from-file"  # an explicit file wins
    with pytest.raises(NodeRedError, match="cannot read the token file") as err:
        token_from_env(str(tmp_path / "missing"))
    assert str(tmp_path / "missing") in str(err.value)
    file.write_text(" \n", encoding="utf-8")
    with pytest.raises(NodeRedError, match="token file is empty"):
        token_from_env(str(file))


# -- bounds: a whole request has a deadline, an answer a size cap ----------------------------


@pytest.fixture
def trickling() -> Iterator[str]:
    """Sends its headers, then one byte of body every 0.2 s, forever."""
    stop = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            while not stop.is_set():
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.2)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _Quiet(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    stop.set()
    server.shutdown()
    server.server_close()


def test_a_trickling_server_cannot_hold_a_request_past_its_deadline(trickling: str) -> None:
    # Each read gets a byte well within the 1 s read timeout: only the deadline ends it.
    client = AdminClient(trickling, timeout=1, deadline=1.5)
    with pytest.raises(NodeRedError) as err:
        client.get_flows()
    assert "no complete answer within 1.5 s" in one_line_error(err, trickling)


def test_an_answer_over_the_size_cap_is_refused(answering: Callable[..., str]) -> None:
    body = json.dumps({"flows": [comment(f"c{i}", "t") for i in range(200)], "rev": "r"})
    url = answering(200, body.encode())
    assert len(AdminClient(url).get_flows()[0]) == 200  # under the default cap
    with pytest.raises(NodeRedError) as err:
        AdminClient(url, max_answer=1000).get_flows()
    assert "the answer is larger than 1,000 bytes" in one_line_error(err, url)


def test_json_nested_too_deep_is_an_error_not_a_crash(answering: Callable[..., str]) -> None:
    url = answering(200, b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(NodeRedError) as err:
        AdminClient(url).get_flows()
    assert "not valid JSON" in one_line_error(err, url)


# -- a write whose answer was lost: settled by reading again -----------------------------------


def _proxy(target: str, on_post: str) -> _Quiet:
    """A proxy to ``target`` that loses the answer of ``POST /flows``.

    ``on_post``: "forward" (the write happens, its answer is lost), "drop" (it
    never reaches Node-RED); "forward, then down" also fails every later request.
    """
    down = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if down.is_set():
                self.close_connection = True
                return  # no answer at all
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "content-length", "connection")}
            if self.command == "POST" and self.path == "/flows":
                if on_post != "drop":
                    requests.post(target + self.path, data=body, headers=headers, timeout=10)
                if on_post == "forward, then down":
                    down.set()
                self.close_connection = True
                return  # the connection closes without an answer
            answer = requests.request(self.command, target + self.path, data=body,
                                      headers=headers, timeout=10)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("Content-Type", ""))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = _relay

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _Quiet(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def lossy(nodered4: NodeRed) -> Iterator[Callable[[str], str]]:
    servers: list[_Quiet] = []

    def start(on_post: str) -> str:
        servers.append(_proxy(nodered4.url, on_post))
        return f"http://127.0.0.1:{servers[-1].server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_write_applied_but_unanswered_counts_as_written(
    nodered4: NodeRed, lossy: Callable[[str], str], tmp_path: Path
) -> None:
    nodered4.reset_flows([tab("t1")])
    url = lossy("forward")
    result = update_flows(AdminClient(url), lambda f: [*f, comment("ours", "t1")], tmp_path)
    assert result.changed
    on_server, rev = nodered4.deployed_flows()
    assert ids(on_server) == {"t1", "ours"}
    assert result.new_rev == rev


def test_a_write_that_never_arrived_says_it_was_not_applied(
    nodered4: NodeRed, lossy: Callable[[str], str], tmp_path: Path
) -> None:
    before_rev = nodered4.reset_flows([tab("t1")])
    url = lossy("drop")
    with pytest.raises(NodeRedError) as err:
        update_flows(AdminClient(url), lambda f: [*f, comment("ours", "t1")], tmp_path)
    assert not isinstance(err.value, OutcomeUnknown)
    assert f"not applied (the server is still at rev {before_rev[:12]})" in one_line_error(
        err, url)
    assert ids(nodered4.deployed_flows()[0]) == {"t1"}


def test_a_write_whose_outcome_cannot_be_read_says_it_may_have_been_applied(
    nodered4: NodeRed, lossy: Callable[[str], str], tmp_path: Path
) -> None:
    before_rev = nodered4.reset_flows([tab("t1")])
    url = lossy("forward, then down")
    with pytest.raises(OutcomeUnknown) as err:
        update_flows(AdminClient(url, timeout=2), lambda f: [*f, comment("ours", "t1")],
                     tmp_path)
    text = one_line_error(err, url)
    assert "the write may have been applied" in text
    assert err.value.old_rev == before_rev
    assert err.value.backup is not None and str(err.value.backup) in text
    assert json.loads(err.value.backup.read_text(encoding="utf-8"))["rev"] == before_rev


def test_the_token_wins_over_a_netrc_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            body = b'{"flows": [], "rev": "r"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _Quiet(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        netrc = tmp_path / ".netrc"
        netrc.write_text("machine 127.0.0.1 login ann password netrc-secret\n", encoding="utf-8")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        url = f"http://127.0.0.1:{server.server_address[1]}"
        AdminClient(url).get_flows()  # no token: requests may use the netrc entry
        AdminClient(url, token="the-token").get_flows()
    finally:
        server.shutdown()
        server.server_close()
    assert seen[0] is not None and seen[0].startswith("Basic ")  # the entry is seen ...
    assert seen[1] == "Bearer the-token"  # ... and does not replace the token


def test_node_types_are_the_enabled_sets_that_loaded(nodered: NodeRed,
                                                     answering: Callable[..., str]) -> None:
    """GET /nodes: a set that is disabled, or whose code failed to load (it still lists
    its types, taken from its HTML), does not count; a real runtime has its core types."""
    types = client_for(nodered).node_types()
    assert {"inject", "function", "change", "mqtt out"} <= types
    assert "acm-resolver" not in types
    sets = [
        {"id": "a/ok", "types": ["ok-node"], "enabled": True},
        {"id": "a/off", "types": ["off-node"], "enabled": False},
        {"id": "a/broken", "types": ["acm-resolver"], "enabled": True, "err": "Cannot find module"},
        {"id": "a/odd", "types": "not-a-list"}, "not a set",
    ]
    assert AdminClient(answering(200, json.dumps(sets).encode())).node_types() == {"ok-node"}
    url = answering(200, b'{"flows": []}')
    with pytest.raises(NodeRedError) as err:
        AdminClient(url).node_types()
    assert "GET" in one_line_error(err, url) and "not a list of node sets" in str(err.value)


def test_a_token_without_nodes_read_is_named(answering: Callable[..., str]) -> None:
    url = answering(403, b'{"code": "forbidden"}')
    with pytest.raises(NodeRedError) as err:
        AdminClient(url, token="t").node_types()
    assert "forbidden: the token lacks nodes.read" in str(err.value)
