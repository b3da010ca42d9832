#!/usr/bin/env bash
# Checks the built site (argument: its directory) in headless Chromium, driven by playwright-core
# (npm, pinned in package-lock.json). Run by the site module's integration test (SiteCheckIT), so
# `-DskipTests` skips it. It installs nothing on the system: without Chromium it stops and says how
# to install it. Set CHROMIUM to use a browser that is not on the PATH.
set -euo pipefail
site="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
browser="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
if [[ -z "$browser" || ! -x "$browser" ]]; then
  cat >&2 <<'EOF'
site check: Chromium not found (looked for chromium, chromium-browser and google-chrome on the PATH,
or the CHROMIUM variable). Install it and run again: on Debian or Ubuntu, as root,
    apt-get install chromium
(.ci/run does this). To build without the check, pass -DskipTests.
EOF
  exit 1
fi
if [[ ! -d "$here/node_modules/playwright-core" ]]; then
  if ! command -v npm >/dev/null; then
    echo "site check: npm not found; it installs playwright-core into $here/node_modules." \
      "Install Node.js and npm (Debian: apt-get install nodejs npm) and run again." >&2
    exit 1
  fi
  (cd "$here" && npm ci --silent --no-audit --no-fund)
fi
# first the check itself: a fixture with one fault of each kind must fail with every fault reported
if fixture="$(CHROMIUM="$browser" node "$here/check-site.mjs" "$here/broken-fixture")"; then
  echo "site check: the broken fixture passed; the check is not working" >&2
  exit 1
fi
for fault in "image missing.png did not load" "broken link nowhere.html" 'no anchor "no-such-anchor"' \
    "a script that fails" "blank.html: renders no text" "index.html: no licence footer" \
    'guide-wide.html: says "All rights reserved"' "the sidebar width differs between guides at 1280px" \
    "guide-wide.html at 1280px: code block 1 (java) has overflow-x hidden" "guide-wide.html: code block 1 (java) is not highlighted" \
    "guide-wide.html at 820px: code block 1 (java) cuts off a line" \
    "guide-narrow.html at 1280px: the page is" "guide-narrow.html at 1280px: code block 1 ends outside the window"; do
  if [[ "$fixture" != *"$fault"* ]]; then
    echo "site check: the broken fixture's fault \"$fault\" was not reported:" >&2
    echo "$fixture" >&2
    exit 1
  fi
done
CHROMIUM="$browser" node "$here/check-site.mjs" "$site"
