#!/usr/bin/env bash
# The demo page in headless Chromium, driven by Playwright in real time: serves wasm/
# over HTTP, opens /demo/, and checks the photo's top-5 against onnxruntime's and a
# positive latency (demo/browser_check.mjs). Installs Debian's chromium and
# playwright-core when missing; builds the runtime and the demo assets when missing.
# The screenshot goes to $PNN_ARTIFACTS (default: a new temp folder), printed at the end.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
PORT="${PNN_BROWSER_PORT:-8765}"
ARTIFACTS="${PNN_ARTIFACTS:-$(mktemp -d)}"

if ! command -v chromium >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
[[ -f "$HERE/dist/pocketnn_wasm.wasm" ]] || "$HERE/build.sh"
[[ -f "$HERE/demo/assets/manifest.json" ]] || "$PYTHON" "$HERE/demo/make_assets.py"
[[ -d "$HERE/demo/node_modules/playwright-core" ]] || (cd "$HERE/demo" && npm install --no-audit --no-fund --silent)

"$PYTHON" -m http.server "$PORT" --bind 127.0.0.1 --directory "$HERE" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$PORT/demo/index.html" >/dev/null 2>&1 && break
  sleep 0.1
done
mkdir -p "$ARTIFACTS"
node "$HERE/demo/browser_check.mjs" "http://127.0.0.1:$PORT/demo/" "$HERE/demo/assets/manifest.json" \
  "$ARTIFACTS/demo.png"
