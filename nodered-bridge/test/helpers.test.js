"use strict";
// Unit tests of the pure helpers: node --test nodered-bridge/test/
const test = require("node:test");
const assert = require("node:assert/strict");
const { _internal } = require("../acm-bridge.js");
const os = require("node:os");
const path = require("node:path");
const { buildArgs, diffFlows, validateResolveBody, resolveSettings, BridgeError, DEFAULTS } = _internal;

function status400(fn) {
    assert.throws(fn, (err) => err instanceof BridgeError && err.status === 400 && typeof err.body.error === "string");
}

test("buildArgs: strategies", () => {
    assert.deepEqual(buildArgs("strategies", {}, { rules: ["a.acm"], policy: ["p"] }), ["strategies", "--format", "json"]);
});

test("buildArgs: analyze and plan", () => {
    assert.deepEqual(buildArgs("analyze", {}, {}), ["analyze", "-", "--format", "json", "--fail-on", "never"]);
    assert.deepEqual(buildArgs("analyze", {}, { rules: ["a.acm", "b.acm"], policy: ["p"] }),
        ["analyze", "-", "--format", "json", "--fail-on", "never", "--rules", "a.acm", "--rules", "b.acm"]);
    assert.deepEqual(buildArgs("plan", {}, { policy: ["site.policy"], rules: [] }),
        ["resolve", "-", "--plan", "--policy", "site.policy"]);
});

test("buildArgs: resolve turns options into --set, lists joined with ','", () => {
    const args = buildArgs("resolve", {
        conflict: "ACM001-825e35af009b", strategy: "priority",
        options: { ttl: "15m", order: ["Security", "Lighting"], default: "off", renew: false, min: 30 },
    }, { policy: ["site.policy"] });
    assert.deepEqual(args, [
        "resolve", "-", "--only", "ACM001-825e35af009b", "--policy", "site.policy",
        "--strategy", "priority",
        "--set", "ttl=15m", "--set", "order=Security,Lighting", "--set", "default=off",
        "--set", "renew=false", "--set", "min=30", "-o", "-",
    ]);
    // without a strategy the policies decide
    assert.deepEqual(buildArgs("resolve", { conflict: "ACM001-1" }, {}), ["resolve", "-", "--only", "ACM001-1", "-o", "-"]);
});

test("buildArgs: rejects bad option keys and values", () => {
    const base = { conflict: "ACM001-1", strategy: "dwell" };
    status400(() => buildArgs("resolve", { ...base, options: { "Min": "1m" } }, {}));
    status400(() => buildArgs("resolve", { ...base, options: { "min;rm": "1m" } }, {}));
    status400(() => buildArgs("resolve", { ...base, options: { "--policy": "x" } }, {}));
    status400(() => buildArgs("resolve", { ...base, options: { min: { a: 1 } } }, {}));
    status400(() => buildArgs("resolve", { ...base, options: { min: null } }, {}));
    status400(() => buildArgs("resolve", { ...base, options: { min: "1m\n--set x=1" } }, {}));
    status400(() => buildArgs("resolve", { ...base, options: { min: "" } }, {}));
    status400(() => buildArgs("resolve", { ...base, options: { min: Infinity } }, {}));
    status400(() => buildArgs("resolve", { ...base, options: { order: [] } }, {}));
    status400(() => buildArgs("resolve", { ...base, options: { order: ["a,b"] } }, {}));
    status400(() => buildArgs("resolve", { ...base, options: { order: [["a"]] } }, {}));
    status400(() => buildArgs("resolve", { ...base, options: ["min=1m"] }, {}));
    status400(() => buildArgs("resolve", { ...base, strategy: "rm -rf" }, {}));
    status400(() => buildArgs("resolve", { conflict: "--policy=/etc/passwd" }, {}));
    status400(() => buildArgs("resolve", { conflict: 12 }, {}));
    status400(() => buildArgs("resolve", { conflict: "ACM001-1", options: { min: "1m" } }, {}));
});

