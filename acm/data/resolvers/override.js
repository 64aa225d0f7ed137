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
// last (last target port)}. One deadline: "hold" at until.
function strategyName() { return "override"; }
function initialState() { return {held: false, until: null, pend: null, count: 0, last: 0}; }

function strategy(cfg, opt, r) {
    const now = r.now, json = r.json;  // no global lookups per message (common.js)
    const hold = typeof opt.hold === "number" && opt.hold >= 0 ? opt.hold : null;
    const token = opt.release === undefined ? "auto" : opt.release;
    const resume = opt.resume !== "none";
    const manualApps = Array.isArray(opt.manual) ? opt.manual
        : (Array.isArray(opt.manual_found) ? opt.manual_found : []);

    function manual(c) {
        if (typeof c.acm.source === "string" && c.acm.source !== "") return c.acm.source === "manual";
        return manualApps.indexOf(c.app) >= 0;
    }
    // "18:42" (with seconds for holds under 10 minutes; with the date when not today).
    // The text shows whole seconds of t and depends on today's date: it is kept for
    // as long as both stay the same (a holder commanding often renews t every time).
    const D = Date, Str = String, secs = hold !== null && hold < 600000;
    const shown = {sec: NaN, from: 0, to: 0, text: ""};  // to: the end of the day it was shown on
    function clock(t) {
        const nowMs = now();
        const sec = secs ? t - t % 1000 : t - t % 60000;  // the second or minute shown
        if (sec === shown.sec && nowMs >= shown.from && nowMs < shown.to) return shown.text;
        const d = new D(t);
        const two = (n) => Str(n).padStart(2, "0");
        let s = two(d.getHours()) + ":" + two(d.getMinutes());
        if (secs) s += ":" + two(d.getSeconds());
        const today = new D(nowMs);
        if (d.toDateString() !== today.toDateString()) {
            s = d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " + s;
        }
        shown.sec = sec;
        shown.from = new D(today.getFullYear(), today.getMonth(), today.getDate()).getTime();
        shown.to = new D(today.getFullYear(), today.getMonth(), today.getDate() + 1).getTime();
        shown.text = s;
        return s;
    }
    function status(st) {
        if (!st.held) return {fill: "green", shape: "dot", text: cfg.label + ": automatic"};
        const until = st.until === null ? "released" : clock(st.until);
        return {fill: "yellow", shape: "dot",
            text: cfg.label + ": manual until " + until + (st.count ? " (" + st.count + " held back)" : "")};
    }
    // The hold is over: automation commands pass again, the latest one held back first
    // (let go of here: passed, not copied).
    function end(st) {
        const p = st.pend;
        st.held = false;
        st.until = null;
        st.pend = null;
        st.count = 0;
        r.cancel("hold");
        return resume && p ? r.pass(p.m, p.t) : null;
    }
    // Checked by the timer and, in case a timer was lost (restart), on every message.
    function expire(st) {
        return st.held && st.until !== null && now() >= st.until ? end(st) : null;
    }
    return {
        status: status,
        due: expire,
        resume(st) { if (st.held && st.until !== null) r.at("hold", st.until); },
        input(st, c) {
            const target = c.asked === null ? st.last : c.asked;
            st.last = target;
            const late = expire(st);
            if (late) r.send(late);
            let ret = null;
            if (manual(c)) {
                if (c.acm.release === true || (token !== null && c.msg.payload === token)) {
                    ret = st.held ? end(st) : null;
                } else {
                    st.held = true;
                    st.until = hold === null ? null : now() + hold;
                    if (hold !== null) r.at("hold", st.until); else r.cancel("hold");
                    ret = r.pass(c.m, target);
                }
            } else if (c.acm.release === true) {
                // Releasing is a person's act; from an automation it is no command either.
            } else if (st.held) {
                st.pend = {m: c.m, t: target};
                st.count++;
            } else {
                ret = r.pass(c.m, target);
            }
            return ret;
        },
    };
}
