"""Offline resolution: ``acm resolve`` inserts resolvers, ``acm revert`` removes them.

Every test builds a flows file (or takes the bundled example
``flows/building/flows.json``), runs the CLI in-process and checks the JSON
it writes: the nodes ACM adds (tags, resolver, group, link pairs, guard taps),
their ids, layout and configuration, and that ``analyze`` then reports the
conflict as managed (ACM005) and ``revert`` gives back the input exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, broker, node, tab

from acm.rewrite.resolve import template

BUILDING = ROOT / "flows" / "building" / "flows.json"
RESOLVERS = ROOT / "acm" / "data" / "resolvers"
TOPIC = "home/hall/light/set"
KEY = f"mqtt:mqtt.local:1883/{TOPIC}"
HEX16 = re.compile(r"^[0-9a-f]{16}$")


# ---------------------------------------------------------------------------
# helpers


def mqtt_out(node_id: str, z: str, topic: str = TOPIC, x: int = 600, y: int = 100,
             **extra: Any) -> dict[str, Any]:
    out = node(node_id, "mqtt out", z, [], broker="broker", topic=topic, **extra)
    out.update(x=x, y=y)
    return out


def inject(node_id: str, z: str, to: list[str], payload: str = "on", x: int = 150,
           y: int = 100, **extra: Any) -> dict[str, Any]:
    out = node(node_id, "inject", z, [to], payload=payload, payloadType="str", **extra)
    out.update(x=x, y=y)
    return out


def two_apps_one_tab_each() -> list[dict[str, Any]]:
    """Motion (t1) sends "on", Schedule (t2) "off" to the same topic; one actuator node."""
    return [
        tab("t1", "Motion"), tab("t2", "Schedule"), broker(),
        inject("i1", "t1", ["o1"], "on"), mqtt_out("o1", "t1"),
        inject("i2", "t2", ["o2"], "off"), mqtt_out("o2", "t2"),
    ]


def same_tab() -> list[dict[str, Any]]:
    """Two applications need two tabs; the actuator node itself lives on t1 only:
    t2 reaches it over a link pair."""
    return [
        tab("t1", "Motion"), tab("t2", "Schedule"), broker(),
        inject("i1", "t1", ["o1"], "on"), mqtt_out("o1", "t1"),
        inject("i2", "t2", ["lo"], "off"),
        node("lo", "link out", "t2", [], links=["li"], mode="link", x=300, y=100),
        node("li", "link in", "t1", [["o1"]], links=["lo"], x=300, y=200),
    ]


def load(path: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def resolve(run_acm: Any, flows: Path, *args: str, out: Path | None = None) -> tuple[
        list[dict[str, Any]], Any]:
    """Run ``acm resolve FLOWS ARGS -o OUT``; returns the written nodes and the CLI result."""
    out = out or flows.with_name(flows.stem + ".resolved.json")
    result = run_acm("resolve", str(flows), *args, "-o", str(out))
    assert result.code == 0, result.err
    return load(out), result


def analyse(run_acm: Any, flows: Path, *args: str) -> dict[str, Any]:
    result = run_acm("analyze", str(flows), *args, "--format", "json", "--fail-on", "never")
    assert result.code == 0, result.err
    doc: dict[str, Any] = result.json()
    return doc


def added(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for n in nodes if isinstance(n.get("acm"), dict) and "role" in n["acm"]]


def of_role(nodes: list[dict[str, Any]], role: str) -> list[dict[str, Any]]:
    return [n for n in added(nodes) if n["acm"]["role"] == role]


def by_id(nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in nodes}


def config(group: dict[str, Any]) -> dict[str, Any]:
    [env] = [e for e in group["env"] if e["name"] == "ACM_RESOLVER"]
    assert env["type"] == "str"
    value: dict[str, Any] = json.loads(env["value"])
    return value


def rule_value(change: dict[str, Any], prop: str) -> str | None:
    """What a change node sets msg.<prop> to, as the text of its rule. A tag sets
    ``acm.target``, ``.role``, ``.app``, ``.command`` as one JSON text in msg._acm
    (tag_rule); read from there, as strings, as the rules of earlier tags had them."""
    values = [r["to"] for r in change["rules"] if r["t"] == "set" and r["p"] == prop
              and r["pt"] == "msg"]
    tags = [r for r in change["rules"] if r["p"] == "_acm"]
    if prop.startswith("acm.") and tags:
        assert change["rules"] == tags and len(tags) == 1 and tags[0]["tot"] == "str", \
            change["rules"]
        value = json.loads(tags[0]["to"]).get(prop.removeprefix("acm."))
        values.append(value if value is None or isinstance(value, str) else str(value))
        values = [v for v in values if v is not None]
    assert len(values) <= 1, change["rules"]
    return values[0] if values else None


def write_policy(tmp_path: Path, text: str, name: str = "site.policy") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_wires_stay_on_tab(nodes: list[dict[str, Any]]) -> None:
    index = by_id(nodes)
    for n in nodes:
        for port in n.get("wires") or []:
            for target in port:
                assert target in index, (n["id"], target)
                assert index[target].get("z") == n.get("z"), (n["id"], target)


def assert_links_paired(nodes: list[dict[str, Any]]) -> None:
    index = by_id(nodes)
    for n in nodes:
        if n["type"] == "link out" and n.get("mode", "link") == "link":
            for other in n.get("links", []):
                assert index[other]["type"] == "link in"
                assert n["id"] in index[other]["links"], (n["id"], other)
        if n["type"] == "link in":
            for other in n.get("links", []):
                assert index[other]["type"] == "link out"
                assert n["id"] in index[other]["links"], (n["id"], other)


# ---------------------------------------------------------------------------
# the bundled example


def test_building_resolved_conflicts_become_managed(run_acm, tmp_path):
    before = analyse(run_acm, BUILDING)
    errors = {c["actuators"][0]["key"]: c for c in before["conflicts"]
              if c["code"] == "ACM001" and c["severity"] in ("error", "warning")}
    info = {c["actuators"][0]["key"] for c in before["conflicts"]
            if c["code"] == "ACM001" and c["severity"] == "info"}
    assert errors and info
    nodes, result = resolve(run_acm, BUILDING, out=tmp_path / "out.json")
    resolved = {r["acm"]["conflict"] for r in of_role(nodes, "resolver")}
    resolved_keys = {k for k, c in errors.items() if c["id"] in resolved}
    assert resolved_keys
    after = analyse(run_acm, tmp_path / "out.json")
    managed = {c["actuators"][0]["key"]: c for c in after["conflicts"] if c["code"] == "ACM005"}
    assert set(managed) == resolved_keys
    for c in managed.values():
        assert c["severity"] == "info"
        assert c["kind"] == "managed"
        assert "dwell" in c["message"]
    still_direct = {c["actuators"][0]["key"] for c in after["conflicts"]
                    if c["code"] == "ACM001"}
    assert not still_direct & resolved_keys
    # every error and warning, the blind commanded through a subflow's instances too
    assert resolved_keys == set(errors)
    assert "not resolved" not in result.err


def test_building_resolve_is_idempotent(run_acm, tmp_path):
    """Without a policy (the default applies): resolving the output again changes nothing."""
    first = tmp_path / "once.json"
    twice = tmp_path / "twice.json"
    resolve(run_acm, BUILDING, out=first)
    resolve(run_acm, first, out=twice)
    assert first.read_bytes() == twice.read_bytes()


def test_building_resolve_with_policies_is_idempotent(run_acm, tmp_path):
    policy = ROOT / "docs" / "examples" / "building.policy"
    if not policy.exists():
        policy = write_policy(tmp_path, "policy all {\n    for actuator a\n    strategy dwell\n"
                                        "    min 10m\n}\n")
    first = tmp_path / "once.json"
    twice = tmp_path / "twice.json"
    resolve(run_acm, BUILDING, "--policy", str(policy), out=first)
    resolve(run_acm, first, "--policy", str(policy), out=twice)
    assert first.read_bytes() == twice.read_bytes()


def test_building_revert_is_exact(run_acm, tmp_path):
    first = tmp_path / "once.json"
    back = tmp_path / "back.json"
    resolve(run_acm, BUILDING, out=first)
    result = run_acm("revert", str(first), "-o", str(back))
    assert result.code == 0, result.err
    assert load(back) == json.loads(BUILDING.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------
# native resolvers (nodered-bridge's acm-resolver node): acm resolve --native


def test_native_resolvers_replace_only_the_function_nodes(run_acm, tmp_path):
    """--native writes each resolver as an acm-resolver node (its strategy and port
    count, no code); the tags, links, groups and their configuration stay as they are."""
    plain, _ = resolve(run_acm, BUILDING, out=tmp_path / "function.json")
    native, result = resolve(run_acm, BUILDING, "--native", out=tmp_path / "native.json")
    resolvers = of_role(native, "resolver")
    assert resolvers and all(n["type"] == "acm-resolver" for n in resolvers)
    was = by_id(plain)
    for n in resolvers:
        function = was[n["id"]]
        assert function["type"] == "function"
        assert "func" not in n
        # the digest of the code the function node holds: the bridge's node compares
        assert n["template"] == hashlib.sha256(function["func"].encode()).hexdigest()[:16]
        assert n["strategy"] == n["acm"]["strategy"] == config(by_id(native)[n["g"]])["strategy"]
        assert n["outputs"] == function["outputs"] and n["wires"] == function["wires"]
        assert (n["name"], n["z"], n["g"], n["acm"]) == (
            function["name"], function["z"], function["g"], function["acm"])
    others = [n for n in native if n.get("type") != "acm-resolver"]
    assert others == [n for n in plain if n["id"] not in {r["id"] for r in resolvers}]
    assert "not resolved" not in result.err


def test_native_resolved_conflicts_are_managed_as_with_function_nodes(run_acm, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    resolve(run_acm, BUILDING, out=tmp_path / "a" / "flows.json")
    resolve(run_acm, BUILDING, "--native", out=tmp_path / "b" / "flows.json")
    function = analyse(run_acm, tmp_path / "a" / "flows.json")
    native = analyse(run_acm, tmp_path / "b" / "flows.json")
    assert [c for c in native["conflicts"] if c["code"] == "ACM005"]
    same = json.dumps(native["conflicts"]).replace(str(tmp_path / "b"), str(tmp_path / "a"))
    assert json.loads(same) == function["conflicts"]
    del native["stats"]["seconds"], function["stats"]["seconds"]
    assert native["stats"] == function["stats"]


def test_native_resolvers_are_kept_by_a_later_run_and_revert_exactly(run_acm, tmp_path):
    first = tmp_path / "native.json"
    resolve(run_acm, BUILDING, "--native", out=first)
    again, _ = resolve(run_acm, first, out=tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == first.read_bytes(), \
        "without a flag, a run keeps the native resolvers"
    back, _ = resolve(run_acm, first, "--function-nodes", out=tmp_path / "back.json")
    function, _ = resolve(run_acm, BUILDING, out=tmp_path / "function.json")
    assert {n["type"] for n in of_role(back, "resolver")} == {"function"}
    assert back == function
    reverted = tmp_path / "reverted.json"
    result = run_acm("revert", str(first), "-o", str(reverted))
    assert result.code == 0, result.err
    assert load(reverted) == json.loads(BUILDING.read_text(encoding="utf-8"))


#: flows/building/flows.json as the previous version of acm resolve wrote it: tags of
#: three rules (msg.acm.target, .role, .app), the resolvers' code of then.
THREE_RULE_TAGS = ROOT / "tests" / "golden" / "building-resolved-three-rule-tags.json"


def test_flows_resolved_with_three_rule_tags_stay_managed_revert_and_re_resolve(
        run_acm, tmp_path):
    old = load(THREE_RULE_TAGS)
    assert {len(t["rules"]) for t in of_role(old, "tag")} >= {3}
    assert not any(r["p"] == "_acm" for t in of_role(old, "tag") for r in t["rules"])
    new = tmp_path / "new.json"
    resolve(run_acm, BUILDING, out=new)
    # analyze: the same report, every resolved conflict managed (ACM005)
    def conflicts(flows: Path) -> str:  # (where they are is the file's name)
        return analyse(run_acm, flows)["conflicts"].__repr__().replace(str(flows), "FLOWS")

    report = analyse(run_acm, THREE_RULE_TAGS)
    assert conflicts(THREE_RULE_TAGS) == conflicts(new)
    managed = [c for c in report["conflicts"] if c["code"] == "ACM005"]
    assert len(managed) == len(of_role(old, "resolver"))
    # revert: the flows before any resolution, exactly
    back = tmp_path / "back.json"
    result = run_acm("revert", str(THREE_RULE_TAGS), "-o", str(back))
    assert result.code == 0, result.err
    assert load(back) == load(BUILDING)
    # resolve again: what resolving the original gives (one-rule tags), and stays so
    again = tmp_path / "again.json"
    resolve(run_acm, THREE_RULE_TAGS, out=again)
    assert again.read_bytes() == new.read_bytes()
    assert all(len(t["rules"]) == 1 for t in of_role(load(again), "tag"))


def test_building_info_conflict_is_not_resolved(run_acm, tmp_path):
    before = analyse(run_acm, BUILDING)
    info_ids = {c["id"] for c in before["conflicts"] if c["severity"] == "info"}
    assert info_ids
    nodes, _ = resolve(run_acm, BUILDING, out=tmp_path / "out.json")
    assert not {n["acm"]["conflict"] for n in added(nodes)} & info_ids


def test_building_layout_and_tabs(run_acm, tmp_path):
    nodes, _ = resolve(run_acm, BUILDING, out=tmp_path / "out.json")
    assert_wires_stay_on_tab(nodes)
    assert_links_paired(nodes)
    index = by_id(nodes)
    for n in added(nodes):
        assert HEX16.match(n["id"])
        assert (n.get("x"), n.get("y")) != (0, 0)
        assert n.get("x") is not None and n.get("y") is not None
    groups = {g["id"]: g for g in of_role(nodes, "group")}
    for resolver in of_role(nodes, "resolver"):
        group = groups[resolver["g"]]
        for port in resolver["wires"]:
            for target in port:
                if index[target]["z"] == resolver["z"] and not index[target].get("acm"):
                    # left of the actuator node it feeds, or (no room there) below it
                    left, top, _, bottom = box(index[target])
                    assert box(resolver)[2] < left or group["y"] > bottom, \
                        (resolver["name"], target)
    assert layout_problems(nodes) == []


def test_building_no_two_nodes_stacked(run_acm, tmp_path):
    """Nodes ACM adds do not sit exactly on top of another node of the same tab."""
    nodes, _ = resolve(run_acm, BUILDING, out=tmp_path / "out.json")
    seen: dict[tuple[Any, float, float], str] = {}
    for n in nodes:
        if n["type"] in ("tab", "group") or "x" not in n or "z" not in n:
            continue
        spot = (n["z"], float(n["x"]), float(n["y"]))
        assert spot not in seen, f"{n['id']} ({n.get('name')}) on top of {seen[spot]}"
        seen[spot] = f"{n['id']} ({n.get('name')})"


# ---------------------------------------------------------------------------
# structure of one resolution


def test_resolver_group_and_tags(run_acm, write_flows, tmp_path):
    flows = write_flows(same_tab())
    original = load(flows)
    policy = write_policy(tmp_path, """
