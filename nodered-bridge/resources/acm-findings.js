/*
 * ACM bridge, editor side: the findings list as data (no DOM, no RED).
 *
 * The sidebar draws what these functions return; node:test loads this file with
 * require() (nodered-bridge/test/findings.test.js), the editor as a <script> that
 * sets window.ACMBridge.findings. Every string here is plain text: the sidebar puts
 * it in the page with .text() or as an attribute value.
 */
(function (root, factory) {
    "use strict";
    var api = factory();
    if (typeof module === "object" && module.exports) {
        module.exports = api;
    } else {
        root.ACMBridge = root.ACMBridge || {};
        root.ACMBridge.findings = api;
    }
}(this, function () {
    "use strict";

    var SEVERITIES = ["error", "warning", "info"];

    function conflicts(doc) {
        return (doc && Array.isArray(doc.conflicts)) ? doc.conflicts : [];
    }

    function severityRank(s) {
        var i = SEVERITIES.indexOf(s);
        return i === -1 ? SEVERITIES.length : i;
    }

    /** Application id -> its name in the findings document (the id when unknown). */
    function appName(doc, id) {
        var apps = (doc && doc.applications) || [];
        for (var i = 0; i < apps.length; i++) {
            if (apps[i] && apps[i].id === id) { return apps[i].name || id; }
        }
        return id;
    }

    /** The actuators of a finding as a person names them: "hall light · siren". */
    function actuatorNames(c) {
        var names = [];
        (c.actuators || []).forEach(function (a) {
            var name = a && (a.name || a.key);
            if (name && names.indexOf(name) === -1) { names.push(String(name)); }
        });
        return names.join(" · ");
    }

    function actuatorKeys(c) {
        return (c.actuators || []).map(function (a) { return a && a.key; }).filter(Boolean).join(" · ");
    }

    /** Ids of the nodes a finding is about: its actuators' nodes, then its own. */
    function findingNodeIds(c) {
        var ids = [];
        (c.actuators || []).forEach(function (a) {
            ((a && a.nodes) || []).forEach(function (id) { if (ids.indexOf(id) === -1) { ids.push(id); } });
        });
        (c.nodes || []).forEach(function (id) { if (ids.indexOf(id) === -1) { ids.push(id); } });
        return ids;
    }

    /** Errors first, then by actuator, then by id: the order is stable across runs. */
    function sortConflicts(doc) {
        var list = conflicts(doc).slice();
        list.sort(function (a, b) {
            var s = severityRank(a.severity) - severityRank(b.severity);
            if (s !== 0) { return s; }
            var ka = actuatorNames(a).toLowerCase(), kb = actuatorNames(b).toLowerCase();
            if (ka !== kb) { return ka < kb ? -1 : 1; }
            return a.id < b.id ? -1 : (a.id > b.id ? 1 : 0);
        });
        return list;
    }

    /** {error: n, warning: n, info: n} over the whole document. */
    function counts(doc) {
        var out = {error: 0, warning: 0, info: 0};
        conflicts(doc).forEach(function (c) {
            if (Object.prototype.hasOwnProperty.call(out, c.severity)) { out[c.severity]++; }
        });
        return out;
    }

    /**
     * A node's label in a path: its name, whether or not its type is installed in this
     * editor (a node of a missing type is an "unknown" whose own properties are kept in
     * `_orig`), else its type; the id when the node is not in the editor.
     */
    function nodeLabel(node, id) {
        if (!node) { return id; }
        var orig = node.type === "unknown" && node._orig ? node._orig : null;
        var name = orig ? orig.name : node.name;
        if (typeof name === "string" && name.trim()) { return name.trim(); }
        var type = orig && orig.type ? orig.type : node.type;
        return type ? String(type) : id;
    }

    /**
     * The paths of finding `c`, each {who, provenance, text}: "hall motion → on, 5 min,
     * off → hall light", who starts it ("Lighting") and how ("external").
     * `lookup(id)` returns the editor's node (or null).
     */
    function paths(doc, c, lookup) {
        return (c.paths || []).map(function (path, i) {
            var app = (c.path_applications || [])[i];
            var provenance = (c.path_provenances || [])[i] || "";
            var names = (path || []).map(function (id) { return nodeLabel(lookup ? lookup(id) : null, id); });
            return {who: app ? appName(doc, app) : "", provenance: provenance, text: names.join(" → ")};
        });
    }

    /** One row of the list: what it shows folded, and what the text filter searches. */
    function row(doc, c) {
        var apps = (c.applications || []).map(function (id) { return appName(doc, id); });
        var title = actuatorNames(c) || c.code || c.rule || c.id;
        var search = [title, actuatorKeys(c), apps.join(" "), c.message || "", c.code || "",
            c.rule || "", c.kind || "", c.severity || "", c.id || ""].join("\n").toLowerCase();
        return {id: c.id, severity: c.severity, code: c.code || "", title: title, apps: apps,
                conflict: c, search: search};
    }

    /** Whether `r` matches the text filter: every word of it, anywhere, any case. */
    function matches(r, text) {
        var words = String(text || "").toLowerCase().split(/\s+/).filter(Boolean);
        return words.every(function (w) { return r.search.indexOf(w) !== -1; });
    }

    /**
     * The list to draw: groups by severity (only severities with findings), each with
     * its total count and the rows that pass the filter.
     *   filter: {severity: "all" | "error" | "warning" | "info", text: "..."}
     * Returns {groups: [{severity, total, rows}], total, shown}.
     */
    function buildList(doc, filter) {
        filter = filter || {};
        var wanted = filter.severity && filter.severity !== "all" ? filter.severity : null;
        var groups = [];
        var byName = {};
        var shown = 0;
        sortConflicts(doc).forEach(function (c) {
            var g = byName[c.severity];
            if (!g) {
                g = byName[c.severity] = {severity: c.severity, total: 0, rows: []};
                groups.push(g);
            }
            g.total++;
            if (wanted && c.severity !== wanted) { return; }
            var r = row(doc, c);
            if (!matches(r, filter.text)) { return; }
            g.rows.push(r);
            shown++;
        });
        return {groups: groups, total: conflicts(doc).length, shown: shown};
    }

    /** Node id -> {severity (the worst), lines} for the badges on the canvas. */
    function badges(doc) {
        var out = {};
        sortConflicts(doc).forEach(function (c) {
            findingNodeIds(c).forEach(function (id) {
                var b = out[id] || (out[id] = {severity: c.severity, lines: []});
                if (severityRank(c.severity) < severityRank(b.severity)) { b.severity = c.severity; }
                b.lines.push(c.severity + " " + (c.code || c.rule) + ": " + (c.message || ""));
            });
        });
        return out;
    }

    return {
        SEVERITIES: SEVERITIES, appName: appName, actuatorNames: actuatorNames, actuatorKeys: actuatorKeys,
        findingNodeIds: findingNodeIds, sortConflicts: sortConflicts, counts: counts, nodeLabel: nodeLabel,
        paths: paths, row: row, matches: matches, buildList: buildList, badges: badges
    };
}));
