"""Hostile input gets a one-line error and exit 2; a bug gets exit 3; files are never lost.

Shapes that are valid JSON but not valid flows, deep nesting and huge numbers
are refused before the analysis walks them. Writing with ``-o`` onto the
input replaces the file in one step, so a failed write leaves it intact.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import broker, node, tab

TAB = {"id": "t", "type": "tab", "label": "T"}

HOSTILE: dict[str, tuple[str, str]] = {
    # name: (file content, what the one-line error must say)
    "wire-target-is-a-list": (json.dumps([TAB, {"id": "a", "type": "inject", "z": "t",
                                                  "wires": [[["b"]]]}]), "malformed 'wires'"),
    "links-is-a-number": (json.dumps([TAB, {"id": "a", "type": "link out", "z": "t",
                                            "links": 5, "wires": []}]), "malformed 'links'"),
    "links-nested": (json.dumps([TAB, {"id": "a", "type": "link out", "z": "t",
                                       "links": [["b"]], "wires": []}]), "malformed 'links'"),
    "x-is-text": (json.dumps([TAB, {"id": "a", "type": "inject", "z": "t", "x": "abc",
                                    "wires": []}]), "non-numeric 'x'"),
    "env-is-a-number": (json.dumps([{**TAB, "env": 5}]), "malformed 'env'"),
    "single-flow-configs-is-a-number": (json.dumps({"id": "t", "label": "x", "nodes": [],
                                                    "configs": 5}), "'configs'"),
    "subflow-in-is-an-object": (json.dumps([TAB, {"id": "s", "type": "subflow", "name": "s",
                                                  "in": {"a": 1}, "out": []}]),
                                "malformed 'in' ports"),
    "subflow-wire-is-text": (json.dumps([TAB, {"id": "s", "type": "subflow", "name": "s",
                                               "in": [], "out": [{"wires": ["x"]}]}]),
                             "malformed 'out' ports"),
    "nested-1200-deep": ("[" * 1200 + "]" * 1200, "nested too deeply"),
    "integer-of-5000-digits": ('[{"id": "a", "type": "inject", "x": ' + "9" * 5000 + "}]",
                               "out of range"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_flows_give_one_line_and_exit_2(run_acm, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    content, expected = HOSTILE[name]
    path = tmp_path / f"{name}.json"
    path.write_text(content, encoding="utf-8")
    result = run_acm("analyze", str(path))
    assert result.code == 2, result.err
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"acm: error: {path}: "), result.err
    assert expected in lines[0]
    assert "Traceback" not in result.err


def test_what_contrib_nodes_keep_in_env_or_links_is_their_business(run_acm, write_flows) -> None:  # type: ignore[no-untyped-def]
    """Only tabs, subflows and link nodes must have Node-RED's shapes there."""
    flows = [TAB, {"id": "a", "type": "some-contrib", "z": "t", "env": {"mode": "x"},
                   "links": 3, "broker": [], "wires": [[]]},
             {"id": "o", "type": "mqtt out", "z": "t", "broker": ["x"], "topic": "a/set",
              "wires": []},
             {"id": "i", "type": "mqtt in", "z": "t", "broker": {"id": 1}, "topic": "a/set",
              "wires": [[]]}]
    result = run_acm("analyze", str(write_flows(flows)))
    assert result.code == 0, result.err


def test_deeply_nested_settings_do_not_crash(run_acm, write_flows) -> None:  # type: ignore[no-untyped-def]
    deep: Any = "${X}"
    for _ in range(900):
        deep = [deep]
    flows = [TAB, {"id": "a", "type": "inject", "z": "t", "crontab": "0 7 * * *",
                   "payload": "[" * 900 + "]" * 900, "payloadType": "json", "wires": [["o"]]},
             {"id": "o", "type": "mqtt out", "z": "t", "topic": "a/set", "extra": deep,
              "wires": []}]
    result = run_acm("analyze", str(write_flows(flows)))
    assert result.code in (0, 1), result.err


