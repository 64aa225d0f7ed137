/**
 * ACM bridge for Node-RED: the native resolver node, type "acm-resolver".
 *
 * It runs the same fixed templates as the function-node resolvers that `acm resolve`
 * writes by default (common.js followed by the strategy's file, from acm/data/
 * resolvers/), with the same configuration (the group env variable ACM_RESOLVER) and
 * the same state in its node context. What differs is where they run: compiled once
 * per strategy in Node-RED's own context, a message costs one function call, where a
 * function node enters its vm, builds its `node` object, and waits for a promise
 * before it sends. `acm resolve --native` writes these nodes; they need this package
 * in the runtime, the function-node resolvers need nothing but a stock Node-RED.
 *
 * The templates are read from the package (acm-data/, copied there when the package
 * is packed) or from the ACM checkout it was installed from (../acm/data/); nothing
 * from the flows is ever compiled: the node's `strategy` only picks one of the
 * strategies that acm/data/strategies.json lists.
 */
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

/**
 * Where the templates may be: a packed package's copy, then the checkout's, but only
 * if the folder above is an ACM checkout (installed from a registry, ".." is
 * node_modules, where a package named "acm" is nobody's templates).
 */
function dataDirs(here) {
    const dirs = [path.join(here, "acm-data")];
    const checkout = path.join(here, "..");
    if (fs.existsSync(path.join(checkout, "pyproject.toml")) &&
            fs.existsSync(path.join(checkout, "acm", "__init__.py"))) {
        dirs.push(path.join(checkout, "acm", "data"));
    }
    return dirs;
}
const DATA_DIRS = dataDirs(__dirname);
/**
 * The resolver's free variables, as a function node has them: the first five are
 * the node's, the last three the process's (the tests pass a fake clock's).
 */
const PARAMETERS = ["node", "msg", "env", "context", "RED", "setTimeout", "clearTimeout", "Date"];
const PROCESS = Object.freeze({setTimeout: setTimeout, clearTimeout: clearTimeout, Date: Date});

/**
 * The templates: {dir, files: strategy name -> template file}, or {error} (one line)
 * when no folder holds them. Read once per process.
 */
function findTemplates(dirs) {
    const tried = [];
    for (const dir of dirs) {
        const manifest = path.join(dir, "strategies.json");
        tried.push(manifest);
        let text;
        try { text = fs.readFileSync(manifest, "utf8"); } catch (e) { continue; }
        try {
            const files = new Map();
            for (const s of JSON.parse(text).strategies) {
                if (s && typeof s.name === "string" && typeof s.template === "string" &&
                        /^[a-z][a-z0-9-]*\.js$/.test(s.template)) {
                    files.set(s.name, s.template);
                }
            }
            return {dir: path.join(dir, "resolvers"), files: files};
        } catch (e) {
            return {error: `ACM resolver: ${manifest} is not a strategy manifest (${e.message})`};
        }
    }
    return {error: "ACM resolver: no resolver templates (looked for " + tried.join(", ") + ")"};
}

/**
 * A compiler of strategies: compile(name) returns {run, digest}: the resolver function
 * of strategy `name` (called with PARAMETERS, `this` = the node's own object, as a
 * function node calls the same text) and the digest of its text; or it throws an Error
 * whose message is one line.
 */
function compiler(dirs) {
    let templates = null;
    const compiled = new Map();
    return function compile(name) {
        const done = compiled.get(name);
        if (done !== undefined) return done;
        if (templates === null) templates = findTemplates(dirs);
        if (templates.error) throw new Error(templates.error);
        const file = typeof name === "string" ? templates.files.get(name) : undefined;
        if (file === undefined) {
            throw new Error(`ACM resolver: unknown strategy ${JSON.stringify(name)} (known: ` +
                [...templates.files.keys()].join(", ") + ")");
        }
        const text = fs.readFileSync(path.join(templates.dir, "common.js"), "utf8") + "\n" +
            fs.readFileSync(path.join(templates.dir, file), "utf8");
        const fn = new Function(...PARAMETERS, text);  // package files only (see above)
        const one = {run: fn, digest: digest(text)};
        compiled.set(name, one);
        return one;
    };
}

/** The digest acm writes as a native resolver's `template` (acm.rewrite.resolve). */
function digest(text) {
    return crypto.createHash("sha256").update(text, "utf8").digest("hex").slice(0, 16);
}

/**
 * What the templates see as `node`: the calls a function node offers them, bound to
 * the node. What it sends while a message is handled carries that message's id (as
 * a function node's node.send does); what a timer sends gets a new one. It does not
 * clone: the templates copy what they keep.
 */
