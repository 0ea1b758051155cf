#!/usr/bin/env bash
# The C tests (tests/c/, CMake + ctest) built with clang under ASan+UBSan
# (-DPNN_SANITIZE=ON: -fsanitize=address,undefined -fno-sanitize-recover=all). clang's
# UBSan checks pointer arithmetic that gcc's build folds away (p + a + b with a
# wrapped a), so the same tests run under both compilers in .ci/run. Runs as root on a
# fresh Debian 12 with CI=true and no stdin; installs clang, its sanitizer runtimes,
# cmake and make when missing. Exits non-zero on any failure; the last line is
# "c tests (clang): N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."

source .ci/require.sh
require clang:clang dpkg:libclang-rt-14-dev cmake:cmake make:make

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
build="$work/build"

echo "== C tests: build with $(clang --version | head -n 1), ASan+UBSan"
start=$SECONDS
CC=clang cmake -S . -B "$build" -DPNN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug < /dev/null > "$work/configure.log" \
  || { cat "$work/configure.log"; echo "c tests (clang): 0 passed, 1 failed (configure)"; exit 1; }
cmake --build "$build" -j2 < /dev/null > "$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log"; echo "c tests (clang): 0 passed, 1 failed (build)"; exit 1; }
echo "built in $((SECONDS - start)) s"

echo "== C tests: ctest"
set +e
UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir "$build" --output-on-failure < /dev/null | tee "$work/ctest.log"
set -e
total=$(sed -n 's/.*tests failed out of \([0-9]\+\).*/\1/p' "$work/ctest.log")
failed=$(sed -n 's/.* \([0-9]\+\) tests failed out of.*/\1/p' "$work/ctest.log")
if [ -z "$total" ] || [ "$total" -eq 0 ]; then
  echo "c tests (clang): 0 passed, 1 failed (ctest found no tests)"
  exit 1
fi
echo "c tests (clang): $((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
