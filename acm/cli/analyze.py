"""``acm analyze``, ``acm check``, ``acm model check`` and ``acm rules``: finding conflicts."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence

import click

from ..errors import AcmError
from ..output import FORMATS
from .console import echo, one_line, write_output
from .options import FAIL_ON, RULES_OPTION


@click.command()
@click.argument("flows", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--model", "-m", "model_path", type=click.Path(dir_okay=False), metavar="MODEL",
              help="Deployment model (YAML): analyse every runtime's flows together. With "
              "FLOWS too, report only conflicts that involve that runtime's flows.")
@RULES_OPTION
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="text",
              show_default=True, help="Output format.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Exit 1 when a conflict at or above this severity is found.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Write the report to FILE instead of standard output.")
@click.option("--baseline", type=click.Path(dir_okay=False), metavar="FILE",
              help="Report only conflicts not recorded in this baseline file.")
@click.option("--write-baseline", type=click.Path(dir_okay=False), metavar="FILE",
              help="Record the current conflicts in FILE (then gate new ones with --baseline).")
@click.option("--runtime-findings", type=click.Path(dir_okay=False), metavar="FILE",
              help="Add the conflicts acm monitor observed (its --write-findings FILE), "
              "marked as observed.")
def analyze(flows: str | None, model_path: str | None, rule_files: Sequence[str], fmt: str,
            fail_on: str, output: str, baseline: str | None,
            write_baseline: str | None, runtime_findings: str | None = None) -> int:
    """Analyse a Node-RED flows file (- for standard input) or a deployment model.

    FLOWS may be a flows file, an export, or the Admin API v2 object
    {"flows": [...], "rev": ...}.

    \b
    Exit codes:
      0  nothing at or above --fail-on
      1  conflicts at or above --fail-on
      2  bad input or usage (one line on stderr says where and what)

    \b
    Examples:
      acm analyze flows.json
      acm analyze --model site.yaml --format sarif -o acm.sarif
      acm analyze flows.json --write-baseline acm-baseline.json
      acm analyze flows.json --baseline acm-baseline.json --fail-on warning
    """
    from ..analysis.flows import load_flows
    from ..engine import analyze_model, inspect
    from ..output import render_pieces
    from ..rules.ruleset import load_ruleset
    from .lifetime import keep_until_exit

    if flows is None and model_path is None:
        raise click.UsageError("give a FLOWS file, or --model MODEL (or both)")
    ruleset = load_ruleset(rule_files)
    if model_path is not None:
        from ..model import load_model  # YAML and JSON Schema: only for a model

        model = load_model(model_path)
        if not model.runtimes:
            raise AcmError("the model lists no runtimes: there are no flows to analyse "
                           "(add runtimes: [{id, flows}])", model_path)
        report = analyze_model(model, ruleset)
        if flows is not None:
            report = report.involving(model.runtime_of_flows(flows).id)
    else:
        assert flows is not None
        if flows == "-":
            loaded = load_flows("<stdin>", text=sys.stdin.read())
        else:
            loaded = load_flows(flows)
        analysis = inspect({"local": loaded}, ruleset)
        report = analysis.report
        # A large site's flows, graph, propagation and report: not freed object by object
        # at the end (JSON is rendered a batch at a time, so holding them does not raise
        # the peak memory)
        keep_until_exit(loaded, analysis)
    if runtime_findings:
        from ..nodered.monitor import merge_observed, read_findings

        report = merge_observed(report, read_findings(runtime_findings, report))
    if baseline:
        from ..output.baseline import apply_baseline, load_baseline

        report = apply_baseline(report, load_baseline(baseline))
    if write_baseline:
        from ..output.baseline import write_baseline as write_baseline_file

        count = write_baseline_file(report, write_baseline)
        echo(f"acm: recorded {count} conflict(s) in {write_baseline}", err=True)
    write_output(render_pieces(report, fmt), output)
    if fail_on == "never" or write_baseline:
        return 0
    return 1 if report.at_or_above(fail_on) else 0


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@RULES_OPTION
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Exit 1 when a conflict at or above this severity is found.")
def check(files: Sequence[str], rule_files: Sequence[str], fail_on: str) -> int:
    """Analyse several flows files, each on its own (for pre-commit hooks).

    Prints the text report of each file that has conflicts; exit 1 if any
    file has a conflict at or above --fail-on, 2 if any file is bad input.

    \b
    Examples:
      acm check flows/*.json
      acm check --fail-on warning site-a/flows.json site-b/flows.json
    """
    from ..analysis.flows import load_flows
    from ..engine import analyze_flows
    from ..output import render
    from ..rules.ruleset import load_ruleset

    ruleset = load_ruleset(rule_files)
    worst = 0
    for name in files:
        try:
            report = analyze_flows({"local": load_flows(name)}, ruleset)
        except AcmError as exc:
            echo(f"acm: error: {one_line(str(exc))}", err=True)
            worst = 2
            continue
        if report.findings:
            echo(render(report, "text"))
        if fail_on != "never" and report.at_or_above(fail_on):
            worst = max(worst, 1)
    return worst


@click.group()
def model() -> None:
    """Work with deployment models (see docs/model.md)."""


@model.command("check")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
def model_check(model_path: str) -> int:
    """Validate a deployment model: schema, references, flows files, application tabs.

    \b
    Exit codes: 0 valid, 2 invalid (one line: file:line, the path in the
    document and what was expected).

    \b
    Example:
      acm model check site.yaml
    """
    from ..engine import model_applications
    from ..model import load_model

    loaded = load_model(model_path)
    sources = loaded.load_flows()
    model_applications(loaded, sources)
    echo(
        f"{model_path}: valid model {loaded.name!r}: {len(loaded.runtimes)} runtime(s), "
        f"{len(loaded.brokers)} broker(s), {len(loaded.applications)} application(s), "
        f"{len(loaded.zones)} zone(s), {len(loaded.actuators)} actuator(s)"
    )
    return 0


@click.command("rules")
@RULES_OPTION
@click.option("--explain", metavar="CODE", help="Print the documentation of one rule "
              "(by code, e.g. ACM001, or name, e.g. direct).")
def rules_command(rule_files: Sequence[str], explain: str | None) -> int:
    """List the rules in force (built-in and from --rules).

    \b
    Exit codes: 0 listed, 2 a rule file does not parse or --explain names no rule.

    \b
    Examples:
      acm rules
      acm rules --explain ACM002
      acm rules --rules site.acm        # check a rule file: errors name file:line:column
    """
    from ..rules.ruleset import load_ruleset

    ruleset = load_ruleset(rule_files)
    if explain:
        info = ruleset.find(explain)
        if info is None:
            known = ", ".join(f"{r.code} ({r.name})" for r in ruleset.listed)
            raise AcmError(f"no rule '{explain}' (known: {known})")
        echo(f"{info.code} {info.name}  [{'/'.join(info.levels)}]"
             f"{'' if info.enabled else '  (disabled)'}")
        echo(info.summary)
        echo(f"source: {info.source}")
        if info.doc and info.doc != info.summary:
            echo("")
            echo(info.doc)
        return 0
    width = max((len(r.name) for r in ruleset.listed), default=4)
    for info in ruleset.listed:
        state = "" if info.enabled else " (disabled)"
        levels = "/".join(info.levels)
        echo(f"{info.code:8} {info.name:{width}}  {levels}{state}")
        for line in textwrap.wrap(info.summary, 80 - 9):
            echo(f"{'':9}{line}")
    return 0
