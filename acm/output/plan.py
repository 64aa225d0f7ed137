"""What a resolution plans, for machines (``acm resolve --plan``, ``acm.plan/1``, read
by the editor plugin) and for people (the ``acm: ...`` lines ``resolve`` and ``apply``
print on standard error)."""

from __future__ import annotations

from typing import Any

from ..rewrite.resolve import ResolveResult, default_note

__all__ = ["plan_document", "plan_lines"]


def plan_document(result: ResolveResult) -> dict[str, Any]:
    """``acm resolve --plan``: what would be done, for machines (the editor plugin)."""
    return {
        "schema": "acm.plan/1",
        "planned": [
            {"conflict": p.finding.id, "rule": p.finding.rule, "actuator": p.target_key,
             "label": p.label, "strategy": p.policy.strategy, "options": dict(p.policy.options),
             "source": "default" if p.policy.source == "default"
             else ("kept" if p.policy.source == "kept" else p.policy.name)}
            for p in result.planned
        ],
        "skipped": [{"conflict": k.finding.id, "rule": k.finding.rule, "reason": k.reason}
                    for k in result.skipped],
    }


def plan_lines(result: ResolveResult) -> list[str]:
    """For people: each resolver placed and where its policy came from, the defaults
    chosen without a policy, warnings, and each conflict left unresolved with why."""
    lines = []
    for planned in result.planned:
        source = {"default": "default", "kept": "kept from the flows"}.get(
            planned.policy.source, f"policy {planned.policy.name}")
        lines.append(f"acm: {planned.finding.id} ({planned.finding.rule}) on {planned.label}: "
                     f"{planned.policy.strategy} ({source})")
    for planned in result.defaults:
        lines.append(f"acm: note: {default_note(planned)} — write a policy to choose "
                     "(docs/resolve.md)")
    lines += [f"acm: warning: {note}" for note in result.notes]
    lines += [f"acm: not resolved: {skipped.finding.id} ({skipped.finding.rule}): "
              f"{skipped.reason}" for skipped in result.skipped]
    return lines
