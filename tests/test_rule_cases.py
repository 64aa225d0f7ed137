"""The built-in rules, tested as data: every case of tests/cases/rules/*.yaml.

Each file holds one rule's cases (the format is in tests/cases/rules/README.md):
flows (and a deployment model where the rule needs one) and exactly the findings
of that rule they must give. Every built-in rule has a file, with at least one
case that gives a finding and one that gives none. So does every rule that
docs/rules.md shows as an example (``docs-<name>.yaml``): its cases run the rule
as the page writes it, so the documentation cannot drift from what ACM does.
"""

from __future__ import annotations

import json
import re
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
RULES_DOC = Path(__file__).parent.parent / "docs" / "rules.md"
CASE_FILES = {p.name: yaml.safe_load(p.read_text(encoding="utf-8"))
              for p in sorted(CASES_DIR.glob("*.yaml"))}
CASES = [pytest.param(doc, case, id=f"{'docs:' if doc.get('docs') else ''}{doc['rule']}/"
                      f"{case['name']}",
                      marks=[pytest.mark.xfail(strict=True, reason=case["xfail"])]
                      if "xfail" in case else [])
         for doc in CASE_FILES.values() for case in doc["cases"]]
FIELDS = {"name", "why", "flows", "runtimes", "model", "rules", "resolve", "expect", "xfail"}


def doc_examples() -> dict[str, str]:
    """The rule files docs/rules.md shows, by the name of each rule they define: every
    fenced block that defines a rule (not a console transcript)."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", RULES_DOC.read_text(encoding="utf-8"),
                        re.MULTILINE | re.DOTALL)
    examples: dict[str, str] = {}
    for block in blocks:
        if block.startswith("$ "):
            continue
        for name in re.findall(r"^rule ([A-Za-z0-9_-]+) \{", block, re.MULTILINE):
            examples[name] = block
    return examples


def rule_text(doc: dict[str, Any], case: dict[str, Any]) -> str | None:
    """The rule file a case runs with: its own ``rules``, or the example of docs/rules.md."""
    if doc.get("docs"):
        return doc_examples()[doc["rule"]]
    return case.get("rules")


def findings_of(rule: str, case: dict[str, Any], tmp_path: Path,
                rules: str | None = None) -> list[Finding]:
    rule_files: list[Path] = []
    if rules:
        rule_files.append(tmp_path / "case.acm")
        rule_files[0].write_text(rules, encoding="utf-8")
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


@pytest.mark.parametrize(("doc", "case"), CASES)
def test_rule_case(doc: dict[str, Any], case: dict[str, Any], tmp_path: Path) -> None:
    assert set(case) <= FIELDS, f"unknown fields {sorted(set(case) - FIELDS)}"
    assert not (doc.get("docs") and "rules" in case), "a docs case runs the page's rule"
    found = findings_of(doc["rule"], case, tmp_path, rule_text(doc, case))
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
        if doc.get("docs"):
            assert name == f"docs-{doc['rule']}.yaml", name
        else:
            assert name == f"{codes[doc['rule']]}-{doc['rule']}.yaml", name


def test_every_rule_example_of_the_docs_has_cases_both_ways() -> None:
    """A rule docs/rules.md shows is run by cases: its own ``docs-<name>.yaml``, or, for a
    built-in rule shown as shipped, the built-in's cases (the page's text is the shipped one)."""
    examples = doc_examples()
    assert {"heating-override", "same-topic-two-brokers", "safety-owner"} <= set(examples)
    builtin = (Path(__file__).parent.parent / "acm" / "data" / "builtin.acm").read_text(
        encoding="utf-8")
    covered = {doc["rule"]: {bool(c["expect"]) for c in doc["cases"]}
               for doc in CASE_FILES.values() if doc.get("docs")}
    for name, block in examples.items():
        if name in covered:
            assert covered[name] == {True, False}, f"docs-{name}.yaml: cases both ways"
            continue
        shown = re.search(rf"^rule {re.escape(name)} \{{.*?^\}}", block,
                          re.MULTILINE | re.DOTALL)
        assert shown is not None
        body = [line.strip() for line in shown.group(0).splitlines()]
        assert all(line in builtin for line in body if line), \
            f"rule {name} of docs/rules.md is neither the built-in one nor has docs-{name}.yaml"
