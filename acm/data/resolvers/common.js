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
//       status(st)      - the node status {fill, shape, text} for state st (null:
//                         none), worked out after messages and expiries;
//       due(st)         - a deadline it set with r.at() has come; returns the output
//                         array or null (optional);
//       resume(st)      - re-arm the deadlines of a state restored from context
//                         (optional).
// The configuration is read once per start of the node: Node-RED restarts the nodes
// of a group whose env changed (a redeploy). Everything built from it (parsed
// options, the handlers, the deadline scheduler, the parsed tags) is built then and
// kept in this function node's own sandbox (its global object: it lives and dies
// with the node), so a message costs no env lookup, no parsing and no closures.
// State (node context, plain JSON): "cfgRaw"/"cfg" = the configuration, "st" = the
// strategy's state, so that a persistent context store keeps it across restarts.
// The state object changes in place; where the context store keeps the very object
// it was given (memory, and localfilesystem's cache) a write only tells the store
// there is something to save: it comes at most a second after a change (a deadline
// like the others) and when the node closes. Any other store gets a write after every
// message and every expiry.
// Timers: one pending setTimeout per resolver, for the earliest deadline of a small
// keyed min-heap; setting a key's deadline again replaces it (one moved later waits
// for its earlier time to come, then goes back for the rest: a renewed hold costs
// no heap work).
// Status: worked out at most STATUS_MAX times a second, and sent when it changed;
// beyond that, once more at the start of the next second (a deadline too), so the
// status always ends up saying what the state is.
// The sandbox's global object is "this" of the function Node-RED wraps the body in (a
// sloppy-mode call): one lookup cheaper than the global name globalThis. The
// functions below take node and msg as arguments: none of them captures a variable
// of that function, which would then be allocated anew for every message.
const acmGlobal = this || globalThis;
let R = acmGlobal.acmResolver;
if (R === undefined) {
    R = acmStart(node, msg);
    if (R === null) return null;
    acmGlobal.acmResolver = R;
}
R.node = node;  // timers send through the node object of the latest message
return R.input(msg);

// Read the configuration (group env ACM_RESOLVER) and build the resolver, or return
// null (error reported; the next message tries again).
function acmStart(node, msg) {
    const env0 = env.get("ACM_RESOLVER");
    if (env0 === undefined || env0 === null || env0 === "") {
        node.error("ACM resolver: group env variable ACM_RESOLVER is not set; message dropped", msg);
        node.status({fill: "red", shape: "ring", text: "ACM_RESOLVER missing"});
        return null;
    }
    const raw = typeof env0 === "string" ? env0 : JSON.stringify(env0);  // env type "str" expected
    let cfg;
    try { cfg = JSON.parse(raw); } catch (e) {
        node.error("ACM resolver: ACM_RESOLVER is not valid JSON (" + e.message + "); message dropped", msg);
        return null;
    }
    if (!cfg || cfg.strategy !== strategyName()) {
        node.error("ACM resolver: ACM_RESOLVER strategy is not \"" + strategyName() + "\"; message dropped", msg);
        return null;
    }
    return acmSetup(raw, cfg, node);
}

