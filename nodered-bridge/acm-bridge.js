/**
 * ACM bridge for Node-RED — runtime side.
 *
 * Adds Admin API endpoints that run the ACM analyzer (a Python CLI) on the flows the
 * editor sends, and one that tells the editor which resolution strategies there are:
 *   POST /acm/analyze     (flows.read)   -> acm.findings/1 document
 *   POST /acm/plan        (flows.read)   -> acm.plan/1 document
 *   POST /acm/resolve     (flows.write)  -> {add, change, remove, plan}
 *   GET  /acm/strategies  (flows.read)   -> acm.strategies/1 document (`acm strategies
 *        --format json`, asked once per bridge process): the editor's Resolve form is
 *        built from it, and /acm/resolve checks strategy and option names against it
 *
 * Requests are answered by long-lived analyzers, `python -I -m acm serve --stdio`
 * children started without a shell (worker.js): each gets the command line and the
 * flows JSON of one request at a time and answers with what `acm` would have printed,
 * with a time limit (the worker is killed and replaced after it) and an output cap.
 * At most `acm.maxRuns` requests run at a time, each in its own worker (so at most
 * that many workers); `acm.maxQueue` more wait their turn, the rest are answered 503.
 * With `acm.worker: false`, or when the installed ACM has no `serve` command, each
 * request starts its own `python -I -m acm ...` process instead, under the same limits.
 * Nothing here writes or deploys flows: the editor applies the result of /acm/resolve
 * to its own workspace as an undoable edit.
 */
"use strict";

const childProcess = require("child_process");
const fs = require("fs");
const path = require("path");
const { WorkerPool, say, ISOLATED, MAX_STDERR } = require("./worker");

const DEFAULTS = Object.freeze({
    python: "python3",
    args: ["-m", "acm"],
    timeout: 20000,
    maxOutput: 50 * 1024 * 1024,
    maxRuns: 2,
    maxQueue: 8,
    // Long-lived analyzers (`acm serve --stdio`), each replaced after this many requests
    // (0: never) so that its memory cannot grow for the life of Node-RED.
    worker: true,
    workerRequests: 200,
    // Resolve with nodered-bridge's native acm-resolver nodes (`acm resolve --native`)
    // instead of function nodes: faster, but the flows then need this package wherever
    // they run. Off: the flows keep what they have (function nodes, unless native).
    nativeResolvers: false,
    // The child's working directory: the plugin's own folder, which exists and is
    // written only by whoever installs the plugin (not the user's flows folder).
    cwd: __dirname,
});
// ISOLATED ("-I", worker.js): neither the working directory nor PYTHONPATH nor the
// user's site-packages can put another `acm` package in front of the installed one.
const HINT = "set acm.python in settings.js or ACM_PYTHON";
// The strategies themselves are Python's (acm/data/strategies.json, GET /acm/strategies);
// a name only has to look like one before it becomes a command-line argument.
const STRATEGY_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const OPTION_KEY = /^[a-z_]+$/;
const CONFLICT_ID = /^[A-Za-z0-9_.:-]{1,200}$/;

/** An error the HTTP layer turns into a JSON response (never a stack trace). */
class BridgeError extends Error {
    constructor(status, body, headers) {
        super(body.error);
        this.status = status;
        this.body = body;
        this.headers = headers || {};
    }
}

function badRequest(message) {
    return new BridgeError(400, { error: message });
}

/**
 * Effective settings: settings.js `acm: {...}` over env ACM_PYTHON over defaults.
 * The analyzer runs in a fixed folder, so relative paths (acm.python when it names
 * a file, acm.cwd, acm.rules, acm.policy) are made absolute here against `base`:
 * Node-RED's userDir, where settings.js lives (else the process's working directory).
 */
