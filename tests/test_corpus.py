"""Real flows files from public repositories (../shared/corpus/flows/).

Each one must analyse without crashing, give the JSON contract, and every
node id a finding or an actuator names must exist in that file, so a user
(or the editor) can jump to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CORPUS

FILES = sorted(CORPUS.glob("*.json")) if CORPUS.is_dir() else []

if not FILES:
    pytest.skip(f"no corpus of flows files at {CORPUS}", allow_module_level=True)


def file_ids(path: Path) -> set[str]:
    """Every node id in a flows file, in any of the shapes ACM reads."""
    data: Any = json.loads(path.read_text(encoding="utf-8-sig"))
    if isinstance(data, dict) and isinstance(data.get("flows"), list):
        data = data["flows"]

    def walk(items: Any) -> Iterator[str]:
        for item in items or []:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                yield item["id"]
                if isinstance(item.get("nodes"), list):  # GET /flow shape
                    yield from walk(item["nodes"])
                    yield from walk(item.get("configs"))
                    yield from walk(item.get("subflows"))

    if isinstance(data, dict):
        data = [data]
    return set(walk(data))


@pytest.fixture(params=FILES, ids=[p.name for p in FILES])
def corpus_file(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_json_report_names_only_ids_of_the_file(run_acm, corpus_file: Path) -> None:
    result = run_acm("analyze", str(corpus_file), "--format", "json")
    assert result.code in (0, 1), result.err
    assert result.err == ""
    doc = result.json()
    assert doc["schema"] == "acm.findings/1"
    ids = file_ids(corpus_file)
    assert ids, "the corpus file holds no nodes"
    for conflict in doc["conflicts"]:
        assert conflict["actuators"], conflict
        for act in conflict["actuators"]:
            assert act["nodes"], conflict
            assert set(act["nodes"]) <= ids, (conflict["id"], set(act["nodes"]) - ids)
        assert conflict["paths"], conflict
        for path in conflict["paths"]:
            assert path, conflict
            assert set(path) <= ids, (conflict["id"], set(path) - ids)
            # a path ends at one of the conflict's actuator nodes
            assert path[-1] in {n for a in conflict["actuators"] for n in a["nodes"]}
    for act in doc["actuators"]:
        assert set(act["nodes"]) <= ids, (act["key"], set(act["nodes"]) - ids)
    # exit code agrees with the report (default --fail-on error)
    errors = [c for c in doc["conflicts"] if c["severity"] == "error"]
    assert result.code == (1 if errors else 0)


def test_text_report(run_acm, corpus_file: Path) -> None:
    result = run_acm("analyze", str(corpus_file))
    assert result.code in (0, 1), result.err
    assert result.err == ""
    assert result.out.startswith(str(corpus_file))


# ---------------------------------------------------------------------------
# Precision: the labelled findings (tests/cases/corpus_labels.yaml)

LABELS_FILE = Path(__file__).parent / "cases" / "corpus_labels.yaml"


def _labels(name: str) -> dict[tuple[str, str], dict[str, Any]]:
    data = yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))["labels"]
    return {(e["rule"], e["actuator"]): e for e in data if e["file"] == name}


def test_labelled_findings_hold(run_acm, corpus_file: Path) -> None:
    """A false finding stays below warning, a true one stays; a new one must be read."""
    doc = run_acm("analyze", str(corpus_file), "--format", "json").json()
    gating = {(c["rule"], c["actuators"][0]["key"]): c for c in doc["conflicts"]
              if c["severity"] in ("warning", "error")}
    labels = _labels(corpus_file.name)
    unread = sorted(set(gating) - set(labels))
    assert not unread, f"findings at warning/error nobody has labelled yet: {unread}"
    for key, label in labels.items():
        if label["label"]:
            assert key in gating, f"a true conflict is no longer reported: {key}"
        elif "known" not in label:
            assert key not in gating, f"a false finding is back ({label['category']}): {key}"


def test_labels_name_corpus_files() -> None:
    data = yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))["labels"]
    names = {p.name for p in FILES}
    for entry in data:
        assert entry["file"] in names, entry["file"]
        assert isinstance(entry["label"], bool) and entry["reason"]
