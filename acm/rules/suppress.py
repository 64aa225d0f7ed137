"""Suppressions written in flows: ``acm-ignore <rule> [reason]`` in an ``info`` text.

A suppression on a node applies to findings that involve that node (on a
``comment`` node: its group, or else its tab); on a group, to findings
involving any node in the group (nested groups too); on a tab or subflow, to
findings involving any node on it. A finding is involved
with a node when the node is one of its actuator nodes or lies on one of its
paths. A suppression that silences nothing is reported itself (rule
``unused-suppression``, info), so stale ones do not pile up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..analysis.actuators import NodeRef
from ..analysis.findings import Finding, RuleInfo, Severity
from ..analysis.flows import Flows

_PATTERN = re.compile(r"^\s*acm-ignore\s+(?P<rule>[\w*-]+)(?:\s+(?P<reason>.*?))?\s*$",
                      re.MULTILINE)

UNUSED = RuleInfo(
    name="unused-suppression", code="ACM900", kind="suppression",
    summary="An acm-ignore comment silences nothing.",
    doc="An `acm-ignore <rule>` line in a node's, group's or tab's info text that no "
        "finding matches any more. Remove it, or fix the rule name.",
    levels=("info",), enabled=True, source="<builtin>",
)


@dataclass(frozen=True)
class Suppression:
    where: NodeRef  # the node, group or tab carrying the comment
    rule: str  # rule name or code, or *
    reason: str
    scope: frozenset[NodeRef]  # nodes it covers

    def matches(self, finding: Finding) -> bool:
        wanted = self.rule.lower()
        if wanted not in ("*", finding.rule.lower(), finding.code.lower()):
            return False
        return not self.scope.isdisjoint(finding.involved)


def find_suppressions(sources: Mapping[str, Flows]) -> list[Suppression]:
    found: list[Suppression] = []
    for runtime, flows in sources.items():
        # "info" in node first: most nodes have none, and this runs once per node.
        commented = [node for node in flows.nodes if "info" in node
                     and isinstance(node["info"], str) and "acm-ignore" in node["info"]]
        if not commented:  # the usual case: no need to index who is in what
            continue
        members = _members(flows.nodes)
        for node in commented:
            # A comment node is on no path: it speaks for its group, or else its tab.
            anchor = node["id"]
            if node["type"] == "comment":
                anchor = node.get("g") or node.get("z") or anchor
            scope = _closure(anchor, members)
            for match in _PATTERN.finditer(node["info"]):
                found.append(Suppression(
                    NodeRef(runtime, node["id"]), match.group("rule"),
                    (match.group("reason") or "").strip(),
                    frozenset(NodeRef(runtime, i) for i in scope)))
    return found


def _members(nodes: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Tab, subflow and group id -> the ids of its direct members."""
    members: dict[str, list[str]] = {}
    for node in nodes:
        for container in (node.get("z"), node.get("g")):
            if isinstance(container, str) and container:
                members.setdefault(container, []).append(node["id"])
    return members


def _closure(start: str, members: Mapping[str, Sequence[str]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for member in members.get(stack.pop(), ()):
            if member not in seen:
                seen.add(member)
                stack.append(member)
    return seen


def apply_suppressions(
    findings: Iterable[Finding], suppressions: Sequence[Suppression]
) -> tuple[list[Finding], int]:
    """Findings left after suppressions (plus unused-suppression ones), and how many went."""
    kept: list[Finding] = []
    used: set[int] = set()
    silenced = 0
    for finding in findings:
        hits = [i for i, s in enumerate(suppressions) if s.matches(finding)]
        if hits:
            used.update(hits)
            silenced += 1
        else:
            kept.append(finding)
    for index, suppression in enumerate(suppressions):
        if index not in used:
            kept.append(Finding(
                rule=UNUSED.name, code=UNUSED.code, kind=UNUSED.kind, severity=Severity.INFO,
                message=f"'acm-ignore {suppression.rule}' on {suppression.where.id} "
                        "matches no finding",
                actuators=(), applications=(), paths=(), subject=(suppression.where,)))
    return kept, silenced