function resolveSettings(acm, env, base) {
    acm = acm && typeof acm === "object" ? acm : {};
    env = env || process.env;
    base = typeof base === "string" && base ? path.resolve(base) : process.cwd();
    const absolute = (p) => path.resolve(base, p);
    let python = (typeof acm.python === "string" && acm.python) || env.ACM_PYTHON || DEFAULTS.python;
    // A bare name ("python3") is looked up on PATH; a relative file name is not.
    if (/[\\/]/.test(python)) python = absolute(python);
    const args = Array.isArray(acm.args) && acm.args.every((a) => typeof a === "string")
        ? acm.args.slice() : DEFAULTS.args.slice();
    const timeout = Number.isFinite(acm.timeout) && acm.timeout > 0 ? acm.timeout : DEFAULTS.timeout;
    const maxOutput = Number.isFinite(acm.maxOutput) && acm.maxOutput > 0 ? acm.maxOutput : DEFAULTS.maxOutput;
    const maxRuns = Number.isInteger(acm.maxRuns) && acm.maxRuns >= 1 ? acm.maxRuns : DEFAULTS.maxRuns;
    const maxQueue = Number.isInteger(acm.maxQueue) && acm.maxQueue >= 0 ? acm.maxQueue : DEFAULTS.maxQueue;
    const rules = (Array.isArray(acm.rules) ? acm.rules : (typeof acm.rules === "string" ? [acm.rules] : []))
        .filter((r) => typeof r === "string" && r).map(absolute);
    const policy = (Array.isArray(acm.policy) ? acm.policy : (typeof acm.policy === "string" ? [acm.policy] : []))
        .filter((p) => typeof p === "string" && p).map(absolute);
    const cwd = typeof acm.cwd === "string" && acm.cwd ? absolute(acm.cwd) : DEFAULTS.cwd;
    const worker = typeof acm.worker === "boolean" ? acm.worker : DEFAULTS.worker;
    const workerRequests = Number.isInteger(acm.workerRequests) && acm.workerRequests >= 0
        ? acm.workerRequests : DEFAULTS.workerRequests;
    const nativeResolvers = typeof acm.nativeResolvers === "boolean"
        ? acm.nativeResolvers : DEFAULTS.nativeResolvers;
    return { python, args, cwd, timeout, maxOutput, maxRuns, maxQueue, rules, policy, worker, workerRequests,
        nativeResolvers };
}

/**
 * At most `maxRuns` analyzer runs at a time; up to `maxQueue` more wait in FIFO
 * order, anything beyond is refused with a 503. A slot is held until the child
 * process has exited (not merely until its request was answered), so the number of
 * live analyzer processes never exceeds `maxRuns`.
 */
class RunLimiter {
    constructor(maxRuns, maxQueue) {
        this.maxRuns = maxRuns;
        this.maxQueue = maxQueue;
        this.running = 0;
        this.waiting = [];
        this.averageMs = null; // recent run time, for Retry-After
    }

    /**
     * Calls `start(release)` when a slot is free and settles as its promise does;
     * `start` must call `release()` once its child process is gone. An aborted
     * `signal` (the client went away) takes a waiting run out of the queue.
     */
    run(start, signal) {
        if (signal && signal.aborted) return Promise.reject(clientGone());
        if (this.running < this.maxRuns) return this._start(start);
        if (this.waiting.length >= this.maxQueue) return Promise.reject(this.busy());
        return new Promise((resolve, reject) => {
            const entry = { start, resolve, reject, signal, onAbort: null };
            if (signal) {
                entry.onAbort = () => {
                    const i = this.waiting.indexOf(entry);
                    if (i >= 0) this.waiting.splice(i, 1);
                    reject(clientGone());
                };
                signal.addEventListener("abort", entry.onAbort, { once: true });
            }
            this.waiting.push(entry);
        });
    }

    _start(start) {
        this.running += 1;
        const began = Date.now();
        let released = false;
        const release = () => {
            if (released) return;
            released = true;
            this.running -= 1;
            const ms = Date.now() - began;
            this.averageMs = this.averageMs === null ? ms : 0.7 * this.averageMs + 0.3 * ms;
            this._next();
        };
        try {
            return Promise.resolve(start(release));
        } catch (err) {
            release();
            return Promise.reject(err);
        }
    }

    _next() {
        while (this.running < this.maxRuns && this.waiting.length) {
            const entry = this.waiting.shift();
            if (entry.signal) entry.signal.removeEventListener("abort", entry.onAbort);
            this._start(entry.start).then(entry.resolve, entry.reject);
        }
    }

