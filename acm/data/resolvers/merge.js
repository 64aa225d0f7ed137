// ACM resolver: merge. Combines the latest command of each application:
// numeric min / max / mean, or boolean any / all; passes the result on change.
// Fixed template: everything specific to one resolution comes from the group env
// variable ACM_RESOLVER (JSON, data only); nothing from a message is evaluated.
// State (node context, plain JSON): "st" = {apps: {app: value}, out (JSON of the
// value last passed, null before the first), last (last target port)}.
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
    if (!parsed || parsed.strategy !== "merge") {
        node.error("ACM resolver: ACM_RESOLVER strategy is not \"merge\"; message dropped", msg);
        return null;
    }
    context.set("cfg", parsed);
    context.set("st", {apps: {}, out: null, last: 0});
    context.set("cfgRaw", raw);
}
const cfg = context.get("cfg");
const opt = cfg.options || {};
const op = opt.op;
// Values read as "true" for any/all (strings compared case-insensitively).
const TRUE = [true, "on", "true", "open", 1, "1"];

function show(v) { const s = typeof v === "string" ? v : JSON.stringify(v); return String(s).length > 40 ? String(s).slice(0, 39) + "…" : String(s); }
function ports(m, target) {
    const out = new Array(cfg.targets || 1).fill(null);
    out[target] = m;
    return out;
}
function truthy(v) { return TRUE.indexOf(typeof v === "string" ? v.toLowerCase() : v) >= 0; }
// Merged value of the apps' latest commands, undefined when there is nothing to merge.
function combine(values) {
    if (op === "any" || op === "all") {
        if (values.length === 0) return undefined;
        const yes = op === "any" ? values.some(truthy) : values.every(truthy);
        return yes ? (opt.on ?? true) : (opt.off ?? false);
    }
    const nums = values.map((v) => parseFloat(v)).filter(Number.isFinite);  // non-numbers ignored
    if (nums.length === 0) return undefined;
    if (op === "min") return Math.min(...nums);
    if (op === "max") return Math.max(...nums);
    if (op === "mean") return nums.reduce((a, b) => a + b, 0) / nums.length;
    return undefined;
}

if (["min", "max", "mean", "any", "all"].indexOf(op) < 0) {
    node.error("ACM resolver: merge op " + JSON.stringify(op) + " is not min, max, mean, any or all; message dropped", msg);
    return null;
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
st.apps[app] = value;
const values = Object.keys(st.apps).map((a) => st.apps[a]);
const merged = combine(values);
const n = values.length + (values.length === 1 ? " app" : " apps");
node.status(merged === undefined
    ? {fill: "grey", shape: "ring", text: cfg.label + ": " + op + " of nothing (" + n + ")"}
    : {fill: "green", shape: "dot", text: cfg.label + ": " + op + "=" + show(merged) + " (" + n + ")"});
let ret = null;
if (merged !== undefined && JSON.stringify(merged) !== st.out) {  // pass only on change
    st.out = JSON.stringify(merged);
    m.payload = merged;
    ret = ports(m, target);
}
context.set("st", st);
return ret;
