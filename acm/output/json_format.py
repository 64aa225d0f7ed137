"""``--format json``: the stable findings contract ``acm.findings/1`` (docs/json.md)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from ..analysis.actuators import Actuator, NodeRef
from ..analysis.findings import Finding, Report
from ..analysis.values import UNKNOWN, Value, const_text
from ..version import __version__

SCHEMA = "acm.findings/1"


def _ids(refs: tuple[NodeRef, ...]) -> list[str]:
    return [r.id for r in refs]


def _locations(refs: tuple[NodeRef, ...], report: Report) -> list[dict[str, str]]:
    return [{"runtime": r.runtime, "file": report.sources[r.runtime], "id": r.id} for r in refs]


def _definitions(f: Finding, report: Report) -> list[dict[str, Any]]:
    """Where each definition of a duplicated id is (rule duplicate-id); [] for other rules."""
    if f.duplicate is None:
        return []
    runtime = f.subject[0].runtime
    kept = {f.duplicate.loaded, *f.duplicate.also_in_node_red}
    return [{"runtime": runtime, "file": report.sources[runtime], "id": d.id, "index": d.index,
             "type": d.type, "name": d.name, "z": d.z, "z_label": d.z_label,
             "analysed": d == f.duplicate.loaded, "kept_by_node_red": d in kept}
            for d in f.duplicate.definitions]


def conflict(f: Finding, report: Report) -> dict[str, Any]:
    out = _conflict(f, report)
    if f.observed is not None:  # seen by acm monitor on the running site (docs/monitor.md)
        seen = f.observed
        out["observed"] = {
            "first": seen.first, "last": seen.last, "count": seen.count,
            "window": seen.window, "static": list(seen.static),
            "commands": [{"time": t, "source": src, "value": v} for t, src, v in seen.commands],
        }
    return out


def _conflict(f: Finding, report: Report) -> dict[str, Any]:
    return {
        "id": f.id,
        "rule": f.rule,
        "code": f.code,
        "kind": f.kind,
        "severity": f.severity,
        "actuators": [
            {"key": a.key, "name": a.name, "feature": a.feature, "nodes": _ids(a.nodes),
             "locations": _locations(a.nodes, report)}
            for a in f.actuators
        ],
        "applications": list(f.applications),
        "nodes": _ids(f.nodes),
        "paths": [_ids(p.nodes) for p in f.paths],
        "path_applications": [p.application for p in f.paths],
        "path_provenances": [p.provenance for p in f.paths],
        "definitions": _definitions(f, report),
        "message": f.message,
    }


def _driven(a: Actuator) -> tuple[dict[str, list[str]], list[str], bool]:
    """How ``a`` is driven, in one pass over its drivers (this runs per actuator): each
    application's provenances, the texts of its constant commands, and whether any
    command is dynamic."""
    provenances: dict[str, list[str]] = {}
    values: set[Value] = set()
    for app, driver in a.drivers.items():
        provenances[app] = sorted(driver.provenances)
        values |= driver.commands
    dynamic = UNKNOWN in values
    values.discard(UNKNOWN)
    return provenances, sorted(set(map(const_text, values))), dynamic  # (memoised)


def _actuator(a: Actuator) -> dict[str, Any]:
    provenances, commands, dynamic = _driven(a)
    return {
        "key": a.key,
        "kind": a.kind,
        "name": a.name,
        "role": a.role,
        "nodes": _ids(a.nodes),
        "applications": sorted(a.drivers),
        "provenances": provenances,
        "commands": commands,
        "dynamic": dynamic,
        "runtimes": sorted(a.runtimes),
        "zone": a.zone,
        "effects": dict(a.effects),
        "declared": a.declared,
        "managed_by": a.managed_by,
    }


def document(report: Report) -> dict[str, Any]:
    return {key: value if make is None else [make(item) for item in value]
            for key, value, make in _sections(report)}


def _sections(report: Report) -> list[tuple[str, Any, Callable[[Any], Any] | None]]:
    """The document's keys in order, each with its value; for the two lists that grow
    with the site, the items and what makes each item's JSON object."""
    return [
        ("schema", SCHEMA, None),
        ("tool", {"name": "acm", "version": __version__}, None),
        ("sources", dict(report.sources), None),
        ("conflicts", report.findings, partial(conflict, report=report)),
        ("actuators", report.actuators, _actuator),
        ("unknown_targets", [
            {"node": u.node.id, "runtime": u.node.runtime, "kind": u.kind, "name": u.name,
             "applications": sorted(u.applications)}
            for u in report.unknown
        ], None),
        ("applications", [
            {"id": a.id, "name": a.name, "runtime": a.runtime, "tabs": list(a.tabs),
             "provenance": a.provenance}
            for a in report.applications.values()
        ], None),
        ("rules", [
            {"name": r.name, "code": r.code, "kind": r.kind, "levels": list(r.levels),
             "enabled": r.enabled, "summary": r.summary}
            for r in report.rules
        ], None),
        ("stats", dict(report.stats), None),
    ]


#: Reports with more conflicts and actuators than this are written compact.
INDENTED_UP_TO = 2000


def render(report: Report) -> str:
    return "".join(pieces(report))


def pieces(report: Report) -> Iterator[str]:
    """The report's text in pieces, to be written one after the other.

    Indented for people when small. Large reports stay on the C encoder's fast
    path (indentation forces the pure-Python encoder, several times slower), a
    batch at a time (:func:`compact_pieces`).
    """
    if len(report.actuators) + len(report.findings) <= INDENTED_UP_TO:
        # a fresh tree of new dicts and lists: no cycles for the encoder to look for
        # (that search costs a tenth of the encoding)
        yield json.dumps(document(report), indent=2, ensure_ascii=False,
                         check_circular=False) + "\n"
        return
    yield from compact_pieces(report)
    yield "\n"


def compact_pieces(report: Report, batch: int = 1000) -> Iterator[str]:
    """``json.dumps(document(report))``, piece by piece: the long lists ``batch`` items
    at a time, so their objects never all exist at once (on a 100k-node site the
    whole document takes more memory than the text it encodes to, three times over;
    written as they come, not even the whole text does)."""
    dumps = partial(json.dumps, ensure_ascii=False, check_circular=False)
    yield "{"
    for index, (key, value, make) in enumerate(_sections(report)):
        yield f"{', ' if index else ''}{dumps(key)}: "
        if make is None:
            yield dumps(value)
            continue
        yield "["
        for start in range(0, len(value), batch):
            # each batch as a list, less its brackets: the items with the same ", "
            yield (", " if start else "") + dumps([make(item) for item in
                                                   value[start:start + batch]])[1:-1]
        yield "]"
    yield "}"
