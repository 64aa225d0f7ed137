"use strict";
// runAcm against fake "python" executables (a process per request, acm.worker: false;
// the worker has its own tests in worker.test.js), the HTTP handlers with a fake RED,
// the run limiter, and runs of the real analyzer when the project's .venv exists.
const test = require("node:test");
const assert = require("node:assert/strict");
const childProcess = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const plugin = require("../acm-bridge.js");
const { runAcm, resolveSettings, BridgeError, RunLimiter, HINT } = plugin._internal;
const PLUGIN_DIR = path.resolve(__dirname, "..");

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
    return Object.assign(resolveSettings({ python, args: [], timeout: 3000, worker: false }, {}), extra || {});
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
    assert.equal(JSON.parse(r3.stdout).args, "-I -m acm --set x=$(touch pwned);`id`");
    assert.ok(!fs.existsSync("pwned"));
    assert.ok(!fs.existsSync(path.join(PLUGIN_DIR, "pwned")));
});

test("runAcm: python runs isolated (-I first), in the plugin folder unless acm.cwd is set", async () => {
    const where = fake("where", `cat > /dev/null; printf '{"cwd":"%s","args":"%s"}' "$(pwd -P)" "$*"`);
    const r = await runAcm(["analyze", "-"], "[]", resolveSettings({ python: where, worker: false }, {}));
    assert.deepEqual(JSON.parse(r.stdout), { cwd: fs.realpathSync(PLUGIN_DIR), args: "-I -m acm analyze -" });
    const r2 = await runAcm([], "[]", resolveSettings({ python: where, cwd: tmp, worker: false }, {}));
    assert.equal(JSON.parse(r2.stdout).cwd, fs.realpathSync(tmp));
});

test("runAcm: an acm.cwd that is not a folder -> 502 saying so, not 'python not found'", async () => {
    const nowhere = path.join(tmp, "no-such-folder");
    await rejects502(runAcm([], "[]", settingsFor(echoJson, { cwd: nowhere })), echoJson, /working directory '.*no-such-folder' \(acm\.cwd\) is not a folder/);
});

