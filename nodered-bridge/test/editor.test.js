"use strict";
// The editor's Resolve form, built from the strategy manifest: the script of
// acm-bridge.html is run as the editor runs it (a fake RED records the plugin it
// registers) and the form's model is checked against the manifest ACM ships.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const HTML = fs.readFileSync(path.join(__dirname, "..", "acm-bridge.html"), "utf8");
const MANIFEST_FILE = path.join(__dirname, "..", "..", "acm", "data", "strategies.json");

/** The plugin definition the editor script registers (it touches nothing else on load). */
function loadEditorPlugin($ = () => { throw new Error("no DOM on load"); }) {
    const match = HTML.match(/<script type="text\/javascript">([\s\S]*?)<\/script>/);
    assert.ok(match, "acm-bridge.html has its editor script");
    const registered = {};
    const RED = { plugins: { registerPlugin(id, def) { registered[id] = def; } } };
    // in this realm, so that arrays it returns compare with ours
    const run = vm.runInThisContext("(function (RED, $) {" + match[1] + "\n})", { filename: "acm-bridge.html" });
    run(RED, $);
    return registered["acm-bridge-editor"];
}

/** A stand-in for the few jQuery calls the form makes, as strict as a browser about
 *  HTML: an element is made from a bare tag only (`$("<option>", {value})`), so text
 *  from the flows can reach the page only through .text() or an attribute value, and
 *  `html()` serialises it escaped, as the browser would show it. */
function fakeJQuery() {
    const escape = (t) => String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    class El {
        constructor(tag, attrs) { this.tag = tag; this.attrs = {}; this.children = []; this.value = ""; this.attr(attrs || {}); }
        attr(name, value) {
            if (typeof name === "object") { for (const k of Object.keys(name)) this.attrs[k] = String(name[k]); return this; }
            if (value === undefined) return this.attrs[name];
            this.attrs[name] = String(value);
            return this;
        }
        text(value) { this.children = [String(value)]; return this; }
        val(value) { this.value = value; return this; }
        appendTo(parent) { parent.children.push(this); return this; }
        find(test) { return this.children.flatMap((c) => (typeof c === "string" ? [] : [...(test(c) ? [c] : []), ...c.find(test)])); }
        html() {
            return this.children.map((c) => (typeof c === "string" ? escape(c)
                : `<${c.tag}${Object.entries(c.attrs).map(([k, v]) => ` ${k}="${escape(v)}"`).join("")}>${c.html()}</${c.tag}>`)).join("");
        }
    }
    const $ = (tag, attrs) => {
        const m = /^<([a-z]+)>$/.exec(tag);
        if (!m) throw new Error(`the form makes elements from a bare tag only, not from ${String(tag).slice(0, 60)}`);
        return new El(m[1], attrs);
    };
    return { $, El };
}

const plugin = loadEditorPlugin();
const model = plugin.model;
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

test("editor: the plugin registers its model beside onadd", () => {
    assert.equal(typeof plugin.onadd, "function");
    for (const fn of ["strategiesFor", "offersResolve", "suggestedStrategy", "optionFields", "readOptionValues"]) {
        assert.equal(typeof model[fn], "function", fn);
    }
});

test("editor: no strategy or option is written in the editor script", () => {
    assert.doesNotMatch(HTML, /STRATEGY_OPTIONS|\["priority", "lock"/);
    for (const s of MANIFEST.strategies) {
        for (const o of s.options) {
            assert.ok(!HTML.includes(`key: "${o.name}"`), `${s.name}.${o.name} hard-coded in acm-bridge.html`);
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
    assert.equal(by.hold.placeholder, "empty: 1h");  // the example is the default: said once
    assert.equal(by.manual.placeholder, "e.g. Dashboard; empty: none");
    const priority = model.optionFields(MANIFEST, "priority", {}, null);
    assert.equal(priority[0].placeholder, "e.g. Security, Lighting; required");
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

test("editor: the guard's choices reach the page as text, never as HTML", () => {
    const { $, El } = fakeJQuery();
    const forms = loadEditorPlugin($).model;
    const hostile = {
        id: "ACM002-0123456789ab", kind: "indirect", severity: "warning",
        actuators: [{ key: 'mqtt:b:1883/x"><img src=x onerror=alert(1)>', name: "<script>alert(2)</script>" },
                    { key: HEATER, name: "Heater & <i>co</i>" }],
    };
    const box = new El("div");
    forms.renderOptions(box, MANIFEST, "interlock", { strategy: "interlock", options: { guard: HEATER } }, hostile, null);
    const [select] = box.find((e) => e.tag === "select" && e.attrs["data-option"] === "guard");
    assert.ok(select, "a select for the guard");
    assert.equal(select.value, HEATER);
    const options = select.find((e) => e.tag === "option");
    assert.deepEqual(options.map((o) => o.attrs.value), ["", hostile.actuators[0].key, HEATER]);
    assert.deepEqual(options.map((o) => o.children), [["(default: none)"],
        [`<script>alert(2)</script> (${hostile.actuators[0].key})`], [`Heater & <i>co</i> (${HEATER})`]]);
    const html = box.html();
    assert.doesNotMatch(html, /<script|<img|<i>/);
    assert.match(html, /&lt;script&gt;alert\(2\)&lt;\/script&gt;/);
    assert.match(html, /value="mqtt:b:1883\/x&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;"/);
});
