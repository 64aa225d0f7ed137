"use strict";
// The findings list as data (resources/acm-findings.js): rows, groups, counts, filters,
// the names in paths and the badges, without a browser.
const test = require("node:test");
const assert = require("node:assert/strict");
const F = require("../resources/acm-findings.js");

const DOC = {
    schema: "acm.findings/1",
    applications: [{ id: "t1", name: "Lighting" }, { id: "t2", name: "Night <b>mode</b>" }, { id: "t3", name: "Energy" }],
    conflicts: [
        { id: "ACM001-c", code: "ACM001", rule: "direct", kind: "direct", severity: "warning",
          actuators: [{ key: "mqtt:b:1883/flat/heater/setpoint", name: "flat/heater/setpoint", nodes: ["h1", "h2"] }],
          applications: ["t1", "t3"], message: "setpoint is commanded by 2 applications" },
        { id: "ACM001-b", code: "ACM001", rule: "direct", kind: "direct", severity: "error",
          actuators: [{ key: "mqtt:b:1883/flat/siren/set", name: "flat/siren/set", nodes: ["s1"] }],
          applications: ["t2"], message: "siren" },
        { id: "ACM001-a", code: "ACM001", rule: "direct", kind: "direct", severity: "error",
          actuators: [{ key: "mqtt:b:1883/flat/hall/light/set", name: "flat/hall/light/set", nodes: ["l1", "l2"] }],
          applications: ["t1", "t2"], nodes: ["l2", "x9"], message: "hall light: on vs off",
          paths: [["i1", "j1", "l1"], ["i2", "l2"]], path_applications: ["t1", "t2"],
          path_provenances: ["automation", "external"] },
        { id: "ACM005-d", code: "ACM005", rule: "managed", kind: "managed", severity: "info",
          actuators: [{ key: "ha:light.kitchen", nodes: ["k1"] }], applications: ["t1", "t2"], message: "managed" },
    ],
};

test("findings: one row per finding, grouped by severity, errors first, with counts", () => {
    const list = F.buildList(DOC, {});
    assert.deepEqual(list.groups.map((g) => [g.severity, g.total, g.rows.map((r) => r.id)]), [
        ["error", 2, ["ACM001-a", "ACM001-b"]],
        ["warning", 1, ["ACM001-c"]],
        ["info", 1, ["ACM005-d"]],
    ]);
    assert.equal(list.total, 4);
    assert.equal(list.shown, 4);
    const hall = list.groups[0].rows[0];
    assert.equal(hall.title, "flat/hall/light/set");
    assert.deepEqual(hall.apps, ["Lighting", "Night <b>mode</b>"]);
    // an actuator without a name is shown by its key
    assert.equal(list.groups[2].rows[0].title, "ha:light.kitchen");
    assert.deepEqual(F.counts(DOC), { error: 2, warning: 1, info: 1 });
    assert.deepEqual(F.counts(null), { error: 0, warning: 0, info: 0 });
});

test("findings: the severity filter keeps the group totals, the text filter matches every word", () => {
    const errors = F.buildList(DOC, { severity: "error" });
    assert.deepEqual(errors.groups.map((g) => [g.severity, g.total, g.rows.length]),
        [["error", 2, 2], ["warning", 1, 0], ["info", 1, 0]]);
    assert.equal(errors.shown, 2);
    const ids = (filter) => F.buildList(DOC, filter).groups.flatMap((g) => g.rows.map((r) => r.id));
    assert.deepEqual(ids({ text: "HALL" }), ["ACM001-a"]);                    // any case
    assert.deepEqual(ids({ text: "energy" }), ["ACM001-c"]);                  // an application's name
    assert.deepEqual(ids({ text: "light   NIGHT" }), ["ACM001-a", "ACM005-d"]);  // every word, anywhere
    assert.deepEqual(ids({ text: "mqtt:b:1883/flat/siren" }), ["ACM001-b"]);  // the key
    assert.deepEqual(ids({ text: "ACM005" }), ["ACM005-d"]);                  // the code
    assert.deepEqual(ids({ text: "siren", severity: "warning" }), []);
    assert.deepEqual(ids({ text: "nothing-like-this" }), []);
    assert.deepEqual(ids({ text: "  ", severity: "all" }).length, 4);
});

test("findings: paths name nodes whether or not their type is installed", () => {
    const nodes = {
        i1: { id: "i1", type: "inject", name: "07:00" },
        j1: { id: "j1", type: "junction" },
        // a node of a type this editor does not have: Node-RED keeps its config in _orig
        l1: { id: "l1", type: "unknown", name: "api-call-service", _orig: { type: "api-call-service", name: "hall light" } },
        i2: { id: "i2", type: "unknown", name: "ui_button", _orig: { type: "ui_button", name: "" } },
    };
    const paths = F.paths(DOC, DOC.conflicts[2], (id) => nodes[id] || null);
    assert.deepEqual(paths, [
        { who: "Lighting", provenance: "automation", text: "07:00 → junction → hall light" },
        { who: "Night <b>mode</b>", provenance: "external", text: "ui_button → l2" },
    ]);
    assert.equal(F.nodeLabel({ type: "mqtt out", name: "  siren " }, "x"), "siren");
    assert.equal(F.nodeLabel(null, "gone"), "gone");
});

test("findings: badges carry the worst severity of every finding a node is in", () => {
    const badges = F.badges(DOC);
    assert.equal(badges.l2.severity, "error");
    assert.equal(badges.x9.severity, "error");  // the finding's own nodes too
    assert.equal(badges.h1.severity, "warning");
    assert.deepEqual(badges.l1.lines, ["error ACM001: hall light: on vs off"]);
    assert.deepEqual(F.findingNodeIds(DOC.conflicts[2]), ["l1", "l2", "x9"]);
});
