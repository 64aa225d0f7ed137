"""How messages move through flows, checked through what ACM reports.

Every test builds a small flows file, analyses it through the public API
(``acm.analyze_flows`` rendered as the JSON contract) or the CLI, and checks
which applications drive which actuator, along which path of node ids.
"""

from __future__ import annotations

import json
from typing import Any

from conftest import ROOT, broker, node, tab

import acm

TOPIC = "home/hall/light/set"
KEY = f"mqtt:mqtt.local:1883/{TOPIC}"


def analyse(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The acm.findings/1 document for ``nodes`` (as one flows file)."""
    report = acm.analyze_flows({"local": acm.flows_from_data(nodes)})
    doc = json.loads(acm.render(report, "json"))
    assert doc["schema"] == "acm.findings/1"
    ids = {n["id"] for n in nodes}
    for conflict in doc["conflicts"]:  # findings only ever name ids of the file
        for actuator in conflict["actuators"]:
            assert set(actuator["nodes"]) <= ids
        for path in conflict["paths"]:
            assert set(path) <= ids, path
    for actuator in doc["actuators"]:
        assert set(actuator["nodes"]) <= ids
    return doc


def mqtt_out(node_id: str, z: str, topic: str = TOPIC, **extra: Any) -> dict[str, Any]:
    return node(node_id, "mqtt out", z, [], broker="broker", topic=topic, **extra)


def inject(node_id: str, z: str, to: list[str], payload: str = "on") -> dict[str, Any]:
    return node(node_id, "inject", z, [to], payload=payload, payloadType="str")


def actuator(doc: dict[str, Any], key: str = KEY) -> dict[str, Any]:
    found = [a for a in doc["actuators"] if a["key"] == key]
    assert len(found) == 1, doc["actuators"]
    return found[0]


def one_conflict(doc: dict[str, Any]) -> dict[str, Any]:
    assert len(doc["conflicts"]) == 1, doc["conflicts"]
    return doc["conflicts"][0]


def paths_of(conflict: dict[str, Any]) -> dict[str, list[list[str]]]:
    """application -> its paths in the conflict."""
    out: dict[str, list[list[str]]] = {}
    for app, path in zip(conflict["path_applications"], conflict["paths"], strict=True):
        out.setdefault(app, []).append(path)
    return out


# ---------------------------------------------------------------------------
# Direct conflict between two tabs


def two_tabs() -> list[dict[str, Any]]:
    return [
        tab("t1", "Motion"), tab("t2", "Schedule"), broker(),
        inject("i1", "t1", ["o1"], "on"), mqtt_out("o1", "t1"),
        inject("i2", "t2", ["o2"], "off"), mqtt_out("o2", "t2"),
    ]


def test_two_tabs_same_topic_is_one_direct_conflict() -> None:
    doc = analyse(two_tabs())
    conflict = one_conflict(doc)
    assert conflict["kind"] == "direct"
    assert conflict["rule"] == "direct"
    assert conflict["severity"] == "error"
    assert sorted(conflict["applications"]) == ["t1", "t2"]
    assert len(conflict["actuators"]) == 1
    assert conflict["actuators"][0]["key"] == KEY
    assert sorted(conflict["actuators"][0]["nodes"]) == ["o1", "o2"]
    assert paths_of(conflict) == {"t1": [["i1", "o1"]], "t2": [["i2", "o2"]]}
    # one actuator (the topic), not one per node
    assert len(doc["actuators"]) == 1
    assert doc["stats"]["actuators"] == 1
    assert doc["stats"]["triggers"] == 2


def test_two_tabs_via_cli(run_acm, write_flows) -> None:
    path = write_flows(two_tabs())
    result = run_acm("analyze", str(path), "--format", "json")
    assert result.code == 1
    conflict = one_conflict(result.json())
    assert conflict["actuators"][0]["locations"][0]["file"] == str(path)
    assert sorted(conflict["applications"]) == ["t1", "t2"]


def test_different_topics_do_not_conflict() -> None:
    nodes = two_tabs()
    nodes[-1]["topic"] = "home/porch/light/set"
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    assert len(doc["actuators"]) == 2


def test_different_brokers_do_not_conflict() -> None:
    nodes = two_tabs() + [broker("broker2", host="other.local")]
    nodes[-2]["broker"] = "broker2"  # o2
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    assert sorted(a["key"] for a in doc["actuators"]) == [
        KEY, f"mqtt:other.local:1883/{TOPIC}"]


def test_config_nodes_are_not_on_paths() -> None:
    doc = analyse(two_tabs())
    conflict = one_conflict(doc)
    assert all("broker" not in path for path in conflict["paths"])
    # the graph holds the four flow nodes only: no tabs, no broker config
    assert doc["stats"]["graph_nodes"] == 4
    assert doc["stats"]["edges"] == 2
    assert doc["stats"]["nodes"] == 7


def test_two_triggers_in_one_tab_is_intended_design() -> None:
    nodes = [
        tab("t1"), broker(),
        inject("i1", "t1", ["o1"], "on"), inject("i2", "t1", ["o1"], "off"), mqtt_out("o1", "t1"),
    ]
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    assert actuator(doc)["applications"] == ["t1"]
    assert actuator(doc)["commands"] == ["off", "on"]


# ---------------------------------------------------------------------------
# Links


def test_link_out_to_link_in_across_tabs() -> None:
    nodes = [
        tab("t1", "Motion"), tab("t2", "Schedule"), tab("t3", "Devices"), broker(),
        inject("i1", "t1", ["lo1"]),
        node("lo1", "link out", "t1", [], links=["li3"]),
        inject("i2", "t2", ["lo2"], "off"),
        node("lo2", "link out", "t2", [], links=["li3"]),
        node("li3", "link in", "t3", [["o3"]], links=["lo1", "lo2"]),
        mqtt_out("o3", "t3"),
    ]
    doc = analyse(nodes)
    conflict = one_conflict(doc)
    # the tab that only hosts the actuator does not drive it
    assert sorted(conflict["applications"]) == ["t1", "t2"]
    assert conflict["actuators"][0]["nodes"] == ["o3"]
    assert paths_of(conflict) == {
        "t1": [["i1", "lo1", "li3", "o3"]],
        "t2": [["i2", "lo2", "li3", "o3"]],
    }


def test_link_in_without_callers_drives_nothing() -> None:
    nodes = [
        tab("t1"), broker(),
        node("li1", "link in", "t1", [["o1"]], links=[]),
        mqtt_out("o1", "t1"),
    ]
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    assert actuator(doc)["applications"] == []
    assert actuator(doc)["nodes"] == ["o1"]


def link_service() -> list[dict[str, Any]]:
    """Tab t9: a link-in service that sets the payload and returns to its caller."""
    return [
        tab("t9", "Service"),
        node("li9", "link in", "t9", [["ch9"]], links=[]),
        node("ch9", "change", "t9", [["lr9"]],
             rules=[{"t": "set", "p": "payload", "pt": "msg", "to": "on", "tot": "str"}]),
        node("lr9", "link out", "t9", [], mode="return", links=[]),
    ]


def test_link_call_returns_to_the_caller() -> None:
    nodes = [
        tab("t1", "Caller"), tab("t2", "Other"), broker(),
        inject("i1", "t1", ["lc1"], "whatever"),
        node("lc1", "link call", "t1", [["o1"]], links=["li9"], linkType="static"),
        mqtt_out("o1", "t1"),
        inject("i2", "t2", ["o2"], "off"),
        mqtt_out("o2", "t2"),
        *link_service(),
    ]
    doc = analyse(nodes)
    conflict = one_conflict(doc)
    assert sorted(conflict["applications"]) == ["t1", "t2"]  # not t9: it hosts the service only
    assert paths_of(conflict)["t1"] == [["i1", "lc1", "li9", "ch9", "lr9", "o1"]]
    # the payload set in the called flow comes back: "on" vs "off"
    assert actuator(doc)["commands"] == ["off", "on"]
    assert conflict["severity"] == "error"
    assert doc["stats"]["dynamic_link_calls"] == 0


def test_link_call_return_goes_only_to_its_own_caller() -> None:
    # two tabs share one service, each call wired to its own actuator:
    # a message returns to the link call that sent it, so neither tab drives
    # the other's actuator
    nodes = [
        tab("t1", "Hall"), tab("t2", "Porch"), broker(),
        inject("i1", "t1", ["lc1"]),
        node("lc1", "link call", "t1", [["o1"]], links=["li9"]),
        mqtt_out("o1", "t1", "home/hall/light/set"),
        inject("i2", "t2", ["lc2"]),
        node("lc2", "link call", "t2", [["o2"]], links=["li9"]),
        mqtt_out("o2", "t2", "home/porch/light/set"),
        *link_service(),
    ]
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    assert actuator(doc, "mqtt:mqtt.local:1883/home/hall/light/set")["applications"] == ["t1"]
    assert actuator(doc, "mqtt:mqtt.local:1883/home/porch/light/set")["applications"] == ["t2"]


def test_dynamic_link_call_is_counted_not_followed() -> None:
    nodes = [
        tab("t1"), broker(),
        inject("i1", "t1", ["lc1"]),
        node("lc1", "link call", "t1", [["o1"]], links=[], linkType="dynamic"),
        mqtt_out("o1", "t1"),
        *link_service(),
    ]
    doc = analyse(nodes)
    assert doc["stats"]["dynamic_link_calls"] == 1
    # the target is chosen at run time: nothing is assumed to come back
    assert actuator(doc)["applications"] == []
    assert doc["conflicts"] == []


def test_junction_passes_messages() -> None:
    nodes = two_tabs()
    nodes[3]["wires"] = [["j1"]]  # i1 -> j1 -> o1
    nodes.append({"id": "j1", "type": "junction", "z": "t1", "x": 200, "y": 100,
                  "wires": [["o1"]]})
    conflict = one_conflict(analyse(nodes))
    assert paths_of(conflict)["t1"] == [["i1", "j1", "o1"]]


# ---------------------------------------------------------------------------
# Subflows


def subflow(sub_id: str, first: list[str], out: list[list[str]] | None = None,
            name: str | None = None) -> dict[str, Any]:
    """A subflow definition: one input wired to ``first``; output ports from ``out``."""
    return {
        "id": sub_id, "type": "subflow", "name": name or sub_id,
        "in": [{"x": 50, "y": 30, "wires": [{"id": i} for i in first]}],
        "out": [{"x": 400, "y": 30, "wires": [{"id": i, "port": 0} for i in port]}
                for port in (out or [])],
    }


def test_subflow_instances_on_two_tabs() -> None:
    nodes = [
        tab("t1", "Motion"), tab("t2", "Schedule"), broker(),
        subflow("sf1", ["sf1_o"], name="Hall light"),
        mqtt_out("sf1_o", "sf1"),
        inject("i1", "t1", ["inst1"], "on"),
        node("inst1", "subflow:sf1", "t1", []),
        inject("i2", "t2", ["inst2"], "off"),
        node("inst2", "subflow:sf1", "t2", []),
    ]
    doc = analyse(nodes)
    conflict = one_conflict(doc)
    assert sorted(conflict["applications"]) == ["t1", "t2"]
    assert conflict["actuators"][0]["nodes"] == ["sf1_o"]
    assert paths_of(conflict) == {
        "t1": [["i1", "inst1", "sf1_o"]],
        "t2": [["i2", "inst2", "sf1_o"]],
    }
    assert conflict["severity"] == "error"


def test_nested_subflows() -> None:
    nodes = [
        tab("t1"), tab("t2"), broker(),
        subflow("sfA", ["a_ch"]),
        node("a_ch", "change", "sfA", [["a_b"]],
             rules=[{"t": "set", "p": "payload", "pt": "msg", "to": "on", "tot": "str"}]),
        node("a_b", "subflow:sfB", "sfA", []),
        subflow("sfB", ["b_o"]),
        mqtt_out("b_o", "sfB"),
        inject("i1", "t1", ["inst1"], "x"),
        node("inst1", "subflow:sfA", "t1", []),
        inject("i2", "t2", ["o2"], "off"),
        mqtt_out("o2", "t2"),
    ]
    doc = analyse(nodes)
    conflict = one_conflict(doc)
    assert sorted(conflict["applications"]) == ["t1", "t2"]
    assert sorted(conflict["actuators"][0]["nodes"]) == ["b_o", "o2"]
    assert paths_of(conflict)["t1"] == [["i1", "inst1", "a_ch", "a_b", "b_o"]]
    assert actuator(doc)["commands"] == ["off", "on"]


def test_subflow_output_port() -> None:
    nodes = [
        tab("t1"), tab("t2"), broker(),
        subflow("sf1", ["sf_ch"], out=[["sf_ch"]]),
        node("sf_ch", "change", "sf1", [[]],
             rules=[{"t": "set", "p": "payload", "pt": "msg", "to": "on", "tot": "str"}]),
        inject("i1", "t1", ["inst1"], "x"),
        node("inst1", "subflow:sf1", "t1", [["o1"]]),
        mqtt_out("o1", "t1"),
        inject("i2", "t2", ["o2"], "off"),
        mqtt_out("o2", "t2"),
    ]
    doc = analyse(nodes)
    conflict = one_conflict(doc)
    assert sorted(conflict["applications"]) == ["t1", "t2"]
    assert paths_of(conflict)["t1"] == [["i1", "inst1", "sf_ch", "o1"]]
    assert actuator(doc)["commands"] == ["off", "on"]


def test_subflow_input_straight_to_output() -> None:
    sub = subflow("sf1", [], out=[["sf1"]])  # the subflow's input wired to its output
    nodes = [
        tab("t1"), tab("t2"), broker(), sub,
        inject("i1", "t1", ["inst1"], "on"),
        node("inst1", "subflow:sf1", "t1", [["o1"]]),
        mqtt_out("o1", "t1"),
        inject("i2", "t2", ["o2"], "off"),
        mqtt_out("o2", "t2"),
    ]
    conflict = one_conflict(analyse(nodes))
    assert paths_of(conflict)["t1"] == [["i1", "inst1", "o1"]]


def test_trigger_inside_a_subflow_belongs_to_the_instance_tab() -> None:
    nodes = [
        tab("t1"), tab("t2"), broker(),
        {"id": "sf1", "type": "subflow", "name": "Timer", "in": [], "out": []},
        inject("sf_i", "sf1", ["sf_o"], "on"),
        mqtt_out("sf_o", "sf1"),
        node("inst1", "subflow:sf1", "t1", []),
        node("inst2", "subflow:sf1", "t2", []),
    ]
    conflict = one_conflict(analyse(nodes))
    assert sorted(conflict["applications"]) == ["t1", "t2"]
    assert conflict["actuators"][0]["nodes"] == ["sf_o"]
    # both instances send the same constant: a repeated action
    assert conflict["severity"] == "info"


def test_subflow_without_instances_drives_nothing() -> None:
    nodes = [
        tab("t1"), broker(),
        {"id": "sf1", "type": "subflow", "name": "Unused", "in": [], "out": []},
        inject("sf_i", "sf1", ["sf_o"], "on"),
        mqtt_out("sf_o", "sf1"),
    ]
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    assert doc["actuators"] == []
    assert doc["stats"]["triggers"] == 0


# ---------------------------------------------------------------------------
# Disabled nodes and tabs


def test_disabled_node_on_the_path_breaks_it() -> None:
    nodes = two_tabs()
    nodes[3]["wires"] = [["d1"]]  # i1 -> d1 (disabled) -> o1
    nodes.append(node("d1", "change", "t1", [["o1"]], d=True, rules=[]))
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    assert actuator(doc)["applications"] == ["t2"]


def test_disabled_trigger_starts_nothing() -> None:
    nodes = two_tabs()
    nodes[3]["d"] = True  # i1
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    assert actuator(doc)["applications"] == ["t2"]
    assert doc["stats"]["triggers"] == 1


def test_disabled_tab_carries_no_messages() -> None:
    nodes = two_tabs()
    nodes[0]["disabled"] = True  # t1
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    assert actuator(doc)["applications"] == ["t2"]
    assert actuator(doc)["nodes"] == ["o2"]


def test_link_into_a_disabled_tab_goes_nowhere() -> None:
    nodes = [
        tab("t1"), tab("t2"), tab("t3", disabled=True), broker(),
        inject("i1", "t1", ["lo1"]), node("lo1", "link out", "t1", [], links=["li3"]),
        node("li3", "link in", "t3", [["o3"]], links=["lo1"]), mqtt_out("o3", "t3"),
        inject("i2", "t2", ["o2"], "off"), mqtt_out("o2", "t2"),
    ]
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    assert actuator(doc)["applications"] == ["t2"]


def test_disabled_node_inside_a_subflow() -> None:
    nodes = [
        tab("t1"), tab("t2"), broker(),
        subflow("sf1", ["sf_d"]),
        node("sf_d", "change", "sf1", [["sf_o"]], d=True, rules=[]),
        mqtt_out("sf_o", "sf1"),
        inject("i1", "t1", ["inst1"]), node("inst1", "subflow:sf1", "t1", []),
        inject("i2", "t2", ["inst2"]), node("inst2", "subflow:sf1", "t2", []),
    ]
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    assert actuator(doc)["applications"] == []


# ---------------------------------------------------------------------------
# Actuators nobody drives; cycles


def test_actuator_without_trigger_upstream() -> None:
    nodes = [
        tab("t1"), tab("t2"), broker(),
        node("f1", "function", "t1", [["o1"]], func="return msg;"),
        mqtt_out("o1", "t1"),
        mqtt_out("o2", "t2"),
    ]
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    found = actuator(doc)
    assert found["applications"] == []
    assert sorted(found["nodes"]) == ["o1", "o2"]
    assert doc["stats"]["driven_actuators"] == 0
    assert doc["stats"]["triggers"] == 0


def test_cycle_in_the_wires_terminates() -> None:
    nodes = two_tabs()
    nodes[3]["wires"] = [["ca"]]  # i1 -> A <-> B -> o1
    nodes += [
        node("ca", "change", "t1", [["cb"]],
             rules=[{"t": "set", "p": "topic", "pt": "msg", "to": "x", "tot": "str"}]),
        node("cb", "function", "t1", [["ca", "o1"]], func="return msg;"),
    ]
    doc = analyse(nodes)
    conflict = one_conflict(doc)
    assert sorted(conflict["applications"]) == ["t1", "t2"]
    assert paths_of(conflict)["t1"] == [["i1", "ca", "cb", "o1"]]


def test_cycle_through_links_terminates() -> None:
    nodes = [
        tab("t1"), tab("t2"), broker(),
        inject("i1", "t1", ["lo1"]),
        node("lo1", "link out", "t1", [], links=["li2"]),
        node("li2", "link in", "t2", [["lo2", "o2"]], links=["lo1", "lo2"]),
        node("lo2", "link out", "t2", [], links=["li2"]),
        mqtt_out("o2", "t2"),
    ]
    doc = analyse(nodes)
    assert actuator(doc)["applications"] == ["t1"]
    assert doc["conflicts"] == []


def test_recursive_link_call_terminates() -> None:
    # a called flow that calls itself again until a switch sends it back
    nodes = [
        tab("t1"), tab("t9"), broker(),
        inject("i1", "t1", ["lc1"]),
        node("lc1", "link call", "t1", [["o1"]], links=["li9"]),
        mqtt_out("o1", "t1"),
        node("li9", "link in", "t9", [["sw9"]], links=[]),
        node("sw9", "switch", "t9", [["lc9"], ["lr9"]], property="payload",
             rules=[{"t": "eq", "v": "again", "vt": "str"}, {"t": "else"}]),
        node("lc9", "link call", "t9", [["lr9"]], links=["li9"]),
        node("lr9", "link out", "t9", [], mode="return", links=[]),
    ]
    doc = analyse(nodes)
    assert doc["conflicts"] == []
    assert actuator(doc)["applications"] == ["t1"]


def test_nested_link_calls_return_through_both_services() -> None:
    # t1 calls service t8, which calls service t9 and then sets the payload
    # before returning: the actuator gets what t8 set, by way of all of t8
    nodes = [
        tab("t1"), tab("t2"), tab("t8"), tab("t9"), broker(),
        inject("i1", "t1", ["lc1"], "raw"),
        node("lc1", "link call", "t1", [["o1"]], links=["li8"]),
        mqtt_out("o1", "t1"),
        inject("i2", "t2", ["o2"], "on"),
        mqtt_out("o2", "t2"),
        node("li8", "link in", "t8", [["lc8"]], links=[]),
        node("lc8", "link call", "t8", [["ch8"]], links=["li9"]),
        node("ch8", "change", "t8", [["lr8"]],
             rules=[{"t": "set", "p": "payload", "pt": "msg", "to": "on", "tot": "str"}]),
        node("lr8", "link out", "t8", [], mode="return", links=[]),
        node("li9", "link in", "t9", [["lr9"]], links=[]),
        node("lr9", "link out", "t9", [], mode="return", links=[]),
    ]
    doc = analyse(nodes)
    conflict = one_conflict(doc)
    assert sorted(conflict["applications"]) == ["t1", "t2"]
    assert paths_of(conflict)["t1"] == [
        ["i1", "lc1", "li8", "lc8", "li9", "lr9", "ch8", "lr8", "o1"]]
    # both send the constant "on": a repeated action, not an error
    assert actuator(doc)["commands"] == ["on"]
    assert conflict["severity"] == "info"


# ---------------------------------------------------------------------------
# The graph itself: a networkx DiGraph equal to networkx's own building


def test_the_graph_is_the_one_networkx_builds(monkeypatch) -> None:
    # FlowGraph.add_nodes/add_edges write networkx's dicts directly (for speed): replay
    # every call through add_nodes_from/add_edges_from and compare the two graphs,
    # down to the order of nodes, successors and predecessors, on flows with subflow
    # instances, link calls, several runtimes and broker edges
    import networkx as nx

    from acm.analysis.catalog import ACTUATOR_TYPES, NOT_TRIGGERS
    from acm.analysis.flows import load_flows
    from acm.analysis.graph import FlowGraph, build_graph

    replay = nx.DiGraph()
    add_nodes, add_edges = FlowGraph.add_nodes, FlowGraph.add_edges

    def nodes_too(self: FlowGraph, gids: Any) -> None:
        gids = list(gids)
        replay.add_nodes_from(gids)
        add_nodes(self, gids)

    def edges_too(self: FlowGraph, edges: Any) -> None:
        edges = list(edges)
        replay.add_edges_from(edges)
        add_edges(self, edges)

    monkeypatch.setattr(FlowGraph, "add_nodes", nodes_too)
    monkeypatch.setattr(FlowGraph, "add_edges", edges_too)
    site = acm.flows_from_data([
        tab("t1"), tab("t2"), tab("t8"), tab("t9"), broker(),
        {"id": "sf", "type": "subflow", "name": "S", "in": [{"wires": [{"id": "sc"}]}],
         "out": [{"wires": [{"id": "sc", "port": 0}]}, {"wires": [{"id": "sf"}]}]},
        node("sc", "change", "sf", [[]], rules=[]),
        inject("i1", "t1", ["lc1", "si1"], "raw"),
        node("si1", "subflow:sf", "t1", [["o1"], ["o1"]]),
        node("si2", "subflow:sf", "t2", [["o2"]]),
        node("lc1", "link call", "t1", [["o1"]], links=["li8"]),
        mqtt_out("o1", "t1"), inject("i2", "t2", ["o2", "si2", "o2"], "on"),
        mqtt_out("o2", "t2"),
        node("sub", "mqtt in", "t9", [["lr9"]], broker="broker", topic=TOPIC),
        node("li8", "link in", "t8", [["lc8", "pub8"]], links=[]),
        node("lc8", "link call", "t8", [["lr8"]], links=["li9"]),
        node("lr8", "link out", "t8", [], mode="return", links=[]),
        mqtt_out("pub8", "t8"),  # copied for the call lc1
        node("li9", "link in", "t9", [["lr9"]], links=[]),
        node("lr9", "link out", "t9", [], mode="return", links=[]),
    ])
    sites = [{"local": site},
             {"hub": load_flows(ROOT / "flows/site/hub.json"),
              "gateway": load_flows(ROOT / "flows/site/gateway.json")},
             {"local": load_flows(ROOT / "flows/home/flows.json")}]
    for sources in sites:
        replay.clear()
        fg = build_graph(sources)
        graph = fg.graph
        assert nx.utils.graphs_equal(graph, replay)
        assert list(graph) == list(replay)
        assert all(list(graph.succ[n]) == list(replay.succ[n])
                   and list(graph.pred[n]) == list(replay.pred[n]) for n in graph)
        assert all(graph.succ[u][v] is graph.pred[v][u] for u, v in graph.edges)
        assert graph.number_of_edges() == replay.number_of_edges() > 0
        # the actuators and MQTT nodes, listed as they are added, are those of the graph,
        # in its order
        assert fg.endpoints == [gid for gid, info in fg.info.items()
                                if info.type in ACTUATOR_TYPES or info.type.startswith("mqtt ")]
        assert fg.endpoints
        # and the nodes that may start messages, link-call copies left out
        assert fg.starts == [gid for gid, info in fg.info.items()
                             if info.call_site is None and info.type not in NOT_TRIGGERS]
        assert fg.starts
    assert fg.broker_edges == 0
    fg = build_graph({"local": site})
    assert "lc1>pub8" in fg.endpoints and "pub8" in fg.endpoints
    assert "i1" in fg.starts and not any(">" in gid for gid in fg.starts)
    assert any(">" in gid for gid in fg.info)  # (there are copies)
    assert fg.broker_edges == 4  # o1, o2 and both copies of pub8 -> sub
    # and it is an ordinary networkx graph from then on
    start = next(iter(graph))
    assert nx.descendants(graph, start) == nx.descendants(replay, start)
    graph.add_edge(start, "new")
    assert graph.has_edge(start, "new") and "new" in graph.pred
