"""The ``acm`` command line: text and JSON reports, exit codes, options, examples."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, broker, node, tab

BUILDING = ROOT / "flows" / "building" / "flows.json"
QUIET = ROOT / "flows" / "quiet" / "flows.json"
BROKER = "mqtt:mqtt.local:1883"


def commanding_tab(tab_id: str, label: str, payload: str | None, topic: str,
                   trigger_name: str = "tick", out_name: str = "out",
                   via: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """inject -> [change nodes named ``via``] -> [function if payload is None] -> mqtt out."""
    nodes: list[dict[str, Any]] = [tab(tab_id, label)]
    chain = [f"{tab_id}-in"]
    middle: list[dict[str, Any]] = []
    for i, name in enumerate(via):
        middle.append(node(f"{tab_id}-via{i}", "change", tab_id, name=name, rules=[]))
        chain.append(f"{tab_id}-via{i}")
    if payload is None:
        middle.append(node(f"{tab_id}-fn", "function", tab_id, name="compute",
                           func="msg.payload = Math.random(); return msg;", outputs=1))
        chain.append(f"{tab_id}-fn")
    chain.append(f"{tab_id}-out")
    nodes.append(node(f"{tab_id}-in", "inject", tab_id, name=trigger_name,
                      payload="" if payload is None else payload,
                      payloadType="date" if payload is None else "str",
                      props=[{"p": "payload"}]))
    nodes += middle
    nodes.append(node(f"{tab_id}-out", "mqtt out", tab_id, name=out_name, topic=topic,
                      broker="broker", qos="1", retain="false"))
    by_id = {n["id"]: n for n in nodes}
    for src, dst in zip(chain[:-1], chain[1:], strict=True):
        by_id[src]["wires"] = [[dst]]
    return nodes


def two_apps(p1: str | None, p2: str | None, topic: str = "home/lamp/set") -> list[dict[str, Any]]:
    return [broker(), *commanding_tab("t1", "Lighting", p1, topic),
            *commanding_tab("t2", "Security", p2, topic)]


ERROR_FLOWS = lambda: two_apps("on", "off")  # noqa: E731
WARNING_FLOWS = lambda: two_apps("on", None)  # noqa: E731
INFO_FLOWS = lambda: two_apps("on", "on")  # noqa: E731
CLEAN_FLOWS = lambda: [broker(), *commanding_tab("t1", "Lighting", "on", "a/set"),  # noqa: E731
                       *commanding_tab("t2", "Security", "off", "b/set")]


# --------------------------------------------------------------------------- text output


def test_text_groups_by_actuator_key_and_names_paths(run_acm, write_flows):
    flows = [broker(),
             *commanding_tab("t1", "Lighting", "on", "home/lamp/set", "hall PIR", "lamp"),
             *commanding_tab("t2", "Security", "off", "home/lamp/set", "alarm armed", "lamp",
                             via=("all off",)),
             *commanding_tab("t3", "Heating", "on", "home/heater/set", "morning", "heater"),
             *commanding_tab("t4", "Energy", "off", "home/heater/set", "peak", "heater")]
    result = run_acm("analyze", str(write_flows(flows)))
    assert result.code == 1
    lines = result.out.splitlines()
    assert "2 conflicts" in " ".join(lines[:2])  # the summary leads (wrapped if long)
    lamp_key = f"{BROKER}/home/lamp/set"
    heater_key = f"{BROKER}/home/heater/set"
    assert lamp_key in lines and heater_key in lines  # each key on a line of its own
    lamp_block = result.out.split(lamp_key)[1].split(heater_key)[0] \
        if result.out.index(lamp_key) < result.out.index(heater_key) \
        else result.out.split(lamp_key)[1]
    assert "Lighting (automation): hall PIR -> lamp" in lamp_block
    assert "Security (automation): alarm armed -> all off -> lamp" in lamp_block
    assert "heater" not in lamp_block.replace("home/heater", "")
    assert "ERROR" in lamp_block and "ACM001" in lamp_block
    assert "Heating (automation): morning -> heater" in result.out
    assert "Energy (automation): peak -> heater" in result.out
    # node ids are not shown where a name exists
    assert "t1-in" not in result.out


def test_text_no_conflicts(run_acm, write_flows):
    result = run_acm("analyze", str(write_flows(CLEAN_FLOWS())))
    assert result.code == 0
    assert "0 conflicts" in result.out
    assert "ERROR" not in result.out


def _assert_narrow(text: str) -> None:
    too_long = [line for line in text.splitlines() if len(line) > 80]
    assert not too_long, "\n".join(f"{len(line)}: {line}" for line in too_long)


def test_text_wraps_long_names_to_80_columns(run_acm, write_flows, tmp_path,
                                             monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short file name in the summary line
    long_label = "Facilities management – lighting and presence automation for floors 1 to 4"
    long_trigger = "passive infrared motion sensor in the main entrance hall (north side)"
    long_step = "convert occupancy to on/off with a five minute run-on and manual override"
    long_out = "entrance hall ceiling lights, circuit 14, distribution board DB-1"
    word = "x" * 95  # a single word longer than a line
    flows = [broker(),
             *commanding_tab("t1", long_label, "on", "building/hall/light/set", long_trigger,
                             long_out, via=(long_step, word)),
             *commanding_tab("t2", "Security " + long_label, "off", "building/hall/light/set",
                             long_trigger, long_out)]
    write_flows(flows, "flows.json")
    result = run_acm("analyze", "flows.json")
    assert result.code == 1
    _assert_narrow(result.out)
    flat = " ".join(result.out.split())
    assert long_trigger.split()[0] in flat and "DB-1" in flat


def test_text_summary_line_fits_80_columns(run_acm):
    result = run_acm("analyze", str(BUILDING))
    assert result.code == 1
    _assert_narrow(result.out)


def test_text_unknown_target_note_fits_80_columns(run_acm, write_flows, tmp_path,
                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    flows = [tab("t1", "A"), broker(),
             node("i", "inject", "t1", [["o"]], payload="on", payloadType="str"),
             node("o", "mqtt out", "t1", topic="", broker="broker")]
    write_flows(flows, "f.json")
    result = run_acm("analyze", "f.json")
    assert result.code == 0
    assert "run time" in result.out
    _assert_narrow(result.out)


# --------------------------------------------------------------------------- JSON output


def test_json_follows_contract(run_acm, write_flows):
    result = run_acm("analyze", str(write_flows(ERROR_FLOWS())), "--format", "json")
    assert result.code == 1
    doc = result.json()
    assert doc["schema"] == "acm.findings/1"
    assert isinstance(doc["actuators"], list)
    assert isinstance(doc["stats"], dict)
    [conflict] = doc["conflicts"]
    for field in ("id", "rule", "kind", "severity", "actuators", "applications", "paths",
                  "message"):
        assert field in conflict, field
    assert conflict["rule"] == "direct"
    assert conflict["kind"] == "direct"
    assert conflict["severity"] == "error"
    assert conflict["actuators"] == [
        {**conflict["actuators"][0], "key": f"{BROKER}/home/lamp/set"}]
    assert sorted(conflict["actuators"][0]["nodes"]) == ["t1-out", "t2-out"]
    assert sorted(conflict["applications"]) == ["t1", "t2"]
    assert sorted(conflict["paths"]) == [["t1-in", "t1-out"], ["t2-in", "t2-out"]]
    assert isinstance(conflict["message"], str) and conflict["message"]
    assert isinstance(conflict["id"], str) and conflict["id"]


def test_json_short_option_and_valid_utf8(run_acm, write_flows):
    flows = ERROR_FLOWS()
    flows[1]["label"] = "Éclairage – salon"
    result = run_acm("analyze", str(write_flows(flows)), "-f", "json")
    assert result.json()["schema"] == "acm.findings/1"


def _ids(run_acm, path: Path) -> dict[str, str]:
    doc = run_acm("analyze", str(path), "--format", "json").json()
    return {c["actuators"][0]["key"]: c["id"] for c in doc["conflicts"]}


def test_json_ids_stable_across_runs_and_unrelated_tabs(run_acm, write_flows):
    base = [*ERROR_FLOWS(), *commanding_tab("t3", "Heating", "on", "home/heater/set"),
            *commanding_tab("t4", "Energy", "off", "home/heater/set")]
    first = _ids(run_acm, write_flows(base))
    assert len(first) == 2
    assert len(set(first.values())) == 2
    assert _ids(run_acm, write_flows(base)) == first
    extended = base + commanding_tab("t5", "Garden", "on", "home/garden/valve/set")
    assert _ids(run_acm, write_flows(extended)) == first
    # node order in the file does not matter either
    assert _ids(run_acm, write_flows(list(reversed(base)))) == first


def test_json_building_ids_stable(run_acm):
    assert _ids(run_acm, BUILDING) == _ids(run_acm, BUILDING)


# --------------------------------------------------------------------------- exit codes


def test_exit_0_without_conflicts(run_acm, write_flows):
    assert run_acm("analyze", str(write_flows(CLEAN_FLOWS()))).code == 0


def test_exit_1_with_error_conflict(run_acm, write_flows):
    path = str(write_flows(ERROR_FLOWS()))
    assert run_acm("analyze", path).code == 1
    assert run_acm("analyze", path, "--fail-on", "error").code == 1
    assert run_acm("analyze", path, "--fail-on", "warning").code == 1
    assert run_acm("analyze", path, "--fail-on", "never").code == 0


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [(None, 0), ("error", 0), ("warning", 1), ("info", 1), ("never", 0)],
)
def test_fail_on_with_only_a_warning(run_acm, write_flows, fail_on, code):
    path = str(write_flows(WARNING_FLOWS()))
    doc = run_acm("analyze", path, "-f", "json").json()
    assert [c["severity"] for c in doc["conflicts"]] == ["warning"]
    args = ["analyze", path] + (["--fail-on", fail_on] if fail_on else [])
    assert run_acm(*args).code == code


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [(None, 0), ("error", 0), ("warning", 0), ("info", 1), ("never", 0)],
)
def test_fail_on_with_only_an_info(run_acm, write_flows, fail_on, code):
    path = str(write_flows(INFO_FLOWS()))
    doc = run_acm("analyze", path, "-f", "json").json()
    assert [c["severity"] for c in doc["conflicts"]] == ["info"]
    args = ["analyze", path] + (["--fail-on", fail_on] if fail_on else [])
    assert run_acm(*args).code == code


@pytest.mark.parametrize(
    "args",
    [
        ("analyze", "FLOWS", "--bogus"),
        ("analyze", "FLOWS", "--format", "xml"),
        ("analyze", "FLOWS", "--fail-on", "sometimes"),
        ("analyze",),
        ("analyze", "FLOWS", "--format"),
        ("nosuchcommand",),
        ("rules", "--explain"),
    ],
)
def test_usage_errors_exit_2(run_acm, write_flows, args):
    path = str(write_flows(ERROR_FLOWS()))
    result = run_acm(*(path if a == "FLOWS" else a for a in args))
    assert result.code == 2
    assert result.out == ""
    assert "Error" in result.err or "error" in result.err


def test_bad_flows_exit_2_with_one_line(run_acm, tmp_path):
    missing = tmp_path / "nothere.json"
    result = run_acm("analyze", str(missing))
    assert result.code == 2
    assert result.err.count("\n") == 1 and result.err.startswith("acm: error: ")
    assert str(missing) in result.err
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    result = run_acm("analyze", str(bad))
    assert result.code == 2
    assert result.err.count("\n") == 1 and result.err.startswith(f"acm: error: {bad}")


def test_stdin(run_acm, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(ERROR_FLOWS())))
    result = run_acm("analyze", "-", "-f", "json")
    assert result.code == 1
    assert len(result.json()["conflicts"]) == 1


# --------------------------------------------------------------------------- --output


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_output_file(run_acm, write_flows, tmp_path, fmt):
    flows = str(write_flows(ERROR_FLOWS()))
    target = tmp_path / f"report.{fmt}"
    result = run_acm("analyze", flows, "--format", fmt, "--output", str(target))
    assert result.code == 1
    assert result.out == ""
    assert result.err == ""
    written = target.read_text(encoding="utf-8")
    again = run_acm("analyze", flows, "--format", fmt).out
    if fmt == "json":
        doc, other = json.loads(written), json.loads(again)
        assert doc["schema"] == "acm.findings/1"
        doc["stats"].pop("seconds", None)  # timing differs from run to run
        other["stats"].pop("seconds", None)
        assert doc == other
    else:
        assert written == again
    short = tmp_path / "short.txt"
    assert run_acm("analyze", flows, "-o", str(short)).out == ""
    assert short.read_text(encoding="utf-8") == run_acm("analyze", flows).out


def test_output_into_missing_directory_is_a_one_line_error(run_acm, write_flows, tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "report.txt"
    result = run_acm("analyze", str(write_flows(ERROR_FLOWS())), "--output", str(target))
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("acm: error: ")
    assert str(target) in lines[0]


# --------------------------------------------------------------------------- acm rules


def test_rules_lists_code_name_levels_summary(run_acm):
    result = run_acm("rules")
    assert result.code == 0
    lines = result.out.splitlines()
    index = next(i for i, ln in enumerate(lines) if ln.startswith("ACM001"))
    assert re.search(r"\bdirect\b", lines[index])
    assert "error/warning/info" in lines[index]
    # the summary follows on indented lines, wrapped to the terminal
    assert lines[index + 1].strip() == ("One device is commanded by automations of two or more "
                                        "applications.")
    assert all(len(ln) <= 80 for ln in lines)


@pytest.mark.parametrize("which", ["ACM001", "acm001", "direct"])
def test_rules_explain(run_acm, which):
    result = run_acm("rules", "--explain", which)
    assert result.code == 0
    assert result.out.startswith("ACM001 direct")
    assert "Anti-pattern" in result.out and "Best practice" in result.out
    assert "Severity:" in result.out


def test_rules_explain_unknown(run_acm):
    result = run_acm("rules", "--explain", "ACM999")
    assert result.code == 2
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("acm: error: ")
    assert "ACM999" in lines[0] and "ACM001" in lines[0]


# --------------------------------------------------------------------------- help, version


def _mentions_exit_codes(text: str) -> bool:
    flat = " ".join(text.split()).lower()
    return "exit" in flat and all(re.search(rf"\b{n}\b", flat) for n in ("0", "1", "2"))


def test_top_level_help(run_acm):
    for flag in ("--help", "-h"):
        result = run_acm(flag)
        assert result.code == 0
        assert "analyze" in result.out and "rules" in result.out
        assert _mentions_exit_codes(result.out), result.out


def test_analyze_help(run_acm):
    result = run_acm("analyze", "--help")
    assert result.code == 0
    assert "--fail-on" in result.out and "--format" in result.out and "--output" in result.out
    assert _mentions_exit_codes(result.out)


def test_rules_help(run_acm):
    result = run_acm("rules", "--help")
    assert result.code == 0
    assert "--explain" in result.out


def test_version(run_acm):
    from acm import __version__

    result = run_acm("--version")
    assert result.code == 0
    assert "acm" in result.out and __version__ in result.out


# --------------------------------------------------------------------------- python -m acm


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def test_python_dash_m(tmp_path):
    flows = tmp_path / "flows.json"
    flows.write_text(json.dumps(ERROR_FLOWS()), encoding="utf-8")
    proc = subprocess.run([_python(), "-m", "acm", "analyze", str(flows), "-f", "json"],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["schema"] == "acm.findings/1"
    proc = subprocess.run([_python(), "-m", "acm", "analyze", "--nope"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- examples

LIGHT = "mqtt:mqtt.building.local:1883/building"
EXPECTED_BUILDING = {
    (f"{LIGHT}/hall/light/set", ("Lighting", "Security"), "error",
     ("6387ba50bc4da358", "b9925122694f10c6")),
    (f"{LIGHT}/lobby/light/set", ("Lighting", "Security"), "error", ("80c10d6cc7eb55e7",)),
    (f"{LIGHT}/floor1/heater/set", ("Comfort / HVAC", "Energy"), "error",
     ("51c2b027e62e2358", "c95d964526e49e36")),
    (f"{LIGHT}/lobby/blind/set", ("Comfort / HVAC", "Security"), "error",
     ("a26a3a3a21aa3f5f",)),
    (f"{LIGHT}/floor1/heater/setpoint", ("Comfort / HVAC", "Energy"), "warning",
     ("890aaa1756242a47", "d7f808c859ca9c92")),
    # the fire panel and the occupancy automation both switch it on: a repeated action
    ("ha:light.meeting_room", ("Lighting", "Security"), "info",
     ("4e426a92a0d0a4c2", "eb74c29d7e66535e")),
}


def test_building_example_json(run_acm):
    result = run_acm("analyze", str(BUILDING), "--format", "json")
    assert result.code == 1
    doc = result.json()
    names = {a["id"]: a["name"] for a in doc["applications"]}
    got = set()
    for c in doc["conflicts"]:
        [actuator] = c["actuators"]
        assert c["rule"] == "direct"
        got.add((actuator["key"], tuple(sorted(names[a] for a in c["applications"])),
                 c["severity"], tuple(sorted(actuator["nodes"]))))
    assert got == EXPECTED_BUILDING
    assert len(doc["conflicts"]) == 6
    assert all("Shared actuators" not in names[a]
               for c in doc["conflicts"] for a in c["applications"])
    keys = {a["key"] for c in doc["conflicts"] for a in c["actuators"]}
    assert f"{LIGHT}/floor1/ventilation/set" not in keys
    assert f"{LIGHT}/siren/set" not in keys


def test_building_example_text(run_acm):
    result = run_acm("analyze", str(BUILDING))
    assert result.code == 1
    assert "6 conflicts (4 error, 1 warning, 1 info)" in result.out
    lines = result.out.splitlines()
    for key, apps, _, _ in EXPECTED_BUILDING:
        assert key in lines
        block = result.out.split(key + "\n")[1].split("\n\n")[0]
        flat = " ".join(block.split())
        for app in apps:
            assert re.search(rf"- {re.escape(app)} \((automation|external|manual)\): ", flat), \
                (key, app)
    assert "Shared actuators:" not in result.out


def test_building_example_fail_on_never(run_acm):
    assert run_acm("analyze", str(BUILDING), "--fail-on", "never").code == 0


def test_quiet_example(run_acm):
    result = run_acm("analyze", str(QUIET), "--format", "json")
    assert result.code == 0
    doc = result.json()
    assert [c for c in doc["conflicts"] if c["severity"] in ("warning", "error")] == []
    assert run_acm("analyze", str(QUIET), "--fail-on", "warning").code == 0
    text = run_acm("analyze", str(QUIET))
    assert text.code == 0
    assert "ERROR" not in text.out and "WARN" not in text.out


def test_tabs_with_the_same_label_are_told_apart(run_acm, write_flows):
    flows = [broker(),
             *commanding_tab("t1", "Lights", "on", "home/lamp/set", "dusk", "lamp"),
             *commanding_tab("t2", "Lights", "off", "home/lamp/set", "midnight", "lamp")]
    path = str(write_flows(flows))
    text = run_acm("analyze", path).out
    assert "Lights (t1)" in text and "Lights (t2)" in text
    doc = run_acm("analyze", path, "--format", "json").json()
    assert {a["name"] for a in doc["applications"]} == {"Lights (t1)", "Lights (t2)"}
    markdown = run_acm("analyze", path, "--format", "markdown").out
    assert r"Lights \(t1\)" in markdown and r"Lights \(t2\)" in markdown  # escaped


# --------------------------------------------------------------------------- URL credentials

# Nothing listens on port 9 (discard): an error about the usage proves it came first.
URL_WITH_USER = "http://admin:s3cr3t@127.0.0.1:9"
ONLINE = [("apply", "--url", URL_WITH_USER, "--backup-dir", "BACKUPS"),
          ("revert", "--url", URL_WITH_USER, "--backup-dir", "BACKUPS"),
          ("watch", "--url", URL_WITH_USER, "--once", "--timeout", "1")]


@pytest.fixture
def no_token_env(monkeypatch):
    for name in ("ACM_NODERED_TOKEN", "ACM_NODERED_USERNAME", "ACM_NODERED_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("args", ONLINE, ids=[a[0] for a in ONLINE])
@pytest.mark.parametrize("token", ["env", "file", "login"])
def test_credentials_in_the_url_and_a_token_is_a_usage_error(
        run_acm, no_token_env, tmp_path, args, token):
    extra: tuple[str, ...] = ()
    if token == "env":
        no_token_env.setenv("ACM_NODERED_TOKEN", "tok-123")
    elif token == "file":
        (tmp_path / "token").write_text("tok-123\n", encoding="utf-8")
        extra = ("--token-file", str(tmp_path / "token"))
    else:
        no_token_env.setenv("ACM_NODERED_USERNAME", "admin")
        no_token_env.setenv("ACM_NODERED_PASSWORD", "pw-123")
    backups = tmp_path / "backups"
    result = run_acm(*(str(backups) if a == "BACKUPS" else a for a in args), *extra)
    assert result.code == 2, result.err
    assert "give either credentials in the URL or a token, not both" in result.err
    assert {"--token-file": token == "file", "$ACM_NODERED_TOKEN": token == "env",
            "a login with $ACM_NODERED_USERNAME": token == "login"} == \
        {word: word in result.err for word in ("--token-file", "$ACM_NODERED_TOKEN",
                                               "a login with $ACM_NODERED_USERNAME")}
    assert "refused" not in result.err and "connect" not in result.err
    for secret in ("s3cr3t", "tok-123", "pw-123"):
        assert secret not in result.err
    assert not backups.exists()


def test_credentials_in_the_url_alone_are_used_as_they_are(run_acm, no_token_env, tmp_path):
    """No token: the URL's user and password go to the server (here, nobody listening)."""
    result = run_acm("revert", "--url", URL_WITH_USER, "--backup-dir", str(tmp_path / "b"))
    assert result.code == 2
    assert "connection refused" in result.err and "not both" not in result.err
    assert "s3cr3t" not in result.err
