"use strict";
// What the tag in front of a resolver tells it. acm resolve's tags set msg._acm to a
// JSON text ({"target", "role", "app"?, "command"?}, one rule of a change node); the
// tags of earlier ACM versions (three rules) and the cross-runtime entries set
// msg.acm.target, .role, .app, .command: both must give the same resolution.
const test = require("node:test");
const assert = require("node:assert/strict");
const {createNode, cmd, legacy, defaultOptions, STRATEGIES} = require("./harness");

function config(strategy, options = {}, targets = 2) {
    return {strategy, conflict: "ACM001-tags", label: "heater", targets,
        options: defaultOptions(strategy, Object.assign(
            strategy === "interlock" ? {guard: "mqtt:b/window", mode: "override", override: "off"} : {},
            strategy === "lock" ? {mode: "queue"} : {}, options))};
}

// A run of commands from three applications on two ports, a guard message in it
// (interlock reads them; the others take it for a command), with time passing.
function script(make) {
    return [
        make("a0", "on", {}), make("a1", 18, {target: 1}), make("a0", "off", {}),
        make("window", "open", {role: "guard"}), make("a2", "eco", {}),
        make("a1", "release", {target: 1}), make("window", "closed", {role: "guard"}),
        make(undefined, 21, {}), make("a0", "on", {release: true}),
    ];
}

async function run(strategy, make) {
    const n = createNode(strategy, config(strategy));
    const returned = [];
    for (const msg of script(make)) {
        returned.push(await n.input(msg));
        n.advance(700);
    }
    n.advance(3_600_000);
    return {n, returned};
}

for (const strategy of STRATEGIES) {
    test(strategy + ": a one-rule tag (msg._acm) and three-rule tags (msg.acm) resolve alike", async () => {
        const now = await run(strategy, cmd);
        const old = await run(strategy, legacy);
        assert.ok(now.n.rec.emitted.length > 0);
        // (compared as JSON: each node's objects come from its own sandbox)
        const same = (a, b) => assert.deepEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
        same(now.n.rec.emitted, old.n.rec.emitted);
        same(now.returned, old.returned);
        same(now.n.rec.statuses, old.n.rec.statuses);
        same(now.n.store.get("st"), old.n.store.get("st"));
        assert.deepEqual(now.n.rec.warnings, []);
        for (const e of now.n.rec.emitted) {
            assert.equal("_acm" in e.msg, false, "the tag is not passed on");
            assert.equal("acm" in e.msg, false);
        }
    });
}

test("a tag without app (the wire carries several): msg.acm.app from an app tag upstream", async () => {
    const n = createNode("priority", config("priority", {order: ["safety", "comfort"]}, 1));
    await n.input({payload: "on", acm: {app: "comfort"}, _acm: '{"target":0,"role":"command"}'});
    await n.input({payload: "off", acm: {app: "safety"}, _acm: '{"target":0,"role":"command"}'});
    await n.input({payload: "on", acm: {app: "comfort"}, _acm: '{"target":0,"role":"command"}'});
    assert.deepEqual(n.out(), [[0, "on"], [0, "off"]]);
    assert.equal(n.status(), "heater: safety@1 → off");
});

test("the tag's app comes before msg.acm.app, as the tag's rule overwrote it", async () => {
    const n = createNode("priority", config("priority", {order: ["safety", "comfort"]}, 1));
    await n.input(cmd("safety", "off", {app: "safety"}));
    await n.input({payload: "on", acm: {app: "safety"}, _acm: '{"target":0,"role":"command","app":"comfort"}'});
    assert.deepEqual(n.out(), [[0, "off"]]);
    assert.equal(n.status(), "heater: safety@1 → off");
});

test("a guard tag's command is the guard's state (a Home Assistant service)", async () => {
    const n = createNode("interlock", config("interlock", {blocked_when: ["cover.open_cover"], mode: "block"}, 1));
    await n.input(cmd("comfort", "on"));
    await n.input({payload: {}, _acm: '{"target":0,"role":"guard","app":"airing","command":"cover.open_cover"}'});
    assert.equal(n.status(), "heater: blocked by guard (cover.open_cover)");
    await n.input(cmd("comfort", "boost"));
    assert.deepEqual(n.out(), [[0, "on"]]);
});

test("msg._acm that is no tag: a warning, the message dropped, the next one passes", async () => {
    const n = createNode("lock", config("lock", {}, 1));
    for (const bad of ["{not json", "17", "null", '"text"']) {
        assert.equal(await n.input({payload: "on", _acm: bad}), null);
    }
    assert.equal(n.rec.warnings.length, 4);
    assert.match(n.rec.warnings[0], /msg\._acm is not a tag/);
    assert.equal(await n.input({payload: "on", _acm: '{"target":3,"role":"command","app":"a"}'}), null);
    assert.match(n.rec.warnings[4], /out of range/);
    await n.input(cmd("a0", "on"));
    assert.deepEqual(n.out(), [[0, "on"]]);
});

test("many different tag texts: each is read right (the parsed ones kept are bounded)", async () => {
    const n = createNode("merge", config("merge", {op: "max"}, 1));
    for (let i = 0; i < 600; i++) {
        await n.input({payload: i, _acm: JSON.stringify({target: 0, role: "command", app: "app" + i})});
    }
    await n.input({payload: 1000, _acm: JSON.stringify({target: 0, role: "command", app: "app3"})});
    assert.deepEqual(n.out().slice(-1), [[0, 1000]]);
    assert.equal(Object.keys(n.store.get("st").apps).length, 600);
    assert.deepEqual(n.rec.warnings, []);
});
