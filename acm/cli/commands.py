"""The ``acm`` command: parses arguments, calls the library, prints, picks the exit code.

Exit codes: 0 nothing at or above ``--fail-on``; 1 conflicts at or above it;
2 bad input or usage (one line on stderr naming where and what).

Each command imports the library modules it uses when it runs: ``acm --help``
loads click and this file only, and no command but those that build a flow
graph pays for networkx (tests/test_startup.py checks it).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import AcmError
from ..files import printable, terminal_safe, write_atomic
from ..output import FORMATS
from ..version import __version__

if TYPE_CHECKING:
    from ..analysis.findings import Report
    from ..model import Model
    from ..nodered.admin_api import AdminClient
    from ..rewrite.resolve import ResolveResult

#: acm.analysis.findings.SEVERITIES from the highest, then "never" (written out: importing
#: acm.analysis.findings would load the analysis for --help; a test keeps the two in step).
FAIL_ON = ["error", "warning", "info", "never"]
USER_ENV = "ACM_NODERED_USERNAME"
PASSWORD_ENV = "ACM_NODERED_PASSWORD"

RULES_OPTION = click.option(
    "--rules", "rule_files", multiple=True, type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Rule file in the ACM rule language; adds rules or overrides built-in ones. "
    "Repeatable.",
)


class StrategyChoice(click.Choice[str]):
    """``--strategy``: the names of acm.rewrite.policy.STRATEGIES, read when first needed.

    (The list comes from the strategy manifest through the rule-language
    modules, which ``acm --help`` should not load.)
    """

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from ..rewrite.policy import STRATEGIES

        return tuple(sorted(STRATEGIES))

    @choices.setter
    def choices(self, value: object) -> None:
        pass  # always read from the manifest


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 88})
@click.version_option(__version__, prog_name="acm")
def cli() -> None:
    """ACM finds actuation conflicts in Node-RED flows.

    Two flows conflict when automations of different applications (by
    default: different tabs) command the same device (one MQTT command
    topic, one Home Assistant entity, one GPIO pin ...).

    Exit codes: 0 no conflict at or above --fail-on, 1 conflicts found,
    2 bad input or usage (one line on stderr says where and what),
    3 internal error (a bug in ACM: one line; --debug or ACM_DEBUG=1 shows
    the traceback).

    \b
    Examples:
      acm analyze flows.json                 conflicts as text, exit 1 on errors
      acm analyze flows.json --format json   the findings contract (acm.findings/1)
      acm analyze --model site.yaml          every runtime of a site together
      acm model check site.yaml              validate a deployment model
      acm rules --explain direct             what a rule checks and why
    """


@cli.command()
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
    from ..engine import analyze_flows, analyze_model
    from ..output import render
    from ..rules.ruleset import load_ruleset

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
            report = only_runtime(report, model, flows)
    else:
        assert flows is not None
        if flows == "-":
            loaded = load_flows("<stdin>", text=sys.stdin.read())
        else:
            loaded = load_flows(flows)
        report = analyze_flows({"local": loaded}, ruleset)
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
    write_output(render(report, fmt), output)
    if fail_on == "never" or write_baseline:
        return 0
    return 1 if report.at_or_above(fail_on) else 0


def only_runtime(report: Report, model: Model, flows: str) -> Report:
    """Keep the findings that involve the runtime whose flows file is ``flows``."""
    runtime = model.runtime_of_flows(flows).id
    return report.keeping(f for f in report.findings
                          if any(r.runtime == runtime for r in f.involved))


@cli.command()
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
            echo(f"acm: error: {_one_line(str(exc))}", err=True)
            worst = 2
            continue
        if report.findings:
            echo(render(report, "text"))
        if fail_on != "never" and report.at_or_above(fail_on):
            worst = max(worst, 1)
    return worst


@cli.group()
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


def ADMIN_OPTIONS(command: Callable[..., Any]) -> Callable[..., Any]:  # noqa: N802
    """--token-file, --backup-dir and --ca-file: how to reach a Node-RED safely."""
    for option in reversed((
        click.option("--token-file", type=click.Path(dir_okay=False),
                     help="File holding the adminAuth bearer token (else $ACM_NODERED_TOKEN; "
                     "or $ACM_NODERED_USERNAME and $ACM_NODERED_PASSWORD to log in)."),
        click.option("--backup-dir", default="acm-backups", show_default=True,
                     type=click.Path(file_okay=False),
                     help="Where the flows are saved before a write."),
        click.option("--ca-file", type=click.Path(dir_okay=False),
                     help="CA bundle to verify the server's TLS certificate with."),
    )):
        command = option(command)
    return command


POLICY_OPTION = click.option(
    "--policy", "policy_files", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
    help="Policy file (ACM rule language): which strategy resolves which actuators. "
    "Repeatable; the first matching policy wins. Without one, defaults apply (docs/resolve.md).",
)


def _print_plan(result: ResolveResult) -> None:
    for planned in result.planned:
        source = {"default": "default", "kept": "kept from the flows"}.get(
            planned.policy.source, f"policy {planned.policy.name}")
        echo(f"acm: {planned.finding.id} ({planned.finding.rule}) on {planned.label}: "
             f"{planned.policy.strategy} ({source})", err=True)
    from ..rewrite.resolve import default_note

    for planned in result.defaults:
        echo(f"acm: note: {default_note(planned)} — write a policy to choose "
             "(docs/resolve.md)", err=True)
    for note in result.notes:
        echo(f"acm: warning: {note}", err=True)
    for skipped in result.skipped:
        echo(f"acm: not resolved: {skipped.finding.id} ({skipped.finding.rule}): "
             f"{skipped.reason}", err=True)


def _model_runtime(model_path: str | None, flows: str) -> tuple[Model | None, str]:
    if model_path is None:
        return None, "local"
    from ..model import load_model

    model = load_model(model_path)
    return model, model.runtime_of_flows(flows).id


@cli.command()
@click.argument("flows", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--model", "-m", "model_path", type=click.Path(dir_okay=False), metavar="MODEL",
              help="Deployment model (applications, zones, effects); FLOWS must be one of "
              "its flows files. Without FLOWS: resolve every runtime of the site.")
@POLICY_OPTION
@RULES_OPTION
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the resolved flows to FILE (- for standard output).")
@click.option("--out-dir", type=click.Path(file_okay=False), metavar="DIR",
              help="With --model and no FLOWS: write each runtime's resolved flows file "
              "into DIR (same file names) instead of in place.")
@click.option("--diff", is_flag=True, help="Print what would change instead of the flows "
              "(with --model and no FLOWS: every file's changes; nothing written unless "
              "--out-dir).")
@click.option("--plan", "show_plan", is_flag=True,
              help="Print, as JSON, the strategy chosen for each conflict (and why others "
              "are left); write nothing.")
@click.option("--only", "only", multiple=True, metavar="ID",
              help="Resolve only this conflict (id from the report); others keep the "
              "resolvers they have. Repeatable.")
@click.option("--strategy", type=StrategyChoice(),
              help="With --only: use this strategy instead of the policies.")
@click.option("--set", "settings", multiple=True, metavar="OPTION=VALUE",
              help="With --strategy: an option, e.g. ttl=15m, order=safety,comfort, "
              "default=off. Repeatable.")
def resolve(flows: str | None, model_path: str | None, policy_files: Sequence[str],
            rule_files: Sequence[str], output: str | None, out_dir: str | None, diff: bool,
            show_plan: bool, only: Sequence[str], strategy: str | None,
            settings: Sequence[str]) -> int:
    """Insert resolvers for the conflicts of a flows file, or of a whole site (offline).

    Every error- or warning-level direct conflict (and indirect conflict with
    an interlock policy) gets a resolver built from core nodes, so the
    result runs on a stock Node-RED. Resolving twice changes nothing;
    `acm revert` removes exactly what was added.

    With --model and no FLOWS, every runtime of the model is resolved,
    cross-runtime conflicts included (over MQTT, as `acm deploy --resolve`
    does), and each runtime's flows file is rewritten in place (only if it
    changes), or written into --out-dir; --diff alone writes nothing.

    \b
    Exit codes: 0 written (conflicts left unresolved are listed on stderr),
    2 bad input (flows, model, policy, rules), a file that cannot be written,
    or usage.

    \b
    Examples:
      acm resolve flows.json --policy site.policy -o flows.resolved.json
      acm resolve flows.json --diff
      acm resolve flows.json --plan
      acm resolve flows.json --only ACM001-847feb4db82e --strategy priority \\
          --set order=Security,Lighting --set ttl=15m -o flows.resolved.json
      acm resolve --model site.yaml --policy site.policy --diff
      acm resolve --model site.yaml --policy site.policy          (in place)
      acm resolve --model site.yaml --policy site.policy --out-dir resolved/
    """
    from ..analysis.flows import load_flows
    from ..rewrite.policy import load_policies, policy_from_options
    from ..rewrite.resolve import describe_changes
    from ..rewrite.resolve import resolve as resolve_flows
    from ..rules.ruleset import load_ruleset

    if flows is None:
        return _resolve_site(model_path, policy_files, rule_files, output, out_dir, diff,
                             show_plan, only, strategy, settings)
    if out_dir:
        raise click.UsageError("--out-dir goes with --model MODEL and no FLOWS (the whole "
                               "site); for one file use --output FILE")
    if not output and not diff and not show_plan:
        raise click.UsageError("give --output FILE (or - for stdout), --diff or --plan")
    if (strategy or settings) and not only:
        raise click.UsageError("--strategy and --set apply to the conflicts named by --only")
    if settings and not strategy:
        raise click.UsageError("--set needs --strategy")
    chosen = policy_from_options(strategy, settings) if strategy else None
    if flows == "-":
        if model_path:
            raise click.UsageError("--model needs FLOWS to be one of the model's flows files, "
                                   "not standard input")
        model, runtime = None, "local"
        loaded = load_flows("<stdin>", text=sys.stdin.read())
    else:
        model, runtime = _model_runtime(model_path, flows)
        loaded = load_flows(flows)
    result = resolve_flows(loaded, load_policies(policy_files), load_ruleset(rule_files),
                           model=model, runtime=runtime, only=set(only) or None,
                           chosen=chosen)
    if show_plan:
        echo(json.dumps(plan_document(result), indent=2, ensure_ascii=False))
        return 0
    _print_plan(result)
    if diff:
        echo("\n".join(describe_changes(loaded.nodes, result.nodes)) or "no changes")
    if output:
        write_output(json.dumps(result.nodes, indent=4, ensure_ascii=False) + "\n", output)
    return 0


def _resolve_site(model_path: str | None, policy_files: Sequence[str],
                  rule_files: Sequence[str], output: str | None, out_dir: str | None,
                  diff: bool, show_plan: bool, only: Sequence[str], strategy: str | None,
                  settings: Sequence[str]) -> int:
    """``acm resolve --model MODEL`` without FLOWS: every runtime's flows file."""
    from ..model import load_model
    from ..nodered.site import resolve_site, site_files, write_site
    from ..rewrite.policy import load_policies
    from ..rewrite.resolve import describe_changes
    from ..rules.ruleset import load_ruleset

    if model_path is None:
        raise click.UsageError("give FLOWS, or --model MODEL to resolve every runtime of a "
                               "site")
    if output:
        raise click.UsageError("--output writes one flows file; for a whole site write in "
                               "place (no option) or into --out-dir DIR")
    if show_plan or only or strategy or settings:
        raise click.UsageError("--plan, --only, --strategy and --set work on one flows file: "
                               "give FLOWS (one of the model's flows files)")
    model = load_model(model_path)
    if not model.runtimes:
        raise AcmError("the model lists no runtimes: there are no flows to resolve "
                       "(add runtimes: [{id, flows}])", model_path)
    site = resolve_site(model, load_policies(policy_files), load_ruleset(rule_files))
    target = Path(out_dir) if out_dir else None
    files = site_files(model, site, target)
    if diff:
        for item in files:
            changes = describe_changes(item.before, item.after)
            echo(f"== {item.runtime} {item.path}: "
                 + (f"{len(changes)} change(s)" if changes else "no changes"))
            for line in changes:
                echo(f"   {line}")
    written = set()
    if target is not None or not diff:  # a failure is then the one line on stderr
        written = {item.runtime for item in write_site(files, target)}
    for finding, policy, runtime in site.resolved:
        source = "default" if policy.source == "default" else f"policy {policy.name}"
        echo(f"acm: {finding.id} ({finding.rule}) on {runtime}: {policy.strategy} "
             f"({source})", err=True)
    for note in site.notes:
        echo(f"acm: note: {note}", err=True)
    for skipped in site.skipped:
        echo(f"acm: not resolved: {skipped.finding.id} ({skipped.finding.rule}): "
             f"{skipped.reason}", err=True)
    counts = {rt.id: sum(1 for _, _, r in site.resolved if r == rt.id) for rt in model.runtimes}
    for item in files:
        state = ("written" if item.runtime in written
                 else "would change (nothing written)" if item.changed
                 else "unchanged")
        echo(f"acm: {item.runtime}: {item.path}: {state}; "
             f"{counts[item.runtime]} resolver(s) placed there", err=True)
    return 0


