#!/usr/bin/env bash
# The npm package as a user gets it (called by run_tests.sh after the build):
#   1. npm pack -> the tarball holds exactly package.json's "files" (+ README, package.json)
#   2. a scratch project installs the tarball, esbuild and typescript from the registry
#   3. tsc --noEmit --strict type-checks package_app/example.ts against pocketnn.d.ts
#   4. esbuild bundles package_app/app.mjs for node (platform=node, format=esm) and
#      browser_app.mjs + pocketnn/worker.mjs for the browser (platform=browser, format=esm),
#      with no options beyond those
#   5. headless Chromium (when installed) runs the browser bundle in real time, on the
#      page and in the worker; the node bundle runs a fixture on the main thread and in
#      a worker; both match the native runtime's outputs
# When the npm registry cannot be reached, steps 3-4 are SKIPPED (said so, with the
# reason) and the installed package runs unbundled.
#   wasm/test_package.sh FIXTURE_DIR      (fixtures of wasm/test/make_fixtures.py)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
FIXTURES="$(cd "$1" && pwd)"
APP="$HERE/package_app"
WORK="$(mktemp -d /tmp/pocketnn-npm-test.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)

if ! command -v npm >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
fi
[[ -f "$HERE/dist/pocketnn_wasm.wasm" ]] || { echo "wasm/dist is missing: run wasm/build.sh" >&2; exit 1; }

# Serves $1 and opens its index.html in headless Chromium in real time (the page runs
# a fixture on its thread and in the worker); SKIPPED, with the reason, without
# Chromium or without node's WebSocket (node >= 20).
browser_check() {
  echo "-- the browser bundle in headless Chromium"
  if ! command -v chromium >/dev/null 2>&1; then
    echo "SKIPPED: the browser run: chromium is not installed (wasm/browser_test.sh installs it)"
    return
  fi
  if (( $(node -p 'process.versions.node.split(".")[0]') < 20 )); then
    echo "SKIPPED: the browser run: node $(node --version) has no WebSocket client for the DevTools protocol"
    return
  fi
  local port="${PNN_PACKAGE_PORT:-8766}" profile="$WORK/chromium" status=0
  "$PYTHON" -m http.server "$port" --bind 127.0.0.1 --directory "$1" >/dev/null 2>&1 &
  local server=$!
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --remote-debugging-port=0 about:blank >/dev/null 2>&1 &
  local browser=$!
  for _ in $(seq 100); do
    [[ -s "$profile/DevToolsActivePort" ]] && curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
    sleep 0.2
  done
  node --experimental-websocket --no-warnings "$APP/browser_check.mjs" \
    "$(head -1 "$profile/DevToolsActivePort")" "http://127.0.0.1:$port/index.html" || status=$?
  kill "$server" "$browser" 2>/dev/null || true
  wait "$server" "$browser" 2>/dev/null || true
  return "$status"
}

echo "-- npm pack"
tarball="$WORK/$(cd "$HERE" && npm pack --silent --pack-destination "$WORK")"
expected="$(cd "$HERE" && node -e '
  const p = require("./package.json");
  console.log(["package.json", "README.md", ...p.files].map((f) => "package/" + f).sort().join("\n"));')"
actual="$(tar -tzf "$tarball" | sort)"
if [[ "$actual" != "$expected" ]]; then
  echo "the tarball holds other files than package.json's \"files\":" >&2
  diff <(echo "$expected") <(echo "$actual") >&2 || true
  exit 1
fi
echo "$(basename "$tarball"): $(stat -c %s "$tarball") bytes, $(wc -l <<<"$actual") files"

echo "-- scratch project"
project="$WORK/app"
mkdir -p "$project"
cp "$APP"/app.mjs "$APP"/compare.mjs "$APP"/fixture_file.mjs "$APP"/browser_app.mjs "$APP"/example.ts "$APP"/tsconfig.json "$project/"
printf '{ "name": "pocketnn-package-test", "private": true, "type": "module" }\n' >"$project/package.json"
cd "$project"
bundled=1
if ! timeout 300 npm install --no-audit --no-fund --loglevel=error "$tarball" esbuild@^0.28 typescript@^7 \
    >"$WORK/npm-install.log" 2>&1; then
  if timeout 30 npm ping >/dev/null 2>&1; then
    echo "npm install failed with the registry reachable:" >&2
    cat "$WORK/npm-install.log" >&2
    exit 1
  fi
  echo "SKIPPED: tsc and esbuild bundling: the npm registry ($(npm config get registry)) is unreachable"
  npm install --offline --no-audit --no-fund --loglevel=error "$tarball" >/dev/null
  bundled=0
fi

if [[ "$bundled" == 1 ]]; then
  echo "-- tsc --noEmit --strict example.ts ($(npx tsc --version))"
  npx tsc -p tsconfig.json

  echo "-- esbuild $(npx esbuild --version): node and browser bundles"
  npx esbuild app.mjs --bundle --platform=node --format=esm --log-level=warning --outfile=out/node/app.mjs
  # The browser app, and the worker script beside it with the .wasm in dist/: esbuild
  # does not follow new URL(..., import.meta.url), so this is the README's esbuild recipe.
  site=out/browser
  npx esbuild browser_app.mjs --bundle --platform=browser --format=esm --log-level=warning \
    --outfile="$site/browser_app.js"
  npx esbuild pocketnn/worker.mjs --bundle --platform=browser --format=esm --log-level=warning \
    --outfile="$site/worker.mjs"
  if grep -l "node:" "$site"/*; then
    echo "the browser bundle imports node modules" >&2
    exit 1
  fi
  grep -q 'new URL("./dist/pocketnn_wasm.wasm", import.meta.url)' "$site/browser_app.js"
  grep -q 'new URL("./worker.mjs", import.meta.url)' "$site/browser_app.js"
  find "$site" -name '*.*js' -printf '%P %s bytes\n'
  mkdir -p "$site/dist"
  cp node_modules/pocketnn/dist/pocketnn_wasm.wasm "$site/dist/"
  cp "$APP/index.html" "$APP/compare.mjs" "$site/"
  ln -s "$FIXTURES" "$site/fixtures"
  browser_check "$site"

  if grep -q "node_modules/pocketnn" out/node/app.mjs; then
    echo "-- node bundle (pocketnn inside it; .wasm and worker found in node_modules/pocketnn)"
  else
    echo "pocketnn was not bundled into out/node/app.mjs" >&2
    exit 1
  fi
  node out/node/app.mjs "$FIXTURES"
else
  node app.mjs "$FIXTURES"
fi
echo "-- npm package test passed in $(( $(date +%s) - start )) s"
