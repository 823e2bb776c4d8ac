#!/usr/bin/env bash
# Checks template.yaml three ways, offline (no AWS account, no call to AWS or to Prisma Cloud):
#   1. cfn-lint: CloudFormation's own linter, on the SAM template as written;
#   2. sam validate --lint: SAM's transform, then cfn-lint on what it produces;
#   3. checkov: security rules. A rule that does not fit is skipped inline in template.yaml, next to its reason.
# checkov judges a conditional resource by the parameters' defaults, which leave the CloudFront distribution and
# the API's custom domain off: cfn-lint and checkov then run again on the template with them on (the edge as a
# wall, scripts/template_variant.py).
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

VARIANT_DIR="$(mktemp -d)"
trap 'rm -rf "$VARIANT_DIR"' EXIT
EDGE_WALL="$VARIANT_DIR/template-edge-wall.json"
echo "+ template.yaml with EdgeDistribution=on, a WAF web ACL and the API's custom domain: $EDGE_WALL" >&2
.venv/bin/python -m scripts.template_variant \
  EdgeDistribution=on \
  EdgeWebAclArn=arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/0a1b2c3d-4e5f-6789-abcd-ef0123456789 \
  EdgeApiDomainName=token-origin.example.com \
  EdgeApiCertificateArn=arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789 \
  >"$EDGE_WALL"
run .venv/bin/cfn-lint "$EDGE_WALL"
run "$CHECKOV_VENV/bin/checkov" --framework cloudformation -f "$EDGE_WALL" --quiet --compact --skip-download
