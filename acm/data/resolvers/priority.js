// ACM resolver: priority (BACnet-like priority array). Each application holds one
// active command, its latest; the highest ranked one is in force.
// State "st" = {apps: {app: {v, m, t, exp}}, seen: [unlisted apps], eff (JSON of the
// effective value, null = none), last (last target port), base (last command message)}.
// With a TTL, one deadline per application (keyed by its name) at its command's exp.
function strategyName() { return "priority"; }
function initialState() { return {apps: {}, seen: [], eff: null, last: 0, base: null}; }

function strategy(cfg, opt, r) {
    const now = r.now, json = r.json;  // no global lookups per message (common.js)
    const order = Array.isArray(opt.order) ? opt.order : [];
    const ttl = typeof opt.ttl === "number" && opt.ttl > 0 ? opt.ttl : null;
    const dflt = opt.default === undefined ? null : opt.default;
    const token = opt.release === undefined ? "release" : opt.release;
    const LAST = Infinity;

    // Rank: index in order; unlisted apps after all listed ones by first appearance;
    // a command without msg.acm.app last of all.
    function rank(st, app) {
        if (app === r.UNKNOWN) return LAST;
        const i = order.indexOf(app);
        return i >= 0 ? i : order.length + st.seen.indexOf(app);
    }
    // Recompute the effective command; return the output array when its value changed.
    // Work in the number of applications, never in the number of messages.
    function evaluate(st) {
        const t = now();
        let win = null, best = LAST;
        for (const app in st.apps) {
            const e = st.apps[app];
            if (e.exp !== null && e.exp <= t) { delete st.apps[app]; r.cancel(app); continue; }  // relinquish
            const k = rank(st, app);
            if (win === null || k < best) { win = app; best = k; }
        }
        let value, m, target, text, fill;
        if (win !== null) {
            const e = st.apps[win];
            value = e.v; m = e.m; target = e.t;
            text = cfg.label + ": " + win + (win === r.UNKNOWN ? "" : "@" + (best + 1)) + " → " + r.show(value);
            fill = "green";
        } else if (dflt !== null) {
            // Same shape as the last command (e.g. its topic), with the default value.
            m = Object.assign({}, st.base || {}, {payload: dflt}); value = dflt; target = st.last;
            text = cfg.label + ": default → " + r.show(value);
            fill = "blue";
        } else {
            text = cfg.label + ": idle";
            fill = "grey";
        }
        r.status({fill: fill, shape: win !== null ? "dot" : "ring", text: text});
        const key = value === undefined ? null : json(value);
        if (key === st.eff) return null;           // output only on change
        st.eff = key;
        return key === null ? null : r.ports(m, target);
    }
    return {
        due: evaluate,  // TTL expiry
        resume(st) { for (const app in st.apps) if (st.apps[app].exp !== null) r.at(app, st.apps[app].exp); },
        input(st, c) {
            const app = c.app;
            const target = c.asked === null ? st.last : c.asked;
            st.last = target;
            if (app !== r.UNKNOWN && order.indexOf(app) < 0 && st.seen.indexOf(app) < 0) st.seen.push(app);
            if (c.acm.release === true || (token !== null && c.msg.payload === token)) {
                delete st.apps[app];
                r.cancel(app);
            } else {
                st.base = c.m;
                const exp = ttl === null ? null : now() + ttl;
                st.apps[app] = {v: c.value, m: c.m, t: target, exp: exp};
                if (exp !== null) r.at(app, exp);
            }
            return evaluate(st);
        },
    };
}
