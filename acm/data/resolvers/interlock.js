// ACM resolver: interlock (for indirect conflicts, e.g. window open => heater off).
// Guard messages (role "guard" in the tag, a copy of what is sent to the guard
// actuator) set the guard state; while it is in options.blocked_when, commands are
// dropped (mode "block") or replaced by options.override, sent once when the block
// begins (mode "override"). When it ends, options.restore re-sends the last request.
// State "st" = {guard, blocked, req: {m, t} | null (last command requested), base
// (last command message, shape for the override), count (dropped during the
// current block), last (last target port)}. No deadlines.
function strategyName() { return "interlock"; }
function initialState() { return {guard: null, blocked: false, req: null, base: null, count: 0, last: 0}; }

function strategy(cfg, opt, r) {
    const now = r.now, json = r.json;  // no global lookups per message (common.js)
    const when = Array.isArray(opt.blocked_when) ? opt.blocked_when : [];
    const overrideMode = opt.mode === "override";
    const hasOverride = opt.override !== undefined && opt.override !== null;
    const restore = opt.restore !== false;

    // A state in blocked_when (b) and the guard's value (v): strings compare as-is; a
    // text state matches a value that is no string by the value's JSON text (policies
    // write texts: "true" and "1" match a boolean true and a number 1); other values
    // compare by their JSON text.
    function same(b, v) {
        if (typeof b === "string" && typeof v !== "string") return v !== undefined && b === json(v);
        return typeof b === "string" || typeof v === "string" ? b === v : json(b) === json(v);
    }
    function status(st) {
        const g = st.guard === null ? "" : " (guard " + r.show(st.guard) + ")";
        return st.blocked
            ? {fill: "red", shape: "dot", text: cfg.label + ": blocked by guard (" + r.show(st.guard) + (st.count ? ", " + st.count + " dropped" : "") + ")"}
            : {fill: "green", shape: "dot", text: cfg.label + ": passing" + g};
    }
    return {
        status: status,
        input(st, c) {
            const value = c.value;
            let ret = null;
            if (c.role === "guard") {
                st.guard = value === undefined ? null : value;
                const block = when.some((b) => same(b, value));
                if (block && !st.blocked) {
                    st.blocked = true;
                    st.count = 0;
                    if (overrideMode && hasOverride) {
                        // Same shape as the last command (e.g. its topic), with the override value.
                        const o = Object.assign({}, st.base || {});
                        o.payload = opt.override;
                        ret = r.ports(o, st.last);  // o shares st.base's properties
                    }
                } else if (!block && st.blocked) {
                    st.blocked = false;
                    if (restore && st.req) ret = r.ports(st.req.m, st.req.t);
                }
            } else {
                const target = c.asked === null ? st.last : c.asked;
                st.last = target;
                st.req = {m: c.m, t: target};
                st.base = c.m;
                if (st.blocked) st.count++; else ret = r.ports(c.m, target);
            }
            return ret;
        },
    };
}