policy hall {
    for actuator a
    where a.key == "mqtt:mqtt.local:1883/home/hall/light/set"
    strategy priority
    order "t2", "t1"
    ttl 15m
    default "off"
}
""")
    nodes, _ = resolve(run_acm, flows, "--policy", str(policy))
    index = by_id(nodes)
    conflict = analyse(run_acm, flows)["conflicts"][0]
    # the original nodes come first, in order; everything added carries acm.role
    assert [n["id"] for n in nodes[:len(original)]] == [n["id"] for n in original]
    new = nodes[len(original):]
    assert new and all(isinstance(n.get("acm"), dict) and n["acm"].get("role") for n in new)
    assert all(HEX16.match(n["id"]) for n in new)
    assert {n["acm"]["conflict"] for n in new} == {conflict["id"]}

    [resolver] = of_role(nodes, "resolver")
    assert resolver["type"] == "function"
    assert resolver["func"] == template("priority")
    assert resolver["acm"]["strategy"] == "priority"
    assert resolver["wires"] == [["o1"]]
    assert resolver["outputs"] == 1

    [group] = of_role(nodes, "group")
    assert group["type"] == "group"
    assert resolver["id"] in group["nodes"]
    assert resolver["g"] == group["id"]
    assert all(index[m].get("g") == group["id"] and index[m]["z"] == group["z"]
               for m in group["nodes"])
    assert conflict["id"] in group["name"] or "direct" in group["name"]
    assert TOPIC in group["name"]
    cfg = config(group)
    assert cfg["strategy"] == "priority"
    assert cfg["conflict"] == conflict["id"]
    assert cfg["targets"] == 1
    assert cfg["options"] == {"order": ["t2", "t1"], "ttl": 900_000, "default": "off",
                              "release": "release"}

    # a tag on each wire into the actuator node: target index, role, application
    tags = of_role(nodes, "tag")
    assert {t["acm"]["restore"] for t in tags} == {"o1"}
    # i1 -> o1 carries Motion (t1); li -> o1 carries Schedule's (t2) commands over the link
    feeding = {src["id"] for src in original if any("o1" in p for p in src.get("wires", []))}
    assert feeding == {"i1", "li"}
    for src in feeding:
        [[tag_id]] = index[src]["wires"]
        assert index[tag_id]["acm"]["role"] == "tag"
        assert rule_value(index[tag_id], "acm.target") == "0"
        assert rule_value(index[tag_id], "acm.role") == "command"
        assert index[tag_id]["wires"] == [[resolver["id"]]]
    apps = {rule_value(index[index[s]["wires"][0][0]], "acm.app") for s in feeding}
    assert apps == {"t1", "t2"}
    assert_wires_stay_on_tab(nodes)


def test_ids_are_deterministic_across_runs(run_acm, write_flows, tmp_path):
    flows = write_flows(two_apps_one_tab_each())
    a, _ = resolve(run_acm, flows, out=tmp_path / "a.json")
    b, _ = resolve(run_acm, flows, out=tmp_path / "b.json")
    assert [n["id"] for n in a] == [n["id"] for n in b]
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    ids = [n["id"] for n in added(a)]
    assert len(ids) == len(set(ids))
    assert all(HEX16.match(i) for i in ids)


def test_ids_do_not_depend_on_the_file_name(run_acm, tmp_path):
    (tmp_path / "sub").mkdir()
    first = tmp_path / "flows.json"
    second = tmp_path / "sub" / "other-name.json"
    for path in (first, second):
        path.write_text(json.dumps(two_apps_one_tab_each()), encoding="utf-8")
    a, _ = resolve(run_acm, first, out=tmp_path / "a.json")
    b, _ = resolve(run_acm, second, out=tmp_path / "b.json")
    assert a == b


def test_wire_bypassing_the_resolver_is_a_conflict_again(
        run_acm, write_flows, tmp_path):
    nodes, _ = resolve(run_acm, write_flows(two_apps_one_tab_each()))
    managed = analyse(run_acm, write_flows(nodes))
    assert [c["code"] for c in managed["conflicts"]] == ["ACM005"]
    bypass = [*nodes, tab("t3", "Manual"), inject("i3", "t3", ["o3"], "on"),
              mqtt_out("o3", "t3")]
    doc = analyse(run_acm, write_flows(bypass))
    assert [c["code"] for c in doc["conflicts"]] == ["ACM001"]
    assert doc["conflicts"][0]["severity"] == "error"


def test_resolve_twice_on_built_flows_default_policy(run_acm, write_flows, tmp_path):
    flows = write_flows(two_apps_one_tab_each())
    once, twice = tmp_path / "1.json", tmp_path / "2.json"
    resolve(run_acm, flows, out=once)
    resolve(run_acm, once, out=twice)
    assert once.read_bytes() == twice.read_bytes()


def test_resolve_twice_on_built_flows_with_policy(run_acm, write_flows, tmp_path):
    flows = write_flows(two_apps_one_tab_each())
    policy = write_policy(tmp_path, 'policy p {\n    for actuator a\n    strategy priority\n'
                                    '    order "t2", "t1"\n    ttl 15m\n}\n')
    once, twice = tmp_path / "1.json", tmp_path / "2.json"
    resolve(run_acm, flows, "--policy", str(policy), out=once)
    resolve(run_acm, once, "--policy", str(policy), out=twice)
    assert once.read_bytes() == twice.read_bytes()


def test_revert_on_built_flows_is_exact(run_acm, write_flows, tmp_path):
    flows = write_flows(two_apps_one_tab_each())
    once, back = tmp_path / "1.json", tmp_path / "3.json"
    resolve(run_acm, flows, out=once)
    assert run_acm("revert", str(once), "-o", str(back)).code == 0
    assert load(back) == load(flows)
    assert back.read_text(encoding="utf-8") == json.dumps(load(flows), indent=4) + "\n"


def test_revert_of_unresolved_flows_changes_nothing(run_acm, write_flows, tmp_path):
    flows = write_flows(two_apps_one_tab_each())
    result = run_acm("revert", str(flows), "-o", str(tmp_path / "r.json"))
    assert result.code == 0
    assert load(tmp_path / "r.json") == load(flows)


def hostile() -> list[dict[str, Any]]:
    nasty = 'a "quote" `tick` </script> ${x} \\ \' ${{y}} */ //'
    topic = 'home/"hall"/`light`/</script>/${x}/set'
    return [
        tab("t1", f"Motion {nasty}"), tab("t2", f"Schedule {nasty}"), broker(),
        inject("i1", "t1", ["o1"], "on", name=f"press {nasty}"),
        mqtt_out("o1", "t1", topic=topic, name=f"out {nasty}"),
        inject("i2", "t2", ["o2"], "off", name=f"timer {nasty}"),
        mqtt_out("o2", "t2", topic=topic, name=f"out2 {nasty}"),
    ]


@pytest.mark.parametrize("strategy, options", [
    ("dwell", "min 1m"),
    ("lock", "hold 30s"),
    ("priority", 'order "t1", "t2"'),
    ("merge", "op any"),
])
def test_resolver_code_is_the_template_whatever_the_names(
        run_acm, write_flows, tmp_path, strategy, options):
    flows = write_flows(hostile())
    policy = write_policy(tmp_path, f"policy p {{\n    for actuator a\n    strategy {strategy}\n"
                                    f"    {options}\n}}\n")
    nodes, _ = resolve(run_acm, flows, "--policy", str(policy))
    [resolver] = of_role(nodes, "resolver")
    # the fixed template files, byte for byte: nothing from the flows pasted in
    code = template(strategy).encode("utf-8")
    assert code == (RESOLVERS / "common.js").read_bytes() + b"\n" + \
        (RESOLVERS / f"{strategy}.js").read_bytes()
    assert resolver["func"].encode("utf-8") == code
    for text in ("</script>", "`tick`", '"quote"', "${x}", "t1", "t2", "o1", "o2"):
        if text.encode() not in code:
            assert text not in resolver["func"]
    assert resolver["initialize"] == "" and resolver["finalize"] == ""
    [group] = of_role(nodes, "group")
    cfg = config(group)  # valid JSON whatever the names
    assert cfg["strategy"] == strategy
    assert "</script>" in cfg["label"] and "${x}" in cfg["label"]
    assert cfg["targets"] == 2


def test_actuator_nodes_on_two_tabs_get_link_pairs(run_acm, write_flows):
    flows = write_flows(two_apps_one_tab_each())
    nodes, _ = resolve(run_acm, flows)
    index = by_id(nodes)
    assert_wires_stay_on_tab(nodes)
    assert_links_paired(nodes)
    [resolver] = of_role(nodes, "resolver")
    assert resolver["outputs"] == 2
    assert config(of_role(nodes, "group")[0])["targets"] == 2
    links = of_role(nodes, "link")
    assert links and all(n["type"] in ("link in", "link out") for n in links)
    # both actuator nodes get commands from the resolver: directly on its tab, else by link
    delivered: set[str] = set()
    for port in resolver["wires"]:
        for target in port:
            if index[target]["type"] == "link out":
                for li in index[target]["links"]:
                    delivered.update(t for p in index[li]["wires"] for t in p)
            else:
                delivered.add(target)
    assert delivered == {"o1", "o2"}
    # the command from the other tab reaches the resolver over a link pair
    other_tab = "t2" if resolver["z"] == "t1" else "t1"
    other_inject = "i2" if other_tab == "t2" else "i1"
    [[tag_id]] = index[other_inject]["wires"]
    [[link_out]] = index[tag_id]["wires"]
    assert index[link_out]["type"] == "link out" and index[link_out]["z"] == other_tab
    [link_in] = index[link_out]["links"]
    assert index[link_in]["z"] == resolver["z"]
    assert index[link_in]["wires"] == [[resolver["id"]]]


def test_actuator_on_three_tabs_nodes_not_stacked(run_acm, write_flows):
    nodes_in = [
        tab("t1", "Motion"), tab("t2", "Schedule"), tab("t3", "Away"), broker(),
        inject("i1", "t1", ["o1"], "on"), mqtt_out("o1", "t1"),
        inject("i2", "t2", ["o2"], "off"), mqtt_out("o2", "t2"),
        inject("i3", "t3", ["o3"], "off"), mqtt_out("o3", "t3"),
    ]
    nodes, _ = resolve(run_acm, write_flows(nodes_in))
    assert_wires_stay_on_tab(nodes)
    assert_links_paired(nodes)
    seen: dict[tuple[Any, float, float], str] = {}
    for n in nodes:
        if n["type"] in ("tab", "group") or "x" not in n:
            continue
        spot = (n["z"], float(n["x"]), float(n["y"]))
        assert spot not in seen, f"{n['id']} ({n.get('name')}) on top of {seen[spot]}"
        seen[spot] = f"{n['id']} ({n.get('name')})"


def test_layout_resolver_left_of_actuator(run_acm, write_flows):
    nodes, _ = resolve(run_acm, write_flows(same_tab()))
    index = by_id(nodes)
    [resolver] = of_role(nodes, "resolver")
    assert resolver["x"] < index["o1"]["x"]
    for n in added(nodes):
        if n["type"] != "group":
            assert (float(n["x"]), float(n["y"])) != (0.0, 0.0)
    [group] = of_role(nodes, "group")
    for member in group["nodes"]:  # the group box holds its members
        m = index[member]
        assert group["x"] <= m["x"] <= group["x"] + group["w"]
        assert group["y"] <= m["y"] <= group["y"] + group["h"]


def test_layout_no_room_left_of_the_actuator(
        run_acm, write_flows):
    """With the builders' default coordinates (every node at x=100) there is no room
    left of the actuator node: the resolver's group goes below it, on the canvas."""
    nodes_in = [
        tab("t1", "Motion"), tab("t2", "Schedule"), broker(),
        node("i1", "inject", "t1", [["o1"]], payload="on", payloadType="str"),
        node("o1", "mqtt out", "t1", [], broker="broker", topic=TOPIC),
        node("i2", "inject", "t2", [["o2"]], payload="off", payloadType="str"),
        node("o2", "mqtt out", "t2", [], broker="broker", topic=TOPIC),
    ]
    nodes, _ = resolve(run_acm, write_flows(nodes_in))
    index = by_id(nodes)
    [resolver] = of_role(nodes, "resolver")
    [group] = of_role(nodes, "group")
    assert resolver["wires"][0] == ["o1"]
    assert group["y"] > box(index["o1"])[3]
    for n in added(nodes):
        assert box(n)[0] >= 0 and box(n)[1] >= 0, n["name"]
    assert layout_problems(nodes) == []


