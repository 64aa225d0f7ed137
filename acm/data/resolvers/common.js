// ACM resolver: the part shared by every strategy. The function node body is this
// file followed by one strategy file (acm/rewrite/resolve.py template()); both are fixed
// templates: everything specific to one resolution comes from the group env
// variable ACM_RESOLVER (JSON, data only), and nothing taken from a message is
// ever evaluated as code.
// The strategy file holds function declarations only (they exist here already):
//   strategyName()      - the strategy ACM_RESOLVER must name;
//   initialState()      - the fresh state "st" for a new configuration;
//   strategy(cfg, opt, r) - the strategy's handlers for one configuration:
//       input(st, c)    - a command or guard message c (see below); returns the
//                         output array or null;
//       due(st)         - a deadline it set with r.at() has come; returns the output
//                         array or null (optional);
//       resume(st)      - re-arm the deadlines of a state restored from context
//                         (optional).
// State (node context, plain JSON): "cfgRaw"/"cfg" = the configuration, "st" = the
// strategy's state, written after every message and every expiry so that a
// persistent context store keeps it across restarts.
// Everything built from the configuration (parsed options, the handlers, the
// deadline scheduler) is built once and kept in this function node's own sandbox
// (globalThis: it lives and dies with the node), so a message costs no parsing and
// no closures. Timers: one pending setTimeout per resolver, for the earliest
// deadline of a small keyed min-heap; setting a key's deadline again replaces it.
const env0 = env.get("ACM_RESOLVER");
if (env0 === undefined || env0 === null || env0 === "") {
    node.error("ACM resolver: group env variable ACM_RESOLVER is not set; message dropped", msg);
    node.status({fill: "red", shape: "ring", text: "ACM_RESOLVER missing"});
    return null;
}
const raw = typeof env0 === "string" ? env0 : JSON.stringify(env0);  // env type "str" expected
let R = globalThis.acmResolver;
if (R === undefined || R.raw !== raw) {
    // Group env can change without the function node being restarted: re-parse and
    // start from a clean state, the old one belongs to another configuration.
    R = acmSetup(raw, R);
    if (R === null) return null;
}
R.node = node;  // timers send through the node object of the latest message
return R.input(msg);

