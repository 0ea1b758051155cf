#!/usr/bin/env bash
# Builds the WebAssembly (SIMD128, single-threaded) runtime into wasm/dist/:
#   pocketnn_wasm.mjs (ES module factory) + pocketnn_wasm.wasm
# from the same C sources build_native.py compiles, plus wasm/src/*.c.
# The module is built for web/worker only: emcc 3.1.6's node support uses
# require/__dirname, which do not exist in an ES module. The package's entries always
# hand the factory the .wasm bytes (pocketnn.node.mjs reads them with node:fs), so it
# runs in node too.
# Installs Debian's emscripten when emcc is missing (needs root).
#   wasm/build.sh            # -O3 build
#   PNN_WASM_DEBUG=1 wasm/build.sh   # -O1 -g with assertions and ASan
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
DIST="$HERE/dist"
OBJ="${PNN_WASM_OBJ:-/tmp/pocketnn-wasm-obj}"
JOBS="${PNN_WASM_JOBS:-2}"

if ! command -v emcc >/dev/null 2>&1; then
  echo "emcc not found: installing Debian's emscripten" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq emscripten >/dev/null
fi
# Debian's emcc runs its JS optimizer under the system node, which finds acorn here.
export NODE_PATH=/usr/share/nodejs

start=$(date +%s)
mkdir -p "$DIST" "$OBJ"

CFLAGS=(-std=c11 -msimd128 -DPNN_NO_THREADS -Wall -Wextra -Werror -fno-math-errno
        -I"$ROOT/runtime/include" -I"$ROOT/runtime/src" -I"$ROOT/kernels_c/include")
LDFLAGS=()
if [[ "${PNN_WASM_DEBUG:-0}" == 1 ]]; then
  CFLAGS+=(-O1 -g -fsanitize=address,undefined)
  LDFLAGS+=(-O1 -g -fsanitize=address,undefined -sASSERTIONS=2 -sINITIAL_MEMORY=64MB)
else
  CFLAGS+=(-O3)
  LDFLAGS+=(-O3)
fi

mapfile -t SOURCES < <(cd "$ROOT" && ls runtime/src/*.c runtime/src/ops/*.c kernels_c/*.c kernels_c/*/*.c wasm/src/*.c | sort)

# One object per source (path with / -> __), compiled JOBS at a time.
export ROOT OBJ
printf '%s\n' "${SOURCES[@]}" | xargs -P "$JOBS" -I{} bash -c '
  src="$1"; shift
  emcc "$@" -c "$ROOT/$src" -o "$OBJ/${src//\//__}.o"
' _ {} "${CFLAGS[@]}"

OBJECTS=()
for src in "${SOURCES[@]}"; do OBJECTS+=("$OBJ/${src//\//__}.o"); done

EXPORTS='["_malloc","_free","_pnn_model_load","_pnn_model_load_with_options","_pnn_model_free","_pnn_model_num_inputs",
"_pnn_model_num_outputs","_pnn_model_num_nodes","_pnn_model_input_info","_pnn_model_output_info",
"_pnn_model_node_info","_pnn_model_arena_bytes","_pnn_model_metadata","_pnn_session_create",
"_pnn_session_create_with_options","_pnn_session_free","_pnn_session_input","_pnn_session_output",
"_pnn_session_run","_pnn_status_string","_pnn_wasm_layout","_pnn_runtime_version"]'
EXPORTS="${EXPORTS//$'\n'/}"

emcc "${OBJECTS[@]}" "${LDFLAGS[@]}" -msimd128 \
  -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createPocketnnWasm \
  -sENVIRONMENT=web,worker \
  -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB \
  -sFILESYSTEM=0 \
  -sEXPORTED_FUNCTIONS="$EXPORTS" \
  -sEXPORTED_RUNTIME_METHODS='["UTF8ToString"]' \
  -o "$DIST/pocketnn_wasm.mjs"

echo "wasm build: $DIST/pocketnn_wasm.mjs + .wasm ($(stat -c %s "$DIST/pocketnn_wasm.wasm") bytes) in $(( $(date +%s) - start )) s"

# The demo page's model and photo (demo/make_assets.py), when the converter and
# scikit-image are installed (`pip install ".[dev]"`); the page says so when they are missing.
if "${PYTHON:-python3}" -c 'import pocketnn.conversion, skimage' 2>/dev/null; then
  "${PYTHON:-python3}" "$HERE/demo/make_assets.py"
  echo "demo assets: $HERE/demo/assets"
else
  echo "demo assets not made: needs the pocketnn converter and scikit-image (pip install \".[dev]\")"
fi