// Build the resolver for configuration cfg (text raw); node: of the first message.
function acmSetup(raw, cfg, node) {
    // The sandbox's globals, read once: every use of a global name inside the
    // function node's vm context is a lookup through the context (about 0.25 µs),
    // every use of a local one is free.
    const ctx = context, D = Date, J = JSON, Str = String, isInt = Number.isInteger;
    // The time, read once per message and per timer: everything one message (or one
    // expiry) does happens at the same time.
    let time = D.now();
    const now = () => time;
    const json = (v) => J.stringify(v);
    const nTargets = cfg.targets || 1;
    const UNKNOWN = "(unknown)";  // app of a command without msg.acm.app
    // Deadlines: a binary min-heap of {key, due, want}, pos: key -> index in the heap.
    // Strategies key theirs by strings; SAVE and STATUS are common.js's own. A deadline
    // moved later (a hold renewed by every message) keeps its place and only notes
    // the time it wants: when its place comes, it goes back in the heap for the rest.
    const heap = [];
    const pos = new Map();
    let timer = null;   // the one pending setTimeout
    let armed = 0;      // its deadline
    // Status: shown = the one sent last; worked = how often it was worked out since
    // "since", the start of the current second; stale = the STATUS deadline will.
    const STATUS = {}, STATUS_MAX = 10, STATUS_MS = 1000;
    let shown = null, worked = 0, since = -Infinity, stale = false;
    // Saving the state: live = the store keeps the object it was given (checked once,
    // below); unsaved = a change is waiting for its write (the SAVE deadline).
    const SAVE = {}, SAVE_MS = 1000;
    let live = false, unsaved = false;
    let S = null;
    const R = {node: node, st: null, input: input, stop: stop, stopped: false};

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
            heap.push({key: key, due: due, want: due});
            pos.set(key, heap.length - 1);
            up(heap.length - 1);
        } else {
            const e = heap[i];
            e.want = due;
            if (due >= e.due) return;  // later: noted (see above)
            e.due = due;
            up(i);
        }
        arm(now(), 0);
    }
    function cancel(key) {
        const i = pos.get(key);
        if (i !== undefined) remove(i);
    }
    // Keep one timer, for the earliest deadline. A pending timer for a later time is
    // replaced. One whose time has passed is about to run: the event loop runs timers
    // between the batches of messages it delivers (replacing it at every message of a
    // busy batch would cost a clearTimeout and a setTimeout each); one overdue by more
    // than LOST ms is taken as lost and replaced (harmless if it was not).
    const LOST = 1000;
    function arm(t, extra) {
        if (heap.length === 0) return;
        const due = heap[0].due;
        if (timer !== null && armed <= due && armed > t - LOST) return;
        if (timer !== null) clearTimeout(timer);
        armed = due;
        // setTimeout fires at once beyond 2^31-1 ms (24.8 days): wait at most that long,
        // fire() finds it early and waits for the rest.
        timer = setTimeout(fire, Math.min(0x7fffffff, (due > t ? due - t : 0) + extra));
    }
    // Timers can fire a little before now() reaches the deadline (the event
    // loop's clock is read at the start of a busy iteration): an early timer waits
    // for the rest of the time. Only the expired deadlines are taken off the heap,
    // and the strategy runs once for them all.
    function fire() {
        timer = null;
        if (R.stopped) return;
        const t = time = D.now();
        if (heap.length === 0) return;
        // Early (before its own time): wait a millisecond more; else the deadline moved.
        if (heap[0].due > t) { arm(t, t < armed ? 1 : 0); return; }
        let due = false, save = false, show = false;
        while (heap.length > 0 && heap[0].due <= t) {
            const e = heap[0];
            if (e.want > t) { e.due = e.want; down(0); continue; }  // moved later meanwhile
            if (e.key === SAVE) save = true; else if (e.key === STATUS) show = true; else due = true;
            remove(0);
        }
        if (!due && !save && !show) { arm(t, 0); return; }
        const out = due && S.due ? S.due(R.st) : null;
        if (due) changed();
        if (save) saved();
        if (show) { stale = false; since = t; worked = 0; }  // a new second
        if (due || show) restatus();
        arm(t, 0);
        if (out) R.node.send(out);
    }
    // The state changed: write it now, or (live store) within SAVE_MS.
    function changed() {
        if (!live) { ctx.set("st", R.st); return; }
        if (!unsaved) { unsaved = true; at(SAVE, now() + SAVE_MS); }
    }
    function saved() {
        unsaved = false;
        ctx.set("st", R.st);
    }
    function stop() {
        R.stopped = true;
        if (timer !== null) clearTimeout(timer);
        timer = null;
        heap.length = 0;
        pos.clear();
        if (unsaved) saved();  // closing (a redeploy, a shutdown): the store saves it next
    }
    // The status may have changed: work it out (at most STATUS_MAX times a second, or
    // else at the start of the next) and send it when it did.
    function restatus() {
        if (stale) return;
        const t = now();
        if (t - since >= STATUS_MS) { since = t; worked = 0; }
        if (worked >= STATUS_MAX) { stale = true; at(STATUS, since + STATUS_MS); return; }
        worked++;
        const s = S.status(R.st);
        if (s === null || (shown !== null && s.text === shown.text && s.fill === shown.fill && s.shape === shown.shape)) return;
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
    // The output array with message m on port target: ports() sends a copy (the
    // state keeps m), pass() m itself (the state keeps no reference to it).
    function pass(m, target) {
        if (nTargets === 1) return [m];
        const out = new Array(nTargets);  // (an array grown by push starts with 17 slots)
        for (let i = 0; i < nTargets; i++) out[i] = null;
        out[target] = m;
        return out;
    }
    function ports(m, target) { return pass(copy(m), target); }
    function show(v) { const s = Str(typeof v === "string" ? v : J.stringify(v)); return s.length > 40 ? s.slice(0, 39) + "…" : s; }

    // The tag in front of the resolver (a change node) sets msg._acm to the JSON text
    // {"target", "role", "app"?, "command"?}: a constant of that node, so each text is
    // parsed once (and at most TAGS texts are kept: msg._acm is no one else's to set).
    // A message without msg._acm is read from msg.acm.target, .role, .app, .command,
    // which the three-rule tags of earlier ACM versions set and cross-runtime entries
    // (acm/nodered/site.py) still set.
    // Besides, msg.acm carries what the flows say about a command (.app where the
    // tag cannot know it, .release, .source).
    const tags = new Map(), TAGS = 256, BAD = {}, NONE = {};
    function tagOf(text) {
        let t = tags.get(text);
        if (t !== undefined) return t;
        try { t = J.parse(text); } catch (e) { t = null; }
        if (t === null || typeof t !== "object") t = BAD;
        if (tags.size < TAGS) tags.set(text, t);
        return t;
    }
    // One message: c = {msg, acm (msg.acm, {} when none), app, role, asked (output
    // port asked for by the tag's target, null when none: a guard message's target is
    // not one of ours), value (the command), m (what the actuator gets: a clean
    // shallow copy without msg.acm and msg._acm, payload = value)}.
    const c = {msg: null, acm: NONE, app: UNKNOWN, role: undefined, asked: null, value: undefined, m: null};
    function input(msg) {
        time = D.now();
        const a = msg.acm, text = msg._acm;
        const acm = a !== null && typeof a === "object" ? a : NONE;
        const tag = typeof text === "string" ? tagOf(text) : acm;
        if (tag === BAD) {
            R.node.warn("ACM resolver: msg._acm is not a tag (JSON object); message dropped");
            return null;
        }
        const role = tag.role;
        const asked = tag.target !== undefined && role !== "guard" ? tag.target : null;
        if (asked !== null && (!isInt(asked) || asked < 0 || asked >= nTargets)) {
            R.node.warn("ACM resolver: msg.acm.target " + J.stringify(asked) + " out of range; message dropped");
            return null;
        }
        const app = tag.app !== undefined ? tag.app : acm.app;
        const command = tag.command !== undefined ? tag.command : acm.command;
        const value = command !== undefined ? command : msg.payload;
        const m = {};
        for (const k in msg) if (k !== "acm" && k !== "_acm" && k !== "_msgid") m[k] = msg[k];
        m.payload = value;
        c.msg = msg;
        c.acm = acm;
        c.app = typeof app === "string" && app !== "" ? app : UNKNOWN;
        c.role = role;
        c.asked = asked;
        c.value = value;
        c.m = m;
        const out = S.input(R.st, c);
        c.msg = c.m = null;  // keep no message between messages
        c.acm = NONE;
        changed();
        restatus();
        return out;
    }

    S = strategy(cfg, cfg.options || {}, {
        UNKNOWN: UNKNOWN, now: now, json: json, at: at, cancel: cancel, ports: ports, pass: pass,
        show: show, send: (out) => R.node.send(out), error: (text, m) => R.node.error(text, m),
    });
    // The state of this configuration survives a restart of the node when the
    // context store persists it; its deadlines go back on the heap.
    time = D.now();
    if (ctx.get("cfgRaw") === raw && ctx.get("st") !== undefined) {
        R.st = ctx.get("st");
        if (S.resume) S.resume(R.st);
    } else {
        R.st = initialState();
        ctx.set("cfg", cfg);
        ctx.set("st", R.st);
        ctx.set("cfgRaw", raw);
    }
    live = ctx.get("st") === R.st;
    node.on("close", stop);
    return R;
}
