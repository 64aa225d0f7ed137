/*
 * ACM bridge, editor side: the Resolve form as data (no DOM, no RED).
 *
 * Everything about strategies comes from the strategy manifest (GET acm/strategies,
 * `acm strategies --format json`): which strategies resolve which conflict kinds,
 * their options, types and defaults. Nothing about a strategy is written here.
 * node:test loads this file with require() (nodered-bridge/test/form.test.js); the
 * editor as a <script> that sets window.ACMBridge.form.
 */
(function (root, factory) {
    "use strict";
    var api = factory();
    if (typeof module === "object" && module.exports) {
        module.exports = api;
    } else {
        root.ACMBridge = root.ACMBridge || {};
        root.ACMBridge.form = api;
    }
}(this, function () {
    "use strict";

    // As the rule language writes a duration (grammars/acm.lark, DURATION).
    var DURATION = /^\d+(\.\d+)?(ms|s|m|h)$/;

    function formatDuration(ms) {
        if (typeof ms !== "number" || !isFinite(ms)) { return ms === null || ms === undefined ? "" : String(ms); }
        if (ms > 0 && ms % 3600000 === 0) { return (ms / 3600000) + "h"; }
        if (ms > 0 && ms % 60000 === 0) { return (ms / 60000) + "m"; }
        if (ms > 0 && ms % 1000 === 0) { return (ms / 1000) + "s"; }
        return ms + "ms";
    }

    function findStrategy(doc, name) {
        return ((doc && doc.strategies) || []).filter(function (s) { return s.name === name; })[0] || null;
    }

    /** The strategies that resolve conflicts of `kind`, in the manifest's order. */
    function strategiesFor(doc, kind) {
        return ((doc && doc.strategies) || []).filter(function (s) {
            return (s.resolves || []).indexOf(kind) !== -1;
        });
    }

    /** Whether finding `c` gets a Resolve button. Errors and warnings do (as long as the
     *  manifest is not known), unless no strategy resolves their kind; info findings only
     *  when their kind is resolved at info on request (a person's override). */
    function offersResolve(doc, c) {
        var kind = doc && doc.kinds && doc.kinds[c.kind];
        if (c.severity === "error" || c.severity === "warning") {
            return !doc || strategiesFor(doc, c.kind).length > 0;
        }
        return !!(kind && kind.resolve_info && strategiesFor(doc, c.kind).length);
    }

    /**
     * The form's own sentences, in English, by key: the editor passes a translator
     * (`resolve.invalid.<key>` of the bridge's message catalogue, which holds these same
     * sentences); without one (node:test) they are used as they are. `__name__` is a value.
     */
    var MESSAGES = {
        "choose-strategy": "Choose a strategy.",
        "required": "required",
        "duration": "a duration such as 30s, 15m or 1h",
        "one-of": "one of __choices__",
        "list": "a comma-separated list",
        "no-application": "no application named __names__ (known: __known__)",
        "no-resolver": "ACM has no strategy that resolves __kind__ conflicts."
    };

    function message(translate, key, vars) {
        if (typeof translate === "function") { return translate(key, vars || {}); }
        return MESSAGES[key].replace(/__(\w+)__/g, function (all, name) {
            return vars && Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : all;
        });
    }

    /** Why finding `c` has no Resolve, as a sentence; null when it has one or needs none
     *  (an info finding that is only information). */
    function whyNoResolve(doc, c, translate) {
        if (!doc || offersResolve(doc, c)) { return null; }
        if (c.severity === "info") { return null; }
        return message(translate, "no-resolver", {kind: c.kind || c.rule || "these"});
    }

    /** The strategy the form starts with: the plan's, else the default for the kind. */
    function suggestedStrategy(doc, c, entry) {
        var names = strategiesFor(doc, c.kind).map(function (s) { return s.name; });
        var kind = doc && doc.kinds && doc.kinds[c.kind];
        var fallback = kind && kind.default && kind.default.strategy;
        if (entry && names.indexOf(entry.strategy) !== -1) { return entry.strategy; }
        if (fallback && names.indexOf(fallback) !== -1) { return fallback; }
        return names[0] || null;
    }

    function isList(opt) {
        return opt.type === "texts" || opt.type === "applications";
    }

    /** An option value as the form shows it: durations as 15m, lists comma-separated. */
    function optionText(opt, value, nameOf) {
        if (value === null || value === undefined) { return ""; }
        if (opt.type === "duration") { return formatDuration(value); }
        if (Array.isArray(value)) {
            if (opt.type === "applications" && nameOf) {
                // application ids -> names when the name is unambiguous
                var names = value.map(nameOf);
                var unique = names.every(function (n, i) { return n.indexOf(",") === -1 && names.indexOf(n) === i; });
                return (unique ? names : value).join(",");
            }
            return value.join(",");
        }
        if (typeof value === "object") { return JSON.stringify(value); }
        return String(value);
    }

    /** The choices of an option of type "actuator": the keys of finding `c`'s actuators
     *  (and `value`, when it is none of them), each labelled "name (key)". */
    function actuatorChoices(c, value) {
        var keys = [];
        var labels = {};
        ((c && c.actuators) || []).forEach(function (a) {
            if (!a || typeof a.key !== "string" || keys.indexOf(a.key) !== -1) { return; }
            keys.push(a.key);
            labels[a.key] = a.name && a.name !== a.key ? a.name + " (" + a.key + ")" : a.key;
        });
        if (value && keys.indexOf(value) === -1) {
            keys.push(value);
            labels[value] = value;
        }
        return {choices: keys, labels: labels};
    }

    /** The form's fields for `strategy`, prefilled from `prefill` (a plan's options);
     *  `c`, the finding, gives the choices of options that name one of its actuators. */
    function optionFields(doc, strategy, prefill, nameOf, c) {
        var declared = findStrategy(doc, strategy);
        return ((declared && declared.options) || []).map(function (o) {
            var value = optionText(o, prefill ? prefill[o.name] : undefined, nameOf);
            var dflt = o.required ? "" : (o.default === null || o.default === undefined
                ? "none" : optionText(o, o.default, null));
            var field = {key: o.name, type: o.type, required: !!o.required, list: isList(o),
                         help: o.help || "", unit: o.unit || null};
            if (o.type === "actuator") {
                var found = actuatorChoices(c, value);
                field.control = "select";
                field.choices = found.choices;
                field.labels = found.labels;
                field.blank = o.required ? null : "(default: " + dflt + ")";
                field.value = value || (o.required ? (field.choices[0] || "") : "");
            } else if (o.type === "word" || o.type === "bool") {
                field.control = "select";
                field.choices = o.type === "bool" ? ["true", "false"] : (o.words || []).slice();
                field.blank = o.required ? null : "(default: " + dflt + ")";
                field.value = value || (o.required ? field.choices[0] : "");
            } else {
                field.control = "text";
                field.value = value;
                // short enough for the sidebar's width: "required" is the label's mark
                var example = o.example && o.example !== dflt ? "e.g. " + o.example : "";
                field.placeholder = o.required ? example
                    : "default: " + dflt + (example ? ", " + example : "");
            }
            return field;
        });
    }

    function textOf(texts, key) {
        var v = texts ? texts[key] : undefined;
        return String(v === undefined || v === null ? "" : v).trim();
    }

    function splitList(value) {
        return value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    }

    /** The options to send for `strategy` from the form's texts {key: text}: empty ones
     *  are left to the default, list options are split at commas. */
    function readOptionValues(doc, strategy, texts) {
        var options = {};
        optionFields(doc, strategy, null, null).forEach(function (field) {
            var value = textOf(texts, field.key);
            if (value === "") { return; }
            options[field.key] = field.list ? splitList(value) : value;
        });
        return options;
    }

    /**
     * Checks the form before Apply. `texts` are the form's values {key: text};
     * `context.applications` the findings' applications [{id, name}] (names or ids are
     * accepted in an option of type "applications"), `context.conflict` the finding.
     * Returns {options, errors: [{key, message}]}: `options` are what Apply sends.
     */
    function validate(doc, strategy, texts, context) {
        context = context || {};
        var errors = [];
        var declared = findStrategy(doc, strategy);
        if (!declared) {
            return {options: {}, errors: [{key: "strategy", message: message(context.t, "choose-strategy")}]};
        }
        var apps = context.applications || null;
        optionFields(doc, strategy, null, null, context.conflict).forEach(function (field) {
            var value = textOf(texts, field.key);
            var say = function (key, vars) {
                errors.push({key: field.key, message: field.key + ": " + message(context.t, key, vars)});
            };
            if (value === "") {
                if (field.required) { say("required"); }
                return;
            }
            if (field.type === "duration" && !DURATION.test(value)) {
                say("duration");
            } else if (field.control === "select" && field.choices.indexOf(value) === -1) {
                say("one-of", {choices: field.choices.join(", ")});
            } else if (field.list) {
                var items = splitList(value);
                if (!items.length) {
                    say(field.required ? "required" : "list");
                } else if (field.type === "applications" && apps) {
                    var unknown = items.filter(function (item) {
                        return !apps.some(function (a) { return a && (a.id === item || a.name === item); });
                    });
                    if (unknown.length) {
                        say("no-application", {names: unknown.join(", "), known:
                            apps.map(function (a) { return a.name || a.id; }).join(", ")});
                    }
                }
            }
        });
        return {options: readOptionValues(doc, strategy, texts), errors: errors};
    }

    /** The reason ACM gives for not resolving conflict `id`, from the lines acm/resolve
     *  returns ("acm: not resolved: <id> (<rule>): <reason>"); null when there is none. */
    function notResolvedReason(lines, id) {
        var prefix = "acm: not resolved: " + id + " ";
        for (var i = 0; i < (lines || []).length; i++) {
            var line = String(lines[i]);
            if (line.indexOf(prefix) === 0) {
                var rest = line.slice(prefix.length);
                var sep = rest.indexOf("): ");
                return sep === -1 ? rest : rest.slice(sep + 3);
            }
        }
        return null;
    }

    /** The plan's word on conflict `id`: {planned} or {skipped} from an acm.plan/1 document. */
    function planFor(plan, id) {
        var planned = ((plan && plan.planned) || []).filter(function (p) { return p.conflict === id; })[0] || null;
        var skipped = ((plan && plan.skipped) || []).filter(function (p) { return p.conflict === id; })[0] || null;
        return {planned: planned, skipped: skipped};
    }

    return {
        DURATION: DURATION, MESSAGES: MESSAGES, formatDuration: formatDuration, findStrategy: findStrategy,
        strategiesFor: strategiesFor, offersResolve: offersResolve, whyNoResolve: whyNoResolve,
        suggestedStrategy: suggestedStrategy, optionText: optionText, actuatorChoices: actuatorChoices,
        optionFields: optionFields, readOptionValues: readOptionValues, validate: validate,
        notResolvedReason: notResolvedReason, planFor: planFor
    };
}));
