#!/usr/bin/env bash
# Install Debian packages the tests need, only if their program is missing.
#   scripts/apt-install.sh PACKAGE:PROGRAM ...
#   e.g. scripts/apt-install.sh chromium:/usr/bin/chromium mosquitto:/usr/sbin/mosquitto
# One apt-get run for everything missing; as root, or through sudo when available.
set -euo pipefail

say() { echo "apt-install: $*"; }
die() { echo "apt-install: error: $*" >&2; exit 1; }

missing=()
for pair in "$@"; do
    package="${pair%%:*}"
    program="${pair#*:}"
    if [ -x "$program" ]; then
        say "$package already installed ($program)"
    else
        missing+=("$package")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and apt-get is not available: install them by hand"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    die "installing ${missing[*]} needs root and sudo is not available: run as root: apt-get install -y ${missing[*]}"
fi
say "installing ${missing[*]} (apt-get)"
start=$SECONDS
"${SUDO[@]}" apt-get update -q || die "apt-get update failed (see above)"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed (see above)"
for pair in "$@"; do
    [ -x "${pair#*:}" ] || die "package ${pair%%:*} installed but ${pair#*:} does not exist"
done
say "installed ${missing[*]} in $((SECONDS - start)) s"
