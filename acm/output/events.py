"""What ``acm watch`` reports for one deploy: an :class:`Event` (the conflicts that
appeared, went away or changed severity, and the drift from the flows file), for
people (:meth:`Event.text`) and machines (:meth:`Event.document`, ``acm.watch/1``,
one JSON line each).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..analysis.drift import Drift
from ..analysis.findings import Finding, Report
from ..version import __version__
from .json_format import conflict as conflict_document

__all__ = ["SCHEMA", "Event", "compare"]

SCHEMA = "acm.watch/1"


@dataclass(frozen=True)
class Event:
    """What one deploy on ``runtime`` changed.

    ``new``/``gone``: findings (over the whole site) that appeared / disappeared,
    by finding id; ``changed``: ``(before, after)`` pairs of findings whose
    severity or applications changed. ``drift`` is ``None`` when there is no
    flows file to compare with (no model, or it could not be read). ``error``
    says why the new flows could not be analysed (the findings are then those
    of the previous revision).
    """

    runtime: str
    url: str
    revision: str
    previous_revision: str | None
    new: tuple[Finding, ...]
    gone: tuple[Finding, ...]
    changed: tuple[tuple[Finding, Finding], ...]
    drift: Drift | None
    report: Report = field(repr=False)
    previous: Report = field(repr=False)
    time: str = ""
    error: str | None = None

    def document(self) -> dict[str, Any]:
        """The ``acm.watch/1`` object (one line of ``acm watch --json``)."""
        counts = self.report.stats.get("findings", {})
        return {
            "schema": SCHEMA,
            "tool": {"name": "acm", "version": __version__},
            "type": "deploy",
            "time": self.time,
            "runtime": self.runtime,
            "url": self.url,
            "revision": self.revision,
            "previous_revision": self.previous_revision,
            "new": [conflict_document(f, self.report) for f in self.new],
            "gone": [conflict_document(f, self.previous) for f in self.gone],
            "changed": [
                {**conflict_document(after, self.report), "previous_severity": before.severity,
                 "previous_applications": list(before.applications)}
                for before, after in self.changed
            ],
            "conflicts": len(self.report.findings),
            "findings": dict(counts),
            "drift": None if self.drift is None else self.drift.drifted,
            "drift_detail": None if self.drift is None else self.drift.document(),
            "error": self.error,
        }

    def text(self) -> str:
        """The event for people: a header line, then one line per change."""
        was = f" (was {self.previous_revision[:12]})" if self.previous_revision else ""
        stamp = self.time[11:19] if len(self.time) >= 19 else self.time
        lines = [f"[{stamp}] {self.runtime}: deployed rev {self.revision[:12]}{was}"]
        if self.error:
            lines.append(f"  cannot analyse the new flows: {self.error}")
        for f in self.new:
            lines.append(f"  + new   {f.id} {f.severity} ({f.rule}): {f.message}")
        for f in self.gone:
            lines.append(f"  - gone  {f.id} {f.severity} ({f.rule}): {f.message}")
        for before, after in self.changed:
            lines.append(f"  ~ {after.id} {before.severity} -> {after.severity} "
                         f"({after.rule}): {after.message}")
        if not (self.new or self.gone or self.changed or self.error):
            lines.append("  conflicts unchanged")
        if self.drift is not None:
            lines.append(f"  drift: {self.drift.summary()}")
        counts = self.report.stats.get("findings", {})
        detail = ", ".join(f"{n} {lvl}" for lvl in ("error", "warning", "info")
                           if (n := counts.get(lvl)))
        lines.append(f"  now {len(self.report.findings)} conflict(s)"
                     + (f" ({detail})" if detail else ""))
        return "\n".join(lines)


def compare(before: Report, after: Report) -> tuple[
        tuple[Finding, ...], tuple[Finding, ...], tuple[tuple[Finding, Finding], ...]]:
    """``(new, gone, changed)`` between two reports, by finding id."""
    old = {f.id: f for f in before.findings}
    now = {f.id: f for f in after.findings}
    new = tuple(f for i, f in now.items() if i not in old)
    gone = tuple(f for i, f in old.items() if i not in now)
    changed = tuple((old[i], f) for i, f in now.items() if i in old and (
        old[i].severity != f.severity or set(old[i].applications) != set(f.applications)))
    return new, gone, changed
