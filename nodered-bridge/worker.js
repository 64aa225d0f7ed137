/**
 * The bridge's long-lived analyzers: `python -I -m acm serve --stdio` children that
 * answer one JSON line per request, so that a click in the editor does not pay for
 * Python's start-up and imports every time.
 *
 *   AcmWorker   one child process at a time, a queue, one request in flight; the child
 *               is started on the first request, replaced when it dies, when a request
 *               times out (it is killed), and after it has answered `maxRequests`
 *               (it says so in its last answer and exits)
 *   WorkerPool  up to `size` AcmWorkers, each started when a request finds the others busy
 *
 * Protocol (acm/cli/serve.py): the child prints {"protocol": "acm.serve/1", "ready": true}
 * once warm; then each line {"id", "op", "args", "input"} gets one line {"id", "code",
 * "stdout", "stderr"[, "last": true]}: the exit code and output of `acm ARGS` run on
 * INPUT as a fresh process would print them.
 *
 * A request settles with {code, stdout, stderr} (any exit code: the caller decides what
 * a non-zero one means) or rejects with a WorkerError whose `kind` says why:
 *   start        the child could not be started (python missing, not executable, no folder)
 *   exit         the child ended while the request was in flight (a crash; a kill from
 *                outside is retried once on a fresh child first)
 *   timeout      no answer within `timeout` ms: the child was killed
 *   output       the answer is larger than `maxOutput` bytes
 *   protocol     the child printed something that is not an answer
 *   unsupported  the ACM behind `python` has no `serve` command (an older one)
 *   aborted      the request's signal aborted while it was still queued
 *   closed       the worker was closed
 * Messages are the same words the bridge used when it started a process per request
 * (`say`, shared with acm-bridge.js).
 */
"use strict";

const childProcess = require("child_process");
const fs = require("fs");
const { EventEmitter } = require("events");

// Isolated mode: neither the working directory nor PYTHONPATH nor the user's
// site-packages can put another `acm` package in front of the installed one.
const ISOLATED = "-I";
const PROTOCOL = "acm.serve/1";
const MAX_STDERR = 64 * 1024;
const DEFAULT_TIMEOUT = 20000;
const DEFAULT_MAX_OUTPUT = 50 * 1024 * 1024;
// The answer line escapes the output (a quote or a newline as two characters, other
// text as \uXXXX): a line this much larger than maxOutput cannot hold an allowed answer.
const ESCAPED = 6;

/** What users read when the analyzer fails (a worker and a one-off process alike). */
const say = {
    notFolder: (python, cwd) => `cannot run the ACM analyzer '${python}': its working directory '${cwd}' (acm.cwd) is not a folder`,
    cannotStart: (python, err) => `cannot start the ACM analyzer with '${python}': ${err.code || err.message}`,
    startError(python, err) {
        if (err.code === "ENOENT") return `ACM analyzer not found: '${python}' does not exist or is not on PATH`;
        if (err.code === "EACCES") return `ACM analyzer cannot be run: '${python}' is not executable`;
        return `cannot run the ACM analyzer with '${python}': ${err.code || err.message}`;
    },
    timedOut: (python, ms) => `ACM analyzer '${python}' timed out after ${ms} ms (raise acm.timeout in settings.js)`,
    tooMuch: (python, bytes) => `ACM analyzer '${python}' wrote more than ${bytes} bytes; stopped`,
    exited(python, code, signal, stderr) {
        const line = lastLine(stderr);
        const why = code === null || code === undefined ? `was killed (${signal})` : `exited with code ${code}`;
        return line ? `ACM analyzer '${python}' ${why}: ${line}` : `ACM analyzer '${python}' ${why}`;
    },
    notAWorker: (python, what) => `ACM analyzer '${python}' did not answer as \`acm serve --stdio\` does (${what})`,
    unsupported: (python) => `ACM analyzer '${python}' has no \`acm serve\` command (an older ACM)`,
};

function lastLine(text) {
    const lines = String(text || "").split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    return lines.length ? lines[lines.length - 1] : "";
}

class WorkerError extends Error {
    constructor(kind, message) {
        super(message);
        this.kind = kind;
    }
}

/**
 * One analyzer child at a time and the requests for it, answered in order.
 * options: {python, args: what follows `-I` before `serve` (["-m", "acm"]), cwd,
 *           maxRequests: answers per child, 0 for no limit, spawn: child_process.spawn}
 * Events: "spawn" (child process), "ready" (its hello line), "gone" (child process, why).
 */
