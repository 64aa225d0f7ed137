"""``acm resolve``, ``acm apply`` and ``acm revert``: resolving conflicts in flows,
offline or on a running Node-RED."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import AcmError
from .console import echo, write_output
from .online import ADMIN_OPTIONS, update_deployed
from .options import NATIVE_OPTION, POLICY_OPTION, RULES_OPTION, StrategyChoice

if TYPE_CHECKING:
    from ..analysis.flows import Flows
    from ..model import Model
    from ..nodered.site import SiteFile, SiteResolution
    from ..rewrite.resolve import ResolveResult


def _print_plan(result: ResolveResult) -> None:
    from ..output.plan import plan_lines

    for line in plan_lines(result):
        echo(line, err=True)


def _model_runtime(model_path: str | None, flows: str) -> tuple[Model | None, str]:
    if model_path is None:
        return None, "local"
    from ..model import load_model

    model = load_model(model_path)
    return model, model.runtime_of_flows(flows).id


@click.command()
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
@NATIVE_OPTION
def resolve(flows: str | None, model_path: str | None, policy_files: Sequence[str],
            rule_files: Sequence[str], output: str | None, out_dir: str | None, diff: bool,
            show_plan: bool, only: Sequence[str], strategy: str | None,
            settings: Sequence[str], native: bool | None) -> int:
    """Insert resolvers for the conflicts of a flows file, or of a whole site (offline).

    Every error- or warning-level direct conflict (and indirect conflict with
    an interlock policy) gets a resolver built from core nodes, so the
    result runs on a stock Node-RED; with --native the resolvers are
    nodered-bridge's faster acm-resolver nodes instead. Resolving twice
    changes nothing; `acm revert` removes exactly what was added.

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
      acm resolve flows.json --native -o flows.resolved.json
      acm resolve flows.json --plan
      acm resolve flows.json --only ACM001-847feb4db82e --strategy priority \\
          --set order=Security,Lighting --set ttl=15m -o flows.resolved.json
      acm resolve --model site.yaml --policy site.policy --diff
      acm resolve --model site.yaml --policy site.policy          (in place)
      acm resolve --model site.yaml --policy site.policy --out-dir resolved/
    """
    from ..rewrite.policy import load_policies, policy_from_options
    from ..rewrite.resolve import describe_changes
    from ..rewrite.resolve import resolve as resolve_flows
    from ..rules.ruleset import load_ruleset

    if flows is None:
        return _resolve_site(model_path, policy_files, rule_files, output, out_dir, diff,
                             show_plan, only, strategy, settings, native)
    _check_file_options(output, out_dir, diff, show_plan, only, strategy, settings)
    chosen = policy_from_options(strategy, settings) if strategy else None
    model, runtime, loaded = _load_file(flows, model_path)
    result = resolve_flows(loaded, load_policies(policy_files), load_ruleset(rule_files),
                           model=model, runtime=runtime, only=set(only) or None,
                           chosen=chosen, native=native)
    if show_plan:
        from ..output.plan import plan_document

        echo(json.dumps(plan_document(result), indent=2, ensure_ascii=False))
        return 0
    _print_plan(result)
    if diff:
        echo("\n".join(describe_changes(loaded.nodes, result.nodes)) or "no changes")
    if output:
        write_output(json.dumps(result.nodes, indent=4, ensure_ascii=False) + "\n", output)
    return 0


def _check_file_options(output: str | None, out_dir: str | None, diff: bool, show_plan: bool,
                        only: Sequence[str], strategy: str | None,
                        settings: Sequence[str]) -> None:
    """Refuse options that do not go with resolving one flows file (a UsageError)."""
    if out_dir:
        raise click.UsageError("--out-dir goes with --model MODEL and no FLOWS (the whole "
                               "site); for one file use --output FILE")
    if not output and not diff and not show_plan:
        raise click.UsageError("give --output FILE (or - for stdout), --diff or --plan")
    if (strategy or settings) and not only:
        raise click.UsageError("--strategy and --set apply to the conflicts named by --only")
    if settings and not strategy:
        raise click.UsageError("--set needs --strategy")


def _load_file(flows: str, model_path: str | None) -> tuple[Model | None, str, Flows]:
    """The model (if any), the runtime of FLOWS in it, and FLOWS loaded (``-``: stdin)."""
    from ..analysis.flows import load_flows

    if flows == "-":
        if model_path:
            raise click.UsageError("--model needs FLOWS to be one of the model's flows files, "
                                   "not standard input")
        return None, "local", load_flows("<stdin>", text=sys.stdin.read())
    model, runtime = _model_runtime(model_path, flows)
    return model, runtime, load_flows(flows)


def _resolve_site(model_path: str | None, policy_files: Sequence[str],
                  rule_files: Sequence[str], output: str | None, out_dir: str | None,
                  diff: bool, show_plan: bool, only: Sequence[str], strategy: str | None,
                  settings: Sequence[str], native: bool | None) -> int:
    """``acm resolve --model MODEL`` without FLOWS: every runtime's flows file."""
    from ..model import load_model
    from ..nodered.site import resolve_site, site_files, write_site
    from ..rewrite.policy import load_policies
    from ..rules.ruleset import load_ruleset

    if model_path is None:
        raise click.UsageError("give FLOWS, or --model MODEL to resolve every runtime of a "
                               "site")
    _check_site_options(output, show_plan, only, strategy, settings)
    model = load_model(model_path)
    if not model.runtimes:
        raise AcmError("the model lists no runtimes: there are no flows to resolve "
                       "(add runtimes: [{id, flows}])", model_path)
    site = resolve_site(model, load_policies(policy_files), load_ruleset(rule_files), native)
    target = Path(out_dir) if out_dir else None
    files = site_files(model, site, target)
    if diff:
        _print_site_diff(files)
    written = set()
    if target is not None or not diff:  # a failure is then the one line on stderr
        written = {item.runtime for item in write_site(files, target)}
    _print_site_resolution(site)
    _print_site_files(model, site, files, written)
    return 0