    /** The 503 for a full queue, with a Retry-After guessed from recent run times. */
    busy() {
        const perRun = this.averageMs === null ? 1000 : this.averageMs;
        const seconds = Math.min(300, Math.max(1, Math.ceil((perRun * (this.waiting.length + 1)) / this.maxRuns / 1000)));
        const runs = this.running === 1 ? "1 run" : `${this.running} runs`;
        return new BridgeError(503, {
            error: `the ACM analyzer is busy: ${runs} and ${this.waiting.length} waiting; try again shortly`,
            running: this.running,
            waiting: this.waiting.length,
            hint: "if this happens often, raise acm.maxRuns or acm.maxQueue in settings.js",
        }, { "Retry-After": String(seconds) });
    }
}

/** The request's client disconnected; nobody reads this answer. */
function clientGone() {
    return new BridgeError(499, { error: "the client closed the request" });
}

function optionValue(key, value) {
    const t = typeof value;
    if (t === "number") {
        if (!Number.isFinite(value)) throw badRequest(`option '${key}': not a finite number`);
        return String(value);
    }
    if (t === "boolean") return String(value);
    if (t === "string") {
        if (value.trim() === "") throw badRequest(`option '${key}': empty value`);
        if (value.length > 1000) throw badRequest(`option '${key}': value too long`);
        // eslint-disable-next-line no-control-regex
        if (/[\u0000-\u001f\u007f]/.test(value)) throw badRequest(`option '${key}': control characters are not allowed`);
        return value;
    }
    throw badRequest(`option '${key}': values must be strings, numbers or booleans`);
}

/**
 * Command-line arguments (after `python -m acm`) for one operation.
 *   buildArgs("analyze", {}, settings)
 *   buildArgs("plan", {}, settings)
 *   buildArgs("strategies", {}, settings)
 *   buildArgs("resolve", {conflict, strategy, options}, settings)
 * Throws a 400 BridgeError for bad options.
 */
function buildArgs(op, req, settings) {
    req = req || {};
    settings = settings || {};
    const rules = settings.rules || [];
    const policy = settings.policy || [];
    const out = [];
    if (op === "analyze") {
        out.push("analyze", "-", "--format", "json", "--fail-on", "never");
        for (const r of rules) out.push("--rules", r);
        return out;
    }
    if (op === "plan") {
        out.push("resolve", "-", "--plan");
        for (const p of policy) out.push("--policy", p);
        for (const r of rules) out.push("--rules", r);
        return out;
    }
    if (op === "strategies") return ["strategies", "--format", "json"];
    if (op !== "resolve") throw new Error(`unknown operation ${op}`);
    if (typeof req.conflict !== "string" || !CONFLICT_ID.test(req.conflict)) {
        throw badRequest("'conflict' must be a conflict id from the findings");
    }
    out.push("resolve", "-", "--only", req.conflict);
    if (settings.nativeResolvers === true) out.push("--native");
    for (const p of policy) out.push("--policy", p);
    for (const r of rules) out.push("--rules", r);
    if (req.strategy !== undefined && req.strategy !== null && req.strategy !== "") {
        if (typeof req.strategy !== "string" || !STRATEGY_NAME.test(req.strategy)) {
            throw badRequest("'strategy' must be a strategy name (GET /acm/strategies lists them)");
        }
        out.push("--strategy", req.strategy);
        const options = req.options === undefined || req.options === null ? {} : req.options;
        if (typeof options !== "object" || Array.isArray(options)) throw badRequest("'options' must be an object");
        for (const key of Object.keys(options)) {
            if (!OPTION_KEY.test(key)) throw badRequest(`option name '${String(key).slice(0, 40)}' is not allowed (a-z and _ only)`);
            let value = options[key];
            if (Array.isArray(value)) {
                if (value.length === 0) throw badRequest(`option '${key}': empty list`);
                value = value.map((v) => {
                    const s = optionValue(key, v);
                    if (s.includes(",")) throw badRequest(`option '${key}': list items cannot contain ','`);
                    return s.trim();
                }).join(",");
            } else {
                value = optionValue(key, value);
            }
            out.push("--set", `${key}=${value}`);
        }
    } else if (req.options && Object.keys(req.options).length) {
        throw badRequest("'options' need a 'strategy'");
    }
    out.push("-o", "-");
    return out;
}