class AcmWorker extends EventEmitter {
    constructor(options) {
        super();
        this.python = options.python;
        this.args = Array.isArray(options.args) ? options.args.slice() : ["-m", "acm"];
        this.cwd = options.cwd;
        this.maxRequests = Number.isInteger(options.maxRequests) && options.maxRequests > 0 ? options.maxRequests : 0;
        this.spawn = options.spawn || childProcess.spawn;
        this.proc = null; // the child and what we know of it (see _start)
        this.queue = [];
        this.current = null; // the request in flight
        this.nextId = 1;
        this.closed = false;
        this.started = 0; // children started, for tests and logs
    }

    /** Requests queued or in flight. */
    get load() {
        return this.queue.length + (this.current ? 1 : 0);
    }

    /** The pid of the live child, or null. */
    get pid() {
        return this.proc && !this.proc.gone && this.proc.child ? this.proc.child.pid : null;
    }

    /**
     * Runs `acm ARGS` in the worker with `input` on its standard input.
     * opts: {timeout, maxOutput, signal (AbortSignal: leaves the queue; a request in
     * flight runs to its end), onDone(err) (called once when the worker no longer works
     * on it: answered, or its child has exited after a kill; err is the WorkerError or null)}.
     */
    request(op, args, input, opts) {
        opts = opts || {};
        return new Promise((resolve, reject) => {
            const job = {
                op, args, input: typeof input === "string" ? input : "",
                timeout: Number.isFinite(opts.timeout) && opts.timeout > 0 ? opts.timeout : DEFAULT_TIMEOUT,
                maxOutput: Number.isFinite(opts.maxOutput) && opts.maxOutput > 0 ? opts.maxOutput : DEFAULT_MAX_OUTPUT,
                signal: opts.signal || null, onDone: opts.onDone || null,
                resolve, reject, id: null, timer: null, settled: false, done: false, error: null, onAbort: null,
            };
            if (this.closed) {
                this._fail(job, new WorkerError("closed", "the ACM worker is closed"));
                this._done(job);
                return;
            }
            if (job.signal && job.signal.aborted) {
                this._fail(job, new WorkerError("aborted", "the client closed the request"));
                this._done(job);
                return;
            }
            if (job.signal) {
                job.onAbort = () => {
                    const i = this.queue.indexOf(job);
                    if (i < 0) return; // in flight: it runs to its end, its answer is dropped
                    this.queue.splice(i, 1);
                    this._fail(job, new WorkerError("aborted", "the client closed the request"));
                    this._done(job);
                };
                job.signal.addEventListener("abort", job.onAbort, { once: true });
            }
            this.queue.push(job);
            this._pump();
        });
    }

    /** Starts the child now (else the first request does). */
    start() {
        if (!this.closed && (!this.proc || this.proc.gone || this.proc.killedFor)) this._start();
        return this;
    }

    /** No more requests: queued ones are refused, the child ends when its input does. */
    close() {
        this.closed = true;
        for (const job of this.queue.splice(0)) {
            this._fail(job, new WorkerError("closed", "the ACM worker is closed"));
            this._done(job);
        }
        if (this.proc && !this.proc.gone) {
            try { this.proc.child.stdin.end(); } catch (e) { /* already closed */ }
        }
        this._hold();
    }

    _pump() {
        this._dispatch();
        this._hold();
    }

    _dispatch() {
        while (!this.current && this.queue.length && !this.closed) {
            const proc = this.proc;
            if (proc && proc.retiring && !proc.gone) return; // its successor starts when it has exited
            if (!proc || proc.gone || proc.killedFor) {
                const error = this._start();
                if (error) {
                    // Nothing can run: answer every waiting request alike, as a process per
                    // request would have.
                    for (const job of this.queue.splice(0)) {
                        this._fail(job, error);
                        this._done(job);
                    }
                    return;
                }
            }
            this._send(this.queue.shift());
        }
    }

