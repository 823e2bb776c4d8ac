#!/usr/bin/env bash
# Checks template.yaml three ways, offline (no AWS account, no call to AWS or to Prisma Cloud):
#   1. cfn-lint: CloudFormation's own linter, on the SAM template as written;
#   2. sam validate --lint: SAM's transform, then cfn-lint on what it produces;
#   3. checkov: security rules. A rule that does not fit is skipped inline in template.yaml, next to its reason.
# cfn-lint comes from the dev venv (.venv); SAM CLI and checkov install on first use into their own venvs.
set -euo pipefail

CHECKOV_VERSION="3.3.30"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECKOV_VENV="$ROOT/.venv-checkov"
cd "$ROOT"

run() {
  echo "+ $*" >&2
  "$@"
}

run .venv/bin/cfn-lint template.yaml

# A region only names the partition for SAM's transform; nothing is sent to AWS.
run scripts/sam.sh validate --lint --region us-east-1

scripts/tool-venv.sh "$CHECKOV_VENV" "checkov==$CHECKOV_VERSION"
# --skip-download and the update check switched off: checkov otherwise calls Prisma Cloud and PyPI.
export CKV_SKIP_PACKAGE_UPDATE_CHECK=true
run "$CHECKOV_VENV/bin/checkov" --framework cloudformation -f template.yaml --quiet --compact --skip-download
