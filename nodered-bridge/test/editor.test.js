"use strict";
// The editor's Resolve form, built from the strategy manifest: the script of
// acm-bridge.html is run as the editor runs it (a fake RED records the plugin it
// registers) and the form's model is checked against the manifest ACM ships.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const HTML = fs.readFileSync(path.join(__dirname, "..", "acm-bridge.html"), "utf8");
const MANIFEST_FILE = path.join(__dirname, "..", "..", "acm", "data", "strategies.json");

/** The plugin definition the editor script registers (it touches nothing else on load). */
function loadEditorPlugin() {
    const match = HTML.match(/<script type="text\/javascript">([\s\S]*?)<\/script>/);
    assert.ok(match, "acm-bridge.html has its editor script");
    const registered = {};
    const RED = { plugins: { registerPlugin(id, def) { registered[id] = def; } } };
    // in this realm, so that arrays it returns compare with ours
    const run = vm.runInThisContext("(function (RED, $) {" + match[1] + "\n})", { filename: "acm-bridge.html" });
    run(RED, () => { throw new Error("no DOM on load"); });
    return registered["acm-bridge-editor"];
}

const plugin = loadEditorPlugin();
const model = plugin.model;
// The shipped manifest, in the shape `acm strategies --format json` prints (a subset of the
// fields: the editor needs name, resolves, options and kinds). Tests that need the exact
// document of the CLI run it (test_policy.py, run.test.js with the real analyzer).
const FILE = JSON.parse(fs.readFileSync(MANIFEST_FILE, "utf8"));
const MANIFEST = {
    schema: FILE.schema,
    kinds: FILE.kinds,
    strategies: FILE.strategies.map((s) => Object.assign({}, s, {
        options: s.options.map((o) => Object.assign({ required: false, default: null }, o,
            o.type === "duration" ? { unit: "ms" } : {})),
    })),
};
const finding = (kind, severity) => ({ id: "X", kind, severity });

test("editor: the plugin registers its model beside onadd", () => {
    assert.equal(typeof plugin.onadd, "function");
    for (const fn of ["strategiesFor", "offersResolve", "suggestedStrategy", "optionFields", "readOptionValues"]) {
        assert.equal(typeof model[fn], "function", fn);
    }
});

test("editor: no strategy or option is written in the editor script", () => {
    assert.doesNotMatch(HTML, /STRATEGY_OPTIONS|\["priority", "lock"/);
    for (const s of MANIFEST.strategies) {
        for (const o of s.options) {
            assert.ok(!HTML.includes(`key: "${o.name}"`), `${s.name}.${o.name} hard-coded in acm-bridge.html`);
        }
    }
});

test("editor: every strategy and option of the manifest is in the form, with its type", () => {
    for (const s of MANIFEST.strategies) {
        const fields = model.optionFields(MANIFEST, s.name, {}, null);
        assert.deepEqual(fields.map((f) => f.key), s.options.map((o) => o.name), s.name);
        for (const [i, o] of s.options.entries()) {
            const f = fields[i];
            if (o.type === "word") assert.deepEqual([f.control, f.choices], ["select", o.words]);
            else if (o.type === "bool") assert.deepEqual([f.control, f.choices], ["select", ["true", "false"]]);
            else assert.equal(f.control, "text");
            assert.equal(f.list, o.type === "texts" || o.type === "applications");
        }
    }
    // the drift issue 12 found: lock's renew is offered, interlock's restore is a boolean
    const lock = model.optionFields(MANIFEST, "lock", {}, null);
    assert.deepEqual(lock.find((f) => f.key === "renew").choices, ["true", "false"]);
    const interlock = model.optionFields(MANIFEST, "interlock", {}, null);
    assert.equal(interlock.find((f) => f.key === "restore").blank, "(default: true)");
});

test("editor: only the strategies that resolve a finding's kind are offered", () => {
    const names = (kind) => model.strategiesFor(MANIFEST, kind).map((s) => s.name);
    assert.deepEqual(names("direct"), ["priority", "lock", "dwell", "merge"]);
    assert.deepEqual(names("override"), ["priority", "lock", "dwell", "merge", "override"]);
    assert.deepEqual(names("indirect"), ["interlock"]);
    assert.deepEqual(names("duplicate-id"), []);
});

test("editor: Resolve is offered for errors and warnings that can be resolved, and for a person's override", () => {
    assert.equal(model.offersResolve(MANIFEST, finding("direct", "error")), true);
    assert.equal(model.offersResolve(MANIFEST, finding("indirect", "warning")), true);
    assert.equal(model.offersResolve(MANIFEST, finding("override", "info")), true);
    assert.equal(model.offersResolve(MANIFEST, finding("direct", "info")), false);
    assert.equal(model.offersResolve(MANIFEST, finding("managed", "info")), false);
    assert.equal(model.offersResolve(MANIFEST, finding("duplicate-id", "warning")), false);
    // before the manifest has arrived: as before, errors and warnings only
    assert.equal(model.offersResolve(null, finding("direct", "error")), true);
    assert.equal(model.offersResolve(null, finding("override", "info")), false);
});

test("editor: the form starts with the plan's strategy, else the kind's default", () => {
    assert.equal(model.suggestedStrategy(MANIFEST, finding("override", "info"), null), "override");
    assert.equal(model.suggestedStrategy(MANIFEST, finding("direct", "error"), null), "dwell");
    assert.equal(model.suggestedStrategy(MANIFEST, finding("direct", "error"), { strategy: "priority" }), "priority");
    // a plan entry for a strategy that does not resolve the kind is not taken
    assert.equal(model.suggestedStrategy(MANIFEST, finding("direct", "error"), { strategy: "override" }), "dwell");
    assert.equal(model.suggestedStrategy(MANIFEST, finding("indirect", "error"), null), "interlock");
});

test("editor: a plan's options prefill the form as a person writes them", () => {
    const names = { t1: "Dashboard", t2: "Schedule" };
    const fields = model.optionFields(MANIFEST, "override",
        { hold: 5400000, release: "auto", resume: "none", manual: ["t1", "t2"], manual_found: ["t1"] },
        (id) => names[id] || id);
    const by = Object.fromEntries(fields.map((f) => [f.key, f]));
    assert.deepEqual(Object.keys(by), ["hold", "release", "resume", "manual"]);  // manual_found is ACM's
    assert.equal(by.hold.value, "90m");
    assert.equal(by.resume.value, "none");
    assert.equal(by.manual.value, "Dashboard,Schedule");
    assert.equal(by.hold.placeholder, "empty: 1h");  // the example is the default: said once
    assert.equal(by.manual.placeholder, "e.g. Dashboard; empty: none");
    const priority = model.optionFields(MANIFEST, "priority", {}, null);
    assert.equal(priority[0].placeholder, "e.g. Security, Lighting; required");
});

test("editor: what the form sends, by the option's type", () => {
    assert.deepEqual(model.readOptionValues(MANIFEST, "priority",
        { order: " Security , Lighting,", ttl: "15m", default: "", release: "  " }),
        { order: ["Security", "Lighting"], ttl: "15m" });
    assert.deepEqual(model.readOptionValues(MANIFEST, "interlock",
        { blocked_when: "open,cover.open_cover", mode: "override", override: "off", restore: "false" }),
        { blocked_when: ["open", "cover.open_cover"], mode: "override", override: "off", restore: "false" });
    // names the strategy does not declare are not sent
    assert.deepEqual(model.readOptionValues(MANIFEST, "dwell", { min: "30s", max: "1m" }), { min: "30s" });
});
