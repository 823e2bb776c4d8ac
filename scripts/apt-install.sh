#!/usr/bin/env bash
# Install Debian packages with apt, as root or through sudo: what the install-*.sh scripts share.
#
#   scripts/apt-install.sh <who is asking> <package>...
set -euo pipefail

who="$1"
shift
if [[ "$(id -u)" -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "$who: $* missing, and installing it needs root (or sudo)" >&2
  exit 1
fi
echo "$who: installing Debian's $*" >&2
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
