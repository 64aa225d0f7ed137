// ACM resolver: lock. The first application to command holds the actuator for
// options.hold ms; other applications' commands are dropped (counted) or queued.
// Fixed template: everything specific to one resolution comes from the group env
// variable ACM_RESOLVER (JSON, data only); nothing from a message is evaluated.
// State (node context, plain JSON): "st" = {owner, until, count (dropped during the
// current hold), total, queue: [{app, m, t}], last (last target port)}.
const env0 = env.get("ACM_RESOLVER");
if (env0 === undefined || env0 === null || env0 === "") {
    node.error("ACM resolver: group env variable ACM_RESOLVER is not set; message dropped", msg);
    node.status({fill: "red", shape: "ring", text: "ACM_RESOLVER missing"});
    return null;
}
const raw = typeof env0 === "string" ? env0 : JSON.stringify(env0);  // env type "str" expected
if (context.get("cfgRaw") !== raw) {
    // Group env can change without the function node being restarted: re-parse and
    // start from a clean state, the old one belongs to another configuration.
    let parsed;
    try { parsed = JSON.parse(raw); } catch (e) {
        node.error("ACM resolver: ACM_RESOLVER is not valid JSON (" + e.message + "); message dropped", msg);
        return null;
    }
    if (!parsed || parsed.strategy !== "lock") {
        node.error("ACM resolver: ACM_RESOLVER strategy is not \"lock\"; message dropped", msg);
        return null;
    }
    context.set("cfg", parsed);
    context.set("st", {owner: null, until: 0, count: 0, total: 0, queue: [], last: 0});
    context.set("cfgRaw", raw);
}
const cfg = context.get("cfg");
const opt = cfg.options || {};
const hold = typeof opt.hold === "number" && opt.hold > 0 ? opt.hold : 0;
const queueMode = opt.mode === "queue";
// Decision: the holder's own later commands pass AND renew the hold (a busy
// holder keeps the actuator); options.renew = false gives a fixed window instead.
const renew = opt.renew !== false;

function show(v) { const s = typeof v === "string" ? v : JSON.stringify(v); return String(s).length > 40 ? String(s).slice(0, 39) + "…" : String(s); }
function ports(m, target) {
    const out = new Array(cfg.targets || 1).fill(null);
    out[target] = m;
    return out;
}
function status(st) {
    if (st.owner === null) {
        node.status({fill: "green", shape: "ring", text: cfg.label + ": free"});
    } else {
        const extra = queueMode ? st.queue.length + " queued" : st.count + " dropped";
        node.status({fill: "yellow", shape: "dot", text: cfg.label + ": locked by " + st.owner + " (" + extra + ")"});
    }
}
// Give the lock to the app of entry e and pass its command.
function grant(st, e) {
    st.owner = e.app;
    st.until = Date.now() + hold;
    st.count = 0;
    setTimeout(onTimer, hold);
    return ports(e.m, e.t);
}
// At the end of the hold the oldest queued app takes the lock; otherwise it is free.
// Checked by the timer and, in case a timer was lost (restart), on every message.
function expire(st) {
    if (st.owner === null || Date.now() < st.until) return null;
    st.owner = null;
    const next = st.queue.shift();
    return next ? grant(st, next) : null;
}
function onTimer() {
    if (context.get("cfgRaw") !== raw) return;  // configuration replaced meanwhile
    const st = context.get("st");
    const out = expire(st);
    status(st);
    context.set("st", st);
    if (out) node.send(out);
}

const st = context.get("st");
const acm = (msg.acm && typeof msg.acm === "object") ? msg.acm : {};
const app = typeof acm.app === "string" && acm.app !== "" ? acm.app : "(unknown)";
let target = st.last;
if (acm.target !== undefined && acm.role !== "guard") {
    if (!Number.isInteger(acm.target) || acm.target < 0 || acm.target >= (cfg.targets || 1)) {
        node.warn("ACM resolver: msg.acm.target " + JSON.stringify(acm.target) + " out of range; message dropped");
        return null;
    }
    target = acm.target;
}
const value = acm.command !== undefined ? acm.command : msg.payload;
const m = Object.assign({}, msg);  // the actuator gets a clean shallow copy: no msg.acm, payload = value
delete m.acm;
delete m._msgid;
m.payload = value;
st.last = target;
const late = expire(st);
if (late) node.send(late);
const e = {app: app, m: m, t: target};
let ret = null;
if (st.owner === null) {
    ret = grant(st, e);
} else if (st.owner === app) {
    if (renew) { st.until = Date.now() + hold; setTimeout(onTimer, hold); }
    ret = ports(e.m, e.t);
} else if (queueMode) {
    // One entry per app: its latest command replaces the earlier one, keeping its place.
    const i = st.queue.findIndex((q) => q.app === app);
    if (i >= 0) st.queue[i] = e; else st.queue.push(e);
} else {
    st.count++;
    st.total++;
}
status(st);
context.set("st", st);
return ret;