/** Checks a request body {flows: [...]} (and for resolve: conflict, strategy, options). */
function validateFlowsBody(body) {
    if (!body || typeof body !== "object" || Array.isArray(body)) throw badRequest("expected a JSON object body");
    if (!Array.isArray(body.flows)) throw badRequest("'flows' must be an array of nodes");
    for (const n of body.flows) {
        if (!n || typeof n !== "object" || Array.isArray(n) || typeof n.id !== "string" || typeof n.type !== "string") {
            throw badRequest("'flows' must contain node objects with an id and a type");
        }
    }
    return body.flows;
}

function validateResolveBody(body) {
    const flows = validateFlowsBody(body);
    if (typeof body.conflict !== "string" || !CONFLICT_ID.test(body.conflict)) {
        throw badRequest("'conflict' must be a conflict id from the findings");
    }
    if (body.strategy !== undefined && body.strategy !== null
        && (typeof body.strategy !== "string" || !STRATEGY_NAME.test(body.strategy))) {
        throw badRequest("'strategy' must be a strategy name (GET /acm/strategies lists them)");
    }
    if (body.options !== undefined && body.options !== null
        && (typeof body.options !== "object" || Array.isArray(body.options))) {
        throw badRequest("'options' must be an object");
    }
    // buildArgs checks every option name and value.
    buildArgs("resolve", body, {});
    return { flows, conflict: body.conflict, strategy: body.strategy || null, options: body.options || {} };
}

/**
 * Runs `acm ARGS` with `input` on its standard input: in a long-lived worker
 * (`acm serve --stdio`, worker.js) unless `settings.worker` is false or the installed
 * ACM has no `serve` command, else in a process of its own (runProcess).
 * Resolves {stdout, stderr} on exit 0; rejects with a 502 BridgeError naming the
 * executable otherwise, in the same words either way. The time limit counts from
 * the moment the request is handed to its worker (or its process starts).
 * `control.signal` (AbortSignal): the client has gone: a request still queued in the
 * worker leaves it; one in flight runs to its end and its answer is dropped (a process
 * of its own is killed); `control.onExit()`: called once when the request no longer
 * occupies an analyzer: answered, or its killed process has exited.
 */
function runAcm(args, input, settings, control) {
    settings = Object.assign({}, DEFAULTS, settings || {});
    settings.cwd = settings.cwd || DEFAULTS.cwd;
    control = control || {};
    if (!settings.worker) return runProcess(args, input, settings, control);
    const pool = poolFor(settings);
    if (pool.unsupported) return runProcess(args, input, settings, control);
    const python = settings.python;
    const fail = (error) => new BridgeError(502, { error, python, hint: HINT });
    const onDone = (err) => {
        // The request goes to a process of its own, which calls onExit when it has exited.
        if (err && err.kind === "unsupported") return;
        if (control.onExit) control.onExit();
    };
    return pool.request(operationOf(args), args, typeof input === "string" ? input : "", {
        timeout: settings.timeout, maxOutput: settings.maxOutput, signal: control.signal, onDone,
    }).then((answer) => {
        if (answer.code !== 0) throw fail(say.exited(python, answer.code, null, answer.stderr));
        return { stdout: answer.stdout, stderr: answer.stderr };
    }, (err) => {
        if (err && err.kind === "unsupported") {
            if (!pool.unsupported && bridgeLog) {
                bridgeLog.warn(`acm-bridge: ${err.message}: each request starts its own process;`
                    + " update ACM for faster answers");
            }
            pool.unsupported = true;
            return runProcess(args, input, settings, control);
        }
        if (err && err.kind === "aborted") throw clientGone();
        throw fail(err && err.message ? err.message : String(err));
    });
}

/** The serve operation a command line runs (`acm serve` refuses any other command). */
function operationOf(args) {
    if (args[0] === "resolve") return args.includes("--plan") ? "plan" : "resolve";
    return args[0];
}

// Node-RED's log, for the one warning above (set by the route handlers).
let bridgeLog = null;

/**
 * The worker pool for these settings, made when first asked for: one per analyzer
 * (python, args, folder) for the life of the bridge, with `maxRuns` workers at most.
 */
const pools = new Map();

function poolFor(settings) {
    const key = JSON.stringify([settings.python, settings.args, settings.cwd, settings.workerRequests, settings.maxRuns]);
    let pool = pools.get(key);
    if (!pool) {
        pool = new WorkerPool(settings.maxRuns, {
            python: settings.python, args: settings.args, cwd: settings.cwd, maxRequests: settings.workerRequests,
        });
        pools.set(key, pool);
    }
    return pool;
}

