#!/usr/bin/env bash
# The wasm32 + SIMD128 target's tests (called by .ci/run; works as root on a fresh
# Debian 12 with no stdin):
#   1. wasm/build.sh (installs emscripten when emcc is missing): the single-threaded
#      and the pthreads build
#   2. the kernel tests (tests/c/test_kernels_f32_arch.c, test_kernels_f32.c (the
#      packed-panel GEMM and Winograd), test_kernels_spmm.c,
#      test_kernels_s8_gemm.c, test_kernels_s8_nn.c, test_kernels_s8_spmm.c,
#      test_kernels_s8_winograd.c (its scalar reference: wasm32 keeps the GEMM),
#      test_kernels_unary.c, test_kernels_softmax.c, test_kernels_transpose.c and
#      test_kernels_b1.c: SIMD128
#      variants vs the scalar
#      references; test_kernels_nan.c: NaN and infinities through the SIMD128
#      epilogues) compiled with emcc, under ASan+UBSan and at -O3, run in node
#   3. fixtures from the installed `pocketnn` package (models, inputs, NATIVE outputs)
#   4. node --test wasm/test/: the wasm build must match the native outputs
#      (node_test.mjs); mutated fixtures and seeds of tests/fuzz/make_corpus.py fail
#      only with a PocketnnError, never a trap (mutation_test.mjs); createPocketnnWorker
#      in a worker thread (worker_test.mjs); the package's version and exports
#      (package_test.mjs); the pthreads build at 1, 2 and 4 threads matches the
#      single-threaded build, its pool budget and build choice (threads_test.mjs);
#      under a timeout, so a hang fails
#   5. the npm package (test_package.sh): npm pack, installed into a scratch project,
#      type-checked with tsc, bundled with esbuild, the node bundle run on a fixture
#      with both builds
#   6. the demo page in headless Chromium driven by Playwright in real time
#      (browser_test.sh): the photo's top-5 equal onnxruntime's, a positive latency,
#      on the plain page (single-threaded build) and on the page served with COOP/COEP
#      (crossOriginIsolated, the pthreads build on 2 threads)
# Exits non-zero on the first failure.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d /tmp/pocketnn-wasm-test.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

echo "== wasm: build"
start=$(date +%s)
"$HERE/build.sh"
export NODE_PATH=/usr/share/nodejs
if ! command -v node >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
fi
echo "node $(node --version)"

echo "== wasm: kernel tests (SIMD128 vs scalar) under node"
KERNEL_SOURCES=()
for f in "$ROOT"/kernels_c/*.c "$ROOT"/kernels_c/*/*.c; do KERNEL_SOURCES+=("$f"); done
COMMON=(-std=c11 -msimd128 -Wall -Wextra -Werror -fno-math-errno -I"$ROOT/kernels_c/include"
        -sSINGLE_FILE=1 -sEXIT_RUNTIME=1 -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=64MB)
# Each portable kernel test (selected variant vs scalar reference), sanitized and at -O3.
for test in test_kernels_f32_arch test_kernels_f32 test_kernels_spmm test_kernels_s8_gemm test_kernels_s8_nn \
            test_kernels_s8_spmm test_kernels_nan test_kernels_unary test_kernels_softmax \
            test_kernels_transpose test_kernels_b1 test_kernels_s8_winograd; do
  emcc "${COMMON[@]}" -O2 -fsanitize=address,undefined "$ROOT/tests/c/$test.c" \
    "${KERNEL_SOURCES[@]}" -o "$WORK/${test}_sanitized.js"
  node "$WORK/${test}_sanitized.js"
  emcc "${COMMON[@]}" -O3 "$ROOT/tests/c/$test.c" "${KERNEL_SOURCES[@]}" -o "$WORK/${test}_o3.js"
  node "$WORK/${test}_o3.js"
done

echo "== wasm: fixtures from the native runtime"
"$PYTHON" "$HERE/test/make_fixtures.py" "$WORK/fixtures"

echo "== wasm: seeds of tests/fuzz/make_corpus.py for the mutation test"
"$PYTHON" "$ROOT/tests/fuzz/make_corpus.py" "$WORK/fuzz_seeds"

echo "== wasm: node --test"
PNN_FIXTURES="$WORK/fixtures" PNN_MUTATION_MODELS="$WORK/fuzz_seeds" \
  timeout "${PNN_NODE_TEST_TIMEOUT:-600}" node --test --test-reporter=spec "$HERE/test/"

echo "== wasm: the npm package (npm pack, install, tsc, esbuild)"
"$HERE/test_package.sh" "$WORK/fixtures"
echo "== wasm: the demo page in Chromium (Playwright, real time)"
"$HERE/browser_test.sh"
echo "== wasm: all passed in $(( $(date +%s) - start )) s"
