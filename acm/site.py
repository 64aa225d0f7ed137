"""A whole site at once: cross-runtime resolution over MQTT, and deployment.

Cross-runtime resolution: a conflict on one MQTT topic published from several
runtimes cannot be arbitrated inside any one of them. Each publisher is moved
to its own topic ``acm/<conflict id>/<application id>`` (``/`` in the id
written ``~``), and a resolver flow on one runtime (the model's
``resolution.runtime``, else the first runtime) subscribes to
``acm/<conflict id>/+`` and publishes the winning command to the real topic.

Deployment: the site is analysed first; with unmanaged error-level conflicts
nothing is written unless forced. Each runtime's flows then go through its
Admin API with the same revision discipline as ``acm apply``; if a runtime
fails, those already written are put back from their backups (unless told
not to), and the result says which state each runtime is in.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import mqtt_broker_address
from .engine import inspect, model_applications
from .errors import AcmError
from .findings import Finding, Report
from .flows import Flows, flows_from_data
from .model import Model, Runtime
from .nodered import (
    AdminClient,
    OutcomeUnknown,
    public_url,
    token_from_env,
    update_flows,
    write_backup,
)
from .policy import DEFAULTS, Policy, matches
from .resolve import (
    ENV_NAME,
    MARKER,
    Skipped,
    manifest_entry,
    node_id,
    resolve,
    resolver_options,
    revert,
    template,
)
from .rules import RuleSet

NAMESPACE = "acm"


@dataclass
class SiteResolution:
    flows: dict[str, list[dict[str, Any]]]  # runtime id -> resolved nodes
    resolved: list[tuple[Finding, Policy, str]] = field(default_factory=list)  # + runtime
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def resolution_runtime(model: Model) -> Runtime:
    wanted = model.resolution_runtime
    found = next((r for r in model.runtimes if r.id == wanted), None) if wanted else None
    return found or model.runtimes[0]


def resolve_site(model: Model, policies: Sequence[Policy] = (),
                 ruleset: RuleSet | None = None) -> SiteResolution:
    """Resolve every runtime's own conflicts, then the cross-runtime ones over the broker."""
    originals = model.load_flows()
    nodes: dict[str, list[dict[str, Any]]] = {}
    result = SiteResolution(flows=nodes)
    for runtime, flows in originals.items():
        flows.require_unique_ids("resolving")  # revert() below would drop the duplicates
        local = resolve(flows_from_data(revert(flows.nodes), flows.source), policies, ruleset,
                        model=model, runtime=runtime)
        nodes[runtime] = local.nodes
        result.skipped.extend(local.skipped)
        result.notes.extend(local.notes)
        result.resolved.extend((p.finding, p.policy, runtime) for p in local.planned)
    sources = {rt: flows_from_data(ns, originals[rt].source) for rt, ns in nodes.items()}
    analysis = inspect(sources, ruleset, model_applications(model, sources), model=model)
    facts = {(f.actuator.key, f.feature): f for f in analysis.facts}
    host = resolution_runtime(model)
    for finding in analysis.report.findings:
        if finding.kind == "indirect" and finding.severity != "info" \
                and len({r.runtime for r in finding.nodes}) > 1:
            result.skipped.append(Skipped(finding, "its actuators are on different runtimes; "
                                          "interlocks across runtimes are not supported yet"))
            continue
        if finding.kind != "cross-runtime" or finding.severity == "info":
            continue
        key = finding.actuators[0].key
        if not key.startswith("mqtt:"):
            result.skipped.append(Skipped(finding, "only MQTT actuators can be resolved across "
                                          "runtimes (over the broker)"))
            continue
        fact = facts[(key, finding.actuators[0].feature)]
        policy = next((p for p in policies if p.strategy != "interlock"
                       and matches(p, [fact])), None)
        if policy is None:
            strategy, options = DEFAULTS["direct"]
            policy = Policy("default", strategy, dict(options), "default")
            result.notes.append(f"no policy matched {fact.actuator.name}; used the default "
                                f"{strategy} {options} across runtimes")
        inner = [r for r in fact.actuator.nodes
                 if sources[r.runtime].by_id[r.id].get("z") in sources[r.runtime].subflows]
        if inner:
            result.skipped.append(Skipped(finding, f"publisher {inner[0].id} is inside a "
                                          "subflow; move it out to resolve"))
            continue
        _reroute(finding, key, fact.actuator.nodes, analysis, nodes)
        _host_resolver(finding, key, policy, nodes[host.id], sources[host.id], analysis.report,
                       fact.actuator.nodes, nodes, result.notes)
        result.resolved.append((finding, policy, host.id))
    return result


