"use strict";
// runAcm against fake "python" executables, the HTTP handlers with a fake RED,
// and one run of the real analyzer when the project's .venv exists.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const plugin = require("../acm-bridge.js");
const { runAcm, resolveSettings, BridgeError, HINT } = plugin._internal;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "acm-bridge-test-"));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fake python: an executable script (any arguments) with the given body. */
function fake(name, body) {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`);
    fs.chmodSync(file, 0o755);
    return file;
}

const FINDINGS = { schema: "acm.findings/1", conflicts: [], actuators: [], stats: {} };
const echoJson = fake("echo-json", `cat > /dev/null; echo '${JSON.stringify(FINDINGS)}'`);
const echoArgs = fake("echo-args", `cat > /dev/null; printf '{"schema":"acm.findings/1","args":"%s"}' "$*"`);
const echoStdin = fake("echo-stdin", "cat");
const exit2 = fake("exit2", "cat > /dev/null; echo 'acm: error: <stdin>: malformed JSON: Expecting value' >&2; exit 2");
const sleeper = fake("sleeper", "sleep 5");
const garbage = fake("garbage", "cat > /dev/null; echo 'this is not json'");
const bigOut = fake("big", "cat > /dev/null; head -c 3000000 /dev/zero");
const missing = path.join(tmp, "no-such-python");

function settingsFor(python, extra) {
    return Object.assign(resolveSettings({ python, args: [], timeout: 3000 }, {}), extra || {});
}

async function rejects502(promise, python, pattern) {
    await assert.rejects(promise, (err) => {
        assert.ok(err instanceof BridgeError, "a BridgeError");
        assert.equal(err.status, 502);
        assert.equal(err.body.python, python);
        assert.equal(err.body.hint, HINT);
        assert.match(err.body.hint, /acm\.python/);
        assert.match(err.body.hint, /ACM_PYTHON/);
        assert.ok(err.body.error.includes(python), `error names the executable: ${err.body.error}`);
        if (pattern) assert.match(err.body.error, pattern);
        assert.ok(!/\n\s+at /.test(err.body.error), "no stack trace");
        return true;
    });
}

test("runAcm: collects stdout, passes stdin and arguments without a shell", async () => {
    const s = settingsFor(echoJson);
    const r = await runAcm(["analyze", "-"], "[]", s);
    assert.deepEqual(JSON.parse(r.stdout), FINDINGS);
    const r2 = await runAcm([], JSON.stringify([{ id: "a", type: "x" }]), settingsFor(echoStdin));
    assert.deepEqual(JSON.parse(r2.stdout), [{ id: "a", type: "x" }]);
    // shell metacharacters arrive as plain text
    const r3 = await runAcm(["--set", "x=$(touch pwned);`id`"], "[]", settingsFor(echoArgs, { args: ["-m", "acm"] }));
    assert.equal(JSON.parse(r3.stdout).args, "-m acm --set x=$(touch pwned);`id`");
    assert.ok(!fs.existsSync("pwned"));
});

test("runAcm: missing executable (ENOENT) -> 502 naming it and the hint", async () => {
    await rejects502(runAcm(["analyze"], "[]", settingsFor(missing)), missing, /not found/);
});

test("runAcm: exit 2 -> 502 with its one stderr line", async () => {
    await rejects502(runAcm(["analyze"], "[]", settingsFor(exit2)), exit2, /malformed JSON: Expecting value/);
});

test("runAcm: timeout -> 502, child killed", async () => {
    const started = Date.now();
    await rejects502(runAcm([], "[]", settingsFor(sleeper, { timeout: 300 })), sleeper, /timed out after 300 ms/);
    assert.ok(Date.now() - started < 3000);
});

test("runAcm: output cap -> 502", async () => {
    await rejects502(runAcm([], "[]", settingsFor(bigOut, { maxOutput: 1000000 })), bigOut, /more than 1000000 bytes/);
});

// ------------------------------------------------------------------ handlers with a fake RED

function fakeRED(acm) {
    const routes = {};
    const registered = {};
    return {
        routes, registered,
        settings: { acm },
        log: { info() {}, warn() {}, error() {} },
        auth: { needsPermission: (perm) => ({ marker: "needsPermission", perm }) },
        httpAdmin: {
            post(url, ...handlers) { routes[url] = handlers; },
            get(url) { throw new Error(`unexpected GET ${url}`); },
        },
        plugins: { registerPlugin(id, def) { registered[id] = def; } },
    };
}

function call(handler, body) {
    return new Promise((resolve) => {
        const res = {
            statusCode: 200,
            status(code) { this.statusCode = code; return this; },
            json(doc) { resolve({ status: this.statusCode, body: doc }); },
        };
        handler({ body }, res);
    });
}

test("routes: permissions per endpoint and plugin registration", () => {
    const RED = fakeRED({ python: echoJson, args: [] });
    plugin(RED);
    assert.deepEqual(Object.keys(RED.routes).sort(), ["/acm/analyze", "/acm/plan", "/acm/resolve"]);
    assert.deepEqual(RED.routes["/acm/analyze"][0], { marker: "needsPermission", perm: "flows.read" });
    assert.deepEqual(RED.routes["/acm/plan"][0], { marker: "needsPermission", perm: "flows.read" });
    assert.deepEqual(RED.routes["/acm/resolve"][0], { marker: "needsPermission", perm: "flows.write" });
    for (const handlers of Object.values(RED.routes)) {
        assert.equal(handlers.length, 2);
        assert.equal(typeof handlers[1], "function");
    }
    assert.equal(RED.registered["acm-bridge"].type, "acm-bridge");
    assert.equal(typeof RED.registered["acm-bridge"].onadd, "function");
    RED.registered["acm-bridge"].onadd();
});

test("POST /acm/analyze: 200 findings, 400 bad body, 502 missing python", async () => {
    let RED = fakeRED({ python: echoJson, args: [] });
    plugin(RED);
    const analyze = RED.routes["/acm/analyze"][1];
    assert.deepEqual(await call(analyze, { flows: [] }), { status: 200, body: FINDINGS });
    const bad = await call(analyze, { flows: "nope" });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /flows/);
    assert.equal((await call(analyze, undefined)).status, 400);

    RED = fakeRED({ python: missing });
    plugin(RED);
    const r = await call(RED.routes["/acm/analyze"][1], { flows: [] });
    assert.equal(r.status, 502);
    assert.equal(r.body.python, missing);
    assert.equal(r.body.hint, HINT);

    RED = fakeRED({ python: garbage, args: [] });
    plugin(RED);
    const g = await call(RED.routes["/acm/analyze"][1], { flows: [] });
    assert.equal(g.status, 502);
    assert.match(g.body.error, /invalid JSON/);
    assert.equal(g.body.python, garbage);
});

test("POST /acm/plan: checks the schema", async () => {
    const RED = fakeRED({ python: echoJson, args: [] });
    plugin(RED);
    const r = await call(RED.routes["/acm/plan"][1], { flows: [] });
    assert.equal(r.status, 502);
    assert.match(r.body.error, /schema acm\.findings\/1, expected acm\.plan\/1/);
});

test("POST /acm/resolve: diff of the flows, plan lines from stderr", async () => {
    const flows = [
        { id: "a", type: "inject", z: "t", wires: [["out"]] },
        { id: "out", type: "mqtt out", z: "t", wires: [] },
    ];
    const resolved = [
        { id: "a", type: "inject", z: "t", wires: [["tag"]] },
        { id: "out", type: "mqtt out", z: "t", wires: [] },
        { id: "tag", type: "change", z: "t", wires: [["out"]] },
    ];
    const py = fake("resolver", `cat > /dev/null; echo 'acm: ACM001-1 (direct) on x: priority (policy cli)' >&2; echo '${JSON.stringify(resolved)}'`);
    const RED = fakeRED({ python: py, args: [] });
    plugin(RED);
    const resolve = RED.routes["/acm/resolve"][1];
    const r = await call(resolve, { flows, conflict: "ACM001-1", strategy: "priority", options: { order: ["A", "B"], ttl: "15m" } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
        add: [resolved[2]],
        change: [{ id: "a", wires: [["tag"]] }],
        remove: [],
        plan: ["acm: ACM001-1 (direct) on x: priority (policy cli)"],
    });
    const bad = await call(resolve, { flows, conflict: "ACM001-1", strategy: "priority", options: { "Bad Key": 1 } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /not allowed/);
    assert.equal((await call(resolve, { flows })).status, 400);
});

// ------------------------------------------------------------------ the real analyzer

const REPO = path.resolve(__dirname, "..", "..");
const VENV_PYTHON = path.join(__dirname, "..", "..", ".venv", "bin", "python");
const BUILDING = path.join(REPO, "flows", "building", "flows.json");

test("real analyzer on flows/building/flows.json", { skip: !fs.existsSync(VENV_PYTHON) || !fs.existsSync(BUILDING) }, async () => {
    const RED = fakeRED({ python: VENV_PYTHON, cwd: REPO, timeout: 60000 });
    plugin(RED);
    const flows = JSON.parse(fs.readFileSync(BUILDING, "utf8"));
    const r = await call(RED.routes["/acm/analyze"][1], { flows });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.schema, "acm.findings/1");
    assert.ok(r.body.conflicts.length > 0);
    assert.ok(r.body.conflicts.every((c) => typeof c.id === "string" && typeof c.message === "string"));

    const plan = await call(RED.routes["/acm/plan"][1], { flows });
    assert.equal(plan.status, 200, JSON.stringify(plan.body));
    assert.equal(plan.body.schema, "acm.plan/1");

    const errorConflict = r.body.conflicts.find((c) => c.severity === "error" && plan.body.planned.some((p) => p.conflict === c.id));
    const res = await call(RED.routes["/acm/resolve"][1], {
        flows, conflict: errorConflict.id, strategy: "dwell", options: { min: "30s" },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(res.body.add.length > 0);
    assert.ok(res.body.change.length > 0);
    assert.deepEqual(res.body.remove, []);
    const ids = new Set(flows.map((n) => n.id));
    assert.ok(res.body.add.every((n) => !ids.has(n.id)));
    assert.ok(res.body.plan.some((l) => l.includes(errorConflict.id)));

    const bad = await call(RED.routes["/acm/resolve"][1], { flows, conflict: errorConflict.id, strategy: "dwell", options: { min: "soon" } });
    assert.equal(bad.status, 502);
    assert.match(bad.body.error, /duration/);
});
