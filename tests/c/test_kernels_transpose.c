/* The 2-D f32 transpose variants this CPU runs against the scalar reference: every
 * shape from 1 x 1 to 37 x 37 (full tiles, ragged edges, thin matrices), random leading
 * dimensions, and a block larger than one super-tile; the gaps of y past `rows` must
 * stay untouched. A transpose only moves values: results must be identical.
 * Plain C: the same file runs on x86-64, on aarch64 under qemu and on wasm32. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"

#include "variant_gate.h"

#define SENTINEL (-7.0f)

typedef struct variant {
  const char *name;
  pnn_f32_transpose2d_fn fn;
  size_t cases, failures;
} variant;

static uint32_t next(uint64_t *state) {
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(*state >> 33);
}

static void check(variant *v, size_t rows, size_t cols, size_t ldx, size_t ldy, uint64_t *state) {
  float *x = malloc(rows * ldx * sizeof(float));
  float *want = malloc(cols * ldy * sizeof(float)), *got = malloc(cols * ldy * sizeof(float));
  if (!x || !want || !got) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (size_t i = 0; i < rows * ldx; ++i) x[i] = (float)(int32_t)(next(state) % 2001) - 1000.0f;
  for (size_t i = 0; i < cols * ldy; ++i) want[i] = got[i] = SENTINEL;
  pnn_f32_transpose2d_scalar(rows, cols, x, ldx, want, ldy);
  v->fn(rows, cols, x, ldx, got, ldy);
  v->cases++;
  if (memcmp(want, got, cols * ldy * sizeof(float)) != 0) {
    if (v->failures++ < 5) fprintf(stderr, "transpose %s %zux%zu ldx %zu ldy %zu differs\n", v->name, rows, cols, ldx, ldy);
  }
  free(x);
  free(want);
  free(got);
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  variant variants[4];
  size_t count = 0;
  const char *name = NULL;
  pnn_f32_transpose2d_fn best = pnn_f32_transpose2d_select(&cpu, &name);
  if (strcmp(name, "scalar") != 0) variants[count++] = (variant){name, best, 0, 0};
#if defined(__x86_64__) || defined(_M_X64)
  if (!variant_usable("f32-transpose", "avx2", cpu.avx2_fma)) count = 0;
#endif
  uint64_t state = 0x5eedu;
  size_t failures = 0, cases = 0;
  for (size_t v = 0; v < count; ++v) {
    for (size_t rows = 1; rows <= 37; ++rows) {
      for (size_t cols = 1; cols <= 37; ++cols) {
        check(&variants[v], rows, cols, cols + next(&state) % 3, rows + next(&state) % 3, &state);
      }
    }
    check(&variants[v], 3, 50176, 50176, 3, &state);    /* NCHW -> NHWC of an RGB image */
    check(&variants[v], 50176, 3, 3, 50176, &state);    /* and back */
    check(&variants[v], 150, 203, 209, 157, &state);    /* over several super-tiles */
    printf("f32-transpose/%s: %zu cases, %zu failures\n", variants[v].name, variants[v].cases, variants[v].failures);
    failures += variants[v].failures;
    cases += variants[v].cases;
  }
  if (count == 0) printf("f32-transpose: only the scalar reference on this CPU\n");
  printf("%zu cases, %zu failures\n", cases, failures);
  return failures != 0;
}