def test_a_model_given_as_flows_suggests_model(run_acm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "site.yaml"
    path.write_text("version: 1\nruntimes: []\n", encoding="utf-8")
    result = run_acm("analyze", str(path))
    assert result.code == 2
    assert "--model" in result.err


def test_an_internal_error_is_exit_3_with_one_line(run_acm, write_flows, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A bug must not look like a finding (exit 1) or print a traceback."""
    import acm.cli

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(acm.cli, "analyze_flows", broken)
    monkeypatch.delenv("ACM_DEBUG", raising=False)
    path = str(write_flows([TAB]))
    result = run_acm("analyze", path)
    assert result.code == 3
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("acm: internal error (KeyError")
    assert "--debug" in lines[0]
    with pytest.raises(KeyError):  # --debug: the traceback, for the bug report
        run_acm("analyze", path, "--debug")


def _conflict_flows(name: str) -> list[dict[str, Any]]:
    return [tab("t1", name), tab("t2", "Night"), broker(),
            node("a", "inject", "t1", [["o1"]], payload="on", payloadType="str", name=name),
            node("o1", "mqtt out", "t1", [], topic="home/lamp/set", broker="broker"),
            node("b", "inject", "t2", [["o2"]], payload="off", payloadType="str"),
            node("o2", "mqtt out", "t2", [], topic="home/lamp/set", broker="broker")]


def test_output_onto_the_input_with_a_lone_surrogate(run_acm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A name with an escaped lone surrogate (valid JSON) is written back, not lost."""
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(_conflict_flows("Lamp \ud800")), encoding="utf-8")
    before = json.loads(path.read_text(encoding="utf-8"))
    result = run_acm("resolve", str(path), "-o", str(path))
    assert result.code == 0, result.err
    after = json.loads(path.read_text(encoding="utf-8"))
    assert len(after) > len(before)
    assert any(n.get("name") == "Lamp \ud800" for n in after)
    text = run_acm("analyze", str(path), "--format", "json")
    assert text.code in (0, 1) and text.err == ""


def test_a_failed_write_leaves_the_file_intact(run_acm, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The disk fills up half way: the flows file keeps every byte, no temporary is left."""
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(_conflict_flows("Lamp")), encoding="utf-8")
    original = path.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    result = run_acm("resolve", str(path), "-o", str(path))
    assert result.code == 2
    last = result.err.splitlines()[-1]  # after the plan resolve announces
    assert last.startswith("acm: error: ") and "No space left" in last and "unchanged" in last
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flows.json"]


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown"])
def test_secrets_in_request_urls_never_reach_a_report(run_acm, write_flows, fmt: str) -> None:  # type: ignore[no-untyped-def]
    url = "https://ann:hunter2@plug.local/relay/0/set?token=abc123&room=1"
    flows = [tab("t1", "Evening"), tab("t2", "Night")]
    for z, payload in (("t1", "on"), ("t2", "off")):
        flows += [node(f"{z}.in", "inject", z, [[f"{z}.out"]], payload=payload,
                       payloadType="str"),
                  node(f"{z}.out", "http request", z, [], method="POST", url=url)]
    result = run_acm("analyze", str(write_flows(flows)), "--format", fmt)
    assert result.code == 1, result.err
    for secret in ("hunter2", "abc123"):
        assert secret not in result.out + result.err
    if fmt != "markdown":  # (markdown escapes the stars)
        assert "ann:***@plug.local/relay/0/set?token=***&room=1" in result.out


def test_escape_sequences_from_flows_do_not_reach_the_terminal(run_acm, write_flows) -> None:  # type: ignore[no-untyped-def]
    name = "Evening\x1b]0;pwned\x07\x1b[2J"
    result = run_acm("analyze", str(write_flows(_conflict_flows(name))))
    assert result.code == 1
    assert "\x1b" not in result.out and "\x07" not in result.out
    assert "Evening\\x1b]0;pwned\\x07\\x1b[2J" in result.out  # shown, harmlessly
