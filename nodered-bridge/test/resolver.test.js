"use strict";
// The native resolver node (acm-resolver.js) outside Node-RED: where it finds its
// templates, what it refuses, and what it says when it cannot run. What it decides is
// tested by every strategy test run with ACM_RESOLVER_NODE=native (tests/js/), and on
// a real Node-RED by tests/test_resolve_e2e.py.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const resolverNode = require("../acm-resolver.js");
const { copyData } = require("../pack-data.js");

const CHECKOUT = path.join(__dirname, "..", "..", "acm", "data");

function tempDir() {
    return fs.mkdtempSync(path.join(os.tmpdir(), "acm-resolver-test-"));
}

// A Node-RED stand-in that creates one acm-resolver node; returns what it reported.
function start(config, dirs) {
    let Resolver = null;
    let input = null;
    const closers = [];
    const seen = {errors: [], warnings: [], statuses: [], done: [], close: () => closers.forEach((f) => f())};
    const RED = {
        nodes: {
            createNode(node) {
                Object.assign(node, {
                    id: "r1", error: (e) => seen.errors.push(String(e)),
                    warn: (w) => seen.warnings.push(String(w)), log() {},
                    debug() {}, trace() {}, status: (s) => seen.statuses.push(s), send() {},
                    on(event, fn) { if (event === "input") input = fn; else closers.push(fn); },
                    context: () => ({get() {}, set() {}}),
                });
            },
            registerType(type, constructor) { Resolver = constructor; },
        },
        util: {getSetting: () => undefined, cloneMessage: (m) => structuredClone(m)},
    };
    resolverNode(RED, undefined, dirs);
    new Resolver({id: "r1", type: "acm-resolver", strategy: config.strategy, outputs: 1,
        template: config.template});
    input({payload: 1, _msgid: "m1"}, () => assert.fail("nothing is sent"), (err) => seen.done.push(err));
    return seen;
}

test("templates: read from the checkout's acm/data by default", () => {
    const found = resolverNode.findTemplates(resolverNode.DATA_DIRS);
    assert.equal(found.error, undefined);
    assert.deepEqual([...found.files.keys()].sort(),
        ["dwell", "interlock", "lock", "merge", "override", "priority"]);
    assert.ok(fs.existsSync(path.join(found.dir, "common.js")));
});

test("templates: a packed package's acm-data/ (pack-data.js) comes first", () => {
    const dir = tempDir();
    try {
        copyData(CHECKOUT, path.join(dir, "acm-data"));
        const found = resolverNode.findTemplates([path.join(dir, "acm-data"), CHECKOUT]);
        assert.equal(found.dir, path.join(dir, "acm-data", "resolvers"));
        const compile = resolverNode.compiler([path.join(dir, "acm-data")]);
        assert.equal(typeof compile("lock").run, "function");
        assert.match(compile("lock").digest, /^[0-9a-f]{16}$/);
        assert.equal(compile("lock"), compile("lock"), "compiled once per strategy");
    } finally {
        fs.rmSync(dir, {recursive: true, force: true});
    }
});

test("templates: none found is one line naming where it looked", () => {
    const compile = resolverNode.compiler(["/nowhere/acm-data"]);
    assert.throws(() => compile("lock"),
        {message: "ACM resolver: no resolver templates (looked for /nowhere/acm-data/strategies.json)"});
});

test("templates: a broken manifest is named", () => {
    const dir = tempDir();
    try {
        fs.writeFileSync(path.join(dir, "strategies.json"), "{not json");
        const found = resolverNode.findTemplates([dir]);
        assert.match(found.error, /strategies\.json is not a strategy manifest/);
    } finally {
        fs.rmSync(dir, {recursive: true, force: true});
    }
});