def plan_document(result: ResolveResult) -> dict[str, Any]:
    """``acm resolve --plan``: what would be done, for machines (the editor plugin)."""
    return {
        "schema": "acm.plan/1",
        "planned": [
            {"conflict": p.finding.id, "rule": p.finding.rule, "actuator": p.target_key,
             "label": p.label, "strategy": p.policy.strategy, "options": dict(p.policy.options),
             "source": "default" if p.policy.source == "default"
             else ("kept" if p.policy.source == "kept" else p.policy.name)}
            for p in result.planned
        ],
        "skipped": [{"conflict": k.finding.id, "rule": k.finding.rule, "reason": k.reason}
                    for k in result.skipped],
    }


@cli.command()
@click.argument("flows", required=False, type=click.Path(dir_okay=False))
@click.option("--url", help="Revert the flows deployed on this Node-RED (Admin API).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True),
              help="Offline: write the reverted flows to FILE.")
@click.option("--diff", is_flag=True, help="Print what would change.")
@click.option("--dry-run", is_flag=True, help="Online: show the changes, write nothing.")
@ADMIN_OPTIONS
def revert(flows: str | None, url: str | None, output: str | None, diff: bool, dry_run: bool,
           token_file: str | None, backup_dir: str, ca_file: str | None) -> int:
    """Remove everything ACM added and restore the original wiring.

    Offline with FLOWS (-o or --diff), or online with --url (read with the
    revision, back up, write with that revision, retry on a concurrent deploy).

    \b
    Exit codes: 0 done (or nothing to revert), 2 bad input, or the server
    refused or could not be reached.

    \b
    Examples:
      acm revert flows.resolved.json -o flows.json
      acm revert flows.resolved.json --diff
      ACM_NODERED_TOKEN=... acm revert --url http://127.0.0.1:1880 --dry-run
    """
    from ..analysis.flows import load_flows
    from ..rewrite.resolve import describe_changes
    from ..rewrite.resolve import revert as revert_flows

    if url:
        client = _client(url, token_file, ca_file)
        return _update(client, revert_flows, Path(backup_dir), dry_run)
    if flows is None:
        raise click.UsageError("give FLOWS (offline) or --url (online)")
    if not output and not diff:
        raise click.UsageError("give --output FILE (or - for stdout), or --diff")
    loaded = load_flows(flows)
    loaded.require_unique_ids("reverting")  # writing back would lose earlier definitions
    reverted = revert_flows(loaded.nodes)
    if diff:
        echo("\n".join(describe_changes(loaded.nodes, reverted)) or "no changes")
    if output:
        write_output(json.dumps(reverted, indent=4, ensure_ascii=False) + "\n", output)
    return 0