test("runAcm: ACM_* environment variables reach the analyzer", async () => {
    const probe = fake("env-probe", `cat > /dev/null; printf '{"debug":"%s"}' "$ACM_DEBUG"`);
    process.env.ACM_DEBUG = "1";
    try {
        const r = await runAcm([], "[]", settingsFor(probe));
        assert.deepEqual(JSON.parse(r.stdout), { debug: "1" });
    } finally {
        delete process.env.ACM_DEBUG;
    }
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
    const gets = {};
    const registered = {};
    return {
        routes, gets, registered,
        settings: { acm },
        log: { info() {}, warn() {}, error() {} },
        auth: { needsPermission: (perm) => ({ marker: "needsPermission", perm }) },
        httpAdmin: {
            post(url, ...handlers) { routes[url] = handlers; },
            get(url, ...handlers) { gets[url] = handlers; },
        },
        plugins: { registerPlugin(id, def) { registered[id] = def; } },
    };
}

const { EventEmitter } = require("node:events");

/** One request to a route handler: {answer: Promise<{status, body, headers, ms}>, res}. */
function request(handler, body) {
    const started = Date.now();
    const res = new EventEmitter();
    res.statusCode = 200;
    res.headers = {};
    res.writableEnded = false;
    res.answered = false;
    res.status = function (code) { this.statusCode = code; return this; };
    res.setHeader = function (name, value) { this.headers[name.toLowerCase()] = value; };
    const answer = new Promise((resolve) => {
        res.json = function (doc) {
            this.writableEnded = true;
            this.answered = true;
            resolve({ status: this.statusCode, body: doc, headers: this.headers, ms: Date.now() - started });
            this.emit("close");
        };
    });
    handler({ body }, res);
    return { answer, res };
}

/** What the client sees when it goes away before the answer: the response closes unanswered. */
function disconnect(res) {
    res.emit("close");
}

async function call(handler, body) {
    const { status, body: doc } = await request(handler, body).answer;
    return { status, body: doc };
}

test("routes: permissions per endpoint and plugin registration", () => {
    const RED = fakeRED({ python: echoJson, args: [], worker: false });
    plugin(RED);
    assert.deepEqual(Object.keys(RED.routes).sort(), ["/acm/analyze", "/acm/plan", "/acm/resolve"]);
    assert.deepEqual(Object.keys(RED.gets), ["/acm/strategies"]);
    assert.deepEqual(RED.routes["/acm/analyze"][0], { marker: "needsPermission", perm: "flows.read" });
    assert.deepEqual(RED.routes["/acm/plan"][0], { marker: "needsPermission", perm: "flows.read" });
    assert.deepEqual(RED.routes["/acm/resolve"][0], { marker: "needsPermission", perm: "flows.write" });
    assert.deepEqual(RED.gets["/acm/strategies"][0], { marker: "needsPermission", perm: "flows.read" });
    for (const handlers of [...Object.values(RED.routes), ...Object.values(RED.gets)]) {
        assert.equal(handlers.length, 2);
        assert.equal(typeof handlers[1], "function");
    }
    assert.equal(RED.registered["acm-bridge"].type, "acm-bridge");
    assert.equal(typeof RED.registered["acm-bridge"].onadd, "function");
    RED.registered["acm-bridge"].onadd();
});

test("POST /acm/analyze: 200 findings, 400 bad body, 502 missing python", async () => {
    let RED = fakeRED({ python: echoJson, args: [], worker: false });
    plugin(RED);
    const analyze = RED.routes["/acm/analyze"][1];
    assert.deepEqual(await call(analyze, { flows: [] }), { status: 200, body: FINDINGS });
    const bad = await call(analyze, { flows: "nope" });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /flows/);
    assert.equal((await call(analyze, undefined)).status, 400);

    RED = fakeRED({ python: missing, worker: false });
    plugin(RED);
    const r = await call(RED.routes["/acm/analyze"][1], { flows: [] });
    assert.equal(r.status, 502);
    assert.equal(r.body.python, missing);
    assert.equal(r.body.hint, HINT);

    RED = fakeRED({ python: garbage, args: [], worker: false });
    plugin(RED);
    const g = await call(RED.routes["/acm/analyze"][1], { flows: [] });
    assert.equal(g.status, 502);
    assert.match(g.body.error, /invalid JSON/);
    assert.equal(g.body.python, garbage);
});

test("POST /acm/plan: checks the schema", async () => {
    const RED = fakeRED({ python: echoJson, args: [], worker: false });
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
    const py = fake("resolver", [
        "cat > /dev/null",
        `case "$*" in *strategies*) echo '${JSON.stringify(MANIFEST)}'; exit 0 ;; esac`,
        "echo 'acm: ACM001-1 (direct) on x: priority (policy cli)' >&2",
        `echo '${JSON.stringify(resolved)}'`,
    ].join("\n"));
    const RED = fakeRED({ python: py, args: [], worker: false });
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
    // strategy and option names are checked against the manifest: 400, not a failed run
    const unknown = await call(resolve, { flows, conflict: "ACM001-1", strategy: "fifo" });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error, "unknown strategy 'fifo'; known: priority, dwell");
    const option = await call(resolve, { flows, conflict: "ACM001-1", strategy: "dwell", options: { max: "1m" } });
    assert.equal(option.status, 400);
    assert.equal(option.body.error, "strategy dwell has no option 'max'; known: min");
});

// A manifest as `acm strategies --format json` prints it (shortened).
const MANIFEST = {
    schema: "acm.strategies/1",
    strategies: [
        { name: "priority", resolves: ["direct"], options: [{ name: "order", type: "applications" }, { name: "ttl", type: "duration" }] },
        { name: "dwell", resolves: ["direct"], options: [{ name: "min", type: "duration" }] },
    ],
    kinds: { direct: { default: { strategy: "dwell", options: { min: 60000 } } } },
};

