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
    // The application whose command is in force at time t (null: none); with drop,
    // the expired commands are taken out on the way (relinquished). Work in the
    // number of applications, never in the number of messages.
    function winner(st, t, drop) {
        let win = null, best = LAST;
        for (const app in st.apps) {
            const e = st.apps[app];
            if (e.exp !== null && e.exp <= t) {
                if (drop) { delete st.apps[app]; r.cancel(app); }
                continue;
            }
            const k = rank(st, app);
            if (win === null || k < best) { win = app; best = k; }
        }
        return win;
    }
    function status(st) {
        const win = winner(st, now(), false);
        if (win !== null) {
            return {fill: "green", shape: "dot", text: cfg.label + ": " + win
                + (win === r.UNKNOWN ? "" : "@" + (rank(st, win) + 1)) + " → " + r.show(st.apps[win].v)};
        }
        if (dflt !== null) return {fill: "blue", shape: "ring", text: cfg.label + ": default → " + r.show(dflt)};
        return {fill: "grey", shape: "ring", text: cfg.label + ": idle"};
    }
    // Recompute the effective command; return the output array when its value changed.
    function evaluate(st) {
        const win = winner(st, now(), true);
        let value, m, target;
        if (win !== null) {
            const e = st.apps[win];
            value = e.v; m = e.m; target = e.t;
        } else if (dflt !== null) {
            // Same shape as the last command (e.g. its topic), with the default value.
            m = Object.assign({}, st.base || {}, {payload: dflt}); value = dflt; target = st.last;
        }
        const key = value === undefined ? null : json(value);
        if (key === st.eff) return null;           // output only on change
        st.eff = key;
        return key === null ? null : r.ports(m, target);  // e.m stays; the default shares st.base's
    }
    return {
        status: status,
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
                const e = st.apps[app];  // an application's latest command replaces its last
                if (e === undefined) st.apps[app] = {v: c.value, m: c.m, t: target, exp: exp};
                else { e.v = c.value; e.m = c.m; e.t = target; e.exp = exp; }
                if (exp !== null) r.at(app, exp);
            }
            return evaluate(st);
        },
    };
}