@cli.command()
@click.option("--url", required=True, help="The Node-RED editor URL, e.g. http://pi:1880.")
@click.option("--model", "-m", "model_path", type=click.Path(dir_okay=False), metavar="MODEL",
              help="Deployment model; the runtime is the one whose url is --url.")
@POLICY_OPTION
@RULES_OPTION
@click.option("--dry-run", is_flag=True, help="Show the changes, write nothing.")
@ADMIN_OPTIONS
def apply(url: str, model_path: str | None, policy_files: Sequence[str],
          rule_files: Sequence[str], dry_run: bool, token_file: str | None, backup_dir: str,
          ca_file: str | None) -> int:
    """Resolve the flows deployed on a Node-RED and deploy the result (Admin API v2).

    Reads the flows and their revision, backs them up, writes the resolved
    flows with that revision; if someone deployed in between (409), reads
    again, re-applies and retries. TLS certificates are verified.

    \b
    Exit codes: 0 deployed (or nothing to change), 2 bad input, or the server
    refused (401/403), failed (5xx) or could not be reached.

    \b
    Examples:
      acm apply --url http://127.0.0.1:1880 --policy site.policy --dry-run
      ACM_NODERED_TOKEN=... acm apply --url https://pi.local:1880 --policy site.policy
      acm apply --url http://127.0.0.1:1880 --model site.yaml --ca-file ca.pem
    """
    from ..analysis.flows import flows_from_data
    from ..model import load_model
    from ..rewrite.policy import load_policies
    from ..rewrite.resolve import resolve as resolve_flows
    from ..rules.ruleset import load_ruleset

    policies = load_policies(policy_files)
    ruleset = load_ruleset(rule_files)
    model = load_model(model_path) if model_path else None
    runtime = "local"
    if model is not None:
        found = next((r.id for r in model.runtimes
                      if r.url and r.url.rstrip("/") == url.rstrip("/")), None)
        if found is None:
            raise AcmError(f"no runtime of model {model.path} has url {url}")
        runtime = found
    client = _client(url, token_file, ca_file)
    results: list[ResolveResult] = []

    def change(nodes: list[Any]) -> list[Any]:
        result = resolve_flows(flows_from_data(nodes, url), policies, ruleset,
                               model=model, runtime=runtime)
        results.append(result)
        return result.nodes

    code = _update(client, change, Path(backup_dir), dry_run)
    if results:
        _print_plan(results[-1])
    return code


