/* Tests the binary kernels (pnn_kernels_b1.h, kernels_c/b1-pack/, kernels_c/b1-bgemm/):
 *   1. pnn_b1_pack_scalar and pnn_b1_pack_avx2 (NCHW and NHWC strides) against the sign
 *      rule written here (bit 1 where the value is < 0; 0, -0 and NaN give 0; padding bits
 *      and words 0);
 *   2. the scalar GEMM and convolution against a naive formula written here on the float
 *      +-1 values (sum of sign(x) * sign(w) over the in-bounds taps, one padding adding
 *      sign(w) for a tap outside), for every output mode: dot probe (multiplier 1, bias
 *      0, no clamp: the float is the exact integer), an affine transform with a clamp
 *      (its product in double, so an FMA contraction changes nothing), and bit-packed
 *      output by per-channel thresholds with negated channels, all exactly;
 *   3. every variant compiled for this target and usable on this CPU against the scalar
 *      kernel, exactly in every mode; each variant also runs as two threads would (rows
 *      split at 64) into one output;
 *   4. pnn_b1_gemm_select picks the best usable variant;
 *   5. every variant's tree-delta path (MST plan: a random forest over the channels, half
 *      of them near-copies of an earlier one so edges touch some words or all) against
 *      the scalar plain kernel, exactly in every mode, and pnn_b1_mst_plan_check accepts
 *      the plan and refuses its corruptions.
 * Cases: K = 1, 63, 64, 65 bits, 8 and 15 words (AVX2's Harley-Seal block of 8, with
 * and without a tail), words past the SIMD byte/16-bit chunks (31, 248, 4095),
 * 1 and odd channels, M = 1 .. 130 (row tile tails, split ranges), 1 pixel, pixel tails,
 * kernels 1x1 .. 5x3 and 7x7, padding at every border (asymmetric, larger than the
 * window: pixels with no in-bounds tap), stride 2, dilation 2, both paddings, ldx and
 * ld_bits wider than needed. Output words and rows outside the range written must keep
 * their sentinel. Plain C, no ISA headers: the same file runs on x86-64, aarch64 (qemu)
 * and wasm32. Exits non-zero on any mismatch and prints how many cases ran. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"
#include "variant_gate.h"
#include "test_support.h"

/* 64-byte aligned, filled with garbage (a kernel must not rely on zeroed scratch). */
static void *scratch_alloc(size_t bytes) {
  const size_t rounded = (bytes + 63) / 64 * 64 + 64;
  unsigned char *p = aligned_alloc(64, rounded);
  if (!p) exit(2);
  memset(p, 0x5C, rounded);
  return p;
}

/* Values whose sign rule is easy to get wrong: zeros of both signs count as +1. */
static float random_value(rng *r) {
  static const float values[] = {-1.5f, -0.25f, -0.0f, 0.0f, 0.5f, 3.0f, -7.0f, 1.0f};
  return values[rng_below(r, sizeof values / sizeof values[0])];
}

static int sign_of(float v) { return v < 0.0f ? -1 : 1; }

static int failures = 0, cases = 0;

#define CHECK(cond, ...)                \
  do {                                  \
    if (!(cond)) {                      \
      if (failures < 20) {              \
        printf("FAIL: " __VA_ARGS__);   \
        printf("\n");                   \
      }                                 \
      ++failures;                       \
    }                                   \
  } while (0)

/* ---- 1. packing ------------------------------------------------------------------- */
static void test_pack(rng *r, pnn_b1_pack_fn pack, const char *name) {
  static const size_t channel_counts[] = {1, 2, 63, 64, 65, 130};
  for (size_t ci = 0; ci < sizeof channel_counts / sizeof channel_counts[0]; ++ci) {
    const size_t C = channel_counts[ci], P = 3 + 67 * (ci % 2), words = pnn_b1_words(C), ldo = words + 1;
    float *x = xmalloc(C * P * sizeof *x);
    for (size_t i = 0; i < C * P; ++i) x[i] = random_value(r);
    x[0] = NAN;
    uint64_t *out = xmalloc(P * ldo * sizeof *out);
    for (int nhwc = 0; nhwc < 2; ++nhwc) {
      memset(out, 0xFF, P * ldo * sizeof *out);
      pack(C, P, x, nhwc ? 1 : P, nhwc ? C : 1, out, ldo);
      for (size_t p = 0; p < P; ++p) {
        for (size_t bit = 0; bit < 64 * ldo; ++bit) {
          const float v = bit < C ? x[nhwc ? p * C + bit : bit * P + p] : 0.0f;
          const unsigned want = v < 0.0f, got = (unsigned)(out[p * ldo + bit / 64] >> (bit % 64)) & 1u;
          CHECK(want == got, "pack %s C=%zu nhwc=%d pixel %zu bit %zu: %u, want %u", name, C, nhwc, p, bit, got,
                want);
        }
      }
      ++cases;
    }
    free(out);
    free(x);
  }
}

