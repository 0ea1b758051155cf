#!/usr/bin/env bash
# Builds the WebAssembly (SIMD128) runtime into wasm/dist/, twice:
#   pocketnn_wasm.mjs (ES module factory) + pocketnn_wasm.wasm: single-threaded
#   pocketnn_wasm_threads.mjs + .wasm + .worker.js: pthreads (SharedArrayBuffer), the
#     runtime's thread pool on emscripten's pthread workers
# from the same C sources build_native.py compiles, plus wasm/src/*.c.
# The module is built for web/worker only: emcc 3.1.6's node support uses
# require/__dirname, which do not exist in an ES module. The package's entries always
# hand the factory the .wasm bytes (pocketnn.node.mjs reads them with node:fs), so it
# runs in node too.
# Installs Debian's emscripten when emcc is missing (needs root).
#   wasm/build.sh            # -O3 builds
#   PNN_WASM_VARIANTS=single wasm/build.sh   # only one of: single threads
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

CFLAGS=(-std=c11 -msimd128 -Wall -Wextra -Werror -fno-math-errno
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

EXPORTS='["_malloc","_free","_pnn_model_load","_pnn_model_load_with_options","_pnn_model_free","_pnn_model_num_inputs",
"_pnn_model_num_outputs","_pnn_model_num_nodes","_pnn_model_input_info","_pnn_model_output_info",
"_pnn_model_node_info","_pnn_model_arena_bytes","_pnn_model_metadata","_pnn_session_create",
"_pnn_session_create_with_options","_pnn_session_free","_pnn_session_input","_pnn_session_output",
"_pnn_session_run","_pnn_status_string","_pnn_wasm_layout","_pnn_runtime_version"]'
EXPORTS="${EXPORTS//$'\n'/}"

# build_module OUTPUT_NAME OBJECT_DIR: compiles every source (one object per source,
# path with / -> __, JOBS at a time) with CFLAGS + VARIANT_CFLAGS and links
# dist/OUTPUT_NAME.mjs + .wasm with LDFLAGS + VARIANT_LDFLAGS.
build_module() {
  local name="$1" obj="$2"
  mkdir -p "$obj"
  export ROOT obj
  printf '%s\n' "${SOURCES[@]}" | xargs -P "$JOBS" -I{} bash -c '
    src="$1"; shift
    emcc "$@" -c "$ROOT/$src" -o "$obj/${src//\//__}.o"
  ' _ {} "${CFLAGS[@]}" "${VARIANT_CFLAGS[@]}"
  local objects=() src
  for src in "${SOURCES[@]}"; do objects+=("$obj/${src//\//__}.o"); done
  emcc "${objects[@]}" "${LDFLAGS[@]}" "${VARIANT_LDFLAGS[@]}" -msimd128 \
    -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createPocketnnWasm \
    -sENVIRONMENT=web,worker \
    -sALLOW_MEMORY_GROWTH=1 \
    -sFILESYSTEM=0 \
    -sEXPORTED_FUNCTIONS="$EXPORTS" \
    -sEXPORTED_RUNTIME_METHODS='["UTF8ToString"]' \
    -o "$DIST/$name.mjs"
  echo "wasm build: $DIST/$name.mjs + .wasm ($(stat -c %s "$DIST/$name.wasm") bytes)"
}

VARIANTS="${PNN_WASM_VARIANTS:-single threads}"
if [[ " $VARIANTS " == *" single "* ]]; then
  VARIANT_CFLAGS=(-DPNN_NO_THREADS)
  VARIANT_LDFLAGS=(-sMAXIMUM_MEMORY=4GB)
  build_module pocketnn_wasm "$OBJ"
fi
if [[ " $VARIANTS " == *" threads "* ]]; then
  # Shared memory must declare its maximum up front; 2 GB keeps the reservation within
  # what 32-bit and mobile browsers grant. The pool of pthread workers is sized by the
  # JavaScript entry (Module.pthreadPoolSize: the threads asked for, minus the caller)
  # and loaded before the factory resolves, so the runtime's pthread_create never waits
  # for a worker to start while the caller blocks in pnn_parallel_for.
  VARIANT_CFLAGS=(-pthread)
  VARIANT_LDFLAGS=(-pthread -Wno-pthreads-mem-growth -sMAXIMUM_MEMORY=2GB "-sPTHREAD_POOL_SIZE=Module['pthreadPoolSize']"
                   --pre-js "$HERE/src/pthread_worker_class.js")
  build_module pocketnn_wasm_threads "$OBJ-threads"
fi
echo "wasm builds ($VARIANTS) in $(( $(date +%s) - start )) s"

# The demo page's model and photo (demo/make_assets.py), when the converter and
# scikit-image are installed (`pip install ".[dev]"`); the page says so when they are missing.
if "${PYTHON:-python3}" -c 'import pocketnn.conversion, skimage' 2>/dev/null; then
  "${PYTHON:-python3}" "$HERE/demo/make_assets.py"
  echo "demo assets: $HERE/demo/assets"
else
  echo "demo assets not made: needs the pocketnn converter and scikit-image (pip install \".[dev]\")"
fi
