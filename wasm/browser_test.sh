#!/usr/bin/env bash
# The demo page in headless Chromium, driven by Playwright in real time: serves wasm/
# over HTTP twice, plainly and with COOP/COEP headers (demo/serve.py --isolated), opens
# /demo/ on each and checks the photo's top-5 against onnxruntime's and a positive
# latency, with the single-threaded build on the plain page and the pthreads build (2
# threads) on the crossOriginIsolated one (demo/browser_check.mjs). Installs Debian's
# chromium and playwright-core when missing; builds the runtime and the demo assets when
# missing. The screenshots (demo.png, demo_threads.png) go to $PNN_ARTIFACTS (default: a
# new temp folder), printed at the end.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
PORT="${PNN_BROWSER_PORT:-8765}"
ISOLATED_PORT=$((PORT + 1))
ARTIFACTS="${PNN_ARTIFACTS:-$(mktemp -d)}"

if ! command -v chromium >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
[[ -f "$HERE/dist/pocketnn_wasm.wasm" && -f "$HERE/dist/pocketnn_wasm_threads.wasm" ]] || "$HERE/build.sh"
[[ -f "$HERE/demo/assets/manifest.json" ]] || "$PYTHON" "$HERE/demo/make_assets.py"
[[ -d "$HERE/demo/node_modules/playwright-core" ]] || (cd "$HERE/demo" && npm install --no-audit --no-fund --silent)

"$PYTHON" "$HERE/demo/serve.py" --directory "$HERE" "$PORT" >/dev/null 2>&1 &
server=$!
"$PYTHON" "$HERE/demo/serve.py" --directory "$HERE" --isolated "$ISOLATED_PORT" >/dev/null 2>&1 &
isolated_server=$!
trap 'kill "$server" "$isolated_server" 2>/dev/null || true' EXIT
for port in "$PORT" "$ISOLATED_PORT"; do
  for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$port/demo/index.html" >/dev/null 2>&1 && break
    sleep 0.1
  done
done
mkdir -p "$ARTIFACTS"
# threads=2: the pthreads build with 2 threads even where the runner has one core.
node "$HERE/demo/browser_check.mjs" "$HERE/demo/assets/manifest.json" "$ARTIFACTS" \
  "http://127.0.0.1:$PORT/demo/" "http://127.0.0.1:$ISOLATED_PORT/demo/?threads=2"