    /** A new child; returns a WorkerError when it cannot even be started. */
    _start() {
        let folder = null;
        try { folder = fs.statSync(this.cwd); } catch (e) { /* reported below */ }
        // spawn reports a missing working directory as ENOENT, as if python were missing
        if (!folder || !folder.isDirectory()) return new WorkerError("start", say.notFolder(this.python, this.cwd));
        const argv = [ISOLATED, ...this.args, "serve", "--stdio"];
        if (this.maxRequests) argv.push("--max-requests", String(this.maxRequests));
        let child;
        try {
            child = this.spawn(this.python, argv, {
                shell: false, cwd: this.cwd, stdio: ["pipe", "pipe", "pipe"], windowsHide: true,
            });
        } catch (err) {
            return new WorkerError("start", say.cannotStart(this.python, err));
        }
        const proc = {
            child, chunks: [], size: 0, stderr: "", ready: false, retiring: false,
            killedFor: null, gone: false, answered: 0, waiting: [], startError: null,
        };
        this.proc = proc;
        this.started += 1;
        proc.held = true;
        this._hold();
        child.on("error", (err) => {
            // Not started (ENOENT, EACCES, ...); a failed SIGKILL to our own child does not happen.
            proc.startError = err;
            this._gone(proc, null, null);
        });
        child.on("close", (code, signal) => this._gone(proc, code, signal));
        child.stdin.on("error", () => { /* EPIPE when the child has gone: reported by 'close' */ });
        child.stdout.on("data", (chunk) => this._data(proc, chunk));
        child.stderr.on("data", (chunk) => {
            proc.stderr = (proc.stderr + chunk.toString("utf8")).slice(-MAX_STDERR);
        });
        this.emit("spawn", child);
        return null;
    }

    /**
     * An idle worker does not keep Node-RED (or a test) running: its child and pipes keep
     * the event loop alive only while requests wait or run. When Node-RED exits, the
     * child reads the end of its input and exits too.
     */
    _hold() {
        const proc = this.proc;
        if (!proc || proc.gone) return;
        const busy = this.load > 0;
        if (busy === proc.held) return;
        proc.held = busy;
        const { child } = proc;
        for (const handle of [child, child.stdin, child.stdout, child.stderr]) {
            if (handle && typeof handle.ref === "function") {
                if (busy) handle.ref(); else handle.unref();
            }
        }
    }

    _send(job) {
        const proc = this.proc;
        this.current = job;
        job.id = this.nextId++;
        job.proc = proc;
        if (job.signal && job.onAbort) job.signal.removeEventListener("abort", job.onAbort);
        job.timer = setTimeout(() => this._kill(proc, "timeout"), job.timeout);
        const line = JSON.stringify({ id: job.id, op: job.op, args: job.args, input: job.input });
        try {
            proc.child.stdin.write(line + "\n");
        } catch (err) {
            // a destroyed pipe: 'close' answers for it
        }
    }

    _data(proc, chunk) {
        if (proc !== this.proc || proc.killedFor) return;
        let start = 0;
        let nl = chunk.indexOf(10);
        while (nl >= 0) {
            proc.chunks.push(chunk.subarray(start, nl));
            const line = Buffer.concat(proc.chunks).toString("utf8");
            proc.chunks = [];
            proc.size = 0;
            this._line(proc, line);
            if (proc.killedFor || proc !== this.proc) return;
            start = nl + 1;
            nl = chunk.indexOf(10, start);
        }
        if (start < chunk.length) {
            const rest = chunk.subarray(start);
            proc.size += rest.length;
            proc.chunks.push(rest);
            const limit = this.current ? this.current.maxOutput : DEFAULT_MAX_OUTPUT;
            if (proc.size > ESCAPED * limit + 65536) this._kill(proc, "output");
        }
    }

    _line(proc, line) {
        if (!line.trim()) return;
        let msg;
        try {
            msg = JSON.parse(line);
        } catch (e) {
            this._kill(proc, "protocol", `a line that is not JSON: ${JSON.stringify(line.slice(0, 60))}`);
            return;
        }
        if (msg && typeof msg === "object" && msg.protocol === PROTOCOL && msg.ready === true && !proc.ready) {
            proc.ready = true;
            this.emit("ready", proc.child);
            return;
        }
        const job = this.current;
        if (!job || !msg || typeof msg !== "object" || msg.id !== job.id || !Number.isInteger(msg.code)
            || typeof msg.stdout !== "string" || typeof msg.stderr !== "string") {
            this._kill(proc, "protocol", job ? `an answer that is not for request ${job.id}` : "an answer nobody asked for");
            return;
        }
        proc.answered += 1;
        if (msg.last === true) {
            // It exits after this answer; the next request waits for its successor.
            proc.retiring = true;
            try { proc.child.stdin.end(); } catch (e) { /* already closed */ }
        }
        this.current = null;
        clearTimeout(job.timer);
        if (Buffer.byteLength(msg.stdout, "utf8") > job.maxOutput) {
            this._fail(job, new WorkerError("output", say.tooMuch(this.python, job.maxOutput)));
        } else {
            this._settle(job, { code: msg.code, stdout: msg.stdout, stderr: msg.stderr });
        }
        this._done(job);
        this._pump();
    }