def _client(url: str, token_file: str | None, ca_file: str | None) -> AdminClient:
    from ..model import has_userinfo
    from ..nodered.admin_api import TOKEN_ENV, AdminClient, token_from_env  # requests: online only

    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if has_userinfo(url):  # requests would send the URL's Basic auth and drop the token
        given = ("--token-file" if token_file else f"${TOKEN_ENV}" if token_from_env()
                 else f"a login with ${USER_ENV} and ${PASSWORD_ENV}" if user and password
                 else None)
        if given:
            raise click.UsageError(f"--url has credentials in it (user:password@) and there "
                                   f"is a token too ({given}): give either credentials in the "
                                   "URL or a token, not both")
    client = AdminClient(url, token=token_from_env(token_file), verify=ca_file or True)
    if client.token is None and user and password:
        client.token = client.login(user, password)
    return client


def _update(client: AdminClient, change: Callable[[list[Any]], list[Any]], backup_dir: Path,
            dry_run: bool) -> int:
    from ..analysis.flows import copy_nodes, flows_from_data
    from ..model import without_userinfo as public_url
    from ..nodered.admin_api import update_flows
    from ..rewrite.resolve import describe_changes

    source = public_url(client.url)

    def checked(nodes: list[Any]) -> list[Any]:
        flows_from_data(nodes, source)  # what the server holds must be flows to change them
        return change(nodes)

    if dry_run:
        current, rev = client.get_flows()
        changed = checked(copy_nodes(current, source))
        echo("\n".join(describe_changes(current, changed)) or "no changes")
        echo(f"acm: dry run: nothing written (server at rev {rev[:12]})", err=True)
        return 0
    outcome = update_flows(client, checked, backup_dir)
    if not outcome.changed:
        echo(f"acm: {public_url(client.url)}: nothing to change "
             f"(rev {outcome.old_rev[:12]})", err=True)
        return 0
    echo(f"acm: {public_url(client.url)}: deployed rev {outcome.new_rev[:12]} (was "
         f"{outcome.old_rev[:12]}, {outcome.attempts} attempt(s)); backup "
         f"{outcome.backup}", err=True)
    return 0


