"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const {createNode, cmd} = require("./harness");

function config(options, targets = 1) {
    return {strategy: "dwell", conflict: "ACM003-test", label: "heater", targets,
        options: Object.assign({min: 30000}, options)};
}
const timeline = (n, t0) => n.rec.emitted.map((e) => [(e.t - t0) / 1000, e.msg.payload]);

test("dwell: first command passes, equal commands are dropped", async () => {
    const n = createNode("dwell", config({}));
    const r = await n.input(cmd("comfort", "on"));
    assert.equal(r[0].payload, "on");
    assert.equal("acm" in r[0], false);
    assert.equal(n.status(), "heater: on");
    assert.equal(await n.input(cmd("safety", "on")), null);
    assert.equal(n.out().length, 1);
});

test("dwell: an early change is held and the latest held value released at the dwell end", async () => {
    const n = createNode("dwell", config({}));
    const t0 = n.clock.now;
    await n.input(cmd("comfort", "on"));          // t=0 passes
    n.advance(10000);
    await n.input(cmd("safety", "off"));          // t=10s held
    assert.equal(n.status(), "heater: on (held off for 20s)");
    n.advance(8000);
    await n.input(cmd("schedule", "eco"));        // t=18s replaces the held value
    assert.equal(n.status(), "heater: on (held eco for 12s)");
    n.advance(12000);                             // t=30s released
    assert.deepEqual(timeline(n, t0), [[0, "on"], [30, "eco"]]);
    assert.equal(n.status(), "heater: eco");
    n.advance(5000);
    await n.input(cmd("comfort", "on"));          // t=35s: held until t=60s
    n.advance(25000);
    assert.deepEqual(timeline(n, t0), [[0, "on"], [30, "eco"], [60, "on"]]);
});

test("dwell: a change after the dwell time passes at once", async () => {
    const n = createNode("dwell", config({}));
    const t0 = n.clock.now;
    await n.input(cmd("comfort", "on"));
    n.advance(30000);
    await n.input(cmd("safety", "off"));
    assert.deepEqual(timeline(n, t0), [[0, "on"], [30, "off"]]);
});

test("dwell: returning to the current value cancels the held change", async () => {
    const n = createNode("dwell", config({}));
    await n.input(cmd("comfort", "on"));
    n.advance(5000);
    await n.input(cmd("safety", "off"));          // held
    await n.input(cmd("comfort", "on"));          // back to "on": nothing to change
    assert.equal(n.status(), "heater: on");
    n.advance(60000);
    assert.deepEqual(n.out().map((o) => o[1]), ["on"]);
});

test("dwell: values are JSON-compared; the released message goes to its own target", async () => {
    const n = createNode("dwell", config({min: 1000}, 2));
    await n.input(cmd("a", {sp: 21}, {target: 1}));
    await n.input(cmd("b", {sp: 21}, {target: 1}));
    await n.input(cmd("b", {sp: 19}, {target: 1}));
    n.advance(1000);
    assert.deepEqual(n.out(), [[1, {sp: 21}], [1, {sp: 19}]]);
});

test("dwell: a held change whose timer was lost is released on the next message", async () => {
    const n = createNode("dwell", config({}));
    await n.input(cmd("comfort", "on"));
    await n.input(cmd("safety", "off"));
    n.clock.timers = [];
    n.advance(40000);
    await n.input(cmd("safety", "off"));
    assert.deepEqual(n.out().map((o) => o[1]), ["on", "off"]);
});