// Build the resolver for configuration text raw, or null (error reported). old: the
// resolver of the previous configuration, stopped first (its timer is cancelled).
function acmSetup(raw, old) {
    if (old !== undefined) { old.stop(); globalThis.acmResolver = undefined; }
    // The sandbox's globals, read once: every use of a global name inside the
    // function node's vm context is a lookup through the context (about 0.25 µs),
    // every use of a local one is free.
    const ctx = context, D = Date, J = JSON, Str = String, isInt = Number.isInteger;
    const now = () => D.now();
    const json = (v) => J.stringify(v);
    let cfg;
    try { cfg = JSON.parse(raw); } catch (e) {
        node.error("ACM resolver: ACM_RESOLVER is not valid JSON (" + e.message + "); message dropped", msg);
        return null;
    }
    if (!cfg || cfg.strategy !== strategyName()) {
        node.error("ACM resolver: ACM_RESOLVER strategy is not \"" + strategyName() + "\"; message dropped", msg);
        return null;
    }
    const nTargets = cfg.targets || 1;
    const UNKNOWN = "(unknown)";  // app of a command without msg.acm.app
    // Deadlines: a binary min-heap of {key, due}, pos: key -> index in the heap.
    const heap = [];
    const pos = new Map();
    let timer = null;   // the one pending setTimeout
    let armed = 0;      // its deadline
    let shown = null;   // the status shown: not sent again
    let S = null;
    const R = {raw: raw, node: node, st: null, input: input, stop: stop};

    function swap(i, j) {
        const a = heap[i], b = heap[j];
        heap[i] = b; heap[j] = a;
        pos.set(b.key, i); pos.set(a.key, j);
    }
    function up(i) {
        while (i > 0) {
            const p = (i - 1) >> 1;
            if (heap[p].due <= heap[i].due) break;
            swap(i, p);
            i = p;
        }
    }
    function down(i) {
        for (;;) {
            const l = 2 * i + 1, rr = l + 1;
            let m = i;
            if (l < heap.length && heap[l].due < heap[m].due) m = l;
            if (rr < heap.length && heap[rr].due < heap[m].due) m = rr;
            if (m === i) return;
            swap(i, m);
            i = m;
        }
    }
    function remove(i) {
        const last = heap.length - 1;
        const gone = heap[i];
        if (i !== last) swap(i, last);
        heap.pop();
        pos.delete(gone.key);
        if (i < heap.length) { up(i); down(i); }
    }
    // Set (or move) the deadline of key to time due.
    function at(key, due) {
        const i = pos.get(key);
        if (i === undefined) {
            heap.push({key: key, due: due});
            pos.set(key, heap.length - 1);
            up(heap.length - 1);
        } else {
            heap[i].due = due;
            up(i);
            down(pos.get(key));
        }
        arm(now(), 0);
    }
    function cancel(key) {
        const i = pos.get(key);
        if (i !== undefined) remove(i);
    }
    // Keep one timer, for the earliest deadline. A pending timer for a later time is
    // replaced; one whose time has passed was lost (the event loop would have run it)
    // or is about to run: replacing it is harmless either way.
    function arm(t, extra) {
        if (heap.length === 0) return;
        const due = heap[0].due;
        if (timer !== null && armed <= due && armed > t) return;
        if (timer !== null) clearTimeout(timer);
        armed = due;
        // setTimeout fires at once beyond 2^31-1 ms (24.8 days): wait at most that long,
        // fire() finds it early and waits for the rest.
        timer = setTimeout(fire, Math.min(0x7fffffff, (due > t ? due - t : 0) + extra));
    }
    // Timers can fire a little before now() reaches the deadline (the event
    // loop's clock is read at the start of a busy iteration): an early timer waits
    // for the rest of the time. Only the expired deadlines are taken off the heap.
    function fire() {
        timer = null;
        if (globalThis.acmResolver !== R) return;
        const t = now();
        if (heap.length === 0) return;
        // Early (before its own time): wait a millisecond more; else the deadline moved.
        if (heap[0].due > t) { arm(t, t < armed ? 1 : 0); return; }
        while (heap.length > 0 && heap[0].due <= t) remove(0);
        const out = S.due ? S.due(R.st) : null;
        ctx.set("st", R.st);
        arm(t, 0);
        if (out) R.node.send(out);
    }
    function stop() {
        if (timer !== null) clearTimeout(timer);
        timer = null;
        heap.length = 0;
        pos.clear();
    }
    function status(s) {
        if (shown !== null && s.text === shown.text && s.fill === shown.fill && s.shape === shown.shape) return;
        shown = s;
        R.node.status(s);
    }
    // A copy of message m: the stored command may be sent again later (relinquish,
    // restore), and the node downstream may change the message it receives. A
    // message whose properties are all primitive needs no deep clone.
    function copy(m) {
        const out = {};
        for (const k in m) {
            const v = m[k];
            if (v !== null && typeof v === "object") return RED.util.cloneMessage(m);
            out[k] = v;
        }
        return out;
    }
    function ports(m, target) {
        const out = [];
        for (let i = 0; i < nTargets; i++) out.push(null);
        out[target] = copy(m);
        return out;
    }
    function show(v) { const s = Str(typeof v === "string" ? v : J.stringify(v)); return s.length > 40 ? s.slice(0, 39) + "…" : s; }

    // One message, as the tag change node left it: c = {msg, acm, app, asked (output
    // port asked for by msg.acm.target, null when none: a guard message's target is
    // not one of ours), value (the command), m (what the actuator gets: a clean
    // shallow copy without msg.acm, payload = value)}.
    const c = {msg: null, acm: null, app: UNKNOWN, asked: null, value: undefined, m: null};
    function input(msg) {
        const acm = (msg.acm && typeof msg.acm === "object") ? msg.acm : {};
        const asked = acm.target !== undefined && acm.role !== "guard" ? acm.target : null;
        if (asked !== null && (!isInt(asked) || asked < 0 || asked >= nTargets)) {
            R.node.warn("ACM resolver: msg.acm.target " + J.stringify(asked) + " out of range; message dropped");
            return null;
        }
        const value = acm.command !== undefined ? acm.command : msg.payload;
        const m = {};
        for (const k in msg) if (k !== "acm" && k !== "_msgid") m[k] = msg[k];
        m.payload = value;
        c.msg = msg;
        c.acm = acm;
        c.app = typeof acm.app === "string" && acm.app !== "" ? acm.app : UNKNOWN;
        c.asked = asked;
        c.value = value;
        c.m = m;
        const out = S.input(R.st, c);
        c.msg = c.acm = c.m = null;  // keep no message between messages
        ctx.set("st", R.st);
        return out;
    }

    S = strategy(cfg, cfg.options || {}, {
        UNKNOWN: UNKNOWN, now: now, json: json, at: at, cancel: cancel, ports: ports, show: show, status: status,
        send: (out) => R.node.send(out), error: (text, m) => R.node.error(text, m),
    });
    // The state of this configuration survives a restart of the node when the
    // context store persists it; its deadlines go back on the heap.
    if (ctx.get("cfgRaw") === raw && ctx.get("st") !== undefined) {
        R.st = ctx.get("st");
        if (S.resume) S.resume(R.st);
    } else {
        R.st = initialState();
        ctx.set("cfg", cfg);
        ctx.set("st", R.st);
        ctx.set("cfgRaw", raw);
    }
    if (!globalThis.acmCloses) {  // once per node: the close handler outlives configurations
        globalThis.acmCloses = true;
        node.on("close", () => { const r = globalThis.acmResolver; if (r) r.stop(); });
    }
    globalThis.acmResolver = R;
    return R;
}
