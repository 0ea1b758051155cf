/* Tests the u8 x s8 group-sparse kernels (pnn_u8_spmm_*, pnn_kernels_sparse.h).
 *
 * The scalar reference is checked against a naive dense product of W densified from
 * the sparse encoding here, with the requantization of docs/QUANTIZATION.md written
 * independently (a floor division, no shifts). Every SIMD variant this CPU runs (the
 * one pnn_u8_spmm_select picks, plus AVX2 and AVX-512 VNNI on x86 when usable) must
 * match the scalar reference byte for byte. Outputs are pre-filled with the
 * complement of the expected bytes so an output left unwritten is caught, the stride
 * gaps of y and guard bytes after it must stay untouched, and x is allocated exactly
 * as large as the contract allows, so sanitizers catch over-reads.
 *
 * Cases: every group size, every pixel count 1..70 (tails of every vector width), odd
 * channel counts, partial last groups, empty groups, an all-zero layer, one nonzero,
 * cols 1, extreme values (x 0/255, w +-127, K up to 60000 so |acc| nears 2^31), every
 * shift 1..62, clamp windows and zero points, NULL bias, MobileNet-like shapes.
 *
 * Plain C, no ISA headers: the same file runs on x86-64, aarch64 (under qemu) and
 * wasm32. Exits non-zero on any mismatch and prints case counts. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"

#include "variant_gate.h"
#include "test_support.h"

static double rng_unit(rng *r) { return (double)(rng_next(r) & 0xFFFFFF) / (double)0x1000000; }

enum { GUARD = 64, GUARD_BYTE = 0x5A };

/* ---- the arithmetic of docs/QUANTIZATION.md, written independently --------------- */

static int64_t floor_div(int64_t t, int64_t d) {
  const int64_t q = t / d;
  return (t % d != 0 && t < 0) ? q - 1 : q;
}

