"use strict";
// The resolvers' timers and memory: one pending timer per resolver (its earliest
// deadline) whatever the message rate, and state bounded by the number of
// applications, not of messages. Time is the harness's fake clock.
const test = require("node:test");
const assert = require("node:assert/strict");
const {createNode, cmd} = require("./harness");

function config(strategy, options) {
    return {strategy, conflict: "ACM000-timers", label: "heater", targets: 1, options};
}
const APPS = ["a0", "a1", "a2", "a3", "a4"];
const stateSize = (n) => n.store.text("st").length;

// Send count commands, app i % APPS.length, values i % 3, 10 ms apart; check after
// every message that at most one timer is pending.
async function flood(n, count, make = (i) => cmd(APPS[i % APPS.length], i % 3)) {
    for (let i = 0; i < count; i++) {
        await n.input(make(i));
        assert.ok(n.pending() <= 1, `message ${i}: ${n.pending()} timers pending`);
        n.advance(10);
    }
}

// Every strategy with deadlines, configured so that (almost) every message sets one.
const TIMED = {
    "priority (TTL)": ["priority", {order: ["a0", "a1"], ttl: 60000, default: "off", release: "release"}],
    "lock (drop)": ["lock", {hold: 60000, mode: "drop", renew: true}],
    "lock (queue)": ["lock", {hold: 60000, mode: "queue", renew: true}],
    "dwell": ["dwell", {min: 60000}],
    "override": ["override", {hold: 60000, release: "auto", resume: "latest", manual: ["a0", "a2"]}],
};

for (const [name, [strategy, options]] of Object.entries(TIMED)) {
    test(name + ": one pending timer whatever the message count, state bounded", async () => {
        const n = createNode(strategy, config(strategy, options));
        await flood(n, 200);
        assert.equal(n.pending(), 1);
        const size = stateSize(n);
        await flood(n, 2000);
        assert.equal(n.pending(), 1);
        // Counters may gain a digit; nothing is kept per message.
        assert.ok(stateSize(n) <= size + 16, `state grew from ${size} to ${stateSize(n)} characters`);
        // Quiet for longer than any deadline (a queue hands the lock over app by app):
        // everything expires, no timer is left.
        n.advance(600000);
        assert.equal(n.pending(), 0);
    });

    test(name + ": closing the node cancels its timer", async () => {
        const n = createNode(strategy, config(strategy, options));
        await flood(n, 20);
        assert.equal(n.pending(), 1);
        n.close();
        assert.equal(n.pending(), 0);
    });
}

for (const [strategy, options] of [["merge", {op: "max"}],
    ["interlock", {blocked_when: ["open"], mode: "override", override: 0, restore: true}]]) {
    test(strategy + ": no timers at all, state bounded", async () => {
        const n = createNode(strategy, config(strategy, options));
        await flood(n, 100, (i) => (i % 7 === 6 ? {payload: i % 2 ? "open" : "closed", acm: {role: "guard", target: 0}}
            : cmd(APPS[i % APPS.length], i % 3)));
        const size = stateSize(n);
        await flood(n, 1000);
        assert.equal(n.pending(), 0);
        assert.ok(stateSize(n) <= size + 16, `state grew from ${size} to ${stateSize(n)} characters`);
    });
}

test("priority: the timer is for the earliest deadline; a renewed command moves its own", async () => {
    const n = createNode("priority", config("priority", {order: ["a0", "a1", "a2"], ttl: 30000, default: "off"}));
    const t0 = n.clock.now;
    await n.input(cmd("a1", "on"));              // a1 expires at 30s
    n.advance(10000);
    await n.input(cmd("a0", "eco"));             // a0 at 40s
    assert.equal(n.pending(), 1);
    assert.equal(n.nextDue() - t0, 30000);
    n.advance(5000);
    await n.input(cmd("a1", "on"));              // a1 renewed: 45s; the earliest is now a0's 40s
    assert.equal(n.pending(), 1);
    n.advance(25000);                            // t=40s: a0 expires, a1 wins again
    assert.deepEqual(n.out().map((o) => o[1]), ["on", "eco", "on"]);
    assert.equal(n.pending(), 1);
    assert.equal(n.nextDue() - t0, 45000);
    n.advance(5000);                             // t=45s: a1 expires: the default
    assert.deepEqual(n.out().map((o) => o[1]), ["on", "eco", "on", "off"]);
    assert.equal(n.pending(), 0);
});