def _check_site_options(output: str | None, show_plan: bool, only: Sequence[str],
                        strategy: str | None, settings: Sequence[str]) -> None:
    """Refuse options that work on one flows file only, not on a whole site (a UsageError)."""
    if output:
        raise click.UsageError("--output writes one flows file; for a whole site write in "
                               "place (no option) or into --out-dir DIR")
    if show_plan or only or strategy or settings:
        raise click.UsageError("--plan, --only, --strategy and --set work on one flows file: "
                               "give FLOWS (one of the model's flows files)")


def _print_site_diff(files: Sequence[SiteFile]) -> None:
    """--diff for a site: each runtime's file and the changes it gets."""
    from ..rewrite.resolve import describe_changes

    for item in files:
        changes = describe_changes(item.before, item.after)
        echo(f"== {item.runtime} {item.path}: "
             + (f"{len(changes)} change(s)" if changes else "no changes"))
        for line in changes:
            echo(f"   {line}")


def _print_site_resolution(site: SiteResolution) -> None:
    """On stderr: the resolver placed for each conflict and by which policy, the notes,
    and what was not resolved."""
    for finding, policy, runtime in site.resolved:
        source = "default" if policy.source == "default" else f"policy {policy.name}"
        echo(f"acm: {finding.id} ({finding.rule}) on {runtime}: {policy.strategy} "
             f"({source})", err=True)
    for note in site.notes:
        echo(f"acm: note: {note}", err=True)
    for skipped in site.skipped:
        echo(f"acm: not resolved: {skipped.finding.id} ({skipped.finding.rule}): "
             f"{skipped.reason}", err=True)


def _print_site_files(model: Model, site: SiteResolution, files: Sequence[SiteFile],
                      written: set[str]) -> None:
    """On stderr: what became of each runtime's flows file, and how many resolvers it got."""
    counts = {rt.id: sum(1 for _, _, r in site.resolved if r == rt.id) for rt in model.runtimes}
    for item in files:
        state = ("written" if item.runtime in written
                 else "would change (nothing written)" if item.changed
                 else "unchanged")
        echo(f"acm: {item.runtime}: {item.path}: {state}; "
             f"{counts[item.runtime]} resolver(s) placed there", err=True)


@click.command()
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
        from ..nodered.connect import client_for_url  # requests: online only

        client = client_for_url(url, token_file, ca_file)
        return update_deployed(client, revert_flows, Path(backup_dir), dry_run)
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


@click.command()
@click.option("--url", required=True, help="The Node-RED editor URL, e.g. http://pi:1880.")
@click.option("--model", "-m", "model_path", type=click.Path(dir_okay=False), metavar="MODEL",
              help="Deployment model; the runtime is the one whose url is --url.")
@POLICY_OPTION
@RULES_OPTION
@click.option("--dry-run", is_flag=True, help="Show the changes, write nothing.")
@NATIVE_OPTION
@ADMIN_OPTIONS
def apply(url: str, model_path: str | None, policy_files: Sequence[str],
          rule_files: Sequence[str], dry_run: bool, native: bool | None,
          token_file: str | None, backup_dir: str, ca_file: str | None) -> int:
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
    from ..nodered.connect import client_for_url
    from ..rewrite.policy import load_policies
    from ..rewrite.resolve import resolve as resolve_flows
    from ..rules.ruleset import load_ruleset

    policies = load_policies(policy_files)
    ruleset = load_ruleset(rule_files)
    model = load_model(model_path) if model_path else None
    runtime = model.runtime_at(url).id if model is not None else "local"
    client = client_for_url(url, token_file, ca_file)
    results: list[ResolveResult] = []

    def change(nodes: list[Any]) -> list[Any]:
        result = resolve_flows(flows_from_data(nodes, url), policies, ruleset,
                               model=model, runtime=runtime, native=native)
        results.append(result)
        return result.nodes

    code = update_deployed(client, change, Path(backup_dir), dry_run)
    if results:
        _print_plan(results[-1])
    return code
