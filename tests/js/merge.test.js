"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const {createNode, cmd} = require("./harness");

function config(options, targets = 1) {
    return {strategy: "merge", conflict: "ACM004-test", label: "heater", targets,
        options: Object.assign({op: "max", on: null, off: null}, options)};
}
const payloads = (n) => n.out().map((o) => o[1]);

test("merge/max: over the latest command of each app, output on change", async () => {
    const n = createNode("merge", config({op: "max"}));
    await n.input(cmd("comfort", "21"));
    await n.input(cmd("eco", 18));
    await n.input(cmd("schedule", 19.5));
    assert.deepEqual(payloads(n), [21]);
    assert.equal(n.status(), "heater: max=21 (3 apps)");
    await n.input(cmd("comfort", 17));            // replaces comfort's 21
    assert.deepEqual(payloads(n), [21, 19.5]);
    const r = await n.input(cmd("eco", 23));
    assert.equal(r[0].payload, 23);
    assert.equal("acm" in r[0], false);
});

test("merge/min and mean; non-numbers are ignored", async () => {
    const min = createNode("merge", config({op: "min"}));
    await min.input(cmd("a", 20));
    await min.input(cmd("b", "off"));             // ignored
    await min.input(cmd("c", 16));
    assert.deepEqual(payloads(min), [20, 16]);
    assert.equal(min.status(), "heater: min=16 (3 apps)");
    const mean = createNode("merge", config({op: "mean"}));
    await mean.input(cmd("a", 20));
    await mean.input(cmd("b", 22));
    await mean.input(cmd("c", "n/a"));
    await mean.input(cmd("d", 24));
    assert.deepEqual(payloads(mean), [20, 21, 22]);
});

test("merge: nothing numeric yet means no output", async () => {
    const n = createNode("merge", config({op: "max"}));
    assert.equal(await n.input(cmd("a", "off")), null);
    assert.equal(n.status(), "heater: max of nothing (1 app)");
    assert.equal(n.out().length, 0);
});

test("merge/any and all with true/false output", async () => {
    const any = createNode("merge", config({op: "any"}));
    await any.input(cmd("a", "off"));
    await any.input(cmd("b", "ON"));
    await any.input(cmd("c", 1));
    await any.input(cmd("b", false));
    await any.input(cmd("c", 0));
    assert.deepEqual(payloads(any), [false, true, false]);
    const all = createNode("merge", config({op: "all"}));
    await all.input(cmd("a", true));
    await all.input(cmd("b", "open"));
    await all.input(cmd("c", "1"));
    await all.input(cmd("c", "closed"));
    assert.deepEqual(payloads(all), [true, false]);
    assert.equal(all.status(), "heater: all=false (3 apps)");
});

test("merge/any with on/off mapping", async () => {
    const n = createNode("merge", config({op: "any", on: "turn_on", off: "turn_off"}));
    await n.input(cmd("a", "true"));
    await n.input(cmd("b", "off"));
    await n.input(cmd("a", "no"));
    assert.deepEqual(payloads(n), ["turn_on", "turn_off"]);
    assert.equal(n.status(), "heater: any=turn_off (2 apps)");
});

test("merge: unknown op is a configuration error", async () => {
    const n = createNode("merge", config({op: "median"}));
    assert.equal(await n.input(cmd("a", 1)), null);
    assert.match(n.rec.errors[0], /median/);
});
