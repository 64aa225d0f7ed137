// ACM resolver: priority (BACnet-like priority array). Each application holds one
// active command, its latest; the highest ranked one is in force.
// State "st" = {apps: {app: {v, m, t, exp}}, seen: [unlisted apps], eff (JSON of the
// effective value, null = none), last (last target port), base (last command message)}.
function strategyName() { return "priority"; }
function initialState() { return {apps: {}, seen: [], eff: null, last: 0, base: null}; }

const order = Array.isArray(opt.order) ? opt.order : [];
const ttl = typeof opt.ttl === "number" && opt.ttl > 0 ? opt.ttl : null;
const dflt = opt.default === undefined ? null : opt.default;
const token = opt.release === undefined ? "release" : opt.release;

// Rank: index in order; unlisted apps after all listed ones by first appearance;
// a command without msg.acm.app last of all.
function rank(st, app) {
    if (app === UNKNOWN) return Infinity;
    const i = order.indexOf(app);
    return i >= 0 ? i : order.length + st.seen.indexOf(app);
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

const target = asked === null ? st.last : asked;
st.last = target;
if (app !== UNKNOWN && order.indexOf(app) < 0 && st.seen.indexOf(app) < 0) st.seen.push(app);

if (acm.release === true || (token !== null && msg.payload === token)) {
    delete st.apps[app];
} else {
    st.base = m;
    st.apps[app] = {v: value, m: m, t: target, exp: ttl === null ? null : Date.now() + ttl};
    if (ttl !== null) later(ttl, evaluate);  // TTL expiry
}
const out = evaluate(st);
context.set("st", st);
return out;
