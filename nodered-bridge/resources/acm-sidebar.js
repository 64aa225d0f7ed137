/*
 * ACM bridge, editor side: the "Conflicts" sidebar (DOM and RED glue only).
 *
 * Analyze sends the flows as they are in the editor (deployed or not) to POST
 * acm/analyze and lists the findings as compact rows grouped by severity; a row opens
 * to its message, paths and Resolve, and reveals the actuator nodes. Resolve builds
 * its form from GET acm/strategies (the strategy manifest) and POST acm/plan (the
 * suggested strategy); while the form is valid, POST acm/resolve previews the
 * resolution, and Apply is offered only when that preview changes something (else the
 * form says why). Apply swaps the workspace to the resolved flows as ONE history event
 * (acm-history.js). Nothing is deployed.
 *
 * What the list, the form and the history event compute lives in acm-findings.js,
 * acm-form.js and acm-history.js (tested with node:test). Every text from the flows,
 * the analyzer or the server reaches the page through .text() or an attribute value,
 * never as HTML: notifications included (RED.notify renders a string as HTML, so it
 * gets an element).
 */
(function (root) {
    "use strict";

    var TAB_ID = "acm-conflicts";
    var NS = "node-red-acm-bridge/acm-bridge:";
    var ACTIONS = ["acm:show-conflicts-tab", "acm:analyze-flows"];
    var PLACE = {x: true, y: true, w: true, h: true};
    var EVENTS = ["nodes:add", "nodes:remove", "nodes:change", "links:add", "links:remove",
        "groups:add", "groups:remove", "groups:change", "junctions:add", "junctions:remove",
        "subflows:change", "flows:change"];

    function create(RED, $) {
        var F = root.ACMBridge.findings;
        var M = root.ACMBridge.form;
        var H = root.ACMBridge.history;
        var state = {
            findings: null,      // last acm.findings/1 document
            analysedGen: -1,     // value of `gen` the findings were computed for
            gen: 0,              // bumped whenever the flows in the editor differ from `json`
            json: null,          // the editor's flows as last seen (JSON), for `gen`
            checkTimer: null,
            busy: false,
            plan: null,          // {gen, doc} cache of POST acm/plan
            strategies: null,    // the strategy manifest (acm.strategies/1), once loaded
            strategiesRequest: null,
            badges: {},          // node id -> {severity, lines[]}
            open: {},            // finding id -> true: rows shown opened
            filter: {severity: "all", text: ""}
        };
        var ui = {};
        var handlers = [];

        function t(key, opts) {
            return RED._(NS + key, opts);
        }

        /** The form module's sentences (acm-form.js MESSAGES) from the catalogue. */
        function invalid(key, vars) {
            return t("resolve.invalid." + key, vars);
        }

        /** RED.notify with text only: a string would be rendered as HTML. */
        function notify(text, type, timeout) {
            RED.notify($("<p>").text(text), {type: type, timeout: timeout || 4000});
        }

        function isStale() {
            return !!state.findings && state.gen !== state.analysedGen;
        }

        function nodeOf(id) {
            return RED.nodes.node(id) || (RED.nodes.junction ? RED.nodes.junction(id) : null) || null;
        }

        function appName(id) {
            return F.appName(state.findings, id);
        }

        function post(url, body) {
            return $.ajax({url: url, method: "POST", contentType: "application/json", dataType: "json",
                           data: JSON.stringify(body)});
        }

        function currentFlows() {
            return RED.nodes.createCompleteNodeSet({credentials: false});
        }

        /** {error, python, hint} from a failed $.ajax call. */
        function ajaxError(xhr) {
            var body = xhr && xhr.responseJSON;
            if (body && typeof body.error === "string") { return body; }
            if (xhr && xhr.status === 401) { return {error: t("errors.unauthorised")}; }
            if (xhr && xhr.status === 403) { return {error: t("errors.forbidden")}; }
            if (xhr && xhr.status === 404) { return {error: t("errors.missing")}; }
            return {error: t("errors.request", {status: (xhr && (xhr.status + " " + (xhr.statusText || ""))) || "-"})};
        }

        // ------------------------------------------------------------ status / error box

        function setStatus(text, kind) {
            ui.status.text(text).attr("data-state", kind || "");
        }

        function showError(err) {
            ui.error.empty();
            if (!err) {
                ui.error.hide();
                return;
            }
            $("<div>", {"class": "acm-error-message"}).text(err.error || String(err)).appendTo(ui.error);
            if (err.python) {
                $("<div>", {"class": "acm-error-python"}).text(t("errors.python", {python: err.python})).appendTo(ui.error);
            }
            if (err.hint) {
                $("<div>", {"class": "acm-error-hint"}).text(t("errors.hint", {hint: err.hint})).appendTo(ui.error);
            }
            ui.error.show();
        }

        function summary(doc) {
            var n = F.counts(doc);
            var total = n.error + n.warning + n.info;
            if (total === 0) { return t("status.none"); }
            var parts = [];
            ["error", "warning", "info"].forEach(function (s) {
                if (n[s]) { parts.push(t("severity.count-" + s, {count: n[s]})); }
            });
            return t("status.conflicts", {count: total, parts: parts.join(", ")});
        }

        function refreshStatus() {
            if (state.busy) { return; }
            if (!state.findings) { setStatus(t("status.not-analysed"), "none"); return; }
            if (isStale()) {
                setStatus(t("status.stale"), "stale");
            } else {
                setStatus(summary(state.findings), "current");
            }
            ui.findings.toggleClass("acm-stale", isStale());
        }

        // ------------------------------------------------------------ badges on the canvas

        function refreshBadges() {
            var next = state.findings && !isStale() ? F.badges(state.findings) : {};
            var before = JSON.stringify(state.badges);
            state.badges = next;
            if (before === JSON.stringify(next)) { return; }
            RED.nodes.eachNode(function (n) { n.dirty = true; });
            RED.view.redraw(true);
        }

        function registerBadges() {
            if (!RED.view.annotations || !RED.view.annotations.register) { return; }
            RED.view.annotations.register("acm-conflict", {
                type: "badge",
                "class": "acm-conflict-badge",
                element: function (node) {
                    var b = state.badges[node.id];
                    var svg = "http://www.w3.org/2000/svg";
                    var g = document.createElementNS(svg, "g");
                    g.setAttribute("class", "acm-conflict-badge-" + (b ? b.severity : "none"));
                    var rect = document.createElementNS(svg, "rect");
                    rect.setAttribute("x", 0);
                    rect.setAttribute("y", 0);
                    rect.setAttribute("rx", 3);
                    rect.setAttribute("width", 14);
                    rect.setAttribute("height", 12);
                    g.appendChild(rect);
                    var label = document.createElementNS(svg, "text");
                    label.setAttribute("x", 7);
                    label.setAttribute("y", 10);
                    label.setAttribute("text-anchor", "middle");
                    label.textContent = "!";
                    g.appendChild(label);
                    return g;
                },
                // rebuilt on redraw so that its colour follows the severity
                refresh: function () { return true; },
                show: function (node) { return !!state.badges[node.id]; },
                // Node-RED draws a tooltip as SVG text (d3 .text()): no markup
                tooltip: function (node) {
                    var b = state.badges[node.id];
                    return b ? "ACM: " + b.lines.join("\n") : "";
                }
            });
        }

        // ------------------------------------------------------------ the list

        function renderFindings() {
            ui.findings.empty();
            var doc = state.findings;
            ui.toolbar.toggle(!!doc && F.counts(doc).error + F.counts(doc).warning + F.counts(doc).info > 0);
            if (!doc) { return; }
            refreshSeverityChoices();
            var list = F.buildList(doc, state.filter);
            if (list.total === 0) {
                $("<div>", {"class": "acm-empty"}).text(t("list.empty")).appendTo(ui.findings);
                return;
            }
            list.groups.forEach(function (g) {
                if (!g.rows.length) { return; }
                $("<div>", {"class": "acm-severity-heading", "data-severity": g.severity})
                    .text(t("severity.heading-" + g.severity, {count: g.total}) +
                          (g.rows.length < g.total ? " " + t("list.shown", {count: g.rows.length}) : ""))
                    .appendTo(ui.findings);
                g.rows.forEach(function (r) { renderRow(r).appendTo(ui.findings); });
            });
            if (list.shown === 0) {
                $("<div>", {"class": "acm-empty"}).text(t("list.no-match")).appendTo(ui.findings);
            }
        }

        function refreshSeverityChoices() {
            var n = F.counts(state.findings);
            ui.severity.find("option").each(function () {
                var s = $(this).attr("value");
                var count = s === "all" ? n.error + n.warning + n.info : n[s];
                $(this).text(t("filter." + s, {count: count}));
            });
        }

        function renderRow(r) {
            var c = r.conflict;
            var item = $("<div>", {"class": "acm-finding", "data-id": c.id, "data-severity": c.severity,
                                   "data-code": c.code || "", "data-keys": F.actuatorKeys(c)});
            var head = $("<div>", {"class": "acm-finding-row", tabindex: 0, role: "button"}).appendTo(item);
            $("<i>", {"class": "fa fa-caret-right acm-caret"}).appendTo(head);
            $("<span>", {"class": "acm-severity acm-severity-" + c.severity})
                .text(t("severity.short-" + c.severity)).attr("title", c.severity).appendTo(head);
            $("<span>", {"class": "acm-title"}).text(r.title).attr("title", F.actuatorKeys(c)).appendTo(head);
            $("<span>", {"class": "acm-apps"}).text(r.apps.join(", ")).appendTo(head);
            var details = $("<div>", {"class": "acm-finding-details"}).appendTo(item);
            head.on("click", function () { toggleRow(item, c); });
            head.on("keydown", function (evt) {
                if (evt.key === "Enter" || evt.key === " ") {
                    evt.preventDefault();
                    toggleRow(item, c);
                }
            });
            if (state.open[c.id]) { openRow(item, c, details); } else { details.hide(); }
            return item;
        }

        function toggleRow(item, c) {
            var details = item.find(".acm-finding-details");
            if (state.open[c.id]) {
                delete state.open[c.id];
                item.removeClass("acm-open");
                details.empty().hide();
                return;
            }
            state.open[c.id] = true;
            openRow(item, c, details);
            revealFinding(c);
        }

        function openRow(item, c, details) {
            item.addClass("acm-open");
            details.empty().show();
            $("<div>", {"class": "acm-message"}).text(c.message || "").appendTo(details);
            $("<div>", {"class": "acm-key"}).text([c.code, c.rule, F.actuatorKeys(c)].filter(Boolean).join(" · "))
                .appendTo(details);
            // each path from a trigger to the actuator, in node names as the CLI shows them,
            // with who starts it: "Lighting (automation): 07:00 → hall light"
            F.paths(state.findings, c, nodeOf).forEach(function (p) {
                var who = p.who + (p.provenance ? " (" + p.provenance + ")" : "");
                $("<div>", {"class": "acm-path"}).text((who ? who + ": " : "") + p.text).appendTo(details);
            });
            var actions = $("<div>", {"class": "acm-finding-actions"}).appendTo(details);
            if (M.offersResolve(state.strategies, c)) {
                $("<button>", {type: "button", "class": "red-ui-button red-ui-button-small acm-resolve"})
                    .text(t("resolve.button"))
                    .on("click", function (evt) {
                        evt.stopPropagation();
                        toggleResolveForm(details, c);
                    })
                    .appendTo(actions);
            } else {
                var why = M.whyNoResolve(state.strategies, c, invalid);
                if (why) { $("<div>", {"class": "acm-no-resolve"}).text(why).appendTo(actions); }
            }
        }

        function revealFinding(c) {
            var ids = F.findingNodeIds(c).filter(function (id) { return !!(RED.nodes.node(id) || RED.nodes.group(id)); });
            if (ids.length === 0) {
                notify(t("list.gone"), "warning", 3000);
                return;
            }
            RED.view.reveal(ids[0]);
            var active = RED.workspaces.active();
            var nodes = ids.map(function (id) { return RED.nodes.node(id); })
                .filter(function (n) { return n && n.z === active; });
            if (nodes.length) { RED.view.select({nodes: nodes}); }
        }

        // ------------------------------------------------------------ analyse

        function analyze() {
            if (state.busy) { return; }
            state.busy = true;
            ui.analyze.prop("disabled", true);
            setStatus(t("status.busy"), "busy");
            showError(null);
            var flows, gen;
            try {
                flows = observeFlows();
                gen = state.gen;
            } catch (e) {
                state.busy = false;
                ui.analyze.prop("disabled", false);
                setStatus(t("status.failed"), "error");
                showError({error: t("errors.read-flows", {error: e.message})});
                return;
            }
            // the list shows without the manifest (it decides which rows offer Resolve)
            var manifestReady = getStrategies().then(null, function () { return null; });
            post("acm/analyze", {flows: flows}).done(function (doc) {
                manifestReady.always(function () { showAnalysis(doc, gen); });
            }).fail(function (xhr) {
                state.busy = false;
                setStatus(t("status.failed"), "error");
                showError(ajaxError(xhr));
            }).always(function () {
                ui.analyze.prop("disabled", false);
            });
        }

        function showAnalysis(doc, gen) {
            state.busy = false;
            if (!doc || doc.schema !== "acm.findings/1") {
                setStatus(t("status.failed"), "error");
                showError({error: t("errors.schema", {url: "acm/analyze", schema: String(doc && doc.schema)})});
                return;
            }
            state.findings = doc;
            state.analysedGen = gen;
            state.plan = null;
            var ids = {};
            (doc.conflicts || []).forEach(function (c) { ids[c.id] = true; });
            Object.keys(state.open).forEach(function (id) { if (!ids[id]) { delete state.open[id]; } });
            renderFindings();
            refreshStatus();
            refreshBadges();
        }

        /** The flows in the editor; `gen` moves on when they differ from the last seen.
         *  Compared by content: the editor sends change events also for edits that change
         *  nothing, and some of them late (after an import has returned). */
        function observeFlows() {
            var flows = currentFlows();
            // where a node sits does not change what ACM finds (and the editor moves a
            // group to fit its nodes after an import)
            var json = JSON.stringify(flows.map(function (n) {
                var o = {};
                Object.keys(n).forEach(function (k) { if (!PLACE[k]) { o[k] = n[k]; } });
                return o;
            }));
            if (json !== state.json) {
                state.json = json;
                state.gen++;
            }
            return flows;
        }

        function markChanged() {
            clearTimeout(state.checkTimer);
            state.checkTimer = setTimeout(function () {
                observeFlows();
                if (state.findings) {
                    refreshStatus();
                    refreshBadges();
                }
            }, 150);
        }

        // ------------------------------------------------------------ the Resolve form

        function getPlan() {
            var flows = observeFlows();
            if (state.plan && state.plan.gen === state.gen) {
                return $.Deferred().resolve(state.plan.doc).promise();
            }
            var gen = state.gen;
            return post("acm/plan", {flows: flows}).then(function (doc) {
                state.plan = {gen: gen, doc: doc};
                return doc;
            });
        }

        /** The strategy manifest, asked once per page (kept only when it arrives). */
        function getStrategies() {
            if (state.strategiesRequest) { return state.strategiesRequest; }
            var request = $.ajax({url: "acm/strategies", method: "GET", dataType: "json"}).then(function (doc) {
                if (!doc || doc.schema !== "acm.strategies/1" || !Array.isArray(doc.strategies)) {
                    return $.Deferred().reject({responseJSON: {error: t("errors.schema",
                        {url: "acm/strategies", schema: String(doc && doc.schema)})}}).promise();
                }
                state.strategies = doc;
                return doc;
            });
            request.fail(function () { state.strategiesRequest = null; });
            state.strategiesRequest = request;
            return request;
        }

        /** Fills `box` with one form-row per option of `strategy`, as Node-RED's edit
         *  dialogs lay them out: label, then input. */
        function renderOptions(box, doc, strategy, prefill, c) {
            M.optionFields(doc, strategy, prefill, appName, c).forEach(function (field) {
                var id = "acm-option-" + field.key;
                var row = $("<div>", {"class": "form-row acm-option-row"}).attr("title", field.help).appendTo(box);
                var label = $("<label>", {"for": id}).appendTo(row);
                $("<span>").text(field.key).appendTo(label);
                if (field.required) { $("<span>", {"class": "acm-required"}).text(" *").appendTo(label); }
                var input;
                if (field.control === "select") {
                    input = $("<select>", {id: id, "class": "acm-option", "data-option": field.key});
                    if (field.blank !== null) { $("<option>", {value: ""}).text(field.blank).appendTo(input); }
                    field.choices.forEach(function (w) {
                        var text = field.labels && field.labels[w] !== undefined ? field.labels[w] : w;
                        $("<option>", {value: w}).text(text).appendTo(input);
                    });
                } else {
                    // attributes by .attr(): given in $(html, props), "autocomplete" would call jQuery UI
                    input = $("<input>", {type: "text", id: id, "class": "acm-option", "data-option": field.key})
                        .attr({placeholder: field.placeholder, autocomplete: "off"});
                }
                input.val(field.value);
                input.appendTo(row);
                if (field.help) {
                    $("<div>", {"class": "form-tips acm-option-help"}).text(field.help).appendTo(box);
                }
            });
        }

        function formTexts(form) {
            var texts = {};
            form.find(".acm-option").each(function () {
                texts[$(this).attr("data-option")] = $(this).val();
            });
            return texts;
        }

        function toggleResolveForm(details, c) {
            var existing = details.find(".acm-resolve-form");
            if (existing.length) {
                existing.remove();
                return;
            }
            ui.findings.find(".acm-resolve-form").remove();
            var form = $("<div>", {"class": "acm-resolve-form", "data-ready": "false", "data-state": "loading"})
                .appendTo(details);
            form.on("click", function (evt) { evt.stopPropagation(); });
            var row = $("<div>", {"class": "form-row acm-option-row"}).appendTo(form);
            $("<label>", {"for": "acm-strategy"}).append($("<span>").text(t("resolve.strategy"))).appendTo(row);
            var select = $("<select>", {id: "acm-strategy", "class": "acm-strategy"}).appendTo(row);
            var about = $("<div>", {"class": "form-tips acm-strategy-summary"}).appendTo(form);
            var options = $("<div>", {"class": "acm-options"}).appendTo(form);
            var note = $("<div>", {"class": "acm-plan-note"}).text(t("resolve.loading")).appendTo(form);
            var verdict = $("<div>", {"class": "acm-form-error"}).hide().appendTo(form);
            var buttons = $("<div>", {"class": "acm-form-buttons"}).appendTo(form);
            var apply = $("<button>", {type: "button", "class": "red-ui-button red-ui-button-small primary acm-apply"})
                .text(t("resolve.apply")).prop("disabled", true).appendTo(buttons);
            $("<button>", {type: "button", "class": "red-ui-button red-ui-button-small acm-cancel"})
                .text(t("resolve.cancel")).on("click", function () { form.remove(); }).appendTo(buttons);
            var planned = null;
            var preview = null;   // {key, result} or {key, refusal}
            var checking = 0;     // sequence number of the latest check
            var timer = null;

            function say(text, kind) {
                verdict.text(text || "").attr("data-kind", kind || "").toggle(!!text);
            }

            function choose(name) {
                select.val(name);
                var declared = M.findStrategy(state.strategies, name);
                about.text(declared ? declared.summary || "" : "");
                var prefill = planned && planned.strategy === name ? (planned.options || {}) : null;
                if (!prefill) {
                    var kind = state.strategies.kinds && state.strategies.kinds[c.kind];
                    var dflt = kind && kind.default;
                    prefill = dflt && dflt.strategy === name ? (dflt.options || {}) : {};
                }
                renderOptions(options.empty(), state.strategies, name, prefill, c);
                check();
            }

            /** Validates the form; when valid, previews the resolution (debounced). */
            function check(now) {
                clearTimeout(timer);
                var seq = ++checking;
                apply.prop("disabled", true);
                form.find(".acm-option").removeClass("input-error");
                var strategy = select.val();
                var result = M.validate(state.strategies, strategy, formTexts(form),
                    {applications: (state.findings && state.findings.applications) || [], conflict: c,
                        t: invalid});
                if (result.errors.length) {
                    result.errors.forEach(function (e) {
                        form.find(".acm-option[data-option='" + e.key + "']").addClass("input-error");
                    });
                    say(result.errors.map(function (e) { return e.message; }).join("; "), "invalid");
                    form.attr("data-state", "invalid");
                    return;
                }
                var body = {conflict: c.id, strategy: strategy, options: result.options};
                var flows = observeFlows();
                var key = state.gen + " " + JSON.stringify(body);
                if (preview && preview.key === key) {
                    showPreview();
                    return;
                }
                say(t("resolve.checking"), "checking");
                form.attr("data-state", "checking");
                var gen = state.gen;
                timer = setTimeout(function () {
                    post("acm/resolve", $.extend({flows: flows}, body)).done(function (answer) {
                        if (seq !== checking) { return; }
                        observeFlows();
                        if (gen !== state.gen) { check(true); return; }
                        if (H.hasChanges(answer)) {
                            preview = {key: key, result: answer};
                        } else {
                            var why = M.notResolvedReason(answer && answer.plan, c.id) ||
                                ((answer && answer.plan) || []).join(" ") || t("resolve.nothing");
                            preview = {key: key, refusal: t("resolve.refused", {reason: why})};
                        }
                        showPreview();
                    }).fail(function (xhr) {
                        if (seq !== checking) { return; }
                        var err = ajaxError(xhr);
                        preview = null;
                        say(err.error + (err.python ? " (" + t("errors.python", {python: err.python}) + ")" : ""), "error");
                        form.attr("data-state", "error");
                        if (xhr && xhr.status === 502) { showError(err); }
                    });
                }, now ? 0 : 300);
            }

            function showPreview() {
                if (preview.refusal) {
                    say(preview.refusal, "refused");
                    form.attr("data-state", "refused");
                    apply.prop("disabled", true);
                } else {
                    say("", "");
                    form.attr("data-state", "ready");
                    apply.prop("disabled", false);
                }
            }

            select.on("change", function () { choose(select.val()); });
            options.on("input change", ".acm-option", function () { check(); });

            getStrategies().then(function (doc) {
                var able = M.strategiesFor(doc, c.kind);
                if (!able.length) {
                    note.text(M.whyNoResolve(doc, c, invalid) || t("resolve.no-strategy", {kind: c.kind}));
                    form.attr("data-state", "refused");
                    return;
                }
                able.forEach(function (s) { $("<option>", {value: s.name}).text(s.name).appendTo(select); });
                note.text(t("resolve.loading-plan"));
                return getPlan().then(function (plan) {
                    var word = M.planFor(plan, c.id);
                    var kind = doc.kinds && doc.kinds[c.kind];
                    var fallback = kind && kind.default && kind.default.strategy;
                    planned = word.planned;
                    if (planned) {
                        note.text(t("resolve.suggested", {strategy: planned.strategy, source: planned.source === "default"
                            ? t("resolve.source-default") : planned.source === "kept"
                                ? t("resolve.source-kept") : t("resolve.source-policy", {policy: planned.source})}));
                    } else if (word.skipped) {
                        note.text(t("resolve.skipped", {reason: word.skipped.reason}));
                    } else if (fallback) {
                        note.text(t("resolve.default", {kind: c.kind, strategy: fallback}));
                    } else {
                        note.text(t("resolve.choose"));
                    }
                    choose(M.suggestedStrategy(doc, c, planned));
                }, function (xhr) {
                    note.text(t("resolve.no-plan"));
                    choose(M.suggestedStrategy(doc, c, null));
                    say(ajaxError(xhr).error, "error");
                });
            }, function (xhr) {
                note.text(t("resolve.no-strategies"));
                say(ajaxError(xhr).error, "error");
                form.attr("data-state", "error");
            }).always(function () {
                form.attr("data-ready", "true");
            });

            apply.on("click", function () {
                if (!preview || !preview.result || apply.prop("disabled")) { return; }
                observeFlows();  // the preview must be of the flows as they are now
                if (preview.key.split(" ")[0] !== String(state.gen)) { check(true); return; }
                apply.prop("disabled", true);
                var event;
                try {
                    event = H.applyResolution(RED, preview.result);
                } catch (e) {
                    say(t("resolve.apply-failed", {error: e.message}), "error");
                    return;
                }
                if (!event) {
                    say(t("resolve.nothing"), "refused");
                    return;
                }
                form.remove();
                notify(t("resolve.applied", {actuator: F.actuatorNames(c) || c.id}), "success");
                analyze();
            });
        }

        // ------------------------------------------------------------ sidebar

        function buildSidebar() {
            var content = $("<div>", {"class": "acm-sidebar"});
            var header = $("<div>", {"class": "red-ui-sidebar-header acm-header"}).appendTo(content);
            ui.analyze = $("<button>", {type: "button", id: "acm-analyze", "class": "red-ui-button red-ui-button-small"})
                .append($("<i>", {"class": "fa fa-bolt"}))
                .append($("<span>").text(" " + t("sidebar.analyze")))
                .on("click", function () { analyze(); })
                .appendTo(header);
            var autoLabel = $("<label>", {"class": "acm-auto-label"}).appendTo(header);
            ui.auto = $("<input>", {type: "checkbox", id: "acm-auto"}).appendTo(autoLabel);
            $("<span>").text(" " + t("sidebar.auto")).appendTo(autoLabel);
            ui.auto.prop("checked", !!RED.settings.get("acm.autoAnalyze", false));
            ui.auto.on("change", function () {
                RED.settings.set("acm.autoAnalyze", ui.auto.prop("checked"));
            });
            ui.status = $("<div>", {id: "acm-status", "class": "acm-status"}).appendTo(content);
            ui.error = $("<div>", {id: "acm-error", "class": "acm-error"}).hide().appendTo(content);
            ui.toolbar = $("<div>", {"class": "acm-toolbar"}).hide().appendTo(content);
            ui.severity = $("<select>", {id: "acm-filter-severity", "class": "acm-filter-severity"}).appendTo(ui.toolbar);
            ["all", "error", "warning", "info"].forEach(function (s) {
                $("<option>", {value: s}).text(t("filter." + s, {count: 0})).appendTo(ui.severity);
            });
            ui.severity.on("change", function () {
                state.filter.severity = ui.severity.val();
                renderFindings();
            });
            ui.text = $("<input>", {type: "search", id: "acm-filter-text", "class": "acm-filter-text"})
                .attr({placeholder: t("filter.text"), autocomplete: "off"}).appendTo(ui.toolbar);
            ui.text.on("input", function () {
                state.filter.text = ui.text.val();
                renderFindings();
            });
            ui.findings = $("<div>", {id: "acm-findings", "class": "acm-findings"}).appendTo(content);
            setStatus(t("status.not-analysed"), "none");

            RED.sidebar.addTab({
                id: TAB_ID,
                label: t("sidebar.label"),
                name: t("sidebar.name"),
                iconClass: "fa fa-bolt",
                action: "acm:show-conflicts-tab",
                content: content,
                enableOnEdit: true
            });
        }

        function on(evt, fn) {
            RED.events.on(evt, fn);
            handlers.push([evt, fn]);
        }

        function init() {
            buildSidebar();
            registerBadges();
            RED.actions.add("acm:show-conflicts-tab", function () { RED.sidebar.show(TAB_ID); });
            RED.actions.add("acm:analyze-flows", function () {
                RED.sidebar.show(TAB_ID);
                analyze();
            });
            EVENTS.forEach(function (evt) { on(evt, markChanged); });
            on("workspace:dirty", function (data) { if (data && data.dirty) { markChanged(); } });
            on("deploy", function () { if (ui.auto.prop("checked")) { analyze(); } });
        }

        /** Undoes init: the palette manager calls it when the plugin is removed. */
        function remove() {
            clearTimeout(state.checkTimer);
            handlers.forEach(function (h) { RED.events.off(h[0], h[1]); });
            handlers = [];
            ACTIONS.forEach(function (a) { RED.actions.remove(a); });
            if (RED.view.annotations && RED.view.annotations.unregister) {
                RED.view.annotations.unregister("acm-conflict");
            }
            RED.sidebar.removeTab(TAB_ID);
            state.badges = {};
            RED.view.redraw(true);
        }

        return {init: init, remove: remove, analyze: analyze, state: state};
    }

    root.ACMBridge = root.ACMBridge || {};
    root.ACMBridge.sidebar = {create: create, TAB_ID: TAB_ID};
}(this));
