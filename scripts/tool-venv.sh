#!/usr/bin/env bash
# Install one pinned tool into a virtual environment of its own, once, so that its pinned dependencies never
# meet the dev tools in .venv. Does nothing when that version is already there.
#
#   scripts/tool-venv.sh .venv-sam aws-sam-cli==1.170.0
set -euo pipefail

venv="$1"
requirement="$2"
marker="$venv/.installed-requirement"

if [[ "$(cat "$marker" 2>/dev/null)" == "$requirement" ]]; then
  exit 0
fi
echo "scripts/tool-venv.sh: installing $requirement into $venv" >&2
rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "$requirement"
echo "$requirement" >"$marker"