/**
 * Runs `python -I ...settings.args ...args` in a process of its own, in settings.cwd,
 * with `input` on stdin (`acm.worker: false`, or an ACM without `serve`).
 * Resolves {stdout, stderr} on exit 0; rejects with a 502 BridgeError naming the
 * executable otherwise. The time limit counts from the start of the child.
 * `control.signal` (AbortSignal): kill the child when the client has gone;
 * `control.onExit()`: called once when the child has exited or could not start.
 */
function runProcess(args, input, settings, control) {
    settings = Object.assign({}, DEFAULTS, settings || {});
    settings.cwd = settings.cwd || DEFAULTS.cwd;
    control = control || {};
    const python = settings.python;
    const fail = (error) => new BridgeError(502, { error, python, hint: HINT });
    let exited = false;
    const onExit = () => {
        if (exited) return;
        exited = true;
        if (control.onExit) control.onExit();
    };
    return new Promise((resolve, reject) => {
        if (control.signal && control.signal.aborted) {
            onExit();
            reject(clientGone());
            return;
        }
        // spawn reports a missing working directory as ENOENT, as if python were missing.
        let folder = null;
        try { folder = fs.statSync(settings.cwd); } catch (e) { /* reported below */ }
        if (!folder || !folder.isDirectory()) {
            onExit();
            reject(fail(say.notFolder(python, settings.cwd)));
            return;
        }
        let child;
        try {
            child = childProcess.spawn(python, [ISOLATED, ...settings.args, ...args], {
                shell: false,
                cwd: settings.cwd,
                stdio: ["pipe", "pipe", "pipe"],
                windowsHide: true,
            });
        } catch (err) {
            onExit();
            reject(fail(say.cannotStart(python, err)));
            return;
        }
        child.on("exit", onExit);
        const out = [];
        let outSize = 0;
        let stderr = "";
        let done = false;
        let killedFor = null;
        const abort = () => kill("aborted");
        const finish = (err, value) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            if (control.signal) control.signal.removeEventListener("abort", abort);
            if (err) reject(err); else resolve(value);
        };
        const kill = (why) => {
            if (killedFor) return;
            killedFor = why;
            try { child.kill("SIGKILL"); } catch (e) { /* already gone */ }
            // Answer now: a grandchild may keep the pipes open after the child is gone.
            child.stdout.destroy();
            child.stderr.destroy();
            if (why === "aborted") {
                finish(clientGone());
            } else if (why === "timeout") {
                finish(fail(say.timedOut(python, settings.timeout)));
            } else {
                finish(fail(say.tooMuch(python, settings.maxOutput)));
            }
        };
        const timer = setTimeout(() => kill("timeout"), settings.timeout);
        if (control.signal) control.signal.addEventListener("abort", abort, { once: true });
        child.on("error", (err) => {
            // The process could not be started (ENOENT, EACCES, ...). Node also emits 'error' when
            // a kill fails, which does not happen for SIGKILL to our own child: the slot goes back.
            onExit();
            finish(fail(say.startError(python, err)));
        });
        child.stdout.on("data", (chunk) => {
            outSize += chunk.length;
            if (outSize > settings.maxOutput) {
                kill("output");
                return;
            }
            out.push(chunk);
        });
        child.stderr.on("data", (chunk) => {
            if (stderr.length < MAX_STDERR) stderr += chunk.toString("utf8");
        });
        child.stdin.on("error", () => { /* EPIPE when the child exits early: reported by 'close' */ });
        child.on("close", (code, signal) => {
            if (killedFor) {
                return; // already answered
            } else if (code !== 0) {
                finish(fail(say.exited(python, code, signal, stderr)));
            } else {
                finish(null, { stdout: Buffer.concat(out).toString("utf8"), stderr });
            }
        });
        child.stdin.end(input);
    });
}