test("validateResolveBody", () => {
    const flows = [{ id: "a", type: "inject", wires: [["b"]] }, { id: "b", type: "mqtt out", wires: [] }];
    const ok = validateResolveBody({ flows, conflict: "ACM001-1", strategy: "lock", options: { hold: "10m", mode: "queue" } });
    assert.equal(ok.conflict, "ACM001-1");
    assert.equal(ok.strategy, "lock");
    assert.deepEqual(ok.flows, flows);
    assert.equal(validateResolveBody({ flows, conflict: "ACM001-1" }).strategy, null);
    status400(() => validateResolveBody(null));
    status400(() => validateResolveBody([]));
    status400(() => validateResolveBody("flows"));
    status400(() => validateResolveBody({ conflict: "ACM001-1" }));
    status400(() => validateResolveBody({ flows: "[]", conflict: "ACM001-1" }));
    status400(() => validateResolveBody({ flows: [1, 2], conflict: "ACM001-1" }));
    status400(() => validateResolveBody({ flows: [{ type: "x" }], conflict: "ACM001-1" }));
    status400(() => validateResolveBody({ flows }));
    // a name is checked for its shape here, against the manifest by the resolve operation
    assert.equal(validateResolveBody({ flows, conflict: "ACM001-1", strategy: "fifo" }).strategy, "fifo");
    status400(() => validateResolveBody({ flows, conflict: "ACM001-1", strategy: "Fifo" }));
    status400(() => validateResolveBody({ flows, conflict: "ACM001-1", strategy: "--policy=x" }));
    status400(() => validateResolveBody({ flows, conflict: "ACM001-1", strategy: ["dwell"] }));
    status400(() => validateResolveBody({ flows, conflict: "ACM001-1", strategy: "dwell", options: "min=1m" }));
    status400(() => validateResolveBody({ flows, conflict: "ACM001-1", strategy: "dwell", options: { "bad-key": 1 } }));
});

test("diffFlows: added nodes, rewired nodes, changed properties, removed nodes", () => {
    const before = [
        { id: "t", type: "tab", label: "T" },
        { id: "a", type: "inject", z: "t", wires: [["out"]] },
        { id: "b", type: "inject", z: "t", wires: [["out", "x"]] },
        { id: "f", type: "function", z: "t", func: "old", wires: [["out"]] },
        { id: "old", type: "change", z: "t", wires: [] },
        { id: "out", type: "mqtt out", z: "t", wires: [] },
        { id: "x", type: "debug", z: "t", wires: [] },
    ];
    const after = [
        { id: "t", type: "tab", label: "T" },
        { id: "a", type: "inject", z: "t", wires: [["tag-a"]] },
        { id: "b", type: "inject", z: "t", wires: [["tag-b", "x"]] },
        { id: "f", type: "function", z: "t", func: "new", wires: [["out"]] },
        { id: "out", type: "mqtt out", z: "t", wires: [] },
        { id: "x", type: "debug", z: "t", wires: [] },
        { id: "tag-a", type: "change", z: "t", wires: [["r"]] },
        { id: "tag-b", type: "change", z: "t", wires: [["r"]] },
        { id: "r", type: "function", z: "t", wires: [["out"]] },
    ];
    const d = diffFlows(before, after);
    assert.deepEqual(d.add.map((n) => n.id), ["tag-a", "tag-b", "r"]);
    assert.deepEqual(d.add[0], after[6]);
    assert.deepEqual(d.change, [
        { id: "a", wires: [["tag-a"]] },
        { id: "b", wires: [["tag-b", "x"]] },
        { id: "f", wires: [["out"]], props: { func: "new" } },
    ]);
    assert.deepEqual(d.remove, ["old"]);
    // identical flows: nothing to do
    assert.deepEqual(diffFlows(before, JSON.parse(JSON.stringify(before))), { add: [], change: [], remove: [] });
});