/* ---- a layer and its naive result ----------------------------------------------- */
typedef struct layer {
  pnn_conv2d_geometry g; /* a GEMM: 1x1 kernel over an N x 1 image */
  enum pnn_b1_padding padding;
  size_t M, N, cw, kw, ldx, ld_bits;
  float *x, *w;          /* NCHW input, OIHW weights */
  uint64_t *xp, *wp;     /* packed */
  int32_t *tap_pop;
  int32_t *dot;          /* naive, [M][N] */
  float *multiplier, *bias;
  int32_t *threshold;
  uint64_t *negate;
} layer;

static void layer_make(layer *L, rng *r) {
  const pnn_conv2d_geometry *g = &L->g;
  const size_t C = g->channels, taps = g->kernel_h * g->kernel_w, in_pixels = g->in_h * g->in_w;
  L->N = g->out_h * g->out_w;
  L->cw = pnn_b1_words(C);
  L->kw = taps * L->cw;
  L->ldx = L->cw + rng_below(r, 2);
  L->ld_bits = pnn_b1_words(L->M) + rng_below(r, 2);
  L->x = xmalloc(C * in_pixels * sizeof(float));
  L->w = xmalloc(L->M * C * taps * sizeof(float));
  for (size_t i = 0; i < C * in_pixels; ++i) L->x[i] = random_value(r);
  for (size_t i = 0; i < L->M * C * taps; ++i) L->w[i] = random_value(r);
  /* Half the channels copy an earlier one with a few values redrawn, so a tree-delta plan
   * (section 5) has edges that touch only some words, as well as ones that touch all. */
  for (size_t m = 1; m < L->M; ++m) {
    if (rng_below(r, 2)) continue;
    const float *from = L->w + rng_below(r, m) * C * taps;
    for (size_t i = 0; i < C * taps; ++i) L->w[m * C * taps + i] = rng_below(r, 16) ? from[i] : random_value(r);
  }
  L->xp = xmalloc(in_pixels * L->ldx * sizeof(uint64_t));
  pnn_b1_pack_scalar(C, in_pixels, L->x, in_pixels, 1, L->xp, L->ldx);
  L->wp = xmalloc(L->M * L->kw * sizeof(uint64_t));
  L->tap_pop = xmalloc(L->M * taps * sizeof(int32_t));
  pnn_b1_pack_conv_weights(L->M, C, g->kernel_h, g->kernel_w, L->w, L->wp, L->tap_pop);
  L->dot = xmalloc(L->M * L->N * sizeof(int32_t));
  int32_t kmax = 1;
  for (size_t m = 0; m < L->M; ++m) {
    for (size_t n = 0; n < L->N; ++n) {
      const long oy = (long)(n / g->out_w), ox = (long)(n % g->out_w);
      int32_t dot = 0;
      for (size_t c = 0; c < C; ++c) {
        for (size_t i = 0; i < g->kernel_h; ++i) {
          for (size_t j = 0; j < g->kernel_w; ++j) {
            const long iy = oy * (long)g->stride_h - (long)g->pad_top + (long)(i * g->dilation_h);
            const long ix = ox * (long)g->stride_w - (long)g->pad_left + (long)(j * g->dilation_w);
            const int ws = sign_of(L->w[(m * C + c) * taps + i * g->kernel_w + j]);
            if (iy < 0 || ix < 0 || iy >= (long)g->in_h || ix >= (long)g->in_w) {
              if (L->padding == PNN_B1_PAD_ONE) dot += ws;
            } else {
              dot += ws * sign_of(L->x[c * in_pixels + (size_t)iy * g->in_w + (size_t)ix]);
            }
          }
        }
      }
      L->dot[m * L->N + n] = dot;
    }
  }
  kmax = (int32_t)(C * taps);
  L->multiplier = xmalloc(L->M * sizeof(float));
  L->bias = xmalloc(L->M * sizeof(float));
  L->threshold = xmalloc(L->M * sizeof(int32_t));
  L->negate = xmalloc(pnn_b1_words(L->M) * sizeof(uint64_t));
  memset(L->negate, 0, pnn_b1_words(L->M) * sizeof(uint64_t));
  for (size_t m = 0; m < L->M; ++m) {
    L->multiplier[m] = ((float)rng_below(r, 2001) - 1000.0f) / 937.0f;
    L->bias[m] = ((float)rng_below(r, 2001) - 1000.0f) / 13.0f;
    L->threshold[m] = (int32_t)rng_below(r, (size_t)(2 * kmax + 5)) - kmax - 2;
    L->negate[m / 64] |= (uint64_t)(rng_below(r, 2)) << (m % 64);
  }
}

