#!/usr/bin/env bash
# Checks the built site (argument: its directory) in headless Chromium: Debian's chromium package,
# installed here when missing and this runs as root; playwright-core drives it (npm, pinned).
set -euo pipefail
site="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [[ -z "$browser" ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "site check: installing Debian's chromium package"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    browser="$(command -v chromium)"
  else
    echo "site check: needs Chromium; install it (Debian: apt-get install chromium) and run again" >&2
    exit 1
  fi
fi
if [[ ! -d "$here/node_modules/playwright-core" ]]; then
  (cd "$here" && npm ci --silent --no-audit --no-fund)
fi
# first the check itself: a fixture with one fault of each kind must fail with all five reported
if fixture="$(CHROMIUM="$browser" node "$here/check-site.mjs" "$here/broken-fixture")"; then
  echo "site check: the broken fixture passed; the check is not working" >&2
  exit 1
fi
for fault in "image missing.png did not load" "broken link nowhere.html" 'no anchor "no-such-anchor"' \
    "a script that fails" "blank.html: renders no text"; do
  if [[ "$fixture" != *"$fault"* ]]; then
    echo "site check: the broken fixture's fault \"$fault\" was not reported:" >&2
    echo "$fixture" >&2
    exit 1
  fi
done
CHROMIUM="$browser" node "$here/check-site.mjs" "$site"
