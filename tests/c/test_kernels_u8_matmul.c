/* Tests the u8 x u8 matrix product (pnn_kernels_s8.h, kernels_c/u8-matmul/):
 *   1. the scalar reference against a naive formula written here (int64 sum, then the
 *      rounding rule as a floor division on int64, clamp);
 *   2. every variant compiled for this target and usable on this CPU against the
 *      scalar reference, byte for byte;
 *   3. pnn_u8_matmul_select picks the best usable variant.
 * Cases: M x N x K over awkward sizes (1, every tail of the 6-row and 16/32-column tiles,
 * K odd, K = 0), zero points 0 / 128 / 255 / random, all-255 operands with K =
 * PNN_U8_MATMUL_MAX_K (the largest sum), multipliers from tiny to 2^31 - 1 with shifts
 * 1..62, clamp bounds, leading dimensions wider than the rows. A, B and Y are exactly
 * as large as they need to be (sanitizers see over-reads); the scratch is 64-byte
 * aligned and filled with garbage (a kernel must not rely on zeroed scratch). Y's ldy
 * gaps must keep their sentinel. Exits non-zero on any mismatch. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"
#include "variant_gate.h"

#define Y_SENTINEL 0xA5

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t rng_next(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(rng_state >> 33);
}

static int32_t rng_range(int32_t lo, int32_t hi) { return lo + (int32_t)(rng_next() % (uint32_t)(hi - lo + 1)); }

static void *xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

typedef struct matmul_case {
  size_t M, N, K, lda, ldb, ldy;
  uint8_t a_zero_point, b_zero_point;
  int32_t multiplier, shift;
  pnn_requant rq;
  uint8_t *A, *B;
} matmul_case;

/* round(acc * multiplier / 2^shift) with ties up, as a floor division, then clamp. */
static uint8_t naive(const matmul_case *c, size_t m, size_t n) {
  int64_t acc = 0;
  for (size_t k = 0; k < c->K; ++k) {
    acc += ((int64_t)c->A[m * c->lda + k] - c->a_zero_point) * ((int64_t)c->B[k * c->ldb + n] - c->b_zero_point);
  }
  const int64_t product = acc * c->multiplier, divisor = (int64_t)1 << c->shift;
  int64_t q = product + divisor / 2;
  q = q >= 0 ? q / divisor : -((-q + divisor - 1) / divisor);
  q += c->rq.zero_point;
  return (uint8_t)(q < c->rq.lo ? c->rq.lo : (q > c->rq.hi ? c->rq.hi : q));
}

static uint8_t *run(const pnn_u8_matmul_kernel *kernel, const matmul_case *c) {
  const size_t y_bytes = c->M ? (c->M - 1) * c->ldy + c->N : 0;
  uint8_t *Y = xmalloc(y_bytes);
  memset(Y, Y_SENTINEL, y_bytes);
  const size_t scratch_bytes = kernel->scratch_size(c->M, c->N, c->K);
  void *scratch = aligned_alloc(64, (scratch_bytes + 63) / 64 * 64 + 64);
  if (!scratch) exit(2);
  memset(scratch, 0x5C, scratch_bytes);
  kernel->run(c->M, c->N, c->K, c->A, c->lda, c->a_zero_point, c->B, c->ldb, c->b_zero_point, &c->rq, Y, c->ldy,
              scratch);
  free(scratch);
  return Y;
}

static int check_case(matmul_case *c, const pnn_u8_matmul_kernel *const *variants, size_t n_variants) {
  c->rq.multiplier = &c->multiplier;
  c->rq.shift = &c->shift;
  uint8_t *expected = run(&pnn_u8_matmul_scalar, c);
  int failures = 0;
  for (size_t m = 0; m < c->M && !failures; ++m) {
    const size_t row_end = m + 1 < c->M ? c->ldy : c->N; /* the ldy gap after each row but the last */
    for (size_t n = 0; n < row_end; ++n) {
      const uint8_t want = n < c->N ? naive(c, m, n) : Y_SENTINEL;
      if (expected[m * c->ldy + n] != want) {
        fprintf(stderr, "scalar M=%zu N=%zu K=%zu at (%zu,%zu): %u, expected %u\n", c->M, c->N, c->K, m, n,
                expected[m * c->ldy + n], want);
        ++failures;
        break;
      }
    }
  }
  const size_t y_bytes = c->M ? (c->M - 1) * c->ldy + c->N : 0;
  for (size_t v = 0; v < n_variants; ++v) {
    uint8_t *got = run(variants[v], c);
    for (size_t i = 0; i < y_bytes; ++i) {
      if (got[i] != expected[i]) {
        fprintf(stderr, "%s M=%zu N=%zu K=%zu za=%u zb=%u at byte %zu: %u, scalar %u\n", variants[v]->name, c->M,
                c->N, c->K, c->a_zero_point, c->b_zero_point, i, got[i], expected[i]);
        ++failures;
        break;
      }
    }
    free(got);
  }
  free(expected);
  return failures;
}