test("GET /acm/strategies: the manifest, asked once per bridge process; failures are not kept", async () => {
    const dir = path.join(tmp, "strategies-count");
    fs.mkdirSync(dir);
    const py = fake("strategies", [
        "cat > /dev/null",
        `echo run >> '${dir}/runs'`,
        `if [ -e '${dir}/broken' ]; then echo 'acm: no such command' >&2; exit 2; fi`,
        `echo '${JSON.stringify(MANIFEST)}'`,
    ].join("\n"));
    const runs = () => fs.readFileSync(path.join(dir, "runs"), "utf8").trim().split("\n").length;

    fs.writeFileSync(path.join(dir, "broken"), "");
    const RED = fakeRED({ python: py, args: [], worker: false });
    plugin(RED);
    const get = RED.gets["/acm/strategies"][1];
    const failed = await call(get, undefined);
    assert.equal(failed.status, 502);
    assert.match(failed.body.error, /no such command/);
    fs.rmSync(path.join(dir, "broken"));
    const [a, b] = await Promise.all([call(get, undefined), call(get, undefined)]);
    assert.deepEqual([a.status, a.body], [200, MANIFEST]);
    assert.deepEqual([b.status, b.body], [200, MANIFEST]);
    assert.deepEqual((await call(get, {})).body, MANIFEST);
    assert.equal(runs(), 2, "one failed run, then one run for three requests");
    // the manifest a resolve checks against is the same cached one
    await call(RED.routes["/acm/resolve"][1], { flows: [], conflict: "ACM001-1", strategy: "fifo" });
    assert.equal(runs(), 2);
});

test("GET /acm/strategies: an answer that is not a manifest -> 502", async () => {
    const RED = fakeRED({ python: echoJson, args: [], worker: false });
    plugin(RED);
    const r = await call(RED.gets["/acm/strategies"][1], undefined);
    assert.equal(r.status, 502);
    assert.match(r.body.error, /schema acm\.findings\/1, expected acm\.strategies\/1/);
});

// ------------------------------------------------------------------ the run limiter

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A fake analyzer that records in `dir/log` when each run starts (with the number of
 * runs alive at that moment, counted from `alive.PID` files) and ends, and sleeps
 * `seconds` in between; a run whose flows mention "slow" sleeps 30 s instead.
 * Answers an empty findings document.
 */
function counter(name, seconds) {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    const python = fake(`${name}.sh`, [
        `dir='${dir}'`,
        "input=$(cat)",
        "id=$(printf '%s' \"$input\" | sed 's/.*\"id\":\"\\([^\"]*\\)\".*/\\1/')",
        "touch \"$dir/alive.$$\"",
        "n=$(ls \"$dir\" | grep -c '^alive\\.')",
        "echo \"start $id $n\" >> \"$dir/log\"",
        `case "$input" in *slow*) sleep 30 ;; *) sleep ${seconds} ;; esac`,
        "echo \"end $id\" >> \"$dir/log\"",
        "rm -f \"$dir/alive.$$\"",
        `echo '${JSON.stringify(FINDINGS)}'`,
    ].join("\n"));
    const log = () => {
        const file = path.join(dir, "log");
        if (!fs.existsSync(file)) return [];
        return fs.readFileSync(file, "utf8").trim().split("\n").map((line) => {
            const [event, id, alive] = line.split(" ");
            return { event, id, alive: alive === undefined ? undefined : Number(alive) };
        });
    };
    return { python, log };
}

const flowsNamed = (id) => ({ flows: [{ id, type: "inject" }] });