# ---------------------------------------------------------------------------
# layout: boxes as the editor draws them


def box(n: dict[str, Any], subflows: dict[str, str] | None = None) -> tuple[float, ...]:
    """The rectangle (left, top, right, bottom) a node covers in Node-RED's editor, by
    its rules (view.js): centred on x, y; a label of c characters about 7c px wide (14 px
    sans-serif), plus 57 px for icon and padding, rounded up to 20 px, at least 100; 30
    high (15 per output when more); a link node with its label hidden (the default)
    30 x 30; a junction 10 x 10. A group is its x, y, w, h."""
    x, y = float(n["x"]), float(n["y"])
    if n["type"] == "group":
        return x, y, x + float(n["w"]), y + float(n["h"])
    if n["type"] == "junction":
        return x - 5, y - 5, x + 5, y + 5
    outputs = len(n.get("wires") or [])
    if not n.get("l", n["type"] not in ("link in", "link out")):
        w, h = 30.0, max(30.0, 15.0 * outputs)
    else:
        label = n.get("name") or (subflows or {}).get(n["type"][8:]) or n["type"]
        w = max(100.0, 20 * math.ceil((7 * len(label) + 57) / 20))
        h = max(30.0, 15.0 * outputs)
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def intersect(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def layout_problems(nodes: list[dict[str, Any]]) -> list[str]:
    """Where nodes ACM added are not in free space: a box that overlaps another
    node's box, a node inside the outline of a group it is not a member of, an ACM
    group whose outline (as written, and as the editor redraws it: its members'
    boxes plus 26 px) covers a node that is not its member or another group."""
    subflows = {n["id"]: n.get("name") or n["id"] for n in nodes if n["type"] == "subflow"}
    laid = [n for n in nodes if n.get("z") and all(
        isinstance(n.get(a), (int, float)) for a in ("x", "y", *("wh" * (n["type"] == "group"))))]
    boxes = {n["id"]: box(n, subflows) for n in laid}
    bands: dict[tuple[Any, int], list[str]] = {}  # (tab, 100 px band) -> nodes in it
    for n in laid:
        b = boxes[n["id"]]
        for band in range(math.floor(b[1] / 100), math.floor(b[3] / 100) + 1):
            bands.setdefault((n["z"], band), []).append(n["id"])
    index = by_id(nodes)

    def near(n: dict[str, Any], b: tuple[float, ...]) -> set[str]:
        return {o for band in range(math.floor(b[1] / 100), math.floor(b[3] / 100) + 1)
                for o in bands.get((n["z"], band), ()) if o != n["id"] and intersect(b, boxes[o])}

    problems = set()
    for n in laid:
        if not (n.get("acm") and n["acm"].get("role")):
            continue
        if n["type"] != "group":
            for o in near(n, boxes[n["id"]]):
                other = index[o]
                if other["type"] != "group":
                    problems.add(f"{n['id']} ({n.get('name')}) overlaps {o} ({other.get('name')})")
                elif n.get("g") != o:
                    problems.add(f"{n['id']} ({n.get('name')}) is inside group {o}")
            continue
        members = set(n["nodes"])
        drawn = [boxes[m] for m in members]
        redrawn = (min(b[0] for b in drawn) - 26, min(b[1] for b in drawn) - 26,
                   max(b[2] for b in drawn) + 26, max(b[3] for b in drawn) + 26)
        for outline in (boxes[n["id"]], redrawn):
            for o in near(n, outline) - members:
                problems.add(f"group {n['id']} ({n['name']}) covers {o} "
                             f"({index[o].get('name')})")
    return sorted(problems)


def test_layout_problems_are_seen() -> None:
    """The check itself: a node ACM adds just inside another's box, or inside a group
    it is not a member of, or a group outline over another node, is reported."""
    user = {"id": "u", "type": "mqtt out", "z": "t", "name": "lamp", "x": 300, "y": 100}
    near = {"id": "a", "type": "change", "z": "t", "name": "tag", "x": 300 + 99, "y": 100 + 29,
            "acm": {"role": "tag"}}
    assert layout_problems([user, near]) == ["a (tag) overlaps u (lamp)"]
    near["y"] = 100 + 30
    assert layout_problems([user, near]) == []
    group = {"id": "g", "type": "group", "z": "t", "x": 0, "y": 120, "w": 500, "h": 100,
             "nodes": ["u"]}
    assert layout_problems([user, near, group]) == ["a (tag) is inside group g"]
    near["g"] = "g"
    assert layout_problems([user, near, group]) == []
    mine = {"id": "m", "type": "group", "z": "t", "x": 200, "y": 60, "w": 400, "h": 200,
            "nodes": ["a"], "name": "ACM", "acm": {"role": "group"}}
    assert "group m (ACM) covers u (lamp)" in layout_problems([user, near, mine])


def dense_tab(conflicts: int = 8) -> list[dict[str, Any]]:
    """A tab packed with nodes (a grid: rows 40 px apart, columns 300 px apart, labels of
    3 to 30 characters) and a group over part of it; actuator nodes inside the grid,
    each commanded from this tab and from a second one: direct conflicts."""
    nodes: list[dict[str, Any]] = [tab("dense", "Dense"), tab("other", "Other"), broker()]
    for row in range(30):
        for col in range(8):
            name = "n" * (3 + (row * 7 + col * 11) % 28)
            nodes.append({"id": f"d{row}-{col}", "type": "change", "z": "dense", "name": name,
                          "rules": [], "x": 160 + 300 * col, "y": 40 + 40 * row,
                          "wires": [[]]})
    members = [f"d{row}-{col}" for row in range(10, 20) for col in range(3, 6)]
    for m in members:
        next(n for n in nodes if n["id"] == m)["g"] = "ug"
    nodes.append({"id": "ug", "type": "group", "z": "dense", "name": "user group",
                  "nodes": members, "x": 160 + 300 * 3 - 160, "y": 40 + 40 * 10 - 40,
                  "w": 300 * 3 + 20, "h": 40 * 10 + 40})
    for k in range(conflicts):
        row, col = 4 + 3 * k, 2 + k % 5
        spot = next(n for n in nodes if n["id"] == f"d{row}-{col}")
        spot.update(type="mqtt out", broker="broker", topic=f"dense/{k}/set", wires=[])
        spot.pop("rules")
        source = next(n for n in nodes if n["id"] == f"d{row}-{col - 1}")
        source.update(type="inject", payload="on", payloadType="str", crontab="00 07 * * *",
                      wires=[[spot["id"]]])
        source.pop("rules")
        nodes += [inject(f"o{k}", "other", [f"oo{k}"], "off", y=60 + 40 * k),
                  mqtt_out(f"oo{k}", "other", f"dense/{k}/set", y=60 + 40 * k)]
    return nodes


def test_dense_tab_resolvers_go_into_free_space(run_acm, write_flows):
    nodes_in = dense_tab()
    nodes, _ = resolve(run_acm, write_flows(nodes_in))
    assert len(of_role(nodes, "resolver")) == 8
    assert layout_problems(nodes) == []
    # the user's group is left as it was: no ACM node joins it
    index = by_id(nodes)
    assert index["ug"] == next(n for n in nodes_in if n["id"] == "ug")
    assert not [n for n in added(nodes) if n.get("g") == "ug"]
    back = revert_file(run_acm, write_flows(nodes))
    assert back == nodes_in


def test_many_conflicts_rows_apart_get_resolvers_that_overlap_nothing(
        run_acm, write_flows):
    """300 conflicts, one below the other 40 px apart: each resolver and its tags
    find a free spot. (Finding them once took time cubic in the conflicts.)"""
    nodes_in = [tab("t1", "Motion"), tab("t2", "Schedule"), broker()]
    for i in range(300):
        topic, y = f"home/room{i}/light/set", 60 + 40 * i
        nodes_in += [inject(f"a{i}", "t1", [f"ao{i}"], "on", y=y),
                     mqtt_out(f"ao{i}", "t1", topic, y=y),
                     inject(f"b{i}", "t2", [f"bo{i}"], "off", y=y),
                     mqtt_out(f"bo{i}", "t2", topic, y=y)]
    nodes, _ = resolve(run_acm, write_flows(nodes_in))
    assert len(of_role(nodes, "resolver")) == 300
    assert layout_problems(nodes) == []


def test_nodes_without_usable_coordinates_are_resolved(
        run_acm, write_flows):
    """A null or missing x/y (the editor has not laid the node out) is no reason to fail."""
    nodes_in = two_apps_one_tab_each()
    index = by_id(nodes_in)
    index["o1"]["x"] = None
    del index["o2"]["y"]
    index["i1"]["y"] = None
    nodes, _ = resolve(run_acm, write_flows(nodes_in))
    [resolver] = of_role(nodes, "resolver")
    for n in added(nodes):
        assert isinstance(n["x"], (int, float)) and isinstance(n["y"], (int, float)), n
    assert layout_problems(nodes) == []
    assert resolver["z"] == "t1"


def test_shared_node_gets_app_tags_upstream(run_acm, write_flows):
    """Two tabs send to one link in on a third tab, whose wire to the actuator node
    carries both applications: the app is set further upstream, per application."""
    nodes_in = [
        tab("ta", "Alarm"), tab("tb", "Lighting"), tab("ts", "Shared"), broker(),
        inject("a1", "ta", ["la"], "off"),
        node("la", "link out", "ta", [], links=["ls"], mode="link", x=400, y=100),
        inject("b1", "tb", ["lb"], "on"),
        node("lb", "link out", "tb", [], links=["ls"], mode="link", x=400, y=100),
        node("ls", "link in", "ts", [["o1"]], links=["la", "lb"], x=300, y=100),
        mqtt_out("o1", "ts"),
    ]
    flows = write_flows(nodes_in)
    conflict = analyse(run_acm, flows)["conflicts"][0]
    assert sorted(conflict["applications"]) == ["ta", "tb"]
    nodes, _ = resolve(run_acm, flows)
    index = by_id(nodes)
    # the command tag on ls -> o1 cannot name one application
    [[command]] = index["ls"]["wires"]
    assert index[command]["acm"]["role"] == "tag"
    assert rule_value(index[command], "acm.app") is None
    assert rule_value(index[command], "acm.role") == "command"
    # so each application's own wire upstream gets an app tag
    for source, app, link in (("a1", "ta", "la"), ("b1", "tb", "lb")):
        [[tag_id]] = index[source]["wires"]
        tag = index[tag_id]
        assert tag["type"] == "change" and tag["acm"]["role"] == "tag"
        assert tag["z"] == index[source]["z"]
        assert rule_value(tag, "acm.app") == app
        assert tag["wires"] == [[link]]
    assert_wires_stay_on_tab(nodes)
    back = revert_file(run_acm, write_flows(nodes))
    assert back == nodes_in


def revert_file(run_acm: Any, flows: Path) -> list[dict[str, Any]]:
    out = flows.with_name(flows.stem + ".reverted.json")
    result = run_acm("revert", str(flows), "-o", str(out))
    assert result.code == 0, result.err
    return load(out)


# ---------------------------------------------------------------------------
# actuators inside subflows: the resolver stands in front of the instances


def subflow(sf_id: str, name: str, first: str | None, env: list[dict[str, Any]] | None = None,
            outputs: int = 0) -> dict[str, Any]:
    """A subflow definition whose input is wired to node ``first`` (None: no input)."""
    return {"id": sf_id, "type": "subflow", "name": name, "info": "",
            "in": [{"x": 50, "y": 30, "wires": [{"id": first}]}] if first else [],
            "out": [{"x": 500, "y": 30, "wires": []} for _ in range(outputs)],
            "env": env or []}


def instance(node_id: str, sf_id: str, z: str, wires: list[list[str]] | None = None,
             x: int = 400, y: int = 100, **extra: Any) -> dict[str, Any]:
    return node(node_id, f"subflow:{sf_id}", z, wires or [], x=x, y=y, **extra)


def link_pair(out_id: str, out_tab: str, in_id: str, in_tab: str, to: str,
              y: int = 200) -> list[dict[str, Any]]:
    return [node(out_id, "link out", out_tab, [], links=[in_id], mode="link", x=300, y=y),
            node(in_id, "link in", in_tab, [[to]], links=[out_id], x=250, y=y)]


def one_subflow_two_instances() -> list[dict[str, Any]]:
    """Subflow "Set light" publishes its input to the topic; Motion (t1) and Schedule
    (t2) each command it through an instance of their own: one actuator node in the
    file, two at run time, one direct conflict."""
    return [
        broker(), subflow("sf", "Set light", "sf-out"), mqtt_out("sf-out", "sf"),
        tab("t1", "Motion"), tab("t2", "Schedule"),
        inject("i1", "t1", ["s1"], "on"), instance("s1", "sf", "t1", [[]]),
        inject("i2", "t2", ["s2"], "off"), instance("s2", "sf", "t2", [[]]),
    ]


def delivered(nodes: list[dict[str, Any]], resolver: dict[str, Any]) -> list[set[str]]:
    """What each output of the resolver reaches: a node on its tab, or through a link pair."""
    index = by_id(nodes)
    ports = []
    for port in resolver["wires"]:
        reached: set[str] = set()
        for target in port:
            if index[target]["type"] == "link out" and index[target].get("acm"):
                reached.update(t for li in index[target]["links"] for p in index[li]["wires"]
                               for t in p)
            else:
                reached.add(target)
        ports.append(reached)
    return ports


def test_actuator_in_subflow_is_resolved_in_front_of_its_instances(
        run_acm, write_flows, tmp_path):
    nodes_in = one_subflow_two_instances()
    flows = write_flows(nodes_in)
    [conflict] = analyse(run_acm, flows)["conflicts"]
    assert conflict["severity"] == "error"
    assert conflict["actuators"][0]["nodes"] == ["sf-out"]
    out = tmp_path / "resolved.json"
    nodes, result = resolve(run_acm, flows, out=out)
    assert "not resolved" not in result.err
    index = by_id(nodes)
    # the subflow itself is not touched: what changes is on the tabs
    assert [n for n in nodes if n.get("z") == "sf" or n["id"] == "sf"] == nodes_in[1:3]
    assert not [n for n in added(nodes) if n.get("z") == "sf"]
    [resolver] = of_role(nodes, "resolver")
    assert resolver["z"] == "t1"
    assert resolver["outputs"] == 2 and config(of_role(nodes, "group")[0])["targets"] == 2
    assert delivered(nodes, resolver) == [{"s1"}, {"s2"}]  # each instance its own output
    for source, target, app in (("i1", "0", "t1"), ("i2", "1", "t2")):
        [[tag]] = index[source]["wires"]
        assert index[tag]["acm"]["restore"] == f"s{target == '1' and 2 or 1}"
        assert rule_value(index[tag], "acm.target") == target
        assert rule_value(index[tag], "acm.app") == app
    assert_wires_stay_on_tab(nodes)
    assert_links_paired(nodes)
    assert layout_problems(nodes) == []
    managed = analyse(run_acm, out)["conflicts"]
    assert [(c["code"], c["severity"]) for c in managed] == [("ACM005", "info")]
    assert "dwell" in managed[0]["message"]
    twice = tmp_path / "twice.json"
    resolve(run_acm, out, out=twice)
    assert twice.read_bytes() == out.read_bytes()
    assert revert_file(run_acm, out) == nodes_in


def test_command_around_the_instance_resolver_is_a_conflict_again(
        run_acm, write_flows):
    """Managed means every command passes the resolver: a command wired straight into
    an instance, or started inside the subflow, makes the conflict count again."""
    nodes, _ = resolve(run_acm, write_flows(one_subflow_two_instances()))
    assert [c["code"] for c in analyse(run_acm, write_flows(nodes))["conflicts"]] == ["ACM005"]
    around = [*nodes, tab("t3", "Manual"), inject("i3", "t3", ["s3"], "off"),
              instance("s3", "sf", "t3", [[]])]
    assert [c["code"] for c in analyse(run_acm, write_flows(around))["conflicts"]] == ["ACM001"]
    inside = [*nodes, inject("sf-timer", "sf", ["sf-out"], "off")]
    codes = [(c["code"], c["severity"]) for c in analyse(run_acm, write_flows(inside))["conflicts"]]
    assert ("ACM001", "error") in codes and "ACM005" not in {c for c, _ in codes}


def per_instance_topic(b_from_both: bool = True) -> list[dict[str, Any]]:
    """One subflow, two instances, each publishing to the topic in its own env (TOPIC):
    two actuators. Instance A (tab t1) is commanded by Motion and, over a link, by
    Schedule; instance B (tab t2) by Schedule and (``b_from_both``) by Motion."""
    nodes = [
        broker(),
        subflow("sf", "Set light", "sf-out",
                env=[{"name": "TOPIC", "type": "str", "value": "home/none/set"}]),
        mqtt_out("sf-out", "sf", topic="${TOPIC}"),
        tab("t1", "Motion"), tab("t2", "Schedule"),
        instance("sa", "sf", "t1", [[]], env=[{"name": "TOPIC", "type": "str",
                                                "value": "home/a/set"}]),
        instance("sb", "sf", "t2", [[]], env=[{"name": "TOPIC", "type": "str",
                                                "value": "home/b/set"}]),
        inject("a1", "t1", ["sa"], "on", y=60),
        inject("b2", "t2", ["sb"], "off", y=60),
        inject("a2", "t2", ["la"], "off", y=200),
        *link_pair("la", "t2", "la-in", "t1", "sa", y=300),
    ]
    if b_from_both:
        nodes += [inject("b1", "t1", ["lb"], "on", y=200),
                  *link_pair("lb", "t1", "lb-in", "t2", "sb", y=300)]
    return nodes


def test_instances_with_their_own_actuators_get_their_own_resolvers(
        run_acm, write_flows, tmp_path):
    """Each instance's actuator gets its own resolver, in front of that instance only:
    the two never share state, and a command for one never reaches the other."""
    nodes_in = per_instance_topic()
    flows = write_flows(nodes_in)
    conflicts = analyse(run_acm, flows)["conflicts"]
    assert sorted(c["actuators"][0]["key"] for c in conflicts) == [
        "mqtt:mqtt.local:1883/home/a/set", "mqtt:mqtt.local:1883/home/b/set"]
    out = tmp_path / "resolved.json"
    nodes, _ = resolve(run_acm, flows, out=out)
    resolvers = {r["name"].split(": ")[1]: r for r in of_role(nodes, "resolver")}
    assert set(resolvers) == {"home/a/set", "home/b/set"}
    assert delivered(nodes, resolvers["home/a/set"]) == [{"sa"}]
    assert delivered(nodes, resolvers["home/b/set"]) == [{"sb"}]
    assert resolvers["home/a/set"]["z"] == "t1" and resolvers["home/b/set"]["z"] == "t2"
    groups = {g["id"]: config(g) for g in of_role(nodes, "group")}
    assert sorted(c["label"] for c in groups.values()) == ["home/a/set", "home/b/set"]
    assert all(c["targets"] == 1 for c in groups.values())
    # the tags in front of each instance feed that instance's resolver only
    index = by_id(nodes)
    for inst, key in (("sa", "home/a/set"), ("sb", "home/b/set")):
        tags = [t for t in of_role(nodes, "tag") if t["acm"]["restore"] == inst]
        assert len(tags) == 2
        for tag in tags:
            [[nxt]] = tag["wires"]
            if index[nxt]["type"] == "link out":
                [nxt] = index[nxt]["links"]
                [[nxt]] = index[nxt]["wires"]
            assert nxt == resolvers[key]["id"]
    assert layout_problems(nodes) == []
    after = analyse(run_acm, out)["conflicts"]
    assert sorted(c["code"] for c in after) == ["ACM005", "ACM005"]
    assert revert_file(run_acm, out) == nodes_in


def test_only_the_instance_in_conflict_gets_a_resolver(
        run_acm, write_flows):
    nodes_in = per_instance_topic(b_from_both=False)
    flows = write_flows(nodes_in)
    [conflict] = analyse(run_acm, flows)["conflicts"]
    assert conflict["actuators"][0]["key"] == "mqtt:mqtt.local:1883/home/a/set"
    nodes, _ = resolve(run_acm, flows)
    [resolver] = of_role(nodes, "resolver")
    assert delivered(nodes, resolver) == [{"sa"}]
    assert by_id(nodes)["b2"]["wires"] == [["sb"]]  # instance B is left as it was


def test_subflow_commanded_from_inside_is_not_resolved(
        run_acm, write_flows):
    """A trigger inside the subflow drives the actuator as well: those commands never
    pass the instance's input, so no resolver in front of the instances could see them."""
    nodes_in = one_subflow_two_instances()
    nodes_in.insert(3, inject("sf-timer", "sf", ["sf-out"], "off"))
    flows = write_flows(nodes_in)
    [conflict] = [c for c in analyse(run_acm, flows)["conflicts"] if c["severity"] == "error"]
    nodes, result = resolve(run_acm, flows)
    assert nodes == nodes_in
    assert f"not resolved: {conflict['id']}" in result.err
    assert "from inside the subflow (node sf-timer)" in result.err


def test_actuator_in_a_nested_subflow(run_acm, write_flows, tmp_path):
    """The actuator node is in subflow "inner", used inside subflow "outer", whose
    instances are on the tabs: the resolver goes in front of the outer instances."""
    nodes_in = [
        broker(),
        subflow("inner", "Publish", "p-out"), mqtt_out("p-out", "inner"),
        subflow("outer", "Set light", "o-change"),
        node("o-change", "change", "outer", [["o-inner"]], rules=[]),
        instance("o-inner", "inner", "outer", [[]]),
        tab("t1", "Motion"), tab("t2", "Schedule"),
        inject("i1", "t1", ["s1"], "on"), instance("s1", "outer", "t1", [[]]),
        inject("i2", "t2", ["s2"], "off"), instance("s2", "outer", "t2", [[]]),
    ]
    flows = write_flows(nodes_in)
    [conflict] = analyse(run_acm, flows)["conflicts"]
    assert conflict["severity"] == "error"
    out = tmp_path / "resolved.json"
    nodes, _ = resolve(run_acm, flows, out=out)
    [resolver] = of_role(nodes, "resolver")
    assert delivered(nodes, resolver) == [{"s1"}, {"s2"}]
    assert [c["code"] for c in analyse(run_acm, out)["conflicts"]] == ["ACM005"]
    assert revert_file(run_acm, out) == nodes_in


def test_one_instance_driving_two_conflicting_actuators(
        run_acm, write_flows, tmp_path):
    """A subflow that sets the light and the blind: one resolver stands in front of
    an instance, so the second conflict gets none, with the reason; the first one's
    arbitrates every message into the instances, so both are managed."""
    nodes_in = one_subflow_two_instances()
    nodes_in[1]["in"][0]["wires"].append({"id": "sf-blind"})
    nodes_in.insert(3, mqtt_out("sf-blind", "sf", topic="home/hall/blind/set"))
    flows = write_flows(nodes_in)
    conflicts = analyse(run_acm, flows)["conflicts"]
    assert len(conflicts) == 2
    out = tmp_path / "resolved.json"
    nodes, result = resolve(run_acm, flows, out=out)
    [resolver] = of_role(nodes, "resolver")
    [left] = [c for c in conflicts if c["id"] != resolver["acm"]["conflict"]]
    assert f"not resolved: {left['id']}" in result.err
    assert f"already gets the resolver for {resolver['acm']['conflict']}" in result.err
    after = analyse(run_acm, out)["conflicts"]
    assert sorted(c["code"] for c in after) == ["ACM005", "ACM005"]
    assert revert_file(run_acm, out) == nodes_in


def test_default_policy_is_dwell_and_announced(run_acm, write_flows):
    nodes, result = resolve(run_acm, write_flows(two_apps_one_tab_each()))
    [resolver] = of_role(nodes, "resolver")
    assert resolver["acm"]["strategy"] == "dwell"
    assert resolver["func"] == template("dwell")
    cfg = config(of_role(nodes, "group")[0])
    assert cfg["strategy"] == "dwell"
    assert cfg["options"] == {"min": 60_000}
    assert "no policy matched" in result.err and "default" in result.err
    assert "dwell" in result.err
    assert result.out == ""


def test_info_conflict_is_not_resolved(run_acm, write_flows):
    nodes_in = [
        tab("t1", "Motion"), tab("t2", "Schedule"), broker(),
        inject("i1", "t1", ["o1"], "on"), mqtt_out("o1", "t1"),
        inject("i2", "t2", ["o2"], "on"), mqtt_out("o2", "t2"),
    ]
    flows = write_flows(nodes_in)
    [conflict] = analyse(run_acm, flows)["conflicts"]
    assert conflict["severity"] == "info"
    nodes, _ = resolve(run_acm, flows)
    assert nodes == nodes_in


def test_diff_prints_and_writes_nothing(run_acm, write_flows, tmp_path):
    flows = write_flows(two_apps_one_tab_each())
    before = flows.read_bytes()
    listing = sorted(p.name for p in tmp_path.iterdir())
    result = run_acm("resolve", str(flows), "--diff")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    plus = [line for line in lines if line.startswith("+ ")]
    assert any("function" in line for line in plus)
    assert any("group" in line for line in plus)
    assert not any(line.startswith("- ") for line in lines)
    assert flows.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing
    # the ids announced are the ones -o writes
    nodes, _ = resolve(run_acm, flows, out=tmp_path / "o.json")
    for n in added(nodes):
        assert any(n["id"] in line for line in plus), n["id"]
    assert len(plus) == len(added(nodes))


def test_diff_shows_changed_wires(run_acm, write_flows):
    """i1 -> o1 and i2 -> o2 now go to tags: two '~ wires of' lines, old -> new."""
    flows = write_flows(two_apps_one_tab_each())
    result = run_acm("resolve", str(flows), "--diff")
    assert result.code == 0, result.err
    tilde = [line for line in result.out.splitlines() if line.startswith("~ ")]
    assert len(tilde) == 2, result.out
    assert any("inject i1" in line and "[['o1']] ->" in line for line in tilde)
    assert any("inject i2" in line and "[['o2']] ->" in line for line in tilde)


def test_resolve_needs_output_or_diff(run_acm, write_flows):
    result = run_acm("resolve", str(write_flows(two_apps_one_tab_each())))
    assert result.code == 2
    assert result.out == ""
    assert "--output" in result.err or "--diff" in result.err


def test_resolve_to_stdout(run_acm, write_flows):
    result = run_acm("resolve", str(write_flows(two_apps_one_tab_each())), "-o", "-")
    assert result.code == 0
    nodes = json.loads(result.out)
    assert len(of_role(nodes, "resolver")) == 1


# ---------------------------------------------------------------------------
# indirect conflict with an interlock policy (needs a model)


SITE_MODEL = """version: 1
runtimes:
  - {id: a, flows: a.json}
brokers:
  - {id: mq, host: mqtt.local, port: 1883}
zones:
  - {id: room}
actuators:
  - id: heater
    binding: {type: mqtt, broker: mq, topic: room/heater/set}
    zone: room
    effects: {temperature: increase}
  - id: window
    binding: {type: mqtt, broker: mq, topic: room/window/set}
    zone: room
    effects: {temperature: decrease}
"""
HEATER_KEY = "mqtt:mqtt.local:1883/room/heater/set"
WINDOW_KEY = "mqtt:mqtt.local:1883/room/window/set"


def write_site(tmp_path: Path, model_text: str = SITE_MODEL
               ) -> tuple[Path, Path, list[dict[str, Any]]]:
    nodes = [
        broker(),
        tab("t1", "Comfort"),
        inject("t1-in", "t1", ["t1-out"], "on"),
        mqtt_out("t1-out", "t1", topic="room/heater/set"),
        tab("t2", "Air quality"),
        inject("t2-in", "t2", ["t2-out"], "open"),
        mqtt_out("t2-out", "t2", topic="room/window/set"),
    ]
    flows = tmp_path / "a.json"
    flows.write_text(json.dumps(nodes), encoding="utf-8")
    model = tmp_path / "site.yaml"
    model.write_text(model_text, encoding="utf-8")
    return flows, model, nodes


INTERLOCK = """
policy window-heater {
    for actuator window, actuator heater
    where window.name == "window" and heater.name == "heater"
    strategy interlock
    blocked_when "open"
    mode override
    override "off"
}
"""


# -- the default interlock, from the model's effects (docs/resolve.md, "The default interlock")

#: the window's effect declared guard: true
WINDOW_GUARDS = SITE_MODEL.replace("effects: {temperature: decrease}",
                                   "effects: {temperature: {direction: decrease, guard: true}}")
#: the window listed before the heater in the model's actuators
WINDOW_FIRST = SITE_MODEL.split("  - id: heater")[0] + "  - id: window" + \
    SITE_MODEL.split("  - id: window")[1] + "  - id: heater" + \
    SITE_MODEL.split("  - id: heater")[1].split("  - id: window")[0]


def interlock_of(nodes: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one resolver (an interlock) and its configuration."""
    [resolver] = of_role(nodes, "resolver")
    assert resolver["acm"]["strategy"] == "interlock"
    [group] = [g for g in of_role(nodes, "group")
               if g["acm"]["conflict"] == resolver["acm"]["conflict"]]
    return resolver, config(group)


def test_the_default_interlock_guard_true_in_the_model_guards(
        run_acm, tmp_path):
    """No policy: the window, whose effect is declared guard: true, blocks the heater
    (listed first) while it is on or open; announced, idempotent, reverted exactly."""
    flows, model, nodes_in = write_site(tmp_path, WINDOW_GUARDS)
    out = tmp_path / "o.json"
    nodes, result = resolve(run_acm, flows, "--model", str(model), out=out)
    [conflict] = re.findall(r"acm: (ACM002-\w+) \(indirect\) on heater: interlock \(default\)$",
                            result.err, re.M)
    assert "not resolved" not in result.err
    resolver, cfg = interlock_of(nodes)
    assert resolver["wires"] == [["t1-out"]]  # in front of the heater
    assert resolver["acm"]["policy"] == "default"
    assert cfg["options"] == {"blocked_when": ["on", "ON", "open", "OPEN", "true", "1"],
                              "mode": "block", "override": None, "restore": True,
                              "guard": WINDOW_KEY}
    [tap_id] = by_id(nodes)["t2-in"]["wires"][0][1:]  # the window's commands are copied
    assert rule_value(by_id(nodes)[tap_id], "acm.role") == "guard"
    # the note says what was chosen, and why
    [note] = [line for line in result.err.splitlines() if line.startswith("acm: note:")]
    assert note.startswith("acm: note: no policy matched heater; used the default interlock ")
    assert f"'guard': '{WINDOW_KEY}'" in note
    # the conflict is managed afterwards
    model2 = tmp_path / "site2.yaml"
    model2.write_text(WINDOW_GUARDS.replace("a.json", "o.json"), encoding="utf-8")
    doc = run_acm("analyze", "--model", str(model2), "--format", "json",
                  "--fail-on", "never").json()
    assert conflict not in {c["id"] for c in doc["conflicts"]}
    assert [c["code"] for c in doc["conflicts"]] == ["ACM005"]
    # resolving again keeps the resolver (same bytes); revert gives the flows back
    again = tmp_path / "again.json"
    _, twice = resolve(run_acm, out, "--model", str(model2), out=again)
    assert again.read_bytes() == out.read_bytes()
    assert "(kept from the flows)" in twice.err
    assert revert_file(run_acm, out) == nodes_in


@pytest.mark.parametrize("model_text, guard, target", [
    (SITE_MODEL, HEATER_KEY, "t2-out"),  # heater listed first
    (WINDOW_FIRST, WINDOW_KEY, "t1-out"),  # window listed first, though after by key
    (SITE_MODEL.replace("effects: {temperature: increase}",
                        "effects: {temperature: {direction: increase, guard: false}}"),
     WINDOW_KEY, "t1-out"),  # the heater never guards: the other one does
    (WINDOW_FIRST.replace("effects: {temperature: increase}",
                          "effects: {temperature: {direction: increase, guard: true}}")
     .replace("effects: {temperature: decrease}",
              "effects: {temperature: {direction: decrease, guard: true}}"),
     WINDOW_KEY, "t1-out"),  # both guard: true: the first listed
], ids=["first-listed", "first-listed-not-by-key", "guard-false", "both-guard-true"])
def test_without_guard_true_the_actuator_listed_first_in_the_model_guards(
        run_acm, tmp_path, model_text, guard, target):
    flows, model, nodes_in = write_site(tmp_path, model_text)
    out = tmp_path / "o.json"
    nodes, result = resolve(run_acm, flows, "--model", str(model), out=out)
    resolver, cfg = interlock_of(nodes)
    assert (cfg["options"]["guard"], resolver["wires"]) == (guard, [[target]]), result.err
    assert revert_file(run_acm, out) == nodes_in


def test_both_guard_false_leaves_the_conflict_with_the_reason(
        run_acm, tmp_path):
    text = SITE_MODEL.replace("effects: {temperature: increase}",
                              "effects: {temperature: {direction: increase, guard: false}}") \
        .replace("effects: {temperature: decrease}",
                 "effects: {temperature: {direction: decrease, guard: false}}")
    flows, model, nodes_in = write_site(tmp_path, text)
    nodes, result = resolve(run_acm, flows, "--model", str(model), out=tmp_path / "o.json")
    assert nodes == nodes_in
    assert re.search(r"not resolved: ACM002-\w+ \(indirect\): the model declares guard: false "
                     r"on temperature for both heater and window", result.err), result.err


def test_an_interlock_policy_wins_over_the_models_choice(run_acm, tmp_path):
    """guard: true marks the window, the policy binds the heater as guard: the policy
    wins. A policy whose where allows either way round takes the model's guard, unless
    its guard option names the other; a guard naming neither leaves the conflict."""
    flows, model, _ = write_site(tmp_path, WINDOW_GUARDS)
    heater_guards = write_policy(tmp_path, """
policy heater-first {
    for actuator guard, actuator target
    where guard.name == "heater"
    strategy interlock
    blocked_when "on"
}
""", "heater.policy")
    nodes, result = resolve(run_acm, flows, "--model", str(model), "--policy",
                            str(heater_guards), out=tmp_path / "o1.json")
    assert "interlock (policy heater-first)" in result.err and "note" not in result.err
    assert interlock_of(nodes)[1]["options"]["guard"] == HEATER_KEY

    either = "policy either {\n    for actuator g, actuator t\n    strategy interlock\n" \
             "    blocked_when \"open\"\n    mode override\n    override \"off\"\n"
    for extra, guard in (("", WINDOW_KEY), ('    guard "heater"\n', HEATER_KEY),
                         (f'    guard "{HEATER_KEY}"\n', HEATER_KEY),
                         ('    guard "window"\n', WINDOW_KEY)):
        policy = write_policy(tmp_path, either + extra + "}\n", "either.policy")
        nodes, result = resolve(run_acm, flows, "--model", str(model), "--policy", str(policy),
                                out=tmp_path / "o2.json")
        resolver, cfg = interlock_of(nodes)
        assert (cfg["options"]["guard"], cfg["options"]["mode"]) == (guard, "override"), extra
        assert resolver["acm"]["policy"] == "either"

    policy = write_policy(tmp_path, either + '    guard "door"\n}\n', "either.policy")
    nodes, result = resolve(run_acm, flows, "--model", str(model), "--policy", str(policy),
                            out=tmp_path / "o3.json")
    assert not of_role(nodes, "resolver")
    assert re.search(r"not resolved: ACM002-\w+ \(indirect\): policy either names guard 'door', "
                     r"which is neither of the conflict's actuators: heater \(mqtt:", result.err)


def test_the_editors_choice_of_guard_is_kept_when_resolving_again(
        run_acm, tmp_path):
    """--plan suggests the model's guard (what the editor's form preselects); the form
    sends another (--strategy interlock --set guard=...); resolving again without a
    policy keeps it rather than the default."""
    flows, model, nodes_in = write_site(tmp_path, WINDOW_GUARDS)
    plan = run_acm("resolve", str(flows), "--model", str(model), "--plan")
    assert plan.code == 0, plan.err
    [entry] = plan.json()["planned"]
    assert (entry["strategy"], entry["source"], entry["options"]["guard"]) == \
        ("interlock", "default", WINDOW_KEY)
    out = tmp_path / "o.json"
    nodes, _ = resolve(run_acm, flows, "--model", str(model), "--only", entry["conflict"],
                       "--strategy", "interlock", "--set", "blocked_when=on",
                       "--set", f"guard={HEATER_KEY}", out=out)
    resolver, cfg = interlock_of(nodes)
    assert (cfg["options"]["guard"], resolver["wires"]) == (HEATER_KEY, [["t2-out"]])
    model2 = tmp_path / "site2.yaml"
    model2.write_text(WINDOW_GUARDS.replace("a.json", "o.json"), encoding="utf-8")
    again = tmp_path / "again.json"
    _, result = resolve(run_acm, out, "--model", str(model2), out=again)
    assert "(kept from the flows)" in result.err
    assert again.read_bytes() == out.read_bytes()
    # a strategy that cannot resolve an indirect conflict is refused, not defaulted
    nodes, result = resolve(run_acm, flows, "--model", str(model), "--only", entry["conflict"],
                            "--strategy", "dwell", "--set", "min=1m", out=tmp_path / "d.json")
    assert nodes == nodes_in
    assert "strategy dwell does not resolve indirect conflicts (these do: interlock)" in result.err


def test_the_default_blocks_on_what_switches_a_home_assistant_guard_on(
        run_acm, tmp_path):
    """On the bundled site (hub alone): the window, guard: true in its model, is a Home
    Assistant cover: its service cover.open_cover blocks the heater too."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "flows" / "site", site)
    nodes, result = resolve(run_acm, site / "hub.json", "--model", str(site / "site.yaml"),
                            out=tmp_path / "hub.json")
    assert "Office heater: interlock (default)" in result.err and "not resolved" not in result.err
    _, cfg = interlock_of(nodes)
    assert cfg["options"]["guard"] == "ha:cover.office_window"
    assert cfg["options"]["blocked_when"][-1] == "cover.open_cover"


def test_active_states_add_what_the_guard_is_sent_that_means_on_or_open() -> None:
    from acm.analysis.actuators import Actuator, Command, Driver, NodeRef
    from acm.analysis.propagate import Source
    from acm.analysis.values import const
    from acm.rewrite.resolve import active_states
    from acm.rules.ruleset import ActuatorFacts

    def guard(key: str, *commands: Any) -> ActuatorFacts:
        ref = NodeRef("local", "n")
        sends = tuple(Command(Source("app", "automation"), None, const(c), "n", ref, "local")
                      for c in commands)
        return ActuatorFacts(Actuator(key, key.split(":")[0], key, (ref,),
                                      {"app": Driver("app", sends)}), {})

    base = ["on", "open"]
    assert active_states(guard("mqtt:b:1883/w", "On", "off", "OPEN", True, 1), base) == \
        ["on", "open", "OPEN", "On"]  # sorted
    assert active_states(guard("ha:light.desk", "light.turn_on", "light.turn_off"), base) == \
        ["on", "open", "light.turn_on"]
    assert active_states(guard("ha:cover.w", "cover.close_cover"), base) == \
        ["on", "open", "cover.open_cover"]
    assert active_states(guard("ha:valve.v"), base) == ["on", "open", "valve.open_valve"]


def test_indirect_with_interlock_policy_taps_the_guard(run_acm, tmp_path):
    flows, model, nodes_in = write_site(tmp_path)
    policy = write_policy(tmp_path, INTERLOCK)
    out = tmp_path / "o.json"
    nodes, result = resolve(run_acm, flows, "--model", str(model), "--policy", str(policy),
                            out=out)
    assert "policy window-heater" in result.err
    index = by_id(nodes)
    [resolver] = of_role(nodes, "resolver")
    assert resolver["acm"]["strategy"] == "interlock"
    assert resolver["acm"]["policy"] == "window-heater"
    assert resolver["func"] == template("interlock")
    assert resolver["wires"] == [["t1-out"]]  # the heater is the target
    cfg = config(of_role(nodes, "group")[0])
    assert cfg["strategy"] == "interlock"
    assert cfg["options"]["blocked_when"] == ["open"]
    assert cfg["options"]["mode"] == "override"
    assert cfg["options"]["override"] == "off"
    assert cfg["options"]["restore"] is True
    assert cfg["options"]["guard"] == "mqtt:mqtt.local:1883/room/window/set"
    # the heater's command passes a command tag
    [[command]] = index["t1-in"]["wires"]
    assert rule_value(index[command], "acm.role") == "command"
    # the window keeps its wiring and gets an extra tap (guard role) to the resolver
    wires = index["t2-in"]["wires"]
    assert wires[0][0] == "t2-out"
    [tap_id] = wires[0][1:]
    tap = index[tap_id]
    assert tap["acm"]["role"] == "tag"
    assert rule_value(tap, "acm.role") == "guard"
    assert rule_value(tap, "acm.app") == "t2"
    assert tap["z"] == "t2"
    assert_wires_stay_on_tab(nodes)
    assert_links_paired(nodes)
    # the tap reaches the resolver (over a link pair: the window is on another tab)
    [[link_out]] = tap["wires"]
    [link_in] = index[link_out]["links"]
    assert index[link_in]["wires"] == [[resolver["id"]]]
    # idempotent, and revert removes the tap and everything else
    again = tmp_path / "again.json"
    model2 = tmp_path / "site2.yaml"
    model2.write_text(model.read_text(encoding="utf-8").replace("a.json", "o.json"),
                      encoding="utf-8")
    resolve(run_acm, out, "--model", str(model2), "--policy", str(policy), out=again)
    assert again.read_bytes() == out.read_bytes()
    assert revert_file(run_acm, out) == nodes_in


def test_indirect_resolved_is_managed(run_acm, tmp_path):
    flows, model, _ = write_site(tmp_path)
    policy = write_policy(tmp_path, INTERLOCK)
    resolve(run_acm, flows, "--model", str(model), "--policy", str(policy),
            out=tmp_path / "o.json")
    model2 = tmp_path / "site2.yaml"
    model2.write_text(model.read_text(encoding="utf-8").replace("a.json", "o.json"),
                      encoding="utf-8")
    result = run_acm("analyze", "--model", str(model2), "--format", "json",
                     "--fail-on", "never")
    doc = result.json()
    codes = {c["code"] for c in doc["conflicts"]}
    assert "ACM002" not in codes
    [managed] = [c for c in doc["conflicts"] if c["code"] == "ACM005"]
    assert "interlock" in managed["message"]


def test_diff_never_prints_credentials() -> None:
    from acm.rewrite.resolve import describe_changes

    before = [{"id": "b", "type": "mqtt-broker", "broker": "h"}]
    after = [{"id": "b", "type": "mqtt-broker", "broker": "h",
              "credentials": {"user": "u", "password": "hunter2"}}]
    lines = describe_changes(before, after)
    assert lines == ["~ credentials of mqtt-broker b: changed (not shown)"]
    assert "hunter2" not in "\n".join(lines)


def test_resolve_only_an_unknown_conflict_is_an_error(run_acm, tmp_path: Path) -> None:
    result = run_acm("resolve", str(BUILDING), "--only", "ACM001-000000000000",
                     "--strategy", "dwell", "--set", "min=1m", "-o", str(tmp_path / "out.json"))
    assert result.code == 2
    assert "no conflict ACM001-000000000000" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "out.json").exists()


