"use strict";
// The editor's Resolve form, built from the strategy manifest: resources/acm-form.js
// (loaded here as the editor loads it, without a browser) checked against the manifest
// ACM ships.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const EDITOR = ["acm-bridge.html", "resources/acm-form.js", "resources/acm-sidebar.js"]
    .map((f) => fs.readFileSync(path.join(__dirname, "..", f), "utf8")).join("\n");
const MANIFEST_FILE = path.join(__dirname, "..", "..", "acm", "data", "strategies.json");

const model = require("../resources/acm-form.js");
// The shipped manifest, in the shape `acm strategies --format json` prints (a subset of the
// fields: the editor needs name, resolves, options and kinds). Tests that need the exact
// document of the CLI run it (test_policy.py, run.test.js with the real analyzer).
const FILE = JSON.parse(fs.readFileSync(MANIFEST_FILE, "utf8"));
const MANIFEST = {
    schema: FILE.schema,
    kinds: FILE.kinds,
    strategies: FILE.strategies.map((s) => Object.assign({}, s, {
        options: s.options.map((o) => Object.assign({ required: false, default: null }, o,
            o.type === "duration" ? { unit: "ms" } : {})),
    })),
};
const finding = (kind, severity) => ({ id: "X", kind, severity });

test("editor: the form's model is a module the editor and node:test load alike", () => {
    for (const fn of ["strategiesFor", "offersResolve", "suggestedStrategy", "optionFields", "readOptionValues",
        "validate", "notResolvedReason", "whyNoResolve"]) {
        assert.equal(typeof model[fn], "function", fn);
    }
});

