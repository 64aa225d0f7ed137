// Fake Node-RED function-node sandbox for the ACM resolver templates.
//
// A template (acm/data/resolvers/common.js followed by <strategy>.js) is the
// *body* of a function node.
// It is wrapped and run exactly as Node-RED 4's core function node does
// (@node-red/nodes/core/function/10-function.js): an async function
// `(msg, __send__, __done__)` with a per-call `node` object, evaluated with
// node:vm in a per-node context whose globals are the sandbox below
// (context, flow, global, env, setTimeout/clearTimeout, Date, ...).
// Time is fake: Date.now() and the timers follow a clock that tests advance.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const util = require("node:util");
const vm = require("node:vm");
const assert = require("node:assert/strict");
const bridgeNode = require("../../nodered-bridge/acm-resolver.js");

// ACM_RESOLVER_NODE=native: every resolver test runs the native acm-resolver node
// (nodered-bridge) instead of a function node, over the same templates.
const NATIVE = process.env.ACM_RESOLVER_NODE === "native";

const DATA = path.join(__dirname, "..", "..", "acm", "data");
const RESOLVERS = path.join(DATA, "resolvers");

// The strategy manifest (acm/data/strategies.json), the one declaration of every
// strategy: its template file and options. A strategy's body is common.js + "\n" +
// its template, as acm/rewrite/resolve.py template() builds it; other templates stand alone.
const MANIFEST = JSON.parse(fs.readFileSync(path.join(DATA, "strategies.json"), "utf8"));
const STRATEGIES = MANIFEST.strategies.map((s) => s.name);

function templateSource(strategy) {
    const declared = MANIFEST.strategies.find((s) => s.name === strategy);
    const text = fs.readFileSync(path.join(RESOLVERS, declared ? declared.template : strategy + ".js"), "utf8");
    if (!declared) return text;
    return fs.readFileSync(path.join(RESOLVERS, "common.js"), "utf8") + "\n" + text;
}

// Options of a strategy as the policy checker completes them: each option's default,
// required ones from `given` (a test's choice) or a sample value of their type.
function defaultOptions(strategy, given = {}) {
    const declared = MANIFEST.strategies.find((s) => s.name === strategy);
    const sample = {duration: 1000, texts: ["open"], applications: ["comfort"], bool: true, value: "on", text: "x"};
    const out = {};
    for (const o of declared.options) {
        out[o.name] = o.required ? (o.type === "word" ? o.words[0] : sample[o.type]) : o.default;
    }
    for (const key of Object.keys(declared.derived || {})) out[key] = null;
    return Object.assign(out, given);
}

// The wrapper Node-RED 4 puts around the function body (same text, same order).
function wrap(body) {
    return "var results = null;" +
        "results = (async function(msg,__send__,__done__){ " +
        "var __msgid__ = msg._msgid;" +
        "var node = {" +
        "id:__node__.id," +
        "name:__node__.name," +
        "log:__node__.log," +
        "error:__node__.error," +
        "warn:__node__.warn," +
        "debug:__node__.debug," +
        "trace:__node__.trace," +
        "on:__node__.on," +
        "status:__node__.status," +
        "send:function(msgs,cloneMsg){ __node__.send(__send__,__msgid__,msgs,cloneMsg);}," +
        "done:__done__" +
        "};\n" +
        body + "\n" +
        "})(msg,__send__,__done__);";
}

class Clock {
    // early: timers fire this many ms before they are due, as Node's do when the
    // event loop's cached clock lags Date.now() (a busy loop iteration).
    constructor(start, early = 0) { this.now = start; this.timers = []; this.seq = 0; this.early = early; }
    set(fn, ms) {
        // As Node does: a delay beyond 2^31-1 ms (24.8 days) becomes 1 ms.
        const asked = Number(ms) || 0;
        const delay = asked > 0x7fffffff ? 1 : Math.max(0, asked);
        const t = {id: ++this.seq, at: this.now + Math.max(delay > 1 ? 1 : 0, delay - this.early), fn};
        this.timers.push(t);
        return t.id;
    }
    clear(id) { this.timers = this.timers.filter((t) => t.id !== id); }
    // Move time forward, firing due timers in time order (ties in creation order).
    advance(ms) {
        const end = this.now + ms;
        for (;;) {
            const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
            if (!due) break;
            this.clear(due.id);
            this.now = due.at;
            due.fn();
        }
        this.now = end;
    }
}

let idCounter = 0;

