"use strict";
// The manual override resolver (acm/data/resolvers/override.js, docs/strategies.md#override).
const test = require("node:test");
const assert = require("node:assert/strict");
const {createNode, cmd} = require("./harness");

// "dashboard" is the people's application; "schedule" and "eco" are automations.
function config(options, targets = 1) {
    return {strategy: "override", conflict: "ACM006-test", label: "light", targets,
        options: Object.assign({hold: 600000, release: "auto", resume: "latest", manual: null,
            manual_found: ["dashboard"]}, options)};
}
const payloads = (n) => n.out().map((o) => o[1]);
const timeline = (n, t0) => n.rec.emitted.map((e) => [(e.t - t0) / 1000, e.msg.payload]);
// The clock text the status shows, computed the same way (local time of the test run).
function hhmm(t, seconds) {
    const d = new Date(t);
    const two = (x) => String(x).padStart(2, "0");
    return two(d.getHours()) + ":" + two(d.getMinutes()) + (seconds ? ":" + two(d.getSeconds()) : "");
}
// A start time at 12:00:00 local time, so that holds of hours stay on the same day.
const NOON = new Date(2026, 11, 3, 12, 0, 0).getTime();

test("override: automation passes while nobody has acted", async () => {
    const n = createNode("override", config({}), {start: NOON});
    const r = await n.input(cmd("schedule", "off"));
    assert.equal(r[0].payload, "off");
    assert.equal("acm" in r[0], false);
    await n.input(cmd("eco", "off"));                 // no on-change filter
    assert.deepEqual(payloads(n), ["off", "off"]);
    assert.equal(n.status(), "light: automatic");
});

test("override: the documented timeline (docs/strategies.md)", async () => {
    const n = createNode("override", config({hold: 3600000}), {start: NOON});
    const t0 = n.clock.now;
    await n.input(cmd("schedule", "off"));            // 12:00 automation
    n.advance(60000);
    await n.input(cmd("dashboard", "on"));            // 12:01 a person: at once, held until 13:01
    assert.equal(n.status(), "light: manual until " + hhmm(t0 + 3660000));
    assert.equal(n.status(), "light: manual until 13:01");
    n.advance(60000);
    assert.equal(await n.input(cmd("schedule", "off")), null);   // 12:02 held back
    assert.equal(n.status(), "light: manual until 13:01 (1 held back)");
    n.advance(600000);
    await n.input(cmd("eco", "dim"));                 // 12:12 held back, the latest
    assert.equal(n.status(), "light: manual until 13:01 (2 held back)");
    n.advance(2940000);                               // 13:01 the hold ends: the latest one
    assert.deepEqual(timeline(n, t0), [[0, "off"], [60, "on"], [3660, "dim"]]);
    assert.equal(n.status(), "light: automatic");
    await n.input(cmd("schedule", "off"));            // passes again
    assert.deepEqual(payloads(n), ["off", "on", "dim", "off"]);
});

test("override: a manual command during the hold passes and restarts the hold", async () => {
    const n = createNode("override", config({hold: 60000}), {start: NOON});
    const t0 = n.clock.now;
    await n.input(cmd("dashboard", "on"));            // t=0, until 60s
    n.advance(30000);
    await n.input(cmd("schedule", "off"));            // held
    await n.input(cmd("dashboard", "dim"));           // t=30s, until 90s; the held one stays
    assert.equal(n.status(), "light: manual until " + hhmm(t0 + 90000, true) + " (1 held back)");
    n.advance(40000);                                 // t=70s: still held
    assert.deepEqual(payloads(n), ["on", "dim"]);
    n.advance(20000);                                 // t=90s: the hold ends
    assert.deepEqual(timeline(n, t0), [[0, "on"], [30, "dim"], [90, "off"]]);
});

test("override: resume none sends nothing at the end of the hold", async () => {
    const n = createNode("override", config({hold: 60000, resume: "none"}), {start: NOON});
    await n.input(cmd("dashboard", "on"));
    await n.input(cmd("schedule", "off"));
    n.advance(60000);
    assert.deepEqual(payloads(n), ["on"]);
    assert.equal(n.status(), "light: automatic");
    await n.input(cmd("schedule", "off"));            // the next automation command passes
    assert.deepEqual(payloads(n), ["on", "off"]);
});

