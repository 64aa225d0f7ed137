"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const {createNode, cmd} = require("./harness");

function config(options, targets = 1) {
    return {strategy: "interlock", conflict: "ACM005-test", label: "heater", targets,
        options: Object.assign({guard: "mqtt:broker:1883/home/window", blocked_when: ["open", "cover.open_cover"],
            mode: "block", override: null, restore: true}, options)};
}
const guard = (payload, extra = {}) => ({payload, acm: Object.assign({app: "airing", role: "guard", target: 0}, extra)});
const payloads = (n) => n.out().map((o) => o[1]);

test("interlock/block: commands pass, are blocked while the guard is open, restored after", async () => {
    const n = createNode("interlock", config({}));
    const r = await n.input(cmd("comfort", "on"));
    assert.equal(r[0].payload, "on");
    assert.equal("acm" in r[0], false);
    assert.equal(n.status(), "heater: passing");
    assert.equal(await n.input(guard("open")), null);   // guard messages are never passed
    assert.equal(n.status(), "heater: blocked by guard (open)");
    await n.input(cmd("comfort", "on"));
    await n.input(cmd("schedule", "boost"));
    assert.equal(n.status(), "heater: blocked by guard (open, 2 dropped)");
    assert.deepEqual(payloads(n), ["on"]);
    await n.input(guard("closed"));                      // block ends: last request restored
    assert.deepEqual(payloads(n), ["on", "boost"]);
    assert.equal(n.status(), "heater: passing (guard closed)");
    await n.input(cmd("comfort", "on"));                 // passes through again
    assert.deepEqual(payloads(n), ["on", "boost", "on"]);
});

test("interlock/override: override value sent once when the block begins", async () => {
    const n = createNode("interlock", config({mode: "override", override: "off"}, 2));
    await n.input({payload: "on", topic: "home/heater/set", acm: {app: "comfort", target: 1}});
    await n.input(guard("open"));
    await n.input(guard("open"));                        // still open: no second override
    await n.input(cmd("comfort", "on", {target: 1}));    // dropped
    assert.deepEqual(n.out(), [[1, "on"], [1, "off"]]);
    const o = n.rec.emitted[1].msg;
    assert.equal(o.topic, "home/heater/set");             // same shape as the last command
    assert.equal("acm" in o, false);
    await n.input(guard("closed"));
    assert.deepEqual(n.out(), [[1, "on"], [1, "off"], [1, "on"]]);
});

test("interlock: restore false does not resend; guard state from msg.acm.command", async () => {
    const n = createNode("interlock", config({mode: "override", override: "off", restore: false}));
    await n.input(cmd("comfort", "on"));
    await n.input({payload: {}, acm: {app: "airing", role: "guard", command: "cover.open_cover"}});
    assert.equal(n.status(), "heater: blocked by guard (cover.open_cover)");
    await n.input({payload: {}, acm: {app: "airing", role: "guard", command: "cover.close_cover"}});
    assert.deepEqual(payloads(n), ["on", "off"]);
});

test("interlock: override before any command goes to port 0; nothing to restore", async () => {
    const n = createNode("interlock", config({mode: "override", override: "off"}, 2));
    await n.input(guard("open"));
    await n.input(guard("closed"));
    assert.deepEqual(n.out(), [[0, "off"]]);
});

test("interlock: blocked_when is JSON-compared, strings as-is", async () => {
    const n = createNode("interlock", config({blocked_when: [true, {state: "open"}]}));
    await n.input(guard("true"));                        // string "true" is not true
    assert.equal(n.status(), "heater: passing (guard true)");
    await n.input(guard({state: "open"}));
    assert.match(n.status(), /^heater: blocked by guard/);
    await n.input(guard(false));
    await n.input(guard(true));
    assert.match(n.status(), /^heater: blocked by guard \(true\)/);
});

test("interlock: a text state matches a boolean or number guard value by its JSON text", async () => {
    // what a policy (texts only) and the default for indirect conflicts write
    const n = createNode("interlock", config({blocked_when: ["on", "true", "1"]}));
    await n.input(cmd("comfort", "on"));
    await n.input(guard(true));
    assert.equal(n.status(), "heater: blocked by guard (true)");
    await n.input(guard(false));
    assert.equal(n.status(), "heater: passing (guard false)");
    await n.input(guard(1));
    assert.match(n.status(), /^heater: blocked by guard \(1\)/);
    await n.input(guard(0));
    await n.input(guard("01"));                          // texts still compare as-is
    assert.equal(n.status(), "heater: passing (guard 01)");
    await n.input(guard("ON"));                          // ... case included
    assert.equal(n.status(), "heater: passing (guard ON)");
    await n.input(guard(null));                          // no state: JSON "null" is not listed
    assert.equal(n.status(), "heater: passing");
    assert.deepEqual(payloads(n), ["on", "on", "on"]);   // restored when true, then 1, ended
});
