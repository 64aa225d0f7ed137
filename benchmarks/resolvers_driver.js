// Benchmark driver: the body of a function node that benchmarks/resolvers.py puts in
// front of the paths it measures. POST /acm-bench with a JSON request runs one
// measurement and answers with its figures. Output 0 goes to the HTTP response,
// output p (1..) starts path p. Every path ends in the sink, a function node that
// calls B.arrive(); B is the object settings.js puts in the global context (a
// clock, the sink's counter, gc() and the heap size).
const B = global.get("acmBench");
const q = msg.payload;
const PORTS = q.ports;

function sendTo(port, msgs) {
    const out = new Array(PORTS).fill(null);
    out[port] = msgs;
    node.send(out, false);
}
// Message i of a run: "pass" alternates 0/1 from one application, which every
// pass configuration lets through (its path starts at a tag); "mixed" comes straight
// to a resolver from ten applications, with a guard message every 50th (interlock
// reads them), tagged as a tag node would (q.tags "three": as the three-rule tags
// of earlier versions did, msg.acm; else msg._acm, one constant text per tag).
const TAGS = [];
for (let a = 0; a < 10; a++) {
    for (const role of ["command", "guard"]) {
        TAGS.push(JSON.stringify({target: 0, role: role, app: "app" + a}));
    }
}
function make(kind, i) {
    if (kind === "pass") return {payload: i & 1, topic: "bench"};
    const guard = i % 50 === 49;
    const msg = {payload: guard ? ((i / 50) & 1 ? "open" : "closed") : i % 7, topic: "bench"};
    if (q.tags === "three") msg.acm = {target: 0, role: guard ? "guard" : "command", app: "app" + (i % 10)};
    else msg._acm = TAGS[2 * (i % 10) + (guard ? 1 : 0)];
    return msg;
}
function sorted(xs) { return Float64Array.from(xs).sort(); }
function pct(s, p) { return s[Math.min(s.length - 1, Math.floor(p * s.length))]; }
function heap() { B.gc(); B.gc(); return B.heap(); }

// One message at a time: latency (ms) from the driver's send to the sink.
async function pingpong(port, k, kind) {
    const lat = new Array(k);
    const at = new Array(k);
    for (let i = 0; i < k; i++) {
        const want = B.count + 1;
        const t0 = B.now();
        sendTo(port, make(kind, i));
        await B.until(want);
        lat[i] = B.at - t0;
        at[i] = t0;
    }
    return {lat, at};
}
// n messages in batches, two batches in flight; ms until the last one arrived.
async function burst(port, n, kind, batch) {
    const start = B.count;
    const t0 = B.now();
    let sent = 0;
    while (sent < n) {
        const k = Math.min(batch, n - sent);
        const msgs = new Array(k);
        for (let j = 0; j < k; j++) msgs[j] = make(kind, sent + j);
        sendTo(port, msgs);
        sent += k;
        await B.until(start + Math.max(0, sent - batch));
    }
    await B.until(start + n);
    return B.at - t0;
}

const r = {};
if (q.op === "latency") {
    // Interleaved blocks, so drift on a shared machine hits every path alike.
    const lat = {};
    for (const p of q.paths) lat[p] = [];
    for (let round = 0; round < q.rounds; round++) {
        for (const p of q.paths) lat[p].push(...(await pingpong(p, q.block, "pass")).lat);
    }
    for (const p of q.paths) { const s = sorted(lat[p]); r[p] = {p50: pct(s, 0.5), p99: pct(s, 0.99)}; }
} else if (q.op === "throughput") {
    // Interleaved rounds too; messages per second in each path's fastest round, as
    // the CPU figures are the best of several runs: a burst of load elsewhere on a
    // shared machine slows one round of one path, not the path.
    const ms = {};
    for (const p of q.paths) ms[p] = Infinity;
    const each = Math.ceil(q.n / q.rounds);
    for (let round = 0; round < q.rounds; round++) {
        for (const p of q.paths) ms[p] = Math.min(ms[p], await burst(p, each, "pass", q.batch));
    }
    for (const p of q.paths) r[p] = each / ms[p] * 1000;
} else if (q.op === "heap") {
    // Heap after GC before and after n mixed messages through one resolver; its
    // complete node counts the messages it has handled (it passes few of them).
    const before = heap();
    const ms = await burst(q.path, q.n, "mixed", q.batch);
    r.ms = ms;
    r.before = before;
    r.after = heap();
} else if (q.op === "expiry") {
    // A neighbouring path's round trips while the deadlines of n commands (sent in
    // a burst from t0 on, for ms) expire, from t0 + ttl to t0 + ms + ttl, against its
    // round trips in the second just before.
    const base = [];
    const tb = B.now();
    while (B.now() < tb + 1000) base.push(...(await pingpong(q.neighbour, 100, "pass")).lat);
    const t0 = B.now();
    const ms = await burst(q.path, q.n, "mixed", q.batch);
    const lat = [];
    while (B.now() < t0 + ms + q.ttl + 200) {
        const one = await pingpong(q.neighbour, 100, "pass");
        for (let i = 0; i < one.lat.length; i++) {
            if (one.at[i] >= t0 + q.ttl && one.at[i] <= t0 + ms + q.ttl) lat.push(one.lat[i]);
        }
    }
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const b = sorted(base), s = sorted(lat);
    r.base = {mean: mean(base), p50: pct(b, 0.5), p90: pct(b, 0.9), max: b[b.length - 1]};
    r.during = {mean: mean(lat), p50: pct(s, 0.5), p90: pct(s, 0.9), max: s[s.length - 1], samples: s.length};
    r.ms = ms;
}
msg.payload = r;
const out = new Array(PORTS).fill(null);
out[0] = msg;
return out;
