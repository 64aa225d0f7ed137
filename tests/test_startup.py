"""Start-up and whole-run mechanisms: commands import what they need, when they need it.

``acm --help``, ``acm --version``, ``acm rules`` and ``acm model check`` must not
load the graph stack (networkx); ``acm --help`` loads nothing of the analysis at
all. Each case runs in a fresh interpreter and reads ``sys.modules`` after the
command. The public API (``import acm; acm.analyze(...)``) still works with its
names loaded on first use. A CLI run keeps the cyclic garbage collector off
from start to end and restores it after. How fast all this is lives in
``benchmarks/run.py``, not here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import node, tab

import acm
import acm.cli.options
import acm.cli.resolve
from acm.analysis.findings import SEVERITIES

ROOT = Path(__file__).resolve().parent.parent

# Runs ``acm ARGS`` through acm.cli.main in this interpreter, then writes the exit
# code and every module imported so far to the file named by the first argument.
WRAPPER = """
import json, sys
import acm.cli
code = acm.cli.main(sys.argv[2:])
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""

GRAPH_STACK = "networkx"
ANALYSIS = ("acm.engine", "acm.analysis.graph", "acm.rules.ruleset", "lark", "yaml", GRAPH_STACK)


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def run_and_list_modules(tmp_path: Path, *args: str,
                         cache: Path | None = None) -> tuple[int, set[str]]:
    """Run ``acm ARGS`` in a fresh interpreter: its exit code and the modules it imported
    (with ``cache`` as its cache folder, when given)."""
    report = tmp_path / "modules.json"
    env = dict(os.environ, **({"XDG_CACHE_HOME": str(cache)} if cache else {}))
    proc = subprocess.run([_python(), "-c", WRAPPER, str(report), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=env)
    assert report.exists(), proc.stderr
    found = json.loads(report.read_text(encoding="utf-8"))
    return found["code"], set(found["modules"])


def loaded(modules: set[str], package: str) -> bool:
    return package in modules or any(m.startswith(package + ".") for m in modules)


def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "flows.json"
    path.write_text(json.dumps([
        tab("t1", "Lights"),
        node("i1", "inject", "t1", [["o1"]], repeat="60"),
        node("o1", "mqtt out", "t1", [], topic="home/lamp/set", broker="b1"),
        {"id": "b1", "type": "mqtt-broker", "broker": "mqtt.local", "port": "1883"},
    ]), encoding="utf-8")
    return path


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("analyze", "--help")])
def test_help_and_version_load_nothing_of_the_analysis(tmp_path: Path,
                                                       args: tuple[str, ...]) -> None:
    code, modules = run_and_list_modules(tmp_path, *args)
    assert code == 0
    assert not [m for m in ANALYSIS if loaded(modules, m)], sorted(
        m for m in modules if m.startswith(("acm", "networkx", "lark", "yaml")))


def test_resolve_help_lists_the_strategies_without_the_graph_stack(tmp_path: Path) -> None:
    """Its --strategy choices come from the strategy manifest, read for the help only."""
    code, modules = run_and_list_modules(tmp_path, "resolve", "--help")
    assert code == 0
    assert "acm.rewrite.policy" in modules and not loaded(modules, GRAPH_STACK)


def test_rules_does_not_load_the_graph_stack(tmp_path: Path) -> None:
    code, modules = run_and_list_modules(tmp_path, "rules")
    assert code == 0
    assert "acm.rules.ruleset" in modules  # it did read the rules ...
    assert not loaded(modules, GRAPH_STACK)  # ... without networkx


def test_rules_explain_does_not_load_the_graph_stack(tmp_path: Path) -> None:
    code, modules = run_and_list_modules(tmp_path, "rules", "--explain", "direct")
    assert code == 0
    assert not loaded(modules, GRAPH_STACK)


def test_model_check_does_not_load_the_graph_stack(tmp_path: Path) -> None:
    flows_file(tmp_path)
    model = tmp_path / "site.yaml"
    model.write_text("version: 1\nname: Flat\nruntimes:\n  - {id: pi, flows: flows.json}\n"
                     "applications:\n  - {id: lights, name: Lights, tabs: [Lights]}\n",
                     encoding="utf-8")
    code, modules = run_and_list_modules(tmp_path, "model", "check", str(model))
    assert code == 0
    assert "acm.model" in modules and "acm.engine" in modules  # it checked the applications
    assert not loaded(modules, GRAPH_STACK)


def test_analyze_does_load_the_graph_stack(tmp_path: Path) -> None:
    """The check above is not vacuous: the command that builds a graph imports networkx."""
    code, modules = run_and_list_modules(tmp_path, "analyze", str(flows_file(tmp_path)))
    assert code == 0
    assert loaded(modules, GRAPH_STACK)
    assert not loaded(modules, "yaml")  # no model given: the model reader stays unloaded


def test_analyze_reads_the_built_in_rules_from_the_cache_without_lark(tmp_path: Path) -> None:
    """The first run parses the built-in rules (lark) and caches them; later runs do not
    load the parser at all, until the user gives a rule file of their own."""
    flows = str(flows_file(tmp_path))
    code, modules = run_and_list_modules(tmp_path, "analyze", flows, cache=tmp_path / "c")
    assert code == 0 and loaded(modules, "lark")
    code, modules = run_and_list_modules(tmp_path, "analyze", flows, cache=tmp_path / "c")
    assert code == 0 and not loaded(modules, "lark")
    rules = tmp_path / "mine.acm"
    rules.write_text("override direct severity warning\n", encoding="utf-8")
    code, modules = run_and_list_modules(tmp_path, "analyze", flows, "--rules", str(rules),
                                         cache=tmp_path / "c")
    assert code == 0 and loaded(modules, "lark")


