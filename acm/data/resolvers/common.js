// ACM resolver: the part shared by every strategy. The function node body is this
// file followed by one strategy file (acm/resolve.py template()); both are fixed
// templates: everything specific to one resolution comes from the group env
// variable ACM_RESOLVER (JSON, data only), and nothing taken from a message is
// ever evaluated as code.
// The strategy file declares (as function declarations, so they exist here already):
//   strategyName()  - the strategy ACM_RESOLVER must name;
//   initialState()  - the fresh state "st" for a new configuration.
// State (node context, plain JSON): "cfgRaw"/"cfg" = parsed config cache, "st" =
// the strategy's state.
const env0 = env.get("ACM_RESOLVER");
if (env0 === undefined || env0 === null || env0 === "") {
    node.error("ACM resolver: group env variable ACM_RESOLVER is not set; message dropped", msg);
    node.status({fill: "red", shape: "ring", text: "ACM_RESOLVER missing"});
    return null;
}
const raw = typeof env0 === "string" ? env0 : JSON.stringify(env0);  // env type "str" expected
if (context.get("cfgRaw") !== raw) {
    // Group env can change without the function node being restarted: re-parse and
    // start from a clean state, the old one belongs to another configuration.
    let parsed;
    try { parsed = JSON.parse(raw); } catch (e) {
        node.error("ACM resolver: ACM_RESOLVER is not valid JSON (" + e.message + "); message dropped", msg);
        return null;
    }
    if (!parsed || parsed.strategy !== strategyName()) {
        node.error("ACM resolver: ACM_RESOLVER strategy is not \"" + strategyName() + "\"; message dropped", msg);
        return null;
    }
    context.set("cfg", parsed);
    context.set("st", initialState());
    context.set("cfgRaw", raw);
}
const cfg = context.get("cfg");
const opt = cfg.options || {};
const UNKNOWN = "(unknown)";  // app of a command without msg.acm.app

function show(v) { const s = typeof v === "string" ? v : JSON.stringify(v); return String(s).length > 40 ? String(s).slice(0, 39) + "…" : String(s); }
// Always send a copy: the stored command may be sent again later (relinquish,
// restore), and the node downstream may change the message it receives.
function ports(m, target) {
    const out = new Array(cfg.targets || 1).fill(null);
    out[target] = RED.util.cloneMessage(m);
    return out;
}
// After ms, run step(st) on the stored state and send what it returns, unless the
// configuration was replaced meanwhile (the timer belongs to the old one).
// Timers can fire a little before Date.now() reaches the deadline (the event loop's
// clock is read at the start of a busy iteration), and the strategies compare their
// deadlines with Date.now(): so an early timer waits for the rest of the time.
function later(ms, step) {
    const due = Date.now() + ms;
    const fire = () => {
        if (context.get("cfgRaw") !== raw) return;
        const left = due - Date.now();
        if (left > 0) { setTimeout(fire, left + 1); return; }
        const st = context.get("st");
        const out = step(st);
        context.set("st", st);
        if (out) node.send(out);
    };
    setTimeout(fire, ms);
}

// The incoming message, as the tag change node left it.
const st = context.get("st");
const acm = (msg.acm && typeof msg.acm === "object") ? msg.acm : {};
const app = typeof acm.app === "string" && acm.app !== "" ? acm.app : UNKNOWN;
// Output port asked for by msg.acm.target, null when none (a guard message's target
// is not one of ours).
const asked = acm.target !== undefined && acm.role !== "guard" ? acm.target : null;
if (asked !== null && (!Number.isInteger(asked) || asked < 0 || asked >= (cfg.targets || 1))) {
    node.warn("ACM resolver: msg.acm.target " + JSON.stringify(asked) + " out of range; message dropped");
    return null;
}
const value = acm.command !== undefined ? acm.command : msg.payload;
const m = Object.assign({}, msg);  // the actuator gets a clean shallow copy: no msg.acm, payload = value
delete m.acm;
delete m._msgid;
m.payload = value;
