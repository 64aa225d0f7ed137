"use strict";
// Behaviour common to every template: configuration handling and safety.
const test = require("node:test");
const assert = require("node:assert/strict");
const {createNode, cmd, templateSource} = require("./harness");

const STRATEGIES = {
    priority: {order: ["comfort"], ttl: null, default: null, release: "release"},
    lock: {hold: 1000, mode: "drop"},
    dwell: {min: 1000},
    merge: {op: "max", on: null, off: null},
    interlock: {guard: "mqtt:b/window", blocked_when: ["open"], mode: "block", override: null, restore: true},
};

for (const [strategy, options] of Object.entries(STRATEGIES)) {
    test(strategy + ": missing ACM_RESOLVER is a clear error and the message is dropped", async () => {
        const n = createNode(strategy, undefined);
        assert.equal(await n.input(cmd("comfort", "on")), null);
        assert.equal(n.out().length, 0);
        assert.equal(n.rec.errors.length, 1);
        assert.match(n.rec.errors[0], /ACM_RESOLVER is not set/);
        assert.equal(n.status(), "ACM_RESOLVER missing");
    });

    test(strategy + ": invalid JSON or wrong strategy is an error, message dropped", async () => {
        const bad = createNode(strategy, "{not json");
        assert.equal(await bad.input(cmd("comfort", "on")), null);
        assert.match(bad.rec.errors[0], /not valid JSON/);
        const other = strategy === "lock" ? "dwell" : "lock";
        const wrong = createNode(strategy, {strategy: other, label: "x", targets: 1, options: {}});
        assert.equal(await wrong.input(cmd("comfort", "on")), null);
        assert.match(wrong.rec.errors[0], new RegExp("strategy is not \"" + strategy + "\""));
    });

    test(strategy + ": config is parsed once and cached in node context", async () => {
        const n = createNode(strategy, {strategy, conflict: "ACM001-x", label: "heater", targets: 1, options});
        await n.input(cmd("comfort", 1));
        assert.equal(n.store.has("cfg"), true);
        assert.equal(JSON.parse(n.store.get("cfg")).label, "heater");
        assert.equal(n.rec.errors.length, 0);
    });

    test(strategy + ": template is data-driven (no eval, no Function, no require)", () => {
        const src = templateSource(strategy);
        assert.doesNotMatch(src, /\beval\s*\(|new\s+Function|\bFunction\s*\(|\brequire\s*\(|\bglobal\.|\bflow\./);
        assert.match(src, /JSON\.parse\(raw\)/);
        assert.match(src, /env\.get\("ACM_RESOLVER"\)/);
    });
}
