/* The few-rows u8 x s8 -> int32 GEMV (kernels_c/s8-gemv, the quantized LSTM):
 *   1. the scalar reference equals a naive int64 loop on awkward sizes (N and K of 1,
 *      panel and block tails, odd K past every quad and pair, 1 to 5 rows of x with
 *      strides wider than K and N) for every kind of weights in `fill`: all of s8, the
 *      extremes 127 / -128 against x = 255 (worst cases for saturating sums) and against
 *      x = 0 (AVX2's complemented weights against |x - 128| = 128: its pairs of -32768
 *      and 32512), [-127, 127] with x over all of u8 or only 0 and 255, and [-127, 127]
 *      with one -128 planted;
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

typedef enum fill { FILL_S8, FILL_EXTREME, FILL_EXTREME_X0, FILL_NO_MIN, FILL_NO_MIN_EDGES, FILL_ONE_MIN, FILL_COUNT } fill;

static void fill_case(rng *r, fill kind, size_t N, size_t K, int8_t *W, size_t nx, uint8_t *x) {
  for (size_t i = 0; i < N * K; ++i) {
    switch (kind) {
      case FILL_S8: W[i] = (int8_t)rng_range(r, -128, 127); break;
      case FILL_EXTREME:
      case FILL_EXTREME_X0: W[i] = (int8_t)(rng_below(r, 2) ? 127 : -128); break;
      case FILL_NO_MIN_EDGES: W[i] = (int8_t)(rng_below(r, 2) ? 127 : -127); break;
      default: W[i] = (int8_t)rng_range(r, -127, 127); break;
    }
  }
  if (kind == FILL_ONE_MIN) W[rng_below(r, N * K)] = -128;
  for (size_t i = 0; i < nx; ++i) {
    switch (kind) {
      case FILL_EXTREME: x[i] = 255; break;
      case FILL_EXTREME_X0: x[i] = 0; break;
      case FILL_NO_MIN_EDGES: x[i] = rng_below(r, 2) ? 255 : 0; break;
      default: x[i] = (uint8_t)rng_below(r, 256); break;
    }
  }
}

static size_t check_case(rng *r, const variant *variants, size_t count, size_t N, size_t K, size_t rows, fill kind,
                         size_t *cases) {
  const size_t ldx = K + 1, ldy = N + GUARD;
  int8_t *W = xmalloc(N * K);
  uint8_t *x = xmalloc(rows * ldx);
  fill_case(r, kind, N, K, W, rows * ldx, x);
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
      for (int kind = FILL_S8; kind < FILL_COUNT; ++kind) {
        const size_t rows = kind == FILL_EXTREME ? 1 : 1 + (a + b + kind) % 5;
        failures += check_case(&r, variants, count, Ns[a], Ks[b], rows, (fill)kind, &cases);
      }
    }
  }
  /* ddddocr's LSTM: a step, and a sequence's input projection */
  failures += check_case(&r, variants, count, 2048, 512, 1, FILL_NO_MIN, &cases);
  failures += check_case(&r, variants, count, 2048, 512, 20, FILL_ONE_MIN, &cases);
  /* AVX2 prepares rows of x on a 32 KiB stack buffer: several passes of rows (K 4001),
   * and rows too long for it, shifted in the loops instead (K 16411) */
  for (int kind = FILL_NO_MIN; kind <= FILL_ONE_MIN; kind += FILL_ONE_MIN - FILL_NO_MIN) {
    failures += check_case(&r, variants, count, 70, 4001, 5, (fill)kind, &cases);
    failures += check_case(&r, variants, count, 9, 16411, 3, (fill)kind, &cases);
  }
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
