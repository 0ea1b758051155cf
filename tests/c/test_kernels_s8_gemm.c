/* Tests the s8 GEMM kernels (pnn_kernels_s8.h, kernels_c/s8-gemm/):
 *   1. the scalar reference against a naive formula written here (int64 sum, then the
 *      rounding rule as a floor division on int64, clamp);
 *   2. every variant compiled for this target and usable on this CPU against the
 *      scalar reference, byte for byte (integer kernels must match exactly);
 *   3. pnn_s8_fold_zero_point against sum_k W * (x - z) on raw x;
 *   4. pnn_s8_gemm_select and pnn_s4_gemm_select pick the best usable variant;
 *   5. the s4 kernels (int4 weights kept at 4 bits), every variant including the s4
 *      scalar one, against the s8 scalar reference on the same weights, byte for byte:
 *      the whole case set again with weights limited to [-7, 7] (the patterns' +-127
 *      become +-7);
 *   6. the AVX2 vpmaddubsw variant, which takes only W that fits its fix-up capacity
 *      (pnn_s8_gemm_avx2_maddubs_fits), against the scalar reference on every size with
 *      such W (pairs of one sign beyond 128 in magnitude, up to one per quad and row
 *      block; also with -128), and pnn_s8_gemm_select_weights: that variant where it fits
 *      and the best variant is avx2, the best variant otherwise (all +-127 pairs).
 * Cases: M x N x K over awkward sizes (1, tails of every tile, K not a multiple of
 * 2/4/8/16/32, K odd (an s4 row ending in half a byte), K = 0, N = 1 GEMV), extreme
 * values (all 255 against +-127 or +-7 weights, the largest |acc| with K up to 66000),
 * int4 weights, per-row multipliers from tiny to
 * 2^31 - 1 with shifts 1..62, zero points 0/128/255, clamp bounds, partial row ranges
 * (multiples of the variant's row_block), odd ldx/ldy.
 *
 * Plain C, no ISA headers: the same file runs on x86-64, aarch64 (under qemu) and
 * wasm32. X, W, bias and Y are exactly as large as the contract allows so sanitizers
 * see over-reads; the packed weights and the scratch are 64-byte aligned, their
 * alignment padding is poisoned under ASan and filled with garbage otherwise (a kernel
 * must not read past pack_size / scratch_size or rely on zeroed scratch). Bytes of Y
 * outside the row range and the ldy gaps must keep their sentinel. Exits non-zero on
 * any mismatch and prints how many cases ran. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"
#include "variant_gate.h"
#include "test_support.h"

#if defined(__SANITIZE_ADDRESS__)
#define PNN_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PNN_TEST_ASAN 1
#endif
#endif
#if defined(PNN_TEST_ASAN)
#include <sanitizer/asan_interface.h>
#endif

#define Y_SENTINEL 0xA5
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A 64-byte aligned buffer of `bytes` usable bytes; the rest of the allocation (up to
 * the next 64-byte line, plus one more line) is garbage and, under ASan, unaddressable. */
typedef struct aligned_buffer {
  void *base;
  size_t capacity;
} aligned_buffer;

static void aligned_buffer_make(aligned_buffer *b, size_t bytes) {
  b->capacity = (bytes + 63) / 64 * 64 + 64;
  b->base = aligned_alloc(64, b->capacity);
  if (!b->base) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  memset(b->base, 0x5A, b->capacity);
#if defined(PNN_TEST_ASAN)
  ASAN_POISON_MEMORY_REGION((char *)b->base + bytes, b->capacity - bytes);
#endif
}

static void aligned_buffer_free(aligned_buffer *b) {
#if defined(PNN_TEST_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(b->base, b->capacity);
#endif
  free(b->base);
}

typedef struct stats {
  size_t cases, failures;
} stats;

/* ---- one problem ---------------------------------------------------------------- */

typedef struct problem {
  size_t M, N, K, ldx, ldy;
  int8_t *W;     /* M x K */
  uint8_t *X;    /* (K - 1) * ldx + N bytes */
  int32_t *bias; /* M */
  int32_t *multiplier, *shift;
  pnn_requant rq;
} problem;

