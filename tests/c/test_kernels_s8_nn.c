/* Tests of the u8 depthwise convolution and the u8 element-wise kernels
 * (pnn_kernels_s8.h, docs/QUANTIZATION.md).
 *
 * The scalar references are checked against a direct formula written here
 * independently: the requantization divides with C's truncating division corrected to
 * a floor (no shifts), padding is an explicit bounds test. Every SIMD variant this CPU
 * runs (the one pnn_*_select picks, and AVX2 on x86 when it is not the pick) must
 * match the scalar reference byte for byte; outputs are pre-filled with the complement
 * of the expected bytes so an output left unwritten is caught too, and guard bytes
 * after every output must stay untouched. The Add is also run in place (y = a, y = b).
 *
 * Plain C, no ISA headers: the same file runs on x86-64, on aarch64 (NEON, under qemu)
 * and on wasm32 (SIMD128). Exits non-zero on any mismatch; prints case counts. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"

#include "variant_gate.h"
#include "test_support.h"

static double rng_log_uniform(rng *r, double lo, double hi) {
  const double t = (double)(rng_next(r) & 0xFFFFFF) / (double)0x1000000;
  return exp(log(lo) + t * (log(hi) - log(lo)));
}

static void *alloc_bytes(size_t n) {
  void *p = malloc(n ? n : 1); /* exactly n bytes, so sanitizers see overreads */
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

/* Bytes after every output buffer that no kernel may touch. */
enum { GUARD = 64, GUARD_BYTE = 0x5A };

static void set_guard(uint8_t *p, size_t n) { memset(p + n, GUARD_BYTE, GUARD); }

static uint8_t *alloc_output(size_t n) {
  uint8_t *p = alloc_bytes(n + GUARD);
  set_guard(p, n);
  return p;
}

static int guard_intact(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < GUARD; ++i)
    if (p[n + i] != GUARD_BYTE) return 0;
  return 1;
}

typedef struct stats {
  const char *name;
  size_t cases, failures;
} stats;

static void record(stats *s, int failed) {
  s->cases++;
  if (failed) s->failures++;
}

/* ---- the arithmetic of docs/QUANTIZATION.md, written independently --------------- */

static int64_t floor_div(int64_t t, int64_t d) {
  const int64_t q = t / d;
  return (t % d != 0 && t < 0) ? q - 1 : q;
}

/* clamp(zero_point + round(scaled / 2^shift), lo, hi) with ties toward +infinity,
 * for scaled = acc * multiplier (or the Add's sum of two such products). */
static int naive_output(int64_t scaled, int32_t shift, int32_t zero_point, int32_t lo, int32_t hi) {
  const int64_t divisor = (int64_t)1 << shift;
  const int64_t v = zero_point + floor_div(scaled + divisor / 2, divisor);
  return (int)(v < lo ? lo : (v > hi ? hi : v));
}

/* The converter's dyadic form of a real multiplier m in (0, 2^30). */
static void dyadic(double m, int32_t *multiplier, int32_t *shift) {
  int e;
  const double q = frexp(m, &e);
  long long M = llround(q * 2147483648.0);
  if (M == 2147483648LL) {
    M = 1LL << 30;
    e += 1;
  }
  int S = 31 - e;
  if (S > 62) {
    M = 0;
    S = 62;
  }
  *multiplier = (int32_t)M;
  *shift = S;
}

/* A multiplier/shift pair from one of several regimes: realistic layer scales, large
 * multipliers (small shifts), shifts at both ends of [1, 62], exact ties, zero and
 * the largest multiplier. */
static void random_requant(rng *r, int32_t *multiplier, int32_t *shift) {
  static const int32_t edge_shifts[] = {1, 2, 9, 10, 30, 31, 32, 33, 61, 62};
  static const int32_t edge_multipliers[] = {0, 1, 2, INT32_MAX, 1 << 30};
  switch (rng_below(r, 9)) {
    case 0:
    case 1:
    case 2: dyadic(rng_log_uniform(r, 1e-6, 0.9), multiplier, shift); return;
    case 3: dyadic(rng_log_uniform(r, 0.5, 1000.0), multiplier, shift); return;
    case 4:
      *shift = (int32_t)rng_range(r, 1, 62);
      *multiplier = (int32_t)rng_range(r, 0, INT32_MAX);
      return;
    case 5:
      *shift = edge_shifts[rng_below(r, sizeof edge_shifts / sizeof edge_shifts[0])];
      *multiplier = rng_below(r, 2) ? (int32_t)rng_range(r, 0, INT32_MAX)
                                    : edge_multipliers[rng_below(r, 5)];
      return;
    case 6: /* ties and tiny thresholds */
      *shift = (int32_t)rng_range(r, 1, 5);
      *multiplier = (int32_t)rng_range(r, 0, 7);
      return;
    case 7: { /* a power of two a few bits above the shift: frequent exact ties */
      const int32_t p = (int32_t)rng_range(r, 0, 30);
      *multiplier = (int32_t)1 << p;
      *shift = p + (int32_t)rng_range(r, 1, 12);
      return;
    }
    default: /* m in [0.5, 2): the accumulator bound of the SIMD paths is small */
      *shift = (int32_t)rng_range(r, 30, 32);
      *multiplier = (int32_t)rng_range(r, 1 << 30, INT32_MAX);
      return;
  }
}

static int32_t pick_zero_point(rng *r, size_t index) {
  static const int32_t points[] = {0, 128, 255};
  return index % 4 == 3 ? (int32_t)rng_below(r, 256) : points[index % 4];
}

/* Output clamp: none, ReLU, ReLU6-like, a random window, a single value. */
static void pick_clamp(rng *r, size_t index, int32_t zero_point, int32_t *lo, int32_t *hi) {
  const int32_t a = (int32_t)rng_below(r, 256), b = (int32_t)rng_below(r, 256);
  switch (index % 5) {
    case 0: *lo = 0; *hi = 255; return;
    case 1: *lo = zero_point; *hi = 255; return;
    case 2: *lo = zero_point; *hi = zero_point + (int32_t)rng_below(r, (size_t)(256 - zero_point)); return;
    case 3: *lo = a < b ? a : b; *hi = a < b ? b : a; return;
    default: *lo = *hi = a; return;
  }
}