def _reroute(finding: Finding, key: str, refs: Sequence[Any], analysis: Any,
             nodes: dict[str, list[dict[str, Any]]]) -> None:
    multi = len(analysis.graph.flows) > 1
    for ref in refs:
        node = next(n for n in nodes[ref.runtime] if n["id"] == ref.id)
        gid = f"{ref.runtime}::{ref.id}" if multi else ref.id
        apps = analysis.propagation.applications_at(gid)
        source = apps[0] if len(apps) == 1 else f"{ref.runtime}.{ref.id}"
        original = {"topic": node.get("topic", "")}
        node["topic"] = f"{NAMESPACE}/{finding.id}/{source.replace('/', '~')}"
        node[MARKER] = {"role": "rerouted", "conflict": finding.id, "original": original}


def _host_resolver(finding: Finding, key: str, policy: Policy, host_nodes: list[dict[str, Any]],
                   host_flows: Flows, report: Report, publishers: Sequence[Any],
                   nodes: dict[str, list[dict[str, Any]]], notes: list[str]) -> None:
    address, _, topic = key[len("mqtt:"):].partition("/")
    conflict = finding.id
    tab_id = node_id("site", "tab")
    if not any(n["id"] == tab_id for n in host_nodes):
        host_nodes.append({
            "id": tab_id, "type": "tab", "label": "ACM resolvers", "disabled": False,
            "info": "Added by ACM to arbitrate commands published from several runtimes.\n"
                    "`acm revert` removes it.",
            MARKER: {"role": "tab"},
        })
    broker = next((n["id"] for n in host_flows.nodes if n.get("type") == "mqtt-broker"
                   and mqtt_broker_address(n, "") == address), None)
    if broker is None:
        broker = node_id("site", "broker", address)
        if not any(n["id"] == broker for n in host_nodes):
            host, _, port = address.rpartition(":")
            host_nodes.append({"id": broker, "type": "mqtt-broker", "name": f"ACM {address}",
                               "broker": host, "port": port, "clientid": "",
                               "protocolVersion": "4", "keepalive": "60", "cleansession": True,
                               MARKER: {"role": "config"}})
    first = next(n for n in nodes[publishers[0].runtime] if n["id"] == publishers[0].id)
    row = 80 + 120 * sum(1 for n in host_nodes if (n.get(MARKER) or {}).get("role") == "group")
    ids = {part: node_id(conflict, "site", part) for part in ("in", "tag", "resolver", "out",
                                                             "group")}
    options = resolver_options(policy, report, topic, notes)
    config = {"strategy": policy.strategy, "conflict": conflict, "label": topic, "targets": 1,
              "options": options}
    common = {"z": tab_id, "g": ids["group"]}
    host_nodes.extend([
        {"id": ids["in"], "type": "mqtt in", **common, "name": f"ACM: commands for {topic}",
         "topic": f"{NAMESPACE}/{conflict}/+", "qos": "1", "datatype": "auto",
         "broker": broker, "nl": False, "rap": True, "rh": 0, "inputs": 0,
         "x": 160, "y": row, "wires": [[ids["tag"]]], MARKER: {"role": "link",
                                                               "conflict": conflict}},
        {"id": ids["tag"], "type": "function", **common, "name": "ACM: application from topic",
         "func": template("mqtt-source"), "outputs": 1, "timeout": 0, "noerr": 0,
         "initialize": "", "finalize": "", "libs": [], "x": 380, "y": row,
         "wires": [[ids["resolver"]]], MARKER: {"role": "link", "conflict": conflict}},
        {"id": ids["resolver"], "type": "function", **common,
         "name": f"ACM {policy.strategy}: {topic}", "func": template(policy.strategy),
         "outputs": 1, "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [],
         "x": 600, "y": row, "wires": [[ids["out"]]],
         MARKER: {"role": "resolver", "strategy": policy.strategy, "conflict": conflict,
                  "policy": policy.name, "version": 1}},
        {"id": ids["out"], "type": "mqtt out", **common, "name": f"ACM: {topic}",
         "topic": topic, "qos": first.get("qos", ""), "retain": first.get("retain", ""),
         "broker": broker, "x": 820, "y": row, "wires": [],
         MARKER: {"role": "publisher", "conflict": conflict}},
        {"id": ids["group"], "type": "group", "z": tab_id,
         "name": f"ACM: {finding.rule} conflict on {topic} ({policy.strategy})",
         "style": {"label": True, "stroke": "#ff7f0e", "fill": "#fff3e0",
                   "fill-opacity": "0.5"},
         "nodes": [ids["in"], ids["tag"], ids["resolver"], ids["out"]],
         "env": [{"name": ENV_NAME, "value": json.dumps(config, sort_keys=True), "type": "str"}],
         "x": 54, "y": row - 40, "w": 872, "h": 82,
         MARKER: {"role": "group", "conflict": conflict, "policy": policy.name}},
    ])
    group = host_nodes[-1]
    shared = [n for n in host_nodes if n["id"] in (tab_id, broker)]
    group["env"].append(manifest_entry([*shared, *host_nodes[-5:-1]],
                                       {group["id"]: group[MARKER]}))


