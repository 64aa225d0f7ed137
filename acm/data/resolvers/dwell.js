// ACM resolver: dwell (anti-flapping). Last writer wins, but a change is passed no
// sooner than options.min ms after the previous passed change; an earlier change is
// held (only the latest) and passed when the dwell time is over.
// State "st" = {last (JSON of the value last passed, null before the first), lastV,
// at (when it was passed), pend: {m, t, v} | null, tgt (last target port)}.
function strategyName() { return "dwell"; }
function initialState() { return {last: null, lastV: null, at: 0, pend: null, tgt: 0}; }

const min = typeof opt.min === "number" && opt.min > 0 ? opt.min : 0;

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
function tick(st) {
    const out = release(st);
    status(st);
    return out;
}

const target = asked === null ? st.tgt : asked;
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
    if (!st.pend) later(st.at + min - Date.now(), tick);
    st.pend = {m: m, t: target, v: value};
}
status(st);
context.set("st", st);
return ret;
