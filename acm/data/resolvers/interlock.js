// ACM resolver: interlock (for indirect conflicts, e.g. window open => heater off).
// Guard messages (msg.acm.role "guard", a copy of what is sent to the guard
// actuator) set the guard state; while it is in options.blocked_when, commands are
// dropped (mode "block") or replaced by options.override, sent once when the block
// begins (mode "override"). When it ends, options.restore re-sends the last request.
// Fixed template: everything specific to one resolution comes from the group env
// variable ACM_RESOLVER (JSON, data only); nothing from a message is evaluated.
// State (node context, plain JSON): "st" = {guard, blocked, req: {m, t} | null
// (last command requested), base (last command message, shape for the override),
// count (dropped during the current block), last (last target port)}.
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
    if (!parsed || parsed.strategy !== "interlock") {
        node.error("ACM resolver: ACM_RESOLVER strategy is not \"interlock\"; message dropped", msg);
        return null;
    }
    context.set("cfg", parsed);
    context.set("st", {guard: null, blocked: false, req: null, base: null, count: 0, last: 0});
    context.set("cfgRaw", raw);
}
const cfg = context.get("cfg");
const opt = cfg.options || {};
const when = Array.isArray(opt.blocked_when) ? opt.blocked_when : [];
const overrideMode = opt.mode === "override";
const hasOverride = opt.override !== undefined && opt.override !== null;
const restore = opt.restore !== false;

function show(v) { const s = typeof v === "string" ? v : JSON.stringify(v); return String(s).length > 40 ? String(s).slice(0, 39) + "…" : String(s); }
// Always send a copy: the stored command may be sent again later (relinquish,
// restore), and the node downstream may change the message it receives.
function ports(m, target) {
    const out = new Array(cfg.targets || 1).fill(null);
    out[target] = RED.util.cloneMessage(m);
    return out;
}
// Strings compare as-is, other values by their JSON text.
function same(a, b) {
    return typeof a === "string" || typeof b === "string" ? a === b : JSON.stringify(a) === JSON.stringify(b);
}
function status(st) {
    const g = st.guard === null ? "" : " (guard " + show(st.guard) + ")";
    node.status(st.blocked
        ? {fill: "red", shape: "dot", text: cfg.label + ": blocked by guard (" + show(st.guard) + (st.count ? ", " + st.count + " dropped" : "") + ")"}
        : {fill: "green", shape: "dot", text: cfg.label + ": passing" + g});
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
let ret = null;
if (acm.role === "guard") {
    st.guard = value === undefined ? null : value;
    const block = when.some((b) => same(b, value));
    if (block && !st.blocked) {
        st.blocked = true;
        st.count = 0;
        if (overrideMode && hasOverride) {
            // Same shape as the last command (e.g. its topic), with the override value.
            const o = Object.assign({}, st.base || {});
            o.payload = opt.override;
            ret = ports(o, st.last);
        }
    } else if (!block && st.blocked) {
        st.blocked = false;
        if (restore && st.req) ret = ports(st.req.m, st.req.t);
    }
} else {
    st.last = target;
    st.req = {m: m, t: target};
    st.base = m;
    if (st.blocked) st.count++; else ret = ports(m, target);
}
status(st);
context.set("st", st);
return ret;
