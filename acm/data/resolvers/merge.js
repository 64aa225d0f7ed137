// ACM resolver: merge. Combines the latest command of each application:
// numeric min / max / mean, or boolean any / all; passes the result on change.
// State "st" = {apps: {app: value}, out (JSON of the value last passed, null
// before the first), last (last target port)}. No deadlines.
function strategyName() { return "merge"; }
function initialState() { return {apps: {}, out: null, last: 0}; }

function strategy(cfg, opt, r) {
    const now = r.now, json = r.json;  // no global lookups per message (common.js)
    const op = opt.op;
    const known = ["min", "max", "mean", "any", "all"].indexOf(op) >= 0;
    const on = opt.on ?? true;
    const off = opt.off ?? false;
    // Values read as "true" for any/all (strings compared case-insensitively).
    const TRUE = [true, "on", "true", "open", 1, "1"];
    const INF = Infinity, toNumber = parseFloat, finite = Number.isFinite;

    function truthy(v) { return TRUE.indexOf(typeof v === "string" ? v.toLowerCase() : v) >= 0; }
    // Merged value of the apps' latest commands, undefined when there is nothing to
    // merge; n = the number of apps. Work in the number of applications.
    function combine(apps) {
        let n = 0, yes = op === "all", count = 0, acc = op === "min" ? INF : (op === "max" ? -INF : 0);
        for (const a in apps) {
            n++;
            const v = apps[a];
            if (op === "any") { if (truthy(v)) yes = true; continue; }
            if (op === "all") { if (!truthy(v)) yes = false; continue; }
            const x = toNumber(v);
            if (!finite(x)) continue;  // non-numbers ignored
            count++;
            if (op === "min") { if (x < acc) acc = x; } else if (op === "max") { if (x > acc) acc = x; } else acc += x;
        }
        if (op === "any" || op === "all") return n === 0 ? undefined : (yes ? on : off);
        if (count === 0) return undefined;
        return op === "mean" ? acc / count : acc;
    }
    function status(st) {
        let count = 0;
        for (const a in st.apps) count++;
        if (count === 0) return null;  // nothing merged yet (or a merge op it does not know)
        const merged = combine(st.apps);
        const n = count + (count === 1 ? " app" : " apps");
        return merged === undefined
            ? {fill: "grey", shape: "ring", text: cfg.label + ": " + op + " of nothing (" + n + ")"}
            : {fill: "green", shape: "dot", text: cfg.label + ": " + op + "=" + r.show(merged) + " (" + n + ")"};
    }
    return {
        status: status,
        input(st, c) {
            if (!known) {
                r.error("ACM resolver: merge op " + json(op) + " is not min, max, mean, any or all; message dropped", c.msg);
                return null;
            }
            const target = c.asked === null ? st.last : c.asked;
            st.last = target;
            st.apps[c.app] = c.value;
            const merged = combine(st.apps);
            let ret = null;
            const key = merged === undefined ? undefined : json(merged);
            if (key !== undefined && key !== st.out) {  // pass only on change
                st.out = key;
                c.m.payload = merged;
                ret = r.pass(c.m, target);  // the state keeps values only
            }
            return ret;
        },
    };
}