/* Weight and activation patterns; w_max is 127 (s8) or 7 (s4 kernels). */
enum values {
  VAL_RANDOM,        /* u8 over its whole range, W in [-w_max, w_max] */
  VAL_MAX_SIGNS,     /* X all 255, W +-w_max */
  VAL_MOST_NEGATIVE, /* X all 255, W all -w_max: the most negative accumulator */
  VAL_MOST_POSITIVE, /* X all 255, W all +w_max */
  VAL_INT4,          /* W in [-7, 7] (int4 layers), random X */
  VAL_EDGES,         /* X in {0, 255}, W in {-w_max, 0, w_max} */
  VAL_SMALL,         /* X in [0, 3], W in [-2, 2]: at about unit scale, outputs off the clamp */
  VAL_PAIRS,         /* random X; W pairs exact for vpmaddubsw (|w0| + |w1| <= 128 where
                        of one sign), except up to one extreme pair per quad and row block */
  NUM_VALUES
};

static size_t x_size(size_t N, size_t K, size_t ldx) { return K && N ? (K - 1) * ldx + N : 0; }
static size_t y_size(size_t M, size_t N, size_t ldy) { return M && N ? (M - 1) * ldy + N : 0; }

/* Bits needed for v > 0. */
static int bit_length(uint64_t v) {
  int n = 0;
  while (v) {
    ++n;
    v >>= 1;
  }
  return n;
}

/* Pairs (w[k], w[k+1]) of one sign beyond 128 in magnitude, and edges at 128. */
static const int8_t EXTREME_PAIRS[][2] = {{127, 127}, {-127, -127}, {127, 2},  {2, 127},
                                          {64, 65},   {-65, -64},   {64, 64},  {-64, -64},
                                          {100, 29},  {-1, -127},   {127, -127}};

/* VAL_PAIRS for weights in [-w_max, w_max]: in row m, quad g (k = 4g..4g+3) may hold
 * extreme pairs only when g % 8 == m % 8, so each 8-row block has at most one row quad
 * with a fix-up per quad (the maddubs variant's capacity). */
static void fill_pair_weights(problem *p, int w_max, rng *r) {
  for (size_t m = 0; m < p->M; ++m)
    for (size_t k = 0; k < p->K; k += 2) {
      int w0 = (int)rng_range(r, -w_max, w_max), w1 = (int)rng_range(r, -w_max, w_max);
      if (w0 > 0 && w1 > 128 - w0) w1 = 128 - w0;
      if (w0 < 0 && w1 < -128 - w0) w1 = -128 - w0;
      if (w_max == 127 && k / 4 % 8 == m % 8 && rng_below(r, 2)) {
        const int8_t *pair = EXTREME_PAIRS[rng_below(r, COUNT(EXTREME_PAIRS))];
        w0 = pair[0];
        w1 = pair[1];
      }
      p->W[m * p->K + k] = (int8_t)w0;
      if (k + 1 < p->K) p->W[m * p->K + k + 1] = (int8_t)w1;
    }
}