@cli.command("deploy")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--only", "only", multiple=True, metavar="RUNTIME",
              help="Deploy only this runtime (repeatable); the gate still analyses the site.")
@click.option("--resolve", "do_resolve", is_flag=True,
              help="Resolve first: each runtime's conflicts, and cross-runtime ones over MQTT.")
@POLICY_OPTION
@RULES_OPTION
@click.option("--dry-run", is_flag=True, help="Show what each runtime would get; write nothing.")
@click.option("--force", is_flag=True,
              help="Deploy even with unmanaged error-level conflicts.")
@click.option("--no-rollback", is_flag=True,
              help="If a runtime fails, leave the runtimes already written as they are.")
@click.option("--force-rollback", is_flag=True,
              help="Roll back even a runtime where someone deployed after this deploy wrote it "
                   "(their flows are backed up first).")
@click.option("--backup-dir", default="acm-backups", show_default=True,
              type=click.Path(file_okay=False), help="Where each runtime's flows are saved first.")
def deploy_command(model_path: str, only: Sequence[str], do_resolve: bool,
                   policy_files: Sequence[str], rule_files: Sequence[str], dry_run: bool,
                   force: bool, no_rollback: bool, force_rollback: bool,
                   backup_dir: str) -> int:
    """Deploy a site: every runtime's flows through its Admin API, behind a conflict gate.

    The whole site is analysed first; while error-level conflicts are
    unmanaged nothing is written (exit 1) unless --force. Each runtime is then
    written with the revision it was read at, after a backup; if someone
    deployed in between (409), this deploy's changes are merged on top of
    theirs (or, where both changed one node, nothing is written). If a runtime
    fails, those already written are rolled back to their backups (unless
    --no-rollback), but never over a deploy made since by someone else (unless
    --force-rollback). The summary says which state each runtime is in; a
    write whose answer was lost is "unknown" with the server's current rev.
    Credentials come from the model (names of env vars).

    \b
    Examples:
      acm deploy site.yaml --dry-run
      acm deploy site.yaml --resolve --policy site.policy
      acm deploy site.yaml --only hub
    """
    from ..analysis.flows import flows_from_data
    from ..engine import analyze_flows, model_applications
    from ..model import load_model
    from ..model import without_userinfo as public_url
    from ..nodered.site import client_for, resolve_site
    from ..nodered.site import deploy as deploy_site
    from ..output import render
    from ..rewrite.policy import load_policies
    from ..rewrite.resolve import describe_changes
    from ..rules.ruleset import load_ruleset

    model = load_model(model_path)
    unknown = [r for r in only if model.runtime(r) is None]
    if unknown:
        raise AcmError(f"no runtime {unknown[0]!r} in the model", model_path)
    no_url = [r.id for r in model.runtimes if not r.url and (not only or r.id in only)]
    if no_url:
        raise AcmError(f"runtime {no_url[0]!r} has no url: deploy needs one for every runtime "
                       "it writes", model_path)
    ruleset = load_ruleset(rule_files)
    if do_resolve:
        site = resolve_site(model, load_policies(policy_files), ruleset)
        for finding, policy, host in site.resolved:
            echo(f"acm: {finding.id} ({finding.rule}) on {host}: {policy.strategy}",
                 err=True)
        for note in site.notes:
            echo(f"acm: note: {note}", err=True)
        for skipped in site.skipped:
            echo(f"acm: not resolved: {skipped.finding.id}: {skipped.reason}", err=True)
        target = site.flows
    else:
        loaded = model.load_flows()
        for flows in loaded.values():
            flows.require_unique_ids("deploying")  # the deploy would lose earlier definitions
        target = {rt: [dict(n) for n in flows.nodes] for rt, flows in loaded.items()}
    sources = {rt: flows_from_data(nodes, str(model.runtime(rt).flows))  # type: ignore[union-attr]
               for rt, nodes in target.items()}
    report = analyze_flows(sources, ruleset, model_applications(model, sources), model=model)
    blocking = report.at_or_above("error")
    if blocking and not force:
        echo(render(report, "text"), nl=False)
        echo(f"acm: refusing to deploy: {len(blocking)} unmanaged error-level "
             "conflict(s); resolve them (--resolve, acm resolve) or use --force", err=True)
        return 1
    if dry_run:
        for runtime in model.runtimes:
            if only and runtime.id not in only:
                continue
            current, rev = client_for(runtime, model).get_flows()
            changes = describe_changes(current, target[runtime.id])
            echo(f"== {runtime.id} {public_url(runtime.url or '')} (rev {rev[:12]}): "
                 f"{len(changes)} change(s)")
            for line in changes:
                echo(f"   {line}")
        echo("acm: dry run: nothing written", err=True)
        return 0
    outcomes = deploy_site(model, target, Path(backup_dir), only=only, rollback=not no_rollback,
                           force_rollback=force_rollback,
                           progress=lambda line: echo(f"acm: {line}", err=True))
    width = max(len(o.runtime) for o in outcomes)
    echo(f"{'runtime':{width}}  {'state':16} {'rev':12}  backup / error")
    for o in outcomes:
        detail = o.error or (str(o.backup) if o.backup else "")
        echo(f"{o.runtime:{width}}  {o.state:16} {(o.new_rev or '')[:12]:12}  {detail}")
    return 0 if all(o.state in ("deployed", "unchanged") for o in outcomes) else 2


