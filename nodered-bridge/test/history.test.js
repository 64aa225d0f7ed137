"use strict";
// A resolution as ONE history event (resources/acm-history.js): the new flows are made
// as data with the exact node and wire order, and the editor gets Node-RED's own
// "replace" event holding the flows from before. A recording stand-in plays RED.
const test = require("node:test");
const assert = require("node:assert/strict");
const H = require("../resources/acm-history.js");

const BEFORE = [
    { id: "t", type: "tab", label: "T" },
    { id: "g", type: "group", z: "t", nodes: ["a"] },
    { id: "a", type: "inject", z: "t", g: "g", wires: [["j", "d"]] },
    { id: "j", type: "junction", z: "t", wires: [["out", "d"]] },
    { id: "old", type: "function", z: "t", wires: [["out"]] },
    { id: "d", type: "debug", z: "t", wires: [] },
    { id: "out", type: "mqtt out", z: "t", wires: [] },
];
const DIFF = {
    add: [{ id: "tag", type: "change", z: "t", wires: [["r"]] }, { id: "r", type: "function", z: "t", wires: [["out"]] }],
    change: [{ id: "j", wires: [["d", "tag"]] }, { id: "g", wires: [], props: { nodes: ["a", "tag"], style: null } },
        { id: "a", wires: [["j", "d"]], props: { name: "seven" } }],
    remove: ["old"],
};

test("history: the resolved flows keep the node order and each port's wire order as ACM wrote them", () => {
    const before = JSON.parse(JSON.stringify(BEFORE));
    const { config, touched } = H.applyDiff(before, DIFF);
    assert.deepEqual(config.map((n) => n.id), ["t", "g", "a", "j", "d", "out", "tag", "r"]);
    assert.deepEqual(config.find((n) => n.id === "j").wires, [["d", "tag"]]);  // not sorted, not appended
    assert.deepEqual(config.find((n) => n.id === "a"), { id: "a", type: "inject", z: "t", g: "g", name: "seven", wires: [["j", "d"]] });
    assert.deepEqual(config.find((n) => n.id === "g"), { id: "g", type: "group", z: "t", nodes: ["a", "tag"] });
    assert.deepEqual(touched, ["tag", "r", "j", "g", "a"]);
    assert.deepEqual(before, BEFORE, "the editor's node set is not modified");
    assert.throws(() => H.applyDiff(before, { change: [{ id: "gone", wires: [] }] }), /node gone is no longer in the flows/);
    assert.throws(() => H.applyDiff(before, { remove: ["gone"] }), /node gone/);
});

/** A stand-in for the parts of RED the swap uses; it records the calls in order. */
function fakeRED(config, flags) {
    const calls = [];
    let nodes = JSON.parse(JSON.stringify(config)).map((n) => Object.assign(n, flags[n.id] || {}));
    let dirty = false;
    const RED = {
        calls,
        nodes: {
            createCompleteNodeSet() { calls.push("createCompleteNodeSet"); return nodes.map(({ changed, moved, ...n }) => JSON.parse(JSON.stringify(n))); },
            node(id) { return nodes.find((n) => n.id === id) || null; },
            workspace(id) { return nodes.find((n) => n.id === id && n.type === "tab") || null; },
            subflow() { return null; },
            version(v) { if (v !== undefined) { calls.push(`version ${v}`); } return "rev-1"; },
            dirty(d) { if (d !== undefined) { dirty = d; calls.push(`dirty ${d}`); } return dirty; },
            clear() { calls.push("clear"); nodes = []; },
            import(list) {
                calls.push("import");
                nodes = JSON.parse(JSON.stringify(list));
                return { nodes: nodes.filter((n) => !["tab", "group", "junction"].includes(n.type)) };
            },
        },
        history: { push(ev) { calls.push("history.push"); RED.pushed.push(ev); } },
        pushed: [],
        view: { redraw() { calls.push("redraw"); } },
        workspaces: { active: () => "t", refresh() { calls.push("workspaces.refresh"); }, show(id) { calls.push(`show ${id}`); } },
        get current() { return nodes; },
    };
    return RED;
}

test("history: Apply pushes one 'replace' event that holds the complete flows from before", () => {
    const RED = fakeRED(BEFORE, { d: { changed: true }, out: { moved: true } });
    const event = H.applyResolution(RED, DIFF);
    assert.equal(RED.pushed.length, 1);
    assert.equal(RED.pushed[0], event);
    assert.equal(event.t, "replace");
    assert.equal(event.complete, true);
    assert.deepEqual(event.config, BEFORE);  // what Ctrl-Z imports: exactly the flows from before
    assert.equal(event.rev, "rev-1");
    assert.equal(event.dirty, false);
    assert.equal(event.changed.d, true);
    assert.equal(event.moved.out, true);
    // the workspace now holds the resolved flows, the new and changed nodes marked changed
    assert.deepEqual(RED.current.map((n) => n.id), ["t", "g", "a", "j", "d", "out", "tag", "r"]);
    const changed = RED.current.filter((n) => n.changed).map((n) => n.id).sort();
    assert.deepEqual(changed, ["a", "d", "r", "tag"]);  // j and g are a junction and a group: not in .nodes
    assert.ok(RED.current.find((n) => n.id === "out").moved);
    assert.deepEqual(RED.calls.slice(0, 4), ["createCompleteNodeSet", "clear", "import", "dirty false"]);
    assert.ok(RED.calls.indexOf("history.push") > RED.calls.indexOf("import"));
    assert.equal(RED.calls.filter((c) => c === "history.push").length, 1);
    assert.ok(RED.calls.includes("dirty true"));
    assert.ok(RED.calls.includes("show t"));
});

test("history: nothing to change pushes nothing; a stale answer changes nothing", () => {
    const RED = fakeRED(BEFORE, {});
    assert.equal(H.applyResolution(RED, { add: [], change: [], remove: [] }), null);
    assert.equal(H.applyResolution(RED, null), null);
    assert.deepEqual(RED.calls, []);
    assert.throws(() => H.applyResolution(RED, { change: [{ id: "gone", wires: [] }] }), /no longer in the flows/);
    assert.deepEqual(RED.calls, ["createCompleteNodeSet"]);  // nothing cleared, nothing pushed
    assert.deepEqual(RED.current.map((n) => n.id), BEFORE.map((n) => n.id));
});

test("history: the event's flows are not the objects handed to RED.nodes.import (it changes them)", () => {
    const RED = fakeRED(BEFORE, {});
    const realImport = RED.nodes.import;
    RED.nodes.import = (list) => { for (const n of list) { delete n.wires; n.z = "mangled"; } return realImport(list); };
    const event = H.applyResolution(RED, DIFF);
    assert.deepEqual(event.config, BEFORE);
});

test("history: an import that throws puts the flows from before back and pushes nothing", () => {
    const RED = fakeRED(BEFORE, {});
    const real = RED.nodes.import;
    let first = true;
    RED.nodes.import = (list) => {
        if (first) { first = false; throw new Error("unknown node type"); }
        return real(list);
    };
    assert.throws(() => H.applyResolution(RED, DIFF), /unknown node type/);
    assert.deepEqual(RED.current.map((n) => n.id), BEFORE.map((n) => n.id));
    assert.equal(RED.pushed.length, 0);
});
