"""The runtime monitor's logic, without a network (acm/nodered/monitor.py); the broker side is
tests/test_monitor_e2e.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT

import acm
from acm.analysis.actuators import NodeRef
from acm.errors import AcmError
from acm.nodered.monitor import (
    PER_ACTUATOR,
    Monitor,
    Watched,
    merge_observed,
    read_findings,
    watched_from,
    write_findings,
)

ADDRESS = "mqtt.local:1883"
LAMP = Watched("mqtt:mqtt.local:1883/hall/lamp/set", "Hall lamp", ADDRESS, "hall/lamp/set")


def test_different_values_from_unknown_sources_within_the_window() -> None:
    monitor = Monitor([LAMP], window=60)
    command, conflict = monitor.observe(ADDRESS, "hall/lamp/set", b"on", 100.0)
    assert command is not None and command.source == "unknown" and conflict is None
    _, conflict = monitor.observe(ADDRESS, "hall/lamp/set", b"off", 110.0)
    assert conflict is not None and conflict.severity == "warning"
    assert "static analysis does not see it" in conflict.message


def test_outside_the_window_same_value_retained_and_unknown_topics_are_no_conflict() -> None:
    monitor = Monitor([LAMP], window=5)
    monitor.observe(ADDRESS, "hall/lamp/set", b"on", 100.0)
    assert monitor.observe(ADDRESS, "hall/lamp/set", b"off", 106.0)[1] is None
    assert monitor.observe(ADDRESS, "hall/lamp/set", b'"off"', 107.0)[1] is None  # same value
    assert monitor.observe(ADDRESS, "hall/lamp/set", b"on", 107.5, retained=True) == (None, None)
    assert monitor.observe(ADDRESS, "other/set", b"on", 107.5) == (None, None)
    assert monitor.observe("other:1883", "hall/lamp/set", b"on", 107.5) == (None, None)
    assert monitor.commands == 3 and not monitor.conflicts


@pytest.mark.parametrize(("first", "second"), [
    (b"21", b"21.0"), (b"21", b" 21 "), (b"on", b'"on"'), (b'{"a": 1, "b": 2}', b'{"b":2,"a":1}'),
    (b"2.5", b"2.50"), (b"1e3", b"1000")])
def test_one_command_written_two_ways_is_no_conflict(first: bytes, second: bytes) -> None:
    monitor = Monitor([LAMP], window=60)
    monitor.observe(ADDRESS, "hall/lamp/set", first, 1.0)
    assert monitor.observe(ADDRESS, "hall/lamp/set", second, 2.0)[1] is None
    assert monitor.observe(ADDRESS, "hall/lamp/set", b"22", 3.0)[1] is not None  # differs


def test_a_broker_never_reached_within_the_duration_is_an_error(run_acm, tmp_path) -> None:
    """Not "0 commands, no conflict" (exit 0): nothing was monitored, and an earlier
    findings file is left as it was."""
    out = tmp_path / "observed.json"
    out.write_text("earlier", encoding="utf-8")
    result = run_acm("monitor", "--model", str(ROOT / "flows/site/site.yaml"), "--broker",
                     "office-mqtt=127.0.0.1:1", "--duration", "1.5", "--write-findings", str(out))
    assert result.code == 2, result.err
    assert "no broker could be reached in 1.5 s: nothing was monitored" in result.err
    assert out.read_text(encoding="utf-8") == "earlier"


def test_tagged_applications_and_the_resolver() -> None:
    monitor = Monitor([LAMP], window=60)
    monitor.observe(ADDRESS, "hall/lamp/set", b"on", 1.0, tag="morning")
    assert monitor.observe(ADDRESS, "hall/lamp/set", b"off", 2.0, tag="morning")[1] is None
    _, conflict = monitor.observe(ADDRESS, "hall/lamp/set", b"on", 3.0, tag="away")
    assert conflict is not None and conflict.severity == "error"
    assert conflict.finding().applications == ("away", "morning")
    managed = Monitor([Watched(LAMP.key, LAMP.name, ADDRESS, LAMP.topic, managed_by="priority")])
    managed.observe(ADDRESS, "hall/lamp/set", b"on", 1.0)
    assert managed.observe(ADDRESS, "hall/lamp/set", b"off", 2.0)[1] is None  # one arbiter


def test_memory_is_bounded_per_actuator() -> None:
    monitor = Monitor([LAMP], window=1e9)
    for i in range(10 * PER_ACTUATOR):
        monitor.observe(ADDRESS, "hall/lamp/set", str(i % 2).encode(), float(i), tag="a")
    assert len(monitor.recent[LAMP.key]) == PER_ACTUATOR


def test_baseline_suppresses_known_conflicts() -> None:
    first = Monitor([LAMP])
    first.observe(ADDRESS, "hall/lamp/set", b"on", 1.0)
    _, conflict = first.observe(ADDRESS, "hall/lamp/set", b"off", 2.0)
    assert conflict is not None
    again = Monitor([LAMP], baseline=frozenset({conflict.finding().id}))
    again.observe(ADDRESS, "hall/lamp/set", b"on", 1.0)
    assert again.observe(ADDRESS, "hall/lamp/set", b"off", 2.0)[1] is None
    assert again.baselined == 1


def test_watched_actuators_of_the_bundled_site_say_what_static_analysis_knows() -> None:
    from acm.model import load_model

    model = load_model(ROOT / "flows" / "site" / "site.yaml")
    report = acm.analyze_model(model)
    watched = {w.topic: w for w in watched_from(report, model.brokers)}
    heater = watched["office/heater/set"]
    assert {s.split("-")[0] for s in heater.static} == {"ACM001", "ACM004"}
    # every MQTT target of the site is known: a constant only Comfort sends is Comfort's
    assert heater.senders == {"on": {"comfort"}, "off": {"comfort", "gateway/8d7403d9215189ac"}}
    monitor = Monitor([heater])
    assert monitor.attribute(heater, "on", None) == ("comfort", "inferred")
    assert monitor.attribute(heater, "off", None) == ("unknown", "unknown")


def test_findings_file_round_trip(tmp_path: Path) -> None:
    model_path = ROOT / "flows" / "site" / "site.yaml"
    report = acm.analyze_model(model_path)
    heater = next(a for a in report.actuators if a.key.endswith("office/heater/set"))
    watched = Watched(heater.key, heater.name, "mqtt.office.local:1883", "office/heater/set",
                      heater.nodes, ("ACM001-e7e40d88f460",))
    monitor = Monitor([watched])
    monitor.observe(watched.address, watched.topic, b"on", 1.0)
    monitor.observe(watched.address, watched.topic, b"off", 2.0)
    path = tmp_path / "observed.json"
    assert write_findings(monitor, path, report.sources) == 1
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["schema"] == "acm.findings/1"
    (item,) = document["conflicts"]
    assert item["observed"]["static"] == ["ACM001-e7e40d88f460"]
    observed = read_findings(path, report)
    merged = merge_observed(report, observed)
    assert len(merged.findings) == len(report.findings) + 1
    assert merged.stats["observed"] == 1
    assert "ACM012" in {r.code for r in merged.rules}
    (found,) = [f for f in merged.findings if f.observed is not None]
    assert NodeRef("hub", "d14cc146a78a9fed") in found.nodes
    from acm.output import render

    for fmt in ("text", "json", "sarif", "markdown"):
        assert "Office heater" in render(merged, fmt)


def test_a_file_that_is_not_findings_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"schema": "acm.baseline/1"}', encoding="utf-8")
    report = acm.analyze_model(ROOT / "flows" / "site" / "site.yaml")
    with pytest.raises(AcmError, match="not an ACM findings file"):
        read_findings(path, report)


def test_monitor_help_and_usage(run_acm) -> None:
    result = run_acm("monitor", "--help")
    assert result.code == 0 and "--write-findings" in result.out
    result = run_acm("monitor", "--model", str(ROOT / "flows" / "site" / "site.yaml"),
                     "--broker", "nonsense")
    assert result.code == 2 and "ID=HOST:PORT" in result.err


def test_acm_rules_lists_and_explains_the_runtime_rule(run_acm) -> None:
    """ACM012 comes from acm monitor, not from the rule files, but users look it up there."""
    listed = run_acm("rules")
    assert listed.code == 0 and "ACM012" in listed.out and "runtime" in listed.out
    explained = run_acm("rules", "--explain", "ACM012")
    assert explained.code == 0, explained.err
    assert explained.out.startswith("ACM012 runtime") and "acm monitor" in explained.out


def test_a_bad_broker_address_is_a_usage_error(run_acm) -> None:
    model = str(ROOT / "flows" / "site" / "site.yaml")
    for bad in ("office-mqtt=localhost:abc", "office-mqtt=localhost:70000", "office-mqtt=:1883",
                "office-mqtt=localhost"):
        result = run_acm("monitor", "--model", model, "--broker", bad)
        assert result.code == 2, (bad, result.err)
        assert "ID=HOST:PORT" in result.err and "Traceback" not in result.err


def test_sigterm_ends_like_ctrl_c_with_summary_and_findings_file(tmp_path: Path) -> None:
    """docker stop and systemd send SIGTERM: what was recorded must not be lost; a broker
    that cannot be reached is said so on standard error."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "observed.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "acm", "monitor", "--model", str(ROOT / "flows/site/site.yaml"),
         "--broker", "office-mqtt=127.0.0.1:1", "--write-findings", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "cannot connect to 127.0.0.1:1" in err
    assert "stopped" in err and "runtime conflict(s)" in err
    assert json.loads(out.read_text(encoding="utf-8"))["schema"] == "acm.findings/1"
