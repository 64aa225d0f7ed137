"""What the CLI prints for the bundled examples, byte for byte (tests/golden/).

A change that alters a report on purpose regenerates them and shows the diff
for review:  ACM_UPDATE_GOLDEN=1 pytest tests/test_golden.py; git diff tests/golden
A restructuring of the code must leave them as they are.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ACM_UPDATE_GOLDEN") == "1"

# name -> acm arguments (paths relative to the repository, as a user types them there)
RUNS = {
    "building.txt": ["analyze", "flows/building/flows.json", "--fail-on", "never"],
    "building.json": ["analyze", "flows/building/flows.json", "--format", "json"],
    "building.sarif": ["analyze", "flows/building/flows.json", "--format", "sarif"],
    "building.md": ["analyze", "flows/building/flows.json", "--format", "markdown"],
    "editor.txt": ["analyze", "flows/editor/flows.json", "--fail-on", "never"],
    "quiet.txt": ["analyze", "flows/quiet/flows.json"],
    "site.txt": ["analyze", "--model", "flows/site/site.yaml", "--fail-on", "never"],
    "site.json": ["analyze", "--model", "flows/site/site.yaml", "--format", "json"],
    "home.txt": ["analyze", "--model", "flows/home/home.yaml", "--fail-on", "never"],
    "building-plan.json": ["resolve", "flows/building/flows.json", "--plan"],
    "building-resolved.json": ["resolve", "flows/building/flows.json", "-o", "-"],
    "rules.txt": ["rules"],
    "strategies.txt": ["strategies"],
}


def steady(name: str, text: str) -> str:
    """The output without what changes from run to run: timings."""
    if name.endswith((".json", ".sarif")):
        try:
            doc: Any = json.loads(text)
        except ValueError:
            return text
        if isinstance(doc, dict) and isinstance(doc.get("stats"), dict):
            doc["stats"].pop("seconds", None)
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return re.sub(r"\b\d+(\.\d+)? ?s\b(?= *\))", "<seconds>", text)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_output_is_as_recorded(name: str, run_acm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run_acm(*RUNS[name])
    assert result.code in (0, 1), result.err
    got = steady(name, result.out + (f"--- stderr\n{result.err}" if result.err else ""))
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no {path}: run with ACM_UPDATE_GOLDEN=1 to record it"
    assert got == path.read_text(encoding="utf-8"), (
        f"acm {' '.join(RUNS[name])} prints something else than tests/golden/{name}; "
        "if that is intended: ACM_UPDATE_GOLDEN=1 pytest tests/test_golden.py")
