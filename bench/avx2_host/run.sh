#!/bin/sh
# Runs a command as on an AVX2-only x86-64 CPU (AVX-512 and AVX-VNNI hidden from CPUID),
# so that onnxruntime, numpy and pocketnn all take their AVX2 paths:
#     bench/avx2_host/run.sh python bench/bench_dense.py
# Needs CPUID faulting (`cpuid_fault` in /proc/cpuinfo). See cpuid_avx2_only.c.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
grep -qw cpuid_fault /proc/cpuinfo || { echo "run.sh: this CPU/kernel has no CPUID faulting" >&2; exit 3; }
lib="${TMPDIR:-/tmp}/pocketnn-cpuid-avx2-only.so"
if [ ! -f "$lib" ] || [ "$here/cpuid_avx2_only.c" -nt "$lib" ]; then
    cc -O2 -shared -fPIC -Wall -Wextra -Werror -o "$lib.tmp.$$" "$here/cpuid_avx2_only.c" -ldl
    mv "$lib.tmp.$$" "$lib"
fi
# ASan/UBSan set their SIGSEGV handler by system call, past the interposed sigaction;
# ASan also wants to be the first preloaded library.
export ASAN_OPTIONS="handle_segv=0:verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="handle_segv=0${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
POCKETNN_AVX2_HOST=1 LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" exec "$@"