static void check_requantize(stats *s) {
  rng r = {0x0123abcdu};
  static const int64_t accs[] = {0, 1, -1, 2, -2, 3, -3, INT32_MAX, -(int64_t)INT32_MAX, 65536, -65537};
  for (int trial = 0; trial < 20000; ++trial) {
    int32_t multiplier, shift;
    random_requant(&r, &multiplier, &shift);
    const int64_t acc = trial % 3 ? rng_range(&r, -(int64_t)INT32_MAX, INT32_MAX)
                                  : accs[(size_t)trial / 3 % (sizeof accs / sizeof accs[0])];
    const int32_t zero_point = pick_zero_point(&r, (size_t)trial);
    int32_t lo, hi;
    pick_clamp(&r, (size_t)trial / 4, zero_point, &lo, &hi);
    const int expected = naive_output(acc * multiplier, shift, zero_point, lo, hi);
    const int32_t got = pnn_requantize(acc, multiplier, shift, zero_point, lo, hi);
    if (got != expected && s->failures < 3)
      fprintf(stderr, "requantize acc=%lld M=%d S=%d zp=%d [%d, %d]: %d, expected %d\n",
              (long long)acc, multiplier, shift, zero_point, lo, hi, got, expected);
    record(s, got != expected);
  }
  /* Ties go toward +infinity: 0.5 -> 1, -0.5 -> 0, -1.5 -> -1. */
  const int ties_ok = pnn_requantize(1, 1, 1, 100, 0, 255) == 101 &&
                      pnn_requantize(-1, 1, 1, 100, 0, 255) == 100 &&
                      pnn_requantize(-3, 1, 1, 100, 0, 255) == 99;
  record(s, !ties_ok);
}

/* ---- depthwise convolution ------------------------------------------------------ */

typedef struct dw_variant {
  pnn_s8_dwconv_fn fn;
  stats s;
} dw_variant;

typedef struct dw_config {
  size_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} dw_config;

/* Output size along one axis, 0 when the kernel does not fit. */
static size_t out_size(size_t in, size_t k, size_t stride, size_t dil, size_t pad_a, size_t pad_b) {
  const size_t span = dil * (k - 1) + 1;
  if (in + pad_a + pad_b < span) return 0;
  return (in + pad_a + pad_b - span) / stride + 1;
}

typedef struct dw_data {
  uint8_t *x;
  int8_t *w;
  int32_t *bias, *multiplier, *shift;
  uint8_t x_zero_point;
  pnn_requant rq;
} dw_data;

/* Inputs, weights, bias and requantization for one case. Data regimes: uniform;
 * extremes only (0/255, +-127); accumulators near the int32 limits; small
 * accumulators (inputs near the zero point, weights in [-1, 1]). */
static void dw_make_data(const pnn_conv2d_geometry *g, rng *r, size_t index, dw_data *d) {
  const size_t taps = g->kernel_h * g->kernel_w, plane = g->in_h * g->in_w;
  const int regime = (int)(index % 4);
  d->x_zero_point = (uint8_t)pick_zero_point(r, index / 4);
  const int zx = d->x_zero_point;
  for (size_t i = 0; i < g->channels * plane; ++i) {
    if (regime == 1 || regime == 2) d->x[i] = rng_below(r, 2) ? 255 : 0;
    else if (regime == 3) d->x[i] = (uint8_t)(zx + (int)rng_range(r, zx < 3 ? -zx : -3, zx > 252 ? 255 - zx : 3));
    else d->x[i] = (uint8_t)rng_below(r, 256);
  }
  const int64_t max_sum = (int64_t)taps * 255 * 127;
  for (size_t c = 0; c < g->channels; ++c) {
    int64_t weight_sum = 0;
    for (size_t t = 0; t < taps; ++t) {
      int8_t v;
      if (regime == 1 || regime == 2) v = rng_below(r, 2) ? 127 : -127;
      else if (regime == 3) v = (int8_t)rng_range(r, -1, 1);
      else v = (int8_t)rng_range(r, -127, 127);
      d->w[c * taps + t] = v;
      weight_sum += v;
    }
    const int64_t fold = -(int64_t)zx * weight_sum;
    int64_t b;
    if (regime == 2) {
      const int64_t limit = INT32_MAX - max_sum; /* |acc| stays below 2^31 */
      b = rng_below(r, 2) ? limit - rng_range(r, 0, 1000) : -limit + rng_range(r, 0, 1000);
    } else if (regime == 3) {
      b = fold + rng_range(r, -600, 600);
    } else {
      b = fold + rng_range(r, -4096, 4096);
    }
    d->bias[c] = (int32_t)b;
    random_requant(r, &d->multiplier[c], &d->shift[c]);
  }
  d->rq.multiplier = d->multiplier;
  d->rq.shift = d->shift;
  d->rq.zero_point = pick_zero_point(r, index / 16);
  pick_clamp(r, index / 3, d->rq.zero_point, &d->rq.lo, &d->rq.hi);
}

static void dw_describe(const pnn_conv2d_geometry *g, const dw_data *d) {
  fprintf(stderr,
          "  C=%zu in=%zux%zu out=%zux%zu k=%zux%zu s=%zu,%zu d=%zu,%zu pad=%zu,%zu zx=%d zy=%d "
          "clamp=[%d, %d]\n",
          g->channels, g->in_h, g->in_w, g->out_h, g->out_w, g->kernel_h, g->kernel_w,
          g->stride_h, g->stride_w, g->dilation_h, g->dilation_w, g->pad_top, g->pad_left,
          d->x_zero_point, d->rq.zero_point, d->rq.lo, d->rq.hi);
}