# ---------------------------------------------------------------------------- deployment


@dataclass
class RuntimeOutcome:
    runtime: str
    url: str
    state: str  # one of STATES
    old_rev: str | None = None
    new_rev: str | None = None
    backup: Path | None = None
    error: str | None = None
    #: The flows this deploy wrote (or may have written); what a rollback expects to find.
    written: list[dict[str, Any]] | None = field(default=None, repr=False)


#: What a runtime runs after ``acm deploy``, by state (docs/deploy.md has the table).
STATES = ("deployed", "unchanged", "failed", "unknown", "rolled back", "rollback refused",
          "rollback failed", "not attempted")


def client_for(runtime: Runtime, model: Model, timeout: float = 10) -> AdminClient:
    """An Admin API client with the runtime's credentials (env var names, token file)."""
    if not runtime.url:
        raise AcmError(f"runtime {runtime.id} has no url in the model", str(model.path))
    creds = runtime.credentials
    token = None
    if creds.get("token_file"):
        token = token_from_env(model.path.parent / creds["token_file"])
    elif creds.get("token_env"):
        token = os.environ.get(creds["token_env"], "").strip() or None
    verify: bool | str = True
    if runtime.tls.get("ca_file"):
        verify = str(model.path.parent / runtime.tls["ca_file"])
    elif runtime.tls.get("verify") is False:
        verify = False
    client = AdminClient(runtime.url, token=token, verify=verify, timeout=timeout)
    hints = [f"set {creds[k]}" for k in ("token_env", "username_env") if creds.get(k)]
    if creds.get("token_file"):
        hints.append(f"put a token in {model.path.parent / creds['token_file']}")
    client.token_hint = (" or ".join(hints) + f" (runtime {runtime.id} in {model.path})") \
        if hints else f"add credentials to runtime {runtime.id} in {model.path}"
    user = os.environ.get(creds.get("username_env", ""), "") if creds.get("username_env") else ""
    password = os.environ.get(creds.get("password_env", ""), "") \
        if creds.get("password_env") else ""
    if token is None and user and password:
        client.login(user, password)
    return client