test("strategy: only a name the manifest lists picks a file", () => {
    const compile = resolverNode.compiler(resolverNode.DATA_DIRS);
    for (const name of ["../common", "common", "mqtt-source", "", "__proto__", 7, undefined]) {
        assert.throws(() => compile(name), /ACM resolver: unknown strategy .* \(known: priority, lock/);
    }
});

test("node: an unknown strategy shows a red status, reports once, fails each message", () => {
    const seen = start({strategy: "nonsense"}, resolverNode.DATA_DIRS);
    assert.equal(seen.errors.length, 1);
    assert.match(seen.errors[0], /unknown strategy "nonsense"/);
    assert.deepEqual(seen.statuses, [{fill: "red", shape: "ring", text: "no template"}]);
    assert.equal(seen.done.length, 1);
    assert.match(seen.done[0], /unknown strategy "nonsense"/);
});

test("node: without ACM_RESOLVER the message is dropped with the templates' own error", () => {
    const seen = start({strategy: "lock"}, resolverNode.DATA_DIRS);
    assert.equal(seen.done.length, 1);
    assert.equal(seen.done[0], undefined, "handled: done() without an error");
    assert.match(seen.errors.join("\n"), /ACM_RESOLVER is not set; message dropped/);
});

test("timers: a callback that throws is the node's error, and close clears what is pending", () => {
    const errors = [];
    const fired = [];
    const queue = new Map();
    let next = 0;
    const fake = {
        setTimeout: (fn) => { queue.set(++next, fn); return next; },
        clearTimeout: (id) => { queue.delete(id); },
    };
    const timers = resolverNode.nodeTimers({error: (e) => errors.push(e.message)}, fake);
    const bad = timers.setTimeout(() => { throw new Error("boom"); }, 10);
    timers.setTimeout(() => fired.push("kept"), 20);
    const gone = timers.setTimeout(() => fired.push("cleared"), 30);
    timers.clearTimeout(gone);
    assert.doesNotThrow(() => queue.get(bad)());
    assert.deepEqual(errors, ["boom"]);
    timers.setTimeout(() => fired.push("closed"), 40);
    timers.close();
    // the fake keeps the entry of the one that ran; close cleared the two still pending
    assert.deepEqual([...queue.keys()], [bad]);
    assert.deepEqual(fired, []);
});

test("node: a template other than the one acm wrote the node for is named, and runs", () => {
    const ours = resolverNode.compiler(resolverNode.DATA_DIRS)("lock").digest;
    assert.deepEqual(start({strategy: "lock", template: ours}, resolverNode.DATA_DIRS).warnings, []);
    const seen = start({strategy: "lock", template: "0123456789abcdef"}, resolverNode.DATA_DIRS);
    assert.equal(seen.warnings.length, 1);
    assert.match(seen.warnings[0], /lock template is not the one acm wrote this node for/);
    assert.match(seen.errors.join("\n"), /ACM_RESOLVER is not set/, "it still ran the message");
});

test("node: closing clears the status it showed, as a function node does", () => {
    const seen = start({strategy: "nonsense"}, resolverNode.DATA_DIRS);
    seen.close();
    assert.deepEqual(seen.statuses.at(-1), {});
    const shown = start({strategy: "lock"}, resolverNode.DATA_DIRS);  // the template's status
    assert.equal(shown.statuses.at(-1).text, "ACM_RESOLVER missing");
    shown.close();
    assert.deepEqual(shown.statuses.at(-1), {});
});

test("templates: the checkout's acm/data counts only beside an ACM checkout", () => {
    const dir = tempDir();
    try {
        const pkg = path.join(dir, "node_modules", "node-red-acm-bridge");
        fs.mkdirSync(pkg, {recursive: true});
        fs.mkdirSync(path.join(dir, "node_modules", "acm", "data"), {recursive: true});
        assert.deepEqual(resolverNode.dataDirs(pkg), [path.join(pkg, "acm-data")]);
        const bridge = path.join(__dirname, "..");
        assert.deepEqual(resolverNode.dataDirs(bridge),
            [path.join(bridge, "acm-data"), path.join(bridge, "..", "acm", "data")]);
    } finally {
        fs.rmSync(dir, {recursive: true, force: true});
    }
});
