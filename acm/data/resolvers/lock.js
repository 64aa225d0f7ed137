// ACM resolver: lock. The first application to command holds the actuator for
// options.hold ms; other applications' commands are dropped (counted) or queued.
// State "st" = {owner, until, count (dropped during the current hold), total,
// queue: [{app, m, t}], last (last target port)}. One deadline: "hold" at until.
function strategyName() { return "lock"; }
function initialState() { return {owner: null, until: 0, count: 0, total: 0, queue: [], last: 0}; }

function strategy(cfg, opt, r) {
    const now = r.now, json = r.json;  // no global lookups per message (common.js)
    const hold = typeof opt.hold === "number" && opt.hold > 0 ? opt.hold : 0;
    const queueMode = opt.mode === "queue";
    // Decision: the holder's own later commands pass AND renew the hold (a busy
    // holder keeps the actuator); options.renew = false gives a fixed window instead.
    const renew = opt.renew !== false;

    function status(st) {
        if (st.owner === null) return {fill: "green", shape: "ring", text: cfg.label + ": free"};
        const extra = queueMode ? st.queue.length + " queued" : st.count + " dropped";
        return {fill: "yellow", shape: "dot", text: cfg.label + ": locked by " + st.owner + " (" + extra + ")"};
    }
    // Give the lock to the app of entry e (not kept: a message, or off the queue) and
    // pass its command.
    function grant(st, e) {
        st.owner = e.app;
        st.until = now() + hold;
        st.count = 0;
        r.at("hold", st.until);
        return r.pass(e.m, e.t);
    }
    // At the end of the hold the oldest queued app takes the lock; otherwise it is free.
    // Checked by the timer and, in case a timer was lost (restart), on every message.
    function expire(st) {
        if (st.owner === null || now() < st.until) return null;
        st.owner = null;
        const next = st.queue.shift();
        return next ? grant(st, next) : null;
    }
    return {
        status: status,
        due: expire,
        resume(st) { if (st.owner !== null) r.at("hold", st.until); },
        input(st, c) {
            const target = c.asked === null ? st.last : c.asked;
            st.last = target;
            const late = expire(st);
            if (late) r.send(late);
            const app = c.app;
            let ret = null;
            if (st.owner === null) {
                ret = grant(st, {app: app, m: c.m, t: target});
            } else if (st.owner === app) {
                if (renew) { st.until = now() + hold; r.at("hold", st.until); }
                ret = r.pass(c.m, target);
            } else if (queueMode) {
                // One entry per app: its latest command replaces the earlier one, keeping its place.
                const e = {app: app, m: c.m, t: target};
                const i = st.queue.findIndex((q) => q.app === app);
                if (i >= 0) st.queue[i] = e; else st.queue.push(e);
            } else {
                st.count++;
                st.total++;
            }
            return ret;
        },
    };
}