test("limiter: maxRuns 2, maxQueue 1 -> 4 requests: 2 run, 1 waits then runs, 1 gets 503", async () => {
    const { python, log } = counter("limit-2-1", 0.5);
    const RED = fakeRED({ python, args: [], maxRuns: 2, maxQueue: 1, timeout: 10000, worker: false });
    plugin(RED);
    const analyze = RED.routes["/acm/analyze"][1];
    const answers = ["r1", "r2", "r3", "r4"].map((id) => request(analyze, flowsNamed(id)).answer);
    const [a1, a2, a3, a4] = await Promise.all(answers);

    assert.equal(a4.status, 503);
    assert.equal(a4.body.error, "the ACM analyzer is busy: 2 runs and 1 waiting; try again shortly");
    assert.equal(a4.body.running, 2);
    assert.equal(a4.body.waiting, 1);
    assert.match(a4.body.hint, /acm\.maxRuns/);
    assert.match(a4.headers["retry-after"], /^[1-9][0-9]*$/);
    assert.ok(a4.ms < 400, `the 503 is immediate, not after a run (${a4.ms} ms)`);
    for (const a of [a1, a2, a3]) assert.deepEqual([a.status, a.body], [200, FINDINGS]);

    const events = log();
    const starts = events.filter((e) => e.event === "start");
    assert.deepEqual(starts.map((e) => e.id).sort(), ["r1", "r2", "r3"], JSON.stringify(events));
    assert.ok(starts.every((e) => e.alive <= 2), `never more than 2 analyzers alive: ${JSON.stringify(events)}`);
    const firstEnd = events.findIndex((e) => e.event === "end");
    const r3Start = events.findIndex((e) => e.event === "start" && e.id === "r3");
    assert.ok(r3Start > firstEnd, `r3 waits for a run to end: ${JSON.stringify(events)}`);
    assert.ok(a3.ms >= 900, `r3 answered after two runs of 0.5 s (${a3.ms} ms)`);
});

test("limiter: the alive count of the fake analyzer does see parallel runs (control for the test above)", async () => {
    const { python, log } = counter("limit-4-0", 0.5);
    const RED = fakeRED({ python, args: [], maxRuns: 4, maxQueue: 0, timeout: 10000, worker: false });
    plugin(RED);
    const analyze = RED.routes["/acm/analyze"][1];
    const answers = await Promise.all(["r1", "r2", "r3", "r4"].map((id) => request(analyze, flowsNamed(id)).answer));
    assert.ok(answers.every((a) => a.status === 200));
    const most = Math.max(...log().filter((e) => e.event === "start").map((e) => e.alive));
    assert.ok(most >= 3, `4 parallel runs seen as ${most}`);
    // maxQueue 0: a fifth while four run is refused at once
    const RED2 = fakeRED({ python, args: [], maxRuns: 1, maxQueue: 0, timeout: 10000, worker: false });
    plugin(RED2);
    const [first, second] = await Promise.all(["r5", "r6"].map((id) => request(RED2.routes["/acm/analyze"][1], flowsNamed(id)).answer));
    assert.equal(first.status, 200);
    assert.equal(second.status, 503);
    assert.equal(second.body.error, "the ACM analyzer is busy: 1 run and 0 waiting; try again shortly");
});

test("limiter: one limit for all the endpoints", async () => {
    const { python } = counter("limit-shared", 0.4);
    const RED = fakeRED({ python, args: [], maxRuns: 1, maxQueue: 0, timeout: 10000, worker: false });
    plugin(RED);
    const first = request(RED.routes["/acm/analyze"][1], flowsNamed("a")).answer;
    const plan = await request(RED.routes["/acm/plan"][1], flowsNamed("b")).answer;
    const resolve = await request(RED.routes["/acm/resolve"][1], { ...flowsNamed("c"), conflict: "ACM001-1" }).answer;
    assert.equal(plan.status, 503);
    assert.equal(resolve.status, 503);
    assert.equal((await first).status, 200);
    // a bad request is answered 400 at once, without taking a place in the queue
    const bad = await request(RED.routes["/acm/analyze"][1], { flows: "nope" }).answer;
    assert.equal(bad.status, 400);
});