@cli.command("watch")
@click.argument("model_path", metavar="[MODEL]", required=False, type=click.Path(dir_okay=False))
@click.option("--url", "urls", multiple=True, metavar="URL",
              help="A Node-RED editor URL to watch. Repeatable. With MODEL: watch only the "
              "model's runtimes with these urls.")
@click.option("--token-file", type=click.Path(dir_okay=False),
              help="With --url: file holding the adminAuth bearer token (else "
              "$ACM_NODERED_TOKEN; or $ACM_NODERED_USERNAME and $ACM_NODERED_PASSWORD).")
@click.option("--ca-file", type=click.Path(dir_okay=False),
              help="CA bundle to verify the servers' TLS certificates with.")
@RULES_OPTION
@click.option("--once", is_flag=True, help="Exit after the first deploy event.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="S",
              help="Stop after S seconds (with --once and no deploy seen: exit 1).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per event (schema acm.watch/1) on standard output.")
def watch_command(model_path: str | None, urls: Sequence[str], token_file: str | None,
                  ca_file: str | None, rule_files: Sequence[str], once: bool,
                  timeout: float | None, as_json: bool) -> int:
    """Follow deploys on running Node-RED runtimes and report what changed.

    Connects to each runtime's /comms websocket (the editor must be enabled);
    on every deploy re-reads that runtime's flows, re-analyses the whole site
    and prints the conflicts that are new, gone or changed, and whether the
    running flows drift from the model's flows files. Reconnects with back-off
    when a runtime restarts. Connection states go to standard error.

    \b
    Exit codes:
      0  stopped (Ctrl-C, --timeout) or, with --once, a deploy was reported
      1  --once with --timeout and no deploy within the time
      2  bad input, or a runtime cannot be read or refuses the credentials
      3  internal error (a bug in ACM)

    \b
    Examples:
      acm watch site.yaml
      acm watch --url http://pi:1880 --once --timeout 60 --json
    """
    from ..model import load_model
    from ..nodered.watch import Watcher, runtime_for_url, runtimes_from_model
    from ..rules.ruleset import load_ruleset

    def log(line: str) -> None:
        echo(f"acm: watch: {line}", err=True)

    if model_path is None and not urls:
        raise click.UsageError("give a MODEL, or --url URL (or both)")
    ruleset = load_ruleset(rule_files)
    model = load_model(model_path) if model_path else None
    if model is not None:
        if token_file:
            raise click.UsageError("--token-file goes with --url alone; a model names each "
                                   "runtime's credentials")
        runtimes = runtimes_from_model(model, urls, ca_file)
        if not runtimes:
            raise AcmError("no runtime of the model has a url: nothing to watch", model_path)
    else:
        runtimes = [runtime_for_url(url, _client(url, token_file, ca_file).token, ca_file or True)
                    for url in urls]
    watcher = Watcher(runtimes, model, ruleset, log=log)
    gc.enable()  # it runs until stopped: cycles (sockets, tracebacks) must be collected

    def show(event: Any) -> None:
        echo(json.dumps(event.document(), ensure_ascii=False) if as_json
             else event.text())

    try:
        count = watcher.watch(show, once=once, timeout=timeout)
    except KeyboardInterrupt:
        log("stopped")
        return 0
    if once and count == 0:
        log(f"no deploy within {timeout:g} s")
        return 1
    return 0


@cli.command("monitor")
@click.option("--model", "-m", "model_path", type=click.Path(dir_okay=False), metavar="MODEL",
              required=True, help="Deployment model: its brokers, and the site to analyse.")
@RULES_OPTION
@click.option("--window", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, metavar="S",
              help="Different commands to one actuator within S seconds conflict.")
@click.option("--broker", "brokers", multiple=True, metavar="ID=HOST:PORT",
              help="Connect to a model broker at another address (repeatable); keys keep "
              "the model's address.")
@click.option("--baseline", type=click.Path(dir_okay=False), metavar="FILE",
              help="Do not report runtime conflicts recorded in this baseline, nor those on "
              "actuators whose static conflicts it records.")
@click.option("--write-findings", type=click.Path(dir_okay=False), metavar="FILE",
              help="At the end, write the runtime conflicts in the findings contract "
              "(acm.findings/1, marked observed) for acm analyze --runtime-findings.")