static void check_dwconv(const pnn_conv2d_geometry *g, rng *r, size_t index, stats *reference,
                         dw_variant *variants, size_t num_variants) {
  const size_t taps = g->kernel_h * g->kernel_w, plane = g->in_h * g->in_w;
  const size_t y_size = g->channels * g->out_h * g->out_w;
  dw_data d;
  d.x = alloc_bytes(g->channels * plane);
  d.w = alloc_bytes(g->channels * taps);
  d.bias = alloc_bytes(g->channels * sizeof(int32_t));
  d.multiplier = alloc_bytes(g->channels * sizeof(int32_t));
  d.shift = alloc_bytes(g->channels * sizeof(int32_t));
  uint8_t *naive = alloc_bytes(y_size), *expected = alloc_output(y_size), *got = alloc_output(y_size);
  dw_make_data(g, r, index, &d);

  for (size_t c = 0; c < g->channels; ++c)
    for (size_t oy = 0; oy < g->out_h; ++oy)
      for (size_t ox = 0; ox < g->out_w; ++ox) {
        int64_t acc = d.bias[c];
        for (size_t i = 0; i < g->kernel_h; ++i)
          for (size_t j = 0; j < g->kernel_w; ++j) {
            const long long iy = (long long)(oy * g->stride_h + i * g->dilation_h) - (long long)g->pad_top;
            const long long ix = (long long)(ox * g->stride_w + j * g->dilation_w) - (long long)g->pad_left;
            const int inside = iy >= 0 && iy < (long long)g->in_h && ix >= 0 && ix < (long long)g->in_w;
            const int xv = inside ? d.x[c * plane + (size_t)iy * g->in_w + (size_t)ix] : d.x_zero_point;
            acc += (int64_t)d.w[c * taps + i * g->kernel_w + j] * xv;
          }
        naive[(c * g->out_h + oy) * g->out_w + ox] = (uint8_t)naive_output(
            acc * d.multiplier[c], d.shift[c], d.rq.zero_point, d.rq.lo, d.rq.hi);
      }

  for (size_t i = 0; i < y_size; ++i) expected[i] = (uint8_t)~naive[i];
  pnn_s8_dwconv_scalar(g, d.x, d.x_zero_point, d.w, d.bias, &d.rq, expected);
  size_t at = 0;
  while (at < y_size && expected[at] == naive[at]) ++at;
  if (!guard_intact(expected, y_size)) at = y_size + 1;
  if (at < y_size && reference->failures < 3) {
    fprintf(stderr, "scalar dwconv: y[%zu] = %d, direct formula %d\n", at, expected[at], naive[at]);
    dw_describe(g, &d);
  }
  record(reference, at != y_size);

  for (size_t v = 0; v < num_variants; ++v) {
    for (size_t i = 0; i < y_size; ++i) got[i] = (uint8_t)~expected[i];
    set_guard(got, y_size);
    variants[v].fn(g, d.x, d.x_zero_point, d.w, d.bias, &d.rq, got);
    at = 0;
    while (at < y_size && got[at] == expected[at]) ++at;
    if (at < y_size && variants[v].s.failures < 3) {
      const size_t c = at / (g->out_h * g->out_w);
      fprintf(stderr, "%s dwconv: y[%zu] (channel %zu, M=%d S=%d) = %d, scalar %d\n",
              variants[v].s.name, at, c, d.multiplier[c], d.shift[c], got[at], expected[at]);
      dw_describe(g, &d);
    }
    const int guard_ok = guard_intact(got, y_size);
    if (!guard_ok) fprintf(stderr, "%s dwconv: wrote past the output\n", variants[v].s.name);
    record(&variants[v].s, at < y_size || !guard_ok);
  }
  free(d.x);
  free(d.w);
  free(d.bias);
  free(d.multiplier);
  free(d.shift);
  free(naive);
  free(expected);
  free(got);
}

static int dw_geometry(const dw_config *k, size_t channels, size_t in_h, size_t in_w,
                       pnn_conv2d_geometry *g) {
  g->channels = channels;
  g->in_h = in_h;
  g->in_w = in_w;
  g->kernel_h = k->kh;
  g->kernel_w = k->kw;
  g->stride_h = k->sh;
  g->stride_w = k->sw;
  g->dilation_h = k->dh;
  g->dilation_w = k->dw;
  g->pad_top = k->pt;
  g->pad_left = k->pl;
  g->out_h = out_size(in_h, k->kh, k->sh, k->dh, k->pt, k->pb);
  g->out_w = out_size(in_w, k->kw, k->sw, k->dw, k->pl, k->pr);
  return g->out_h > 0 && g->out_w > 0;
}

