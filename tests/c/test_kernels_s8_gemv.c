/* The few-rows u8 x s8 -> int32 GEMV (kernels_c/s8-gemv, the quantized LSTM):
 *   1. the scalar reference equals a naive int64 loop on awkward sizes (N and K of 1,
 *      panel and block tails, odd K past every quad and pair, 1 to 5 rows of x with
 *      strides wider than K and N), weights over all of s8 (-128 and 127 included) and x
 *      over all of u8, worst cases for saturating sums;
 *   2. every SIMD variant this CPU can run equals the reference exactly and writes
 *      nothing past N in any row;
 *   3. pnn_s8_gemv_select picks the best usable variant.
 * A variant this CPU cannot run is reported SKIPPED (variant_gate.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"
#include "test_support.h"
#include "variant_gate.h"

typedef struct variant {
  const pnn_s8_gemv_kernel *kernel;
  int usable;
} variant;

enum { GUARD = 3, MARK = -777 };

/* y [rows, N + GUARD] prefilled with MARK, then `kernel` run on W and x [rows, K + 1]. */
static int32_t *run_kernel(const pnn_s8_gemv_kernel *kernel, size_t N, size_t K, size_t rows, const int8_t *W,
                           const uint8_t *x) {
  void *packed = xmalloc(kernel->pack_size(N, K));
  int32_t *y = xmalloc(rows * (N + GUARD) * sizeof(int32_t));
  for (size_t i = 0; i < rows * (N + GUARD); ++i) y[i] = MARK;
  kernel->pack(N, K, W, packed);
  kernel->run(N, K, packed, rows, x, K + 1, y, N + GUARD);
  free(packed);
  return y;
}

static size_t check_case(rng *r, const variant *variants, size_t count, size_t N, size_t K, size_t rows, int extreme,
                         size_t *cases) {
  const size_t ldx = K + 1, ldy = N + GUARD;
  int8_t *W = xmalloc(N * K);
  uint8_t *x = xmalloc(rows * ldx);
  for (size_t i = 0; i < N * K; ++i) {
    W[i] = extreme ? (int8_t)(rng_below(r, 2) ? 127 : -128) : (int8_t)rng_range(r, -128, 127);
  }
  for (size_t i = 0; i < rows * ldx; ++i) x[i] = extreme ? 255 : (uint8_t)rng_below(r, 256);
  size_t failures = 0;
  int32_t *ref = run_kernel(&pnn_s8_gemv_scalar, N, K, rows, W, x);
  for (size_t m = 0; m < rows; ++m) {
    for (size_t n = 0; n < ldy; ++n) {
      int64_t acc = 0;
      for (size_t k = 0; k < K && n < N; ++k) acc += (int64_t)W[n * K + k] * x[m * ldx + k];
      const int32_t want = n < N ? (int32_t)acc : MARK;
      if (ref[m * ldy + n] != want && failures++ < 3) {
        fprintf(stderr, "scalar N=%zu K=%zu: y[%zu][%zu] = %d, expected %d\n", N, K, m, n, ref[m * ldy + n], want);
      }
    }
  }
  ++*cases;
  for (size_t v = 0; v < count; ++v) {
    const pnn_s8_gemv_kernel *kernel = variants[v].kernel;
    if (!variants[v].usable || kernel == &pnn_s8_gemv_scalar) continue;
    int32_t *got = run_kernel(kernel, N, K, rows, W, x);
    for (size_t i = 0; i < rows * ldy; ++i) {
      if (got[i] != ref[i] && failures++ < 3) {
        fprintf(stderr, "%s N=%zu K=%zu rows=%zu: y[%zu][%zu] = %d, expected %d\n", kernel->name, N, K, rows,
                i / ldy, i % ldy, got[i], ref[i]);
      }
    }
    free(got);
    ++*cases;
  }
  free(ref);
  free(W);
  free(x);
  return failures;
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  variant variants[3];
  size_t count = 0;
#if defined(__x86_64__) || defined(_M_X64)
  variants[count++] = (variant){&pnn_s8_gemv_avx512vnni, variant_usable("s8gemv", "avx512vnni", cpu.avx512vnni)};
  variants[count++] = (variant){&pnn_s8_gemv_avx2, variant_usable("s8gemv", "avx2", cpu.avx2_fma)};
#endif
  variants[count++] = (variant){&pnn_s8_gemv_scalar, 1};
  /* N: 1, panel tails of 8 and 16 rows, block tails of 32 and 64, an LSTM's 4 x 13. */
  static const size_t Ns[] = {1, 3, 7, 8, 9, 16, 17, 31, 33, 52, 63, 64, 65, 100, 129};
  static const size_t Ks[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 31, 64, 67, 130};
  rng r = {20261207u};
  size_t cases = 0, failures = 0;
  for (size_t a = 0; a < sizeof(Ns) / sizeof(Ns[0]); ++a) {
    for (size_t b = 0; b < sizeof(Ks) / sizeof(Ks[0]); ++b) {
      failures += check_case(&r, variants, count, Ns[a], Ks[b], 1 + (a + b) % 5, 0, &cases);
      failures += check_case(&r, variants, count, Ns[a], Ks[b], 1, 1, &cases);
    }
  }
  failures += check_case(&r, variants, count, 2048, 512, 1, 0, &cases); /* ddddocr's LSTM step */
  const pnn_s8_gemv_kernel *best = NULL;
  for (size_t v = 0; v < count && !best; ++v)
    if (variants[v].usable) best = variants[v].kernel;
  const pnn_s8_gemv_kernel *selected = pnn_s8_gemv_select(&cpu);
  printf("s8 gemv: %zu cases, %zu failed; select: %s\n", cases, failures, selected->name);
  if (selected != best) {
    fprintf(stderr, "s8 gemv select picked %s, expected %s\n", selected->name, best->name);
    ++failures;
  }
  if (failures) printf("FAILED: %zu\n", failures);
  return failures ? 1 : 0;
}