static void problem_make(problem *p, size_t M, size_t N, size_t K, int values, int w_max,
                         rng *r) {
  p->M = M;
  p->N = N;
  p->K = K;
  p->ldx = N + (rng_below(r, 2) ? 0 : 1 + rng_below(r, 7));
  p->ldy = N + (rng_below(r, 2) ? 0 : 1 + rng_below(r, 7));
  p->W = (int8_t *)xmalloc(M * K);
  p->X = (uint8_t *)xmalloc(x_size(N, K, p->ldx));
  p->bias = (int32_t *)xmalloc(M * sizeof(int32_t));
  p->multiplier = (int32_t *)xmalloc(M * sizeof(int32_t));
  p->shift = (int32_t *)xmalloc(M * sizeof(int32_t));
  const size_t xs = x_size(N, K, p->ldx);
  for (size_t i = 0; i < xs; ++i) {
    switch (values) {
      case VAL_RANDOM: case VAL_INT4: case VAL_PAIRS: p->X[i] = (uint8_t)rng_range(r, 0, 255); break;
      case VAL_EDGES: p->X[i] = rng_below(r, 2) ? 255 : 0; break;
      case VAL_SMALL: p->X[i] = (uint8_t)rng_range(r, 0, 3); break;
      default: p->X[i] = 255; break;
    }
  }
  if (values == VAL_PAIRS) fill_pair_weights(p, w_max, r);
  for (size_t i = 0; i < M * K && values != VAL_PAIRS; ++i) {
    switch (values) {
      case VAL_RANDOM: p->W[i] = (int8_t)rng_range(r, -w_max, w_max); break;
      case VAL_MAX_SIGNS: p->W[i] = (int8_t)(rng_below(r, 2) ? w_max : -w_max); break;
      case VAL_MOST_NEGATIVE: p->W[i] = (int8_t)-w_max; break;
      case VAL_MOST_POSITIVE: p->W[i] = (int8_t)w_max; break;
      case VAL_INT4: p->W[i] = (int8_t)rng_range(r, -7, 7); break;
      case VAL_SMALL: p->W[i] = (int8_t)rng_range(r, -2, 2); break;
      default: p->W[i] = (int8_t)(w_max * (int)rng_range(r, -1, 1)); break;
    }
  }
  /* |bias| + K * 255 * 127 must stay below 2^31 (the contract's |acc| bound). */
  const int64_t largest_sum = (int64_t)K * 255 * 127;
  const int64_t bias_room = INT32_MAX - largest_sum;
  static const int64_t bias_bounds[] = {0, 1 << 6, 1 << 10, 1 << 22};
  int64_t bias_bound = rng_below(r, 4) ? bias_bounds[rng_below(r, 4)] : bias_room;
  if (bias_bound > bias_room) bias_bound = bias_room;
  for (size_t m = 0; m < M; ++m) p->bias[m] = (int32_t)rng_range(r, -bias_bound, bias_bound);
  /* Per-row dyadic multipliers: tiny, around 2^30..2^31-1 or anywhere; shifts either
   * anywhere in 1..62 (the ends included: mostly saturated or mostly zero-point
   * outputs), or a scale in [1/8, 1) so that every unit of acc can show, or chosen so
   * the row's largest |acc| becomes a number of 0..11 bits, so that outputs spread over
   * the clamp range and a wrong rounding shows. */
  for (size_t m = 0; m < M; ++m) {
    uint64_t row_largest = 1;
    for (size_t n = 0; n < N; ++n) {
      int64_t acc = p->bias[m];
      for (size_t k = 0; k < K; ++k) acc += (int64_t)p->W[m * K + k] * p->X[k * p->ldx + n];
      const uint64_t magnitude = (uint64_t)(acc < 0 ? -acc : acc);
      if (magnitude > row_largest) row_largest = magnitude;
    }
    int64_t mult;
    switch (rng_below(r, 5)) {
      case 0: mult = rng_range(r, 0, 1000); break;
      case 1: mult = INT32_MAX; break;
      case 2: mult = rng_range(r, 0, INT32_MAX); break;
      default: mult = rng_range(r, (int64_t)1 << 30, INT32_MAX); break;
    }
    int shift;
    switch (rng_below(r, 8)) {
      case 0: shift = PNN_REQUANT_MIN_SHIFT; break;
      case 1: shift = PNN_REQUANT_MAX_SHIFT; break;
      case 2: shift = (int)rng_range(r, PNN_REQUANT_MIN_SHIFT, PNN_REQUANT_MAX_SHIFT); break;
      case 3: case 4: shift = bit_length((uint64_t)mult) + (int)rng_range(r, 0, 2); break;
      default: {
        shift = bit_length(row_largest) + bit_length((uint64_t)mult) - (int)rng_range(r, 0, 11);
        break;
      }
    }
    if (shift < PNN_REQUANT_MIN_SHIFT) shift = PNN_REQUANT_MIN_SHIFT;
    if (shift > PNN_REQUANT_MAX_SHIFT) shift = PNN_REQUANT_MAX_SHIFT;
    p->multiplier[m] = (int32_t)mult;
    p->shift[m] = shift;
  }
  static const int32_t zero_points[] = {0, 128, 255};
  const int32_t zp = rng_below(r, 4) ? zero_points[rng_below(r, 3)] : (int32_t)rng_range(r, 0, 255);
  int32_t lo = 0, hi = 255;
  switch (rng_below(r, 4)) {
    case 0: lo = zp; break; /* fused ReLU */
    case 1: lo = (int32_t)rng_range(r, 0, 255); hi = (int32_t)rng_range(r, lo, 255); break;
    case 2: lo = hi = (int32_t)rng_range(r, 0, 255); break;
    default: break;
  }
  p->rq.multiplier = p->multiplier;
  p->rq.shift = p->shift;
  p->rq.zero_point = zp;
  p->rq.lo = lo;
  p->rq.hi = hi;
}

