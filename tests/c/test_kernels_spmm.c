/* Tests the f32 group-sparse x dense kernels (pnn_kernels_sparse.h): the scalar
 * reference against a naive dense product of the same W densified (double sums),
 * and the variant pnn_f32_spmm_select picks (plus AVX2 on x86 when usable) against
 * the scalar reference. Awkward cases: every group size, partial last groups, empty
 * groups, an all-zero matrix, one nonzero, cols 1, every pixel count 1..140 (every
 * tail of tiles up to 8 vectors of 16), large pixel counts with many nonzeros, strides
 * wider than the rows, every activation, with and without bias.
 *
 * Plain C, no ISA headers: the same file runs on x86-64, aarch64 (under qemu) and
 * wasm32. Buffers are exactly as large as the contract allows, so sanitizers catch
 * over-reads and over-writes; the stride gaps of y must stay untouched. Tolerance:
 * 2e-5 of the sum of the absolute values of an output's terms, plus 1e-6. Exits
 * non-zero on any mismatch and prints how many cases ran. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"
#include "pnn_kernels_sparse.h"

#include "variant_gate.h"
#include "test_support.h"

#define SENTINEL 12345.0f

static const pnn_activation ACTIVATIONS[] = {
    {PNN_ACT_NONE, 0.0f, 0.0f},       {PNN_ACT_RELU, 0.0f, 0.0f},
    {PNN_ACT_CLIP, -0.5f, 0.7f},      {PNN_ACT_LEAKY_RELU, 0.1f, 0.0f},
    {PNN_ACT_SIGMOID, 0.0f, 0.0f},    {PNN_ACT_HARD_SIGMOID, 0.2f, 0.5f},
    {PNN_ACT_HARD_SWISH, 0.0f, 0.0f}, {PNN_ACT_TANH, 0.0f, 0.0f},
};
#define NUM_ACTIVATIONS (sizeof ACTIVATIONS / sizeof ACTIVATIONS[0])

typedef struct stats {
  size_t cases, failures;
} stats;

/* Column patterns of a generated matrix. */
enum pattern {
  PAT_RANDOM,    /* each (group, column) kept with probability `density` */
  PAT_EMPTY,     /* random, but every other group empty */
  PAT_ZERO,      /* no nonzeros at all */
  PAT_ONE,       /* a single nonzero column in a single group */
};

/* A generated group-sparse matrix with its dense copy (rows x cols, row-major). */
typedef struct sparse_case {
  pnn_sparse_f32 w;
  uint32_t *group_nnz, *indices;
  float *values, *dense;
} sparse_case;

