#!/usr/bin/env bash
# What the browser test (tests/browser, marker `browser`) needs: Debian's chromium and the example page's
# npm packages (@anam-ai/js-sdk, esbuild, playwright-core; Playwright's own browser download is not used).
# Idempotent: chromium is installed only when missing; `npm ci` reinstalls exactly what package-lock.json pins.
#
#   scripts/install-browser-deps.sh
#
# Needs node >= 20 with npm, and apt (root, or sudo) when chromium is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"

say() { echo "install-browser-deps: $*" >&2; }

if [[ -x "$CHROMIUM" ]]; then
  say "chromium already installed at $CHROMIUM"
else
  "$ROOT/scripts/apt-install.sh" install-browser-deps chromium
  if [[ ! -x "$CHROMIUM" ]]; then
    say "apt installed chromium, but not at $CHROMIUM (set CHROMIUM_PATH)"
    exit 1
  fi
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  say "node and npm are needed (node 20 or later)"
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if (( node_major < 20 )); then
  say "node $(node --version) is too old: node 20 or later is needed"
  exit 1
fi

say "npm ci in examples/web"
cd "$ROOT/examples/web"
npm ci --no-audit --no-fund
