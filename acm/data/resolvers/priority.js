// ACM resolver: priority (BACnet-like priority array). Fixed template: everything
// specific to one resolution comes from the group env variable ACM_RESOLVER (JSON,
// data only). Nothing taken from a message is ever evaluated as code.
// State (node context, plain JSON): "cfgRaw"/"cfg" = parsed config cache,
// "st" = {apps: {app: {v, m, t, exp}}, seen: [unlisted apps], eff (JSON of the
// effective value, null = none), last (last target port), base (last command message)}.
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
    if (!parsed || parsed.strategy !== "priority") {
        node.error("ACM resolver: ACM_RESOLVER strategy is not \"priority\"; message dropped", msg);
        return null;
    }
    context.set("cfg", parsed);
    context.set("st", {apps: {}, seen: [], eff: null, last: 0, base: null});
    context.set("cfgRaw", raw);
}
const cfg = context.get("cfg");
const opt = cfg.options || {};
const order = Array.isArray(opt.order) ? opt.order : [];
const ttl = typeof opt.ttl === "number" && opt.ttl > 0 ? opt.ttl : null;
const dflt = opt.default === undefined ? null : opt.default;
const token = opt.release === undefined ? "release" : opt.release;
const UNKNOWN = "(unknown)";

function show(v) { const s = typeof v === "string" ? v : JSON.stringify(v); return s.length > 40 ? s.slice(0, 39) + "…" : s; }
// Rank: index in order; unlisted apps after all listed ones by first appearance;
// a command without msg.acm.app last of all.
function rank(st, app) {
    if (app === UNKNOWN) return Infinity;
    const i = order.indexOf(app);
    return i >= 0 ? i : order.length + st.seen.indexOf(app);
}
// Always send a copy: the stored command may be sent again later (relinquish,
// restore), and the node downstream may change the message it receives.
function ports(m, target) {
    const out = new Array(cfg.targets || 1).fill(null);
    out[target] = RED.util.cloneMessage(m);
    return out;
}
// Recompute the effective command; return the output array when its value changed.
function evaluate(st) {
    const now = Date.now();
    for (const app of Object.keys(st.apps)) {
        if (st.apps[app].exp !== null && st.apps[app].exp <= now) delete st.apps[app];  // relinquish
    }
    let win = null;
    for (const app of Object.keys(st.apps)) {
        if (win === null || rank(st, app) < rank(st, win)) win = app;
    }
    let value, m, target, text, fill;
    if (win !== null) {
        const e = st.apps[win];
        value = e.v; m = e.m; target = e.t;
        text = cfg.label + ": " + win + (win === UNKNOWN ? "" : "@" + (rank(st, win) + 1)) + " → " + show(value);
        fill = "green";
    } else if (dflt !== null) {
        // Same shape as the last command (e.g. its topic), with the default value.
        m = Object.assign({}, st.base || {}, {payload: dflt}); value = dflt; target = st.last;
        text = cfg.label + ": default → " + show(value);
        fill = "blue";
    } else {
        text = cfg.label + ": idle";
        fill = "grey";
    }
    node.status({fill: fill, shape: win !== null ? "dot" : "ring", text: text});
    const key = value === undefined ? null : JSON.stringify(value);
    if (key === st.eff) return null;           // output only on change
    st.eff = key;
    return key === null ? null : ports(m, target);
}
// Timer callback (TTL expiry): re-evaluate unless the configuration was replaced meanwhile.
function onTimer() {
    if (context.get("cfgRaw") !== raw) return;
    const st = context.get("st");
    const out = evaluate(st);
    context.set("st", st);
    if (out) node.send(out);
}

const st = context.get("st");
const acm = (msg.acm && typeof msg.acm === "object") ? msg.acm : {};
const app = typeof acm.app === "string" && acm.app !== "" ? acm.app : UNKNOWN;
let target = st.last;
if (acm.target !== undefined) {
    if (!Number.isInteger(acm.target) || acm.target < 0 || acm.target >= (cfg.targets || 1)) {
        node.warn("ACM resolver: msg.acm.target " + JSON.stringify(acm.target) + " out of range; message dropped");
        return null;
    }
    target = acm.target;
}
st.last = target;
if (app !== UNKNOWN && order.indexOf(app) < 0 && st.seen.indexOf(app) < 0) st.seen.push(app);

if (acm.release === true || (token !== null && msg.payload === token)) {
    delete st.apps[app];
} else {
    // Each app holds one active command: its latest. The actuator gets a clean copy.
    const value = acm.command !== undefined ? acm.command : msg.payload;
    const m = Object.assign({}, msg);
    delete m.acm;
    delete m._msgid;
    m.payload = value;
    st.base = m;
    st.apps[app] = {v: value, m: m, t: target, exp: ttl === null ? null : Date.now() + ttl};
    if (ttl !== null) setTimeout(onTimer, ttl);
}
const out = evaluate(st);
context.set("st", st);
return out;