static void test_dwconv(stats *reference, dw_variant *variants, size_t num_variants) {
  static const dw_config configs[] = {
      /* kh kw sh sw dh dw pt pl pb pr */
      {3, 3, 1, 1, 1, 1, 0, 0, 0, 0}, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {3, 3, 2, 2, 1, 1, 0, 0, 0, 0}, {3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
      {3, 3, 2, 2, 1, 1, 0, 0, 1, 1}, /* TensorFlow SAME, stride 2 */
      {3, 3, 1, 1, 1, 1, 1, 0, 0, 1}, {3, 3, 1, 1, 1, 1, 0, 2, 2, 0},
      {3, 3, 2, 2, 1, 1, 2, 1, 0, 2}, {3, 3, 1, 1, 1, 1, 3, 3, 3, 3}, /* rows of padding only */
      /* scalar fallbacks inside the variants */
      {5, 5, 1, 1, 1, 1, 2, 2, 2, 2}, {5, 5, 2, 2, 1, 1, 1, 2, 2, 1},
      {3, 3, 1, 1, 2, 2, 2, 2, 2, 2}, {1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {3, 3, 1, 2, 1, 1, 1, 1, 1, 1}, {3, 3, 3, 3, 1, 1, 1, 1, 1, 1},
  };
  static const size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 14, 15, 17, 33, 115};
  static const size_t channel_counts[] = {1, 2, 3, 5, 16};
  const size_t num_sizes = sizeof sizes / sizeof sizes[0];
  rng r = {0xd0c0ffeeu};
  size_t index = 0;
  for (size_t ci = 0; ci < sizeof configs / sizeof configs[0]; ++ci)
    for (size_t hi = 0; hi < num_sizes; ++hi)
      for (size_t wi = 0; wi < num_sizes; ++wi, ++index) {
        const size_t in_h = sizes[hi], in_w = sizes[wi];
        /* Large planes get few channels to keep the test quick. */
        const size_t channels = in_h * in_w > 1000 ? channel_counts[index % 3] : channel_counts[index % 5];
        pnn_conv2d_geometry g;
        if (dw_geometry(&configs[ci], channels, in_h, in_w, &g))
          check_dwconv(&g, &r, index, reference, variants, num_variants);
      }
  /* Wide rows: bands of a few rows, a band filled to its last word (2707 with stride 1
   * and 2707/2708 with stride 2, padding 1), rows too wide for a band. */
  static const size_t wide[][2] = {{6, 2000}, {5, 2707}, {4, 2708}, {3, 3000}};
  for (size_t i = 0; i < sizeof wide / sizeof wide[0]; ++i)
    for (size_t ci = 1; ci <= 3; ci += 2, ++index) {
      pnn_conv2d_geometry g;
      if (dw_geometry(&configs[ci], 2, wide[i][0], wide[i][1], &g))
        check_dwconv(&g, &r, index, reference, variants, num_variants);
    }
  /* MobileNet's shapes, once each (many channels: every requantization regime). */
  static const size_t mobilenet[][3] = {{32, 112, 1}, {64, 112, 3}, {128, 56, 1}, {256, 28, 3}};
  for (size_t i = 0; i < sizeof mobilenet / sizeof mobilenet[0]; ++i, ++index) {
    pnn_conv2d_geometry g;
    if (dw_geometry(&configs[mobilenet[i][2]], mobilenet[i][0], mobilenet[i][1], mobilenet[i][1], &g))
      check_dwconv(&g, &r, index, reference, variants, num_variants);
  }
}

/* ---- Add ------------------------------------------------------------------------ */

typedef struct add_variant {
  pnn_u8_add_fn fn;
  stats s;
} add_variant;

/* Realistic branch scales (one shared shift from the larger multiplier), shifts below
 * and at the SIMD paths' limits with small and with the largest multipliers, random
 * and edge multipliers. */
static void random_add_params(rng *r, size_t index, pnn_u8_add_params *p) {
  p->a_zero_point = pick_zero_point(r, index);
  p->b_zero_point = pick_zero_point(r, index / 4 + 1);
  p->zero_point = pick_zero_point(r, index / 16 + 2);
  pick_clamp(r, index / 3, p->zero_point, &p->lo, &p->hi);
  switch (index % 7) {
    case 0:
    case 1:
    case 2: {
      const double ma = rng_log_uniform(r, 0.01, 4.0), mb = rng_log_uniform(r, 0.01, 4.0);
      int32_t large;
      dyadic(ma > mb ? ma : mb, &large, &p->shift);
      const int32_t small = (int32_t)llround((ma > mb ? mb : ma) * ldexp(1.0, p->shift));
      p->a_multiplier = ma > mb ? large : small;
      p->b_multiplier = ma > mb ? small : large;
      return;
    }
    case 3:
      p->shift = (int32_t)rng_range(r, 1, 11);
      p->a_multiplier = (int32_t)rng_range(r, 0, rng_below(r, 2) ? 64 : INT32_MAX);
      p->b_multiplier = (int32_t)rng_range(r, 0, rng_below(r, 2) ? 64 : INT32_MAX);
      return;
    case 4: /* the largest sums (2^40) over small shifts: q beyond int32 below shift 9 */
      p->shift = (int32_t)rng_range(r, 1, 12);
      p->a_multiplier = (int32_t)rng_range(r, 1 << 30, INT32_MAX);
      p->b_multiplier = (int32_t)rng_range(r, 1 << 30, INT32_MAX);
      return;
    case 5:
      p->shift = (int32_t)rng_range(r, 1, 62);
      p->a_multiplier = (int32_t)rng_range(r, 0, INT32_MAX);
      p->b_multiplier = (int32_t)rng_range(r, 0, INT32_MAX);
      return;
    default:
      p->shift = rng_below(r, 2) ? 62 : 31;
      p->a_multiplier = rng_below(r, 2) ? INT32_MAX : 0;
      p->b_multiplier = rng_below(r, 2) ? INT32_MAX : (int32_t)rng_range(r, 0, INT32_MAX);
      return;
  }
}

static void fill_u8(rng *r, uint8_t *p, size_t n, int regime) {
  for (size_t i = 0; i < n; ++i)
    p[i] = regime == 1 ? (rng_below(r, 2) ? 255 : 0) : (uint8_t)rng_below(r, 256);
}

static void check_add(size_t n, int broadcast, rng *r, size_t index, stats *reference,
                      add_variant *variants, size_t num_variants) {
  const size_t b_size = broadcast ? 1 : n, b_stride = broadcast ? 0 : 1;
  uint8_t *a = alloc_bytes(n), *b = alloc_bytes(b_size);
  uint8_t *naive = alloc_bytes(n), *expected = alloc_output(n), *got = alloc_output(n);
  pnn_u8_add_params p;
  random_add_params(r, index, &p);
  fill_u8(r, a, n, (int)(index % 2));
  fill_u8(r, b, b_size, (int)(index / 2 % 2));
  for (size_t i = 0; i < n; ++i) {
    const int64_t sum = (int64_t)(a[i] - p.a_zero_point) * p.a_multiplier +
                        (int64_t)(b[i * b_stride] - p.b_zero_point) * p.b_multiplier;
    naive[i] = (uint8_t)naive_output(sum, p.shift, p.zero_point, p.lo, p.hi);
    expected[i] = (uint8_t)~naive[i];
  }
  pnn_u8_add_scalar(n, a, b, b_stride, &p, expected);
  size_t at = 0;
  while (at < n && expected[at] == naive[at]) ++at;
  if (!guard_intact(expected, n)) at = n + 1;
  if (at < n && reference->failures < 3)
    fprintf(stderr, "scalar add n=%zu: y[%zu] = %d, direct formula %d\n", n, at, expected[at], naive[at]);
  record(reference, at != n);
  for (size_t v = 0; v < num_variants; ++v) {
    /* A separate output, then y aliasing a, then (no broadcast) y aliasing b. */
    for (int alias = 0; alias < (broadcast ? 2 : 3); ++alias) {
      set_guard(got, n);
      if (alias == 0) {
        for (size_t i = 0; i < n; ++i) got[i] = (uint8_t)~expected[i];
        variants[v].fn(n, a, b, b_stride, &p, got);
      } else if (alias == 1) {
        memcpy(got, a, n);
        variants[v].fn(n, got, b, b_stride, &p, got);
      } else {
        memcpy(got, b, n);
        variants[v].fn(n, a, got, 1, &p, got);
      }
      at = 0;
      while (at < n && got[at] == expected[at]) ++at;
      if (at < n && variants[v].s.failures < 3)
        fprintf(stderr,
                "%s add n=%zu broadcast=%d alias=%d: y[%zu] = %d, scalar %d (a=%d b=%d za=%d "
                "zb=%d ma=%d mb=%d S=%d zy=%d [%d, %d])\n",
                variants[v].s.name, n, broadcast, alias, at, got[at], expected[at], a[at],
                b[at * b_stride], p.a_zero_point, p.b_zero_point, p.a_multiplier, p.b_multiplier,
                p.shift, p.zero_point, p.lo, p.hi);
      const int guard_ok = guard_intact(got, n);
      if (!guard_ok) fprintf(stderr, "%s add n=%zu: wrote past the output\n", variants[v].s.name, n);
      record(&variants[v].s, at < n || !guard_ok);
    }
  }
  free(a);
  free(b);
  free(naive);
  free(expected);
  free(got);
}

static void test_add(stats *reference, add_variant *variants, size_t num_variants) {
  static const size_t sizes[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4099};
  rng r = {0xadd0add0u};
  size_t index = 0;
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; ++si)
    for (int broadcast = 0; broadcast < 2; ++broadcast)
      for (int trial = 0; trial < 24; ++trial, ++index)
        check_add(sizes[si], broadcast, &r, index, reference, variants, num_variants);
}