/** Parses the child's stdout as JSON (502 on anything else). */
function parseJson(stdout, settings, expectSchema) {
    const python = (settings && settings.python) || DEFAULTS.python;
    let doc;
    try {
        doc = JSON.parse(stdout);
    } catch (e) {
        throw new BridgeError(502, { error: `ACM analyzer '${python}' printed invalid JSON`, python, hint: HINT });
    }
    if (expectSchema && (!doc || typeof doc !== "object" || doc.schema !== expectSchema)) {
        const got = doc && typeof doc === "object" && typeof doc.schema === "string" ? doc.schema : "none";
        throw new BridgeError(502, {
            error: `ACM analyzer '${python}' printed an unexpected document (schema ${got}, expected ${expectSchema})`,
            python, hint: HINT,
        });
    }
    return doc;
}

function sameJson(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
}

const NOT_PROPS = new Set(["id", "type", "wires"]);

/**
 * What changed from `before` to `after` (two flows arrays):
 *   add:    nodes only in `after`, in its order (ready for RED.nodes.import)
 *   change: [{id, wires, props?}] nodes in both whose wires (or other properties) differ;
 *           `wires` is always the new wiring, `props` the other changed top-level properties
 *           (a property removed in `after` is given as null)
 *   remove: ids only in `before`
 */
function diffFlows(before, after) {
    const old = new Map();
    for (const n of before || []) if (n && typeof n.id === "string") old.set(n.id, n);
    const seen = new Set();
    const add = [];
    const change = [];
    for (const n of after || []) {
        if (!n || typeof n.id !== "string") continue;
        seen.add(n.id);
        const o = old.get(n.id);
        if (!o) {
            add.push(n);
            continue;
        }
        const wiresChanged = !sameJson(o.wires, n.wires);
        let props = null;
        for (const key of new Set([...Object.keys(o), ...Object.keys(n)])) {
            if (NOT_PROPS.has(key) || sameJson(o[key], n[key])) continue;
            props = props || {};
            props[key] = n[key] === undefined ? null : n[key];
        }
        if (wiresChanged || props) {
            const entry = { id: n.id, wires: n.wires === undefined ? [] : n.wires };
            if (props) entry.props = props;
            change.push(entry);
        }
    }
    const remove = [];
    for (const id of old.keys()) if (!seen.has(id)) remove.push(id);
    return { add, change, remove };
}

function planLines(stderr) {
    return String(stderr || "").split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
}

/**
 * The three operations, independent of HTTP (used by the routes and the tests).
 * `run` is runAcm, or the routes' runAcm behind the RunLimiter; the request body is
 * checked before that, so a bad request never waits for a slot.
 */
async function analyze(body, settings, run = runAcm) {
    const flows = validateFlowsBody(body);
    const { stdout } = await run(buildArgs("analyze", {}, settings), JSON.stringify(flows), settings);
    return parseJson(stdout, settings, "acm.findings/1");
}

async function plan(body, settings, run = runAcm) {
    const flows = validateFlowsBody(body);
    const { stdout } = await run(buildArgs("plan", {}, settings), JSON.stringify(flows), settings);
    return parseJson(stdout, settings, "acm.plan/1");
}

/**
 * `acm strategies --format json`, asked once: returns `(settings) => Promise<doc>`.
 * The manifest is part of the installed ACM, so one answer holds for the bridge
 * process; a failed run (python missing) is not kept, the next request tries again.
 * `run` is not tied to one request: a client that goes away does not cancel the
 * answer others wait for.
 */
function strategiesOnce(run = runAcm) {
    let pending = null;
    return function strategies(settings) {
        if (pending === null) {
            pending = Promise.resolve()
                .then(() => run(buildArgs("strategies", {}, settings), "", settings))
                .then(({ stdout }) => {
                    const doc = parseJson(stdout, settings, "acm.strategies/1");
                    if (!Array.isArray(doc.strategies)) {
                        throw new BridgeError(502, { error: `ACM analyzer '${settings.python}' printed strategies without a list`, python: settings.python, hint: HINT });
                    }
                    return doc;
                });
            pending.catch(() => { pending = null; });
        }
        return pending;
    };
}

/** 400 unless `strategy` and every option name are in the manifest `doc`. */
function checkAgainstManifest(doc, strategy, options) {
    const declared = doc.strategies.find((s) => s && s.name === strategy);
    if (!declared) {
        const known = doc.strategies.map((s) => s.name).join(", ");
        throw badRequest(`unknown strategy '${strategy}'; known: ${known}`);
    }
    const names = (declared.options || []).map((o) => o.name);
    for (const key of Object.keys(options || {})) {
        if (!names.includes(key)) {
            throw badRequest(`strategy ${strategy} has no option '${key}'; known: ${names.join(", ")}`);
        }
    }
}