test("priority: many deadlines expiring together run the strategy once", async () => {
    const n = createNode("priority", config("priority", {order: APPS, ttl: 1000, default: "off"}));
    for (const app of APPS) await n.input(cmd(app, "on-" + app));
    const before = n.rec.statuses.length;
    n.advance(1000);                             // all five TTLs end at the same time
    assert.equal(n.rec.statuses.length - before, 1);
    assert.deepEqual(n.out().map((o) => o[1]).slice(-1), ["off"]);
    assert.equal(n.pending(), 0);
});

test("a released command cancels its deadline", async () => {
    const n = createNode("priority", config("priority", {order: ["a0"], ttl: 60000}));
    await n.input(cmd("a0", "on"));
    assert.equal(n.pending(), 1);
    await n.input(cmd("a0", "release"));
    n.advance(60000);
    assert.equal(n.pending(), 0);
    const d = createNode("dwell", config("dwell", {min: 60000}));
    await d.input(cmd("a0", "on"));
    await d.input(cmd("a1", "off"));             // held: a deadline
    await d.input(cmd("a1", "on"));              // back to the value in force: none
    d.advance(60000);
    assert.equal(d.pending(), 0);
});

test("a new configuration (a redeploy restarts the node) cancels the old timer and starts afresh", async () => {
    const first = config("lock", {hold: 60000, mode: "drop"});
    const n = createNode("lock", first);
    await n.input(cmd("a0", "on"));
    assert.equal(n.pending(), 1);
    const m = n.restart(Object.assign({}, first, {label: "boiler"}));
    assert.equal(n.pending(), 0);                // closing the old node cancelled its timer
    await m.input(cmd("a1", "off"));             // a fresh lock: a1 takes it
    assert.equal(m.pending(), 1);
    assert.equal(m.status(), "boiler: locked by a1 (0 dropped)");
    assert.deepEqual(n.out().map((o) => o[1]), ["on"]);
    assert.deepEqual(m.out().map((o) => o[1]), ["off"]);
});

test("a node restarted with a persisted state re-arms its deadlines", async () => {
    const n = createNode("lock", config("lock", {hold: 60000, mode: "queue", renew: false}));
    await n.input(cmd("a0", "on"));
    await n.input(cmd("a1", "off"));
    // A new node (new sandbox, no timers) over the same context store.
    const m = n.restart();
    await m.input(cmd("a0", "on"));              // the holder's command passes; restores the hold
    assert.equal(m.pending(), 1);
    m.advance(60000);                            // a1's queued command takes the lock on time
    assert.deepEqual([...n.out(), ...m.out()].map((o) => o[1]), ["on", "on", "off"]);
});

// Context stores that keep the very object (Node-RED's memory store, localfilesystem's
// cache): the state changes in place and is written at most a second after a change.
for (const [name, [strategy, options]] of Object.entries(TIMED)) {
    test(name + ": a store that keeps the object gets no write per message", async () => {
        const n = createNode(strategy, config(strategy, options), {store: "memory"});
        await n.input(cmd("a0", "on"));
        const sets = n.store.sets;
        for (let i = 0; i < 100; i++) await n.input(cmd(APPS[i % APPS.length], i % 3));
        assert.ok(n.store.sets - sets <= 1, `${n.store.sets - sets} writes for 100 messages`);
        assert.ok(n.pending() <= 1, `${n.pending()} timers pending`);
        const live = n.store.get("st");
        n.advance(1000);
        assert.equal(n.store.get("st"), live);     // the same object: nothing is copied
        assert.ok(n.store.sets - sets <= 2);
    });
}

