"""``--format text``: findings grouped by actuator, readable in an 80-column terminal."""

from __future__ import annotations

import textwrap
from collections import defaultdict

from ..analysis.findings import Finding, Report
from ..files import terminal_safe

WIDTH = 80
_MARK = {"error": "ERROR", "warning": "WARN ", "info": "INFO "}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary(report: Report) -> str:
    counts = report.stats.get("findings", {})
    parts = [f"{counts.get(lvl, 0)} {lvl}" for lvl in ("error", "warning", "info")
             if counts.get(lvl)]
    files = ", ".join(sorted(set(report.sources.values())))
    what = _plural(len(report.findings), "conflict")
    if parts:
        what += f" ({', '.join(parts)})"
    what += (f" among {_plural(len(report.actuators), 'actuator')} and "
             f"{_plural(len(report.applications), 'application')}")
    hidden = [f"{report.stats[k]} {k}" for k in ("suppressed", "baselined")
              if report.stats.get(k)]
    if hidden:
        what += f"; not shown: {', '.join(hidden)}"
    if len(files) + 2 + len(what) <= WIDTH:
        return f"{files}: {what}"
    return f"{files}:\n" + "\n".join(textwrap.wrap(what, WIDTH, initial_indent="  ",
                                                   subsequent_indent="  "))


def _finding(f: Finding, report: Report) -> list[str]:
    lines = [f"  {_MARK[f.severity]} {f.code} {f.rule}"]
    body = textwrap.wrap(f.message, WIDTH - 8)
    lines += [f"        {line}" for line in body]
    for path in f.paths:
        app = report.app_name(path.application)
        chain = " -> ".join(report.label(ref) for ref in path.nodes)
        wrapped = textwrap.wrap(f"{app} ({path.provenance}): {chain}", WIDTH - 10,
                                subsequent_indent="    ",
                                break_on_hyphens=False)
        lines += [f"        - {wrapped[0]}"] + [f"          {w}" for w in wrapped[1:]]
    return lines


def _heading(f: Finding, report: Report) -> tuple[str, ...]:
    """The lines above a group of findings: the actuators, or else the nodes."""
    if f.actuators:
        return tuple(a.key for a in f.actuators)
    if f.duplicate is not None:  # a duplicated id: the id is the point, not a node's name
        ref = f.subject[0]
        where = f" in runtime {ref.runtime}" if len(report.sources) > 1 else ""
        return (f"node id {ref.id}{where}",)
    return tuple(r.id for r in f.subject)


def render(report: Report) -> str:
    out = [_summary(report)]
    groups: dict[tuple[str, ...], list[Finding]] = defaultdict(list)
    for f in report.findings:
        groups[_heading(f, report)].append(f)
    for keys, findings in groups.items():
        out.append("")
        for key in keys:
            out.append(key)
        if not keys:  # about nodes, not actuators (e.g. an unused suppression)
            out.append("nodes " + ", ".join(report.label(r) for r in findings[0].subject))
        for f in findings:
            out += _finding(f, report)
    unknown = report.stats.get("unknown_targets", 0)
    if unknown:
        out.append("")
        out += textwrap.wrap(
            f"{_plural(unknown, 'actuator node')} with a target known only at run time "
            "(not analysed; see --format json 'unknown_targets')", WIDTH)
    return terminal_safe("\n".join(out) + "\n")