static void problem_free(problem *p) {
  free(p->W);
  free(p->X);
  free(p->bias);
  free(p->multiplier);
  free(p->shift);
}

/* Runs `kernel` on rows [m_begin, m_end) into a fresh sentinel-filled Y (returned). */
static uint8_t *run_kernel(const pnn_s8_gemm_kernel *kernel, const problem *p, size_t m_begin,
                           size_t m_end) {
  aligned_buffer packed, scratch;
  aligned_buffer_make(&packed, kernel->pack_size(p->M, p->K));
  kernel->pack(p->M, p->K, p->W, packed.base);
  aligned_buffer_make(&scratch, kernel->scratch_size(p->N, p->K));
  const size_t ys = y_size(p->M, p->N, p->ldy);
  uint8_t *Y = (uint8_t *)xmalloc(ys);
  memset(Y, Y_SENTINEL, ys);
  kernel->run(p->M, p->N, p->K, m_begin, m_end, packed.base, p->X, p->ldx, p->bias, &p->rq, Y,
              p->ldy, scratch.base);
  aligned_buffer_free(&packed);
  aligned_buffer_free(&scratch);
  return Y;
}

/* floor(num / 2^shift) by integer division (C rounds toward zero: fix negatives). */
static int64_t floor_div_pow2(int64_t num, int shift) {
  const int64_t d = (int64_t)1 << shift;
  int64_t q = num / d;
  if (num % d != 0 && num < 0) q -= 1;
  return q;
}

static uint8_t naive_output(const problem *p, size_t m, size_t n) {
  int64_t acc = p->bias[m];
  for (size_t k = 0; k < p->K; ++k) acc += (int64_t)p->W[m * p->K + k] * p->X[k * p->ldx + n];
  const int s = p->shift[m];
  const int64_t rounded = floor_div_pow2(acc * p->multiplier[m] + ((int64_t)1 << (s - 1)), s);
  int64_t y = p->rq.zero_point + rounded;
  if (y < p->rq.lo) y = p->rq.lo;
  if (y > p->rq.hi) y = p->rq.hi;
  return (uint8_t)y;
}

static void report(const char *what, const problem *p, size_t m_begin, size_t m_end, size_t m,
                   size_t n, int got, int expected) {
  fprintf(stderr,
          "%s M=%zu N=%zu K=%zu ldx=%zu ldy=%zu rows=[%zu,%zu) zp=%d lo=%d hi=%d: "
          "Y[%zu][%zu] = %d, expected %d (mult %d shift %d)\n",
          what, p->M, p->N, p->K, p->ldx, p->ldy, m_begin, m_end, (int)p->rq.zero_point,
          (int)p->rq.lo, (int)p->rq.hi, m, n, got, expected, m < p->M ? (int)p->multiplier[m] : 0,
          m < p->M ? (int)p->shift[m] : 0);
}

