/* Tests the u8 x s8 Winograd F(2x2, 3x3) kernels (pnn_kernels_s8.h, kernels_c/s8-winograd/):
 *   1. the scalar reference against a direct convolution written here (int64 sums over
 *      the 3x3 taps with padding reading the zero point, then the rounding rule as a
 *      floor division on int64, clamp), byte for byte;
 *   2. every variant compiled for this target and usable on this CPU against the scalar
 *      reference, byte for byte, called on random tile chunks and row ranges (the
 *      threads' split) with garbage-filled scratch; bytes of rows outside the range must
 *      keep their sentinel;
 *   3. pnn_s8_wino2_select follows its rule (AVX2 without VNNI, else none).
 * Cases: H, W in {1, 2, 3, 5, 7, 8, 14, 17} (odd, one tile, partial tiles), each pad 0
 * or 1 independently, C in {1, 2, 3, 17, 64} and the largest accepted (1841) with
 * extreme values (x all 255 against W all +-127: the largest per-position sums;
 * x in {0, 255} against W in {-127, 127}: wrapping output transforms), M not a multiple
 * of the 4-row block, zero points 0/128/255, per-row requantization from tiny to
 * 2^31 - 1, clamp bounds. Exits non-zero on any mismatch. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"
#include "test_support.h"
#include "variant_gate.h"

#define Y_SENTINEL 0xA5

enum values { VAL_RANDOM, VAL_ALL_MAX, VAL_ALL_MIN, VAL_EDGES, VAL_SMALL, NUM_VALUES };

typedef struct problem {
  pnn_conv2d_geometry g;
  size_t M;
  uint8_t zero_point;
  uint8_t *x;     /* [C][H][W] */
  int8_t *w;      /* [M][C][3][3] */
  int32_t *bias, *multiplier, *shift;
  pnn_requant rq;
} problem;

typedef struct stats {
  size_t cases, failures;
} stats;

static int bit_length(uint64_t v) {
  int n = 0;
  for (; v; v >>= 1) ++n;
  return n;
}