// Node context stores. "json" (the default): every value goes through JSON when it is
// set and read, so a template cannot depend on keeping live references in context.
// "memory": keeps the very object it is given, as Node-RED's memory store does.
// "file": Node-RED's localfilesystem store with its cache (the default there): the
// cache keeps the very object, a set marks the context for saving, and flush() (the
// store's flushInterval, and its close) writes the cache as JSON to "disk"; a node
// restarted over it reads what was written.
class Store {
    constructor(kind = "json") {
        this.kind = kind;
        this.values = new Map();  // json: key -> JSON text; memory, file: key -> value
        this.disk = new Map();    // file: key -> JSON text, as last flushed
        this.dirty = false;
        this.sets = 0;            // how many times a value was set
    }
    get(k) {
        if (!this.values.has(k)) return undefined;
        return this.kind === "json" ? JSON.parse(this.values.get(k)) : this.values.get(k);
    }
    set(k, v) {
        this.sets++;
        if (v === undefined) this.values.delete(k);
        else this.values.set(k, this.kind === "json" ? JSON.stringify(v) : v);
        this.dirty = true;
    }
    flush() {
        if (this.kind !== "file" || !this.dirty) return;
        this.disk = new Map(Array.from(this.values, ([k, v]) => [k, JSON.stringify(v)]));
        this.dirty = false;
    }
    // What a restarted Node-RED starts from: file: the disk; memory: nothing (a
    // restart of the node alone, a redeploy, keeps the memory store: use the same one).
    restarted() {
        const s = new Store(this.kind);
        if (this.kind === "file") {
            this.flush();
            for (const [k, v] of this.disk) s.values.set(k, JSON.parse(v));
            s.disk = new Map(this.disk);
        }
        return s;
    }
    // The stored value as JSON text (what a persistent store would write).
    text(k) { return this.values.has(k) ? (this.kind === "json" ? this.values.get(k) : JSON.stringify(this.values.get(k))) : undefined; }
}

// Create one function node running `strategy`'s template.
// env: value of ACM_RESOLVER (object -> JSON text; undefined -> not set).
// opts: start (the clock's time), early (see Clock), store ("json", "memory", "file"
// or a Store: the context store of an earlier node, as after a restart), clock (an
// earlier node's clock).
function createNode(strategy, config, opts = {}) {
    const clock = opts.clock || new Clock(opts.start || 1_700_000_000_000, opts.early || 0);
    const text = (c) => (c === undefined ? undefined : (typeof c === "string" ? c : JSON.stringify(c)));
    let envText = text(config);
    const closers = [];  // node.on("close", ...) handlers
    const store = opts.store instanceof Store ? opts.store : new Store(opts.store);
    const mine = new Set();  // ids of the timers this sandbox started (cleared on close)
    const rec = {emitted: [], arrays: [], statuses: [], errors: [], warnings: [], logs: []};
    const nodeId = "n" + (++idCounter);

    // What Node-RED's sendResults does with a returned / node.send()-ed value.
    function sendResults(send, msgid, msgs) {
        if (msgs === null || msgs === undefined) return;
        if (!Array.isArray(msgs)) msgs = [msgs];
        let count = 0;
        msgs.forEach((m, port) => {
            if (m === null || m === undefined) return;
            for (const one of Array.isArray(m) ? m : [m]) {
                if (one === null || one === undefined) continue;
                if (typeof one !== "object" || Array.isArray(one)) {
                    rec.errors.push("non-message returned");
                    continue;
                }
                one._msgid = msgid;
                rec.emitted.push({t: clock.now, port, msg: one});
                count++;
            }
        });
        if (count > 0) send(msgs);
    }
    const runtimeNode = {
        error: (e) => rec.errors.push(String(e && e.message ? e.message : e)),
        warn: (w) => rec.warnings.push(String(w)),
        log: (l) => rec.logs.push(String(l)),
    };
    class FakeDate extends Date {
        constructor(...a) { if (a.length) super(...a); else super(clock.now); }
        static now() { return clock.now; }
    }
    const ctx = {
        get: (k) => store.get(k),
        set: (k, v) => store.set(k, v),
        keys: () => Array.from(store.values.keys()),
    };
    const sandbox = {
        console, util, Buffer, Date: FakeDate,
        RED: {util: {cloneMessage: (m) => structuredClone(m)}},
        __node__: {
            id: nodeId, name: "resolver",
            log: runtimeNode.log, error: runtimeNode.error, warn: runtimeNode.warn,
            debug: () => {}, trace: () => {},
            send: (send, id, msgs) => sendResults(send, id, msgs),
            on: (event, fn) => { if (event === "close") closers.push(fn); },
            status: (s) => rec.statuses.push(s),
        },
        context: ctx,
        flow: {get: () => undefined, set: () => {}, keys: () => []},
        global: {get: () => undefined, set: () => {}, keys: () => []},
        env: {get: (name) => (name === "ACM_RESOLVER" ? envText : undefined)},
        setTimeout: (fn, ms, ...args) => {
            const id = clock.set(() => {
                mine.delete(id);
                try { fn(...args); } catch (err) { runtimeNode.error(err); }
            }, ms);
            mine.add(id);
            return id;
        },
        clearTimeout: (id) => { mine.delete(id); clock.clear(id); },
    };
    let msgSeq = 0;
    const deliver = NATIVE
        ? nativeNode(strategy, sandbox, FakeDate, nodeId, (msgs) => {
            // what the node sends (returned, or from a timer: its id is already on it)
            const first = (Array.isArray(msgs) ? msgs : [msgs]).flat().find((m) => m);
            sendResults((out) => rec.arrays.push(out), first ? first._msgid : undefined, msgs);
        })
        : functionNode(strategy, sandbox);
    return {
        rec, clock, store,
        // Deliver one message; resolves to the function's return value (after sendResults).
        async input(msg) {
            msg = Object.assign({_msgid: "m" + (++msgSeq)}, msg);
            return deliver(msg, (msgs) => rec.arrays.push(msgs), sendResults);
        },
        advance(ms) { clock.advance(ms); },
        // Change ACM_RESOLVER without restarting the node (Node-RED does not do that: a
        // changed group restarts its nodes, see restart()).
        reconfigure(c) { envText = text(c); },
        // Close the node as Node-RED does: its close handlers, then the timers its
        // sandbox started are cleared.
        close() {
            for (const fn of closers) fn();
            for (const id of mine) clock.clear(id);
            mine.clear();
        },
        // A redeploy that restarts the node (config: the group env then, by default the
        // same): closed, and a new node (new sandbox) over the same context store and clock.
        restart(c = config) {
            this.close();
            return createNode(strategy, c, {clock, store});
        },
        // Timers pending now, and the time the earliest one is due.
        pending() { return clock.timers.length; },
        nextDue() { return Math.min(...clock.timers.map((t) => t.at)); },
        now() { return clock.now; },
        status() { const s = rec.statuses[rec.statuses.length - 1]; return s ? s.text : undefined; },
        // Payloads emitted so far, with their port, as [port, payload] pairs.
        out() { return rec.emitted.map((e) => [e.port, e.msg.payload]); },
    };
}

