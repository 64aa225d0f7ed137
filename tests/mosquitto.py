"""Start and stop a throw-away Mosquitto broker for integration tests.

The broker listens on a free 127.0.0.1 port, allows anonymous clients, keeps
nothing on disk, and logs everything (connections, subscriptions) to
``<dir>/mosquitto.log`` so a test can wait until the clients it expects are
connected and subscribed. ``scripts/apt-install.sh mosquitto:/usr/sbin/mosquitto``
installs it; without it, :func:`missing` says why and tests skip.

    with Mosquitto() as broker:
        offset = broker.log_offset()
        ...                                   # start clients
        broker.wait_for_log(r"Received SUBSCRIBE", since=offset)
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from nodered import stop_process_group

BINARY = Path(os.environ.get("ACM_MOSQUITTO", "/usr/sbin/mosquitto"))
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def missing() -> str | None:
    """Why Mosquitto cannot start here, or ``None`` when it can."""
    if not BINARY.is_file() or not os.access(BINARY, os.X_OK):
        return (f"Mosquitto is not installed at {BINARY}: run "
                "scripts/apt-install.sh mosquitto:/usr/sbin/mosquitto")
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mosquitto:
    """One Mosquitto process in the foreground; :meth:`stop` terminates it."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.port = 0
        self.dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.keep = False  # keep the folder (and its log) after a failure

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        assert self.dir is not None, "Mosquitto was not started"
        return self.dir / "mosquitto.log"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, AssertionError):
            return ""

    def log_offset(self) -> int:
        """The log's current length: pass it as ``since`` to look at later lines only."""
        return len(self.log_text())

    def wait_for_log(self, pattern: str, since: int = 0, count: int = 1,
                     timeout: float = 10.0) -> list[str]:
        """Wait until ``pattern`` (a regex) matches ``count`` times in the log after ``since``."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            found = regex.findall(self.log_text()[since:])
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                tail = "\n".join(self.log_text()[since:].splitlines()[-30:])
                raise AssertionError(f"Mosquitto log: {pattern!r} {len(found)} time(s), "
                                     f"expected {count} within {timeout:g} s; log since:\n{tail}")
            time.sleep(0.05)

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        reason = missing()
        if reason:
            raise RuntimeError(reason)
        self.dir = Path(tempfile.mkdtemp(prefix="acm-mosquitto-"))
        for _ in range(3):  # a free port can be taken between probing and binding
            self.port = free_port()
            self._write_config()
            self._spawn()
            if self._wait_ready():
                return
        tail = "\n".join(self.log_text().splitlines()[-20:])
        self.keep = True
        self.stop()
        raise RuntimeError(f"Mosquitto did not listen on {self.address} within "
                           f"{START_TIMEOUT:g} s; log {self.dir}/mosquitto.log:\n{tail}")

    def stop(self) -> None:
        self._terminate()
        if self.dir is not None and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- internals ----------------------------------------------------------------------

    def _write_config(self) -> None:
        assert self.dir is not None
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence false",
            f"log_dest file {self.dir}/mosquitto.log",
            "log_type all",
            "connection_messages true",
        ]
        if os.geteuid() == 0:
            # As root Mosquitto drops privileges to "mosquitto" by default and then
            # cannot write its log in a root-owned folder.
            lines.append("user root")
        (self.dir / "mosquitto.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _spawn(self) -> None:
        assert self.dir is not None
        self._terminate()
        with (self.dir / "stdout.log").open("ab") as out:
            self.process = subprocess.Popen(
                [str(BINARY), "-c", str(self.dir / "mosquitto.conf")],
                cwd=self.dir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def _terminate(self) -> None:
        process, self.process = self.process, None
        stop_process_group(process, STOP_TIMEOUT)