static uint8_t naive_output(int64_t acc, int32_t multiplier, int32_t shift, int32_t zero_point,
                            int32_t lo, int32_t hi) {
  const int64_t divisor = (int64_t)1 << shift;
  const int64_t v = zero_point + floor_div(acc * multiplier + divisor / 2, divisor);
  return (uint8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* A multiplier/shift pair: a scale that maps accumulators of magnitude ~acc_scale onto
 * a few hundred steps (most outputs inside the clamp), any shift 1..62 with any
 * multiplier, or an edge value. */
static void random_requant(rng *r, double acc_scale, int32_t *multiplier, int32_t *shift) {
  static const int32_t edge_multipliers[] = {0, 1, INT32_MAX, 1 << 30};
  switch (rng_below(r, 4)) {
    case 0:
    case 1: { /* m = M / 2^S about 100 / acc_scale, in the converter's dyadic form */
      int e;
      const double q = frexp(100.0 / acc_scale * (0.25 + rng_unit(r)), &e);
      long long M = llround(q * 2147483648.0);
      if (M == 2147483648LL) {
        M = 1LL << 30;
        e += 1;
      }
      const int S = 31 - e;
      *multiplier = S > 62 ? 0 : (int32_t)M;
      *shift = S > 62 ? 62 : (S < 1 ? 1 : S);
      return;
    }
    case 2:
      *shift = (int32_t)rng_range(r, 1, 62);
      *multiplier = (int32_t)rng_range(r, 0, INT32_MAX);
      return;
    default:
      *shift = rng_below(r, 2) ? 1 : 62 - (int32_t)rng_below(r, 3);
      *multiplier = edge_multipliers[rng_below(r, 4)];
      return;
  }
}

/* ---- generated layers ------------------------------------------------------------ */

enum pattern {
  PAT_RANDOM, /* each (group, column) kept with probability `density` */
  PAT_EMPTY,  /* random, but every other group empty */
  PAT_ZERO,   /* no nonzeros at all */
  PAT_ONE,    /* a single nonzero column in a single group */
};

enum values { VAL_RANDOM, VAL_EXTREME /* w +-127 and x 0/255 */, VAL_MAX /* w 127, x 255 */,
              VAL_MIN /* w -127, x 255 */ };

typedef struct layer {
  pnn_sparse_s8 w;
  uint32_t *group_nnz, *indices;
  int8_t *values;
  int8_t *dense; /* rows x cols, decoded from the sparse form */
} layer;

static int8_t draw_weight(rng *r, int values) {
  switch (values) {
    case VAL_EXTREME: return rng_below(r, 2) ? 127 : -127;
    case VAL_MAX: return 127;
    case VAL_MIN: return -127;
    default: return (int8_t)rng_range(r, -127, 127);
  }
}

static void make_layer(layer *s, size_t rows, size_t cols, size_t G, int pattern,
                       double density, int values, rng *r) {
  const size_t n_groups = (rows + G - 1) / G;
  s->group_nnz = (uint32_t *)xmalloc(n_groups * sizeof(uint32_t));
  s->indices = (uint32_t *)xmalloc(n_groups * cols * sizeof(uint32_t));
  s->values = (int8_t *)xmalloc(n_groups * cols * G);
  const size_t one_group = rng_below(r, n_groups), one_col = rng_below(r, cols);
  size_t total = 0;
  for (size_t g = 0; g < n_groups; ++g) {
    uint32_t nnz = 0;
    for (size_t k = 0; k < cols; ++k) {
      int keep;
      switch (pattern) {
        case PAT_ZERO: keep = 0; break;
        case PAT_ONE: keep = g == one_group && k == one_col; break;
        case PAT_EMPTY: keep = g % 2 == 1 && rng_unit(r) < density; break;
        default: keep = rng_unit(r) < density; break;
      }
      if (!keep) continue;
      s->indices[total] = (uint32_t)k;
      for (size_t i = 0; i < G; ++i)
        s->values[total * G + i] = g * G + i < rows ? draw_weight(r, values) : 0; /* padding: 0 */
      ++total;
      ++nnz;
    }
    s->group_nnz[g] = nnz;
  }
  s->w.rows = rows;
  s->w.cols = cols;
  s->w.group = G;
  s->w.n_groups = n_groups;
  s->w.group_nnz = s->group_nnz;
  s->w.indices = s->indices;
  s->w.values = s->values;
  /* Dense W decoded from the encoding. */
  s->dense = (int8_t *)xmalloc(rows * cols);
  memset(s->dense, 0, rows * cols);
  const uint32_t *idx = s->indices;
  const int8_t *val = s->values;
  for (size_t g = 0; g < n_groups; ++g) {
    for (size_t j = 0; j < s->group_nnz[g]; ++j)
      for (size_t i = 0; i < G && g * G + i < rows; ++i)
        s->dense[(g * G + i) * cols + idx[j]] = val[j * G + i];
    idx += s->group_nnz[g];
    val += s->group_nnz[g] * G;
  }
}

static void free_layer(layer *s) {
  free(s->group_nnz);
  free(s->indices);
  free(s->values);
  free(s->dense);
}

/* ---- one case --------------------------------------------------------------------- */

typedef struct spmm_case {
  size_t rows, cols, G, pixels, x_stride, y_stride;
  int pattern, values, with_bias;
  double density;
  int shift_sweep; /* row m gets shift 1 + m % 62 */
} spmm_case;

typedef struct variant {
  const char *name;
  pnn_u8_spmm_fn fn;
  size_t cases, failures;
} variant;

static size_t checked = 0, failures = 0;

static void run_case(const spmm_case *t, variant *variants, size_t n_variants, rng *r) {
  layer s;
  make_layer(&s, t->rows, t->cols, t->G, t->pattern, t->density, t->values, r);
  const size_t P = t->pixels, M = t->rows, K = t->cols;
  const size_t x_size = (K - 1) * t->x_stride + P;
  const size_t y_size = (M - 1) * t->y_stride + P;
  uint8_t *x = (uint8_t *)xmalloc(x_size);
  for (size_t i = 0; i < x_size; ++i) {
    if (t->values == VAL_RANDOM) x[i] = (uint8_t)rng_below(r, 256);
    else if (t->values == VAL_EXTREME) x[i] = rng_below(r, 2) ? 255 : 0;
    else x[i] = 255;
  }
  /* Bias with a folded x zero point, kept so |acc| < 2^31 (extreme cases: none). */
  int32_t *bias = (int32_t *)xmalloc(M * sizeof(int32_t));
  const int32_t x_zero_point = (int32_t)rng_below(r, 256);
  for (size_t m = 0; m < M; ++m) {
    int64_t row_sum = 0;
    for (size_t k = 0; k < K; ++k) row_sum += s.dense[m * K + k];
    bias[m] = t->values == VAL_RANDOM
                  ? (int32_t)(rng_range(r, -100000, 100000) - x_zero_point * row_sum)
                  : 0;
  }
  const int32_t *b = t->with_bias ? bias : NULL;

  /* Naive dense accumulators, and their typical size for the requantization scale. */
  int64_t *acc = (int64_t *)xmalloc(M * P * sizeof(int64_t));
  double acc_scale = 1.0;
  for (size_t m = 0; m < M; ++m) {
    for (size_t p = 0; p < P; ++p) {
      int64_t sum = b ? b[m] : 0;
      for (size_t k = 0; k < K; ++k) sum += (int64_t)s.dense[m * K + k] * x[k * t->x_stride + p];
      acc[m * P + p] = sum;
      if (fabs((double)sum) > acc_scale) acc_scale = fabs((double)sum);
    }
  }
  int32_t *multiplier = (int32_t *)xmalloc(M * sizeof(int32_t));
  int32_t *shift = (int32_t *)xmalloc(M * sizeof(int32_t));
  for (size_t m = 0; m < M; ++m) {
    random_requant(r, acc_scale, &multiplier[m], &shift[m]);
    if (t->shift_sweep) shift[m] = 1 + (int32_t)(m % 62);
  }
  pnn_requant rq;
  rq.multiplier = multiplier;
  rq.shift = shift;
  rq.zero_point = (int32_t)rng_below(r, 256);
  switch (rng_below(r, 4)) {
    case 0: rq.lo = 0; rq.hi = 255; break;
    case 1: rq.lo = rq.zero_point; rq.hi = 255; break; /* fused ReLU */
    case 2: /* fused Clip */
      rq.lo = rq.zero_point;
      rq.hi = rq.zero_point + (int32_t)rng_below(r, (size_t)(256 - rq.zero_point));
      break;
    default: {
      const int32_t u = (int32_t)rng_below(r, 256), v = (int32_t)rng_below(r, 256);
      rq.lo = u < v ? u : v;
      rq.hi = u < v ? v : u;
    }
  }
  uint8_t *want = (uint8_t *)xmalloc(M * P);
  for (size_t m = 0; m < M; ++m)
    for (size_t p = 0; p < P; ++p)
      want[m * P + p] =
          naive_output(acc[m * P + p], multiplier[m], shift[m], rq.zero_point, rq.lo, rq.hi);

  uint8_t *ref = (uint8_t *)xmalloc(y_size + GUARD);
  uint8_t *got = (uint8_t *)xmalloc(y_size + GUARD);
  for (size_t v = 0; v < n_variants; ++v) {
    /* Expected bytes complemented at the outputs, GUARD_BYTE in the gaps and after. */
    memset(got, GUARD_BYTE, y_size + GUARD);
    for (size_t m = 0; m < M; ++m)
      for (size_t p = 0; p < P; ++p) got[m * t->y_stride + p] = (uint8_t)~want[m * P + p];
    variants[v].fn(&s.w, P, x, t->x_stride, b, &rq, got, t->y_stride);
    variants[v].cases++;
    checked++;
    int bad = 0;
    for (size_t i = 0; i < y_size + GUARD && !bad; ++i) {
      const size_t m = i / t->y_stride, p = i % t->y_stride;
      const int inside = m < M && p < P;
      const uint8_t expected = !inside ? GUARD_BYTE : (v == 0 ? want[m * P + p] : ref[i]);
      if (got[i] != expected) {
        fprintf(stderr,
                "FAIL %s: rows %zu cols %zu G %zu pixels %zu xs %zu ys %zu pattern %d values %d "
                "bias %d: byte %zu (y[%zu][%zu]%s) = %d, expected %d (M %d S %d zp %d [%d, %d])\n",
                variants[v].name, M, K, t->G, P, t->x_stride, t->y_stride, t->pattern, t->values,
                t->with_bias, i, m, p, inside ? "" : ", outside", got[i], expected,
                m < M ? multiplier[m] : 0, m < M ? shift[m] : 0, rq.zero_point, rq.lo, rq.hi);
        bad = 1;
      }
    }
    if (v == 0) memcpy(ref, got, y_size + GUARD);
    variants[v].failures += (size_t)bad;
    failures += (size_t)bad;
  }
  free(x);
  free(bias);
  free(acc);
  free(multiplier);
  free(shift);
  free(want);
  free(ref);
  free(got);
  free_layer(&s);
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  variant variants[4];
  size_t n = 0;
  variants[n++] = (variant){"scalar", pnn_u8_spmm_scalar, 0, 0}; /* first: vs the naive form */
  const char *selected = "";
  const pnn_u8_spmm_fn pick = pnn_u8_spmm_select(&cpu, &selected);
#if defined(__x86_64__) || defined(_M_X64)
  if (variant_usable("u8-spmm", "avx2", cpu.avx2_fma)) variants[n++] = (variant){"avx2", pnn_u8_spmm_avx2, 0, 0};
  if (variant_usable("u8-spmm", "avx512vnni", cpu.avx512vnni)) variants[n++] = (variant){"avx512vnni", pnn_u8_spmm_avx512vnni, 0, 0};
#endif
  int listed = 0;
  for (size_t v = 0; v < n; ++v) listed |= variants[v].fn == pick;
  if (!listed) variants[n++] = (variant){selected, pick, 0, 0};

  rng r = {0x5eed0858ull};
  static const size_t GROUPS[] = {1, 2, 4, 8};
  for (size_t gi = 0; gi < 4; ++gi) {
    const size_t G = GROUPS[gi];
    /* Every pixel count 1..70; varied rows (partial last groups), odd cols, strides. */
    for (size_t P = 1; P <= 70; ++P) {
      spmm_case t = {0};
      t.rows = 1 + rng_below(&r, 3 * G + 2);
      t.cols = 1 + rng_below(&r, 41);
      t.G = G;
      t.pixels = P;
      t.x_stride = P + (P % 3 == 0 ? rng_below(&r, 9) : 0);
      t.y_stride = P + (P % 4 == 1 ? rng_below(&r, 9) : 0);
      t.pattern = P % 7 == 3 ? PAT_EMPTY : PAT_RANDOM;
      t.values = P % 11 == 5 ? VAL_EXTREME : VAL_RANDOM;
      t.density = 0.05 + 0.9 * rng_unit(&r);
      t.with_bias = P % 5 != 0;
      run_case(&t, variants, n, &r);
    }
    /* Special patterns, with and without bias, at tile-edge pixel counts. */
    static const size_t EDGE_PIXELS[] = {15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129};
    for (size_t pi = 0; pi < 4; ++pi) {
      for (size_t e = 0; e < sizeof EDGE_PIXELS / sizeof EDGE_PIXELS[0]; ++e) {
        spmm_case t = {0};
        t.rows = 3 * G + (e % 2 ? G - 1 : 0);
        t.cols = pi == PAT_ONE && e % 3 == 0 ? 1 : 23 + e;
        t.G = G;
        t.pixels = EDGE_PIXELS[e];
        t.x_stride = t.pixels + e % 4;
        t.y_stride = t.pixels + 3 * (e % 2);
        t.pattern = (int)pi;
        t.values = VAL_RANDOM;
        t.density = 0.3;
        t.with_bias = (int)(e % 3 != 1);
        run_case(&t, variants, n, &r);
      }
    }
    /* cols 1, dense. */
    spmm_case c1 = {2 * G + 1, 1, G, 45, 45, 47, PAT_RANDOM, VAL_RANDOM, 1, 1.0, 0};
    run_case(&c1, variants, n, &r);
    /* Every shift 1..62 (one per row), many outputs inside the clamp. */
    spmm_case sweep = {62 + G - 1, 37, G, 67, 67, 67, PAT_RANDOM, VAL_RANDOM, 1, 0.5, 1};
    run_case(&sweep, variants, n, &r);
    /* Extreme values with K large: |acc| up to 60000 * 255 * 127 (about 1.94e9). */
    static const int EXTREMES[] = {VAL_MAX, VAL_MIN, VAL_EXTREME};
    for (size_t e = 0; e < 3; ++e) {
      spmm_case big_k = {G + 1, 60000, G, 21 + 16 * e, 21 + 16 * e, 23 + 16 * e,
                         PAT_RANDOM, EXTREMES[e], 0, 1.0, 0};
      run_case(&big_k, variants, n, &r);
    }
    /* Long groups (more nonzeros than the SIMD variants stage at once), random values,
     * pixel tails that take each tail path. */
    for (size_t e = 0; e < 3; ++e) {
      spmm_case long_groups = {2 * G + 1, 700 + 3 * e, G, 70 + 13 * e, 70 + 13 * e + e, 70 + 13 * e,
                               PAT_RANDOM, VAL_RANDOM, (int)(e != 1), 0.8, 0};
      run_case(&long_groups, variants, n, &r);
    }
    /* MobileNet-like shapes. */
    spmm_case mobilenet = {128, 64, G, 196, 196, 196, PAT_RANDOM, VAL_RANDOM, 1, 0.1, 0};
    run_case(&mobilenet, variants, n, &r);
    spmm_case wide = {61, 301, G, 199, 203, 201, PAT_RANDOM, VAL_RANDOM, 1, 0.5, 0};
    run_case(&wide, variants, n, &r);
  }
  printf("u8 spmm:");
  for (size_t v = 0; v < n; ++v)
    printf(" %s %zu cases %zu failures;", variants[v].name, variants[v].cases,
           variants[v].failures);
  printf(" (selected %s) total %zu checked, %zu failures\n", selected, checked, failures);
  return failures ? 1 : 0;
}