/* The scalar reference over all rows (Y returned) against the naive formula. */
static uint8_t *check_scalar(const problem *p, stats *s) {
  uint8_t *Y = run_kernel(&pnn_s8_gemm_scalar, p, 0, p->M);
  size_t bad = 0;
  for (size_t m = 0; m < p->M; ++m)
    for (size_t n = 0; n < p->ldy && m * p->ldy + n < y_size(p->M, p->N, p->ldy); ++n) {
      const int got = Y[m * p->ldy + n];
      const int expected = n < p->N ? naive_output(p, m, n) : Y_SENTINEL;
      if (got != expected && bad++ < 3) report("scalar", p, 0, p->M, m, n, got, expected);
    }
  s->cases++;
  if (bad) s->failures++;
  return Y;
}

/* A kernel on rows [m_begin, m_end) against the scalar reference's rows of `reference`
 * (all rows): other rows and the ldy gaps must keep the sentinel. */
static void check_rows(const pnn_s8_gemm_kernel *kernel, const problem *p,
                       const uint8_t *reference, size_t m_begin, size_t m_end, stats *s) {
  uint8_t *got = run_kernel(kernel, p, m_begin, m_end);
  size_t bad = 0;
  const size_t ys = y_size(p->M, p->N, p->ldy);
  for (size_t i = 0; i < ys; ++i) {
    const size_t m = i / p->ldy;
    const int expected = m >= m_begin && m < m_end ? reference[i] : Y_SENTINEL;
    if (got[i] != expected && bad++ < 3)
      report(kernel->name, p, m_begin, m_end, m, i % p->ldy, got[i], expected);
  }
  s->cases++;
  if (bad) s->failures++;
  free(got);
}

/* ---- the variants of this target ------------------------------------------------- */

typedef struct variant {
  const pnn_s8_gemm_kernel *kernel;
  int usable;
  stats s;
} variant;

/* Most preferred first (the order pnn_s8_gemm_select and pnn_s4_gemm_select follow). */
static size_t target_variants(const pnn_cpu_features *cpu, variant *out) {
  size_t n = 0;
#if defined(__x86_64__) || defined(_M_X64)
  out[n++] = (variant){&pnn_s8_gemm_avx512vnni, cpu->avx512vnni, {0, 0}};
  out[n++] = (variant){&pnn_s8_gemm_avxvnni, cpu->avxvnni, {0, 0}};
  out[n++] = (variant){&pnn_s8_gemm_avx2, cpu->avx2_fma, {0, 0}};
#elif defined(__aarch64__)
  out[n++] = (variant){&pnn_s8_gemm_neondot, cpu->neon_dotprod, {0, 0}};
  out[n++] = (variant){&pnn_s8_gemm_neon, 1, {0, 0}};
#elif defined(__wasm_simd128__)
  (void)cpu;
  out[n++] = (variant){&pnn_s8_gemm_wasmsimd, 1, {0, 0}};
#else
  (void)cpu;
#endif
  out[n++] = (variant){&pnn_s8_gemm_scalar, 1, {0, 0}};
  return n;
}

static size_t target_s4_variants(const pnn_cpu_features *cpu, variant *out) {
  size_t n = 0;
#if defined(__x86_64__) || defined(_M_X64)
  out[n++] = (variant){&pnn_s4_gemm_avx512vnni, cpu->avx512vnni, {0, 0}};
  out[n++] = (variant){&pnn_s4_gemm_avxvnni, cpu->avxvnni, {0, 0}};
  out[n++] = (variant){&pnn_s4_gemm_avx2, cpu->avx2_fma, {0, 0}};
#elif defined(__aarch64__)
  out[n++] = (variant){&pnn_s4_gemm_neondot, cpu->neon_dotprod, {0, 0}};
  out[n++] = (variant){&pnn_s4_gemm_neon, 1, {0, 0}};
#elif defined(__wasm_simd128__)
  (void)cpu;
  out[n++] = (variant){&pnn_s4_gemm_wasmsimd, 1, {0, 0}};
#else
  (void)cpu;
#endif
  out[n++] = (variant){&pnn_s4_gemm_scalar, 1, {0, 0}};
  return n;
}

