#!/usr/bin/env bash
# Install what the editor end-to-end tests (tests/test_editor_e2e.py) need:
#   /usr/bin/chromium   Debian's chromium package (apt-get), if missing
#   playwright          the Python package, into the project venv (.venv)
# Playwright drives the system Chromium (executable_path=/usr/bin/chromium), so
# `playwright install` (which downloads its own browsers) is never run.
# Idempotent: whatever is already there is left alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ACM_VENV:-$ROOT/.venv}"
CHROMIUM=/usr/bin/chromium

say() { echo "install-browser: $*"; }
die() { echo "install-browser: error: $*" >&2; exit 1; }

# -- Chromium (Debian package) ---------------------------------------------------------
"$ROOT/scripts/apt-install.sh" "chromium:$CHROMIUM" || die "could not install chromium"

# -- Playwright for Python --------------------------------------------------------------
[ -x "$VENV/bin/python" ] || die "no project venv at $VENV (run: make test, or python3 -m venv .venv && .venv/bin/pip install -e '.[test]')"
if version="$("$VENV/bin/python" -c 'from importlib.metadata import version; import playwright; print(version("playwright"))' 2>/dev/null)"; then
    say "playwright $version already in $VENV, skipping"
else
    say "installing playwright into $VENV: $VENV/bin/pip install playwright"
    "$VENV/bin/pip" install --quiet playwright || die "pip install playwright failed (see above)"
    version="$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("playwright"))')"
    say "playwright $version installed in $VENV (browsers are not downloaded; the tests use $CHROMIUM)"
fi
