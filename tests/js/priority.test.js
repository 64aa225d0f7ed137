"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const {createNode, cmd} = require("./harness");

function config(options, targets = 1) {
    return {strategy: "priority", conflict: "ACM001-test", label: "heater", targets,
        options: Object.assign({order: ["safety", "comfort", "schedule"], ttl: null, default: null, release: "release"}, options)};
}

test("priority: higher priority wins, output only on change", async () => {
    const n = createNode("priority", config({}));
    await n.input(cmd("comfort", "on"));
    assert.deepEqual(n.out(), [[0, "on"]]);
    assert.equal(n.status(), "heater: comfort@2 → on");
    n.advance(5000);
    await n.input(cmd("safety", "off"));
    assert.deepEqual(n.out(), [[0, "on"], [0, "off"]]);
    assert.equal(n.status(), "heater: safety@1 → off");
    // A lower priority cannot override safety, and is not emitted.
    await n.input(cmd("schedule", "on"));
    await n.input(cmd("comfort", "on"));
    assert.equal(n.out().length, 2);
    assert.equal(n.status(), "heater: safety@1 → off");
    // Same value again from the winner: no output.
    await n.input(cmd("safety", "off"));
    assert.equal(n.out().length, 2);
});

test("priority: output is a clean shallow copy on the target port, array of N outputs", async () => {
    const n = createNode("priority", config({}, 3));
    const ret = await n.input(cmd("comfort", 21, {target: 2}));
    assert.equal(ret.length, 3);
    assert.equal(ret[0], null);
    assert.equal(ret[1], null);
    assert.equal(ret[2].payload, 21);
    assert.equal(ret[2].topic, "home/heater/set");
    assert.equal("acm" in ret[2], false);
});

test("priority: msg.acm.command is the command value", async () => {
    const n = createNode("priority", config({}));
    await n.input({payload: {data: 1}, acm: {app: "comfort", target: 0, command: "cover.open_cover"}});
    assert.deepEqual(n.out(), [[0, "cover.open_cover"]]);
});

test("priority: TTL expiry relinquishes to the next lower priority, then to the default", async () => {
    const n = createNode("priority", config({ttl: 60000, default: "off"}));
    await n.input(cmd("comfort", "on"));          // t=0
    n.advance(10000);
    await n.input(cmd("safety", "boost"));        // t=10s
    assert.deepEqual(n.out().map((o) => o[1]), ["on", "boost"]);
    n.advance(50000);                              // t=60s: comfort expires, safety still wins
    assert.deepEqual(n.out().map((o) => o[1]), ["on", "boost"]);
    n.advance(10000);                              // t=70s: safety expires -> nothing active -> default
    assert.deepEqual(n.out().map((o) => o[1]), ["on", "boost", "off"]);
    assert.equal(n.status(), "heater: default → off");
    const last = n.rec.emitted[2];
    assert.equal(last.t - n.rec.emitted[0].t, 70000);
});

test("priority: a timer that fires early still relinquishes at the TTL", async () => {
    // Under load Node fires timers before Date.now() reaches their deadline.
    const n = createNode("priority", config({ttl: 2000, default: "off"}), {early: 15});
    await n.input(cmd("comfort", "on"));
    n.advance(2100);
    assert.deepEqual(n.out().map((o) => o[1]), ["on", "off"]);
    assert.equal(n.rec.emitted[1].t - n.rec.emitted[0].t >= 2000, true);
});

test("priority: TTL expiry hands over to a still-active lower priority command", async () => {
    const n = createNode("priority", config({ttl: 30000}));
    await n.input(cmd("comfort", "on"));           // t=0, expires t=30s
    n.advance(20000);
    await n.input(cmd("safety", "off"));           // t=20s, expires t=50s
    n.advance(20000);                              // t=40s: comfort gone, safety active
    assert.deepEqual(n.out().map((o) => o[1]), ["on", "off"]);
    await n.input(cmd("comfort", "on"));           // t=40s, expires t=70s
    n.advance(10000);                              // t=50s: safety expires -> comfort on
    assert.deepEqual(n.out().map((o) => o[1]), ["on", "off", "on"]);
    assert.equal(n.status(), "heater: comfort@2 → on");
    n.advance(20000);                              // t=70s: comfort expires, no default -> idle, nothing sent
    assert.equal(n.out().length, 3);
    assert.equal(n.status(), "heater: idle");
});