@click.option("--once", is_flag=True, help="Stop at the first runtime conflict.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="S",
              help="Stop after S seconds.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per line (schema acm.monitor/1): commands, conflicts, "
              "and the summary.")
def monitor_command(model_path: str, rule_files: Sequence[str], window: float,
                    brokers: Sequence[str], baseline: str | None, write_findings: str | None,
                    once: bool, duration: float | None, as_json: bool) -> int:
    """Record the commands a running site sends its MQTT actuators, and their conflicts.

    Subscribes (QoS 0, no retained messages) to the topic of every MQTT
    actuator of the site (the model's and those static analysis finds in the
    flows) on the model's brokers, prints each command with its time, value
    and source, and reports a runtime conflict when different sources send
    different values to one actuator within --window, saying whether static
    analysis sees that conflict. Reconnects when a broker goes away;
    connection states go to standard error; a summary ends the run.

    \b
    Exit codes:
      0  stopped (Ctrl-C, --duration) with no runtime conflict
      1  runtime conflicts seen (not in --baseline)
      2  bad input or usage, or no MQTT actuator to watch
      3  internal error (a bug in ACM)

    \b
    Examples:
      acm monitor --model site.yaml
      acm monitor --model site.yaml --duration 600 --write-findings observed.json
      acm analyze --model site.yaml --runtime-findings observed.json
    """
    from ..engine import analyze_model
    from ..model import load_model
    from ..nodered.monitor import LINES_SCHEMA, Monitor, broker_access, run, watched_from
    from ..nodered.monitor import write_findings as write_findings_file
    from ..rules.ruleset import load_ruleset

    def log(line: str) -> None:
        echo(f"acm: monitor: {line}", err=True)

    model = load_model(model_path)
    override: dict[str, str] = {}
    for item in brokers:
        name, sep, where = item.partition("=")
        if not sep or not name or not where:
            raise click.UsageError(f"--broker {item!r}: write ID=HOST:PORT")
        override[name] = where
    known: frozenset[str] = frozenset()
    if baseline:
        from ..output.baseline import load_baseline

        known = load_baseline(baseline)
    report = analyze_model(model, load_ruleset(rule_files))
    watcher = Monitor(watched_from(report, model.brokers), window, known)
    gc.enable()  # it runs until stopped: cycles (sockets, tracebacks) must be collected

    def show(command: Any, conflict: Any) -> None:
        for event in (command, conflict):
            if event is not None:
                document = event.document()
                echo(json.dumps({"schema": LINES_SCHEMA, **document}, ensure_ascii=False)
                     if as_json else event.text())

    try:
        seen = run(watcher, broker_access(model, override), show, log, once=once,
                   duration=duration)
    except KeyboardInterrupt:
        log("stopped")
        seen = len(watcher.conflicts)
    if as_json:
        echo(json.dumps({"schema": LINES_SCHEMA, **watcher.summary()}, ensure_ascii=False))
    else:
        echo(watcher.summary_text(), err=True)
    if write_findings:
        count = write_findings_file(watcher, write_findings, report.sources)
        log(f"wrote {count} runtime conflict(s) to {write_findings}")
    return 1 if seen else 0


GRAPH_FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".html": "html", ".htm": "html"}


@cli.command("graph")
@click.argument("source", metavar="MODEL_OR_FLOWS",
                type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--model", "as_model", is_flag=True,
              help="Read MODEL_OR_FLOWS as a deployment model (the default for .yaml and "
              ".yml files; anything else is read as a flows file, on runtime 'local').")
@RULES_OPTION
@click.option("--format", "-f", "fmt", type=click.Choice(["dot", "svg", "html"]),
              help="dot (Graphviz), svg (standalone, no Graphviz needed) or html (one "
              "self-contained page with a legend and the conflicts). Default: from the "
              "--output file's extension, else dot.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Write the drawing to FILE instead of standard output.")
def graph_command(source: str, as_model: bool, rule_files: Sequence[str], fmt: str | None,
                  output: str) -> int:
    """Draw a site: runtimes, applications, actuators, zones and the conflicts between them.

    Runtimes host applications, applications drive actuators (edges labelled
    with the commands), actuators sit in zones (labelled with their effects);
    conflicts are dashed edges between the applications (direct,
    cross-runtime) or the actuators (indirect) involved, coloured by
    severity. Exit 0 once drawn, 2 on bad input or usage.

    \b
    Examples:
      acm graph site.yaml -o site.html             one self-contained page
      acm graph site.yaml -f svg -o site.svg       a picture, no Graphviz needed
      acm graph flows.json | dot -Tpng > flows.png Graphviz DOT on standard output
    """
    from ..analysis.flows import load_flows
    from ..engine import analyze_flows, analyze_model
    from ..output import graph_dot, graph_html, graph_svg
    from ..output.draw import picture
    from ..rules.ruleset import load_ruleset

    if fmt is None:
        fmt = GRAPH_FORMATS.get(Path(output).suffix.lower(), "dot") if output != "-" else "dot"
    ruleset = load_ruleset(rule_files)
    if as_model or (source != "-" and Path(source).suffix.lower() in (".yaml", ".yml")):
        if source == "-":
            raise click.UsageError("--model needs a model file, not standard input")
        from ..model import load_model

        site = load_model(source)
        report = analyze_model(site, ruleset)
        drawing = picture(report, site)
    else:
        if source == "-":
            loaded = load_flows("<stdin>", text=sys.stdin.read())
        else:
            loaded = load_flows(source)
        drawing = picture(analyze_flows({"local": loaded}, ruleset))
    renderers = {"dot": graph_dot.render, "svg": graph_svg.render, "html": graph_html.render}
    write_output(renderers[fmt](drawing), output)
    return 0


