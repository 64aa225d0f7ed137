// npm prepack: copy the resolver templates (acm/data/strategies.json and
// acm/data/resolvers/*.js) into acm-data/, so that a packed or published package
// carries the templates its acm-resolver node runs. A package installed from the
// ACM checkout itself (npm install /path/to/acm/nodered-bridge) reads ../acm/data
// instead; acm-data/ is not kept in git.
"use strict";

const fs = require("fs");
const path = require("path");

function copyData(from, to) {
    fs.rmSync(to, {recursive: true, force: true});
    fs.mkdirSync(path.join(to, "resolvers"), {recursive: true});
    fs.copyFileSync(path.join(from, "strategies.json"), path.join(to, "strategies.json"));
    for (const name of fs.readdirSync(path.join(from, "resolvers"))) {
        if (name.endsWith(".js")) {
            fs.copyFileSync(path.join(from, "resolvers", name), path.join(to, "resolvers", name));
        }
    }
}

if (require.main === module) {
    const from = path.join(__dirname, "..", "acm", "data");
    try {
        copyData(from, path.join(__dirname, "acm-data"));
    } catch (err) {
        console.error(`pack-data: cannot copy the resolver templates from ${from}: ${err.message}`);
        process.exit(2);
    }
}

module.exports = {copyData};