test("priority: a renewed command restarts its TTL", async () => {
    const n = createNode("priority", config({ttl: 30000, default: "off"}));
    await n.input(cmd("comfort", "on"));
    n.advance(20000);
    await n.input(cmd("comfort", "on"));           // renewed, now expires at t=50s
    n.advance(20000);                              // t=40s: old timer fires, nothing expires
    assert.deepEqual(n.out().map((o) => o[1]), ["on"]);
    n.advance(10000);
    assert.deepEqual(n.out().map((o) => o[1]), ["on", "off"]);
});

test("priority: explicit release by msg.acm.release or the release token", async () => {
    const n = createNode("priority", config({default: "auto"}));
    await n.input(cmd("comfort", "on"));
    await n.input(cmd("safety", "off"));
    await n.input({payload: "release", acm: {app: "safety", target: 0}});
    assert.deepEqual(n.out().map((o) => o[1]), ["on", "off", "on"]);
    await n.input({payload: "whatever", acm: {app: "comfort", target: 0, release: true}});
    assert.deepEqual(n.out().map((o) => o[1]), ["on", "off", "on", "auto"]);
    assert.equal(n.status(), "heater: default → auto");
    // Releasing again changes nothing.
    await n.input(cmd("comfort", "release"));
    assert.equal(n.out().length, 4);
});

test("priority: configurable release token, null disables it", async () => {
    const n = createNode("priority", config({release: "REL"}));
    await n.input(cmd("comfort", "release"));      // an ordinary value now
    await n.input(cmd("safety", "on"));
    await n.input(cmd("safety", "REL"));
    assert.deepEqual(n.out().map((o) => o[1]), ["release", "on", "release"]);
    const m = createNode("priority", config({release: null}));
    await m.input(cmd("comfort", "release"));
    assert.deepEqual(m.out().map((o) => o[1]), ["release"]);
});

test("priority: unlisted apps rank below listed ones by first appearance, missing app last", async () => {
    const n = createNode("priority", config({}));
    await n.input(cmd(undefined, "u"));
    assert.equal(n.status(), "heater: (unknown) → u");
    await n.input(cmd("zeta", "z"));               // unlisted, first seen -> rank 4
    assert.equal(n.status(), "heater: zeta@4 → z");
    await n.input(cmd("alpha", "a"));              // unlisted, seen later -> rank 5, loses to zeta
    assert.equal(n.status(), "heater: zeta@4 → z");
    await n.input(cmd("schedule", "s"));           // listed beats all unlisted
    assert.equal(n.status(), "heater: schedule@3 → s");
    assert.deepEqual(n.out().map((o) => o[1]), ["u", "z", "s"]);
    // A message without msg.acm at all is an unknown-app command for port 0.
    const m = createNode("priority", config({}));
    await m.input({payload: "x"});
    assert.deepEqual(m.out(), [[0, "x"]]);
});

test("priority: JSON-compared values; default goes to the last target seen", async () => {
    const n = createNode("priority", config({default: {mode: "eco"}}, 2));
    await n.input(cmd("comfort", {mode: "heat", t: 21}, {target: 1}));
    await n.input(cmd("comfort", {mode: "heat", t: 21}, {target: 1}));
    assert.equal(n.out().length, 1);
    await n.input(cmd("comfort", "release", {target: 1}));
    assert.deepEqual(n.out(), [[1, {mode: "heat", t: 21}], [1, {mode: "eco"}]]);
});

test("priority: out-of-range target is warned and dropped", async () => {
    const n = createNode("priority", config({}, 2));
    assert.equal(await n.input(cmd("comfort", "on", {target: 5})), null);
    assert.equal(n.out().length, 0);
    assert.match(n.rec.warnings[0], /target/);
});

test("priority: the documented timeline (docs/strategies.md)", async () => {
    const n = createNode("priority", config({ttl: 600000, default: "off"}));
    const t0 = n.clock.now;
    await n.input(cmd("comfort", "on"));                  // t=0
    n.advance(5000);
    await n.input(cmd("safety", "off"));                  // t=5s
    n.advance(5000);
    await n.input(cmd("comfort", "eco"));                 // t=10s
    n.advance(10000);
    await n.input(cmd("safety", "release"));              // t=20s
    n.advance(590000);                                    // t=610s comfort's TTL ends
    assert.deepEqual(n.rec.emitted.map((e) => [(e.t - t0) / 1000, e.msg.payload]),
        [[0, "on"], [5, "off"], [20, "eco"], [610, "off"]]);
    assert.equal(n.status(), "heater: default → off");
});