static void fill(matmul_case *c, int all_max) {
  const size_t a_bytes = c->M ? (c->M - 1) * c->lda + c->K : 0;
  const size_t b_bytes = c->K ? (c->K - 1) * c->ldb + c->N : 0;
  c->A = xmalloc(a_bytes);
  c->B = xmalloc(b_bytes);
  for (size_t i = 0; i < a_bytes; ++i) c->A[i] = all_max ? 255 : (uint8_t)rng_next();
  for (size_t i = 0; i < b_bytes; ++i) c->B[i] = all_max ? 255 : (uint8_t)rng_next();
}

static uint8_t zero_point(void) {
  static const uint8_t fixed[] = {0, 128, 255};
  const uint32_t pick = rng_next() % 4;
  return pick < 3 ? fixed[pick] : (uint8_t)rng_next();
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  const pnn_u8_matmul_kernel *variants[2];
  size_t n_variants = 0;
#if defined(__x86_64__) || defined(_M_X64)
  if (variant_usable("u8-matmul", "avx2", cpu.avx2_fma)) variants[n_variants++] = &pnn_u8_matmul_avx2;
  if (variant_usable("u8-matmul", "avx512", cpu.avx512bw)) variants[n_variants++] = &pnn_u8_matmul_avx512;
  const pnn_u8_matmul_kernel *best = cpu.avx512bw ? &pnn_u8_matmul_avx512
                                     : cpu.avx2_fma ? &pnn_u8_matmul_avx2
                                                    : &pnn_u8_matmul_scalar;
#else
  const pnn_u8_matmul_kernel *best = &pnn_u8_matmul_scalar;
#endif
  int failures = 0;
  if (pnn_u8_matmul_select(&cpu) != best) {
    fprintf(stderr, "pnn_u8_matmul_select picked %s, expected %s\n", pnn_u8_matmul_select(&cpu)->name, best->name);
    ++failures;
  }
  static const size_t sizes[] = {1, 2, 3, 5, 6, 7, 8, 13, 15, 16, 17, 31, 32, 33, 64, 65, 100};
  const size_t n_sizes = sizeof(sizes) / sizeof(sizes[0]);
  int cases = 0;
  for (int i = 0; i < 400; ++i) {
    matmul_case c;
    memset(&c, 0, sizeof(c));
    c.M = sizes[rng_next() % n_sizes];
    c.N = sizes[rng_next() % n_sizes];
    c.K = i % 50 == 0 ? 0 : sizes[rng_next() % n_sizes];
    c.lda = c.K + (rng_next() % 3 == 0 ? rng_next() % 5 : 0);
    c.ldb = c.N + (rng_next() % 3 == 0 ? rng_next() % 5 : 0);
    c.ldy = c.N + (rng_next() % 3 == 0 ? rng_next() % 5 : 0);
    c.a_zero_point = zero_point();
    c.b_zero_point = zero_point();
    c.shift = rng_range(PNN_REQUANT_MIN_SHIFT, PNN_REQUANT_MAX_SHIFT);
    c.multiplier = i % 7 == 0 ? INT32_MAX : rng_range(1 << 29, INT32_MAX);
    if (i % 11 == 0) c.multiplier = rng_range(0, 1000);
    c.rq.zero_point = zero_point();
    c.rq.lo = i % 5 == 0 ? rng_range(0, 100) : 0;
    c.rq.hi = i % 5 == 0 ? rng_range(c.rq.lo, 255) : 255;
    fill(&c, 0);
    failures += check_case(&c, variants, n_variants);
    free(c.A);
    free(c.B);
    ++cases;
  }
  /* The largest sums: all 255 against zero points 0, K at the limit, both signs. */
  for (int sign = 0; sign < 2; ++sign) {
    matmul_case c;
    memset(&c, 0, sizeof(c));
    c.M = 7;
    c.N = 17;
    c.K = c.lda = PNN_U8_MATMUL_MAX_K;
    c.ldb = c.ldy = c.N;
    c.b_zero_point = 0;
    c.multiplier = 1 << 30;
    c.shift = 40;
    c.rq.hi = 255;
    c.rq.zero_point = 128;
    fill(&c, 1);
    if (sign) {
      for (size_t i = 0; i < c.K * c.ldb; ++i) c.B[i] = 0;
      c.b_zero_point = 255;
    }
    failures += check_case(&c, variants, n_variants);
    free(c.A);
    free(c.B);
    ++cases;
  }
  printf("u8 matmul: %d cases, %zu SIMD variants, %d failures\n", cases, n_variants, failures);
  return failures ? 1 : 0;
}
