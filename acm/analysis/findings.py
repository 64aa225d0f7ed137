"""Findings and the report: immutable, self-validating, multi-location.

A :class:`Finding` refuses to exist without a rule, a known severity, a
message and at least one node in the flows; its id is derived from the rule
and the actuator keys (for a finding about nodes only, from the nodes), so it
is stable across runs and across unrelated edits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..enums import TextEnum
from .actuators import Actuator, NodeRef, UnknownTarget
from .catalog.declare import AUTOMATION, Provenance
from .flows import DuplicateId


class Severity(TextEnum):
    """How bad a finding is (a rule's ``severity`` clause says which)."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


#: Severities from lowest to highest.
SEVERITIES: tuple[Severity, ...] = tuple(Severity)


def severity_rank(level: str) -> int:
    return SEVERITIES.index(level)


def report_order(finding: Finding) -> tuple[int, str, str]:
    """How reports list findings: highest severity first, then rule name, then id."""
    return -SEVERITIES.index(finding.severity), finding.rule, finding.id


def count_by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings there are of each severity, highest first."""
    levels = [f.severity for f in findings]
    return {lvl: levels.count(lvl) for lvl in reversed(SEVERITIES)}


@dataclass(frozen=True)
class Involved:
    """One actuator a finding is about, with its nodes in the flows."""

    key: str
    name: str
    nodes: tuple[NodeRef, ...]
    feature: str | None = None  # the feature of the device it is about; None: the whole device
    # true when the device's commands were split by feature: the feature then tells
    # this finding from the one on another feature (part of the id)
    split: bool = False


@dataclass(frozen=True)
class CommandPath:
    """One way a command reaches an actuator: trigger ... actuator node."""

    application: str
    nodes: tuple[NodeRef, ...]
    provenance: Provenance = AUTOMATION  # who starts it at the first node


@dataclass(frozen=True)
class Observation:
    """What ``acm monitor`` saw on a running site: a finding observed, not derived.

    ``commands`` are ``(time, source, value)`` as seen (ISO times, UTC); ``static``
    the ids of the findings static analysis reports on the same actuator.
    """

    first: str
    last: str
    count: int
    commands: tuple[tuple[str, str, str], ...]
    static: tuple[str, ...] = ()
    window: float = 60.0


@dataclass(frozen=True)
class Finding:
    rule: str
    code: str
    kind: str
    severity: Severity
    message: str
    actuators: tuple[Involved, ...]
    applications: tuple[str, ...]
    paths: tuple[CommandPath, ...]
    subject: tuple[NodeRef, ...] = ()  # nodes it is about besides actuator nodes
    duplicate: DuplicateId | None = None  # for an id defined twice in a flows file (the subject)
    # seen at run time (acm monitor): may have no node, when no flow node is known to
    # command the actuator (a computed topic, a device outside Node-RED)
    observed: Observation | None = None
    id: str = field(init=False)

    def __post_init__(self) -> None:
        if not self.rule or not self.code:
            raise ValueError("a finding needs a rule and a code")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        object.__setattr__(self, "severity", Severity(self.severity))  # a word given: its member
        if not self.message:
            raise ValueError("a finding needs a message")
        self._check_nodes()
        object.__setattr__(self, "id", f"{self.code}-{self._digest()}")

    def _check_nodes(self) -> None:
        """Where a finding is: nodes in the flows (or, observed, actuators at least);
        a duplicated id's definitions all of its subject."""
        if self.observed is None and (not self.nodes or not all(a.nodes for a in self.actuators)):
            raise ValueError("a finding needs at least one node in the flows")
        if self.observed is not None and not self.actuators:
            raise ValueError("an observed finding is about at least one actuator")
        duplicate = self.duplicate
        if duplicate is not None and (
                len(duplicate.definitions) < 2
                or {d.id for d in duplicate.definitions} != {duplicate.id}
                or duplicate.id not in {r.id for r in self.subject}):
            raise ValueError("a duplicate is two or more definitions of the finding's subject")

    def _digest(self) -> str:
        """The stable part of the id: the rule, the actuator keys (with the feature when
        the device was split by feature) and the other nodes it is about."""
        identity = [self.rule, *sorted(a.key + (f"#{a.feature}" if a.split else "")
                                       for a in self.actuators),
                    *sorted(f"{r.runtime}/{r.id}" for r in self.subject)]
        # About nodes only: what is said tells findings apart; not for a duplicated id,
        # whose message holds positions in the file that unrelated edits move.
        if not self.actuators and self.duplicate is None:
            identity.append(self.message)
        return hashlib.sha256("\0".join(identity).encode()).hexdigest()[:12]

    @property
    def nodes(self) -> tuple[NodeRef, ...]:
        """Every node in the flows the finding names: actuator nodes, then the others."""
        return tuple(dict.fromkeys(
            [ref for a in self.actuators for ref in a.nodes] + list(self.subject)))

    @property
    def involved(self) -> frozenset[NodeRef]:
        """The nodes above and every node on its paths."""
        return frozenset(self.nodes) | {ref for p in self.paths for ref in p.nodes}


@dataclass(frozen=True)
class Application:
    id: str
    name: str
    runtimes: tuple[str, ...]  # the runtimes its tabs are on, sorted
    tabs: tuple[str, ...]
    provenance: str | None = None  # set by the model: who starts every message in it

    @property
    def runtime(self) -> str:
        """The runtimes comma-joined, as the JSON contract writes them (``"home-pi,garage"``)."""
        return ",".join(self.runtimes)


@dataclass(frozen=True)
class RuleInfo:
    """What reports and ``acm rules`` say about a rule."""

    name: str
    code: str
    kind: str
    summary: str
    doc: str
    levels: tuple[str, ...]  # the severities it can report, highest first
    enabled: bool
    source: str


@dataclass(frozen=True)
class Report:
    sources: Mapping[str, str]  # runtime -> flows file
    findings: tuple[Finding, ...]
    actuators: tuple[Actuator, ...]
    unknown: tuple[UnknownTarget, ...]
    applications: Mapping[str, Application]
    node_labels: Mapping[NodeRef, str]
    rules: tuple[RuleInfo, ...]
    stats: Mapping[str, Any]

    def keeping(self, kept: Iterable[Finding], **stats: Any) -> Report:
        """The same report with only ``kept`` findings (counts updated, ``stats`` added)."""
        findings = tuple(kept)
        counts = dict(self.stats)
        counts.update(stats)
        counts["findings"] = count_by_severity(findings)
        return replace(self, findings=findings, stats=counts)

    def involving(self, runtime: str) -> Report:
        """The same report with only the findings that involve a node of ``runtime``."""
        return self.keeping(f for f in self.findings
                            if any(r.runtime == runtime for r in f.involved))

    def at_or_above(self, level: str) -> list[Finding]:
        rank = severity_rank(level)
        return [f for f in self.findings if severity_rank(f.severity) >= rank]

    def label(self, ref: NodeRef) -> str:
        return self.node_labels.get(ref, ref.id)

    def app_name(self, app: str) -> str:
        found = self.applications.get(app)
        return found.name if found else app
