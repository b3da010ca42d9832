#!/usr/bin/env bash
# Shows that building with tests skipped runs no browser, no npm or node, and no apt: it builds the
# site module (and the modules it aggregates) with -DskipTests and then with -Dmaven.test.skip=true,
# with stand-ins for chromium, npm, node and apt-get first on the PATH that record every call, and
# fails if any was called or the site was not built. Then it builds once with the check enabled and
# fails unless the stand-ins were called, so the stand-ins are shown to catch what they should.
# Usage, from the repository root: site/check/build-has-no-side-effects.sh [extra Maven arguments]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shims="$(mktemp -d)"
trap 'rm -rf "$shims"' EXIT
calls="$shims/calls.log"
: > "$calls"
for tool in chromium chromium-browser google-chrome npm npx node apt apt-get; do
  printf '#!/bin/sh\necho "%s $*" >> "%s"\nexit 1\n' "$tool" "$calls" > "$shims/$tool"
  chmod +x "$shims/$tool"
done
build() {
  (cd "$root" && PATH="$shims:$PATH" CHROMIUM= mvn -B -ntp -q -pl site -am verify "$@")
}
for skip in -DskipTests -Dmaven.test.skip=true; do
  rm -f "$root/site/target/site/index.html"
  build "$skip" "${@}"
  if [[ -s "$calls" ]]; then
    echo "no-side-effects: the build with $skip called:" >&2
    cat "$calls" >&2
    exit 1
  fi
  if [[ ! -f "$root/site/target/site/index.html" ]]; then
    echo "no-side-effects: the build with $skip did not build the site" >&2
    exit 1
  fi
  echo "no-side-effects: $skip built the site and called no browser, npm, node or apt"
done
# the control: with the check enabled (upstream tests skipped) the stand-ins must be reached
if build -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false "${@}" >/dev/null 2>&1; then
  echo "no-side-effects: the control build passed with stand-ins for the browser; the check did not run" >&2
  exit 1
fi
if [[ ! -s "$calls" ]]; then
  echo "no-side-effects: the control build called no stand-in; this script cannot see the calls" >&2
  exit 1
fi
echo "no-side-effects: control: with the check enabled the build called $(cut -d' ' -f1 "$calls" | sort -u | tr '\n' ' ')"