/* One problem: the scalar reference against the naive formula, then every usable
 * variant on all rows and on a random partial range a threaded caller could pass
 * (both ends on row_block multiples, or m_end == M); the scalar itself only on the
 * partial range. */
static void check_problem(const problem *p, variant *variants, size_t num_variants,
                          stats *scalar_stats, rng *r) {
  uint8_t *reference = check_scalar(p, scalar_stats);
  for (size_t i = 0; i < num_variants; ++i) {
    variant *v = &variants[i];
    if (!v->usable) continue;
    if (v->kernel != &pnn_s8_gemm_scalar) check_rows(v->kernel, p, reference, 0, p->M, &v->s);
    const size_t row_block = v->kernel->row_block;
    const size_t blocks = (p->M + row_block - 1) / row_block;
    if (blocks < 2) continue;
    const size_t first = rng_below(r, blocks), last = first + 1 + rng_below(r, blocks - first);
    const size_t m_end = last * row_block < p->M ? last * row_block : p->M;
    check_rows(v->kernel, p, reference, first * row_block, m_end, &v->s);
  }
  free(reference);
}

static const size_t SIZES_M[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 33};
/* Pixel tiles: 8 (NEON, WASM), 16 (AVX-VNNI, AVX-512 chunks), 24 (AVX2), up to 48
 * (AVX-512): full tiles, each tail width, and tails of up to 4 pixels (GEMVs). */
static const size_t SIZES_N[] = {1, 2, 3, 7, 15, 16, 17, 20, 21, 23, 24, 28, 31, 33, 40, 48, 49, 69};
static const size_t SIZES_K[] = {0, 1, 3, 4, 5, 15, 16, 17, 31, 33, 63, 64, 65, 300};
/* M x N x K: K of real layers, many pixel tiles, and K = 66000, the contract's limit. */
static const size_t LARGE_SHAPES[][3] = {{24, 50, 576}, {17, 1, 1152}, {40, 1, 515}, {9, 20, 2304},
                                         {5, 200, 40},  {3, 2, 66000}, {9, 1, 66000}, {2, 17, 66000}};

/* Every M x N x K of the lists (values cycling through the patterns), then a few
 * large shapes with every pattern: K of real layers, many pixel tiles, and K = 66000,
 * the contract's limit, where all -127 against all 255 is the most negative
 * accumulator. Weights in [-w_max, w_max]. */
static void check_all(variant *variants, size_t num_variants, int w_max, stats *scalar_stats) {
  rng r = {0x5eed5eedull};
  size_t index = 0;
  for (size_t mi = 0; mi < COUNT(SIZES_M); ++mi)
    for (size_t ni = 0; ni < COUNT(SIZES_N); ++ni)
      for (size_t ki = 0; ki < COUNT(SIZES_K); ++ki, ++index) {
        problem p;
        problem_make(&p, SIZES_M[mi], SIZES_N[ni], SIZES_K[ki], (int)(index % NUM_VALUES), w_max,
                     &r);
        check_problem(&p, variants, num_variants, scalar_stats, &r);
        problem_free(&p);
      }
  for (size_t i = 0; i < COUNT(LARGE_SHAPES); ++i)
    for (int values = 0; values < NUM_VALUES; ++values) {
      problem p;
      problem_make(&p, LARGE_SHAPES[i][0], LARGE_SHAPES[i][1], LARGE_SHAPES[i][2], values, w_max, &r);
      check_problem(&p, variants, num_variants, scalar_stats, &r);
      problem_free(&p);
    }
}

/* ---- the bias fold ------------------------------------------------------------------ */

/* bias'[m] = bias[m] - z * sum_k W[m][k] must make sum_k W * x + bias' equal
 * sum_k W * (x - z) + bias for any raw x. */
