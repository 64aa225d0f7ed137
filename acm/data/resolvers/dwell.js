// ACM resolver: dwell (anti-flapping). Last writer wins, but a change is passed no
// sooner than options.min ms after the previous passed change; an earlier change is
// held (only the latest) and passed when the dwell time is over.
// Fixed template: everything specific to one resolution comes from the group env
// variable ACM_RESOLVER (JSON, data only); nothing from a message is evaluated.
// State (node context, plain JSON): "st" = {last (JSON of the value last passed,
// null before the first), lastV, at (when it was passed), pend: {m, t, v} | null, tgt}.
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
    if (!parsed || parsed.strategy !== "dwell") {
        node.error("ACM resolver: ACM_RESOLVER strategy is not \"dwell\"; message dropped", msg);
        return null;
    }
    context.set("cfg", parsed);
    context.set("st", {last: null, lastV: null, at: 0, pend: null, tgt: 0});
    context.set("cfgRaw", raw);
}
const cfg = context.get("cfg");
const opt = cfg.options || {};
const min = typeof opt.min === "number" && opt.min > 0 ? opt.min : 0;

function show(v) { const s = typeof v === "string" ? v : JSON.stringify(v); return String(s).length > 40 ? String(s).slice(0, 39) + "…" : String(s); }
function ports(m, target) {
    const out = new Array(cfg.targets || 1).fill(null);
    out[target] = m;
    return out;
}
function status(st) {
    if (st.last === null) {
        node.status({fill: "grey", shape: "ring", text: cfg.label + ": idle"});
    } else if (st.pend) {
        const secs = Math.max(0, Math.ceil((st.at + min - Date.now()) / 1000));
        node.status({fill: "yellow", shape: "ring",
            text: cfg.label + ": " + show(st.lastV) + " (held " + show(st.pend.v) + " for " + secs + "s)"});
    } else {
        node.status({fill: "green", shape: "dot", text: cfg.label + ": " + show(st.lastV)});
    }
}
function pass(st, e) {
    st.last = JSON.stringify(e.v);
    st.lastV = e.v;
    st.at = Date.now();
    st.pend = null;
    return ports(e.m, e.t);
}
// Pass the held change once the dwell time is over (timer, or next message if a
// timer was lost to a restart).
function release(st) {
    return st.pend && Date.now() >= st.at + min ? pass(st, st.pend) : null;
}
function onTimer() {
    if (context.get("cfgRaw") !== raw) return;  // configuration replaced meanwhile
    const st = context.get("st");
    const out = release(st);
    status(st);
    context.set("st", st);
    if (out) node.send(out);
}

const st = context.get("st");
const acm = (msg.acm && typeof msg.acm === "object") ? msg.acm : {};
const app = typeof acm.app === "string" && acm.app !== "" ? acm.app : "(unknown)";
let target = st.tgt;
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
st.tgt = target;
const late = release(st);
if (late) node.send(late);
let ret = null;
if (JSON.stringify(value) === st.last) {
    // Back to (or still at) the value in force: no change, and a held change is
    // cancelled because the latest writer no longer asks for it.
    st.pend = null;
} else if (st.last === null || Date.now() >= st.at + min) {
    ret = pass(st, {m: m, t: target, v: value});
} else {
    if (!st.pend) setTimeout(onTimer, st.at + min - Date.now());
    st.pend = {m: m, t: target, v: value};
}
status(st);
context.set("st", st);
return ret;