static void layer_free(layer *L) {
  free(L->x), free(L->w), free(L->xp), free(L->wp), free(L->tap_pop), free(L->dot);
  free(L->multiplier), free(L->bias), free(L->threshold), free(L->negate);
}

enum mode { MODE_PROBE, MODE_AFFINE, MODE_BITS, MODE_COUNT };
static const char *const mode_names[] = {"dot", "affine", "bits"};

typedef struct result {
  float *y;
  uint64_t *bits;
  size_t y_count, bit_words;
} result;

static const float Y_SENTINEL = -12345.0f;
static const uint64_t BITS_SENTINEL = 0xA5A5A5A5A5A5A5A5ull;

/* Runs kernel k on layer L (as a GEMM when gemm is set) in the given mode over the row
 * ranges [0, split) and [split, M). The float output is NCHW [M][N] for a conv, [N][M]
 * (dense) for a GEMM. */
static pnn_b1_output output_make(const layer *L, int gemm, enum mode mode, result *res, const float *ones,
                                 const float *zeros) {
  res->y_count = L->M * L->N;
  res->bit_words = L->N * L->ld_bits;
  res->y = xmalloc(res->y_count * sizeof(float));
  res->bits = xmalloc(res->bit_words * sizeof(uint64_t));
  for (size_t i = 0; i < res->y_count; ++i) res->y[i] = Y_SENTINEL;
  for (size_t i = 0; i < res->bit_words; ++i) res->bits[i] = BITS_SENTINEL;
  pnn_b1_output out;
  memset(&out, 0, sizeof out);
  if (mode == MODE_BITS) {
    out.bits = res->bits;
    out.ld_bits = L->ld_bits;
    out.threshold = L->threshold;
    out.negate = L->negate;
  } else {
    out.y = res->y;
    out.y_stride_m = gemm ? 1 : L->N;
    out.y_stride_n = gemm ? L->M : 1;
    out.multiplier = mode == MODE_PROBE ? ones : L->multiplier;
    out.bias = mode == MODE_PROBE ? zeros : L->bias;
    out.lo = mode == MODE_PROBE ? -INFINITY : -40.0f;
    out.hi = mode == MODE_PROBE ? INFINITY : 55.0f;
  }
  return out;
}

static void run_kernel(const pnn_b1_gemm_kernel *k, const layer *L, int gemm, enum mode mode,
                       size_t split, result *res, const float *ones, const float *zeros) {
  const pnn_b1_output out = output_make(L, gemm, mode, res, ones, zeros);
  const size_t bytes = gemm ? k->gemm_scratch_size(L->kw) : k->conv_scratch_size(&L->g);
  void *scratch = scratch_alloc(bytes);
  const size_t bounds[3] = {0, split, L->M};
  for (size_t part = 0; part < 2; ++part) {
    if (bounds[part] == bounds[part + 1]) continue;
    if (gemm) {
      k->gemm(L->M, L->N, L->kw, L->g.channels, bounds[part], bounds[part + 1], L->wp, L->xp, L->ldx,
              &out, scratch);
    } else {
      k->conv(&L->g, L->padding, L->M, bounds[part], bounds[part + 1], L->wp, L->tap_pop, L->xp, L->ldx,
              &out, scratch);
    }
  }
  free(scratch);
}