@cli.command("rules")
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


@cli.command("strategies")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: the manifest as the editor's Resolve form reads "
              "it (\"schema\": \"acm.strategies/1\").")
def strategies_command(fmt: str) -> int:
    """List the resolution strategies, their options and the default per conflict kind.

    One declaration (acm/data/strategies.json) serves the policy checker,
    `acm resolve`, the editor's Resolve form and the docs.

    \b
    Exit codes: 0 listed.

    \b
    Examples:
      acm strategies
      acm strategies --format json
    """
    from ..rewrite import strategies

    if fmt == "json":
        echo(json.dumps(strategies.document(), indent=2, ensure_ascii=False))
    else:
        echo(strategies.text(), nl=False)
    return 0


@cli.command("serve")
@click.option("--stdio", is_flag=True,
              help="Read requests from standard input, one JSON object per line, and "
              "answer each on standard output (the only transport).")
@click.option("--max-requests", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="N", help="Exit after answering N requests (0: no limit), so whoever "
              "runs the worker replaces it before its memory grows.")
def serve_command(stdio: bool, max_requests: int) -> int:
    """Run as a long-lived analyzer for the Node-RED editor (the bridge's worker).

    Each request line {"id", "op", "args", "input"} runs `acm ARGS` (analyze,
    resolve or strategies) with INPUT on standard input, in this process,
    and is answered with one line {"id", "code", "stdout", "stderr"}: the
    exit code and output of a fresh `acm` run. Imports and the built-in
    rules are loaded once. Exits at the end of its input. Protocol:
    nodered-bridge/README.md.

    \b
    Exit codes: 0 input ended (or --max-requests answered), 2 usage.

    \b
    Example:
      echo '{"id": 1, "op": "strategies", "args": ["strategies", "--format", "json"]}' \\
          | acm serve --stdio
    """
    if not stdio:
        raise click.UsageError("give --stdio (the only transport)")
    from .serve import serve_stdio

    # Between requests a worker collects cycles like any long-lived process; each
    # request still runs with the collector paused, as a CLI run does (see main()).
    gc.enable()
    return serve_stdio(max_requests)


def echo(message: str = "", err: bool = False, nl: bool = True) -> None:
    """click.echo for text that may hold anything from flows, rules or policies: a lone
    surrogate (valid JSON, ``"\\ud800"``) is printed as its escape instead of failing."""
    click.echo(printable(message), err=err, nl=nl)


def write_output(text: str, output: str) -> None:
    """Write a report to ``output`` (``-`` is standard output)."""
    if output == "-":
        echo(text, nl=False)
        return
    try:
        write_atomic(output, text)
    except OSError as exc:
        raise AcmError(f"cannot write {output} ({exc.strerror}); it is unchanged",
                       output) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises for bad input).

    An unexpected exception is a bug in ACM, not a finding: exit 3 with one
    line, the traceback only with ``--debug`` (anywhere on the command line)
    or ``ACM_DEBUG=1``.
    """
    args = list(argv) if argv is not None else sys.argv[1:]
    debug = "--debug" in args or os.environ.get("ACM_DEBUG", "") not in ("", "0")
    args = [a for a in args if a != "--debug"]
    # No cyclic garbage collection for the run (restored after): a command loads,
    # analyses and renders data that is acyclic and alive until the end, and the
    # collector's passes over it cost more than the analysis itself on a large
    # site (reference counting frees everything as usual). `acm watch`, which
    # runs for days, turns it back on.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    except Exception as exc:  # noqa: BLE001 - the last line of defence, by design
        if debug:
            raise
        what = _one_line(f"{type(exc).__name__}: {exc}")[:300]
        echo(f"acm: internal error ({what}); this is a bug in ACM: please report it "
             "with the input, run with --debug for the traceback", err=True)
        return 3
    finally:
        if collecting:
            gc.enable()
        else:
            gc.disable()  # as it was, even after watch turned it on


def _run(args: list[str]) -> int:
    try:
        result = cli.main(args=args, prog_name="acm", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return 2 if isinstance(exc, click.UsageError) else int(exc.exit_code) or 2
    except click.exceptions.Abort:
        echo("acm: interrupted", err=True)
        return 130
    except AcmError as exc:
        echo(f"acm: error: {_one_line(str(exc))}", err=True)
        return 2
    return int(result or 0)


def _one_line(text: str) -> str:
    return terminal_safe(" ".join(textwrap.dedent(text).split()))