/* ---- table lookup and global average pooling ----------------------------------- */

static void test_lut(stats *s) {
  static const size_t sizes[] = {0, 1, 2, 17, 255, 256, 1000, 1 << 20};
  rng r = {0x10071007u};
  uint8_t table[256];
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; ++si) {
    const size_t n = sizes[si];
    for (int i = 0; i < 256; ++i) table[i] = (uint8_t)rng_below(&r, 256);
    uint8_t *x = alloc_bytes(n), *y = alloc_bytes(n);
    fill_u8(&r, x, n, 0);
    for (size_t i = 0; i < n; ++i) y[i] = (uint8_t)~table[x[i]];
    pnn_u8_lut_scalar(n, x, table, y);
    size_t at = 0;
    while (at < n && y[at] == table[x[at]]) ++at;
    if (at < n) fprintf(stderr, "lut n=%zu: y[%zu] = %d, expected %d\n", n, at, y[at], table[x[at]]);
    record(s, at < n);
    free(x);
    free(y);
  }
}

static void test_avgpool(stats *s) {
  static const size_t sizes[] = {1, 2, 3, 7, 49, 196, 1000, 65536, 1 << 20};
  rng r = {0xa5a5f00du};
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; ++si) {
    const size_t n = sizes[si];
    uint8_t *x = alloc_bytes(n);
    for (int trial = 0; trial < 12; ++trial) {
      int32_t x_zero_point = pick_zero_point(&r, (size_t)trial);
      /* Largest sums: all 255 with zero point 0, all 0 with zero point 255. */
      if (trial % 4 == 0) {
        memset(x, 255, n);
        x_zero_point = 0;
      } else if (trial % 4 == 1) {
        memset(x, 0, n);
        x_zero_point = 255;
      } else {
        fill_u8(&r, x, n, trial % 2);
      }
      int32_t multiplier, shift;
      if (trial % 3 == 2) random_requant(&r, &multiplier, &shift);
      else dyadic(rng_log_uniform(&r, 0.5, 2.0) / (double)n, &multiplier, &shift);
      const int32_t zero_point = pick_zero_point(&r, (size_t)trial / 4);
      int64_t acc = 0;
      for (size_t i = 0; i < n; ++i) acc += x[i] - x_zero_point;
      const int expected = naive_output(acc * multiplier, shift, zero_point, 0, 255);
      const int got = pnn_u8_global_avgpool_scalar(n, x, x_zero_point, multiplier, shift, zero_point);
      if (got != expected)
        fprintf(stderr, "avgpool n=%zu zx=%d M=%d S=%d zy=%d: %d, expected %d\n", n, x_zero_point,
                multiplier, shift, zero_point, got, expected);
      record(s, got != expected);
    }
    free(x);
  }
}

/* ---- f32 -> u8 QuantizeLinear --------------------------------------------------- */

typedef struct quantize_variant {
  pnn_f32_quantize_u8_fn fn;
  stats s;
} quantize_variant;

/* The contract written directly: float32 division, ties to even, NaN gives 0. */
static int naive_quantize(float x, float scale, int32_t zero_point) {
  const float q = x / scale;
  if (isnan(q)) return 0;
  const double v = nearbyint((double)q) + zero_point; /* default rounding: ties to even */
  return v < 0 ? 0 : (v > 255 ? 255 : (int)v);
}