def deploy(model: Model, flows: dict[str, list[dict[str, Any]]], backup_dir: Path, *,
           only: Sequence[str] = (), rollback: bool = True, force_rollback: bool = False,
           progress: Callable[[str], None] = lambda line: None,
           clients: Callable[[Runtime], AdminClient] | None = None) -> list[RuntimeOutcome]:
    """Push each runtime's flows; on a failure roll back the ones already written.

    A runtime is written with the revision it was read at. After a ``409`` the
    deploy's own changes (the target against what was first read) are applied on
    top of what the other deploy left, unless both changed the same node. A
    rollback only overwrites flows this deploy wrote, unless ``force_rollback``.
    """
    runtimes = [r for r in model.runtimes if not only or r.id in only]
    outcomes = [RuntimeOutcome(r.id, public_url(r.url or ""), "not attempted") for r in runtimes]
    make = clients or (lambda r: client_for(r, model))
    written: list[tuple[int, AdminClient]] = []
    for index, runtime in enumerate(runtimes):
        outcome = outcomes[index]
        step = f"[{index + 1}/{len(runtimes)}] {runtime.id}"
        progress(f"{step} {outcome.url}: deploying ...")
        change = _DeployChange(flows[runtime.id])
        client: AdminClient | None = None
        try:
            client = make(runtime)
            result = update_flows(client, change, backup_dir)
        except OutcomeUnknown as exc:
            outcome.state, outcome.error = "unknown", str(exc)
            outcome.old_rev, outcome.backup, outcome.written = exc.old_rev, exc.backup, change.last
            progress(f"{step}: outcome unknown: {exc}")
            if client is not None and exc.backup is not None:
                written.append((index, client))
        except AcmError as exc:  # NodeRedError included; also a runtime without url
            outcome.state, outcome.error = "failed", str(exc)
            progress(f"{step}: failed: {exc}")
        else:
            outcome.old_rev, outcome.new_rev, outcome.backup = (result.old_rev, result.new_rev,
                                                                result.backup)
            outcome.state = "deployed" if result.changed else "unchanged"
            if result.changed:
                outcome.written = change.last
                written.append((index, client))
            merged = " (merged with a concurrent deploy)" if change.merged else ""
            progress(f"{step}: {outcome.state} (rev {result.new_rev[:12]}){merged}")
            continue
        if rollback:
            _roll_back(written, outcomes, backup_dir, force_rollback, progress)
        return outcomes
    return outcomes


class _DeployChange:
    """The change a deploy makes to a runtime's flows, for :func:`update_flows`.

    First read: whatever is there becomes ``target``. After a ``409``, the flows
    read first are the base of a three-way merge by node id: the deploy's changes
    (base → target) go on top of the other deploy's (base → now). A node both
    changed differently is a :class:`DeployConflict`: nothing is written.
    """

    def __init__(self, target: list[dict[str, Any]]) -> None:
        self.target = target
        self.base: list[Any] | None = None
        self.last: list[dict[str, Any]] | None = None
        self.merged = False

    def __call__(self, current: list[Any]) -> list[Any]:
        if self.base is None:
            self.base = copy.deepcopy(current)
            result = copy.deepcopy(self.target)
        else:
            result = merge_flows(self.base, self.target, current)
            self.merged = True
        self.last = result
        return result


class DeployConflict(AcmError):
    """A concurrent deploy changed a node this deploy changes too."""


def merge_flows(base: list[Any], ours: list[Any], theirs: list[Any]) -> list[Any]:
    """``ours``' changes to ``base`` applied on top of ``theirs``, node by node.

    A node only one side changed (added, edited, removed) takes that side; a node
    both changed the same way is kept once; both changed differently raises
    :class:`DeployConflict`. Order: ``ours``, then nodes only ``theirs`` added.
    """
    sides = [_by_id(nodes, name) for nodes, name in
             ((base, "the flows read first"), (ours, "the flows to deploy"),
              (theirs, "the flows on the server"))]
    old, mine, other = sides
    result: list[Any] = []
    for key in [*mine, *(k for k in other if k not in mine)]:
        b, o, t = old.get(key), mine.get(key), other.get(key)
        if o == b:
            chosen = t
        elif t == b or t == o:
            chosen = o
        else:
            raise DeployConflict(
                f"a concurrent deploy changed {_describe(t if t is not None else b)}, which this "
                "deploy changes too; nothing written: deploy again to overwrite it, or take "
                "their change into the flows file first")
        if chosen is not None:
            result.append(copy.deepcopy(chosen))
    # nodes ours removed that theirs did not touch are gone; ones only theirs removed stay gone
    return result


