"""Shared test helpers: build flows in memory, run the CLI in-process."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from acm.cli import main

pytest_plugins = ["conftest_nodered"]  # real Node-RED fixtures (nodered4, nodered5, ...)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "flows"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run_acm(capsys: pytest.CaptureFixture[str]):
    """Run ``acm ARGS`` in-process; returns exit code, stdout, stderr."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def write_flows(tmp_path: Path):
    """Write a list of nodes (or any JSON) to a flows file and return its path."""
    counter = iter(range(10_000))

    def write(nodes: Any, name: str | None = None) -> Path:
        path = tmp_path / (name or f"flows{next(counter)}.json")
        path.write_text(json.dumps(nodes), encoding="utf-8")
        return path

    return write


def tab(tab_id: str, label: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": tab_id, "type": "tab", "label": label or tab_id, **extra}


# When a test does not say when an inject fires, it fires on a schedule: an automation.
# (An inject with no repeat, cron or "once" is the editor's button: a person.)
SCHEDULE = {"crontab": "00 07 * * *"}


def node(node_id: str, node_type: str, z: str, wires: Sequence[Sequence[str]] = (),
         **extra: Any) -> dict[str, Any]:
    """A flow node with coordinates, as the editor writes it (injects: see SCHEDULE)."""
    if node_type == "inject" and not {"repeat", "crontab", "once"} & set(extra):
        extra = {**SCHEDULE, **extra}
    return {"id": node_id, "type": node_type, "z": z, "x": 100, "y": 100,
            "wires": [list(p) for p in wires], **extra}


def broker(
    broker_id: str = "broker", host: str = "mqtt.local", port: str = "1883"
) -> dict[str, Any]:
    return {"id": broker_id, "type": "mqtt-broker", "broker": host, "port": port}


def publisher(tab_id: str, label: str, payload: str, topic: str,
              broker_id: str = "broker") -> list[dict[str, Any]]:
    """A tab: inject ``payload`` -> mqtt out ``topic`` (on the broker config ``broker_id``)."""
    return [
        tab(tab_id, label),
        node(f"{tab_id}-in", "inject", tab_id, [[f"{tab_id}-out"]],
             payload=payload, payloadType="str"),
        node(f"{tab_id}-out", "mqtt out", tab_id, [], broker=broker_id, topic=topic),
    ]
