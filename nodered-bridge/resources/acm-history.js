/*
 * ACM bridge, editor side: a resolution applied to the workspace as ONE history event.
 *
 * acm/resolve answers {add, change, remove} against the flows the editor sent.
 * `applyDiff` makes the new flows from the editor's complete node set as plain data
 * (node order kept, each port's wires exactly as ACM wrote them); `applyResolution`
 * swaps the workspace to them and pushes the editor's own "replace" event with the
 * complete flows from before, so Ctrl-Z gives back exactly those flows (node order and
 * wire order in every port) and Ctrl-Y the resolved ones. This is what Node-RED does
 * when it merges a remote change (RED.diff.mergeDiff). node:test loads this file with
 * require() (nodered-bridge/test/history.test.js) and a recording stand-in for RED.
 */
(function (root, factory) {
    "use strict";
    var api = factory();
    if (typeof module === "object" && module.exports) {
        module.exports = api;
    } else {
        root.ACMBridge = root.ACMBridge || {};
        root.ACMBridge.history = api;
    }
}(this, function () {
    "use strict";

    function copy(value) {
        return JSON.parse(JSON.stringify(value));
    }

    /**
     * The flows after a resolution: `config` (a complete node set) with the nodes of
     * `diff.remove` left out, `diff.change` applied (new `wires`; `props` replaced, a
     * null prop removed), and `diff.add` appended in ACM's order. Pure; throws when a
     * node to change or remove is not in `config` (the flows changed meanwhile).
     * Returns {config, touched: ids of added and changed nodes}.
     */
    function applyDiff(config, diff) {
        var add = (diff && diff.add) || [];
        var change = (diff && diff.change) || [];
        var remove = (diff && diff.remove) || [];
        var byId = {};
        config.forEach(function (n) { byId[n.id] = true; });
        var missing = change.map(function (c) { return c.id; }).concat(remove)
            .filter(function (id) { return !byId[id]; });
        if (missing.length) {
            throw new Error("node " + missing[0] + " is no longer in the flows");
        }
        var changes = {};
        change.forEach(function (c) { changes[c.id] = c; });
        var gone = {};
        remove.forEach(function (id) { gone[id] = true; });
        var out = [];
        // copies throughout: RED.nodes.import changes the objects it is given, and the
        // history event keeps `config` to import it again on Ctrl-Z
        config.forEach(function (n) {
            if (gone[n.id]) { return; }
            var node = copy(n);
            var c = changes[n.id];
            if (!c) {
                out.push(node);
                return;
            }
            Object.keys(c.props || {}).forEach(function (key) {
                if (key === "id" || key === "type") { return; }
                if (c.props[key] === null) { delete node[key]; } else { node[key] = copy(c.props[key]); }
            });
            if (c.wires && node.type !== "group" && node.type !== "tab" && node.type !== "subflow") {
                node.wires = copy(c.wires);
            }
            out.push(node);
        });
        add.forEach(function (n) { out.push(copy(n)); });
        return {config: out, touched: add.map(function (n) { return n.id; }).concat(Object.keys(changes))};
    }

    /** Whether a resolve answer changes anything. */
    function hasChanges(result) {
        return !!result && ["add", "change", "remove"].some(function (k) {
            return Array.isArray(result[k]) && result[k].length > 0;
        });
    }

    /**
     * Applies the answer of acm/resolve to the editor `RED` as one undoable event.
     * Returns the history event pushed, or null when there is nothing to change.
     */
    function applyResolution(RED, result) {
        if (!hasChanges(result)) { return null; }
        var before = RED.nodes.createCompleteNodeSet();
        var next = applyDiff(before, result);  // throws before anything is touched
        var changed = {};
        var moved = {};
        before.forEach(function (n) {
            var node = RED.nodes.node(n.id);
            if (node) {
                changed[n.id] = node.changed;
                moved[n.id] = node.moved;
            }
        });
        var event = {t: "replace", config: copy(before), changed: changed, moved: moved, complete: true,
                     rev: RED.nodes.version(), dirty: RED.nodes.dirty()};
        var active = RED.workspaces.active();
        var touched = {};
        next.touched.forEach(function (id) { touched[id] = true; });

        RED.nodes.clear();
        var imported;
        try {
            imported = RED.nodes.import(next.config);
        } catch (err) {
            // Never leave an empty workspace: put back what was there, then report.
            RED.nodes.clear();
            RED.nodes.import(event.config);
            RED.nodes.version(event.rev);
            RED.nodes.dirty(event.dirty);
            RED.view.redraw(true);
            throw err;
        }
        RED.nodes.dirty(false);
        ((imported && imported.nodes) || []).forEach(function (n) {
            if (changed[n.id] || touched[n.id]) { n.changed = true; }
            if (moved[n.id]) { n.moved = true; }
        });
        RED.nodes.version(event.rev);
        RED.history.push(event);
        RED.nodes.dirty(true);
        RED.view.redraw(true);
        if (RED.palette && RED.palette.refresh) { RED.palette.refresh(); }
        RED.workspaces.refresh();
        if (active && (RED.nodes.workspace(active) || RED.nodes.subflow(active))) {
            RED.workspaces.show(active, true);
        }
        if (RED.sidebar && RED.sidebar.config && RED.sidebar.config.refresh) { RED.sidebar.config.refresh(); }
        return event;
    }

    return {applyDiff: applyDiff, hasChanges: hasChanges, applyResolution: applyResolution};
}));