def test_import_acm_loads_only_the_package(tmp_path: Path) -> None:
    proc = subprocess.run(
        [_python(), "-c", "import json, sys, acm; print(json.dumps(sorted(sys.modules)))"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True)
    modules = set(json.loads(proc.stdout))
    # acm.version (one constant) is the only submodule the package root reads
    assert not [m for m in modules if m.startswith("acm.") and m != "acm.version"]
    assert not loaded(modules, "click") and not loaded(modules, GRAPH_STACK)


# --------------------------------------------------------------------------- public API


def test_public_api_as_the_readme_shows_it(tmp_path: Path) -> None:
    report = acm.analyze(flows_file(tmp_path))
    assert isinstance(report, acm.Report)
    assert report.stats["actuators"] == 1
    doc = json.loads(acm.render(report, "json"))
    assert doc["schema"] == "acm.findings/1"
    assert doc["actuators"][0]["key"] == "mqtt:mqtt.local:1883/home/lamp/set"


def test_every_public_name_resolves() -> None:
    for name in acm.__all__:
        assert getattr(acm, name) is not None, name
    assert set(acm.__all__) <= set(dir(acm))
    from acm import FORMATTERS, analyze_flows, flows_from_data, load_ruleset

    report = analyze_flows({"local": flows_from_data([tab("t1")])}, load_ruleset())
    assert set(FORMATTERS) == {"text", "json", "sarif", "markdown"}
    assert all(callable(FORMATTERS[name]) and FORMATTERS[name](report) for name in FORMATTERS)
    with pytest.raises(AttributeError):
        acm.no_such_name  # noqa: B018


def test_the_names_the_cli_writes_out_match_the_library() -> None:
    """--fail-on and --format list names without importing the modules that define them."""
    from acm.output import FORMATS, MODULES
    from acm.rewrite.policy import STRATEGIES

    assert acm.cli.options.FAIL_ON == [*reversed(SEVERITIES), "never"]
    assert set(FORMATS) == set(MODULES) == set(acm.FORMATTERS)
    option = next(p for p in acm.cli.resolve.resolve.params if p.name == "strategy")
    assert list(option.type.choices) == sorted(STRATEGIES)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- GC for the run


def test_a_run_has_no_cyclic_gc_and_restores_it(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from acm.output import json_format

    seen: list[bool] = []
    real = json_format.pieces

    def pieces(report: Any) -> Any:
        seen.append(gc.isenabled())  # rendering is the end of the run
        return real(report)

    monkeypatch.setattr(json_format, "pieces", pieces)
    path = flows_file(tmp_path)
    assert gc.isenabled()
    assert acm.cli.main(["analyze", str(path), "-f", "json", "-o", str(tmp_path / "a")]) == 0
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:  # a caller that had it off keeps it off
        assert acm.cli.main(["analyze", str(path), "-f", "json", "-o", str(tmp_path / "b")]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert acm.cli.main(["analyze", "no-such-file.json"]) == 2  # and so does a failed run
    assert gc.isenabled()


# --------------------------------------------------------------------------- the end of a run


def big_flows(tmp_path: Path, tabs: int = 150) -> Path:
    """Tabs that each switch the same lamp: a report larger than a pipe holds (64 KiB)."""
    nodes: list[dict[str, Any]] = [
        {"id": "b1", "type": "mqtt-broker", "broker": "mqtt.local", "port": "1883"}]
    for i in range(tabs):
        nodes += [tab(f"t{i}", f"Tab {i}"),
                  node(f"i{i}", "inject", f"t{i}", [[f"o{i}"]], repeat="60",
                       payload="on" if i % 2 else "off", payloadType="str"),
                  node(f"o{i}", "mqtt out", f"t{i}", [], topic="home/lamp/set", broker="b1")]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(nodes), encoding="utf-8")
    return path


@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "file"])
def test_the_command_writes_its_whole_report_before_the_process_ends(
        tmp_path: Path, to_file: bool) -> None:
    """``acm analyze`` ends its process without freeing the analysis (os._exit): what
    it wrote must all be there, with the exit code a library call returns."""
    path = big_flows(tmp_path)
    expected = tmp_path / "expected.json"
    code = acm.cli.main(["analyze", str(path), "-f", "json", "-o", str(expected)])
    target = ["-o", str(tmp_path / "out.json")] if to_file else []
    proc = subprocess.run([_python(), "-m", "acm", "analyze", str(path), "-f", "json", *target],
                          cwd=tmp_path, capture_output=True, timeout=120)
    assert proc.returncode == code == 1, proc.stderr
    written = (tmp_path / "out.json").read_bytes() if to_file else proc.stdout
    strip = re.compile(rb'"seconds": [0-9.e-]+')
    assert strip.sub(b"", written) == strip.sub(b"", expected.read_bytes())
    assert len(written) > 65_536 and proc.stderr == b""


def test_a_library_call_keeps_nothing_after_it_returns(tmp_path: Path) -> None:
    from acm.cli import lifetime

    assert acm.cli.main(["analyze", str(big_flows(tmp_path, 4)), "-o", str(tmp_path / "r")]) == 1
    assert not lifetime.kept()