/* The direct convolution's int64 sum (bias included) of output (m, oy, ox). */
static int64_t direct_sum(const problem *p, size_t m, size_t oy, size_t ox) {
  const pnn_conv2d_geometry *g = &p->g;
  int64_t acc = p->bias[m];
  for (size_t c = 0; c < g->channels; ++c)
    for (size_t i = 0; i < 3; ++i)
      for (size_t j = 0; j < 3; ++j) {
        const size_t iy = oy + i - g->pad_top, ix = ox + j - g->pad_left; /* wrap when outside */
        const int64_t v = iy < g->in_h && ix < g->in_w ? p->x[(c * g->in_h + iy) * g->in_w + ix] : p->zero_point;
        acc += v * p->w[((m * g->channels + c) * 3 + i) * 3 + j];
      }
  return acc;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* round(acc * multiplier / 2^shift) ties toward +infinity, plus the zero point, clamped. */
static uint8_t naive_requant(int64_t acc, int32_t multiplier, int32_t shift, const pnn_requant *rq) {
  const int64_t q = floor_div(acc * multiplier + ((int64_t)1 << (shift - 1)), (int64_t)1 << shift) + rq->zero_point;
  return (uint8_t)(q < rq->lo ? rq->lo : (q > rq->hi ? rq->hi : q));
}

static void problem_make(problem *p, size_t C, size_t M, size_t H, size_t W, const size_t pads[4], int values,
                         rng *r) {
  memset(p, 0, sizeof(*p));
  pnn_conv2d_geometry *g = &p->g;
  g->channels = C;
  g->in_h = H;
  g->in_w = W;
  g->out_h = H + pads[0] + pads[2] - 2;
  g->out_w = W + pads[1] + pads[3] - 2;
  g->kernel_h = g->kernel_w = 3;
  g->stride_h = g->stride_w = g->dilation_h = g->dilation_w = 1;
  g->pad_top = pads[0];
  g->pad_left = pads[1];
  p->M = M;
  static const uint8_t zero_points[] = {0, 128, 255};
  p->zero_point = rng_below(r, 4) ? zero_points[rng_below(r, 3)] : (uint8_t)rng_range(r, 0, 255);
  p->x = xmalloc(C * H * W);
  p->w = xmalloc(M * C * 9);
  p->bias = xmalloc(M * sizeof(int32_t));
  p->multiplier = xmalloc(M * sizeof(int32_t));
  p->shift = xmalloc(M * sizeof(int32_t));
  for (size_t i = 0; i < C * H * W; ++i) {
    switch (values) {
      case VAL_EDGES: p->x[i] = rng_below(r, 2) ? 255 : 0; break;
      case VAL_SMALL: p->x[i] = (uint8_t)rng_range(r, 0, 3); break;
      case VAL_RANDOM: p->x[i] = (uint8_t)rng_range(r, 0, 255); break;
      default: p->x[i] = 255; break;
    }
  }
  if (values == VAL_ALL_MAX || values == VAL_ALL_MIN) p->zero_point = 255;
  for (size_t i = 0; i < M * C * 9; ++i) {
    switch (values) {
      case VAL_ALL_MAX: p->w[i] = 127; break;
      case VAL_ALL_MIN: p->w[i] = -127; break;
      case VAL_EDGES: p->w[i] = (int8_t)(rng_below(r, 2) ? 127 : -127); break;
      case VAL_SMALL: p->w[i] = (int8_t)rng_range(r, -2, 2); break;
      default: p->w[i] = (int8_t)rng_range(r, -127, 127); break;
    }
  }
  /* |bias| + 255 * sum |W| must stay below 2^31 (qconv's weight contract). */
  const int64_t bias_room = INT32_MAX - (int64_t)C * 9 * 255 * 127;
  int64_t bias_bound = rng_below(r, 3) ? ((int64_t)1 << (int)rng_range(r, 0, 22)) : bias_room;
  if (bias_bound > bias_room) bias_bound = bias_room;
  for (size_t m = 0; m < M; ++m) {
    p->bias[m] = (int32_t)rng_range(r, -bias_bound, bias_bound);
    uint64_t largest = 1;
    for (size_t oy = 0; oy < g->out_h; ++oy)
      for (size_t ox = 0; ox < g->out_w; ++ox) {
        const int64_t acc = direct_sum(p, m, oy, ox);
        const uint64_t mag = (uint64_t)(acc < 0 ? -acc : acc);
        if (mag > largest) largest = mag;
      }
    const int64_t mult = rng_below(r, 4) == 0 ? rng_range(r, 0, 1000) : rng_range(r, (int64_t)1 << 30, INT32_MAX);
    int shift = rng_below(r, 6) == 0 ? (int)rng_range(r, PNN_REQUANT_MIN_SHIFT, PNN_REQUANT_MAX_SHIFT)
                                     : bit_length(largest) + bit_length((uint64_t)mult) - (int)rng_range(r, 0, 11);
    if (shift < PNN_REQUANT_MIN_SHIFT) shift = PNN_REQUANT_MIN_SHIFT;
    if (shift > PNN_REQUANT_MAX_SHIFT) shift = PNN_REQUANT_MAX_SHIFT;
    p->multiplier[m] = (int32_t)mult;
    p->shift[m] = shift;
  }
  p->rq.multiplier = p->multiplier;
  p->rq.shift = p->shift;
  p->rq.zero_point = (int32_t)rng_range(r, 0, 255);
  p->rq.lo = 0;
  p->rq.hi = 255;
  if (rng_below(r, 3) == 0) p->rq.lo = p->rq.zero_point; /* fused ReLU */
  if (rng_below(r, 4) == 0) p->rq.hi = (int32_t)rng_range(r, p->rq.lo, 255);
}

static void problem_free(problem *p) {
  free(p->x);
  free(p->w);
  free(p->bias);
  free(p->multiplier);
  free(p->shift);
}

/* A 64-byte aligned, garbage-filled buffer of at least `bytes`. */
static void *garbage_buffer(size_t bytes, rng *r) {
  const size_t size = (bytes + 63) / 64 * 64 + 64;
  uint8_t *b = aligned_alloc(64, size);
  if (!b) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (size_t i = 0; i < size; ++i) b[i] = (uint8_t)rng_next(r);
  return b;
}

/* Runs `k` over tiles [t0, t0 + count) and rows [m_begin, m_end) into y. */
static void run_part(const pnn_s8_wino2_kernel *k, const problem *p, const void *packed, size_t t0, size_t count,
                     size_t m_begin, size_t m_end, uint8_t *y, rng *r) {
  void *scratch = garbage_buffer(k->scratch_size(p->g.channels, count), r);
  k->run(&p->g, p->M, p->x, p->zero_point, t0, count, m_begin, m_end, packed, p->bias, &p->rq, y, scratch);
  free(scratch);
}

static size_t tile_count(const pnn_conv2d_geometry *g) { return ((g->out_h + 1) / 2) * ((g->out_w + 1) / 2); }

/* Scalar reference over the whole layer against the direct convolution. */
static void check_scalar(const problem *p, const void *packed, uint8_t *y, stats *s, rng *r) {
  const pnn_conv2d_geometry *g = &p->g;
  const size_t plane = g->out_h * g->out_w;
  run_part(&pnn_s8_wino2_scalar, p, packed, 0, tile_count(g), 0, p->M, y, r);
  ++s->cases;
  for (size_t m = 0; m < p->M; ++m)
    for (size_t i = 0; i < plane; ++i) {
      const uint8_t expected =
          naive_requant(direct_sum(p, m, i / g->out_w, i % g->out_w), p->multiplier[m], p->shift[m], &p->rq);
      if (y[m * plane + i] != expected) {
        fprintf(stderr, "scalar C %zu M %zu %zux%zu pads %zu,%zu: y[%zu][%zu] = %u, expected %u\n", g->channels,
                p->M, g->in_h, g->in_w, g->pad_top, g->pad_left, m, i, y[m * plane + i], expected);
        ++s->failures;
        return;
      }
    }
}

/* Variant `k` on random tile chunks and a random row range against the reference y. */
static void check_variant(const pnn_s8_wino2_kernel *k, const problem *p, const void *packed, const uint8_t *ref,
                          stats *s, rng *r) {
  const pnn_conv2d_geometry *g = &p->g;
  const size_t plane = g->out_h * g->out_w, tiles = tile_count(g);
  const size_t R = PNN_S8_WINO2_ROW_BLOCK;
  const size_t m_begin = rng_below(r, 2) ? 0 : R * rng_below(r, (p->M + R - 1) / R);
  const size_t m_end = rng_below(r, 2) ? p->M : m_begin + 1 + rng_below(r, p->M - m_begin);
  uint8_t *y = xmalloc(p->M * plane);
  memset(y, Y_SENTINEL, p->M * plane);
  for (size_t t0 = 0; t0 < tiles;) {
    const size_t count = rng_below(r, 3) == 0 ? tiles - t0 : 1 + rng_below(r, tiles - t0);
    run_part(k, p, packed, t0, count, m_begin, m_end, y, r);
    t0 += count;
  }
  ++s->cases;
  for (size_t m = 0; m < p->M; ++m)
    for (size_t i = 0; i < plane; ++i) {
      const uint8_t expected = m >= m_begin && m < m_end ? ref[m * plane + i] : Y_SENTINEL;
      if (y[m * plane + i] != expected) {
        fprintf(stderr, "%s C %zu M %zu %zux%zu pads %zu,%zu rows [%zu, %zu): y[%zu][%zu] = %u, expected %u\n",
                k->name, g->channels, p->M, g->in_h, g->in_w, g->pad_top, g->pad_left, m_begin, m_end, m, i,
                y[m * plane + i], expected);
        ++s->failures;
        free(y);
        return;
      }
    }
  free(y);
}

/* The SIMD variant of this target (only x86-64 has one), if this CPU runs it. */
static const pnn_s8_wino2_kernel *usable_variant(const pnn_cpu_features *cpu) {
#if defined(__x86_64__) || defined(_M_X64)
  if (variant_usable("s8-winograd", pnn_s8_wino2_avx2.name, cpu->avx2_fma)) return &pnn_s8_wino2_avx2;
#else
  (void)cpu;
#endif
  return NULL;
}

static void check_problem(const problem *p, const pnn_s8_wino2_kernel *simd, stats *scalar, stats *simd_stats,
                          rng *r) {
  void *packed = garbage_buffer(pnn_s8_wino2_pack_size(p->M, p->g.channels), r);
  pnn_s8_wino2_pack(p->M, p->g.channels, p->w, packed);
  uint8_t *ref = xmalloc(p->M * p->g.out_h * p->g.out_w);
  check_scalar(p, packed, ref, scalar, r);
  if (simd) check_variant(simd, p, packed, ref, simd_stats, r);
  free(ref);
  free(packed);
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  const pnn_s8_wino2_kernel *simd = usable_variant(&cpu);
  stats scalar = {0, 0}, simd_stats = {0, 0};
  rng r = {0x5eed5eedull};
  static const size_t sizes[] = {1, 2, 3, 5, 7, 8, 14, 17};
  static const size_t channels[] = {1, 2, 3, 17, 64};
  for (size_t iter = 0; iter < 300; ++iter) {
    const size_t pads[4] = {rng_below(&r, 2), rng_below(&r, 2), rng_below(&r, 2), rng_below(&r, 2)};
    const size_t H = sizes[rng_below(&r, 8)], W = sizes[rng_below(&r, 8)];
    if (H + pads[0] + pads[2] < 3 || W + pads[1] + pads[3] < 3) continue;
    const size_t C = channels[rng_below(&r, 5)], M = 1 + rng_below(&r, 13);
    problem p;
    problem_make(&p, C, M, H, W, pads, (int)rng_below(&r, NUM_VALUES), &r);
    check_problem(&p, simd, &scalar, &simd_stats, &r);
    problem_free(&p);
  }
  /* The largest channel count accepted, at the extremes of the bounds. */
  static const int extremes[] = {VAL_ALL_MAX, VAL_ALL_MIN, VAL_EDGES, VAL_RANDOM};
  for (size_t e = 0; e < 4; ++e) {
    const size_t pads[4] = {1, 1, 1, 1};
    problem p;
    problem_make(&p, PNN_S8_WINO2_MAX_CHANNELS, 5, 5, 7, pads, extremes[e], &r);
    check_problem(&p, simd, &scalar, &simd_stats, &r);
    problem_free(&p);
  }

  size_t failures = scalar.failures;
  printf("s8 winograd scalar vs direct convolution: %zu cases, %zu failed\n", scalar.cases, scalar.failures);
  if (simd) {
    printf("s8 winograd %s vs scalar: %zu cases, %zu failed\n", simd->name, simd_stats.cases, simd_stats.failures);
    failures += simd_stats.failures;
  }
  const pnn_s8_wino2_kernel *selected = pnn_s8_wino2_select(&cpu);
#if defined(__x86_64__) || defined(_M_X64)
  const pnn_s8_wino2_kernel *expected = cpu.avx2_fma && !cpu.avx512vnni && !cpu.avxvnni ? &pnn_s8_wino2_avx2 : NULL;
#else
  const pnn_s8_wino2_kernel *expected = NULL;
#endif
  printf("s8 winograd select: %s\n", selected ? selected->name : "none (the s8 GEMM)");
  if (selected != expected) {
    fprintf(stderr, "s8 winograd select picked %s\n", selected ? selected->name : "none");
    ++failures;
  }
  if (failures) printf("FAILED: %zu cases\n", failures);
  return failures ? 1 : 0;
}
