#!/usr/bin/env bash
# aarch64 + NEON: cross-builds runtime/ + kernels_c/ with cmake/aarch64-linux-gnu.cmake,
# runs every C test under qemu-aarch64 (ctest; its default CPU has dotprod), the f32
# and s8 GEMM kernel tests once more on a core without dotprod (Cortex-A53), then the
# whole-model check: models converted and run by the x86 native runtime, run again by
# pnn_run under qemu, outputs compared (relative max error <= 1e-4). Runs as root on a
# fresh Debian 12 with CI=true and no stdin; installs the cross toolchain and qemu when
# missing. Exits non-zero on any failure; the last line is "aarch64: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
sysroot=/usr/aarch64-linux-gnu

source .ci/require.sh
require aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu aarch64-linux-gnu-g++:g++-aarch64-linux-gnu \
  qemu-aarch64:qemu-user cmake:cmake make:make

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
build="$work/build"
passed=0
failed=0
record() { # record <status> <what>
  if [ "$1" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $2"; fi
}

echo "== cross build (aarch64, $(aarch64-linux-gnu-gcc -dumpversion))"
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE="$repo/cmake/aarch64-linux-gnu.cmake" < /dev/null > "$work/configure.log" \
  || { cat "$work/configure.log"; echo "aarch64: 0 passed, 1 failed (configure)"; exit 1; }
cmake --build "$build" -j2 < /dev/null > "$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log"; echo "aarch64: 0 passed, 1 failed (build)"; exit 1; }

echo "== C tests under qemu-aarch64 (ctest)"
set +e
ctest --test-dir "$build" --output-on-failure < /dev/null | tee "$work/ctest.log"
set -e
total=$(sed -n 's/.*tests failed out of \([0-9]\+\).*/\1/p' "$work/ctest.log")
bad=$(sed -n 's/.* \([0-9]\+\) tests failed out of.*/\1/p' "$work/ctest.log")
if [ -z "$total" ] || [ "$total" -eq 0 ]; then
  record 1 "ctest found no tests"
else
  passed=$((passed + total - bad))
  failed=$((failed + bad))
fi

echo "== kernel tests on a core without dotprod (qemu -cpu cortex-a53)"
for test in test_kernels_f32_arch test_kernels_s8_gemm; do
  set +e
  qemu-aarch64 -cpu cortex-a53 -L "$sysroot" "$build/$test" < /dev/null
  record $? "$test on cortex-a53"
  set -e
done

echo "== whole models: x86 native runtime vs pnn_run under qemu-aarch64"
fixture="$work/fixture"
python3 tests/cross/make_model_fixture.py "$fixture" < /dev/null
# One line per model: name, model file, inputs (comma-separated), reference outputs.
python3 -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    print(e["name"], e["model"], ",".join(e["inputs"]), ",".join(e["refs"]))
' "$fixture/manifest.json" > "$work/models.txt"
while read -r name model inputs refs; do
  IFS=, read -r -a in_files <<< "$inputs"
  IFS=, read -r -a ref_files <<< "$refs"
  in_paths=()
  for f in "${in_files[@]}"; do in_paths+=("$fixture/$f"); done
  start=$SECONDS
  set +e
  qemu-aarch64 -L "$sysroot" "$build/pnn_run" "$fixture/$model" "${in_paths[@]}" -o "$fixture/$name.aarch64." < /dev/null
  status=$?
  set -e
  echo "$name: pnn_run under qemu took $((SECONDS - start)) s"
  if [ "$status" -ne 0 ]; then
    record 1 "$name: pnn_run exited with $status"
    continue
  fi
  model_status=0
  for i in "${!ref_files[@]}"; do
    python3 tests/cross/compare_outputs.py "$fixture/${ref_files[$i]}" "$fixture/$name.aarch64.$i.bin" \
      < /dev/null || model_status=1
  done
  record $model_status "$name: outputs differ from the x86 run"
done < "$work/models.txt"

echo "aarch64: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
