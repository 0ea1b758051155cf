#!/usr/bin/env bash
# Builds trace_run: the runtime and kernels with -DPNN_POOL_TRACE (bench only; the
# library and the Python extension never define it) into ${PNN_TRACE_BUILD:-/tmp/pnn-pool-trace}.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${PNN_TRACE_BUILD:-/tmp/pnn-pool-trace}"
# Objects are reused while their source is older; a changed header rebuilds them all.
if [ -f "$OUT/trace_run" ] && [ -n "$(find "$ROOT/runtime" "$ROOT/kernels_c" -name '*.h' -newer "$OUT/trace_run")" ]; then
  rm -rf "$OUT/obj"
fi
mkdir -p "$OUT/obj"
export ROOT OUT
(cd "$ROOT" && ls runtime/src/*.c runtime/src/ops/*.c kernels_c/*.c kernels_c/*/*.c bench/pool_trace/trace_run.c) |
  xargs -P 2 -I{} sh -c 'src="$1"; obj="$OUT/obj/$(echo "$src" | tr / _).o"
    [ "$obj" -nt "$ROOT/$src" ] && exit 0
    cc -std=c11 -O3 -Wall -Wextra -fno-math-errno -pthread -DPNN_POOL_TRACE \
      -I"$ROOT/runtime/include" -I"$ROOT/runtime/src" -I"$ROOT/kernels_c/include" -c "$ROOT/$src" -o "$obj"' _ {}
cc -pthread -o "$OUT/trace_run" "$OUT"/obj/*.o -lm
echo "$OUT/trace_run"
