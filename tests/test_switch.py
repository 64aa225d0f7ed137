"""A switch drops the branches a constant cannot take (tests/cases/switch.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from acm.analysis.catalog.switch import switch_routes
from acm.analysis.values import UNKNOWN, const

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "switch.yaml").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_switch_case(case: dict[str, Any]) -> None:
    settings = {"type": "switch", "propertyType": "msg", "checkall": "true", **case["node"]}
    settings["wires"] = [[] for _ in settings["rules"]]
    msg = case["msg"]
    topic = const(msg["topic"]) if "topic" in msg else const("")
    payload = const(msg["payload"]) if "payload" in msg else UNKNOWN
    ports = switch_routes(settings, frozenset({(topic, payload)}))
    assert len(ports) == len(settings["rules"])
    taken = [i for i, port in enumerate(ports) if port]
    assert taken == case["ports"], json.dumps(case["node"])
    for i in taken:
        assert ports[i] == {(topic, payload)}  # the message passes on unchanged