test("limiter: the time limit counts from the start of each run, not from the queue", async () => {
    const { python } = counter("limit-timeout", 0.5);
    const RED = fakeRED({ python, args: [], maxRuns: 1, maxQueue: 3, timeout: 1500, worker: false });
    plugin(RED);
    const analyze = RED.routes["/acm/analyze"][1];
    const answers = await Promise.all(["r1", "r2", "r3", "r4"].map((id) => request(analyze, flowsNamed(id)).answer));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200], JSON.stringify(answers.map((a) => a.body)));
    assert.ok(answers[3].ms > 1500, `the last one waited past acm.timeout (${answers[3].ms} ms) and still ran`);
});

test("limiter: a request whose client went away leaves the queue and never runs", async () => {
    const { python, log } = counter("limit-gone-queued", 0.5);
    const RED = fakeRED({ python, args: [], maxRuns: 1, maxQueue: 1, timeout: 10000, worker: false });
    plugin(RED);
    const analyze = RED.routes["/acm/analyze"][1];
    const a = request(analyze, flowsNamed("a"));
    const b = request(analyze, flowsNamed("b"));
    await sleep(100);
    disconnect(b.res);
    const c = request(analyze, flowsNamed("c")); // b's place in the queue is free again
    assert.equal((await a.answer).status, 200);
    assert.equal((await c.answer).status, 200);
    assert.equal(b.res.answered, false, "nobody answers a closed request");
    assert.deepEqual(log().filter((e) => e.event === "start").map((e) => e.id), ["a", "c"]);
});

test("limiter: a running analyzer whose client went away is killed and frees its slot", async () => {
    const { python, log } = counter("limit-gone-running", 0.1);
    const RED = fakeRED({ python, args: [], maxRuns: 1, maxQueue: 1, timeout: 60000, worker: false });
    plugin(RED);
    const analyze = RED.routes["/acm/analyze"][1];
    const slow = request(analyze, flowsNamed("slow"));
    const next = request(analyze, flowsNamed("next"));
    await sleep(300);
    disconnect(slow.res);
    const answer = await next.answer;
    assert.equal(answer.status, 200);
    assert.ok(answer.ms < 5000, `the slow run (30 s) was stopped (${answer.ms} ms)`);
    assert.equal(slow.res.answered, false);
    assert.deepEqual(log().filter((e) => e.event === "end").map((e) => e.id), ["next"]);
});

test("RunLimiter: a slot is free when the process has exited, not when its answer is ready", async () => {
    const limiter = new RunLimiter(1, 1);
    let releaseA;
    const a = limiter.run((release) => { releaseA = release; return Promise.resolve("a"); });
    assert.equal(await a, "a");
    let bStarted = false;
    const b = limiter.run((release) => { bStarted = true; release(); return Promise.resolve("b"); });
    await sleep(50);
    assert.equal(bStarted, false, "b waits while a's process is alive");
    await assert.rejects(limiter.run(() => Promise.resolve("c")), (err) => {
        assert.ok(err instanceof BridgeError);
        assert.equal(err.status, 503);
        assert.equal(err.body.error, "the ACM analyzer is busy: 1 run and 1 waiting; try again shortly");
        assert.match(err.headers["Retry-After"], /^[1-9][0-9]*$/);
        return true;
    });
    releaseA();
    releaseA(); // twice is harmless
    assert.equal(await b, "b");
    assert.equal(limiter.running, 0);
    assert.equal(limiter.waiting.length, 0);
});

test("RunLimiter: an aborted signal takes a waiting run out of the queue", async () => {
    const limiter = new RunLimiter(1, 1);
    let releaseA;
    const a = limiter.run((release) => { releaseA = release; return Promise.resolve("a"); });
    const gone = new AbortController();
    let bStarted = false;
    const b = limiter.run((release) => { bStarted = true; release(); return Promise.resolve("b"); }, gone.signal);
    assert.equal(limiter.waiting.length, 1);
    gone.abort();
    await assert.rejects(b, (err) => err instanceof BridgeError && err.status === 499);
    assert.equal(limiter.waiting.length, 0);
    await a;
    releaseA();
    assert.equal(bStarted, false);
    assert.equal(limiter.running, 0);
    await assert.rejects(limiter.run(() => Promise.resolve(), gone.signal), (err) => err.status === 499);
});