static void test_fold(stats *s) {
  rng r = {0xf01dull};
  static const int32_t zero_points[] = {0, 1, 128, 200, 255};
  static const size_t shapes[][2] = {{1, 0}, {1, 1}, {3, 7}, {8, 64}, {17, 300}, {2, 66000}};
  for (size_t si = 0; si < COUNT(shapes); ++si)
    for (size_t zi = 0; zi < COUNT(zero_points); ++zi)
      for (int values = 0; values < NUM_VALUES; ++values) {
        const size_t M = shapes[si][0], K = shapes[si][1];
        problem p;
        problem_make(&p, M, 1, K, values, 127, &r);
        const int32_t z = zero_points[zi];
        int32_t *folded = (int32_t *)xmalloc(M * sizeof(int32_t));
        for (size_t m = 0; m < M; ++m)
          folded[m] = (int32_t)(p.bias[m] / 2); /* room for the zero-point term */
        int32_t *original = (int32_t *)xmalloc(M * sizeof(int32_t));
        memcpy(original, folded, M * sizeof(int32_t));
        pnn_s8_fold_zero_point(M, K, p.W, z, folded);
        size_t bad = 0;
        for (size_t m = 0; m < M; ++m) {
          int64_t centered = original[m], raw = folded[m];
          for (size_t k = 0; k < K; ++k) {
            centered += (int64_t)p.W[m * K + k] * ((int64_t)p.X[k * p.ldx] - z);
            raw += (int64_t)p.W[m * K + k] * p.X[k * p.ldx];
          }
          if (centered != raw && bad++ < 3)
            fprintf(stderr, "fold M=%zu K=%zu z=%d: row %zu gives %lld, expected %lld\n", M, K,
                    (int)z, m, (long long)raw, (long long)centered);
        }
        s->cases++;
        if (bad) s->failures++;
        free(folded);
        free(original);
        problem_free(&p);
      }
}

/* ---- the AVX2 vpmaddubsw variant, which takes only W that fits ---------------------- */

#if defined(__x86_64__) || defined(_M_X64)
/* One W: the variant against the scalar reference where W fits, and the selection
 * (the variant only where it fits and the CPU's best is avx2). `must_fit`: VAL_PAIRS
 * weights, built to fit. */
static void check_maddubs_problem(const problem *p, const pnn_cpu_features *cpu, variant *v,
                                  bool must_fit, stats *scalar_stats, rng *r) {
  const bool fits = pnn_s8_gemm_avx2_maddubs_fits(p->M, p->K, p->W);
  const pnn_s8_gemm_kernel *best = pnn_s8_gemm_select(cpu);
  const pnn_s8_gemm_kernel *expected = fits && best == &pnn_s8_gemm_avx2 ? v->kernel : best;
  const pnn_s8_gemm_kernel *selected = pnn_s8_gemm_select_weights(cpu, p->M, p->K, p->W);
  if ((must_fit && !fits) || selected != expected) {
    fprintf(stderr, "maddubs M=%zu K=%zu: fits %d, select_weights picked %s, expected %s\n", p->M,
            p->K, fits, selected->name, expected->name);
    v->s.cases++;
    v->s.failures++;
  }
  if (fits) check_problem(p, v, 1, scalar_stats, r);
}

/* Every size of the lists and the large shapes with VAL_PAIRS weights; with K <= 300
 * the same weights again with -127 made -128 (checked where they still fit); all +127
 * (every pair one fix-up: never fits). */
static void check_maddubs(const pnn_cpu_features *cpu, variant *v, stats *scalar_stats) {
  rng r = {0xadd5ull};
  for (size_t mi = 0; mi < COUNT(SIZES_M); ++mi)
    for (size_t ni = 0; ni < COUNT(SIZES_N); ++ni)
      for (size_t ki = 0; ki < COUNT(SIZES_K); ++ki) {
        problem p;
        problem_make(&p, SIZES_M[mi], SIZES_N[ni], SIZES_K[ki], VAL_PAIRS, 127, &r);
        check_maddubs_problem(&p, cpu, v, true, scalar_stats, &r);
        if (p.K <= 300) {
          for (size_t i = 0; i < p.M * p.K; ++i)
            if (p.W[i] == -127) p.W[i] = -128;
          check_maddubs_problem(&p, cpu, v, false, scalar_stats, &r);
        }
        problem_free(&p);
      }
  for (size_t i = 0; i < COUNT(LARGE_SHAPES); ++i) {
    problem p;
    problem_make(&p, LARGE_SHAPES[i][0], LARGE_SHAPES[i][1], LARGE_SHAPES[i][2], VAL_PAIRS, 127, &r);
    check_maddubs_problem(&p, cpu, v, true, scalar_stats, &r);
    problem_free(&p);
  }
  problem p;
  problem_make(&p, 8, 5, 64, VAL_MOST_POSITIVE, 127, &r);
  check_maddubs_problem(&p, cpu, v, false, scalar_stats, &r);
  if (pnn_s8_gemm_avx2_maddubs_fits(p.M, p.K, p.W)) {
    fprintf(stderr, "maddubs: all +127 weights must not fit\n");
    v->s.failures++;
  }
  problem_free(&p);
}
#endif