static void run_mst(const pnn_b1_gemm_kernel *k, const layer *L, const pnn_b1_mst_plan *plan, int gemm,
                    enum mode mode, result *res, const float *ones, const float *zeros) {
  const pnn_b1_output out = output_make(L, gemm, mode, res, ones, zeros);
  const size_t bytes = gemm ? k->mst_gemm_scratch_size(L->kw, L->M) : k->mst_conv_scratch_size(&L->g, L->M);
  void *scratch = scratch_alloc(bytes);
  if (gemm) {
    k->mst_gemm(L->M, L->N, L->kw, L->g.channels, L->wp, plan, L->xp, L->ldx, &out, scratch);
  } else {
    k->mst_conv(&L->g, L->padding, L->M, L->wp, L->tap_pop, plan, L->xp, L->ldx, &out, scratch);
  }
  free(scratch);
}

static float naive_float(const layer *L, enum mode mode, size_t m, size_t n) {
  const int32_t dot = L->dot[m * L->N + n];
  if (mode == MODE_PROBE) return (float)dot;
  const float v = (float)((double)L->multiplier[m] * dot + (double)L->bias[m]);
  return v < -40.0f ? -40.0f : (v > 55.0f ? 55.0f : v);
}

/* Compares a result with the naive formula (want == NULL) or another result. */
static void compare(const char *what, const layer *L, int gemm, enum mode mode, const result *got,
                    const result *want) {
  for (size_t m = 0; m < L->M; ++m) {
    for (size_t n = 0; n < L->N; ++n) {
      const size_t at = gemm ? n * L->M + m : m * L->N + n;
      if (mode == MODE_BITS) {
        const unsigned g = (unsigned)(got->bits[n * L->ld_bits + m / 64] >> (m % 64)) & 1u;
        unsigned w;
        if (want) {
          w = (unsigned)(want->bits[n * L->ld_bits + m / 64] >> (m % 64)) & 1u;
        } else {
          w = (unsigned)(L->dot[m * L->N + n] < L->threshold[m]) ^ ((unsigned)(L->negate[m / 64] >> (m % 64)) & 1u);
        }
        CHECK(g == w, "%s bits m=%zu n=%zu: %u, want %u", what, m, n, g, w);
      } else {
        const float w = want ? want->y[at] : naive_float(L, mode, m, n);
        CHECK(got->y[at] == w, "%s %s m=%zu n=%zu: %.9g, want %.9g", what, mode_names[mode], m, n, got->y[at], w);
      }
    }
  }
  if (mode == MODE_BITS) {
    /* Bits past M are 0, words past them untouched. */
    const size_t words = pnn_b1_words(L->M);
    for (size_t n = 0; n < L->N; ++n) {
      const uint64_t last = got->bits[n * L->ld_bits + words - 1];
      CHECK(L->M % 64 == 0 || (last >> (L->M % 64)) == 0, "%s: bits past M set at pixel %zu", what, n);
      for (size_t w = words; w < L->ld_bits; ++w) {
        CHECK(got->bits[n * L->ld_bits + w] == BITS_SENTINEL, "%s: word %zu of pixel %zu written", what, w, n);
      }
    }
  } else {
    for (size_t i = 0; i < got->bit_words; ++i) CHECK(got->bits[i] == BITS_SENTINEL, "%s: bits written", what);
  }
}

static void result_free(result *r) { free(r->y), free(r->bits); }

typedef struct variant {
  const pnn_b1_gemm_kernel *kernel;
  int usable;
} variant;

static variant variants[8];
static size_t variant_count = 0;
static rng plan_rng = {777};

/* ---- 5. tree-delta (MST) plans ------------------------------------------------------ */
typedef struct plan_store {
  pnn_b1_mst_plan plan;
  uint32_t *order, *parent, *begin, *word;
  int32_t *bits;
  uint64_t *mask;
  size_t count; /* delta words */
} plan_store;

/* A random forest over L's channels (1 to 3 roots, each child under a random earlier
 * channel of the order) and its deltas from the packed rows. */