// ------------------------------------------------------------------ the real analyzer

const REPO = path.resolve(__dirname, "..", "..");
const VENV_PYTHON = path.join(__dirname, "..", "..", ".venv", "bin", "python");
const BUILDING = path.join(REPO, "flows", "building", "flows.json");

for (const worker of [true, false]) test(`real analyzer on flows/building/flows.json (${worker ? "a worker" : "a process per request"})`, { skip: !fs.existsSync(VENV_PYTHON) || !fs.existsSync(BUILDING) }, async () => {
    const RED = fakeRED({ python: VENV_PYTHON, cwd: REPO, timeout: 60000, worker });
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

    // the manifest the editor's Resolve form is built from: the same file the tests read
    const strategies = await call(RED.gets["/acm/strategies"][1], undefined);
    assert.equal(strategies.status, 200, JSON.stringify(strategies.body));
    const shipped = JSON.parse(fs.readFileSync(path.join(REPO, "acm", "data", "strategies.json"), "utf8"));
    assert.deepEqual(strategies.body.strategies.map((s) => s.name), shipped.strategies.map((s) => s.name));
    const lock = strategies.body.strategies.find((s) => s.name === "lock");
    assert.deepEqual(lock.options.map((o) => [o.name, o.type]), [["hold", "duration"], ["mode", "word"], ["renew", "bool"]]);

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

test("real analyzer: an acm/ package in acm.cwd or on PYTHONPATH does not replace the installed one", { skip: !fs.existsSync(VENV_PYTHON) }, async () => {
    const shadow = path.join(tmp, "shadow");
    fs.mkdirSync(path.join(shadow, "acm"), { recursive: true });
    for (const file of ["__init__.py", "__main__.py"]) {
        fs.writeFileSync(path.join(shadow, "acm", file), "raise SystemExit('shadow acm imported')\n");
    }
    // the fixture does shadow the package when python is not isolated
    const plain = childProcess.spawnSync(VENV_PYTHON, ["-m", "acm", "--version"], { cwd: shadow, encoding: "utf8" });
    assert.notEqual(plain.status, 0);
    assert.match(plain.stderr, /shadow acm imported/);

    const saved = process.env.PYTHONPATH;
    process.env.PYTHONPATH = shadow;
    try {
        const RED = fakeRED({ python: VENV_PYTHON, cwd: shadow, timeout: 60000 });
        plugin(RED);
        const r = await call(RED.routes["/acm/analyze"][1], { flows: [{ id: "t", type: "tab", label: "T" }] });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.schema, "acm.findings/1");
    } finally {
        if (saved === undefined) delete process.env.PYTHONPATH; else process.env.PYTHONPATH = saved;
    }
});

test("real python: isolated mode keeps ACM_* variables and drops PYTHONPATH", { skip: !fs.existsSync(VENV_PYTHON) }, async () => {
    const script = "import json, os, sys; print(json.dumps({'schema': 'acm.findings/1',"
        + " 'debug': os.environ.get('ACM_DEBUG'), 'flags': sys.flags.isolated, 'path': sys.path}))";
    process.env.ACM_DEBUG = "1";
    const saved = process.env.PYTHONPATH;
    process.env.PYTHONPATH = tmp;
    try {
        const r = await runAcm([], "[]", resolveSettings({ python: VENV_PYTHON, args: ["-c", script], worker: false }, {}));
        const doc = JSON.parse(r.stdout);
        assert.equal(doc.debug, "1");
        assert.equal(doc.flags, 1);
        assert.ok(!doc.path.includes(tmp), JSON.stringify(doc.path));
        assert.ok(!doc.path.includes(""), JSON.stringify(doc.path));
        assert.ok(!doc.path.includes(PLUGIN_DIR), JSON.stringify(doc.path));
    } finally {
        delete process.env.ACM_DEBUG;
        if (saved === undefined) delete process.env.PYTHONPATH; else process.env.PYTHONPATH = saved;
    }
});
