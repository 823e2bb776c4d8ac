#!/usr/bin/env bash
# Build the example page (examples/web) into examples/web/dist, only when something it is built from changed:
# `npm ci` when node_modules is missing or older than package-lock.json, then `npm run build` (esbuild).
#
#   scripts/build-web.sh             # make web: node 20+ is required
#   scripts/build-web.sh --if-node   # make dev: without node, say so and carry on (the endpoint still runs)
#
# Progress goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/examples/web"
DIST="$WEB/dist"

say() { echo "build-web: $*" >&2; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1 \
  || (( $(node -p 'process.versions.node.split(".")[0]') < 20 )); then
  if [[ "${1:-}" == "--if-node" ]]; then
    say "node 20+ and npm not found: the example page is not built (the endpoint still runs; see docs/local-development.md)"
    exit 0
  fi
  say "node 20 or later, with npm, is needed to build the example page"
  exit 1
fi

cd "$WEB"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing the page's npm packages (Anam's JS SDK, esbuild) into examples/web/node_modules (first time only)"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
# The page's own scripts (main.js and the modules it imports), its HTML, and what builds it.
INPUTS=(*.js index.html build.mjs package.json package-lock.json)
stale=false
[[ -f "$DIST/index.html" && -f "$DIST/main.js" ]] || stale=true
for input in "${INPUTS[@]}"; do
  if [[ "$input" -nt "$DIST/main.js" ]]; then stale=true; fi
done
if [[ "$stale" == true ]]; then
  say "bundling the example page into examples/web/dist"
  npm run --silent build >&2
fi