static void make_sparse(sparse_case *s, size_t rows, size_t cols, size_t G, int pattern,
                        float density, rng *r) {
  const size_t n_groups = (rows + G - 1) / G;
  s->group_nnz = (uint32_t *)xmalloc(n_groups * sizeof(uint32_t));
  s->indices = (uint32_t *)xmalloc(n_groups * cols * sizeof(uint32_t));
  s->values = (float *)xmalloc(n_groups * cols * G * sizeof(float));
  s->dense = (float *)xmalloc(rows * cols * sizeof(float));
  memset(s->dense, 0, rows * cols * sizeof(float));
  const size_t one_group = rng_below(r, n_groups), one_col = rng_below(r, cols);
  size_t total = 0;
  for (size_t g = 0; g < n_groups; ++g) {
    uint32_t nnz = 0;
    for (size_t k = 0; k < cols; ++k) {
      int keep;
      switch (pattern) {
        case PAT_ZERO: keep = 0; break;
        case PAT_ONE: keep = g == one_group && k == one_col; break;
        case PAT_EMPTY: keep = (g % 2 == 1) && rng_uniform(r, 0.0f, 1.0f) < density; break;
        default: keep = rng_uniform(r, 0.0f, 1.0f) < density; break;
      }
      if (!keep) continue;
      s->indices[total] = (uint32_t)k;
      for (size_t i = 0; i < G; ++i) {
        const size_t m = g * G + i;
        const float v = m < rows ? rng_uniform(r, -1.0f, 1.0f) : 0.0f; /* padding rows: 0 */
        s->values[total * G + i] = v;
        if (m < rows) s->dense[m * cols + k] = v;
      }
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
}

static void free_sparse(sparse_case *s) {
  free(s->group_nnz);
  free(s->indices);
  free(s->values);
  free(s->dense);
}

typedef struct spmm_case {
  size_t rows, cols, G, pixels, x_stride, y_stride;
  int pattern, with_bias;
  float density;
  pnn_activation act;
} spmm_case;

static int close_enough(float got, float want, double scale) {
  if (isnan(want)) return isnan(got);
  return fabs((double)got - (double)want) <= 2e-5 * scale + 1e-6;
}

static void run_case(const spmm_case *t, pnn_f32_spmm_fn variant, const char *variant_name,
                     pnn_f32_spmm_fn avx2, rng *r, stats *st) {
  sparse_case s;
  make_sparse(&s, t->rows, t->cols, t->G, t->pattern, t->density, r);
  const size_t P = t->pixels;
  const size_t x_size = (t->cols - 1) * t->x_stride + P;
  const size_t y_size = (t->rows - 1) * t->y_stride + P;
  float *x = (float *)xmalloc(x_size * sizeof(float));
  float *bias = (float *)xmalloc(t->rows * sizeof(float));
  float *ref = (float *)xmalloc(y_size * sizeof(float));
  float *got = (float *)xmalloc(y_size * sizeof(float));
  double *want = (double *)xmalloc(t->rows * P * sizeof(double));
  double *scale = (double *)xmalloc(t->rows * P * sizeof(double));
  for (size_t i = 0; i < x_size; ++i) x[i] = rng_uniform(r, -2.0f, 2.0f);
  for (size_t i = 0; i < t->rows; ++i) bias[i] = rng_uniform(r, -1.0f, 1.0f);
  const float *b = t->with_bias ? bias : NULL;

  /* Naive dense product of the densified W. */
  for (size_t m = 0; m < t->rows; ++m) {
    for (size_t p = 0; p < P; ++p) {
      double sum = b ? b[m] : 0.0, abs_sum = b ? fabs(b[m]) : 0.0;
      for (size_t k = 0; k < t->cols; ++k) {
        const double term = (double)s.dense[m * t->cols + k] * x[k * t->x_stride + p];
        sum += term;
        abs_sum += fabs(term);
      }
      want[m * P + p] = pnn_activate((float)sum, t->act);
      scale[m * P + p] = abs_sum;
    }
  }

  const pnn_f32_spmm_fn fns[3] = {pnn_f32_spmm_scalar, variant, avx2};
  const char *names[3] = {"scalar", variant_name, "avx2"};
  for (int f = 0; f < 3; ++f) {
    if (!fns[f] || (f > 0 && fns[f] == pnn_f32_spmm_scalar)) continue;
    float *out = f == 0 ? ref : got;
    for (size_t i = 0; i < y_size; ++i) out[i] = SENTINEL;
    fns[f](&s.w, P, x, t->x_stride, b, out, t->y_stride, t->act);
    ++st->cases;
    size_t bad = 0;
    for (size_t m = 0; m < t->rows && !bad; ++m) {
      for (size_t p = 0; p < t->y_stride && (m + 1 < t->rows || p < P); ++p) {
        const float o = out[m * t->y_stride + p];
        int ok;
        if (p >= P) ok = o == SENTINEL; /* stride gap untouched */
        else if (f == 0) ok = close_enough(o, (float)want[m * P + p], scale[m * P + p]);
        else ok = close_enough(o, ref[m * t->y_stride + p], scale[m * P + p]);
        if (!ok) {
          fprintf(stderr,
                  "FAIL %s: rows %zu cols %zu G %zu pixels %zu xs %zu ys %zu pattern %d "
                  "bias %d act %d: y[%zu][%zu] = %g, expected %g\n",
                  names[f], t->rows, t->cols, t->G, P, t->x_stride, t->y_stride, t->pattern,
                  t->with_bias, t->act.kind, m, p, (double)o,
                  p >= P ? (double)SENTINEL
                         : (f == 0 ? want[m * P + p] : (double)ref[m * t->y_stride + p]));
          bad = 1;
          break;
        }
      }
    }
    st->failures += bad;
  }
  free(x);
  free(bias);
  free(ref);
  free(got);
  free(want);
  free(scale);
  free_sparse(&s);
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  const char *name = "";
  const pnn_f32_spmm_fn variant = pnn_f32_spmm_select(&cpu, &name);
  pnn_f32_spmm_fn avx2 = NULL;
#if defined(__x86_64__) || defined(_M_X64)
  if (variant_usable("f32-spmm", "avx2", cpu.avx2_fma)) avx2 = pnn_f32_spmm_avx2;
  variant_usable("f32-spmm", "avx512", cpu.avx512f); /* tested as the selected variant */
#endif
  rng r = {0x5eed5eedull};
  stats st = {0, 0};
  static const size_t GROUPS[] = {1, 2, 4, 8};

  for (size_t gi = 0; gi < 4; ++gi) {
    const size_t G = GROUPS[gi];
    /* Every pixel count 1..140 (every tail of every tile up to 8 x 16 lanes), varied
     * rows (partial last groups and passes), cols and strides. */
    for (size_t P = 1; P <= 140; ++P) {
      spmm_case t;
      t.rows = 1 + rng_below(&r, 3 * G + 2);
      t.cols = 1 + rng_below(&r, 19);
      t.G = G;
      t.pixels = P;
      t.x_stride = P + (P % 3 == 0 ? rng_below(&r, 9) : 0);
      t.y_stride = P + (P % 4 == 1 ? rng_below(&r, 9) : 0);
      t.pattern = P % 7 == 3 ? PAT_EMPTY : PAT_RANDOM;
      t.density = rng_uniform(&r, 0.1f, 0.9f);
      t.with_bias = (int)(P % 2);
      t.act = ACTIVATIONS[P % NUM_ACTIVATIONS];
      run_case(&t, variant, name, avx2, &r, &st);
    }
    /* Every activation with and without bias; special patterns; cols 1. */
    for (size_t a = 0; a < NUM_ACTIVATIONS; ++a) {
      for (int with_bias = 0; with_bias < 2; ++with_bias) {
        static const int PATTERNS[] = {PAT_RANDOM, PAT_EMPTY, PAT_ZERO, PAT_ONE};
        for (size_t pi = 0; pi < 4; ++pi) {
          spmm_case t;
          t.rows = G * 3 + (pi % 2 ? G - 1 : 0);
          if (t.rows == 0) t.rows = 1;
          t.cols = pi == 3 && a % 2 ? 1 : 23;
          t.G = G;
          t.pixels = 33 + 7 * a;
          t.x_stride = t.pixels + 5;
          t.y_stride = t.pixels + 3 * (size_t)with_bias;
          t.pattern = PATTERNS[pi];
          t.density = 0.3f;
          t.with_bias = with_bias;
          t.act = ACTIVATIONS[a];
          run_case(&t, variant, name, avx2, &r, &st);
        }
        spmm_case c1; /* cols 1, dense */
        c1.rows = 2 * G + 1;
        c1.cols = 1;
        c1.G = G;
        c1.pixels = 17 + a;
        c1.x_stride = c1.pixels;
        c1.y_stride = c1.pixels + 2;
        c1.pattern = PAT_RANDOM;
        c1.density = 1.0f;
        c1.with_bias = with_bias;
        c1.act = ACTIVATIONS[a];
        run_case(&c1, variant, name, avx2, &r, &st);
      }
    }
    /* Large: MobileNet-like shapes with many nonzeros. */
    spmm_case big = {128, 64, G, 3136, 3136, 3136, PAT_RANDOM, 1, 0.3f, ACTIVATIONS[2]};
    run_case(&big, variant, name, avx2, &r, &st);
    spmm_case wide = {61, 300, G, 199, 203, 201, PAT_RANDOM, 0, 0.5f, ACTIVATIONS[6]};
    run_case(&wide, variant, name, avx2, &r, &st);
  }
  printf("spmm (%s%s): %zu cases, %zu failures\n", name, avx2 ? " + avx2" : "", st.cases,
         st.failures);
  return st.failures ? 1 : 0;
}
