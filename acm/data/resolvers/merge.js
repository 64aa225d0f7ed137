// ACM resolver: merge. Combines the latest command of each application:
// numeric min / max / mean, or boolean any / all; passes the result on change.
// State "st" = {apps: {app: value}, out (JSON of the value last passed, null
// before the first), last (last target port)}.
function strategyName() { return "merge"; }
function initialState() { return {apps: {}, out: null, last: 0}; }

const op = opt.op;
// Values read as "true" for any/all (strings compared case-insensitively).
const TRUE = [true, "on", "true", "open", 1, "1"];

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
const target = asked === null ? st.last : asked;
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
