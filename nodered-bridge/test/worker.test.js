"use strict";
// The long-lived analyzer (worker.js): its protocol, one request in flight, and its
// replacement after a crash, a timeout and N requests, against a fake worker
// (fakeWorkerMain) for the faults a real one cannot be made to produce; then
// the bridge's routes on workers, and the real `acm serve --stdio` when .venv exists.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { AcmWorker, WorkerPool, WorkerError } = require("../worker.js");
const plugin = require("../acm-bridge.js");
const { runAcm, resolveSettings, BridgeError, HINT } = plugin._internal;

const PLUGIN_DIR = path.resolve(__dirname, "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "acm-worker-test-"));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// A stand-in for `python -I -m acm serve --stdio` that can misbehave on request: the
// faults a real analyzer cannot be made to produce on demand.
// Run by a "python" shell script as `node FILE -I ARGS... serve --stdio [--max-requests N]`.
// The request's input says what to do:
//   "crash"      write a line to stderr and exit 3 without answering
//   "hang"       never answer
//   "garbage"    print a line that is not JSON
//   "wrong-id"   answer with another id
//   "big:N"      answer with N bytes of stdout
//   "slow:MS"    answer after MS milliseconds
//   "code:N"     answer with exit code N and a stderr line
//   anything else: answer at once
// Every answer's stdout is JSON: {pid, served, argv, args, input, overlap}; `overlap` is
// true when this request arrived while another was still unanswered.
function fakeWorkerMain() {
    "use strict";
    const argv = process.argv.slice(2);
    const max = argv.includes("--max-requests") ? Number(argv[argv.indexOf("--max-requests") + 1]) : 0;
    let served = 0;
    let busy = false;
    let buffer = "";
    const pending = [];

    process.stdout.write(JSON.stringify({ protocol: "acm.serve/1", ready: true, version: "fake", max_requests: max }) + "\n");

    function answer(req, fields, overlap) {
        served += 1;
        const doc = Object.assign({ id: req.id, code: 0, stderr: "" }, fields);
        if (doc.stdout === undefined) {
            doc.stdout = JSON.stringify({ pid: process.pid, served, argv, args: req.args, input: req.input, overlap });
        }
        const last = max > 0 && served >= max;
        if (last) doc.last = true;
        process.stdout.write(JSON.stringify(doc) + "\n", () => { if (last) process.exit(0); });
    }

    function handle(req, overlap) {
        const input = String(req.input || "");
        busy = true;
        const done = (fields) => { busy = false; answer(req, fields || {}, overlap); next(); };
        if (input === "crash") {
            process.stderr.write("Traceback (most recent call last):\nMemoryError: the fake ran out\n");
            process.exit(3);
        } else if (input === "hang") {
            // never answers
        } else if (input === "garbage") {
            process.stdout.write("this is not json\n");
        } else if (input === "wrong-id") {
            busy = false;
            answer({ id: "someone-else" }, {}, overlap);
        } else if (input.startsWith("big:")) {
            done({ stdout: "x".repeat(Number(input.slice(4))) });
        } else if (input.startsWith("slow:")) {
            setTimeout(() => done(), Number(input.slice(5)));
        } else if (input.startsWith("code:")) {
            done({ code: Number(input.slice(5)), stdout: "", stderr: "acm: error: <stdin>: line one\nacm: error: the last line\n" });
        } else {
            done();
        }
    }

    function next() {
        if (!busy && pending.length) {
            const req = pending.shift();
            handle(req, Boolean(req.overlapped));
        }
    }

    process.stdin.on("data", (chunk) => {
        buffer += chunk.toString("utf8");
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
            const line = buffer.slice(0, nl);
            buffer = buffer.slice(nl + 1);
            const req = JSON.parse(line);
            if (busy) {
                // the worker must not send this before our answer: say so in the answer
                pending.push(req);
                req.overlapped = true;
            } else {
                handle(req, false);
            }
        }
    });
    process.stdin.on("end", () => process.exit(0));
}

