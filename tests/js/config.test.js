"use strict";
// Behaviour common to every template: configuration handling and safety.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const {createNode, cmd, templateSource, defaultOptions, MANIFEST, RESOLVERS, STRATEGIES: NAMES} = require("./harness");

// Every strategy of the manifest, with its options completed as the policy checker does.
const STRATEGIES = Object.fromEntries(NAMES.map((name) => [name, defaultOptions(name,
    name === "interlock" ? {guard: "mqtt:b/window"} : {})]));

test("manifest: every strategy's template declares that strategy's name", () => {
    assert.ok(NAMES.length >= 6, NAMES.join(", "));
    for (const s of MANIFEST.strategies) {
        const src = fs.readFileSync(path.join(RESOLVERS, s.template), "utf8");
        assert.match(src, new RegExp("function strategyName\\(\\) \\{ return \"" + s.name + "\"; \\}"), s.template);
    }
});

test("manifest: every template in acm/data/resolvers is a strategy's, common.js or the standalone mqtt-source.js", () => {
    const declared = new Set(MANIFEST.strategies.map((s) => s.template));
    for (const file of fs.readdirSync(RESOLVERS)) {
        if (file === "common.js" || file === "mqtt-source.js") continue;
        assert.ok(declared.has(file), `${file} is in no manifest entry`);
    }
});

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
        assert.equal(n.store.get("cfg").label, "heater");
        assert.equal(n.rec.errors.length, 0);
    });

    test(strategy + ": config is read once per start of the node (a changed group env restarts it)", async () => {
        const first = {strategy, conflict: "ACM001-x", label: "heater", targets: 1, options};
        const n = createNode(strategy, first);
        await n.input(cmd("comfort", 1));
        n.reconfigure(Object.assign({}, first, {label: "boiler"}));  // no restart: not read
        n.advance(1000);
        await n.input(cmd("comfort", 2));
        assert.match(n.status(), /^heater: /);
        const m = n.restart(Object.assign({}, first, {label: "boiler"}));  // what a redeploy does
        await m.input(cmd("comfort", 3));
        assert.match(m.status(), /^boiler: /);
        assert.equal(m.store.get("cfg").label, "boiler");
    });

    test(strategy + ": template is data-driven (no eval, no Function, no require)", () => {
        const src = templateSource(strategy);
        assert.doesNotMatch(src, /\beval\s*\(|new\s+Function|\bFunction\s*\(|\brequire\s*\(|\bglobal\.|\bflow\./);
        assert.match(src, /JSON\.parse\(raw\)/);
        assert.match(src, /env\.get\("ACM_RESOLVER"\)/);
    });
}
