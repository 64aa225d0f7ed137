"""The ``acm`` command: parses arguments, calls the library, prints, picks the exit code.

Exit codes: 0 nothing at or above ``--fail-on``; 1 conflicts at or above it;
2 bad input or usage (one line on stderr naming where and what).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import click

from . import __version__
from .engine import analyze_flows
from .errors import AcmError
from .findings import SEVERITIES
from .flows import load_flows
from .output import FORMATTERS, render
from .rules import load_ruleset

FAIL_ON = [*reversed(SEVERITIES), "never"]

RULES_OPTION = click.option(
    "--rules", "rule_files", multiple=True, type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Rule file in the ACM rule language; adds rules or overrides built-in ones. "
    "Repeatable.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 88})
@click.version_option(__version__, prog_name="acm")
def cli() -> None:
    """ACM finds actuation conflicts in Node-RED flows.

    Two flows conflict when they command the same actuator (one MQTT topic,
    one Home Assistant entity, one GPIO pin ...) from different applications
    (by default: different tabs).

    Exit codes: 0 no conflict at or above --fail-on, 1 conflicts found,
    2 bad input or usage (one line on stderr says where and what).

    \b
    Examples:
      acm analyze flows.json                 conflicts as text, exit 1 on errors
      acm analyze flows.json --format json   the findings contract (acm.findings/1)
      acm rules --explain direct             what a rule checks and why
    """


@cli.command()
@click.argument("flows", type=click.Path(dir_okay=False, allow_dash=True))
@RULES_OPTION
@click.option("--format", "-f", "fmt", type=click.Choice(sorted(FORMATTERS)), default="text",
              show_default=True, help="Output format.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Exit 1 when a conflict at or above this severity is found.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Write the report to FILE instead of standard output.")
def analyze(flows: str, rule_files: Sequence[str], fmt: str, fail_on: str, output: str) -> int:
    """Analyse a Node-RED flows file (use - for standard input).

    Accepts a flows file, an export, or the Admin API v2 object
    {"flows": [...], "rev": ...}. Exit code 0: nothing at or above --fail-on;
    1: conflicts at or above it; 2: bad input.
    """
    ruleset = load_ruleset(rule_files)
    if flows == "-":
        loaded = load_flows("<stdin>", text=sys.stdin.read())
    else:
        loaded = load_flows(flows)
    report = analyze_flows({"local": loaded}, ruleset)
    write_output(render(report, fmt), output)
    if fail_on == "never":
        return 0
    return 1 if report.at_or_above(fail_on) else 0


@cli.command("rules")
@RULES_OPTION
@click.option("--explain", metavar="CODE", help="Print the documentation of one rule "
              "(by code, e.g. ACM001, or name, e.g. direct).")
def rules_command(rule_files: Sequence[str], explain: str | None) -> int:
    """List the rules in force (built-in and from --rules)."""
    ruleset = load_ruleset(rule_files)
    if explain:
        loaded = ruleset.find(explain)
        if loaded is None:
            known = ", ".join(f"{r.code} ({r.name})" for r in ruleset.info)
            raise AcmError(f"no rule '{explain}' (known: {known})")
        info = loaded.info
        click.echo(f"{info.code} {info.name}  [{'/'.join(info.levels)}]"
                   f"{'' if info.enabled else '  (disabled)'}")
        click.echo(info.summary)
        click.echo(f"source: {info.source}")
        if info.doc and info.doc != info.summary:
            click.echo("")
            click.echo(info.doc)
        return 0
    width = max((len(r.name) for r in ruleset.info), default=4)
    for info in ruleset.info:
        state = "" if info.enabled else " (disabled)"
        levels = "/".join(info.levels)
        click.echo(f"{info.code:8} {info.name:{width}}  {levels:19} {info.summary}{state}")
    return 0


def write_output(text: str, output: str) -> None:
    """Write a report to ``output`` (``-`` is standard output)."""
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AcmError(f"cannot write report ({exc.strerror})", output) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises for bad input)."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="acm",
                          standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return 2 if isinstance(exc, click.UsageError) else int(exc.exit_code) or 2
    except click.exceptions.Abort:
        click.echo("acm: interrupted", err=True)
        return 130
    except AcmError as exc:
        click.echo(f"acm: error: {_one_line(str(exc))}", err=True)
        return 2
    return int(result or 0)


def _one_line(text: str) -> str:
    return " ".join(textwrap.dedent(text).split())
