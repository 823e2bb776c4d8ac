#!/usr/bin/env bash
# Run the AWS SAM CLI, installed on first use into its own virtual environment (.venv-sam) so that its many
# pinned dependencies never meet the dev tools in .venv.
#
#   scripts/sam.sh build                    # sam build into .aws-sam/build (needs python3.13), plus bytecode
#   scripts/sam.sh build --use-container    # the same in Docker; the bytecode too, where python3.13 is missing
#   scripts/sam.sh deploy --config-env dev  # what `make deploy ENV=dev` runs (samconfig.toml's [dev.*])
#   scripts/sam.sh validate --lint --region us-east-1
#
# `sam build` resolves the python3.13 runtime by looking for `python3.13` on PATH. When that is a pyenv shim
# for a version that is not active, the real interpreter is put on PATH through a private directory.
set -euo pipefail

SAM_CLI_VERSION="1.170.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SAM_VENV="$ROOT/.venv-sam"
SAM="$SAM_VENV/bin/sam"

export SAM_CLI_TELEMETRY=0

"$ROOT/scripts/tool-venv.sh" "$SAM_VENV" "aws-sam-cli==$SAM_CLI_VERSION"

# Prints the path of a working python3.13, or nothing.
find_python313() {
  if python3.13 -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1; then
    command -v python3.13
    return
  fi
  if command -v pyenv >/dev/null 2>&1; then
    local version
    version="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$' | sort -V | tail -n 1 || true)"
    if [[ -n "$version" ]]; then
      PYENV_VERSION="$version" pyenv which python3.13 2>/dev/null || true
    fi
  fi
}

building=false
in_container=false
for arg in "$@"; do
  case "$arg" in
    build) building=true ;;
    --use-container | -u) in_container=true ;;
  esac
done

python313=""
if [[ "$building" == true ]]; then
  python313="$(find_python313)"
fi

if [[ "$building" == true && "$in_container" != true ]]; then
  if [[ -z "$python313" ]]; then
    cat >&2 <<'EOF'
scripts/sam.sh: `sam build` needs a python3.13 interpreter (the function's runtime) and none was found.
  - with pyenv:   pyenv install 3.13      (found automatically afterwards, no need to activate it)
  - on Debian/Ubuntu with a python3.13 package: apt-get install python3.13 python3.13-venv
  - where Docker exists: scripts/sam.sh build --use-container
EOF
    exit 1
  fi
  # A wrapper, not a symlink: a symlink would run with this venv's pyvenv.cfg and lose its own pip.
  shim_dir="$SAM_VENV/python313-bin"
  mkdir -p "$shim_dir"
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$python313" >"$shim_dir/python3.13"
  chmod +x "$shim_dir/python3.13"
  export PATH="$shim_dir:$PATH"
fi

# Lambda's /var/task is read-only, so Python cannot cache bytecode there: a package without .pyc files
# compiles every bundled module from source at every cold start. Ship the bytecode, as unchecked-hash .pyc
# files, which stay valid whatever timestamps the files get in the deployment zip. A container build on a
# machine without python3.13 compiles it with the runtime's own interpreter, from Lambda's python3.13 image.
compile_bytecode() {
  local compile=(-m compileall -q -f -j 0 --invalidation-mode unchecked-hash)
  if [[ -n "$python313" ]]; then
    "$python313" "${compile[@]}" .aws-sam/build
  else
    docker run --rm --user "$(id -u):$(id -g)" --volume "$ROOT/.aws-sam/build:/build" \
      --entrypoint /var/lang/bin/python3.13 public.ecr.aws/lambda/python:3.13 "${compile[@]}" /build
  fi
}

cd "$ROOT"
if [[ "$building" != true ]]; then
  exec "$SAM" "$@"
fi
"$SAM" "$@"
compile_bytecode
