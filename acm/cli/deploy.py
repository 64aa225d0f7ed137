"""``acm deploy``, ``acm watch`` and ``acm monitor``: a whole site, deployed and followed."""

from __future__ import annotations

import gc
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import AcmError
from .console import echo
from .options import NATIVE_OPTION, POLICY_OPTION, RULES_OPTION

if TYPE_CHECKING:
    from ..model import Model
    from ..nodered.deploy import RuntimeOutcome
    from ..nodered.site import SiteResolution


@click.command("deploy")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--only", "only", multiple=True, metavar="RUNTIME",
              help="Deploy only this runtime (repeatable); the gate still analyses the site.")
@click.option("--resolve", "do_resolve", is_flag=True,
              help="Resolve first: each runtime's conflicts, and cross-runtime ones over MQTT.")
@POLICY_OPTION
@RULES_OPTION
@NATIVE_OPTION
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
                   policy_files: Sequence[str], rule_files: Sequence[str],
                   native: bool | None, dry_run: bool,
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
    Credentials come from the model (names of env vars). A runtime whose
    flows have native resolvers (--native) must have node-red-acm-bridge.

    \b
    Examples:
      acm deploy site.yaml --dry-run
      acm deploy site.yaml --resolve --policy site.policy
      acm deploy site.yaml --only hub
    """
    from ..model import load_model
    from ..nodered.deploy import check_deploy_runtimes, deploy_gate, flows_to_deploy
    from ..nodered.deploy import deploy as deploy_site
    from ..nodered.site import resolve_site
    from ..output import render
    from ..rewrite.policy import load_policies
    from ..rules.ruleset import load_ruleset

    if native is not None and not do_resolve:
        raise click.UsageError("--native and --function-nodes go with --resolve (they say how "
                               "resolvers are written)")
    model = load_model(model_path)
    check_deploy_runtimes(model, only, model_path)
    ruleset = load_ruleset(rule_files)
    if do_resolve:
        site = resolve_site(model, load_policies(policy_files), ruleset, native)
        _print_site_resolution(site)
        target = site.flows
    else:
        target = flows_to_deploy(model)
    report = deploy_gate(model, target, ruleset)
    blocking = report.at_or_above("error")
    if blocking and not force:
        echo(render(report, "text"), nl=False)
        echo(f"acm: refusing to deploy: {len(blocking)} unmanaged error-level "
             "conflict(s); resolve them (--resolve, acm resolve) or use --force", err=True)
        return 1
    if dry_run:
        _print_preview(model, target, only)
        return 0
    outcomes = deploy_site(model, target, Path(backup_dir), only=only, rollback=not no_rollback,
                           force_rollback=force_rollback,
                           progress=lambda line: echo(f"acm: {line}", err=True))
    return _print_outcomes(outcomes)


def _print_site_resolution(site: SiteResolution) -> None:
    """On stderr: the resolver placed for each conflict, the notes, what was not resolved."""
    for finding, policy, host in site.resolved:
        echo(f"acm: {finding.id} ({finding.rule}) on {host}: {policy.strategy}", err=True)
    for note in site.notes:
        echo(f"acm: note: {note}", err=True)
    for skipped in site.skipped:
        echo(f"acm: not resolved: {skipped.finding.id}: {skipped.reason}", err=True)


def _print_preview(model: Model, target: dict[str, list[dict[str, Any]]],
                   only: Sequence[str]) -> None:
    """--dry-run: each runtime a deploy would write, its rev and the changes it would get."""
    from ..model import without_userinfo as public_url
    from ..nodered.deploy import preview_deploy

    for runtime, rev, changes in preview_deploy(model, target, only):
        echo(f"== {runtime.id} {public_url(runtime.url or '')} (rev {rev[:12]}): "
             f"{len(changes)} change(s)")
        for line in changes:
            echo(f"   {line}")
    echo("acm: dry run: nothing written", err=True)


def _print_outcomes(outcomes: Sequence[RuntimeOutcome]) -> int:
    """The summary table of a deploy, one runtime a line; the exit code (2: not all ok)."""
    width = max(len(o.runtime) for o in outcomes)
    echo(f"{'runtime':{width}}  {'state':16} {'rev':12}  backup / error")
    for o in outcomes:
        detail = o.error or (str(o.backup) if o.backup else "")
        echo(f"{o.runtime:{width}}  {o.state:16} {(o.new_rev or '')[:12]:12}  {detail}")
    return 0 if all(o.state in ("deployed", "unchanged") for o in outcomes) else 2


@click.command("watch")
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
    from ..nodered.watch import Watcher, runtimes_from_model, runtimes_from_urls
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
        runtimes = runtimes_from_urls(urls, token_file, ca_file)
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


@click.command("monitor")
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
      0  stopped (Ctrl-C, SIGTERM, --duration) with no runtime conflict
      1  runtime conflicts seen (not in --baseline)
      2  bad input or usage, no MQTT actuator to watch, or no broker reached
         within --duration
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
        host, colon, port = where.rpartition(":")
        if not sep or not name or not colon or not host.strip("[]") or not port.isdigit() \
                or not 0 < int(port) < 65536:
            raise click.UsageError(f"--broker {item!r}: write ID=HOST:PORT (a port 1-65535)")
        override[name] = f"{host.strip('[]')}:{int(port)}"
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

    def stopped(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM (docker stop, systemd) ends it like Ctrl-C

    import signal

    previous = signal.signal(signal.SIGTERM, stopped)
    try:
        seen = run(watcher, broker_access(model, override), show, log, once=once,
                   duration=duration)
    except KeyboardInterrupt:
        log("stopped")
        seen = len(watcher.conflicts)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if as_json:
        echo(json.dumps({"schema": LINES_SCHEMA, **watcher.summary()}, ensure_ascii=False))
    else:
        echo(watcher.summary_text(), err=True)
    if write_findings:
        count = write_findings_file(watcher, write_findings, report.sources)
        log(f"wrote {count} runtime conflict(s) to {write_findings}")
    return 1 if seen else 0