test("resolveSettings: settings.js over ACM_PYTHON over python3", () => {
    assert.equal(resolveSettings({}, {}).python, "python3");
    assert.deepEqual(resolveSettings({}, {}).args, ["-m", "acm"]);
    assert.equal(resolveSettings(undefined, {}).timeout, 20000);
    assert.equal(resolveSettings({}, { ACM_PYTHON: "/opt/acm/bin/python" }).python, "/opt/acm/bin/python");
    const s = resolveSettings({ python: "/venv/bin/python", args: ["-m", "acm.cli"], timeout: 5000, policy: "/etc/site.policy", rules: ["/etc/r.acm"], cwd: "/srv" },
        { ACM_PYTHON: "/opt/acm/bin/python" });
    assert.equal(s.python, "/venv/bin/python");
    assert.deepEqual(s.args, ["-m", "acm.cli"]);
    assert.equal(s.timeout, 5000);
    assert.deepEqual(s.policy, ["/etc/site.policy"]);
    assert.deepEqual(s.rules, ["/etc/r.acm"]);
    assert.equal(s.cwd, "/srv");
});

test("resolveSettings: relative paths are taken against the base folder (Node-RED's userDir)", () => {
    const base = path.join(os.tmpdir(), "user-dir");
    const s = resolveSettings({ python: "venv/bin/python", policy: ["site.policy", "/etc/b.policy"], rules: "rules/x.acm", cwd: "work" }, {}, base);
    assert.equal(s.python, path.join(base, "venv", "bin", "python"));
    assert.deepEqual(s.policy, [path.join(base, "site.policy"), "/etc/b.policy"]);
    assert.deepEqual(s.rules, [path.join(base, "rules", "x.acm")]);
    assert.equal(s.cwd, path.join(base, "work"));
    assert.equal(resolveSettings({}, { ACM_PYTHON: "./py" }, base).python, path.join(base, "py"));
    // a bare name stays a PATH lookup
    assert.equal(resolveSettings({ python: "python3.12" }, {}, base).python, "python3.12");
    // without a base: the process's working directory
    assert.deepEqual(resolveSettings({ policy: "p.policy" }, {}).policy, [path.join(process.cwd(), "p.policy")]);
});

test("resolveSettings: the analyzer's working directory is the plugin folder unless acm.cwd says otherwise", () => {
    const pluginDir = path.resolve(__dirname, "..");
    assert.equal(resolveSettings({}, {}).cwd, pluginDir);
    assert.equal(resolveSettings({ cwd: "" }, {}, "/somewhere").cwd, pluginDir);
    assert.equal(DEFAULTS.cwd, pluginDir);
});

test("resolveSettings: acm.maxRuns and acm.maxQueue", () => {
    assert.equal(resolveSettings({}, {}).maxRuns, 2);
    assert.equal(resolveSettings({}, {}).maxQueue, 8);
    const s = resolveSettings({ maxRuns: 4, maxQueue: 0 }, {});
    assert.equal(s.maxRuns, 4);
    assert.equal(s.maxQueue, 0);
    for (const bad of [0, -1, 1.5, "3", null, Infinity]) {
        assert.equal(resolveSettings({ maxRuns: bad }, {}).maxRuns, 2, `maxRuns ${bad}`);
    }
    for (const bad of [-1, 2.5, "8", Infinity]) {
        assert.equal(resolveSettings({ maxQueue: bad }, {}).maxQueue, 8, `maxQueue ${bad}`);
    }
});

test("nativeResolvers: resolve asks for acm-resolver nodes only when settings.js says so", () => {
    assert.equal(resolveSettings({}, {}).nativeResolvers, false);
    assert.equal(resolveSettings({ nativeResolvers: true }, {}).nativeResolvers, true);
    assert.equal(resolveSettings({ nativeResolvers: "yes" }, {}).nativeResolvers, false);
    const req = { conflict: "ACM001-1" };
    assert.deepEqual(buildArgs("resolve", req, resolveSettings({ nativeResolvers: true }, {})),
        ["resolve", "-", "--only", "ACM001-1", "--native", "-o", "-"]);
    assert.ok(!buildArgs("resolve", req, resolveSettings({}, {})).includes("--native"));
    assert.ok(!buildArgs("plan", {}, resolveSettings({ nativeResolvers: true }, {})).includes("--native"));
});
