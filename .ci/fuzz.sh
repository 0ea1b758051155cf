#!/usr/bin/env bash
# libFuzzer over the load-and-run path (tests/fuzz/fuzz_load_run.c) with clang's
# ASan+UBSan, two variants: fuzz_load_run (bytes as given) and fuzz_load_run_crc
# (header sizes and CRC-32 fixed up first, so mutations reach the validators). Seeds:
# tests/fuzz/make_corpus.py run with the installed `pocketnn` package; the inputs under
# tests/fuzz/regressions/ are replayed through both variants first. Any crash, leak,
# sanitizer report, timeout or out-of-memory fails the run; the input is kept under
# $FUZZ_ARTIFACTS and, when small, printed in base64.
#   FUZZ_SECONDS (default 60)  time per variant
#   FUZZ_RUNS    (default -1)  executions per variant (-1: until FUZZ_SECONDS)
#   FUZZ_SEED    (default: random) libFuzzer's -seed; with FUZZ_RUNS set, the run is
#                reproducible: the same code gives the same executions (.ci/run does this)
#   FUZZ_CORPUS  (default: a temp folder) where the grown corpora live between runs
#   FUZZ_ARTIFACTS (default /tmp/pocketnn-fuzz-artifacts) where failing inputs go (one
#                folder per run)
#   FUZZ_BUILD   (default: a temp folder) the CMake build folder, reusable
#   PYTHON       (default python3) the interpreter with pocketnn installed
#   PNN_ISA      caps the kernels the harness loads (scalar, avx2, avx512)
# Runs as root on a fresh Debian 12 with CI=true and no stdin; installs clang, its
# libFuzzer runtime, cmake and make when missing. Exits non-zero on any failure; the
# last line is "fuzz: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
seconds="${FUZZ_SECONDS:-60}"
runs="${FUZZ_RUNS:--1}"
seed_option=()
[ -z "${FUZZ_SEED:-}" ] || seed_option=(-seed="$FUZZ_SEED")
artifacts="${FUZZ_ARTIFACTS:-/tmp/pocketnn-fuzz-artifacts}/$(date -u +%Y%m%d-%H%M%S)-$$"
python="${PYTHON:-python3}"

source .ci/require.sh
require clang:clang dpkg:libclang-rt-14-dev cmake:cmake make:make

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
build="${FUZZ_BUILD:-$work/build}"
corpus_root="${FUZZ_CORPUS:-$work/corpus}"
mkdir -p "$artifacts" "$corpus_root"
passed=0
failed=0
record() { # record <status> <what>
  if [ "$1" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $2"; fi
}
# Shows what libFuzzer kept of a failing run: the report and the input.
show_failure() { # show_failure <log> <artifact prefix>
  grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse)' "$1" | tail -n 60
  for file in "$2"*; do
    [ -f "$file" ] || continue
    echo "input kept: $file ($(stat -c %s "$file") bytes)"
    if [ "$(stat -c %s "$file")" -le 4096 ]; then echo "base64:"; base64 -w 100 "$file"; fi
  done
}

echo "== fuzz: build ($(clang --version | head -n 1))"
start=$SECONDS
CC=clang cmake -S . -B "$build" -DPNN_FUZZ=ON < /dev/null > "$work/configure.log" \
  || { cat "$work/configure.log"; echo "fuzz: 0 passed, 1 failed (configure)"; exit 1; }
cmake --build "$build" -j2 --target fuzz_load_run fuzz_load_run_crc < /dev/null > "$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log"; echo "fuzz: 0 passed, 1 failed (build)"; exit 1; }
echo "built in $((SECONDS - start)) s"

echo "== fuzz: seed corpus"
"$python" tests/fuzz/make_corpus.py "$work/seeds" < /dev/null

# Every seed and regression input once per kernel set the host can run (an ISA it
# cannot run is refused with a message, which passes): a finding on a valid model
# shows up here deterministically, whatever the fuzzing finds in its time.
mapfile -t replay < <(find "$work/seeds" "$repo/tests/fuzz/regressions" -type f 2> /dev/null | sort)
for isa in scalar avx2 avx512 neon ""; do
  for variant in fuzz_load_run fuzz_load_run_crc; do
    prefix="$artifacts/$variant-replay-${isa:-default}-"
    set +e
    PNN_ISA="$isa" "$build/$variant" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$prefix" "${replay[@]}" \
      < /dev/null > "$work/replay.log" 2>&1
    status=$?
    set -e
    [ "$status" -eq 0 ] || show_failure "$work/replay.log" "$prefix"
    record "$status" "$variant on the seeds and regressions with PNN_ISA=${isa:-(unset)}"
  done
done
echo "replayed ${#replay[@]} inputs through both variants with PNN_ISA=scalar, avx2, avx512, neon and unset"

for variant in fuzz_load_run fuzz_load_run_crc; do
  prefix="$artifacts/$variant-"
  echo "== fuzz: $variant for ${seconds} s (runs: $runs, seed: ${FUZZ_SEED:-random})"
  corpus="$corpus_root/$variant"
  mkdir -p "$corpus"
  set +e
  "$build/$variant" "$corpus" "$work/seeds" "${seed_option[@]}" -max_total_time="$seconds" -runs="$runs" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$prefix" < /dev/null > "$work/$variant.log" 2>&1
  status=$?
  set -e
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$variant.log")
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$variant.log")
  coverage=$(grep -E '^#[0-9]+' "$work/$variant.log" | tail -n 1 | grep -o -E 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[^ ]+' || true)
  echo "$variant: ${executions:-?} executions (${per_second:-?}/s), ${coverage:-no coverage line}"
  [ "$status" -eq 0 ] || show_failure "$work/$variant.log" "$prefix"
  record "$status" "$variant: libFuzzer exited with $status"
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
