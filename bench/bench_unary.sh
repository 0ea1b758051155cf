#!/usr/bin/env bash
# Builds bench/bench_unary.c with the f32-unary kernels (-O3, the extension's flags) and
# runs it: ns/element per unary kind, scalar vs SIMD. Usage: bench/bench_unary.sh
# (prefix bench/avx2_host/run.sh to see an AVX2-only CPU).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"${CC:-gcc}" -std=c11 -O3 -Wall -Wextra -Werror -fno-math-errno -I"$root/kernels_c/include" \
  "$root/bench/bench_unary.c" "$root"/kernels_c/f32-unary/*.c "$root/kernels_c/cpu.c" -lm -o "$out/bench_unary"
"$out/bench_unary"
