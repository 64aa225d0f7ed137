"""Offline resolution: ``acm resolve`` inserts resolvers, ``acm revert`` removes them.

Every test builds a flows file (or takes the bundled example
``flows/building/flows.json``), runs the CLI in-process and checks the JSON
it writes: the nodes ACM adds (tags, resolver, group, link pairs, guard taps),
their ids, layout and configuration, and that ``analyze`` then reports the
conflict as managed (ACM005) and ``revert`` gives back the input exactly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, broker, node, tab

from acm.resolve import template

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
    values = [r["to"] for r in change["rules"] if r["t"] == "set" and r["p"] == prop
              and r["pt"] == "msg"]
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


def test_building_resolved_conflicts_become_managed(run_acm, tmp_path):  # type: ignore[no-untyped-def]
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
    # what was not resolved (the subflow) is said on stderr and still reported
    for key, c in errors.items():
        if key not in resolved_keys:
            assert f"not resolved: {c['id']}" in result.err
            assert key in still_direct


def test_building_resolve_is_idempotent(run_acm, tmp_path):  # type: ignore[no-untyped-def]
    """Without a policy (the default applies): resolving the output again changes nothing."""
    first = tmp_path / "once.json"
    twice = tmp_path / "twice.json"
    resolve(run_acm, BUILDING, out=first)
    resolve(run_acm, first, out=twice)
    assert first.read_bytes() == twice.read_bytes()


def test_building_resolve_with_policies_is_idempotent(run_acm, tmp_path):  # type: ignore[no-untyped-def]
    policy = ROOT / "docs" / "examples" / "building.policy"
    if not policy.exists():
        policy = write_policy(tmp_path, "policy all {\n    for actuator a\n    strategy dwell\n"
                                        "    min 10m\n}\n")
    first = tmp_path / "once.json"
    twice = tmp_path / "twice.json"
    resolve(run_acm, BUILDING, "--policy", str(policy), out=first)
    resolve(run_acm, first, "--policy", str(policy), out=twice)
    assert first.read_bytes() == twice.read_bytes()


def test_building_revert_is_exact(run_acm, tmp_path):  # type: ignore[no-untyped-def]
    first = tmp_path / "once.json"
    back = tmp_path / "back.json"
    resolve(run_acm, BUILDING, out=first)
    result = run_acm("revert", str(first), "-o", str(back))
    assert result.code == 0, result.err
    assert load(back) == json.loads(BUILDING.read_text(encoding="utf-8"))


def test_building_info_conflict_is_not_resolved(run_acm, tmp_path):  # type: ignore[no-untyped-def]
    before = analyse(run_acm, BUILDING)
    info_ids = {c["id"] for c in before["conflicts"] if c["severity"] == "info"}
    assert info_ids
    nodes, _ = resolve(run_acm, BUILDING, out=tmp_path / "out.json")
    assert not {n["acm"]["conflict"] for n in added(nodes)} & info_ids


def test_building_layout_and_tabs(run_acm, tmp_path):  # type: ignore[no-untyped-def]
    nodes, _ = resolve(run_acm, BUILDING, out=tmp_path / "out.json")
    assert_wires_stay_on_tab(nodes)
    assert_links_paired(nodes)
    index = by_id(nodes)
    for n in added(nodes):
        assert HEX16.match(n["id"])
        assert (n.get("x"), n.get("y")) != (0, 0)
        assert n.get("x") is not None and n.get("y") is not None
    for resolver in of_role(nodes, "resolver"):
        for port in resolver["wires"]:
            for target in port:
                if index[target]["z"] == resolver["z"] and not index[target].get("acm"):
                    assert resolver["x"] < index[target]["x"], (resolver["name"], target)


def test_building_no_two_nodes_stacked(run_acm, tmp_path):  # type: ignore[no-untyped-def]
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


def test_resolver_group_and_tags(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
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


def test_ids_are_deterministic_across_runs(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    flows = write_flows(two_apps_one_tab_each())
    a, _ = resolve(run_acm, flows, out=tmp_path / "a.json")
    b, _ = resolve(run_acm, flows, out=tmp_path / "b.json")
    assert [n["id"] for n in a] == [n["id"] for n in b]
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    ids = [n["id"] for n in added(a)]
    assert len(ids) == len(set(ids))
    assert all(HEX16.match(i) for i in ids)


def test_ids_do_not_depend_on_the_file_name(run_acm, tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "sub").mkdir()
    first = tmp_path / "flows.json"
    second = tmp_path / "sub" / "other-name.json"
    for path in (first, second):
        path.write_text(json.dumps(two_apps_one_tab_each()), encoding="utf-8")
    a, _ = resolve(run_acm, first, out=tmp_path / "a.json")
    b, _ = resolve(run_acm, second, out=tmp_path / "b.json")
    assert a == b


def test_wire_bypassing_the_resolver_is_a_conflict_again(  # type: ignore[no-untyped-def]
        run_acm, write_flows, tmp_path):
    nodes, _ = resolve(run_acm, write_flows(two_apps_one_tab_each()))
    managed = analyse(run_acm, write_flows(nodes))
    assert [c["code"] for c in managed["conflicts"]] == ["ACM005"]
    bypass = [*nodes, tab("t3", "Manual"), inject("i3", "t3", ["o3"], "on"),
              mqtt_out("o3", "t3")]
    doc = analyse(run_acm, write_flows(bypass))
    assert [c["code"] for c in doc["conflicts"]] == ["ACM001"]
    assert doc["conflicts"][0]["severity"] == "error"


def test_resolve_twice_on_built_flows_default_policy(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    flows = write_flows(two_apps_one_tab_each())
    once, twice = tmp_path / "1.json", tmp_path / "2.json"
    resolve(run_acm, flows, out=once)
    resolve(run_acm, once, out=twice)
    assert once.read_bytes() == twice.read_bytes()


def test_resolve_twice_on_built_flows_with_policy(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    flows = write_flows(two_apps_one_tab_each())
    policy = write_policy(tmp_path, 'policy p {\n    for actuator a\n    strategy priority\n'
                                    '    order "t2", "t1"\n    ttl 15m\n}\n')
    once, twice = tmp_path / "1.json", tmp_path / "2.json"
    resolve(run_acm, flows, "--policy", str(policy), out=once)
    resolve(run_acm, once, "--policy", str(policy), out=twice)
    assert once.read_bytes() == twice.read_bytes()


def test_revert_on_built_flows_is_exact(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
    flows = write_flows(two_apps_one_tab_each())
    once, back = tmp_path / "1.json", tmp_path / "3.json"
    resolve(run_acm, flows, out=once)
    assert run_acm("revert", str(once), "-o", str(back)).code == 0
    assert load(back) == load(flows)
    assert back.read_text(encoding="utf-8") == json.dumps(load(flows), indent=4) + "\n"


def test_revert_of_unresolved_flows_changes_nothing(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
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
def test_resolver_code_is_the_template_whatever_the_names(  # type: ignore[no-untyped-def]
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


def test_actuator_nodes_on_two_tabs_get_link_pairs(run_acm, write_flows):  # type: ignore[no-untyped-def]
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


def test_actuator_on_three_tabs_nodes_not_stacked(run_acm, write_flows):  # type: ignore[no-untyped-def]
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


def test_layout_resolver_left_of_actuator(run_acm, write_flows):  # type: ignore[no-untyped-def]
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


def test_layout_resolver_left_of_actuator_near_the_left_edge(  # type: ignore[no-untyped-def]
        run_acm, write_flows):
    """With the builders' default coordinates (every node at x=100) the resolver
    still goes left of the actuator node it feeds."""
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
    for port in resolver["wires"]:
        for target in port:
            if not index[target].get("acm"):
                assert resolver["x"] < index[target]["x"], (resolver["x"], target)


def overlapping(nodes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of laid-out nodes on one tab, at least one added by ACM, less than a
    node apart (100 across and 30 down)."""
    by_tab: dict[Any, list[dict[str, Any]]] = {}
    for n in nodes:
        laid_out = all(isinstance(n.get(axis), (int, float)) for axis in ("x", "y"))
        if n["type"] != "group" and laid_out and "z" in n:
            by_tab.setdefault(n["z"], []).append(n)
    found = []
    for on_tab in by_tab.values():
        on_tab.sort(key=lambda n: float(n["y"]))
        for i, a in enumerate(on_tab):
            for b in on_tab[i + 1:]:
                if float(b["y"]) - float(a["y"]) >= 30:
                    break
                if abs(float(a["x"]) - float(b["x"])) < 100 and (a.get("acm") or b.get("acm")):
                    found.append((a["id"], b["id"]))
    return found


