#!/usr/bin/env bash
# The C tests (tests/c/, CMake + ctest) built with clang under the sanitizers given as the
# argument, a -fsanitize= list:
#   bash .ci/c_tests_clang.sh address,undefined   # ASan+UBSan
#   bash .ci/c_tests_clang.sh thread              # ThreadSanitizer
# clang's UBSan checks pointer arithmetic that gcc's build folds away (p + a + b with a
# wrapped a), so .ci/run runs the ASan+UBSan tests under both compilers. Under TSan,
# test_session_threads runs sessions over one model from many threads, one session from
# two threads and two callers on one thread pool; the others run single sessions with
# pools of 1 to 3 threads. Every sanitizer halts on its first report with a non-zero
# exit (-fno-sanitize-recover=all, TSan's halt_on_error), so ctest counts a report as a
# failed test. Runs as root on a fresh Debian 12 with CI=true and no stdin; installs
# clang, its sanitizer runtimes, cmake and make when missing. Exits non-zero on any
# failure; the last line is "c tests (clang, SANITIZERS): N passed, M failed".
# PNN_JOBS sets the build parallelism (2).
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizers="${1:-}"
if ! [[ "$sanitizers" =~ ^[a-z]+(,[a-z]+)*$ ]]; then
  echo "usage: $0 SANITIZERS (a -fsanitize= list: address,undefined or thread)" >&2
  exit 2
fi
label="c tests (clang, $sanitizers)"

source .ci/require.sh
# libclang-rt-14-dev holds the sanitizer runtimes.
require clang:clang dpkg:libclang-rt-14-dev cmake:cmake make:make

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
build="$work/build"
flags="-fsanitize=$sanitizers -fno-sanitize-recover=all -fno-omit-frame-pointer -g"
# TSan slows unoptimized code the most; -O1 keeps its run short.
[[ ",$sanitizers," == *,thread,* ]] && flags="$flags -O1"

echo "== $label: build with $(clang --version | head -n 1)"
start=$SECONDS
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$sanitizers" < /dev/null > "$work/configure.log" \
  || { cat "$work/configure.log"; echo "$label: 0 passed, 1 failed (configure)"; exit 1; }
cmake --build "$build" -j"${PNN_JOBS:-2}" < /dev/null > "$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log"; echo "$label: 0 passed, 1 failed (build)"; exit 1; }
echo "built in $((SECONDS - start)) s"

echo "== $label: ctest"
set +e
UBSAN_OPTIONS=print_stacktrace=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  ctest --test-dir "$build" --output-on-failure < /dev/null | tee "$work/ctest.log"
set -e
total=$(sed -n 's/.*tests failed out of \([0-9]\+\).*/\1/p' "$work/ctest.log")
failed=$(sed -n 's/.* \([0-9]\+\) tests failed out of.*/\1/p' "$work/ctest.log")
if [ -z "$total" ] || [ "$total" -eq 0 ]; then
  echo "$label: 0 passed, 1 failed (ctest found no tests)"
  exit 1
fi
echo "$label: $((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
