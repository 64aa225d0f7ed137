"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const {createNode, cmd} = require("./harness");

function config(options, targets = 1) {
    return {strategy: "lock", conflict: "ACM002-test", label: "heater", targets,
        options: Object.assign({hold: 60000, mode: "drop"}, options)};
}
const payloads = (n) => n.out().map((o) => o[1]);

test("lock/drop: first app holds the actuator, others are dropped and counted", async () => {
    const n = createNode("lock", config({}));
    const r = await n.input(cmd("comfort", "on"));
    assert.equal(r[0].payload, "on");
    assert.equal("acm" in r[0], false);
    assert.equal(n.status(), "heater: locked by comfort (0 dropped)");
    await n.input(cmd("safety", "off"));
    await n.input(cmd("schedule", "off"));
    assert.deepEqual(payloads(n), ["on"]);
    assert.equal(n.status(), "heater: locked by comfort (2 dropped)");
    // The holder's own commands pass (no on-change filter for lock).
    await n.input(cmd("comfort", "eco"));
    await n.input(cmd("comfort", "eco"));
    assert.deepEqual(payloads(n), ["on", "eco", "eco"]);
});

test("lock/drop: lock is free after the hold, next app takes it and the count restarts", async () => {
    const n = createNode("lock", config({renew: false}));
    await n.input(cmd("comfort", "on"));
    await n.input(cmd("safety", "off"));
    n.advance(60000);
    assert.equal(n.status(), "heater: free");
    assert.deepEqual(payloads(n), ["on"]);       // dropped commands never come back
    await n.input(cmd("safety", "off"));
    assert.deepEqual(payloads(n), ["on", "off"]);
    assert.equal(n.status(), "heater: locked by safety (0 dropped)");
    assert.equal(n.store.get("st").total, 1);
});

test("lock: the holder's own commands renew the hold (default)", async () => {
    const n = createNode("lock", config({}));
    await n.input(cmd("comfort", "on"));          // t=0, until 60s
    n.advance(50000);
    await n.input(cmd("comfort", "on"));          // t=50s, renewed until 110s
    n.advance(20000);                             // t=70s: still held
    await n.input(cmd("safety", "off"));
    assert.deepEqual(payloads(n), ["on", "on"]);
    assert.equal(n.status(), "heater: locked by comfort (1 dropped)");
    n.advance(40000);                             // t=110s: free
    assert.equal(n.status(), "heater: free");
});

test("lock: renew false keeps a fixed window from the first command", async () => {
    const n = createNode("lock", config({renew: false}));
    await n.input(cmd("comfort", "on"));
    n.advance(50000);
    await n.input(cmd("comfort", "on"));
    n.advance(10000);                             // t=60s: expired despite the renewal attempt
    await n.input(cmd("safety", "off"));
    assert.deepEqual(payloads(n), ["on", "on", "off"]);
});

test("lock/queue: queued commands are handed over FIFO at expiry, latest per app", async () => {
    const n = createNode("lock", config({mode: "queue", renew: false}, 2));
    await n.input(cmd("comfort", "on", {target: 0}));     // t=0 comfort holds until 60s
    n.advance(1000);
    await n.input(cmd("safety", "off", {target: 1}));     // queued 1st
    await n.input(cmd("schedule", "eco", {target: 0}));   // queued 2nd
    await n.input(cmd("safety", "boost", {target: 1}));   // replaces safety's entry, keeps its place
    assert.equal(n.status(), "heater: locked by comfort (2 queued)");
    assert.deepEqual(n.out(), [[0, "on"]]);
    n.advance(59000);                                      // t=60s: safety takes the lock
    assert.deepEqual(n.out(), [[0, "on"], [1, "boost"]]);
    assert.equal(n.rec.emitted[1].t - n.rec.emitted[0].t, 60000);
    assert.equal(n.status(), "heater: locked by safety (1 queued)");
    n.advance(60000);                                      // t=120s: schedule takes it
    assert.deepEqual(n.out(), [[0, "on"], [1, "boost"], [0, "eco"]]);
    assert.equal(n.status(), "heater: locked by schedule (0 queued)");
    n.advance(60000);
    assert.equal(n.status(), "heater: free");
    assert.equal(n.out().length, 3);
    // Timer emits (node.send) carry an array of cfg.targets outputs too.
    assert.deepEqual(n.rec.arrays.map((a) => a.length), [2, 2, 2]);
});

test("lock: a lost timer (restart) is caught up on the next message", async () => {
    const n = createNode("lock", config({mode: "queue", renew: false}));
    await n.input(cmd("comfort", "on"));
    await n.input(cmd("safety", "off"));
    n.clock.timers = [];                          // redeploy cleared the timers
    n.advance(70000);
    await n.input(cmd("schedule", "eco"));        // expiry handled first: safety's queued command
    assert.deepEqual(payloads(n), ["on", "off"]);
    assert.equal(n.status(), "heater: locked by safety (1 queued)");
});

test("lock: messages without an app share the identity (unknown)", async () => {
    const n = createNode("lock", config({}));
    await n.input(cmd(undefined, "on"));
    await n.input(cmd(undefined, "off"));
    assert.deepEqual(payloads(n), ["on", "off"]);
    assert.equal(n.status(), "heater: locked by (unknown) (0 dropped)");
});