static void test_quantize(stats *reference, quantize_variant *variants, size_t num_variants) {
  rng r = {0x0badcafeu};
  const size_t n = 1000;
  float *x = malloc(n * sizeof(float));
  uint8_t *want = alloc_bytes(n), *got = alloc_bytes(n);
  const float specials[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, FLT_MAX, -FLT_MAX, 1e-40f, -1e-40f,
                            8388608.0f, -8388608.0f, 4194304.5f, 1e10f, -1e10f};
  for (int trial = 0; trial < 60; ++trial) {
    /* Powers of two make x / scale exact, so k + 0.5 are real ties. */
    const float scale = trial % 3 == 0 ? ldexpf(1.0f, (int)rng_range(&r, -10, 10))
                                       : (float)rng_log_uniform(&r, 1e-4, 10.0);
    const int32_t zero_point = trial % 4 == 0 ? 0 : (trial % 4 == 1 ? 255 : (int32_t)rng_range(&r, 0, 255));
    for (size_t i = 0; i < n; ++i) {
      const size_t kind = rng_below(&r, 4);
      if (kind == 0) x[i] = specials[rng_below(&r, sizeof specials / sizeof specials[0])];
      else if (kind == 1) x[i] = ((float)rng_range(&r, -400, 400) + 0.5f) * scale;
      else if (kind == 2) x[i] = (float)rng_range(&r, -300, 300) * scale;
      else x[i] = (float)((double)rng_range(&r, -1000000, 1000000) / 1000.0) * scale;
    }
    size_t bad = 0;
    pnn_f32_quantize_u8_scalar(n, x, scale, zero_point, want);
    for (size_t i = 0; i < n; ++i) {
      const int expected = naive_quantize(x[i], scale, zero_point);
      if (want[i] != expected && bad++ == 0)
        fprintf(stderr, "quantize scalar x=%g s=%g z=%d: %d, expected %d\n", (double)x[i], (double)scale,
                zero_point, want[i], expected);
    }
    record(reference, bad != 0);
    for (size_t v = 0; v < num_variants; ++v) {
      /* Every length up to 70 (all tails) at a shifting start, then the whole array. */
      const size_t start = (size_t)trial % 7, len = trial < 59 ? (size_t)trial + 12 : n - start;
      memset(got, 0xAB, n);
      variants[v].fn(len, x + start, scale, zero_point, got + start);
      size_t at = start;
      while (at < start + len && got[at] == want[at]) ++at;
      if (at < start + len)
        fprintf(stderr, "quantize %s x=%g s=%g z=%d: %d, expected %d\n", variants[v].s.name, (double)x[at],
                (double)scale, zero_point, got[at], want[at]);
      record(&variants[v].s, at < start + len || (start > 0 && got[start - 1] != 0xAB) ||
                                 (start + len < n && got[start + len] != 0xAB));
    }
  }
  free(x);
  free(want);
  free(got);
}

/* ---- u8 -> f32 DequantizeLinear -------------------------------------------------- */

typedef struct dequantize_variant {
  pnn_u8_dequantize_f32_fn fn;
  stats s;
} dequantize_variant;

/* The reference against the contract computed in double (one rounding to float), each
 * variant against the reference bit for bit on every length up to 80 at a shifting
 * start (all tails), with nothing written outside [start, start + len). */
static void test_dequantize(stats *reference, dequantize_variant *variants, size_t num_variants) {
  rng r = {0x5eedf00du};
  enum { N = 96 };
  uint8_t x[N];
  float want[N], got[N];
  for (int trial = 0; trial < 81; ++trial) {
    const float scale = trial % 3 == 0 ? ldexpf(1.0f, (int)rng_range(&r, -10, 10))
                                       : (float)rng_log_uniform(&r, 1e-4, 10.0);
    const int32_t zero_point = trial % 4 == 0 ? 0 : (trial % 4 == 1 ? 255 : (int32_t)rng_range(&r, 0, 255));
    fill_u8(&r, x, N, trial % 2);
    pnn_u8_dequantize_f32_scalar(N, x, scale, zero_point, want);
    size_t bad = 0;
    for (size_t i = 0; i < N; ++i)
      if (want[i] != (float)((double)((int32_t)x[i] - zero_point) * (double)scale)) ++bad;
    if (bad) fprintf(stderr, "dequantize scalar s=%g z=%d: %zu differ\n", (double)scale, zero_point, bad);
    record(reference, bad != 0);
    const size_t start = (size_t)trial % 7, len = (size_t)trial < N - start ? (size_t)trial : N - start;
    for (size_t v = 0; v < num_variants; ++v) {
      for (size_t i = 0; i < N; ++i) got[i] = -777.0f;
      variants[v].fn(len, x + start, scale, zero_point, got + start);
      size_t at = start;
      while (at < start + len && memcmp(&got[at], &want[at], sizeof(float)) == 0) ++at;
      if (at < start + len)
        fprintf(stderr, "dequantize %s len %zu: y[%zu] = %g, expected %g\n", variants[v].s.name, len, at,
                (double)got[at], (double)want[at]);
      record(&variants[v].s, at < start + len || (start > 0 && got[start - 1] != -777.0f) ||
                                 (start + len < N && got[start + len] != -777.0f));
    }
  }
}

typedef struct dequantize_bias_variant {
  pnn_u8_dequantize_bias_f32_fn fn;
  stats s;
} dequantize_bias_variant;

/* With a bias along the last axis: the reference against the contract (the product
 * rounded to float32, then the float32 sum, each computed in double and rounded once:
 * an FMA would differ), each variant against the reference bit for bit on rows x cols
 * of 1..3 x 1..41 (every tail of an 8-lane row), nothing written past the end. */