test("a file store (localfilesystem) saves the state within a second of a change, and on close", async () => {
    const n = createNode("lock", config("lock", {hold: 60000, mode: "queue", renew: false}), {store: "file"});
    await n.input(cmd("a0", "on"));
    n.store.flush();                             // the store's flush interval
    assert.equal(JSON.parse(n.store.disk.get("st")).owner, "a0");
    await n.input(cmd("a1", "off"));             // queued: the state changed in place
    n.store.flush();
    assert.equal(JSON.parse(n.store.disk.get("st")).queue.length, 0, "not marked for saving yet");
    n.advance(1000);                             // at most a second later: marked
    n.store.flush();
    assert.equal(JSON.parse(n.store.disk.get("st")).queue.length, 1);
    await n.input(cmd("a2", "eco"));
    n.close();                                   // a shutdown: closed, then the store flushes
    n.store.flush();
    assert.deepEqual(JSON.parse(n.store.disk.get("st")).queue.map((q) => q.app), ["a1", "a2"]);
    // Node-RED started again over what the store wrote: the hold and the queue go on.
    const m = createNode("lock", config("lock", {hold: 60000, mode: "queue", renew: false}),
        {store: n.store.restarted(), clock: n.clock});
    await m.input(cmd("a3", "x"));
    assert.equal(m.pending(), 1);
    assert.equal(m.status(), "heater: locked by a0 (3 queued)");
    m.advance(59000);                            // the hold of a0 ends: a1's command, then a2's
    m.advance(60000);
    assert.deepEqual(m.out().map((o) => o[1]), ["off", "eco"]);
});

test("the status is worked out at most 10 times a second; the last one shows", async () => {
    const n = createNode("merge", config("merge", {op: "max"}));
    for (let i = 0; i < 100; i++) await n.input(cmd("a0", i));  // a new status each time
    assert.equal(n.rec.statuses.length, 10);
    assert.equal(n.status(), "heater: max=9 (1 app)");
    assert.equal(n.pending(), 1);                // the status is worked out again then
    n.advance(1000);
    assert.equal(n.rec.statuses.length, 11);
    assert.equal(n.status(), "heater: max=99 (1 app)");
    assert.equal(n.pending(), 0);
    await n.input(cmd("a0", 100));               // a new second: at once again
    assert.equal(n.status(), "heater: max=100 (1 app)");
    for (let i = 0; i < 20; i++) await n.input(cmd("a0", 100)); // unchanged: nothing sent
    assert.equal(n.rec.statuses.length, 12);
});

test("status is sent only when it changes", async () => {
    const n = createNode("lock", config("lock", {hold: 60000, mode: "drop"}));
    await n.input(cmd("a0", "on"));
    for (let i = 0; i < 10; i++) await n.input(cmd("a0", "on"));
    assert.equal(n.rec.statuses.length, 1);
    n.advance(1000);                             // (11 messages in that second: see below)
    assert.equal(n.rec.statuses.length, 1);
    await n.input(cmd("a1", "off"));
    assert.equal(n.rec.statuses.length, 2);
});

test("a deadline beyond 24.8 days waits, instead of firing at once over and over", async () => {
    // Node's setTimeout fires after 1 ms when asked for more than 2^31-1 ms.
    const month = 30 * 24 * 3600 * 1000;
    const n = createNode("priority", config("priority",
        {order: ["a0", "a1"], ttl: month, default: "off", release: "release"}));
    await n.input(cmd("a0", "on"));
    assert.equal(n.pending(), 1);
    n.advance(1000);
    assert.equal(n.pending(), 1);
    assert.ok(n.nextDue() - n.now() > 24 * 3600 * 1000, "the timer waits for days, not 1 ms");
});
