"""Who starts messages, and which feature of a device a command acts on, as data.

Runs the ``triggers`` and ``features`` cases of tests/cases/catalog/*.yaml
(one file per module of acm/analysis/catalog/; the ``targets`` cases of the same files
are run by tests/test_catalog.py).

- ``triggers``: one node as a flows file holds it; the case says who starts
  messages there (``provenance``: manual, automation, external, or null when
  the node is no trigger with these settings) and which shared state decides
  whether they flow (``gates``, default none).
- ``features``: two ``api-call-service`` nodes on tabs T1 and T2, each fed by
  a daily cron inject (an automation); the case says whether the ``direct``
  rule reports the entity (``expect: none``) and if so at which severity and
  on which feature of the device (``feature: null``: the whole device).

A case with ``xfail: "<why>"`` documents behaviour of ACM that looks wrong:
it is expected to fail, and fails the run once it passes (remove the marker).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import node, tab

import acm
from acm.analysis.catalog import MODULES, PROVENANCES, gates, trigger_provenance
from acm.analysis.catalog.homeassistant import FEATURES
from acm.analysis.findings import Report

CASES_DIR = Path(__file__).parent / "cases" / "catalog"
CASE_FILES: dict[str, dict[str, Any]] = {
    p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    for p in sorted(CASES_DIR.glob("*.yaml"))
}
MODULE_TYPES = {m.__name__.rsplit(".", 1)[-1]: m.TYPES for m in MODULES}
TABS = ("T1", "T2")
SEVERITIES = ("info", "warning", "error")
TRIGGER_KEYS = {"name", "node", "inputs", "provenance", "gates", "configs", "xfail"}
FEATURE_KEYS = {"name", "t1", "t2", "expect", "xfail"}


def _cases(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(module, case) for module, doc in CASE_FILES.items()
            for case in doc.get(kind) or []]


TRIGGER_CASES = _cases("triggers")
FEATURE_CASES = _cases("features")


def _ids(cases: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [f"{module}:{case.get('name')}" for module, case in cases]


def _settle(case: dict[str, Any], problems: list[str]) -> None:
    """Pass, fail or xfail the case by what it found and its ``xfail`` marker."""
    why = case.get("xfail")
    if problems and why:
        pytest.xfail(f"{why} [{'; '.join(problems)}]")
    assert not problems, "; ".join(problems)
    assert not why, f"{case['name']} passes now: remove its xfail ({why})"


# ---------------------------------------------------------------------------
# triggers: provenance and gates of one node


def _config_lookup(case: dict[str, Any]) -> Callable[[Any], dict[str, Any] | None]:
    by_id = {c["id"]: c for c in copy.deepcopy(case.get("configs") or [])}
    return lambda config_id: by_id.get(config_id) if isinstance(config_id, str) else None


@pytest.mark.parametrize(("module", "case"), TRIGGER_CASES, ids=_ids(TRIGGER_CASES))
def test_trigger_case_is_well_formed(module: str, case: dict[str, Any]) -> None:
    assert set(case) <= TRIGGER_KEYS, f"unknown keys {sorted(set(case) - TRIGGER_KEYS)}"
    assert "provenance" in case, "say provenance: manual, automation, external or null"
    assert case["provenance"] is None or case["provenance"] in PROVENANCES
    assert isinstance(case.get("inputs", False), bool)
    assert all(isinstance(g, str) for g in case.get("gates") or [])
    assert case.get("xfail") is None or isinstance(case["xfail"], str)
    declared = {t.type for t in MODULE_TYPES[module]}
    assert case["node"]["type"] in declared, \
        f"{case['node']['type']!r} is not declared in acm/analysis/catalog/{module}.py"
    assert all("id" in c and "type" in c for c in case.get("configs") or [])


@pytest.mark.parametrize(("module", "case"), TRIGGER_CASES, ids=_ids(TRIGGER_CASES))
def test_trigger_case(module: str, case: dict[str, Any]) -> None:
    subject = copy.deepcopy(case["node"])
    problems = []
    got = trigger_provenance(subject, bool(case.get("inputs", False)))
    if got != case["provenance"]:
        problems.append(f"provenance {got!r}, expected {case['provenance']!r}")
    found = set(gates(subject, _config_lookup(case)))
    wanted = set(case.get("gates") or [])
    if found != wanted:
        problems.append(f"gates {sorted(found)}, expected {sorted(wanted)}")
    _settle(case, problems)


def test_every_trigger_type_has_a_case() -> None:
    """Every trigger type of a catalog module has a case in that module's file."""
    for module, types in MODULE_TYPES.items():
        covered = {c["node"]["type"] for c in CASE_FILES.get(module, {}).get("triggers") or []}
        triggers = {t.type for t in types if t.trigger is not None}
        missing = triggers - covered
        assert not missing, \
            f"no triggers case in tests/cases/catalog/{module}.yaml for {sorted(missing)}"


def test_case_names_are_unique() -> None:
    for kind in ("triggers", "features"):
        names = [str(c.get("name") or "") for _, c in _cases(kind)]
        assert all(names), f"a {kind} case has no name"
        twice = sorted({n for n in names if names.count(n) > 1})
        assert not twice, f"{kind} names used twice: {twice}"


# ---------------------------------------------------------------------------
# features: two automations on one Home Assistant entity