static void test_dequantize_bias(stats *reference, dequantize_bias_variant *variants, size_t num_variants) {
  rng r = {0xb1a5f00du};
  enum { MAX_ROWS = 3, MAX_COLS = 41, N = MAX_ROWS * MAX_COLS + 1 };
  uint8_t x[N];
  float bias[MAX_COLS], want[N], got[N];
  for (size_t cols = 1; cols <= MAX_COLS; ++cols) {
    const size_t rows = 1 + cols % MAX_ROWS;
    const float scale = cols % 3 == 0 ? ldexpf(1.0f, (int)rng_range(&r, -10, 10))
                                      : (float)rng_log_uniform(&r, 1e-4, 10.0);
    const int32_t zero_point = cols % 4 == 0 ? 0 : (cols % 4 == 1 ? 255 : (int32_t)rng_range(&r, 0, 255));
    fill_u8(&r, x, N, (int)(cols % 2));
    for (size_t c = 0; c < cols; ++c) bias[c] = rng_uniform(&r, -2.0f, 2.0f) * scale * 64.0f;
    for (size_t i = 0; i < N; ++i) want[i] = -777.0f;
    pnn_u8_dequantize_bias_f32_scalar(rows, cols, x, scale, zero_point, bias, want);
    size_t bad = 0;
    for (size_t i = 0; i < rows * cols; ++i) {
      const float product = (float)((double)((int32_t)x[i] - zero_point) * (double)scale);
      if (want[i] != (float)((double)product + (double)bias[i % cols])) ++bad;
    }
    if (bad) fprintf(stderr, "dequantize+bias scalar %zu x %zu: %zu differ\n", rows, cols, bad);
    record(reference, bad != 0 || want[rows * cols] != -777.0f);
    for (size_t v = 0; v < num_variants; ++v) {
      for (size_t i = 0; i < N; ++i) got[i] = -777.0f;
      variants[v].fn(rows, cols, x, scale, zero_point, bias, got);
      size_t at = 0;
      while (at < rows * cols && memcmp(&got[at], &want[at], sizeof(float)) == 0) ++at;
      if (at < rows * cols)
        fprintf(stderr, "dequantize+bias %s %zu x %zu: y[%zu] = %g, expected %g\n", variants[v].s.name, rows, cols,
                at, (double)got[at], (double)want[at]);
      record(&variants[v].s, at < rows * cols || got[rows * cols] != -777.0f);
    }
  }
}

/* ---- u8 max pooling ------------------------------------------------------------- */

typedef struct maxpool_variant {
  pnn_u8_maxpool2d_fn fn;
  stats s;
} maxpool_variant;

