"""``--format markdown``: a compact table for a pull-request comment.

Every text that comes from flows (names, topics, entity ids) is escaped, so
a node name cannot inject Markdown or HTML into the comment.
"""

from __future__ import annotations

import html
import re

from ..analysis.findings import Report

_ICON = {"error": "🔴 error", "warning": "🟠 warning", "info": "🔵 info"}
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def escape(text: str) -> str:
    """Plain text safe in a Markdown table cell."""
    text = html.escape(" ".join(text.split()), quote=False)
    return _SPECIAL.sub(r"\\\1", text)


def render(report: Report) -> str:
    counts = report.stats.get("findings", {})
    parts = [f"{counts[lvl]} {lvl}" for lvl in ("error", "warning", "info") if counts.get(lvl)]
    total = len(report.findings)
    title = f"### ACM: {total} conflict{'' if total == 1 else 's'}"
    if parts:
        title += f" ({', '.join(parts)})"
    files = ", ".join(escape(f) for f in sorted(set(report.sources.values())))
    lines = [title, "", f"Analysed {files}: {len(report.actuators)} actuators, "
             f"{len(report.applications)} applications.", ""]
    if not report.findings:
        lines.append("No actuation conflicts found.")
        return "\n".join(lines) + "\n"
    lines += ["| Severity | Rule | Actuator | Applications | Finding |",
              "|---|---|---|---|---|"]
    for f in report.findings:
        actuators = "<br>".join(escape(a.key) for a in f.actuators) or "—"
        apps = ", ".join(escape(report.app_name(a)) for a in f.applications) or "—"
        lines.append(f"| {_ICON[f.severity]} | {f.code} {escape(f.rule)} | {actuators} "
                     f"| {apps} | {escape(f.message)} |")
    return "\n".join(lines) + "\n"
