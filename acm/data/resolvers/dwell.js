// ACM resolver: dwell (anti-flapping). Last writer wins, but a change is passed no
// sooner than options.min ms after the previous passed change; an earlier change is
// held (only the latest) and passed when the dwell time is over.
// State "st" = {last (JSON of the value last passed, null before the first), lastV,
// at (when it was passed), pend: {m, t, v} | null, tgt (last target port)}.
// One deadline: "release" at at + min while a change is held.
function strategyName() { return "dwell"; }
function initialState() { return {last: null, lastV: null, at: 0, pend: null, tgt: 0}; }

function strategy(cfg, opt, r) {
    const now = r.now, json = r.json;  // no global lookups per message (common.js)
    const min = typeof opt.min === "number" && opt.min > 0 ? opt.min : 0;

    function status(st) {
        if (st.last === null) return {fill: "grey", shape: "ring", text: cfg.label + ": idle"};
        if (st.pend) {
            const secs = Math.max(0, Math.ceil((st.at + min - now()) / 1000));
            return {fill: "yellow", shape: "ring",
                text: cfg.label + ": " + r.show(st.lastV) + " (held " + r.show(st.pend.v) + " for " + secs + "s)"};
        }
        return {fill: "green", shape: "dot", text: cfg.label + ": " + r.show(st.lastV)};
    }
    // Pass the change of entry e (not kept: a message, or the held one, let go here).
    function pass(st, e, key) {
        st.last = key;
        st.lastV = e.v;
        st.at = now();
        st.pend = null;
        r.cancel("release");
        return r.pass(e.m, e.t);
    }
    // Pass the held change once the dwell time is over (timer, or next message if a
    // timer was lost to a restart).
    function release(st) {
        return st.pend && now() >= st.at + min ? pass(st, st.pend, json(st.pend.v)) : null;
    }
    return {
        status: status,
        due: release,
        resume(st) { if (st.pend) r.at("release", st.at + min); },
        input(st, c) {
            const target = c.asked === null ? st.tgt : c.asked;
            st.tgt = target;
            const late = release(st);
            if (late) r.send(late);
            const key = json(c.value);
            let ret = null;
            if (key === st.last) {
                // Back to (or still at) the value in force: no change, and a held change is
                // cancelled because the latest writer no longer asks for it.
                st.pend = null;
                r.cancel("release");
            } else if (st.last === null || now() >= st.at + min) {
                ret = pass(st, {m: c.m, t: target, v: c.value}, key);
            } else {
                if (!st.pend) r.at("release", st.at + min);
                st.pend = {m: c.m, t: target, v: c.value};
            }
            return ret;
        },
    };
}