# ---------------------------------------------------------------------------
# a person's override (ACM006) and the override strategy


def button_and_schedule(mixed: bool = False) -> list[dict[str, Any]]:
    """Dashboard (t1) switches the hall light on with the editor's button (a person);
    Schedule (t2) switches it off at 07:00: ACM006 override, at info. ``mixed``: the
    Dashboard tab also has a schedule of its own for the light."""
    nodes = [
        tab("t1", "Dashboard"), tab("t2", "Schedule"), broker(),
        inject("i1", "t1", ["o1"], "on", repeat="", crontab="", once=False),
        mqtt_out("o1", "t1"),
        inject("i2", "t2", ["o2"], "off"), mqtt_out("o2", "t2"),
    ]
    if mixed:
        nodes.append(inject("i3", "t1", ["o1"], "dim", y=160))
    return nodes


def override_finding(run_acm: Any, flows: Path) -> dict[str, Any]:
    [conflict] = [c for c in analyse(run_acm, flows)["conflicts"] if c["rule"] == "override"]
    assert (conflict["code"], conflict["severity"]) == ("ACM006", "info")
    return conflict


def test_override_finding_is_left_unless_asked_for(run_acm, write_flows):
    nodes_in = button_and_schedule()
    flows = write_flows(nodes_in)
    override_finding(run_acm, flows)
    nodes, result = resolve(run_acm, flows)
    assert nodes == nodes_in
    assert "not resolved" not in result.err
    plan = run_acm("resolve", str(flows), "--plan")
    assert plan.json()["planned"] == []


