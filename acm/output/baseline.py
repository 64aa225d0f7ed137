"""Baselines: accept today's conflicts, gate only new ones.

``acm analyze --write-baseline acm-baseline.json`` records the ids of the
current findings; ``--baseline acm-baseline.json`` then reports only findings
whose id is not recorded. Ids depend on the rule and actuator keys only, so
unrelated edits do not disturb a baseline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..analysis.findings import Report
from ..errors import AcmError
from ..files import write_atomic

SCHEMA = "acm.baseline/1"


def write_baseline(report: Report, path: str | Path) -> int:
    entries = [
        {"id": f.id, "rule": f.rule, "severity": f.severity,
         "actuators": [a.key for a in f.actuators], "message": f.message}
        for f in report.findings
    ]
    document = {"schema": SCHEMA, "conflicts": entries}
    try:
        write_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise AcmError(f"cannot write baseline ({exc.strerror}); it is unchanged",
                       str(path)) from None
    return len(entries)


def load_baseline(path: str | Path) -> frozenset[str]:
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AcmError("baseline file not found (create it with --write-baseline)",
                       str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AcmError(f"cannot read baseline ({exc})", str(path)) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA \
            or not isinstance(data.get("conflicts"), list):
        raise AcmError(f"not an ACM baseline (expected \"schema\": \"{SCHEMA}\")", str(path))
    return frozenset(str(c.get("id")) for c in data["conflicts"] if isinstance(c, dict))


def apply_baseline(report: Report, known: frozenset[str]) -> Report:
    """The report without findings recorded in the baseline."""
    kept = [f for f in report.findings if f.id not in known]
    return report.keeping(kept, baselined=len(report.findings) - len(kept))