static void plan_make(const layer *L, rng *r, plan_store *P) {
  const size_t M = L->M, kw = L->kw;
  P->order = xmalloc(M * sizeof(uint32_t));
  P->parent = xmalloc(M * sizeof(uint32_t));
  P->bits = xmalloc(M * sizeof(int32_t));
  P->begin = xmalloc((M + 1) * sizeof(uint32_t));
  P->word = xmalloc(M * kw * sizeof(uint32_t));
  P->mask = xmalloc(M * kw * sizeof(uint64_t));
  for (size_t i = 0; i < M; ++i) P->order[i] = (uint32_t)i;
  for (size_t i = M; i > 1; --i) {
    const size_t j = rng_below(r, i);
    const uint32_t t = P->order[i - 1];
    P->order[i - 1] = P->order[j], P->order[j] = t;
  }
  const size_t roots = 1 + rng_below(r, M < 3 ? M : 3);
  for (size_t m = 0; m < M; ++m) P->parent[m] = (uint32_t)m, P->bits[m] = 0;
  for (size_t i = roots; i < M; ++i) P->parent[P->order[i]] = P->order[rng_below(r, i)];
  P->count = 0;
  for (size_t m = 0; m < M; ++m) {
    P->begin[m] = (uint32_t)P->count;
    if (P->parent[m] == m) continue;
    for (size_t k = 0; k < kw; ++k) {
      const uint64_t diff = L->wp[m * kw + k] ^ L->wp[P->parent[m] * kw + k];
      if (!diff) continue;
      P->word[P->count] = (uint32_t)k;
      P->mask[P->count++] = diff;
      for (uint64_t v = diff; v; v &= v - 1) ++P->bits[m];
    }
  }
  P->begin[M] = (uint32_t)P->count;
  P->plan = (pnn_b1_mst_plan){roots, P->order, P->parent, P->bits, P->begin, P->word, P->mask};
}

static void plan_free(plan_store *P) {
  free(P->order), free(P->parent), free(P->bits), free(P->begin), free(P->word), free(P->mask);
}

/* The check accepts the plan and refuses each corruption of it. */
static void check_plan_validation(const layer *L, plan_store *P, const char *label) {
  const size_t M = L->M, kw = L->kw;
  CHECK(pnn_b1_mst_plan_check(M, kw, L->wp, &P->plan, P->count) == 0, "%s: valid plan refused", label);
  pnn_b1_mst_plan bad = P->plan;
  bad.roots = M + 1;
  CHECK(pnn_b1_mst_plan_check(M, kw, L->wp, &bad, P->count) != 0, "%s: roots > M accepted", label);
  bad = P->plan, bad.roots = 0;
  CHECK(pnn_b1_mst_plan_check(M, kw, L->wp, &bad, P->count) != 0, "%s: no root accepted", label);
  CHECK(pnn_b1_mst_plan_check(M, kw, L->wp, &P->plan, P->count ? P->count - 1 : 0) != 0 || P->count == 0,
        "%s: offsets past the delta count accepted", label);
  if (M > 1) {
    const uint32_t first = P->order[0];
    P->order[0] = P->order[1];
    CHECK(pnn_b1_mst_plan_check(M, kw, L->wp, &P->plan, P->count) != 0, "%s: repeated channel accepted", label);
    P->order[0] = first;
    const uint32_t child = P->order[M - 1], parent = P->parent[child];
    P->parent[child] = child; /* itself: not before it */
    CHECK(pnn_b1_mst_plan_check(M, kw, L->wp, &P->plan, P->count) != 0 || P->plan.roots == M,
          "%s: parent after child accepted", label);
    P->parent[child] = (uint32_t)M;
    CHECK(pnn_b1_mst_plan_check(M, kw, L->wp, &P->plan, P->count) != 0 || P->plan.roots == M,
          "%s: parent out of range accepted", label);
    P->parent[child] = parent;
  }
  if (P->count > 0) {
    P->mask[0] ^= 1;
    CHECK(pnn_b1_mst_plan_check(M, kw, L->wp, &P->plan, P->count) != 0, "%s: wrong mask accepted", label);
    P->mask[0] ^= 1;
    const uint32_t word = P->word[0];
    P->word[0] = (uint32_t)kw;
    CHECK(pnn_b1_mst_plan_check(M, kw, L->wp, &P->plan, P->count) != 0, "%s: word past kw accepted", label);
    P->word[0] = word;
    P->bits[P->order[M - 1]] += 1;
    CHECK(pnn_b1_mst_plan_check(M, kw, L->wp, &P->plan, P->count) != 0 || P->begin[P->order[M - 1]] ==
          P->begin[P->order[M - 1] + 1], "%s: wrong d accepted", label);
    P->bits[P->order[M - 1]] -= 1;
  }
  CHECK(pnn_b1_mst_plan_check(M, kw, L->wp, &P->plan, P->count) == 0, "%s: restored plan refused", label);
}