function nodeApi(node, outputs) {
    const api = {
        current: undefined,  // the _msgid of the message being handled, as a function node's
        statusShown: false,
        id: node.id,
        name: node.name,
        path: node._path,
        outputCount: outputs,
        log: node.log.bind(node),
        error: node.error.bind(node),
        warn: node.warn.bind(node),
        debug: node.debug.bind(node),
        trace: node.trace.bind(node),
        on: node.on.bind(node),
        status: (s) => { api.statusShown = true; node.status(s); },
        send: (msgs) => {
            if (api.current !== undefined && msgs !== null && msgs !== undefined) {
                stamp(Array.isArray(msgs) ? msgs : [msgs], api.current);
            }
            node.send(msgs);
        },
    };
    return api;
}

/**
 * The timers a node's resolver gets, as a function node gives them: an error thrown by a
 * callback is the node's error (not an uncaught exception that would stop Node-RED),
 * and close() clears whatever is still pending when the node closes.
 */
function nodeTimers(node, globals) {
    const pending = new Set();
    return {
        setTimeout(fn, ms) {
            const id = globals.setTimeout(() => {
                pending.delete(id);
                try { fn(); } catch (err) { node.error(err, {}); }  // {}: a catch node sees it
            }, ms);
            pending.add(id);
            return id;
        },
        clearTimeout(id) {
            pending.delete(id);
            globals.clearTimeout(id);
        },
        close() {
            for (const id of pending) globals.clearTimeout(id);
            pending.clear();
        },
    };
}

/** Put the incoming message's id on every message in `out`, as a function node does. */
function stamp(out, id) {
    for (let i = 0; i < out.length; i++) {
        const port = out[i];
        if (port === null || port === undefined) continue;
        if (Array.isArray(port)) {
            for (const m of port) if (m !== null && typeof m === "object") m._msgid = id;
        } else if (typeof port === "object") {
            port._msgid = id;
        }
    }
}

/**
 * Node-RED calls this with RED; `globals` (setTimeout, clearTimeout, Date) and `dirs`
 * (where the templates are) are for the tests (tests/js/harness.js).
 */
module.exports = function (RED, globals = PROCESS, dirs = DATA_DIRS) {
    const compile = compiler(dirs);

    function AcmResolverNode(config) {
        RED.nodes.createNode(this, config);
        const node = this;
        const outputs = Number.isInteger(config.outputs) && config.outputs > 0 ? config.outputs : 1;
        const api = nodeApi(node, outputs);
        let run = null;
        let failure = null;
        try {
            const compiled = compile(config.strategy);
            run = compiled.run;
            if (typeof config.template === "string" && config.template !== compiled.digest) {
                node.warn("ACM resolver: this package's " + config.strategy + " template is not " +
                    "the one acm wrote this node for (node-red-acm-bridge and acm are different " +
                    "versions); running this package's");
            }
        } catch (err) {
            failure = err.message;
            node.error(failure);
            api.status({fill: "red", shape: "ring", text: "no template"});
        }
        const self = {};  // the templates keep their resolver here (`this` of the call)
        const env = {get: (name) => RED.util.getSetting(node, name)};
        const context = node.context();
        const timers = nodeTimers(node, globals);
        const later = timers.setTimeout, cancel = timers.clearTimeout, Clock = globals.Date;
        // Closing (a redeploy): no timer outlives the node, and its status goes as a
        // function node's does (the template saves its state on close itself).
        node.on("close", () => {
            timers.close();
            if (api.statusShown) node.status({});
        });
        node.on("input", function (msg, send, done) {
            if (run === null) {
                done(failure);
                return;
            }
            let out;
            api.current = msg._msgid;
            try {
                out = run.call(self, api, msg, env, context, RED, later, cancel, Clock);
            } catch (err) {
                done(err);
                return;
            } finally {
                api.current = undefined;
            }
            if (out !== null && out !== undefined) {
                if (!Array.isArray(out)) out = [out];
                stamp(out, msg._msgid);
                send(out);
            }
            done();
        });
    }
    RED.nodes.registerType("acm-resolver", AcmResolverNode);
};

// For the tests (test/resolver.test.js).
module.exports.findTemplates = findTemplates;
module.exports.compiler = compiler;
module.exports.nodeTimers = nodeTimers;
module.exports.dataDirs = dataDirs;
module.exports.DATA_DIRS = DATA_DIRS;
