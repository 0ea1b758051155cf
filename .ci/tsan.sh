#!/usr/bin/env bash
# ThreadSanitizer: builds the runtime, the kernels and every C test in tests/c/ with
# clang -fsanitize=thread (CMake, Debug with -O1) and runs them; any report fails the
# test that printed it (halt_on_error). test_session_threads is the one that runs
# sessions over one model from many threads, one session from two threads and two
# callers on one thread pool; the others run single sessions with pools of 1 to 3
# threads. Installs clang when missing (Debian 12, CI=true, no stdin). Exits non-zero
# on any failure; the last line is "tsan: N passed, M failed". PNN_JOBS sets the build
# parallelism (2).
set -euo pipefail
cd "$(dirname "$0")/.."

source .ci/require.sh
# libclang-rt-14-dev holds the ThreadSanitizer runtime.
require clang:clang dpkg:libclang-rt-14-dev cmake:cmake make:make

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
build="$work/build"
flags="-fsanitize=thread -fno-omit-frame-pointer -g -O1"

echo "== build ($(clang --version | head -n 1))"
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread < /dev/null > "$work/configure.log" \
  || { cat "$work/configure.log"; echo "tsan: 0 passed, 1 failed (configure)"; exit 1; }
cmake --build "$build" -j"${PNN_JOBS:-2}" < /dev/null > "$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log"; echo "tsan: 0 passed, 1 failed (build)"; exit 1; }

echo "== C tests under ThreadSanitizer"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
passed=0
failed=0
for test in "$build"/test_*; do
  [ -x "$test" ] || continue
  name="$(basename "$test")"
  start=$SECONDS
  set +e
  # ctest's WORKING_DIRECTORY: the tests may read files relative to the source tree.
  "$test" < /dev/null > "$work/$name.log" 2>&1
  status=$?
  set -e
  if [ "$status" -eq 0 ] && ! grep -q "WARNING: ThreadSanitizer" "$work/$name.log"; then
    passed=$((passed + 1))
    echo "ok   $name ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    echo "FAIL $name (exit $status, $((SECONDS - start)) s)"
    tail -n 60 "$work/$name.log"
  fi
done

echo "tsan: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
