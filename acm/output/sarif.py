"""``--format sarif``: SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps).

Each rule is a reporting descriptor with its documentation as help text;
each finding is a result located in the flows file (the line where the
actuator node is defined, when the file is at hand) with the node ids as
logical locations and the command paths as related locations. A node id
defined more than once is located at each of its definitions.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ..analysis.actuators import NodeRef
from ..analysis.findings import Finding, Report
from ..analysis.flows import Definition, DuplicateId
from ..version import __version__

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}
# A node object starts with its id then its type ({"id": ..., "type": ...}); wire
# references in subflow ports ({"id": ..., "port": 0}) must not count.
_ID = re.compile(r'"id"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"type"')


def _uri(source: str) -> str:
    path = Path(source)
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            return path.as_uri()
    return path.as_posix()


def _lines(source: str) -> dict[str, list[int]]:
    """Lines of each node's definitions ("id": "...") in a flows file, in file order (one
    line unless the id is defined more than once); {} if unreadable."""
    try:
        text = Path(source).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return {}
    found: dict[str, list[int]] = {}
    line, last = 1, 0
    for match in _ID.finditer(text):
        line += text.count("\n", last, match.start())
        last = match.start()
        found.setdefault(match.group(1), []).append(line)
    return found


class _Locator:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.files = sorted(set(report.sources.values()))
        self.index = {f: i for i, f in enumerate(self.files)}
        self.lines: dict[str, dict[str, list[int]]] = {}
        # ids defined more than once (as reported): ACM analysed their last definition
        self.defined = {f.subject[0]: len(f.duplicate.definitions)
                        for f in report.findings if f.duplicate is not None}

    def location(self, ref: NodeRef, message: str | None = None, *,
                 definition: tuple[int, int] | None = None) -> dict[str, Any]:
        """Where node ``ref`` is defined (the definition ACM analysed), or with
        ``definition=(k, n)`` the k-th of the ``n`` definitions of its id."""
        source = self.report.sources[ref.runtime]
        if source not in self.lines:
            self.lines[source] = _lines(source) if os.path.isfile(source) else {}
        physical: dict[str, Any] = {
            "artifactLocation": {"uri": _uri(source), "index": self.index[source]}}
        if definition is None and ref in self.defined:
            definition = (self.defined[ref] - 1, self.defined[ref])
        found = self.lines[source].get(ref.id, [])
        line: int | None = found[0] if found else None
        if definition is not None:  # only when the file shows as many as were loaded
            line = found[definition[0]] if len(found) == definition[1] else None
        if line:
            physical["region"] = {"startLine": line}
        location: dict[str, Any] = {
            "physicalLocation": physical,
            "logicalLocations": [{
                "name": ref.id,
                "fullyQualifiedName": f"{ref.runtime}/{ref.id}",
                "kind": "object",
            }],
        }
        if message:
            location["message"] = {"text": message}
        return location


def _definitions(ref: NodeRef, duplicate: DuplicateId, locator: _Locator) -> list[dict[str, Any]]:
    count = len(duplicate.definitions)
    return [locator.location(ref, _defined(d, d == duplicate.loaded), definition=(k, count))
            for k, d in enumerate(duplicate.definitions)]


def _defined(definition: Definition, analysed: bool) -> str:
    state = "analysed" if analysed else "not analysed"
    return f"node id {definition.id}: {definition.describe()}, {state}"


def _result(f: Finding, report: Report, locator: _Locator, rule_index: int) -> dict[str, Any]:
    related = []
    for path in f.paths:
        app = report.app_name(path.application)
        for step, ref in enumerate(path.nodes):
            related.append(locator.location(
                ref, f"{app} ({path.provenance}), step {step + 1}: {report.label(ref)}"))
    locations = [locator.location(ref) for ref in f.nodes]
    if f.duplicate is not None:  # one location per definition, the earliest first
        locations = _definitions(f.subject[0], f.duplicate, locator)
        related += _definitions(f.subject[0], f.duplicate, locator)
    for number, item in enumerate(related):
        item["id"] = number
    return {
        "ruleId": f.code,
        "ruleIndex": rule_index,
        "level": LEVEL[f.severity],
        "message": {"text": f.message},
        "locations": locations,
        "relatedLocations": related,
        "partialFingerprints": {"acmConflictId/v1": f.id},
        "properties": {
            "rule": f.rule,
            "kind": f.kind,
            "actuators": [a.key for a in f.actuators],
            "applications": [report.app_name(a) for a in f.applications],
        },
    }


def document(report: Report) -> dict[str, Any]:
    locator = _Locator(report)
    rules = list(report.rules)
    rule_index = {r.code: i for i, r in enumerate(rules)}
    driver = {
        "name": "acm",
        "fullName": "ACM actuation conflict manager for Node-RED",
        "version": __version__,
        "semanticVersion": __version__,
        "informationUri": "https://github.com/acm-nodered/acm",
        "rules": [
            {
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.summary or r.name},
                "fullDescription": {"text": r.summary or r.name},
                "help": {"text": r.doc or r.summary or r.name},
                "defaultConfiguration": {
                    "level": LEVEL[r.levels[0]] if r.levels else "warning",
                    "enabled": r.enabled,
                },
                "properties": {"tags": ["node-red", "actuation-conflict", r.kind]},
            }
            for r in rules
        ],
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "artifacts": [{"location": {"uri": _uri(f)}} for f in locator.files],
            "results": [_result(f, report, locator, rule_index[f.code])
                        for f in report.findings],
            "columnKind": "unicodeCodePoints",
        }],
    }


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2, ensure_ascii=False) + "\n"