async function resolve(body, settings, run = runAcm, strategies = null) {
    const req = validateResolveBody(body);
    if (req.strategy !== null && strategies !== null) {
        checkAgainstManifest(await strategies(settings), req.strategy, req.options);
    }
    const args = buildArgs("resolve", req, settings);
    const { stdout, stderr } = await run(args, JSON.stringify(req.flows), settings);
    let after = parseJson(stdout, settings, null);
    if (after && !Array.isArray(after) && Array.isArray(after.flows)) after = after.flows;
    if (!Array.isArray(after)) {
        throw new BridgeError(502, { error: `ACM analyzer '${settings.python}' did not print a flows array`, python: settings.python, hint: HINT });
    }
    const diff = diffFlows(req.flows, after);
    return { add: diff.add, change: diff.change, remove: diff.remove, plan: planLines(stderr) };
}

function sendError(res, err, log) {
    if (err instanceof BridgeError) {
        for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
        res.status(err.status).json(err.body);
        return;
    }
    if (log) log.warn(`acm-bridge: ${err && err.message}`);
    res.status(500).json({ error: "internal error in acm-bridge" });
}

function handler(fn, getSettings, limiter, log) {
    if (log) bridgeLog = log;
    return function (req, res) {
        let settings;
        try {
            settings = getSettings();
        } catch (err) {
            sendError(res, err, log);
            return;
        }
        // 'close' before the answer is written: the client has gone (editor reloaded, request cancelled).
        const gone = new AbortController();
        if (typeof res.on === "function") {
            res.on("close", () => { if (!res.writableEnded) gone.abort(); });
        }
        const run = (args, input, s) => limiter.run(
            (release) => runAcm(args, input, s, { signal: gone.signal, onExit: release }), gone.signal);
        Promise.resolve()
            .then(() => fn(req.body, settings, run))
            .then((doc) => { if (!gone.signal.aborted) res.json(doc); })
            .catch((err) => { if (!gone.signal.aborted) sendError(res, err, log); });
    };
}

module.exports = function (RED) {
    const log = RED.log;
    const userDir = RED.settings && typeof RED.settings.userDir === "string" ? RED.settings.userDir : undefined;
    const getSettings = () => resolveSettings(RED.settings && RED.settings.acm, process.env, userDir);
    // One limiter for all the endpoints, sized once: settings.js is read at start-up.
    const limits = getSettings();
    const limiter = new RunLimiter(limits.maxRuns, limits.maxQueue);
    const read = RED.auth.needsPermission("flows.read");
    const write = RED.auth.needsPermission("flows.write");

    const strategies = strategiesOnce(
        (args, input, s) => limiter.run((release) => runAcm(args, input, s, { onExit: release })));

    RED.httpAdmin.post("/acm/analyze", read, handler(analyze, getSettings, limiter, log));
    RED.httpAdmin.post("/acm/plan", read, handler(plan, getSettings, limiter, log));
    RED.httpAdmin.post("/acm/resolve", write, handler(
        (body, settings, run) => resolve(body, settings, run, strategies), getSettings, limiter, log));
    RED.httpAdmin.get("/acm/strategies", read, handler(
        (body, settings) => strategies(settings), getSettings, limiter, log));

    RED.plugins.registerPlugin("acm-bridge", {
        type: "acm-bridge",
        onadd() {
            if (log) {
                const s = getSettings();
                log.info(`acm-bridge: ACM analyzer '${[s.python, ISOLATED, ...s.args].join(" ")}' in ${s.cwd},`
                    + ` at most ${s.maxRuns} at a time and ${s.maxQueue} waiting (POST /acm/analyze, /acm/plan, /acm/resolve;`
                    + " GET /acm/strategies)");
            }
        },
    });
};

module.exports._internal = {
    buildArgs, runAcm, runProcess, poolFor, pools, operationOf, diffFlows, validateResolveBody, validateFlowsBody, resolveSettings,
    parseJson, analyze, plan, resolve, strategiesOnce, checkAgainstManifest, BridgeError, RunLimiter,
    HINT, DEFAULTS, ISOLATED, STRATEGY_NAME,
};