/* Runs kernel k's tree-delta path: the whole output in one call, like run_kernel. */
static void run_mst(const pnn_b1_gemm_kernel *k, const layer *L, const pnn_b1_mst_plan *plan, int gemm,
                    enum mode mode, result *res, const float *ones, const float *zeros);

static void check_layer(layer *L, int gemm, const char *label) {
  float *ones = xmalloc(L->M * sizeof(float)), *zeros = xmalloc(L->M * sizeof(float));
  for (size_t m = 0; m < L->M; ++m) ones[m] = 1.0f, zeros[m] = 0.0f;
  plan_store plan;
  plan_make(L, &plan_rng, &plan);
  check_plan_validation(L, &plan, label);
  for (int mode = 0; mode < MODE_COUNT; ++mode) {
    result ref;
    run_kernel(&pnn_b1_gemm_scalar, L, gemm, (enum mode)mode, L->M, &ref, ones, zeros);
    char what[224];
    snprintf(what, sizeof what, "%s scalar", label);
    compare(what, L, gemm, (enum mode)mode, &ref, NULL);
    for (size_t v = 0; v < variant_count; ++v) {
      if (!variants[v].usable) continue;
      result got;
      const size_t split = L->M > 64 ? 64 : L->M;
      run_kernel(variants[v].kernel, L, gemm, (enum mode)mode, split, &got, ones, zeros);
      snprintf(what, sizeof what, "%s %s", label, variants[v].kernel->name);
      compare(what, L, gemm, (enum mode)mode, &got, &ref);
      result_free(&got);
    }
    for (size_t v = 0; v <= variant_count; ++v) {
      const pnn_b1_gemm_kernel *k = v == variant_count ? &pnn_b1_gemm_scalar : variants[v].kernel;
      if (v < variant_count && !variants[v].usable) continue;
      result got;
      run_mst(k, L, &plan.plan, gemm, (enum mode)mode, &got, ones, zeros);
      snprintf(what, sizeof what, "%s %s tree-delta", label, k->name);
      compare(what, L, gemm, (enum mode)mode, &got, &ref);
      result_free(&got);
    }
    result_free(&ref);
    ++cases;
  }
  plan_free(&plan);
  free(ones), free(zeros);
}

/* ---- 2./3. GEMM and convolution cases ---------------------------------------------- */
static void test_gemm(rng *r) {
  /* 8 * 64 and 14 * 64 + 5: one AVX2 Harley-Seal block of 8 words exactly, and one
   * with the 7-word tail */
  static const size_t Ks[] = {1, 63, 64, 65, 200, 8 * 64, 14 * 64 + 5, 31 * 64 + 1, 40 * 64};
  static const size_t Ms[] = {1, 5, 64, 67, 130};
  static const size_t Ns[] = {1, 4, 17, 33};
  for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ++ki) {
    for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; ++mi) {
      const size_t N = Ns[(ki + mi) % (sizeof Ns / sizeof Ns[0])];
      layer L;
      memset(&L, 0, sizeof L);
      L.g = (pnn_conv2d_geometry){Ks[ki], N, 1, N, 1, 1, 1, 1, 1, 1, 1, 0, 0};
      L.M = Ms[mi];
      layer_make(&L, r);
      char label[96];
      snprintf(label, sizeof label, "gemm M=%zu N=%zu K=%zu", L.M, N, Ks[ki]);
      check_layer(&L, 1, label);
      layer_free(&L);
    }
  }
  /* Past a 16-bit lane's 4095 words (NEON, SIMD128) and AVX2's 31 blocks of 8 words. */
  layer L;
  memset(&L, 0, sizeof L);
  L.g = (pnn_conv2d_geometry){4100 * 64 - 3, 5, 1, 5, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  L.M = 3;
  layer_make(&L, r);
  check_layer(&L, 1, "gemm M=3 N=5 K=262397");
  layer_free(&L);
}

typedef struct conv_case {
  size_t C, H, W, M, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} conv_case;

