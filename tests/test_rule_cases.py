"""The built-in rules, tested as data: every case of tests/cases/rules/*.yaml.

Each file holds one rule's cases (the format is in tests/cases/rules/README.md):
flows (and a deployment model where the rule needs one) and exactly the findings
of that rule they must give. Every built-in rule has a file, with at least one
case that gives a finding and one that gives none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from acm.analysis.findings import Finding
from acm.analysis.flows import flows_from_data
from acm.engine import analyze_flows, analyze_model
from acm.rewrite.resolve import resolve
from acm.rules.ruleset import load_ruleset

CASES_DIR = Path(__file__).parent / "cases" / "rules"
CASE_FILES = {p.name: yaml.safe_load(p.read_text(encoding="utf-8"))
              for p in sorted(CASES_DIR.glob("*.yaml"))}
CASES = [pytest.param(doc["rule"], case, id=f"{doc['rule']}/{case['name']}",
                      marks=[pytest.mark.xfail(strict=True, reason=case["xfail"])]
                      if "xfail" in case else [])
         for doc in CASE_FILES.values() for case in doc["cases"]]
FIELDS = {"name", "why", "flows", "runtimes", "model", "rules", "resolve", "expect", "xfail"}


def findings_of(rule: str, case: dict[str, Any], tmp_path: Path) -> list[Finding]:
    rule_files: list[Path] = []
    if case.get("rules"):
        rule_files.append(tmp_path / "case.acm")
        rule_files[0].write_text(case["rules"], encoding="utf-8")
    ruleset = load_ruleset(rule_files)
    if "runtimes" in case or "model" in case:
        runtimes = case.get("runtimes") or {"local": case["flows"]}
        lines = ["version: 1", "runtimes:"]
        for runtime, nodes in runtimes.items():
            (tmp_path / f"{runtime}.json").write_text(json.dumps(nodes), encoding="utf-8")
            lines.append(f"  - {{id: {runtime}, flows: {runtime}.json}}")
        model = tmp_path / "site.yaml"
        model.write_text("\n".join(lines) + "\n" + (case.get("model") or ""), encoding="utf-8")
        report = analyze_model(model, ruleset)
    else:
        flows = flows_from_data(case["flows"], case["name"])
        if case.get("resolve"):  # as `acm resolve` leaves them, with the default policies
            flows = flows_from_data(resolve(flows, ruleset=ruleset).nodes, case["name"])
        report = analyze_flows({"local": flows}, ruleset)
    return [f for f in report.findings if f.rule == rule]


def shown(finding: Finding, wanted: dict[str, Any]) -> dict[str, Any]:
    """The finding in the terms of a case's expectation (only the fields it names)."""
    out: dict[str, Any] = {"severity": finding.severity}
    if "key" in wanted:
        out["key"] = finding.actuators[0].key if finding.actuators else None
    if "actuators" in wanted:
        out["actuators"] = sorted(a.key for a in finding.actuators)
    if "feature" in wanted:
        out["feature"] = finding.actuators[0].feature if finding.actuators else None
    return out


@pytest.mark.parametrize(("rule", "case"), CASES)
def test_rule_case(rule: str, case: dict[str, Any], tmp_path: Path) -> None:
    assert set(case) <= FIELDS, f"unknown fields {sorted(set(case) - FIELDS)}"
    found = findings_of(rule, case, tmp_path)
    expected = [dict(e, actuators=sorted(e["actuators"])) if "actuators" in e else dict(e)
                for e in case["expect"]]
    # each expectation names the fields it checks: compare in those terms, as multisets
    template = expected[0] if expected else {}
    got = sorted((shown(f, template) for f in found), key=repr)
    assert got == sorted(expected, key=repr), "\n".join(f.message for f in found)


def test_every_builtin_rule_has_cases_both_ways() -> None:
    ruleset = load_ruleset()
    names = {info.name for info in ruleset.info}
    covered: dict[str, set[bool]] = {}
    for doc in CASE_FILES.values():
        for case in doc["cases"]:
            covered.setdefault(doc["rule"], set()).add(bool(case["expect"]))
    missing = sorted(n for n in names if covered.get(n) != {True, False})
    assert not missing, f"rules without a case that finds and one that does not: {missing}"


def test_case_files_are_named_after_their_rule() -> None:
    ruleset = load_ruleset()
    codes = {info.name: info.code for info in ruleset.info}
    for name, doc in CASE_FILES.items():
        assert name == f"{codes[doc['rule']]}-{doc['rule']}.yaml", name
