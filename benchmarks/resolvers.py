"""Benchmark ACM's resolvers on a real Node-RED (4, and 5 when installed).

One flow holds every path measured. An HTTP-triggered driver function node
(``resolvers_driver.js``) sends messages into a path and a sink function node at
its end counts them, so every path pays the same driver and sink:

* **plain**: driver -> change node -> sink (the path without ACM);
* **function**: driver -> change node -> function node (``return msg``) -> sink,
  the cost of one extra function node;
* **resolver**: driver -> tag change node -> resolver -> sink, as ``acm resolve``
  wires it (the tag's one rule from ``acm.rewrite.nodes.tag_rule``), one per
  strategy, configured so that every command passes (the timed strategies re-arm
  their deadline on every message); twice: the resolver as a function node (the
  default), and as nodered-bridge's native acm-resolver node (``--native``), which
  runs the same templates outside a function node's vm (linked into the user dir
  as ``npm install <folder>`` links it).

Per strategy it prints the throughput of each resolver path against the plain path (the
fastest of eight interleaved rounds of each; target: at least 0.5x), the latency each
resolver path adds over the plain one against what the function node adds (p50 of
one-at-a-time round trips; target: at most 1.5x), the heap after GC before and after N
mixed commands (ten applications, hold / TTL / dwell of 10 minutes; target: within 5
MiB), and for the timed strategies the round-trip latency of the plain path while the
deadlines of 20,000 commands (2 s) expire against its latency just before (p90 of its
round trips; no slowdown: target at most 2x). The throughput and latency targets are the
native resolver's: the function-node resolver holds a function node, so its path cannot
run faster than the function node path, whose ratio its cell prints.
Node-RED runs with a throw-away user dir on a loopback port (tests/nodered.py);
GC is exposed to the flow through settings.js.

Usage::

    python benchmarks/resolvers.py [--messages 100000] [--versions 4,5] [--strategies lock,priority]

``--messages 20000 --rounds 3`` is a quicker run (a minute a runtime), noisier;
``--templates DIR --tags three`` measures an earlier version's resolvers (common.js
and the strategy files from DIR) behind the three-rule tags it wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from nodered import NodeRed, missing  # noqa: E402

from acm.rewrite.nodes import native_resolver_node, tag_rule  # noqa: E402
from acm.rewrite.resolve import template  # noqa: E402

#: Targets of issue 14 (item 4), printed beside the figures.
THROUGHPUT_TARGET = 0.5  # resolver path / plain change-node path
LATENCY_TARGET = 1.5  # added p50: resolver path / one extra function node
HEAP_TARGET_MIB = 5.0  # |heap after - heap before|, after GC
EXPIRY_TARGET = 2.0  # neighbour p90 round trip while deadlines expire / before
#: Throughput rounds per path (the messages of a run split among them): each path's
#: fastest counts, so a burst of load elsewhere on the shared machine has to cover
#: every round of a path to slow it.
THROUGHPUT_ROUNDS = 8

Node = dict[str, Any]
TEMPLATE = template  # a strategy's function node body; --templates changes it
TAGS = "one"  # the tags: "one" rule (acm resolve's), or "three" (earlier versions'); --tags
STRATEGIES = ("priority", "lock", "dwell", "merge", "interlock", "override")
TIMED = ("priority", "lock", "dwell", "override")
HOLD = 600_000  # ms: nothing expires during a run
EXPIRY_TTL = 2_000
EXPIRY_MESSAGES = 20_000

# Every command passes: one application, values alternating 0/1.
PASS: dict[str, dict[str, Any]] = {
    "priority": {"order": ["a"], "ttl": HOLD, "default": None, "release": "release"},
    "lock": {"hold": HOLD, "mode": "drop", "renew": True},
    "dwell": {"min": 0},
    "merge": {"op": "max", "on": None, "off": None},
    "interlock": {"blocked_when": ["open"], "mode": "block", "override": None,
                  "restore": True, "guard": "bench:guard"},
    "override": {"hold": HOLD, "release": "auto", "resume": "latest", "manual": ["a"],
                 "manual_found": None},
}


def timed(strategy: str, ms: int) -> dict[str, Any]:
    """Options for the mixed commands of ten applications, deadlines ``ms`` away."""
    options: dict[str, dict[str, Any]] = {
        "priority": {"order": ["app0", "app1", "app2"], "ttl": ms, "default": "off",
                     "release": "release"},
        "lock": {"hold": ms, "mode": "queue", "renew": True},
        "dwell": {"min": ms},
        "merge": {"op": "mean", "on": None, "off": None},
        "interlock": {"blocked_when": ["open"], "mode": "override", "override": 0,
                      "restore": True, "guard": "bench:guard"},
        "override": {"hold": ms, "release": "auto", "resume": "latest", "manual": ["app0"],
                     "manual_found": None},
    }
    return options[strategy]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- the flow -------------------------------------------------------------------------


def _set(prop: str, value: Any, kind: str) -> dict[str, Any]:
    return {"t": "set", "p": prop, "pt": "msg", "to": str(value), "tot": kind}


def function(node_id: str, body: str, wires: list[list[str]], **extra: Any) -> Node:
    return {"id": node_id, "type": "function", "z": "bench", "name": node_id, "func": body,
            "outputs": len(wires), "timeout": 0, "noerr": 0, "initialize": "",
            "finalize": "", "libs": [], "wires": wires, **extra}


def change(node_id: str, rules: list[dict[str, Any]], to: str) -> Node:
    return {"id": node_id, "type": "change", "z": "bench", "name": node_id, "rules": rules,
            "wires": [[to]]}


def resolver(strategy: str, name: str, options: dict[str, Any], wires: list[list[str]],
             native: bool = False) -> list[Node]:
    """A resolver in its group, whose env carries its configuration (as acm resolve does):
    a function node, or with ``native`` an acm-resolver node (nodered-bridge)."""
    config = {"strategy": strategy, "conflict": f"BENCH-{name}", "label": name,
              "targets": 1, "options": options}
    if native:
        node = native_resolver_node(name, name, strategy, TEMPLATE(strategy), len(wires), wires,
                                    {}, z="bench", g=f"g-{name}")
    else:
        node = function(name, TEMPLATE(strategy), wires, g=f"g-{name}")
    group = {"id": f"g-{name}", "type": "group", "z": "bench", "name": name,
             "nodes": [name],
             "env": [{"name": "ACM_RESOLVER", "value": json.dumps(config), "type": "str"}]}
    return [group, node]


def bench_flow(strategies: list[str], probes: dict[str, str] | None = None,
               ) -> tuple[list[Node], dict[str, int]]:
    """The flow and the driver's output port of each path; ``probes`` (name -> body)
    adds a path through a function node with that body in the group of a resolver
    configuration, to find what a resolver's time goes to."""
    driver_js = (HERE / "resolvers_driver.js").read_text(encoding="utf-8")
    nodes: list[Node] = [{"id": "bench", "type": "tab", "label": "ACM bench"}]
    ports: dict[str, int] = {}
    starts: list[str] = []

    def path(name: str, first: str) -> None:
        ports[name] = len(starts) + 1
        starts.append(first)

    tag = [tag_rule(0, "command", "a")] if TAGS == "one" else [
        _set("acm.target", 0, "num"), _set("acm.role", "command", "str"),
        _set("acm.app", "a", "str")]
    nodes.append(change("plain", [_set("topic", "bench", "str")], "sink"))
    path("plain", "plain")
    nodes.append(change("func-in", [_set("topic", "bench", "str")], "func"))
    nodes.append(function("func", "return msg;", [["sink"]]))
    path("function", "func-in")
    for name, body in (probes or {}).items():
        nodes.append(change(f"tag-{name}", tag, name))
        group = resolver("lock", name, PASS["lock"], [["sink"]])
        group[1]["func"] = body
        nodes += group
        path(name, f"tag-{name}")
    for s in strategies:
        nodes.append(change(f"tag-{s}", tag, f"pass-{s}"))
        nodes += resolver(s, f"pass-{s}", PASS[s], [["sink"]])
        path(f"pass-{s}", f"tag-{s}")
        nodes.append(change(f"tag-native-{s}", tag, f"native-{s}"))
        nodes += resolver(s, f"native-{s}", PASS[s], [["sink"]], native=True)
        path(f"native-{s}", f"tag-native-{s}")
        for kind, ms in (("mixed", HOLD), ("expiry", EXPIRY_TTL)):
            if kind == "expiry" and s not in TIMED:
                continue
            name = f"{kind}-{s}"
            # Few of these commands pass: a complete node counts the handled ones.
            nodes += resolver(s, name, timed(s, ms), [[]])
            nodes.append({"id": f"done-{name}", "type": "complete", "z": "bench",
                          "scope": [name], "uncaught": False, "wires": [["sink"]]})
            path(name, name)
    nodes.append(function("sink", 'global.get("acmBench").arrive();\nreturn null;', [[]]))
    driver = function("driver", driver_js, [["response"]] + [[s] for s in starts])
    nodes += [
        {"id": "request", "type": "http in", "z": "bench", "url": "/acm-bench",
         "method": "post", "upload": False, "wires": [["driver"]]},
        driver,
        {"id": "response", "type": "http response", "z": "bench", "statusCode": "",
         "headers": {}, "wires": []},
    ]
    for i, node in enumerate(nodes):
        if node["type"] not in ("tab", "group"):  # without x/y Node-RED takes it for a config node
            node.update(x=200 + 200 * (i % 5), y=40 * i)
    return nodes, ports