static void test_conv(rng *r) {
  static const conv_case convs[] = {
      /* C   H   W   M  kh kw sh sw dh dw pt pl pb pr */
      {1, 5, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {63, 7, 5, 65, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {64, 6, 6, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
      {65, 9, 8, 67, 3, 3, 1, 2, 2, 2, 2, 2, 2, 2},
      {130, 4, 4, 130, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {3, 1, 1, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* 1 pixel, every tap but the centre out */
      {5, 6, 7, 9, 5, 3, 2, 1, 1, 2, 3, 0, 1, 4},   /* asymmetric, wider than the window */
      {2, 4, 4, 4, 3, 3, 1, 1, 1, 1, 3, 3, 3, 3},   /* pixels with no in-bounds tap */
      {256, 6, 5, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* 36 words: past AVX2's 31-word chunk */
      {17, 12, 11, 33, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},
  };
  for (size_t i = 0; i < sizeof convs / sizeof convs[0]; ++i) {
    const conv_case *c = &convs[i];
    for (int padding = 0; padding < 2; ++padding) {
      layer L;
      memset(&L, 0, sizeof L);
      const size_t out_h = (c->H + c->pt + c->pb - ((c->kh - 1) * c->dh + 1)) / c->sh + 1;
      const size_t out_w = (c->W + c->pl + c->pr - ((c->kw - 1) * c->dw + 1)) / c->sw + 1;
      L.g = (pnn_conv2d_geometry){c->C, c->H, c->W, out_h, out_w, c->kh, c->kw, c->sh, c->sw, c->dh, c->dw,
                                  c->pt, c->pl};
      L.M = c->M;
      L.padding = (enum pnn_b1_padding)padding;
      layer_make(&L, r);
      char label[160];
      snprintf(label, sizeof label, "conv C=%zu %zux%zu M=%zu k=%zux%zu s=%zu,%zu d=%zu,%zu pad=%zu,%zu,%zu,%zu %s",
               c->C, c->H, c->W, c->M, c->kh, c->kw, c->sh, c->sw, c->dh, c->dw, c->pt, c->pl, c->pb, c->pr,
               padding ? "one" : "zero");
      check_layer(&L, 0, label);
      layer_free(&L);
    }
  }
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
#if defined(__x86_64__) || defined(_M_X64)
  variants[variant_count++] = (variant){&pnn_b1_gemm_avx2, variant_usable("b1-bgemm", "avx2", cpu.avx2_fma)};
  variants[variant_count++] = (variant){&pnn_b1_gemm_avx512bw, variant_usable("b1-bgemm", "avx512bw", cpu.avx512bw)};
  variants[variant_count++] =
      (variant){&pnn_b1_gemm_avx512vpopcnt, variant_usable("b1-bgemm", "avx512vpopcnt", cpu.avx512vpopcntdq)};
  const pnn_b1_gemm_kernel *best = cpu.avx512vpopcntdq ? &pnn_b1_gemm_avx512vpopcnt
                                   : cpu.avx512bw      ? &pnn_b1_gemm_avx512bw
                                   : cpu.avx2_fma      ? &pnn_b1_gemm_avx2
                                                       : &pnn_b1_gemm_scalar;
#elif defined(__aarch64__)
  variants[variant_count++] = (variant){&pnn_b1_gemm_neon, 1};
  const pnn_b1_gemm_kernel *best = &pnn_b1_gemm_neon;
#elif defined(__wasm_simd128__)
  variants[variant_count++] = (variant){&pnn_b1_gemm_wasmsimd, 1};
  const pnn_b1_gemm_kernel *best = &pnn_b1_gemm_wasmsimd;
#else
  const pnn_b1_gemm_kernel *best = &pnn_b1_gemm_scalar;
#endif
  CHECK(pnn_b1_gemm_select(&cpu) == best, "select picked %s, want %s", pnn_b1_gemm_select(&cpu)->name, best->name);
  rng r = {20261206};
  test_pack(&r, pnn_b1_pack_scalar, "scalar");
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu.avx2_fma) {
    test_pack(&r, pnn_b1_pack_avx2, "avx2");
  } else {
    printf("SKIPPED pack avx2: this CPU cannot run it\n");
  }
  CHECK(pnn_b1_pack_select(&cpu) == (cpu.avx2_fma ? pnn_b1_pack_avx2 : pnn_b1_pack_scalar), "pack select");
#else
  CHECK(pnn_b1_pack_select(&cpu) == pnn_b1_pack_scalar, "pack select");
#endif
  test_gemm(&r);
  test_conv(&r);
  printf("b1 kernels: %d cases, %d failures (variants:", cases, failures);
  for (size_t v = 0; v < variant_count; ++v) printf(" %s%s", variants[v].kernel->name, variants[v].usable ? "" : "(skipped)");
  printf(")\n");
  return failures ? 1 : 0;
}