def _entity_ids(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        return []
    return [i.strip() for i in items if isinstance(i, str) and i.strip()]


def _service_call(call: dict[str, Any]) -> tuple[str, str, list[str]]:
    """(entity domain, service, entities) of an api-call-service node, read independently."""
    action = call.get("action")
    if isinstance(action, str) and "." in action:
        domain, service = action.split(".", 1)
    else:
        domain = call.get("domain") or call.get("service_domain") or ""
        service = call.get("service") or ""
    data = call.get("data")
    decoded = json.loads(data) if call.get("dataType", "json") == "json" and data else {}
    entities = _entity_ids(decoded.get("entity_id")) if isinstance(decoded, dict) else []
    entities = entities or _entity_ids(call.get("entityId"))
    target = call.get("target")
    if not entities and isinstance(target, dict):
        entities = _entity_ids(target.get("entityId") or target.get("entity_id"))
    if domain == "homeassistant" and entities:
        domain = entities[0].split(".", 1)[0]
    return domain, service, entities


def _feature_entity(case: dict[str, Any]) -> str:
    entities = {e for t in ("t1", "t2") for e in _service_call(case[t])[2]}
    assert len(entities) == 1, f"both nodes must command one entity, got {sorted(entities)}"
    return entities.pop()


def _feature_flows(case: dict[str, Any]) -> list[dict[str, Any]]:
    flows: list[dict[str, Any]] = [tab(t, f"App {t}") for t in TABS]
    flows.append({"id": "S", "type": "server", "name": "Home Assistant"})
    for t in TABS:
        fields = copy.deepcopy(case[t.lower()])
        node_type = fields.pop("type")
        flows.append(node(f"{t}.inj", "inject", t, [[f"{t}.svc"]], name="07:00",
                          props=[{"p": "payload"}, {"p": "topic", "vt": "str"}], repeat="",
                          crontab="00 07 * * *", once=False, onceDelay=0.1, topic="",
                          payload="", payloadType="date"))
        flows.append(node(f"{t}.svc", node_type, t, [[]], **fields))
    return flows


def _analyse(flows: list[dict[str, Any]]) -> Report:
    return acm.analyze_flows({"local": acm.flows_from_data(flows, "<test_triggers>")})


@pytest.mark.parametrize(("module", "case"), FEATURE_CASES, ids=_ids(FEATURE_CASES))
def test_feature_case_is_well_formed(module: str, case: dict[str, Any]) -> None:
    assert set(case) <= FEATURE_KEYS, f"unknown keys {sorted(set(case) - FEATURE_KEYS)}"
    assert case["t1"]["type"] == case["t2"]["type"] == "api-call-service"
    entity = _feature_entity(case)
    expect = case["expect"]
    if expect != "none":
        assert isinstance(expect, dict) and set(expect) == {"severity", "feature"}, \
            "expect: none, or {severity: ..., feature: ...}"
        assert expect["severity"] in SEVERITIES
        features = set(FEATURES.get(entity.split(".", 1)[0], {}).values())
        assert expect["feature"] is None or expect["feature"] in features, \
            f"{expect['feature']!r} is no feature of {entity} in FEATURES"


@pytest.mark.parametrize(("module", "case"), FEATURE_CASES, ids=_ids(FEATURE_CASES))
def test_feature_case(module: str, case: dict[str, Any]) -> None:
    key = f"ha:{_feature_entity(case)}"
    report = _analyse(_feature_flows(case))
    actuators = {a.key: a for a in report.actuators}
    # both automations reach the entity: otherwise "no finding" would prove nothing
    assert key in actuators, f"no actuator {key}: {sorted(actuators)}"
    assert set(actuators[key].drivers) == set(TABS)
    direct = [f for f in report.findings if f.rule == "direct"]
    expect = case["expect"]
    problems = []
    if expect == "none":
        problems += [f"direct {f.severity} on {f.actuators[0].key} "
                     f"(feature {f.actuators[0].feature!r}): {f.message}" for f in direct]
    else:
        others = [f.actuators[0].key for f in direct if f.actuators[0].key != key]
        assert not others, f"direct findings on other keys: {others}"
        if len(direct) != 1:
            problems.append(f"{len(direct)} direct findings on {key}, expected 1: "
                            + "; ".join(f.message for f in direct))
        else:
            [finding] = direct
            got = {"severity": finding.severity, "feature": finding.actuators[0].feature}
            if got != expect:
                problems.append(f"got {got}, expected {expect}: {finding.message}")
    _settle(case, problems)


def _covered_features() -> Iterator[tuple[str, str]]:
    for _, case in FEATURE_CASES:
        domain = _feature_entity(case).split(".", 1)[0]
        table = FEATURES.get(domain, {})
        for t in ("t1", "t2"):
            feature = table.get(_service_call(case[t])[1])
            if feature:
                yield domain, feature
        expect = case["expect"]
        if isinstance(expect, dict) and expect.get("feature"):
            yield domain, expect["feature"]


def test_every_feature_row_has_a_case() -> None:
    """Every (domain, feature) of the FEATURES table appears in a features case."""
    rows = {(domain, feature) for domain, services in FEATURES.items()
            for feature in services.values()}
    missing = rows - set(_covered_features())
    assert not missing, f"no features case for {sorted(missing)}"