def test_override_asked_for_by_id_gets_the_override_default_announced(
        run_acm, write_flows, tmp_path):
    flows = write_flows(button_and_schedule())
    conflict = override_finding(run_acm, flows)
    out = tmp_path / "resolved.json"
    nodes, result = resolve(run_acm, flows, "--only", conflict["id"], out=out)
    [resolver] = of_role(nodes, "resolver")
    assert resolver["acm"]["strategy"] == "override"
    assert resolver["acm"]["conflict"] == conflict["id"]
    assert resolver["func"] == template("override")
    assert resolver["func"].encode() == (RESOLVERS / "common.js").read_bytes() + b"\n" + \
        (RESOLVERS / "override.js").read_bytes()
    cfg = config(of_role(nodes, "group")[0])
    assert cfg["strategy"] == "override"
    assert cfg["options"] == {"hold": 3_600_000, "release": "auto", "resume": "latest",
                              "manual": None, "manual_found": ["t1"]}
    # the tags say which application each command comes from: t1 is the person's
    apps = {rule_value(t, "acm.app") for t in of_role(nodes, "tag")}
    assert apps == {"t1", "t2"}
    assert f"{conflict['id']} (override) on {TOPIC}: override (default)" in result.err
    assert f"no policy matched {TOPIC}; used the default override" in result.err
    # re-analysed: managed by the override resolver, no ACM006 left
    after = analyse(run_acm, out)["conflicts"]
    assert [(c["code"], c["severity"]) for c in after] == [("ACM005", "info")]
    assert "override" in after[0]["message"]
    # resolving again without --only keeps it (it is at info, but it has a resolver)
    again, second = resolve(run_acm, out, out=tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == out.read_bytes()
    assert "(kept from the flows)" in second.err
    assert revert_file(run_acm, out) == json.loads(flows.read_text(encoding="utf-8"))


def test_override_raised_to_warning_is_resolved_without_asking(
        run_acm, write_flows, tmp_path):
    flows = write_flows(button_and_schedule())
    rules = tmp_path / "site.acm"
    rules.write_text("override override severity warning\n", encoding="utf-8")
    nodes, result = resolve(run_acm, flows, "--rules", str(rules))
    [resolver] = of_role(nodes, "resolver")
    assert resolver["acm"]["strategy"] == "override"
    assert "override (default)" in result.err


def test_override_policy_names_the_people_s_application(
        run_acm, write_flows, tmp_path):
    flows = write_flows(button_and_schedule())
    conflict = override_finding(run_acm, flows)
    policy = write_policy(tmp_path, """
policy not-for-override {
    for actuator g, actuator t
    strategy interlock
    blocked_when "open"
}
policy hall {
    for actuator a
    where a.name == "home/hall/light/set"
    strategy override
    hold 30m
    resume none
    manual "Schedule", "Nobody"
}
""")
    nodes, result = resolve(run_acm, flows, "--only", conflict["id"], "--policy", str(policy))
    cfg = config(of_role(nodes, "group")[0])
    assert cfg["options"]["hold"] == 1_800_000
    assert cfg["options"]["resume"] == "none"
    assert cfg["options"]["manual"] == ["t2", "Nobody"]  # names become ids; unknown ones stay
    assert cfg["options"]["manual_found"] == ["t1"]
    assert "(policy hall)" in result.err
    assert "'Nobody' in override option 'manual' names no application" in result.err


def test_a_priority_policy_resolves_an_override_finding(
        run_acm, write_flows, tmp_path):
    flows = write_flows(button_and_schedule())
    conflict = override_finding(run_acm, flows)
    policy = write_policy(tmp_path, 'policy p {\n for actuator a\n strategy priority\n'
                                    ' order "Dashboard", "Schedule"\n ttl 1h\n}\n')
    nodes, _ = resolve(run_acm, flows, "--only", conflict["id"], "--policy", str(policy))
    cfg = config(of_role(nodes, "group")[0])
    assert (cfg["strategy"], cfg["options"]["order"]) == ("priority", ["t1", "t2"])
    assert "manual_found" not in cfg["options"]


def test_override_strategy_does_not_resolve_a_direct_conflict(
        run_acm, write_flows):
    nodes_in = two_apps_one_tab_each()
    flows = write_flows(nodes_in)
    [conflict] = analyse(run_acm, flows)["conflicts"]
    assert conflict["rule"] == "direct"
    nodes, result = resolve(run_acm, flows, "--only", conflict["id"], "--strategy", "override")
    assert nodes == nodes_in
    assert (f"not resolved: {conflict['id']} (direct): policy cli matches, but strategy "
            "override does not resolve direct conflicts (these do: priority, lock, dwell, "
            "merge)") in result.err


def test_a_kept_override_resolver_finds_the_manual_applications_afresh(
        run_acm, write_flows, tmp_path):
    flows = write_flows(button_and_schedule())
    conflict = override_finding(run_acm, flows)
    nodes, _ = resolve(run_acm, flows, "--only", conflict["id"], out=tmp_path / "once.json")
    [group] = of_role(nodes, "group")
    cfg = config(group)
    cfg["options"]["manual_found"] = ["stale"]
    [env] = [e for e in group["env"] if e["name"] == "ACM_RESOLVER"]
    env["value"] = json.dumps(cfg, sort_keys=True)
    edited = write_flows(nodes)
    again, result = resolve(run_acm, edited)
    assert config(of_role(again, "group")[0])["options"]["manual_found"] == ["t1"]
    assert "(kept from the flows)" in result.err


def test_override_on_an_application_with_button_and_schedule(
        run_acm, write_flows):
    """No application commands the light from manual triggers only: those with any
    manual trigger count as the person's (docs/strategies.md#override)."""
    flows = write_flows(button_and_schedule(mixed=True))
    conflict = override_finding(run_acm, flows)
    nodes, _ = resolve(run_acm, flows, "--only", conflict["id"])
    assert config(of_role(nodes, "group")[0])["options"]["manual_found"] == ["t1"]


# ---------------------------------------------------------------------------
# every bundled example resolves


EXAMPLES = sorted([*(ROOT / "flows").rglob("*.json"), *(ROOT / "docs" / "examples").glob("*.json")])
# The editor's example keeps one conflict ACM cannot resolve, for the Resolve form's
# refusal: its siren is commanded from inside the Siren subflow (flows/README.md).
UNRESOLVABLE = {"flows/editor/flows.json": {"mqtt:localhost:1883/flat/siren/set"}}


@pytest.mark.parametrize("flows", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_bundled_example_resolves_completely(run_acm, tmp_path, flows):
    """Each example flows file alone: every error and warning is resolved (nothing is
    left "not resolved" but what UNRESOLVABLE lists), re-analysis finds none, the added
    nodes sit in free space, resolving again changes nothing and revert gives the file
    back."""
    left = UNRESOLVABLE.get(str(flows.relative_to(ROOT)), set())
    before = analyse(run_acm, flows)["conflicts"]
    out = tmp_path / "resolved.json"
    nodes, result = resolve(run_acm, flows, out=out)
    assert result.err.count("not resolved") == len(left), result.err
    after = analyse(run_acm, out)["conflicts"]
    assert {c["actuators"][0]["key"] for c in after if c["severity"] != "info"} == left
    resolved = {c["id"] for c in before
                if c["severity"] != "info" and c["actuators"][0]["key"] not in left}
    assert {r["acm"]["conflict"] for r in of_role(nodes, "resolver")} == resolved
    assert sum(c["code"] == "ACM005" for c in after) == len(resolved)
    assert layout_problems(nodes) == []
    assert_wires_stay_on_tab(nodes)
    assert_links_paired(nodes)
    twice = tmp_path / "twice.json"
    resolve(run_acm, out, out=twice)
    assert twice.read_bytes() == out.read_bytes()
    assert revert_file(run_acm, out) == load(flows)


def test_bundled_site_resolves_all_it_can_per_runtime(run_acm, tmp_path):
    """With the site model, each runtime's file resolved on its own: what is left at
    warning or error in the whole site is either said to be not resolved (with the
    reason) or spans both runtimes, which resolving one runtime's flows cannot fix."""
    site = ROOT / "flows" / "site"
    model = (site / "site.yaml").read_text(encoding="utf-8")
    left: set[str] = set()
    for runtime in ("hub", "gateway"):
        nodes, result = resolve(run_acm, site / f"{runtime}.json", "--model",
                                str(site / "site.yaml"), out=tmp_path / f"{runtime}.json")
        left |= set(re.findall(r"not resolved: (\S+)", result.err))
        assert layout_problems(nodes) == []
        assert revert_file(run_acm, tmp_path / f"{runtime}.json") == load(site / f"{runtime}.json")
    (tmp_path / "site.yaml").write_text(model, encoding="utf-8")
    doc = run_acm("analyze", "--model", str(tmp_path / "site.yaml"), "--format", "json",
                  "--fail-on", "never").json()
    for c in doc["conflicts"]:
        if c["severity"] == "info":
            continue
        runtimes = {n.split(":")[0] for a in c["actuators"] for n in a["nodes"]}
        assert c["id"] in left or len(runtimes) > 1, c


# ---------------------------------------------------------------------------
# revert puts every wire back in its place


def test_revert_keeps_the_order_of_wires_in_each_port(
        run_acm, write_flows):
    """Wires into the actuator sit between others, in several ports, and once twice in
    one port: each comes back where it was."""
    nodes_in = [
        tab("t1", "Motion"), tab("t2", "Schedule"), broker(),
        node("sw", "function", "t1", [["d1", "o1", "d2"], ["d3"], ["o1", "d1", "o1"]],
             func="return [msg, null, msg];", outputs=3, x=300, y=100),
        inject("i1", "t1", ["sw"], "on", y=100),
        mqtt_out("o1", "t1"),
        *(node(d, "debug", "t1", [], x=600, y=200 + 40 * i) for i, d in
          enumerate(("d1", "d2", "d3"))),
        inject("i2", "t2", ["o2", "d4"], "off"), mqtt_out("o2", "t2"),
        node("d4", "debug", "t2", [], x=600, y=200),
    ]
    flows = write_flows(nodes_in)
    nodes, _ = resolve(run_acm, flows)
    index = by_id(nodes)
    wires = index["sw"]["wires"]
    assert [len(p) for p in wires] == [3, 1, 3]
    assert [wires[0][0], wires[0][2], wires[1][0], wires[2][1]] == ["d1", "d2", "d3", "d1"]
    tags = [wires[0][1], wires[2][0], wires[2][2]]
    assert len(set(tags)) == 3 and all(index[t]["acm"]["restore"] == "o1" for t in tags)
    assert index["i2"]["wires"][0][1] == "d4"
    assert revert_file(run_acm, write_flows(nodes)) == nodes_in
    # the editor re-adds a changed wire last in its port, and keeps no "acm" property
    # on nodes (only the groups' manifests): the wires still come back in place
    edited = json.loads(json.dumps(nodes))
    for n in edited:
        if n["type"] != "group":
            n.pop("acm", None)
        for port in n.get("wires") or []:
            tags = [t for t in port if t in {a["id"] for a in added(nodes)}]
            port[:] = [t for t in port if t not in tags] + tags
    assert by_id(edited)["sw"]["wires"][0] == ["d1", "d2", wires[0][1]]
    assert revert_file(run_acm, write_flows(edited)) == nodes_in
    # a wire drawn by hand meanwhile straight to the actuator node stays, once
    index["i2"]["wires"][0].append("o2")
    back = revert_file(run_acm, write_flows(nodes))
    assert by_id(back)["i2"]["wires"] == [["o2", "d4"]]


def test_interlock_guard_inside_a_subflow_is_tapped_at_its_instance(
        run_acm, tmp_path):
    """The window's publisher is inside a subflow: its commands are copied to the
    interlock resolver from the wire into the instance."""
    flows, model, _ = write_site(tmp_path)
    nodes_in = [n for n in json.loads(flows.read_text(encoding="utf-8")) if n["id"] != "t2-out"]
    nodes_in += [subflow("sfw", "Set window", "w-out"),
                 mqtt_out("w-out", "sfw", topic="room/window/set"),
                 instance("w-inst", "sfw", "t2", [[]], x=600)]
    next(n for n in nodes_in if n["id"] == "t2-in")["wires"] = [["w-inst"]]
    flows.write_text(json.dumps(nodes_in), encoding="utf-8")
    policy = write_policy(tmp_path, INTERLOCK)
    out = tmp_path / "o.json"
    nodes, result = resolve(run_acm, flows, "--model", str(model), "--policy", str(policy),
                            out=out)
    assert "policy window-heater" in result.err and "not resolved" not in result.err
    index = by_id(nodes)
    [resolver] = of_role(nodes, "resolver")
    assert resolver["wires"] == [["t1-out"]]
    wires = index["t2-in"]["wires"]
    assert wires[0][0] == "w-inst"
    [tap_id] = wires[0][1:]
    assert rule_value(index[tap_id], "acm.role") == "guard"
    assert layout_problems(nodes) == []
    assert revert_file(run_acm, out) == nodes_in


def test_an_override_resolver_stays_when_the_actuator_also_has_a_direct_conflict(
        run_acm, write_flows, tmp_path):
    """One resolver per actuator: resolving again keeps the one chosen in the flows (the
    override), instead of giving the actuator's direct conflict its default; asking for
    the direct one by id replaces it."""
    nodes_in = [*button_and_schedule(), tab("t3", "Motion"),
                inject("i3", "t3", ["o3"], "on"), mqtt_out("o3", "t3")]
    flows = write_flows(nodes_in)
    kinds = {c["rule"]: c for c in analyse(run_acm, flows)["conflicts"]}
    assert (kinds["direct"]["severity"], kinds["override"]["severity"]) == ("error", "info")
    once = tmp_path / "once.json"
    resolve(run_acm, flows, "--only", kinds["override"]["id"], out=once)
    twice = tmp_path / "twice.json"
    nodes, result = resolve(run_acm, once, out=twice)
    assert twice.read_bytes() == once.read_bytes()
    assert [r["acm"]["strategy"] for r in of_role(nodes, "resolver")] == ["override"]
    assert f"already gets a resolver for {kinds['override']['id']}" in result.err
    nodes, _ = resolve(run_acm, once, "--only", kinds["direct"]["id"], "--strategy", "priority",
                       "--set", "order=Motion,Schedule", out=tmp_path / "direct.json")
    assert [(r["acm"]["strategy"], r["acm"]["conflict"]) for r in of_role(nodes, "resolver")] \
        == [("priority", kinds["direct"]["id"])]


def test_a_direct_conflict_claims_its_actuator_before_an_interlock(
        run_acm, tmp_path):
    """The heater has a direct conflict of its own and the window's indirect one: the
    direct conflict gets the heater's resolver, even when the rules rank the indirect
    one higher; the interlock is left with the reason (one resolver per actuator)."""
    flows, model, _ = write_site(tmp_path, WINDOW_GUARDS)
    nodes = load(flows) + [tab("t3", "Boost"), inject("t3-in", "t3", ["t3-out"], "off"),
                           mqtt_out("t3-out", "t3", topic="room/heater/set")]
    flows.write_text(json.dumps(nodes), encoding="utf-8")
    rules = tmp_path / "ranks.acm"
    rules.write_text("override indirect severity error\noverride direct severity warning\n",
                     encoding="utf-8")
    doc = analyse(run_acm, flows, "--model", str(model), "--rules", str(rules))
    assert [c["rule"] for c in doc["conflicts"][:2]] == ["indirect", "direct"]
    for extra in ((), ("--rules", str(rules))):
        resolved, result = resolve(run_acm, flows, "--model", str(model), *extra,
                                   out=tmp_path / "o.json")
        [resolver] = of_role(resolved, "resolver")
        assert resolver["acm"]["strategy"] == "dwell", result.err
        assert re.search(r"not resolved: ACM002-\w+ \(indirect\): heater already gets a "
                         r"resolver for ACM001-", result.err), result.err
