"""Deploying a whole site: each runtime's flows through its Admin API.

The site is analysed first (:func:`deploy_gate`); with unmanaged error-level
conflicts nothing is written unless forced. Each runtime's flows then go through
its Admin API with the same revision discipline as ``acm apply``; if a runtime
fails, those already written are put back from their backups (unless told not
to), and the result says which state each runtime is in (:data:`STATES`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..analysis.findings import Report
from ..analysis.flows import copy_nodes, flows_from_data
from ..engine import analyze_flows, model_applications
from ..errors import AcmError
from ..model import Model, Runtime
from ..rewrite.nodes import has_native_resolver
from ..rewrite.resolve import describe_changes
from ..rules.ruleset import RuleSet
from .admin_api import (
    AdminClient,
    OutcomeUnknown,
    public_url,
    require_native_resolver,
    update_flows,
    write_backup,
)
from .connect import client_for

__all__ = ["STATES", "DeployConflict", "RuntimeOutcome", "check_deploy_runtimes", "client_for",
           "deploy", "deploy_gate", "flows_to_deploy", "merge_flows", "preview_deploy"]


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


def check_deploy_runtimes(model: Model, only: Sequence[str], where: str) -> None:
    """Refuse a deploy that names a runtime the model lacks or would write one with no url."""
    unknown = [r for r in only if model.runtime(r) is None]
    if unknown:
        raise AcmError(f"no runtime {unknown[0]!r} in the model", where)
    no_url = [r.id for r in model.runtimes if not r.url and (not only or r.id in only)]
    if no_url:
        raise AcmError(f"runtime {no_url[0]!r} has no url: deploy needs one for every runtime "
                       "it writes", where)


def flows_to_deploy(model: Model) -> dict[str, list[dict[str, Any]]]:
    """Every runtime's flows as its file holds them (a deploy that resolves nothing)."""
    loaded = model.load_flows()
    for flows in loaded.values():
        flows.require_unique_ids("deploying")  # the deploy would lose earlier definitions
    return {rt: [dict(n) for n in flows.nodes] for rt, flows in loaded.items()}


def deploy_gate(model: Model, target: Mapping[str, list[dict[str, Any]]],
                ruleset: RuleSet) -> Report:
    """The site as a deploy would leave it, analysed: its error-level findings block it."""
    sources = {rt: flows_from_data(nodes, str(model.runtime(rt).flows))  # type: ignore[union-attr]
               for rt, nodes in target.items()}
    return analyze_flows(sources, ruleset, model_applications(model, sources), model=model)


def preview_deploy(model: Model, target: Mapping[str, list[dict[str, Any]]],
                   only: Sequence[str] = ()) -> Iterator[tuple[Runtime, str, list[str]]]:
    """A dry run: each runtime a deploy would write, its current rev and the changes it
    would get, one runtime at a time (each is read from its server when its turn comes).
    A runtime the deploy would refuse (native resolvers without the node type) is
    refused here too."""
    for runtime in model.runtimes:
        if only and runtime.id not in only:
            continue
        client = client_for(runtime, model)
        current, rev = client.get_flows()
        if target[runtime.id] != current:
            require_native_resolver(client, target[runtime.id])
        yield runtime, rev, describe_changes(current, target[runtime.id])


def deploy(model: Model, flows: dict[str, list[dict[str, Any]]], backup_dir: Path, *,
           only: Sequence[str] = (), rollback: bool = True, force_rollback: bool = False,
           progress: Callable[[str], None] = lambda line: None,
           clients: Callable[[Runtime], AdminClient] | None = None) -> list[RuntimeOutcome]:
    """Push each runtime's flows; on a failure roll back the ones already written.

    A runtime is written with the revision it was read at. After a ``409`` the
    deploy's own changes (the target against what was first read) are applied on
    top of what the other deploy left, unless both changed the same node. A
    rollback only overwrites flows this deploy wrote, unless ``force_rollback``. Every
    runtime that is to get native resolvers is asked for their node type before the
    first is written (so the writes themselves need not ask again).
    """
    runtimes = [r for r in model.runtimes if not only or r.id in only]
    outcomes = [RuntimeOutcome(r.id, public_url(r.url or ""), "not attempted") for r in runtimes]
    make = clients or (lambda r: client_for(r, model))
    if not _types_installed(runtimes, flows, make, outcomes, progress):
        return outcomes
    written: list[tuple[int, AdminClient]] = []
    for index, runtime in enumerate(runtimes):
        outcome = outcomes[index]
        step = f"[{index + 1}/{len(runtimes)}] {runtime.id}"
        progress(f"{step} {outcome.url}: deploying ...")
        ok, client = _deploy_runtime(runtime, make, _DeployChange(flows[runtime.id]),
                                     backup_dir, outcome, step, progress)
        if client is not None:
            written.append((index, client))
        if ok:
            continue
        if rollback:
            _roll_back(written, outcomes, backup_dir, force_rollback, progress)
        return outcomes
    return outcomes


def _types_installed(runtimes: Sequence[Runtime], flows: Mapping[str, list[dict[str, Any]]],
                     make: Callable[[Runtime], AdminClient], outcomes: list[RuntimeOutcome],
                     progress: Callable[[str], None]) -> bool:
    """Whether every runtime that is to get native resolvers has their node type; asked
    before anything is written, so that a refusal leaves every runtime as it was."""
    for index, runtime in enumerate(runtimes):
        if not has_native_resolver(flows[runtime.id]):
            continue
        try:
            require_native_resolver(make(runtime), flows[runtime.id])
        except AcmError as exc:
            outcomes[index].state, outcomes[index].error = "failed", str(exc)
            progress(f"{runtime.id}: failed before anything was written: {exc}")
            return False
    return True


def _deploy_runtime(runtime: Runtime, make: Callable[[Runtime], AdminClient],
                    change: _DeployChange, backup_dir: Path, outcome: RuntimeOutcome,
                    step: str, progress: Callable[[str], None]
                    ) -> tuple[bool, AdminClient | None]:
    """Write one runtime's flows and record how it went in ``outcome``: whether the deploy
    goes on, and the client if this runtime was written (or may have been) and has a backup
    to roll back to."""
    client: AdminClient | None = None
    try:
        client = make(runtime)
        result = update_flows(client, change, backup_dir, check_types=False)  # deploy() asked
    except OutcomeUnknown as exc:
        outcome.state, outcome.error = "unknown", str(exc)
        outcome.old_rev, outcome.backup, outcome.written = exc.old_rev, exc.backup, change.last
        progress(f"{step}: outcome unknown: {exc}")
        return False, client if exc.backup is not None else None
    except AcmError as exc:  # NodeRedError included; also a runtime without url
        outcome.state, outcome.error = "failed", str(exc)
        progress(f"{step}: failed: {exc}")
        return False, None
    outcome.old_rev, outcome.new_rev, outcome.backup = (result.old_rev, result.new_rev,
                                                        result.backup)
    outcome.state = "deployed" if result.changed else "unchanged"
    if result.changed:
        outcome.written = change.last
    merged = " (merged with a concurrent deploy)" if change.merged else ""
    progress(f"{step}: {outcome.state} (rev {result.new_rev[:12]}){merged}")
    return True, client if result.changed else None


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
            self.base = copy_nodes(current)
            result = copy_nodes(self.target)
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
            result.extend(copy_nodes([chosen]))
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
                return copy_nodes(saved)

            result = update_flows(client, change, backup_dir, check_types=False)
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