def _by_id(nodes: list[Any], name: str) -> dict[str, Any]:
    keyed: dict[str, Any] = {}
    for node in nodes:
        key = node.get("id") if isinstance(node, dict) else None
        key = key if isinstance(key, str) else "\0" + json.dumps(node, sort_keys=True, default=str)
        if key in keyed:
            raise DeployConflict(f"cannot merge with a concurrent deploy: {name} hold node id "
                                 f"{key!r} twice; nothing written")
        keyed[key] = node
    return keyed


def _describe(node: Any) -> str:
    if not isinstance(node, dict):
        return "a node"
    name = node.get("name") or node.get("label")
    named = f" {name!r}" if isinstance(name, str) and name else ""
    return f"node {node.get('id')!s} ({node.get('type')!s}{named})"


class _Changed(Exception):
    """Rollback: the flows on the server are no longer the ones this deploy wrote."""


def _roll_back(written: list[tuple[int, AdminClient]], outcomes: list[RuntimeOutcome],
               backup_dir: Path, force: bool, progress: Callable[[str], None]) -> None:
    """Put each written runtime back to its backup, newest first, under the rev discipline.

    Only flows this deploy wrote are overwritten: if someone deployed since, the
    rollback is refused (their flows are backed up and named), unless ``force``.
    """
    for index, client in reversed(written):
        outcome = outcomes[index]
        assert outcome.backup is not None
        name = outcome.runtime
        try:
            saved = json.loads(outcome.backup.read_text(encoding="utf-8"))["flows"]
            current, rev = client.get_flows()
            if current == saved:
                if outcome.state == "unknown":
                    outcome.state = "failed"
                    outcome.error = f"{outcome.error}; it was not applied (old flows in place)"
                else:
                    outcome.state, outcome.new_rev = "rolled back", rev
                progress(f"{name}: already runs the flows of its backup {outcome.backup}")
                continue
            ours = rev == outcome.new_rev or current == outcome.written
            if not ours and not force:
                raise _Changed(rev)

            def change(now: list[Any], expected: list[Any] = current,
                       saved: list[Any] = saved) -> list[Any]:
                if now != expected and not force:
                    raise _Changed(None)
                return copy.deepcopy(saved)

            result = update_flows(client, change, backup_dir)
            outcome.state, outcome.new_rev = "rolled back", result.new_rev
            progress(f"{name}: rolled back to its backup {outcome.backup}")
        except _Changed:
            outcome.state = "rollback refused"
            outcome.error = _refusal(client, backup_dir, outcome)
            progress(f"{name}: ROLLBACK REFUSED: {outcome.error}")
        except (AcmError, OSError, ValueError, KeyError, TypeError) as exc:
            outcome.state, outcome.error = "rollback failed", str(exc)
            progress(f"{name}: ROLLBACK FAILED: {exc} (backup {outcome.backup})")


def _refusal(client: AdminClient, backup_dir: Path, outcome: RuntimeOutcome) -> str:
    """Why a rollback was refused, with the other deploy's flows saved first."""
    try:
        current, rev = client.get_flows()
        saved = f"saved to {write_backup(backup_dir, client.url, current, rev)}"
        now = f"now rev {rev[:12]}"
    except AcmError as exc:
        saved, now = f"not saved: {exc.what}", "rev unknown"
    return (f"someone deployed since this deploy wrote the flows ({now}); not overwritten "
            f"(their flows {saved}). The flows from before this deploy are in "
            f"{outcome.backup}; use --force-rollback to put them back anyway")