# -- Node-RED with GC exposed -----------------------------------------------------------

# settings.js prelude: gc() without --expose-gc on the command line, and the object
# the driver and the sink share through the global context.
PRELUDE = r"""
const v8 = require("v8");
v8.setFlagsFromString("--expose-gc");
const gc = require("vm").runInNewContext("gc");
const acmBench = {
    count: 0, at: 0, want: 0, waiter: null,
    now: () => performance.now(),
    heap: () => process.memoryUsage().heapUsed,
    gc,
    arrive() {
        this.count++;
        this.at = performance.now();
        if (this.waiter !== null && this.count >= this.want) {
            const w = this.waiter;
            this.waiter = null;
            w();
        }
    },
    until(n) {
        if (this.count >= n) return Promise.resolve();
        return new Promise((resolve) => { this.want = n; this.waiter = resolve; });
    },
};
"""


class BenchNodeRed(NodeRed):
    """Node-RED whose function nodes can reach ``global.get("acmBench")``."""

    def _write_settings(self) -> None:
        assert self.user_dir is not None
        body = json.dumps(self._settings(), indent=2)
        (self.user_dir / "settings.js").write_text(
            PRELUDE + f"module.exports = Object.assign({body},\n"
            "  {functionGlobalContext: {acmBench}, logging: {console: {level: 'warn'}}});\n",
            encoding="utf-8")
        # The native resolver node: nodered-bridge, linked as `npm install <folder>` does.
        modules = self.user_dir / "node_modules"
        modules.mkdir(exist_ok=True)
        if not (modules / "node-red-acm-bridge").exists():
            (modules / "node-red-acm-bridge").symlink_to(REPO / "nodered-bridge")