    /** Kill the child for `why`; its request is answered now, its slot freed when it has exited. */
    _kill(proc, why, detail) {
        if (proc.gone || proc.killedFor) return;
        proc.killedFor = why;
        try { proc.child.kill("SIGKILL"); } catch (e) { /* already gone */ }
        // A grandchild could keep the pipes open after the child is gone: stop reading now.
        proc.child.stdout.destroy();
        proc.child.stderr.destroy();
        const job = this.current;
        if (job && job.proc === proc) {
            this.current = null;
            clearTimeout(job.timer);
            const error = why === "timeout" ? new WorkerError("timeout", say.timedOut(this.python, job.timeout))
                : why === "output" ? new WorkerError("output", say.tooMuch(this.python, job.maxOutput))
                    : new WorkerError("protocol", say.notAWorker(this.python, detail));
            this._fail(job, error);
            proc.waiting.push(job); // _done when the process has exited
        }
        this._pump();
    }

    _gone(proc, code, signal) {
        if (proc.gone) return;
        proc.gone = true;
        const job = this.current && this.current.proc === proc ? this.current : null;
        let error = null;
        if (proc.startError) {
            error = new WorkerError("start", say.startError(this.python, proc.startError));
        } else if (!proc.ready && code === 2 && /No such command .?serve/.test(proc.stderr)) {
            error = new WorkerError("unsupported", say.unsupported(this.python));
        } else {
            error = new WorkerError("exit", say.exited(this.python, code, signal, proc.stderr));
        }
        this.emit("gone", proc.child, proc.killedFor || (proc.retiring && error.kind === "exit" ? "retired" : error.kind));
        if (job && signal && !proc.killedFor && !proc.retiring && !job.retried && !this.closed
            && !(job.signal && job.signal.aborted)) { // a client gone meanwhile wants no retry
            // Killed from outside (the OOM killer, an admin, a stop) while idle or on this
            // request: that says nothing about the request, so it runs once more on a fresh
            // child. Python failing on the request exits with a code and is reported as is.
            job.retried = true;
            this.current = null;
            clearTimeout(job.timer);
            if (job.signal && job.onAbort) job.signal.addEventListener("abort", job.onAbort, { once: true });
            this.queue.unshift(job);
        } else if (job) {
            this.current = null;
            clearTimeout(job.timer);
            this._fail(job, error);
            this._done(job);
        }
        for (const waiting of proc.waiting.splice(0)) this._done(waiting);
        if (proc.startError || error.kind === "unsupported") {
            // No child can serve the others either: answer them alike.
            for (const queued of this.queue.splice(0)) {
                this._fail(queued, error);
                this._done(queued);
            }
            return;
        }
        // A child that retired after maxRequests is replaced at once, so the next click
        // finds a warm one; one that died is replaced by the next request.
        if (proc.retiring && proc === this.proc && !this.closed && !this.queue.length) this._start();
        this._pump();
    }

    _settle(job, value) {
        if (job.settled) return;
        job.settled = true;
        job.resolve(value);
    }

    _fail(job, error) {
        if (job.settled) return;
        job.settled = true;
        job.error = error;
        job.reject(error);
    }

    _done(job) {
        if (job.done) return;
        job.done = true;
        if (job.signal && job.onAbort) job.signal.removeEventListener("abort", job.onAbort);
        if (job.onDone) job.onDone(job.error);
    }
}

/** Up to `size` workers with the same options; a request goes to an idle one. */
class WorkerPool {
    constructor(size, options) {
        this.size = Number.isInteger(size) && size >= 1 ? size : 1;
        this.options = options;
        this.workers = [];
        this.unsupported = false; // set by the bridge when the ACM has no `serve`
    }

    request(op, args, input, opts) {
        let worker = this.workers.find((w) => w.load === 0);
        if (!worker && this.workers.length < this.size) {
            worker = new AcmWorker(this.options);
            this.workers.push(worker);
        }
        if (!worker) worker = this.workers.reduce((a, b) => (b.load < a.load ? b : a));
        return worker.request(op, args, input, opts);
    }

    close() {
        for (const w of this.workers) w.close();
    }
}

module.exports = { AcmWorker, WorkerPool, WorkerError, say, lastLine, ISOLATED, PROTOCOL, MAX_STDERR };
