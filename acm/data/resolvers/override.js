// ACM resolver: override (manual override). A command from a person passes at once
// and holds automation commands back for options.hold ms (null: until the release
// command); a manual command whose payload is options.release ends the hold at once
// and is not passed on. When the hold ends, options.resume "latest" sends the latest
// automation command held back ("none": nothing). A command is manual when its
// msg.acm.source is "manual", or, without msg.acm.source, when its application is in
// options.manual (null: in options.manual_found, what the analysis found); everything
// else (a command without msg.acm.app too) is automation.
// State "st" = {held, until (deadline, null = until the release command), pend: {m, t}
// | null (latest automation command held back), count (held back during this hold),
// last (last target port)}.
function strategyName() { return "override"; }
function initialState() { return {held: false, until: null, pend: null, count: 0, last: 0}; }

const hold = typeof opt.hold === "number" && opt.hold >= 0 ? opt.hold : null;
const token = opt.release === undefined ? "auto" : opt.release;
const resume = opt.resume !== "none";
const manualApps = Array.isArray(opt.manual) ? opt.manual
    : (Array.isArray(opt.manual_found) ? opt.manual_found : []);

function manual() {
    if (typeof acm.source === "string" && acm.source !== "") return acm.source === "manual";
    return manualApps.indexOf(app) >= 0;
}
// "18:42" (with seconds for holds under 10 minutes; with the date when not today).
function clock(t) {
    const d = new Date(t);
    const two = (n) => String(n).padStart(2, "0");
    let s = two(d.getHours()) + ":" + two(d.getMinutes());
    if (hold !== null && hold < 600000) s += ":" + two(d.getSeconds());
    if (d.toDateString() !== new Date(Date.now()).toDateString()) {
        s = d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " + s;
    }
    return s;
}
function status(st) {
    if (!st.held) {
        node.status({fill: "green", shape: "dot", text: cfg.label + ": automatic"});
        return;
    }
    const until = st.until === null ? "released" : clock(st.until);
    node.status({fill: "yellow", shape: "dot",
        text: cfg.label + ": manual until " + until + (st.count ? " (" + st.count + " held back)" : "")});
}
// The hold is over: automation commands pass again, the latest one held back first.
function end(st) {
    const p = st.pend;
    st.held = false;
    st.until = null;
    st.pend = null;
    st.count = 0;
    return resume && p ? ports(p.m, p.t) : null;
}
// Checked by the timer and, in case a timer was lost (restart), on every message.
function expire(st) {
    return st.held && st.until !== null && Date.now() >= st.until ? end(st) : null;
}
function tick(st) {
    const out = expire(st);
    status(st);
    return out;
}

const target = asked === null ? st.last : asked;
st.last = target;
const late = expire(st);
if (late) node.send(late);
let ret = null;
if (manual()) {
    if (acm.release === true || (token !== null && msg.payload === token)) {
        ret = st.held ? end(st) : null;
    } else {
        st.held = true;
        st.until = hold === null ? null : Date.now() + hold;
        if (hold !== null) later(hold, tick);
        ret = ports(m, target);
    }
} else if (acm.release === true) {
    // Releasing is a person's act; from an automation it is no command either.
} else if (st.held) {
    st.pend = {m: m, t: target};
    st.count++;
} else {
    ret = ports(m, target);
}
status(st);
context.set("st", st);
return ret;