static void test_maxpool(stats *reference, maxpool_variant *variants, size_t num_variants) {
  static const pnn_pool2d_geometry geoms[] = {
      /* channels, in_h, in_w, out_h, out_w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr */
      {3, 12, 12, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
      {2, 112, 112, 56, 56, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, /* ResNet's stem pool */
      {2, 9, 37, 5, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
      {2, 8, 9, 4, 4, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0},
      {1, 7, 70, 7, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {2, 9, 11, 5, 7, 3, 3, 1, 1, 2, 2, 0, 0, 0, 0},
      {1, 3, 4, 2, 2, 5, 5, 1, 1, 1, 1, 2, 2, 0, 0},
      {2, 10, 23, 4, 8, 3, 2, 3, 3, 1, 1, 1, 0, 0, 1},
      {1, 4, 4, 3, 3, 3, 3, 2, 2, 1, 1, 2, 2, 2, 2},
      {5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {3, 33, 67, 17, 34, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
  };
  rng r = {0x9001beefu};
  for (size_t gi = 0; gi < sizeof geoms / sizeof geoms[0]; ++gi) {
    const pnn_pool2d_geometry *g = &geoms[gi];
    const size_t in_n = g->channels * g->in_h * g->in_w, out_n = g->channels * g->out_h * g->out_w;
    uint8_t *x = alloc_bytes(in_n), *want = alloc_bytes(out_n), *got = alloc_bytes(out_n);
    fill_u8(&r, x, in_n, (int)(gi % 2));
    pnn_u8_maxpool2d_scalar(g, x, want);
    size_t bad = 0;
    for (size_t c = 0; c < g->channels; ++c)
      for (size_t oy = 0; oy < g->out_h; ++oy)
        for (size_t ox = 0; ox < g->out_w; ++ox) {
          int best = 0; /* the direct formula: max over the taps inside the image */
          for (size_t i = 0; i < g->kernel_h; ++i)
            for (size_t j = 0; j < g->kernel_w; ++j) {
              const long iy = (long)(oy * g->stride_h + i * g->dilation_h) - (long)g->pad_top;
              const long ix = (long)(ox * g->stride_w + j * g->dilation_w) - (long)g->pad_left;
              if (iy < 0 || ix < 0 || iy >= (long)g->in_h || ix >= (long)g->in_w) continue;
              const int v = x[(c * g->in_h + (size_t)iy) * g->in_w + (size_t)ix];
              if (v > best) best = v;
            }
          if (want[(c * g->out_h + oy) * g->out_w + ox] != best) ++bad;
        }
    if (bad) fprintf(stderr, "u8 maxpool scalar geom %zu: %zu differ\n", gi, bad);
    record(reference, bad != 0);
    for (size_t v = 0; v < num_variants; ++v) {
      for (size_t i = 0; i < out_n; ++i) got[i] = (uint8_t)~want[i];
      variants[v].fn(g, x, got);
      size_t at = 0;
      while (at < out_n && got[at] == want[at]) ++at;
      if (at < out_n)
        fprintf(stderr, "u8 maxpool %s geom %zu: y[%zu] = %d, expected %d\n", variants[v].s.name, gi, at, got[at],
                want[at]);
      record(&variants[v].s, at < out_n);
    }
    free(x);
    free(want);
    free(got);
  }
}

/* Prints "<what> (<variant>) vs scalar: ..." for a variant, "<name>: ..." otherwise. */
static size_t report(const char *what, const stats *s) {
  if (what) printf("%s (%s) vs scalar", what, s->name);
  else printf("%s", s->name);
  printf(": %zu cases, %zu failed\n", s->cases, s->failures);
  return s->failures;
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  const char *dw_name = "scalar", *add_name = "scalar", *quantize_name = "scalar";
  quantize_variant quantize[2] = {0};
  size_t num_quantize = 0;
  const char *maxpool_name = "scalar";
  maxpool_variant maxpool[3] = {0};
  size_t num_maxpool = 0;
  const pnn_u8_maxpool2d_fn maxpool_best = pnn_u8_maxpool2d_select(&cpu, &maxpool_name);
  maxpool[num_maxpool++] = (maxpool_variant){maxpool_best, {maxpool_name, 0, 0}};
  if (strcmp(maxpool_name, "portable") != 0)
    maxpool[num_maxpool++] = (maxpool_variant){pnn_u8_maxpool2d_portable, {"portable", 0, 0}};
  const pnn_f32_quantize_u8_fn quantize_best = pnn_f32_quantize_u8_select(&cpu, &quantize_name);
  if (strcmp(quantize_name, "scalar") != 0)
    quantize[num_quantize++] = (quantize_variant){quantize_best, {quantize_name, 0, 0}};
  const char *dequantize_name = "scalar";
  dequantize_variant dequantize[1] = {0};
  size_t num_dequantize = 0;
  const pnn_u8_dequantize_f32_fn dequantize_best = pnn_u8_dequantize_f32_select(&cpu, &dequantize_name);
  if (strcmp(dequantize_name, "scalar") != 0)
    dequantize[num_dequantize++] = (dequantize_variant){dequantize_best, {dequantize_name, 0, 0}};
  const char *dequantize_bias_name = "scalar";
  dequantize_bias_variant dequantize_bias[1] = {0};
  size_t num_dequantize_bias = 0;
  const pnn_u8_dequantize_bias_f32_fn dequantize_bias_best =
      pnn_u8_dequantize_bias_f32_select(&cpu, &dequantize_bias_name);
  if (strcmp(dequantize_bias_name, "scalar") != 0)
    dequantize_bias[num_dequantize_bias++] =
        (dequantize_bias_variant){dequantize_bias_best, {dequantize_bias_name, 0, 0}};
  dw_variant dw[2] = {0};
  add_variant add[2] = {0};
  size_t num_dw = 0, num_add = 0;
  const pnn_s8_dwconv_fn dw_best = pnn_s8_dwconv_select(&cpu, &dw_name);
  const pnn_u8_add_fn add_best = pnn_u8_add_select(&cpu, &add_name);
  if (strcmp(dw_name, "scalar") != 0) dw[num_dw++] = (dw_variant){dw_best, {dw_name, 0, 0}};
  if (strcmp(add_name, "scalar") != 0) add[num_add++] = (add_variant){add_best, {add_name, 0, 0}};
#if defined(__x86_64__) || defined(_M_X64)
  /* The AVX-512 variants are tested as the selected ones; the AVX2 variants are what
   * AVX-512-less x86 machines pick: check them here too. */
  variant_usable("s8-dwconv, u8-add, u8-maxpool", "avx512", cpu.avx512bw);
  if (variant_usable("s8-dwconv, u8-add, u8-maxpool", "avx2", cpu.avx2_fma) && strcmp(dw_name, "avx2") != 0)
    dw[num_dw++] = (dw_variant){pnn_s8_dwconv_avx2, {"avx2", 0, 0}};
  if (cpu.avx2_fma && strcmp(add_name, "avx2") != 0)
    add[num_add++] = (add_variant){pnn_u8_add_avx2, {"avx2", 0, 0}};
  if (cpu.avx2_fma && strcmp(maxpool_name, "avx2") != 0)
    maxpool[num_maxpool++] = (maxpool_variant){pnn_u8_maxpool2d_avx2, {"avx2", 0, 0}};
#endif
  stats requant = {"pnn_requantize vs direct formula", 0, 0};
  stats dw_reference = {"s8 dwconv (scalar) vs direct formula", 0, 0};
  stats add_reference = {"u8 add (scalar) vs direct formula", 0, 0};
  stats lut = {"u8 lut (scalar) vs direct formula", 0, 0};
  stats avgpool = {"u8 global avgpool (scalar) vs direct formula", 0, 0};
  stats quantize_reference = {"f32 -> u8 quantize (scalar) vs direct formula", 0, 0};
  stats maxpool_reference = {"u8 maxpool (scalar) vs direct formula", 0, 0};
  stats dequantize_reference = {"u8 -> f32 dequantize (scalar) vs direct formula", 0, 0};
  stats dequantize_bias_reference = {"u8 -> f32 dequantize + bias (scalar) vs direct formula", 0, 0};
  check_requantize(&requant);
  test_dwconv(&dw_reference, dw, num_dw);
  test_add(&add_reference, add, num_add);
  test_lut(&lut);
  test_avgpool(&avgpool);
  test_quantize(&quantize_reference, quantize, num_quantize);
  test_maxpool(&maxpool_reference, maxpool, num_maxpool);
  test_dequantize(&dequantize_reference, dequantize, num_dequantize);
  test_dequantize_bias(&dequantize_bias_reference, dequantize_bias, num_dequantize_bias);

  stats *references[] = {&requant, &dw_reference, &add_reference, &lut, &avgpool, &quantize_reference,
                          &maxpool_reference, &dequantize_reference, &dequantize_bias_reference};
  size_t failures = 0;
  for (size_t i = 0; i < sizeof references / sizeof references[0]; ++i)
    failures += report(NULL, references[i]);
  for (size_t v = 0; v < num_dw; ++v) failures += report("s8 dwconv", &dw[v].s);
  for (size_t v = 0; v < num_add; ++v) failures += report("u8 add", &add[v].s);
  for (size_t v = 0; v < num_quantize; ++v) failures += report("f32 -> u8 quantize", &quantize[v].s);
  for (size_t v = 0; v < num_maxpool; ++v) failures += report("u8 maxpool", &maxpool[v].s);
  for (size_t v = 0; v < num_dequantize; ++v) failures += report("u8 -> f32 dequantize", &dequantize[v].s);
  for (size_t v = 0; v < num_dequantize_bias; ++v)
    failures += report("u8 -> f32 dequantize + bias", &dequantize_bias[v].s);
  if (failures) printf("FAILED: %zu cases\n", failures);
  return failures ? 1 : 0;
}