def test_many_conflicts_rows_apart_get_resolvers_that_overlap_nothing(  # type: ignore[no-untyped-def]
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
    assert overlapping(nodes) == []
    # the check itself sees a node ACM adds just inside another's box
    near = {"id": "near", "type": "change", "z": "t1", "x": 699.0, "y": 60 + 40 * 299 + 29.0,
            "acm": {"role": "tag"}}
    assert overlapping([*nodes, near]) == [("ao299", "near")]


def test_nodes_without_usable_coordinates_are_resolved(  # type: ignore[no-untyped-def]
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
    assert overlapping(nodes) == []
    assert resolver["z"] == "t1"


def test_shared_node_gets_app_tags_upstream(run_acm, write_flows):  # type: ignore[no-untyped-def]
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


def test_actuator_in_subflow_is_not_resolved(run_acm, write_flows):  # type: ignore[no-untyped-def]
    nodes_in = [
        broker(),
        {"id": "sf", "type": "subflow", "name": "Set light", "info": "",
         "in": [{"x": 50, "y": 30, "wires": [{"id": "sf-out"}]}], "out": [], "env": []},
        mqtt_out("sf-out", "sf"),
        tab("t1", "Motion"), tab("t2", "Schedule"),
        inject("i1", "t1", ["s1"], "on"), node("s1", "subflow:sf", "t1", [[]], x=400),
        inject("i2", "t2", ["s2"], "off"), node("s2", "subflow:sf", "t2", [[]], x=400),
    ]
    flows = write_flows(nodes_in)
    conflict = analyse(run_acm, flows)["conflicts"][0]
    assert conflict["severity"] == "error"
    nodes, result = resolve(run_acm, flows)
    assert nodes == nodes_in
    assert f"not resolved: {conflict['id']}" in result.err
    assert "subflow" in result.err and "sf-out" in result.err


def test_default_policy_is_dwell_and_announced(run_acm, write_flows):  # type: ignore[no-untyped-def]
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


def test_info_conflict_is_not_resolved(run_acm, write_flows):  # type: ignore[no-untyped-def]
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


def test_diff_prints_and_writes_nothing(run_acm, write_flows, tmp_path):  # type: ignore[no-untyped-def]
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


def test_diff_shows_changed_wires(run_acm, write_flows):  # type: ignore[no-untyped-def]
    """i1 -> o1 and i2 -> o2 now go to tags: two '~ wires of' lines, old -> new."""
    flows = write_flows(two_apps_one_tab_each())
    result = run_acm("resolve", str(flows), "--diff")
    assert result.code == 0, result.err
    tilde = [line for line in result.out.splitlines() if line.startswith("~ ")]
    assert len(tilde) == 2, result.out
    assert any("inject i1" in line and "[['o1']] ->" in line for line in tilde)
    assert any("inject i2" in line and "[['o2']] ->" in line for line in tilde)


def test_resolve_needs_output_or_diff(run_acm, write_flows):  # type: ignore[no-untyped-def]
    result = run_acm("resolve", str(write_flows(two_apps_one_tab_each())))
    assert result.code == 2
    assert result.out == ""
    assert "--output" in result.err or "--diff" in result.err


def test_resolve_to_stdout(run_acm, write_flows):  # type: ignore[no-untyped-def]
    result = run_acm("resolve", str(write_flows(two_apps_one_tab_each())), "-o", "-")
    assert result.code == 0
    nodes = json.loads(result.out)
    assert len(of_role(nodes, "resolver")) == 1


# ---------------------------------------------------------------------------
# indirect conflict with an interlock policy (needs a model)


def write_site(tmp_path: Path) -> tuple[Path, Path, list[dict[str, Any]]]:
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
    model.write_text("""version: 1
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
""", encoding="utf-8")
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


def test_indirect_without_interlock_policy_is_not_resolved(run_acm, tmp_path):  # type: ignore[no-untyped-def]
    flows, model, nodes_in = write_site(tmp_path)
    nodes, result = resolve(run_acm, flows, "--model", str(model), out=tmp_path / "o.json")
    assert nodes == nodes_in
    assert "not resolved" in result.err and "interlock" in result.err


def test_indirect_with_interlock_policy_taps_the_guard(run_acm, tmp_path):  # type: ignore[no-untyped-def]
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


def test_indirect_resolved_is_managed(run_acm, tmp_path):  # type: ignore[no-untyped-def]
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
    from acm.resolve import describe_changes

    before = [{"id": "b", "type": "mqtt-broker", "broker": "h"}]
    after = [{"id": "b", "type": "mqtt-broker", "broker": "h",
              "credentials": {"user": "u", "password": "hunter2"}}]
    lines = describe_changes(before, after)
    assert lines == ["~ credentials of mqtt-broker b: changed (not shown)"]
    assert "hunter2" not in "\n".join(lines)


def test_resolve_only_an_unknown_conflict_is_an_error(run_acm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_acm("resolve", str(BUILDING), "--only", "ACM001-000000000000",
                     "--strategy", "dwell", "--set", "min=1m", "-o", str(tmp_path / "out.json"))
    assert result.code == 2
    assert "no conflict ACM001-000000000000" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "out.json").exists()