def ask(red: NodeRed, request: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    """Run one measurement; retried while the flows are starting (404 for a few seconds)."""
    deadline = time.monotonic() + 15
    while True:
        response = requests.post(f"{red.url}/acm-bench", json=request, timeout=timeout)
        if response.status_code != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


# -- the run ----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "ok" if ok else "**MISSED**"


def strategy_row(red: NodeRed, base: dict[str, Any], ports: dict[str, int], s: str,
                 args: argparse.Namespace) -> tuple[list[str], bool]:
    """One strategy's cells, and whether its targets are met: throughput and added
    latency of the native resolver (nodered-bridge; ``acm resolve --native``), with the
    function-node resolver's beside them (bounded by the function node path, printed
    in its cell); heap and expiry of the function-node resolver (the same templates)."""
    paths = [ports["plain"], ports["function"], ports[f"native-{s}"], ports[f"pass-{s}"]]
    lat = ask(red, {**base, "op": "latency", "paths": paths, "rounds": args.rounds,
                    "block": args.block})
    thr = ask(red, {**base, "op": "throughput", "paths": paths, "n": args.messages,
                    "batch": 500, "rounds": THROUGHPUT_ROUNDS})
    plain, function = thr[str(paths[0])], thr[str(paths[1])]
    plain_p50, func_p50 = lat[str(paths[0])]["p50"], lat[str(paths[1])]["p50"]
    cells: list[str] = []
    met = True
    for number, path in enumerate(paths[2:]):
        ratio = thr[str(path)] / plain
        note = f"; function node path {function / plain:.2f}x" if number else ""
        cells.append(f"{ratio:.2f}x ({thr[str(path)]:,.0f} vs {plain:,.0f}/s{note}) "
                     f"{verdict(ratio >= THROUGHPUT_TARGET)}")
        met = met and (number > 0 or ratio >= THROUGHPUT_TARGET)
    for number, path in enumerate(paths[2:]):
        added = lat[str(path)]["p50"] - plain_p50
        ratio = added / max(func_p50 - plain_p50, 1e-6)
        cells.append(f"{ratio:.2f}x ({added * 1000:.1f} vs {(func_p50 - plain_p50) * 1000:.1f}"
                     f" µs) {verdict(ratio <= LATENCY_TARGET)}")
        met = met and (number > 0 or ratio <= LATENCY_TARGET)
    heap = ask(red, {**base, "op": "heap", "path": ports[f"mixed-{s}"], "n": args.messages,
                     "batch": 500})
    before, after = heap["before"] / 2**20, heap["after"] / 2**20
    cells.append(f"{before:.1f} → {after:.1f} ({after - before:+.1f}) "
                 f"{verdict(abs(after - before) <= HEAP_TARGET_MIB)}")
    met = met and abs(after - before) <= HEAP_TARGET_MIB
    if s not in TIMED:
        return cells + ["no timers"], met
    exp = ask(red, {**base, "op": "expiry", "path": ports[f"expiry-{s}"],
                    "neighbour": ports["plain"], "n": args.expiry_messages, "batch": 500,
                    "ttl": EXPIRY_TTL})
    slow = exp["during"]["p90"] / exp["base"]["p90"]
    cells.append(f"{slow:.2f}x (p90 {exp['during']['p90'] * 1000:.0f} vs "
                 f"{exp['base']['p90'] * 1000:.0f} µs; mean {exp['during']['mean'] * 1000:.0f}"
                 f" vs {exp['base']['mean'] * 1000:.0f} µs) {verdict(slow <= EXPIRY_TARGET)}")
    return cells, met and slow <= EXPIRY_TARGET


def run_version(version: str, args: argparse.Namespace, strategies: list[str]) -> bool:
    flows, ports = bench_flow(strategies)
    nports = len(ports) + 1
    ok = True
    with BenchNodeRed(version) as red:
        red.reset_flows(flows)
        info = requests.get(f"{red.url}/settings", timeout=5).json()
        base = {"ports": nports, "tags": TAGS}
        log(f"Node-RED {info.get('version')}: warming up ...")
        everything = [ports["plain"], ports["function"]] + [
            ports[f"{kind}-{s}"] for s in strategies for kind in ("pass", "native")]
        # JIT warm-up of every path; the first requests also start the http in node.
        ask(red, {**base, "op": "throughput", "paths": everything, "n": 5000, "batch": 500,
                  "rounds": 1})
        ask(red, {**base, "op": "latency", "paths": everything, "rounds": 1, "block": 300})
        print(f"### Node-RED {info.get('version')}\n")
        print("| strategy | throughput vs plain: native resolver | function-node resolver | "
              "added p50 vs function node: native | function-node | "
              "heap before → after GC (MiB) | neighbour round trip at expiry |")
        print("|---|---|---|---|---|---|---|")
        for s in strategies:
            log(f"Node-RED {version}: {s} ...")
            cells, met = strategy_row(red, base, ports, s, args)
            ok = ok and met
            print(f"| {s} | " + " | ".join(cells) + " |", flush=True)
        print()
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=100_000,
                    help="messages per throughput and heap run (default: 100000)")
    ap.add_argument("--expiry-messages", type=int, default=EXPIRY_MESSAGES,
                    help=f"commands whose deadlines expire together (default: {EXPIRY_MESSAGES})")
    ap.add_argument("--rounds", type=int, default=5, help="latency rounds (default: 5)")
    ap.add_argument("--block", type=int, default=400,
                    help="round trips per path and round (default: 400)")
    ap.add_argument("--versions", default="4,5", help="Node-RED major versions (default: 4,5)")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--templates", metavar="DIR",
                    help="take common.js and <strategy>.js from DIR instead of acm/data/resolvers "
                         "(e.g. an older version's, to compare)")
    ap.add_argument("--tags", choices=("one", "three"), default="one",
                    help="the tags in front of the resolvers: one rule, as acm resolve writes "
                         "them (default), or three, as earlier versions did")
    args = ap.parse_args(argv)
    global TAGS
    TAGS = args.tags
    if args.templates:
        folder = Path(args.templates)
        global TEMPLATE
        TEMPLATE = lambda strategy: (  # noqa: E731
            (folder / "common.js").read_text(encoding="utf-8") + "\n"
            + (folder / f"{strategy}.js").read_text(encoding="utf-8"))
    strategies = [s for s in args.strategies.split(",") if s]
    unknown = set(strategies) - set(STRATEGIES)
    if unknown:
        ap.error(f"unknown strategies: {', '.join(sorted(unknown))}")
    print(f"## Resolvers on Node-RED ({args.messages:,} messages per run; {os.cpu_count()} CPUs; "
          f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())})\n")
    print("Throughput: messages per second in each path's fastest of eight interleaved rounds; "
          "latency: p50 of one-at-a-time round trips.\n")
    print(f"Targets: throughput ≥ {THROUGHPUT_TARGET}x the plain change-node path; added "
          f"p50 latency ≤ {LATENCY_TARGET}x one extra function node's; heap flat within "
          f"{HEAP_TARGET_MIB:g} MiB after GC; neighbour round trip while deadlines expire "
          f"≤ {EXPIRY_TARGET:g}x.\n")
    ok = True
    for version in [v for v in args.versions.split(",") if v]:
        reason = missing(version)
        if reason:
            print(f"Node-RED {version}: skipped ({reason}).\n")
            continue
        ok = run_version(version, args, strategies) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
