#!/usr/bin/env bash
# Headless Chromium check of the demo page: serves wasm/ over HTTP, opens
# /demo/?autorun (loads a fixture, runs it) and checks the page shows outputs.
# Installs Debian's chromium when missing; builds and makes fixtures when missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
PORT="${PNN_BROWSER_PORT:-8765}"

if ! command -v chromium >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
[[ -f "$HERE/dist/pocketnn_wasm.wasm" ]] || "$HERE/build.sh"
[[ -f "$HERE/test/fixtures/manifest.json" ]] || "$PYTHON" "$HERE/test/make_fixtures.py"

"$PYTHON" -m http.server "$PORT" --bind 127.0.0.1 --directory "$HERE" >/dev/null 2>&1 &
server=$!
profile="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$profile"' EXIT
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$PORT/demo/index.html" >/dev/null 2>&1 && break
  sleep 0.1
done

dom="$(timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --virtual-time-budget=20000 --dump-dom "http://127.0.0.1:$PORT/demo/?autorun" 2>/dev/null)"

if grep -q 'id="timing"' <<<"$dom" && grep -q 'top-5' <<<"$dom"; then
  echo "browser test passed: $(grep -o 'median [0-9.]* ms over [0-9]* runs' <<<"$dom")"
else
  echo "browser test FAILED; the page's status:" >&2
  grep -o '<p id="status"[^<]*</p>' <<<"$dom" >&2 || echo "$dom" | head -50 >&2
  exit 1
fi