test("override: the release command ends the hold at once and is not sent", async () => {
    const n = createNode("override", config({}), {start: NOON});
    await n.input(cmd("dashboard", "on"));
    await n.input(cmd("schedule", "off"));            // held
    const r = await n.input(cmd("dashboard", "auto"));
    assert.equal(r[0].payload, "off");                // the held automation command, at once
    assert.deepEqual(payloads(n), ["on", "off"]);
    assert.equal(n.status(), "light: automatic");
    n.advance(600000);                                // the old hold's timer does nothing
    assert.deepEqual(payloads(n), ["on", "off"]);
    assert.equal(await n.input(cmd("dashboard", "auto")), null);  // not held: nothing to release
    await n.input(cmd("dashboard", "on", {release: true}));       // msg.acm.release: the same
    assert.deepEqual(payloads(n), ["on", "off"]);
});

test("override: an automation's 'auto' is an ordinary command; its msg.acm.release is ignored", async () => {
    const n = createNode("override", config({}), {start: NOON});
    await n.input(cmd("dashboard", "on"));
    await n.input(cmd("schedule", "auto"));           // held back like any automation command
    await n.input(cmd("schedule", "off", {release: true}));
    assert.equal(n.status().startsWith("light: manual until"), true);
    assert.deepEqual(payloads(n), ["on"]);
});

test("override: hold none waits for the release command, however long", async () => {
    const n = createNode("override", config({hold: null}), {start: NOON});
    await n.input(cmd("dashboard", "on"));
    assert.equal(n.status(), "light: manual until released");
    await n.input(cmd("schedule", "off"));
    n.advance(7 * 24 * 3600000);
    assert.deepEqual(payloads(n), ["on"]);
    assert.equal(n.status(), "light: manual until released (1 held back)");
    await n.input(cmd("dashboard", "auto"));
    assert.deepEqual(payloads(n), ["on", "off"]);
});

test("override: release none makes 'auto' an ordinary manual command", async () => {
    const n = createNode("override", config({hold: 60000, release: null}), {start: NOON});
    await n.input(cmd("dashboard", "on"));
    await n.input(cmd("dashboard", "auto"));
    assert.deepEqual(payloads(n), ["on", "auto"]);
});

test("override: options.manual (from a policy) wins over what the analysis found", async () => {
    const n = createNode("override", config({manual: ["eco"]}), {start: NOON});
    await n.input(cmd("eco", "dim"));                 // now the person
    await n.input(cmd("dashboard", "on"));            // now an automation: held
    assert.deepEqual(payloads(n), ["dim"]);
});

test("override: msg.acm.source decides when present; no application is automation", async () => {
    const n = createNode("override", config({}), {start: NOON});
    await n.input(cmd("schedule", "on", {source: "manual"}));      // a person on a mixed tab
    await n.input(cmd("dashboard", "off", {source: "automation"})); // a timer on the dashboard tab
    await n.input(cmd(undefined, "dim"));                           // untagged: automation
    assert.deepEqual(payloads(n), ["on"]);
    assert.equal(n.status(), "light: manual until 12:10 (2 held back)");
});

test("override: each command goes to its own port; the resumed one to the port it asked for", async () => {
    const n = createNode("override", config({hold: 1000}, 2), {start: NOON});
    await n.input(cmd("dashboard", "on", {target: 1}));
    await n.input(cmd("schedule", "off", {target: 0}));
    await n.input(cmd("schedule", "eco", {target: 0}));
    n.advance(1000);
    assert.deepEqual(n.out(), [[1, "on"], [0, "eco"]]);
});

test("override: a hold whose timer was lost ends on the next message", async () => {
    const n = createNode("override", config({hold: 60000}), {start: NOON});
    await n.input(cmd("dashboard", "on"));
    await n.input(cmd("schedule", "off"));
    n.clock.timers = [];                              // e.g. Node-RED restarted (persistent context)
    n.advance(61000);
    assert.deepEqual(payloads(n), ["on"]);
    await n.input(cmd("eco", "dim"));                 // the held "off" first, then "dim" passes
    assert.deepEqual(payloads(n), ["on", "off", "dim"]);
    assert.equal(n.status(), "light: automatic");
});

test("override: a hold ending another day shows the date", async () => {
    const n = createNode("override", config({hold: 86400000}), {start: NOON});
    await n.input(cmd("dashboard", "on"));
    const d = new Date(NOON + 86400000);
    const two = (x) => String(x).padStart(2, "0");
    assert.equal(n.status(), "light: manual until " + d.getFullYear() + "-" + two(d.getMonth() + 1) + "-"
        + two(d.getDate()) + " 12:00");
});

test("override: values from messages reach the status as text only", async () => {
    const n = createNode("override", Object.assign(config({}), {label: "<b>light</b>"}), {start: NOON});
    await n.input(cmd("dashboard", "<img src=x onerror=alert(1)>"));
    // node.status text is plain text in the editor; the template never evaluates it
    assert.equal(n.status(), "<b>light</b>: manual until 12:10");
    assert.equal(n.rec.errors.length, 0);
});