// The resolver as a function node: the template in a vm context whose globals are
// `sandbox`, wrapped as Node-RED wraps a function body; deliver(msg, send, sendResults)
// runs one message.
function functionNode(strategy, sandbox) {
    const context = vm.createContext(sandbox);
    const script = new vm.Script(wrap(templateSource(strategy)), {filename: "Function node:" + strategy});
    return async (msg, send, sendResults) => {
        context.msg = msg;
        context.__send__ = send;
        context.__done__ = () => {};
        script.runInContext(context);
        const results = await context.results;
        sendResults(send, msg._msgid, results);
        return results;
    };
}

// The resolver as nodered-bridge's native acm-resolver node, with the same context,
// env, status, close handlers and clock as the function node gets from `sandbox`
// (ACM_RESOLVER_NODE=native runs every test this way). `sent` records what the node
// sends; deliver(msg) resolves to what it sent for msg (null: nothing), and rejects
// with the error it reported to done().
function nativeNode(strategy, sandbox, FakeDate, nodeId, sent) {
    const n = sandbox.__node__;
    let Resolver = null;
    const RED = {
        nodes: {
            createNode(node, config) {
                let input = null;
                Object.assign(node, {
                    id: config.id, name: config.name, _path: config.id,
                    log: n.log, error: n.error, warn: n.warn, debug: n.debug, trace: n.trace,
                    status: n.status, send: sent,
                    context: () => sandbox.context,
                    on(event, fn) { if (event === "input") input = fn; else n.on(event, fn); },
                    receive(msg, send, done) { input(msg, send, done); },
                });
            },
            registerType(type, constructor) { assert.equal(type, "acm-resolver"); Resolver = constructor; },
        },
        util: {
            getSetting: (node, name) => sandbox.env.get(name),
            cloneMessage: sandbox.RED.util.cloneMessage,
        },
    };
    bridgeNode(RED, {setTimeout: sandbox.setTimeout, clearTimeout: sandbox.clearTimeout, Date: FakeDate});
    const node = new Resolver({id: nodeId, type: "acm-resolver", name: "resolver", strategy, outputs: 1});
    return async (msg) => {
        let out = null, failed = null;
        node.receive(msg, (msgs) => { out = msgs; sent(msgs); }, (err) => { failed = err || null; });
        if (failed !== null) throw failed instanceof Error ? failed : new Error(String(failed));
        return out;
    };
}

// A command as the tag change node in front of the resolver leaves it (acm resolve):
// msg._acm is the tag's JSON text (target, role, and app when the wire carries one
// application, command for a guard whose node fixes it); what else the flows say
// about a command (release, source) is in msg.acm. extra: either kind of key.
const TAG_KEYS = ["target", "role", "app", "command"];
function cmd(app, payload, extra = {}) {
    const tag = {target: 0, role: "command"};
    if (app !== undefined) tag.app = app;
    const acm = {};
    for (const [k, v] of Object.entries(extra)) (TAG_KEYS.includes(k) ? tag : acm)[k] = v;
    const msg = {payload, topic: "home/heater/set", _acm: JSON.stringify(tag)};
    if (Object.keys(acm).length) msg.acm = acm;
    return msg;
}

// The same command as the three-rule tags of earlier ACM versions (and the
// cross-runtime entries) leave it: everything in msg.acm.
function legacy(app, payload, extra = {}) {
    const acm = Object.assign({target: 0}, extra);
    if (app !== undefined) acm.app = app;
    return {payload, topic: "home/heater/set", acm};
}

module.exports = {NATIVE, createNode, cmd, legacy, wrap, templateSource, defaultOptions, Store, RESOLVERS, STRATEGIES, MANIFEST};