// (Written out at run time: a .js file under test/ would be run by node --test as a test.)
const FAKE = path.join(tmp, "fake-worker.js");
fs.writeFileSync(FAKE, `(${fakeWorkerMain.toString()})();\n`);

/** An executable "python" (a shell script) with the given body. */
function script(name, body) {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`);
    fs.chmodSync(file, 0o755);
    return file;
}

// The fake worker behind a "python" that takes any arguments, as the real one does.
const fakePython = script("fake-python", `exec '${process.execPath}' '${FAKE}' "$@"`);

function fakeWorker(extra) {
    return new AcmWorker(Object.assign({ python: fakePython, args: ["-m", "acm"], cwd: PLUGIN_DIR }, extra || {}));
}

const ask = (worker, input, opts) => worker.request("analyze", ["analyze", "-"], input, Object.assign({ timeout: 5000 }, opts || {}));
const body = (answer) => JSON.parse(answer.stdout);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Waits (up to 10 s) until `condition()` holds. */
async function until(condition, what) {
    const deadline = Date.now() + 10000;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(20);
    }
}
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return false; } };

async function rejectsKind(promise, kind, pattern) {
    await assert.rejects(promise, (err) => {
        assert.ok(err instanceof WorkerError, `a WorkerError: ${err}`);
        assert.equal(err.kind, kind, err.message);
        if (pattern) assert.match(err.message, pattern);
        return true;
    });
}

test("worker: one child for many requests, started as `python -I ARGS serve --stdio`, answers matched by id", async () => {
    const worker = fakeWorker({ maxRequests: 0 });
    const a = await ask(worker, "[1]");
    const b = await worker.request("strategies", ["strategies", "--format", "json"], "", { timeout: 5000 });
    assert.equal(a.code, 0);
    assert.equal(a.stderr, "");
    assert.deepEqual(body(a).argv, ["-I", "-m", "acm", "serve", "--stdio"]);
    assert.deepEqual(body(a).args, ["analyze", "-"]);
    assert.equal(body(a).input, "[1]");
    assert.deepEqual(body(b).args, ["strategies", "--format", "json"]);
    assert.equal(body(a).pid, body(b).pid, "the same process answered both");
    assert.equal(worker.started, 1);
    // a non-zero exit code of the command is an answer like any other
    const failed = await ask(worker, "code:2");
    assert.equal(failed.code, 2);
    assert.match(failed.stderr, /the last line\n$/);
    worker.close();
});

test("worker: one request in flight; the others wait and are answered in order", async () => {
    const worker = fakeWorker();
    const answers = await Promise.all([ask(worker, "slow:150"), ask(worker, "slow:50"), ask(worker, "a"), ask(worker, "b")]);
    assert.deepEqual(answers.map((a) => body(a).input), ["slow:150", "slow:50", "a", "b"]);
    assert.ok(answers.every((a) => body(a).overlap === false), "no request was sent before the previous answer");
    assert.deepEqual(answers.map((a) => body(a).served), [1, 2, 3, 4]);
    assert.equal(worker.load, 0);
    worker.close();
});

test("worker: a child that dies with a request in flight -> 'exit' with its last stderr line; the next request gets a new child", async () => {
    const worker = fakeWorker();
    const first = body(await ask(worker, "x"));
    const done = [];
    await rejectsKind(ask(worker, "crash", { onDone: (err) => done.push(err && err.kind) }), "exit",
        new RegExp(`^ACM analyzer '${fakePython}' exited with code 3: MemoryError: the fake ran out$`));
    assert.deepEqual(done, ["exit"], "onDone once, with the reason");
    const next = body(await ask(worker, "y"));
    assert.notEqual(next.pid, first.pid);
    assert.equal(next.served, 1);
    assert.equal(worker.started, 2);
    worker.close();
});

test("worker: a child killed from outside while idle is replaced by the next request", async () => {
    const worker = fakeWorker();
    const first = body(await ask(worker, "x"));
    process.kill(first.pid, "SIGKILL");
    await until(() => worker.pid === null, "the worker to see its child gone"); // (an idle worker holds no timer)
    const next = body(await ask(worker, "y"));
    assert.notEqual(next.pid, first.pid);
    worker.close();
});

test("worker: a request that meets a child killed from outside is run again on a fresh child, once", async () => {
    const worker = fakeWorker();
    const first = body(await ask(worker, "x"));
    process.kill(first.pid, "SIGKILL");
    const next = body(await ask(worker, "y")); // at once: the worker has not seen it gone yet
    assert.notEqual(next.pid, first.pid);
    assert.equal(worker.started, 2);
    const again = ask(worker, "hang", { timeout: 60000 });
    await until(() => worker.pid !== null && worker.load === 1, "the request in flight");
    process.kill(worker.pid, "SIGKILL"); // killed on the request: run once more ...
    await until(() => worker.started === 3, "a third child for the retry");
    process.kill(worker.pid, "SIGKILL"); // ... and not twice
    await rejectsKind(again, "exit", /was killed \(SIGKILL\)/);
    worker.close();
});

test("worker: replaced after maxRequests answers (the last says so); no request is lost", async () => {
    const worker = fakeWorker({ maxRequests: 2 });
    const answers = await Promise.all(["a", "b", "c", "d", "e"].map((x) => ask(worker, x)));
    const pids = answers.map((a) => body(a).pid);
    assert.deepEqual(answers.map((a) => body(a).input), ["a", "b", "c", "d", "e"]);
    assert.deepEqual(answers.map((a) => body(a).served), [1, 2, 1, 2, 1]);
    assert.deepEqual(body(answers[0]).argv.slice(-2), ["--max-requests", "2"]);
    assert.equal(pids[0], pids[1]);
    assert.notEqual(pids[1], pids[2]);
    assert.equal(pids[2], pids[3]);
    assert.notEqual(pids[3], pids[4]);
    assert.equal(worker.started, 3);
    // a retired child is replaced at once, ready for the next click
    const idle = fakeWorker({ maxRequests: 1 });
    const spawned = [];
    idle.on("spawn", (child) => spawned.push(child.pid));
    const only = body(await ask(idle, "a"));
    await until(() => spawned.length === 2, "the successor to start without a request");
    assert.ok(!alive(only.pid), "the retired child has exited before its successor started");
    assert.equal(idle.pid, spawned[1]);
    worker.close();
    idle.close();
});

test("worker: no answer within the timeout -> killed, answered at once, freed when it has exited; the next request gets a new child", async () => {
    const worker = fakeWorker();
    const first = body(await ask(worker, "x"));
    let doneAt = null;
    const started = Date.now();
    await rejectsKind(ask(worker, "hang", { timeout: 300, onDone: () => { doneAt = Date.now(); } }), "timeout",
        new RegExp(`^ACM analyzer '${fakePython}' timed out after 300 ms \\(raise acm.timeout in settings.js\\)$`));
    assert.ok(Date.now() - started < 2000);
    await until(() => doneAt !== null, "onDone once the killed child has exited");
    assert.ok(!alive(first.pid), "the hanging child was killed");
    const next = body(await ask(worker, "y"));
    assert.notEqual(next.pid, first.pid);
    worker.close();
});

test("worker: the timeout counts from the request's turn, not from the queue", async () => {
    const worker = fakeWorker();
    await ask(worker, "started"); // the child's start-up is not what this is about
    const started = Date.now();
    const answers = await Promise.all([ask(worker, "slow:600", { timeout: 1000 }), ask(worker, "slow:600", { timeout: 1000 })]);
    assert.equal(answers.length, 2);
    assert.ok(Date.now() - started > 1000, "the second waited longer than its time limit, then ran");
    worker.close();
});

test("worker: an answer over maxOutput, a line that is not JSON, an answer for another id -> errors; the worker recovers", async () => {
    const worker = fakeWorker();
    await rejectsKind(ask(worker, "big:5000", { maxOutput: 1000 }), "output", /wrote more than 1000 bytes; stopped/);
    assert.equal(body(await ask(worker, "ok")).input, "ok", "an oversized answer does not cost the worker");
    await rejectsKind(ask(worker, "big:300000", { maxOutput: 1000 }), "output", /wrote more than 1000 bytes/);
    await rejectsKind(ask(worker, "garbage"), "protocol", /did not answer as `acm serve --stdio` does \(a line that is not JSON/);
    await rejectsKind(ask(worker, "wrong-id"), "protocol", /an answer that is not for request/);
    assert.equal(body(await ask(worker, "ok")).input, "ok");
    assert.equal(worker.started, 4, "killed for the huge line, the garbage and the wrong id");
    worker.close();
});

test("worker: a request whose signal aborts while queued leaves the queue; one in flight runs to its end", async () => {
    const worker = fakeWorker();
    const gone = new AbortController();
    const inFlight = ask(worker, "slow:200", { signal: gone.signal });
    const queued = ask(worker, "never-sent", { signal: gone.signal });
    const after = ask(worker, "after");
    await sleep(50);
    gone.abort();
    await rejectsKind(queued, "aborted");
    assert.equal(body(await inFlight).input, "slow:200");
    assert.equal(body(await after).served, 2, "the aborted request was never sent");
    await rejectsKind(ask(worker, "x", { signal: gone.signal }), "aborted");
    worker.close();
});

test("worker: python missing, not executable, or a working directory that is not a folder -> the messages of a process per request", async () => {
    const missing = path.join(tmp, "no-such-python");
    await rejectsKind(new AcmWorker({ python: missing, cwd: PLUGIN_DIR }).request("analyze", ["analyze"], "", { timeout: 5000 }),
        "start", new RegExp(`^ACM analyzer not found: '${missing}' does not exist or is not on PATH$`));
    const notExecutable = path.join(tmp, "not-executable");
    fs.writeFileSync(notExecutable, "#!/bin/sh\n");
    await rejectsKind(new AcmWorker({ python: notExecutable, cwd: PLUGIN_DIR }).request("analyze", ["analyze"], "", { timeout: 5000 }),
        "start", /^ACM analyzer cannot be run: '.*not-executable' is not executable$/);
    const nowhere = path.join(tmp, "no-such-folder");
    await rejectsKind(new AcmWorker({ python: fakePython, cwd: nowhere }).request("analyze", ["analyze"], "", { timeout: 5000 }),
        "start", /working directory '.*no-such-folder' \(acm\.cwd\) is not a folder/);
});

test("worker: closed -> queued requests are refused, the child ends with its input", async () => {
    const worker = fakeWorker();
    const pid = body(await ask(worker, "x")).pid;
    worker.close();
    await rejectsKind(ask(worker, "y"), "closed");
    await until(() => !alive(pid), "the child to end with its input");
});

test("WorkerPool: an idle worker first, a new one only when all are busy, never more than its size", async () => {
    const pool = new WorkerPool(2, { python: fakePython, args: [], cwd: PLUGIN_DIR });
    const one = body(await pool.request("analyze", ["analyze"], "a", { timeout: 5000 }));
    const two = body(await pool.request("analyze", ["analyze"], "b", { timeout: 5000 }));
    assert.equal(one.pid, two.pid, "one at a time: one worker is enough");
    const parallel = await Promise.all(["c", "d", "e"].map((x) => pool.request("analyze", ["analyze"], `slow:100${x}`, { timeout: 5000 })));
    assert.equal(pool.workers.length, 2);
    assert.equal(new Set(parallel.map((a) => body(a).pid)).size, 2);
    pool.close();
});

// ------------------------------------------------------------------ the bridge on workers

test("resolveSettings: acm.worker and acm.workerRequests", () => {
    assert.equal(resolveSettings({}, {}).worker, true);
    assert.equal(resolveSettings({}, {}).workerRequests, 200);
    assert.equal(resolveSettings({ worker: false }, {}).worker, false);
    assert.equal(resolveSettings({ workerRequests: 0 }, {}).workerRequests, 0);
    assert.equal(resolveSettings({ workerRequests: 5 }, {}).workerRequests, 5);
    for (const bad of ["false", 0, null]) assert.equal(resolveSettings({ worker: bad }, {}).worker, true, `worker ${bad}`);
    for (const bad of [-1, 2.5, "8", Infinity]) {
        assert.equal(resolveSettings({ workerRequests: bad }, {}).workerRequests, 200, `workerRequests ${bad}`);
    }
});

function fakeRED(acm) {
    const routes = {};
    const gets = {};
    const warnings = [];
    return {
        routes, gets, warnings,
        settings: { acm },
        log: { info() {}, warn(m) { warnings.push(m); }, error() {} },
        auth: { needsPermission: (perm) => ({ perm }) },
        httpAdmin: { post(url, ...h) { routes[url] = h; }, get(url, ...h) { gets[url] = h; } },
        plugins: { registerPlugin() {} },
    };
}

function call(handler, reqBody) {
    const { EventEmitter } = require("node:events");
    const res = new EventEmitter();
    res.statusCode = 200;
    res.headers = {};
    res.writableEnded = false;
    res.status = function (code) { this.statusCode = code; return this; };
    res.setHeader = function (name, value) { this.headers[name.toLowerCase()] = value; };
    return new Promise((resolve) => {
        res.json = function (doc) {
            this.writableEnded = true;
            resolve({ status: this.statusCode, body: doc, headers: this.headers });
            this.emit("close");
        };
        handler({ body: reqBody }, res);
    });
}

// A fake worker that answers every request, after 200 ms, with a findings document naming its pid.
const FINDINGS_WORKER = path.join(tmp, "findings-worker.js");
fs.writeFileSync(FINDINGS_WORKER, `
const rl = require("readline").createInterface({ input: process.stdin });
process.stdout.write(JSON.stringify({ protocol: "acm.serve/1", ready: true }) + "\\n");
rl.on("line", (line) => {
    const req = JSON.parse(line);
    const doc = { schema: "acm.findings/1", conflicts: [], actuators: [], stats: {}, pid: process.pid, args: req.args };
    setTimeout(() => process.stdout.write(JSON.stringify({ id: req.id, code: 0, stdout: JSON.stringify(doc), stderr: "" }) + "\\n"), 200);
});
`);
const findingsPython = script("findings-python", `exec '${process.execPath}' '${FINDINGS_WORKER}' "$@"`);

test("bridge: requests go to workers, at most acm.maxRuns of them; 503 when the queue is full", async () => {
    const RED = fakeRED({ python: findingsPython, args: [], maxRuns: 2, maxQueue: 1, timeout: 10000 });
    plugin(RED);
    const analyze = RED.routes["/acm/analyze"][1];
    const answers = await Promise.all([1, 2, 3, 4].map(() => call(analyze, { flows: [] })));
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 200, 503]);
    const ok = answers.filter((a) => a.status === 200);
    assert.equal(new Set(ok.map((a) => a.body.pid)).size, 2, "two workers, the third request reused one");
    assert.deepEqual(ok[0].body.args, ["analyze", "-", "--format", "json", "--fail-on", "never"]);
    const again = await call(analyze, { flows: [] });
    assert.ok(ok.some((a) => a.body.pid === again.body.pid), "the workers stay for the next click");
});

test("bridge: a worker's non-zero exit code, timeout and missing python -> the 502s of a process per request", async () => {
    const settings = resolveSettings({ python: fakePython, args: [], timeout: 400 }, {});
    await assert.rejects(runAcm(["analyze", "-"], "code:2", settings), (err) => {
        assert.ok(err instanceof BridgeError);
        assert.equal(err.status, 502);
        assert.equal(err.body.error, `ACM analyzer '${fakePython}' exited with code 2: acm: error: the last line`);
        assert.equal(err.body.hint, HINT);
        return true;
    });
    await assert.rejects(runAcm(["analyze", "-"], "hang", settings),
        (err) => err.status === 502 && /timed out after 400 ms/.test(err.body.error));
    const missing = path.join(tmp, "missing-python");
    const RED = fakeRED({ python: missing });
    plugin(RED);
    const r = await call(RED.routes["/acm/analyze"][1], { flows: [] });
    assert.equal(r.status, 502);
    assert.equal(r.body.error, `ACM analyzer not found: '${missing}' does not exist or is not on PATH`);
    assert.equal(r.body.python, missing);
    assert.equal(r.body.hint, HINT);
});

test("bridge: an ACM without `acm serve` -> a process per request from then on, with one warning", async () => {
    const FINDINGS = { schema: "acm.findings/1", conflicts: [], actuators: [], stats: {} };
    const dir = path.join(tmp, "old-acm-calls");
    fs.mkdirSync(dir);
    // Like an older ACM: `serve` is not a command; anything else answers one run.
    const old = script("old-acm", [
        `echo "$*" >> '${dir}/calls'`,
        "for a in \"$@\"; do if [ \"$a\" = serve ]; then echo \"Error: No such command 'serve'.\" >&2; exit 2; fi; done",
        `cat > /dev/null; echo '${JSON.stringify(FINDINGS)}'`,
    ].join("\n"));
    const RED = fakeRED({ python: old, args: [], timeout: 5000 });
    plugin(RED);
    const analyze = RED.routes["/acm/analyze"][1];
    for (let i = 0; i < 3; i += 1) {
        const r = await call(analyze, { flows: [] });
        assert.deepEqual([r.status, r.body], [200, FINDINGS]);
    }
    const calls = fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n");
    assert.deepEqual(calls, ["-I serve --stdio --max-requests 200",
        "-I analyze - --format json --fail-on never", "-I analyze - --format json --fail-on never",
        "-I analyze - --format json --fail-on never"]);
    assert.equal(RED.warnings.length, 1);
    assert.match(RED.warnings[0], /has no `acm serve` command .*each request starts its own process/);
});

// ------------------------------------------------------------------ the real `acm serve --stdio`

const REPO = path.resolve(__dirname, "..", "..");
const VENV_PYTHON = path.join(REPO, ".venv", "bin", "python");
const BUILDING = path.join(REPO, "flows", "building", "flows.json");

test("real worker: answers like `acm analyze`, survives a crash from outside, replaced after N requests", { skip: !fs.existsSync(VENV_PYTHON) || !fs.existsSync(BUILDING) }, async () => {
    const worker = new AcmWorker({ python: VENV_PYTHON, args: ["-m", "acm"], cwd: REPO, maxRequests: 3 });
    const pids = [];
    worker.on("spawn", (child) => pids.push(child.pid));
    const flows = fs.readFileSync(BUILDING, "utf8");
    const args = ["analyze", "-", "--format", "json", "--fail-on", "never"];
    const first = await worker.request("analyze", args, flows, { timeout: 60000 });
    assert.equal(first.code, 0, first.stderr);
    const doc = JSON.parse(first.stdout);
    assert.equal(doc.schema, "acm.findings/1");
    assert.ok(doc.conflicts.length > 0);
    const bad = await worker.request("analyze", args, "{not json", { timeout: 60000 });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^acm: error: <stdin>/);
    process.kill(pids[0], "SIGKILL");
    await until(() => worker.pid === null, "the worker to see its child gone");
    const again = await worker.request("analyze", args, flows, { timeout: 60000 });
    const timeless = (stdout) => { const d = JSON.parse(stdout); delete d.stats.seconds; return d; };
    assert.deepEqual(timeless(again.stdout), timeless(first.stdout), "a new worker answers the same");
    assert.equal(pids.length, 2);
    for (let i = 0; i < 3; i += 1) await worker.request("strategies", ["strategies", "--format", "json"], "", { timeout: 60000 });
    await until(() => pids.length === 3, "the second worker to retire after 3 answers and be replaced");
    worker.close();
});