test("editor: no strategy or option is written in the editor script", () => {
    assert.doesNotMatch(EDITOR, /STRATEGY_OPTIONS|\["priority", "lock"/);
    for (const s of MANIFEST.strategies) {
        for (const o of s.options) {
            assert.ok(!EDITOR.includes(`key: "${o.name}"`), `${s.name}.${o.name} hard-coded in the editor`);
        }
    }
});

test("editor: every strategy and option of the manifest is in the form, with its type", () => {
    for (const s of MANIFEST.strategies) {
        const fields = model.optionFields(MANIFEST, s.name, {}, null);
        assert.deepEqual(fields.map((f) => f.key), s.options.map((o) => o.name), s.name);
        for (const [i, o] of s.options.entries()) {
            const f = fields[i];
            if (o.type === "word") assert.deepEqual([f.control, f.choices], ["select", o.words]);
            else if (o.type === "bool") assert.deepEqual([f.control, f.choices], ["select", ["true", "false"]]);
            else if (o.type === "actuator") assert.deepEqual([f.control, f.choices], ["select", []]);  // no finding given
            else assert.equal(f.control, "text");
            assert.equal(f.list, o.type === "texts" || o.type === "applications");
        }
    }
    // the drift issue 12 found: lock's renew is offered, interlock's restore is a boolean
    const lock = model.optionFields(MANIFEST, "lock", {}, null);
    assert.deepEqual(lock.find((f) => f.key === "renew").choices, ["true", "false"]);
    const interlock = model.optionFields(MANIFEST, "interlock", {}, null);
    assert.equal(interlock.find((f) => f.key === "restore").blank, "(default: true)");
});

test("editor: only the strategies that resolve a finding's kind are offered", () => {
    const names = (kind) => model.strategiesFor(MANIFEST, kind).map((s) => s.name);
    assert.deepEqual(names("direct"), ["priority", "lock", "dwell", "merge"]);
    assert.deepEqual(names("override"), ["priority", "lock", "dwell", "merge", "override"]);
    assert.deepEqual(names("indirect"), ["interlock"]);
    assert.deepEqual(names("duplicate-id"), []);
});

test("editor: Resolve is offered for errors and warnings that can be resolved, and for a person's override", () => {
    assert.equal(model.offersResolve(MANIFEST, finding("direct", "error")), true);
    assert.equal(model.offersResolve(MANIFEST, finding("indirect", "warning")), true);
    assert.equal(model.offersResolve(MANIFEST, finding("override", "info")), true);
    assert.equal(model.offersResolve(MANIFEST, finding("direct", "info")), false);
    assert.equal(model.offersResolve(MANIFEST, finding("managed", "info")), false);
    assert.equal(model.offersResolve(MANIFEST, finding("duplicate-id", "warning")), false);
    // before the manifest has arrived: as before, errors and warnings only
    assert.equal(model.offersResolve(null, finding("direct", "error")), true);
    assert.equal(model.offersResolve(null, finding("override", "info")), false);
});

test("editor: the form starts with the plan's strategy, else the kind's default", () => {
    assert.equal(model.suggestedStrategy(MANIFEST, finding("override", "info"), null), "override");
    assert.equal(model.suggestedStrategy(MANIFEST, finding("direct", "error"), null), "dwell");
    assert.equal(model.suggestedStrategy(MANIFEST, finding("direct", "error"), { strategy: "priority" }), "priority");
    // a plan entry for a strategy that does not resolve the kind is not taken
    assert.equal(model.suggestedStrategy(MANIFEST, finding("direct", "error"), { strategy: "override" }), "dwell");
    assert.equal(model.suggestedStrategy(MANIFEST, finding("indirect", "error"), null), "interlock");
});

test("editor: a plan's options prefill the form as a person writes them", () => {
    const names = { t1: "Dashboard", t2: "Schedule" };
    const fields = model.optionFields(MANIFEST, "override",
        { hold: 5400000, release: "auto", resume: "none", manual: ["t1", "t2"], manual_found: ["t1"] },
        (id) => names[id] || id);
    const by = Object.fromEntries(fields.map((f) => [f.key, f]));
    assert.deepEqual(Object.keys(by), ["hold", "release", "resume", "manual"]);  // manual_found is ACM's
    assert.equal(by.hold.value, "90m");
    assert.equal(by.resume.value, "none");
    assert.equal(by.manual.value, "Dashboard,Schedule");
    assert.equal(by.hold.placeholder, "default: 1h");  // the example is the default: said once
    assert.equal(by.manual.placeholder, "default: none, e.g. Dashboard");
    const priority = model.optionFields(MANIFEST, "priority", {}, null);
    assert.equal(priority[0].placeholder, "e.g. Security, Lighting");  // required: marked on the label
    assert.equal(priority[0].required, true);
});

test("editor: what the form sends, by the option's type", () => {
    assert.deepEqual(model.readOptionValues(MANIFEST, "priority",
        { order: " Security , Lighting,", ttl: "15m", default: "", release: "  " }),
        { order: ["Security", "Lighting"], ttl: "15m" });
    assert.deepEqual(model.readOptionValues(MANIFEST, "interlock",
        { blocked_when: "open,cover.open_cover", mode: "override", override: "off", restore: "false" }),
        { blocked_when: ["open", "cover.open_cover"], mode: "override", override: "off", restore: "false" });
    // names the strategy does not declare are not sent
    assert.deepEqual(model.readOptionValues(MANIFEST, "dwell", { min: "30s", max: "1m" }), { min: "30s" });
});

// -- an indirect conflict: which actuator guards which -------------------------------------

const WINDOW = "ha:cover.office_window";
const HEATER = "mqtt:mqtt.office.local:1883/office/heater/set";
const indirect = {
    id: "ACM002-d798a5950dd1", kind: "indirect", severity: "warning",
    actuators: [{ key: WINDOW, name: "Office <b>window</b>" }, { key: HEATER, name: HEATER }],
};

test("editor: the interlock's guard is chosen among the conflict's actuators, the plan's choice first", () => {
    const guard = model.optionFields(MANIFEST, "interlock", { guard: WINDOW, blocked_when: ["open"] }, null, indirect)
        .find((f) => f.type === "actuator");
    assert.equal(guard.key, "guard");
    assert.equal(guard.control, "select");
    assert.deepEqual(guard.choices, [WINDOW, HEATER]);
    assert.equal(guard.labels[WINDOW], `Office <b>window</b> (${WINDOW})`);
    assert.equal(guard.labels[HEATER], HEATER);  // a name that is its key is said once
    assert.equal(guard.value, WINDOW);
    assert.equal(guard.blank, "(default: none)");
    // no plan: the blank choice, which leaves it to the model (guard: true, else listed first)
    const free = model.optionFields(MANIFEST, "interlock", {}, null, indirect).find((f) => f.key === "guard");
    assert.equal(free.value, "");
    // a guard the flows' resolver had that is no longer among the actuators stays visible
    const kept = model.optionFields(MANIFEST, "interlock", { guard: "ha:cover.gone" }, null, indirect)
        .find((f) => f.key === "guard");
    assert.deepEqual(kept.choices, [WINDOW, HEATER, "ha:cover.gone"]);
    // what the form sends: the key, as --set guard=<key>
    assert.deepEqual(model.readOptionValues(MANIFEST, "interlock", { blocked_when: "open", guard: HEATER }),
        { blocked_when: ["open"], guard: HEATER });
    assert.deepEqual(model.readOptionValues(MANIFEST, "interlock", { blocked_when: "open", guard: "" }),
        { blocked_when: ["open"] });
});


test("editor: the form is checked before Apply, in the option's words", () => {
    const apps = [{ id: "t1", name: "Security" }, { id: "t2", name: "Lighting" }];
    const ok = model.validate(MANIFEST, "priority", { order: "Security, t2", ttl: "15m" }, { applications: apps });
    assert.deepEqual(ok.errors, []);
    assert.deepEqual(ok.options, { order: ["Security", "t2"], ttl: "15m" });
    // the CLI's "strategy dwell needs option 'min'" is said before anything is sent
    assert.deepEqual(model.validate(MANIFEST, "dwell", { min: " " }).errors, [{ key: "min", message: "min: required" }]);
    assert.deepEqual(model.validate(MANIFEST, "dwell", { min: "soon" }).errors.map((e) => e.key), ["min"]);
    for (const good of ["30s", "15m", "1h", "1500ms", "1.5h"]) {
        assert.deepEqual(model.validate(MANIFEST, "dwell", { min: good }).errors, [], good);
    }
    for (const bad of ["30", "15 m", "-1m", "1d", "1m;rm"]) {
        assert.equal(model.validate(MANIFEST, "dwell", { min: bad }).errors.length, 1, bad);
    }
    const unknown = model.validate(MANIFEST, "priority", { order: "Security,Night" }, { applications: apps });
    assert.deepEqual(unknown.errors.map((e) => e.key), ["order"]);
    assert.match(unknown.errors[0].message, /no application named Night \(known: Security, Lighting\)/);
    assert.deepEqual(model.validate(MANIFEST, "priority", { order: " , " }).errors.map((e) => e.message), ["order: required"]);
    assert.deepEqual(model.validate(MANIFEST, "merge", { op: "median" }).errors.map((e) => e.key), ["op"]);
    assert.deepEqual(model.validate(MANIFEST, "nope", {}).errors.map((e) => e.key), ["strategy"]);
});

test("editor: ACM's reason for not resolving a conflict is read from the resolve answer", () => {
    const lines = [
        "acm: ACM001-aaaaaaaaaaaa (direct) on x: dwell (policy cli)",
        "acm: not resolved: ACM001-4230ab38ca65 (direct): actuator node e0 inside subflow 71 is commanded from inside the subflow",
    ];
    assert.equal(model.notResolvedReason(lines, "ACM001-4230ab38ca65"),
        "actuator node e0 inside subflow 71 is commanded from inside the subflow");
    assert.equal(model.notResolvedReason(lines, "ACM001-aaaaaaaaaaaa"), null);
    assert.equal(model.notResolvedReason(undefined, "x"), null);
    const plan = { planned: [{ conflict: "A", strategy: "dwell" }], skipped: [{ conflict: "B", reason: "why" }] };
    assert.deepEqual(model.planFor(plan, "A"), { planned: plan.planned[0], skipped: null });
    assert.deepEqual(model.planFor(plan, "B"), { planned: null, skipped: plan.skipped[0] });
});

test("editor: a finding no strategy resolves says so instead of offering Resolve", () => {
    assert.equal(model.whyNoResolve(MANIFEST, finding("duplicate-id", "warning")),
        "ACM has no strategy that resolves duplicate-id conflicts.");
    assert.equal(model.whyNoResolve(MANIFEST, finding("direct", "error")), null);
    assert.equal(model.whyNoResolve(MANIFEST, finding("direct", "info")), null);  // information only
    assert.equal(model.whyNoResolve(null, finding("duplicate-id", "warning")), null);  // manifest not known yet
});

test("editor: the form's sentences come from the message catalogue, which holds them all", () => {
    const catalogue = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "locales", "en-US",
        "acm-bridge.json"), "utf8"));
    assert.deepEqual(catalogue.resolve.invalid, model.MESSAGES, "locales/en-US resolve.invalid");
    const asked = [];
    const translate = (key, vars) => { asked.push(key); return `<${key}:${JSON.stringify(vars)}>`; };
    const result = model.validate(MANIFEST, "dwell", { min: "soon" }, { t: translate });
    assert.deepEqual(result.errors.map((e) => e.message), ['min: <duration:{}>']);
    assert.equal(model.validate(MANIFEST, "nope", {}, { t: translate }).errors[0].message, "<choose-strategy:{}>");
    assert.equal(model.whyNoResolve(MANIFEST, finding("duplicate-id", "warning"), translate),
        '<no-resolver:{"kind":"duplicate-id"}>');
    assert.deepEqual(asked, ["duration", "choose-strategy", "no-resolver"]);
});
