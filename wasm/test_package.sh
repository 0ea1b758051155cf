#!/usr/bin/env bash
# The npm package as a user gets it (called by run_tests.sh after the build):
#   1. npm pack -> the tarball holds exactly package.json's "files" (+ README, package.json)
#   2. a scratch project installs the tarball, esbuild and typescript from the registry
#   3. tsc --noEmit --strict type-checks package_app/example.ts against pocketnn.d.ts
#   4. esbuild bundles package_app/app.mjs for node (platform=node, format=esm) and
#      browser_app.mjs + pocketnn/worker.mjs for the browser (platform=browser, format=esm),
#      with no options beyond those
#   5. the node bundle runs a fixture on the main thread and in a worker and matches the
#      native runtime's outputs
# When the npm registry cannot be reached, steps 3-4 are SKIPPED (said so, with the
# reason) and the installed package runs unbundled.
#   wasm/test_package.sh FIXTURE_DIR      (fixtures of wasm/test/make_fixtures.py)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FIXTURES="$(cd "$1" && pwd)"
APP="$HERE/package_app"
WORK="$(mktemp -d /tmp/pocketnn-npm-test.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)

if ! command -v npm >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
fi
[[ -f "$HERE/dist/pocketnn_wasm.wasm" ]] || { echo "wasm/dist is missing: run wasm/build.sh" >&2; exit 1; }

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
cp "$APP"/app.mjs "$APP"/compare.mjs "$APP"/browser_app.mjs "$APP"/example.ts "$APP"/tsconfig.json "$project/"
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
  npx esbuild browser_app.mjs pocketnn/worker.mjs --bundle --platform=browser --format=esm \
    --log-level=warning --outdir=out/browser
  if grep -rl "node:" out/browser; then
    echo "the browser bundle imports node modules" >&2
    exit 1
  fi
  grep -q 'new URL("./dist/pocketnn_wasm.wasm", import.meta.url)' out/browser/browser_app.js
  grep -q 'new URL("./worker.mjs", import.meta.url)' out/browser/browser_app.js
  find out/browser -name '*.js' -printf '%P %s bytes\n' 
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