/* Prints the results of one family (s8 or s4) and checks its select function; returns
 * the number of failed cases. */
static size_t report_variants(const char *family, const variant *variants, size_t num_variants,
                              const pnn_s8_gemm_kernel *selected) {
  size_t failures = 0;
  const pnn_s8_gemm_kernel *best = NULL;
  for (size_t i = 0; i < num_variants; ++i) {
    const variant *v = &variants[i];
    if (!v->usable) {
      variant_usable(family, v->kernel->name, 0);
      continue;
    }
    if (!best) best = v->kernel;
    printf("%s gemm %s %s: %zu cases, %zu failed\n", family, v->kernel->name,
           v->kernel == &pnn_s8_gemm_scalar ? "row ranges" : "vs s8 scalar", v->s.cases,
           v->s.failures);
    failures += v->s.failures;
  }
  printf("%s gemm select: %s\n", family, selected->name);
  if (selected != best) {
    fprintf(stderr, "%s gemm select picked %s, expected %s\n", family, selected->name,
            best->name);
    ++failures;
  }
  return failures;
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  variant variants[8], s4_variants[8];
  const size_t num_variants = target_variants(&cpu, variants);
  const size_t num_s4_variants = target_s4_variants(&cpu, s4_variants);
  stats scalar_stats = {0, 0}, s4_scalar_stats = {0, 0}, fold_stats = {0, 0};
  check_all(variants, num_variants, 127, &scalar_stats);
  check_all(s4_variants, num_s4_variants, 7, &s4_scalar_stats);
  test_fold(&fold_stats);
#if defined(__x86_64__) || defined(_M_X64)
  variant maddubs = {&pnn_s8_gemm_avx2_maddubs, variant_usable("s8", "avx2maddubs", cpu.avx2_fma), {0, 0}};
  stats maddubs_scalar_stats = {0, 0};
  if (maddubs.usable) check_maddubs(&cpu, &maddubs, &maddubs_scalar_stats);
#endif

  printf("s8 gemm scalar vs naive: %zu cases, %zu failed\n", scalar_stats.cases,
         scalar_stats.failures);
  printf("s8 gemm scalar vs naive, weights in [-7, 7]: %zu cases, %zu failed\n",
         s4_scalar_stats.cases, s4_scalar_stats.failures);
  printf("s8 fold zero point: %zu cases, %zu failed\n", fold_stats.cases, fold_stats.failures);
  size_t failures = scalar_stats.failures + s4_scalar_stats.failures + fold_stats.failures;
  failures += report_variants("s8", variants, num_variants, pnn_s8_gemm_select(&cpu));
  failures += report_variants("s4", s4_variants, num_s4_variants, pnn_s4_gemm_select(&cpu));
#if defined(__x86_64__) || defined(_M_X64)
  if (maddubs.usable) {
    printf("s8 gemm avx2maddubs vs s8 scalar, W it fits: %zu cases, %zu failed\n", maddubs.s.cases,
           maddubs.s.failures);
    failures += maddubs.s.failures + maddubs_scalar_stats.failures;
  }
#endif
  if (failures) printf("FAILED: %zu cases\n", failures);
  return failures ? 1 : 0;
}
