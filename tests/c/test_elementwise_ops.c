/* Element-wise and data-movement operators (runtime/src/ops/{unary,binary,concat,
 * split,slice,reshape,transpose,pad,resize,softmax,reduce,layernorm,gather}.c),
 * driven through prepare + run on hand-built nodes. Expected values come from naive
 * loops written here or from hand-checked numbers, never from the ops themselves. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

#include "variant_gate.h"

static int failures = 0;
#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                           \
    }                                                                       \
  } while (0)

/* ---- a one-node model built by hand ---------------------------------------------- */
#define MAX_T 8
#define MAX_A 8
typedef struct fixture {
  pnn_model model;
  pnn_tensor tensors[MAX_T];
  float *buf[MAX_T];
  pnn_node node;
  pnn_attr attrs[MAX_A];
  int64_t ints[MAX_A][16];
  float floats[MAX_A][8];
  int32_t inputs[MAX_T], outputs[MAX_T];
  pnn_error error;
} fixture;

static void fx_init(fixture *f, uint16_t op) {
  memset(f, 0, sizeof(*f));
  f->model.tensors = f->tensors;
  f->model.nodes = &f->node;
  f->model.n_nodes = 1;
  f->node.op = op;
  f->node.name = (char *)"node";
  f->node.inputs = f->inputs;
  f->node.outputs = f->outputs;
  f->node.attrs = f->attrs;
}

/* A new f32 tensor of the given shape (rank < 0 ends the dims list). */
static int fx_tensor(fixture *f, int rank, const int64_t *dims) {
  int id = (int)f->model.n_tensors++;
  pnn_tensor *t = &f->tensors[id];
  t->name = (char *)"t";
  t->dtype = PNN_DTYPE_F32;
  t->rank = rank;
  t->numel = 1;
  for (int d = 0; d < rank; ++d) {
    t->dims[d] = dims[d];
    t->numel *= (size_t)dims[d];
  }
  t->nbytes = t->numel * sizeof(float);
  t->producer = -1;
  f->buf[id] = calloc(t->numel + 1, sizeof(float));
  return id;
}
static void fx_in(fixture *f, int id) { f->inputs[f->node.n_inputs++] = id; }
static void fx_out(fixture *f, int id) { f->outputs[f->node.n_outputs++] = id; }
static void fx_const(fixture *f, int id) {
  f->tensors[id].kind = PNN_TENSOR_CONSTANT;
  f->tensors[id].data = f->buf[id];
}
static pnn_attr *fx_attr(fixture *f, const char *name, uint8_t type) {
  pnn_attr *a = &f->attrs[f->node.n_attrs++];
  a->name = (char *)name;
  a->type = type;
  a->count = 1;
  return a;
}
static void fx_int(fixture *f, const char *name, int64_t v) { fx_attr(f, name, PNN_ATTR_INT)->i = v; }
static void fx_float(fixture *f, const char *name, float v) { fx_attr(f, name, PNN_ATTR_FLOAT)->f = v; }
static void fx_ints(fixture *f, const char *name, int n, const int64_t *v) {
  int slot = (int)f->node.n_attrs;
  pnn_attr *a = fx_attr(f, name, PNN_ATTR_INTS);
  memcpy(f->ints[slot], v, (size_t)n * sizeof(int64_t));
  a->ints = f->ints[slot];
  a->count = (uint32_t)n;
}
static void fx_floats(fixture *f, const char *name, int n, const float *v) {
  int slot = (int)f->node.n_attrs;
  pnn_attr *a = fx_attr(f, name, PNN_ATTR_FLOATS);
  memcpy(f->floats[slot], v, (size_t)n * sizeof(float));
  a->floats = f->floats[slot];
  a->count = (uint32_t)n;
}

typedef pnn_status (*prepare_fn)(pnn_model *, pnn_node *, pnn_error *);
typedef void (*run_fn)(const pnn_model *, const pnn_node *, const void *const *, void *const *,
                       const pnn_run_context *);

static pnn_status fx_prepare(fixture *f, prepare_fn prepare) {
  free(f->node.params);
  f->node.params = NULL;
  return prepare(&f->model, &f->node, &f->error);
}
static void fx_run(fixture *f, run_fn run) {
  const void *in[MAX_T];
  void *out[MAX_T];
  for (uint32_t i = 0; i < f->node.n_inputs; ++i) in[i] = f->buf[f->inputs[i]];
  for (uint32_t i = 0; i < f->node.n_outputs; ++i) out[i] = f->buf[f->outputs[i]];
  void *scratch = malloc(f->node.scratch_bytes + 1);
  const pnn_run_context ctx = {scratch, f->node.scratch_bytes, NULL};
  run(&f->model, &f->node, in, out, &ctx);
  free(scratch);
}
static void fx_free(fixture *f) {
  free(f->node.params);
  for (uint32_t i = 0; i < f->model.n_tensors; ++i) free(f->buf[i]);
}
/* Prepare must succeed; then run. */
static void fx_prepare_run(fixture *f, prepare_fn prepare, run_fn run) {
  pnn_status st = fx_prepare(f, prepare);
  if (st != PNN_OK) fprintf(stderr, "prepare failed: %s\n", f->error.message);
  CHECK(st == PNN_OK);
  if (st == PNN_OK) fx_run(f, run);
}

static void fill(float *x, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1103515245u + 12345u;
    x[i] = (float)((seed >> 8) % 2001) / 250.0f - 4.0f; /* [-4, 4] */
  }
}
static int close_to(float got, float want, float tol) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  return fabsf(got - want) <= tol * (1.0f + fabsf(want));
}
static int all_close(const float *got, const float *want, size_t n, float tol) {
  for (size_t i = 0; i < n; ++i) {
    if (!close_to(got[i], want[i], tol)) {
      fprintf(stderr, "  element %zu: got %.8g want %.8g\n", i, (double)got[i], (double)want[i]);
      return 0;
    }
  }
  return 1;
}
#define D(...) ((const int64_t[]){__VA_ARGS__})

/* Multi-index helpers for the naive references. */
static void unravel(size_t i, int rank, const int64_t *dims, int64_t *idx) {
  for (int d = rank - 1; d >= 0; --d) {
    idx[d] = (int64_t)(i % (size_t)dims[d]);
    i /= (size_t)dims[d];
  }
}
static size_t ravel(int rank, const int64_t *dims, const int64_t *idx) {
  size_t o = 0;
  for (int d = 0; d < rank; ++d) o = o * (size_t)dims[d] + (size_t)idx[d];
  return o;
}

/* ---- unary ------------------------------------------------------------------------ */
static double ref_unary(int code, double x, int approximate) {
  switch (code) {
    case 10: return x > 0 ? x : 0;
    case 11: return x < -1.5 ? -1.5 : (x > 2.0 ? 2.0 : x);           /* min -1.5, max 2 */
    case 12: return x >= 0 ? x : 0.01 * x;                            /* default alpha */
    case 13: return 1.0 / (1.0 + exp(-x));
    case 14: return fmax(0.0, fmin(1.0, 0.2 * x + 0.5));              /* defaults */
    case 15: return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
    case 16: return tanh(x);
    case 17: return erf(x);
    case 18:
      return approximate ? 0.5 * x * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)))
                         : 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case 19: return exp(x);
    case 20: return sqrt(x);
    case 21: return fabs(x);
    case 22: return -x;
    case 23: return log(x);
    case 24: return 1.0 / x;
    case 25: return log(1.0 + exp(x));
    case 26: return x > 0 ? x : 1.0 * (exp(x) - 1.0);                 /* default alpha */
    case 27: return floor(x);
    case 28: return ceil(x);
    default: return x;
  }
}

static void test_unary(void) {
  const float values[] = {-30.0f, -4.0f, -2.5f, -1.0f, -0.5f, -1e-3f, 0.0f, 1e-3f, 0.5f,
                          1.0f, 1.5f, 2.5f, 3.7f, 20.0f, 90.0f};
  const size_t n = sizeof(values) / sizeof(values[0]);
  for (int code = 10; code <= 29; ++code) {
    for (int approximate = 0; approximate <= (code == 18); ++approximate) {
      fixture f;
      fx_init(&f, (uint16_t)code);
      int x = fx_tensor(&f, 2, D(3, 5)), y = fx_tensor(&f, 2, D(3, 5));
      fx_in(&f, x);
      fx_out(&f, y);
      if (code == 11) {
        fx_float(&f, "min", -1.5f);
        fx_float(&f, "max", 2.0f);
      }
      if (code == 18) fx_int(&f, "approximate", approximate);
      memcpy(f.buf[x], values, sizeof(values));
      fx_prepare_run(&f, pnn_op_unary_prepare, pnn_op_unary_run);
      float want[15];
      for (size_t i = 0; i < n; ++i) want[i] = (float)ref_unary(code, values[i], approximate);
      if (!all_close(f.buf[y], want, n, 2e-6f)) fprintf(stderr, "  unary op %d\n", code);
      CHECK(all_close(f.buf[y], want, n, 2e-6f));
      fx_free(&f);
    }
  }
  /* Explicit attributes. */
  fixture f;
  fx_init(&f, 26); /* Elu alpha 0.5 */
  int x = fx_tensor(&f, 1, D(3)), y = fx_tensor(&f, 1, D(3));
  fx_in(&f, x);
  fx_out(&f, y);
  fx_float(&f, "alpha", 0.5f);
  f.buf[x][0] = -1.0f;
  f.buf[x][1] = 0.0f;
  f.buf[x][2] = 2.0f;
  fx_prepare_run(&f, pnn_op_unary_prepare, pnn_op_unary_run);
  CHECK(close_to(f.buf[y][0], (float)(0.5 * (exp(-1.0) - 1.0)), 1e-6f));
  CHECK(f.buf[y][2] == 2.0f);
  /* Rejections: wrong output shape, attribute of the wrong type, bad enum. */
  f.tensors[y].dims[0] = 4;
  CHECK(fx_prepare(&f, pnn_op_unary_prepare) == PNN_ERR_SHAPE);
  f.tensors[y].dims[0] = 3;
  f.attrs[0].type = PNN_ATTR_INT;
  CHECK(fx_prepare(&f, pnn_op_unary_prepare) != PNN_OK);
  fx_free(&f);
  fx_init(&f, 18);
  x = fx_tensor(&f, 1, D(3));
  y = fx_tensor(&f, 1, D(3));
  fx_in(&f, x);
  fx_out(&f, y);
  fx_int(&f, "approximate", 2);
  CHECK(fx_prepare(&f, pnn_op_unary_prepare) == PNN_ERR_UNSUPPORTED);
  fx_free(&f);
}

/* ---- binary ----------------------------------------------------------------------- */
static double ref_binary(int code, double a, double b) {
  switch (code) {
    case 30: return a + b;
    case 31: return a - b;
    case 32: return a * b;
    case 33: return a / b;
    case 34: return pow(a, b);
    case 35: return a > b ? a : b;
    case 36: return a < b ? a : b;
    default: return a >= 0 ? a : a * b;
  }
}

/* Runs a op b with numpy broadcasting and compares with a naive reference. */
static void check_binary(int code, int ra, const int64_t *da, int rb, const int64_t *db,
                         int a_const, int b_const, int act) {
  int64_t out[PNN_MAX_RANK];
  int ro = ra > rb ? ra : rb;
  for (int d = 0; d < ro; ++d) {
    int ia = d - (ro - ra), ib = d - (ro - rb);
    int64_t sa = ia >= 0 ? da[ia] : 1, sb = ib >= 0 ? db[ib] : 1;
    out[d] = sa > sb ? sa : sb;
  }
  fixture f;
  fx_init(&f, (uint16_t)code);
  pnn_cpu_detect(&f.model.cpu); /* the SIMD kernels where the CPU has them */
  int a = fx_tensor(&f, ra, da), b = fx_tensor(&f, rb, db), y = fx_tensor(&f, ro, out);
  fx_in(&f, a);
  fx_in(&f, b);
  fx_out(&f, y);
  if (a_const) fx_const(&f, a);
  if (b_const) fx_const(&f, b);
  if (act) fx_int(&f, "act", act);
  fill(f.buf[a], f.tensors[a].numel, 7u + (unsigned)code);
  fill(f.buf[b], f.tensors[b].numel, 99u + (unsigned)code);
  if (code == 33) { /* keep divisors away from 0 */
    for (size_t i = 0; i < f.tensors[b].numel; ++i) f.buf[b][i] += f.buf[b][i] >= 0 ? 0.5f : -0.5f;
  }
  if (code == 34) { /* positive bases */
    for (size_t i = 0; i < f.tensors[a].numel; ++i) f.buf[a][i] = fabsf(f.buf[a][i]) + 0.1f;
  }
  fx_prepare_run(&f, pnn_op_binary_prepare, pnn_op_binary_run);
  size_t numel = f.tensors[y].numel;
  float *want = malloc(numel * sizeof(float) + 1);
  int64_t idx[PNN_MAX_RANK], ia[PNN_MAX_RANK], ib[PNN_MAX_RANK];
  for (size_t i = 0; i < numel; ++i) {
    unravel(i, ro, out, idx);
    for (int d = 0; d < ra; ++d) ia[d] = da[d] == 1 ? 0 : idx[d + ro - ra];
    for (int d = 0; d < rb; ++d) ib[d] = db[d] == 1 ? 0 : idx[d + ro - rb];
    double v = ref_binary(code, f.buf[a][ravel(ra, da, ia)], f.buf[b][ravel(rb, db, ib)]);
    if (act == 1 && v < 0) v = 0;
    want[i] = (float)v;
  }
  int ok = all_close(f.buf[y], want, numel, 2e-6f);
  if (!ok) fprintf(stderr, "  binary op %d ranks %d,%d\n", code, ra, rb);
  CHECK(ok);
  free(want);
  fx_free(&f);
}

/* The SIMD binary kernels against the scalar reference (+ activation pass), element
 * for element, on awkward lengths and with NaN and signed zeros among the inputs. */
static void test_binary_simd_kernels(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  pnn_f32_binary_simd variants[2];
  const char *names[2];
  int n_variants = 0;
#if defined(__x86_64__)
  if (variant_usable("f32-binary", "avx2", cpu.avx2_fma)) {
    variants[n_variants] = (pnn_f32_binary_simd){pnn_f32_binary_vv_avx2, pnn_f32_binary_vs_avx2,
                                                 pnn_f32_binary_sv_avx2};
    names[n_variants++] = "avx2";
  }
  if (variant_usable("f32-binary", "avx512", cpu.avx512f)) {
    variants[n_variants] = (pnn_f32_binary_simd){pnn_f32_binary_vv_avx512, pnn_f32_binary_vs_avx512,
                                                 pnn_f32_binary_sv_avx512};
    names[n_variants++] = "avx512";
  }
#endif
  pnn_f32_binary_simd selected;
  const char *selected_name = NULL;
  CHECK(pnn_f32_binary_simd_select(&cpu, &selected, &selected_name) == (n_variants > 0));
  static const size_t lengths[] = {0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 47, 67, 1000};
  enum { MAXN = 1000 };
  float *a = malloc(MAXN * sizeof(float)), *b = malloc(MAXN * sizeof(float));
  float *want = malloc(MAXN * sizeof(float)), *got = malloc(MAXN * sizeof(float) + 64);
  fill(a, MAXN, 5u);
  fill(b, MAXN, 6u);
  a[3] = NAN; b[5] = NAN; a[7] = 0.0f; b[7] = -0.0f; a[8] = -0.0f; b[8] = 0.0f; a[9] = b[9] = 1.5f;
  for (int v = 0; v < n_variants; ++v)
    for (int kind = PNN_BINARY_ADD; kind <= PNN_BINARY_PRELU; ++kind)
      for (int ak = PNN_ACT_NONE; ak <= PNN_ACT_TANH; ++ak)
        for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; ++li)
          for (int shape = 0; shape < 3; ++shape) {
            const size_t n = lengths[li];
            const pnn_activation act = {ak, 0.2f, ak == PNN_ACT_CLIP ? 1.5f : 0.4f};
            const float as = -0.75f, bs = kind == PNN_BINARY_POW ? 2.0f : 1.25f;
            const float *pa = a;
            float pa_pow[MAXN];
            if (kind == PNN_BINARY_POW) { /* positive bases keep powf defined */
              for (size_t i = 0; i < n; ++i) pa_pow[i] = fabsf(a[i]) + 0.1f;
              pa = pa_pow;
            }
            for (size_t i = 0; i < n + 16 && i < MAXN + 16; ++i) got[i] = -777.0f;
            switch (shape) {
              case 0:
                pnn_f32_binary_vv_scalar(kind, n, pa, b, want);
                variants[v].vv(kind, n, pa, b, got, act);
                break;
              case 1:
                pnn_f32_binary_vs_scalar(kind, n, pa, bs, want);
                variants[v].vs(kind, n, pa, bs, got, act);
                break;
              default:
                pnn_f32_binary_sv_scalar(kind, n, kind == PNN_BINARY_POW ? 1.5f : as, b, want);
                variants[v].sv(kind, n, kind == PNN_BINARY_POW ? 1.5f : as, b, got, act);
                break;
            }
            pnn_f32_activate_scalar(want, n, act);
            const int fused_rounding = ak == PNN_ACT_HARD_SIGMOID || ak == PNN_ACT_HARD_SWISH ||
                                       ak == PNN_ACT_SIGMOID || ak == PNN_ACT_TANH;
            int ok = got[n] == -777.0f; /* nothing written past n */
            for (size_t i = 0; i < n && ok; ++i) {
              const int same = memcmp(&got[i], &want[i], sizeof(float)) == 0 ||
                               (isnan(got[i]) && isnan(want[i]));
              ok = same || (fused_rounding && close_to(got[i], want[i], 1e-6f));
              if (!ok)
                fprintf(stderr, "  binary %s kind %d act %d shape %d n %zu: [%zu] got %.9g want %.9g\n",
                        names[v], kind, ak, shape, n, i, (double)got[i], (double)want[i]);
            }
            CHECK(ok);
          }
  free(a);
  free(b);
  free(want);
  free(got);
}

/* A large broadcast split across a pool (tasks start mid-row) equals the one-thread run. */
static void test_binary_threads(void) {
  const int64_t dx[4] = {2, 5, 70, 131}, dc[3] = {5, 1, 1};
  for (int swap = 0; swap < 2; ++swap) {
    fixture f;
    fx_init(&f, 31); /* Sub: not commutative */
    pnn_cpu_detect(&f.model.cpu);
    int a = swap ? fx_tensor(&f, 3, dc) : fx_tensor(&f, 4, dx);
    int b = swap ? fx_tensor(&f, 4, dx) : fx_tensor(&f, 3, dc);
    int y = fx_tensor(&f, 4, dx);
    fx_in(&f, a);
    fx_in(&f, b);
    fx_out(&f, y);
    fill(f.buf[a], f.tensors[a].numel, 11u);
    fill(f.buf[b], f.tensors[b].numel, 12u);
    CHECK(fx_prepare(&f, pnn_op_binary_prepare) == PNN_OK);
    fx_run(&f, pnn_op_binary_run);
    const size_t numel = f.tensors[y].numel;
    float *one = malloc(numel * sizeof(float));
    memcpy(one, f.buf[y], numel * sizeof(float));
    memset(f.buf[y], 0, numel * sizeof(float));
    pnn_threadpool *pool = NULL;
    pnn_error err;
    CHECK(pnn_threadpool_create(3, &pool, &err) == PNN_OK);
    const void *in[2] = {f.buf[a], f.buf[b]};
    void *out[1] = {f.buf[y]};
    const pnn_run_context ctx = {NULL, 0, pool};
    pnn_op_binary_run(&f.model, &f.node, in, out, &ctx);
    pnn_threadpool_free(pool);
    CHECK(memcmp(one, f.buf[y], numel * sizeof(float)) == 0);
    free(one);
    fx_free(&f);
  }
}

static void test_binary(void) {
  test_binary_simd_kernels();
  test_binary_threads();
  for (int code = 30; code <= 36; ++code) {
    check_binary(code, 3, D(2, 3, 1), 2, D(1, 4), 0, 0, 0);        /* both sides broadcast */
    check_binary(code, 4, D(2, 3, 4, 5), 4, D(2, 3, 4, 5), 0, 0, 0); /* same shape */
    check_binary(code, 4, D(2, 3, 4, 5), 0, D(0), 0, 1, 0);          /* scalar b */
    check_binary(code, 0, D(0), 3, D(2, 3, 4), 1, 0, 0);             /* scalar a */
    check_binary(code, 4, D(2, 3, 4, 5), 3, D(3, 1, 1), 0, 1, 0);    /* per channel */
    check_binary(code, 3, D(3, 1, 1), 4, D(2, 3, 4, 5), 1, 0, 0);    /* per channel, swapped */
    check_binary(code, 3, D(2, 3, 5), 1, D(5), 0, 1, 0);             /* trailing vector */
    check_binary(code, 5, D(2, 1, 3, 1, 2), 4, D(4, 1, 5, 1), 0, 0, 0); /* rank 5 */
    check_binary(code, 2, D(1, 1), 2, D(1, 1), 0, 0, 0);
  }
  check_binary(30, 4, D(1, 3, 2, 2), 4, D(1, 3, 2, 2), 0, 0, 1);    /* Add + relu */
  check_binary(30, 3, D(2, 3, 1), 2, D(1, 4), 0, 0, 1);
  check_binary(37, 4, D(2, 3, 4, 5), 3, D(3, 1, 1), 0, 1, 0);       /* PRelu */
  check_binary(37, 2, D(2, 3), 0, D(0), 0, 1, 0);
  check_binary(30, 8, D(2, 1, 2, 1, 2, 1, 2, 3), 8, D(1, 2, 1, 2, 1, 2, 2, 1), 0, 0, 0);

  /* Rejections. */
  fixture f;
  fx_init(&f, 30);
  int a = fx_tensor(&f, 2, D(2, 3)), b = fx_tensor(&f, 1, D(4)), y = fx_tensor(&f, 2, D(2, 3));
  fx_in(&f, a);
  fx_in(&f, b);
  fx_out(&f, y);
  CHECK(fx_prepare(&f, pnn_op_binary_prepare) == PNN_ERR_SHAPE); /* 3 vs 4 */
  f.tensors[b].dims[0] = 3;
  f.tensors[y].dims[1] = 4;
  CHECK(fx_prepare(&f, pnn_op_binary_prepare) == PNN_ERR_SHAPE); /* wrong output */
  f.tensors[y].dims[1] = 3;
  CHECK(fx_prepare(&f, pnn_op_binary_prepare) == PNN_OK);
  fx_int(&f, "act", 9);
  CHECK(fx_prepare(&f, pnn_op_binary_prepare) == PNN_ERR_UNSUPPORTED);
  f.node.op = 31; /* act on Sub */
  f.attrs[0].i = 1;
  CHECK(fx_prepare(&f, pnn_op_binary_prepare) == PNN_ERR_UNSUPPORTED);
  f.node.n_attrs = 0;
  f.node.op = 37; /* PRelu: slope [2,3] bigger than X [3] */
  f.tensors[a].rank = 1;
  f.tensors[a].dims[0] = 3;
  f.tensors[a].numel = 3;
  f.tensors[b].rank = 2;
  f.tensors[b].dims[0] = 2;
  f.tensors[b].dims[1] = 3;
  CHECK(fx_prepare(&f, pnn_op_binary_prepare) == PNN_ERR_SHAPE);
  fx_free(&f);
}

/* ---- transpose -------------------------------------------------------------------- */
static void check_transpose(int rank, const int64_t *dims, const int64_t *perm) {
  int64_t out[PNN_MAX_RANK];
  for (int k = 0; k < rank; ++k) out[k] = dims[perm[k]];
  fixture f;
  fx_init(&f, 54);
  int x = fx_tensor(&f, rank, dims), y = fx_tensor(&f, rank, out);
  fx_in(&f, x);
  fx_out(&f, y);
  fx_ints(&f, "perm", rank, perm);
  size_t n = f.tensors[x].numel;
  for (size_t i = 0; i < n; ++i) f.buf[x][i] = (float)i;
  fx_prepare_run(&f, pnn_op_transpose_prepare, pnn_op_transpose_run);
  int64_t oi[PNN_MAX_RANK], ii[PNN_MAX_RANK];
  int ok = 1;
  for (size_t i = 0; i < n && ok; ++i) {
    unravel(i, rank, out, oi);
    for (int k = 0; k < rank; ++k) ii[perm[k]] = oi[k];
    ok = f.buf[y][i] == f.buf[x][ravel(rank, dims, ii)];
  }
  if (!ok) fprintf(stderr, "  transpose rank %d failed (kernel %s)\n", rank, f.node.kernel);
  CHECK(ok);
  fx_free(&f);
}

static void test_transpose(void) {
  /* All 24 permutations of a 4-D tensor, and of one with size-1 dims. */
  int64_t p[4];
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b)
      for (int c = 0; c < 4; ++c)
        for (int d = 0; d < 4; ++d) {
          if (a == b || a == c || a == d || b == c || b == d || c == d) continue;
          p[0] = a, p[1] = b, p[2] = c, p[3] = d;
          check_transpose(4, D(2, 3, 4, 5), p);
          check_transpose(4, D(1, 17, 1, 19), p);
          check_transpose(4, D(3, 1, 33, 2), p);
        }
  check_transpose(2, D(37, 41), D(1, 0));
  check_transpose(5, D(2, 3, 1, 4, 5), D(4, 2, 0, 3, 1));
  check_transpose(5, D(2, 3, 4, 5, 6), D(0, 1, 4, 2, 3));
  check_transpose(8, D(2, 1, 2, 3, 1, 2, 2, 2), D(7, 0, 3, 1, 6, 2, 5, 4));
  check_transpose(1, D(7), D(0));
  check_transpose(0, D(0), D(0));
  fixture f;
  fx_init(&f, 54);
  int x = fx_tensor(&f, 3, D(2, 3, 4)), y = fx_tensor(&f, 3, D(4, 3, 2));
  fx_in(&f, x);
  fx_out(&f, y);
  fx_ints(&f, "perm", 3, D(2, 2, 0));
  CHECK(fx_prepare(&f, pnn_op_transpose_prepare) == PNN_ERR_FORMAT);
  f.ints[0][1] = 1;
  CHECK(fx_prepare(&f, pnn_op_transpose_prepare) == PNN_OK);
  f.ints[0][0] = 1;
  f.ints[0][1] = 2; /* [1,2,0] -> [3,4,2] != [4,3,2] */
  CHECK(fx_prepare(&f, pnn_op_transpose_prepare) == PNN_ERR_SHAPE);
  fx_free(&f);
}

/* ---- pad -------------------------------------------------------------------------- */
static void check_pad_1d(int mode, const float *x, int n, int64_t begin, int64_t end, float value,
                         const float *want, int want_n) {
  fixture f;
  fx_init(&f, 55);
  int t = fx_tensor(&f, 1, D(n)), y = fx_tensor(&f, 1, D(want_n));
  fx_in(&f, t);
  fx_out(&f, y);
  fx_int(&f, "mode", mode);
  fx_ints(&f, "pads", 2, D(begin, end));
  fx_float(&f, "value", value);
  memcpy(f.buf[t], x, (size_t)n * sizeof(float));
  fx_prepare_run(&f, pnn_op_pad_prepare, pnn_op_pad_run);
  CHECK(all_close(f.buf[y], want, (size_t)want_n, 0.0f));
  fx_free(&f);
}

static void test_pad(void) {
  const float x[] = {1, 2, 3, 4};
  check_pad_1d(0, x, 4, 2, 1, 9.0f, (const float[]){9, 9, 1, 2, 3, 4, 9}, 7);
  check_pad_1d(1, x, 4, 2, 3, 0.0f, (const float[]){3, 2, 1, 2, 3, 4, 3, 2, 1}, 9);
  check_pad_1d(2, x, 4, 2, 1, 0.0f, (const float[]){1, 1, 1, 2, 3, 4, 4}, 7);
  /* Negative pads crop: pad the positive side, then crop (ONNX reference). */
  check_pad_1d(0, x, 4, -1, 2, 7.0f, (const float[]){2, 3, 4, 7, 7}, 5);
  check_pad_1d(1, x, 4, 2, -1, 0.0f, (const float[]){3, 2, 1, 2, 3}, 5);
  check_pad_1d(1, x, 4, -1, 2, 0.0f, (const float[]){2, 3, 4, 3, 2}, 5);
  check_pad_1d(2, x, 4, -3, 2, 0.0f, (const float[]){4, 4, 4}, 3);
  check_pad_1d(0, x, 4, -2, -2, 0.0f, (const float[]){0}, 0);

  /* 2-D: [[1,2,3],[4,5,6]], pads rows (1, 0), cols (-1, 2), edge. */
  fixture f;
  fx_init(&f, 55);
  int t = fx_tensor(&f, 2, D(2, 3)), y = fx_tensor(&f, 2, D(3, 4));
  fx_in(&f, t);
  fx_out(&f, y);
  fx_int(&f, "mode", 2);
  fx_ints(&f, "pads", 4, D(1, -1, 0, 2));
  for (int i = 0; i < 6; ++i) f.buf[t][i] = (float)(i + 1);
  fx_prepare_run(&f, pnn_op_pad_prepare, pnn_op_pad_run);
  const float want[] = {2, 3, 3, 3, 2, 3, 3, 3, 5, 6, 6, 6};
  CHECK(all_close(f.buf[y], want, 12, 0.0f));
  /* constant mode, 3-D rows that are entirely padding */
  fx_free(&f);
  fx_init(&f, 55);
  t = fx_tensor(&f, 3, D(1, 2, 2));
  y = fx_tensor(&f, 3, D(2, 3, 2));
  fx_in(&f, t);
  fx_out(&f, y);
  fx_ints(&f, "pads", 6, D(1, 0, 0, 0, 1, 0));
  fx_float(&f, "value", -1.0f);
  for (int i = 0; i < 4; ++i) f.buf[t][i] = (float)(i + 1);
  fx_prepare_run(&f, pnn_op_pad_prepare, pnn_op_pad_run);
  const float want3[] = {-1, -1, -1, -1, -1, -1, 1, 2, 3, 4, -1, -1};
  CHECK(all_close(f.buf[y], want3, 12, 0.0f));
  fx_free(&f);

  /* Rejections: reflect pad >= dim, wrong output shape, crop below zero, pads count. */
  fx_init(&f, 55);
  t = fx_tensor(&f, 1, D(3));
  y = fx_tensor(&f, 1, D(6));
  fx_in(&f, t);
  fx_out(&f, y);
  fx_int(&f, "mode", 1);
  fx_ints(&f, "pads", 2, D(3, 0));
  CHECK(fx_prepare(&f, pnn_op_pad_prepare) == PNN_ERR_UNSUPPORTED);
  f.ints[1][0] = 2;
  CHECK(fx_prepare(&f, pnn_op_pad_prepare) == PNN_ERR_SHAPE);
  f.ints[1][1] = 1;
  CHECK(fx_prepare(&f, pnn_op_pad_prepare) == PNN_OK);
  f.ints[1][0] = -5;
  CHECK(fx_prepare(&f, pnn_op_pad_prepare) == PNN_ERR_SHAPE);
  f.attrs[1].count = 1;
  CHECK(fx_prepare(&f, pnn_op_pad_prepare) == PNN_ERR_FORMAT);
  fx_free(&f);
}

/* ---- resize ----------------------------------------------------------------------- */
static void check_resize(int rank, const int64_t *in_dims, const float *x, const int64_t *out_dims,
                         const float *scales, int mode, int coord, int nearest, const float *want) {
  fixture f;
  fx_init(&f, 56);
  int t = fx_tensor(&f, rank, in_dims), y = fx_tensor(&f, rank, out_dims);
  fx_in(&f, t);
  fx_out(&f, y);
  fx_int(&f, "mode", mode);
  fx_int(&f, "coord_mode", coord);
  fx_int(&f, "nearest_mode", nearest);
  fx_floats(&f, "scales", rank, scales);
  memcpy(f.buf[t], x, f.tensors[t].numel * sizeof(float));
  fx_prepare_run(&f, pnn_op_resize_prepare, pnn_op_resize_run);
  int ok = all_close(f.buf[y], want, f.tensors[y].numel, 1e-6f);
  if (!ok) fprintf(stderr, "  resize mode %d coord %d nearest %d\n", mode, coord, nearest);
  CHECK(ok);
  fx_free(&f);
}

static void test_resize(void) {
  const float x4[] = {10, 20, 30, 40};
  const float s2[] = {2.0f};
  /* asymmetric coordinates o/2 = 0, .5, 1, 1.5, ...: the ties show the nearest modes. */
  check_resize(1, D(4), x4, D(8), s2, 0, 1, 0, (const float[]){10, 10, 20, 20, 30, 30, 40, 40});
  check_resize(1, D(4), x4, D(8), s2, 0, 1, 1, (const float[]){10, 20, 20, 30, 30, 40, 40, 40});
  check_resize(1, D(4), x4, D(8), s2, 0, 1, 2, (const float[]){10, 10, 20, 20, 30, 30, 40, 40});
  check_resize(1, D(4), x4, D(8), s2, 0, 1, 3, (const float[]){10, 20, 20, 30, 30, 40, 40, 40});
  /* half_pixel nearest x2: coords -0.25, 0.25, 0.75, 1.25, ... */
  check_resize(1, D(4), x4, D(8), s2, 0, 0, 0, (const float[]){10, 10, 20, 20, 30, 30, 40, 40});
  /* half_pixel nearest downscale by 2: coords 0.5, 2.5 -> prefer floor 0, 2. */
  check_resize(1, D(4), x4, D(2), (const float[]){0.5f}, 0, 0, 0, (const float[]){10, 30});
  check_resize(1, D(4), x4, D(2), (const float[]){0.5f}, 0, 0, 1, (const float[]){20, 40});
  /* linear half_pixel [1,2] x2: coords -0.25 (clamped), 0.25, 0.75, 1.25 (clamped). */
  const float x2[] = {1, 2};
  check_resize(1, D(2), x2, D(4), s2, 1, 0, 0, (const float[]){1, 1.25f, 1.75f, 2});
  /* align_corners: 0, 1/3, 2/3, 1. */
  check_resize(1, D(2), x2, D(4), s2, 1, 2, 0, (const float[]){1, 4.0f / 3, 5.0f / 3, 2});
  /* asymmetric: 0, .5, 1, 1.5 (clamped). */
  check_resize(1, D(2), x2, D(4), s2, 1, 1, 0, (const float[]){1, 1.5f, 2, 2});
  /* pytorch_half_pixel with one output: coordinate 0. */
  check_resize(1, D(4), x4, D(1), (const float[]){0.25f}, 1, 3, 0, (const float[]){10});
  /* half_pixel with one output: (0.5)/0.25 - 0.5 = 1.5 -> 25. */
  check_resize(1, D(4), x4, D(1), (const float[]){0.25f}, 1, 0, 0, (const float[]){25});
  /* half_pixel_symmetric, 3 -> 4 with scale 1.5 (floor(4.5) = 4): adjustment 8/9,
   * offset 1/6, coords 0, 2/3, 4/3, 2 -> over [0,3,6]: 0, 2, 4, 6. */
  check_resize(1, D(3), (const float[]){0, 3, 6}, D(4), (const float[]){1.5f}, 1, 4, 0,
               (const float[]){0, 2, 4, 6});
  /* Bilinear align_corners 2x2 -> 3x3 over NCHW [1,1,2,2]. */
  const float sq[] = {1, 2, 3, 4};
  check_resize(4, D(1, 1, 2, 2), sq, D(1, 1, 3, 3), (const float[]){1, 1, 1.5f, 1.5f}, 1, 2, 0,
               (const float[]){1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4});
  /* Nearest x2 asymmetric in 2-D over two channels. */
  const float two[] = {1, 2, 3, 4, 5, 6, 7, 8};
  check_resize(4, D(1, 2, 2, 2), two, D(1, 2, 4, 4), (const float[]){1, 1, 2, 2}, 0, 1, 2,
               (const float[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4,
                               5, 5, 6, 6, 5, 5, 6, 6, 7, 7, 8, 8, 7, 7, 8, 8});
  /* Trilinear over [2,2,2] -> [3,3,3] align_corners, x = 4a + 2b + c: linear in each
   * coordinate, so y = 4*a/2*... = 2a' + b' + c'/2 with a',b',c' in {0,1,2}. */
  float cube[8], want_cube[27];
  for (int i = 0; i < 8; ++i) cube[i] = (float)i;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 3; ++c) want_cube[a * 9 + b * 3 + c] = 2.0f * a + 1.0f * b + 0.5f * c;
  check_resize(3, D(2, 2, 2), cube, D(3, 3, 3), (const float[]){1.5f, 1.5f, 1.5f}, 1, 2, 0,
               want_cube);

  /* Rejections: 4 interpolated dims, output size inconsistent with the scale, bad enums. */
  fixture f;
  fx_init(&f, 56);
  int t = fx_tensor(&f, 4, D(2, 2, 2, 2)), y = fx_tensor(&f, 4, D(4, 4, 4, 4));
  fx_in(&f, t);
  fx_out(&f, y);
  fx_int(&f, "mode", 1);
  fx_floats(&f, "scales", 4, (const float[]){2, 2, 2, 2});
  CHECK(fx_prepare(&f, pnn_op_resize_prepare) == PNN_ERR_UNSUPPORTED);
  f.attrs[0].i = 0;
  CHECK(fx_prepare(&f, pnn_op_resize_prepare) == PNN_OK);
  f.tensors[y].dims[3] = 5;
  CHECK(fx_prepare(&f, pnn_op_resize_prepare) == PNN_ERR_SHAPE);
  f.tensors[y].dims[3] = 4;
  f.attrs[0].i = 2;
  CHECK(fx_prepare(&f, pnn_op_resize_prepare) == PNN_ERR_UNSUPPORTED);
  f.attrs[0].i = 0;
  f.floats[1][0] = -1.0f;
  CHECK(fx_prepare(&f, pnn_op_resize_prepare) != PNN_OK);
  f.floats[1][0] = 2.0f;
  f.attrs[1].count = 3;
  CHECK(fx_prepare(&f, pnn_op_resize_prepare) == PNN_ERR_FORMAT);
  fx_free(&f);
}

/* ---- softmax ---------------------------------------------------------------------- */
static void test_softmax(void) {
  const int64_t dims[3] = {2, 3, 4};
  for (int axis = 0; axis < 3; ++axis) {
    for (int log_flag = 0; log_flag <= 1; ++log_flag) {
      fixture f;
      fx_init(&f, 57);
      int x = fx_tensor(&f, 3, dims), y = fx_tensor(&f, 3, dims);
      fx_in(&f, x);
      fx_out(&f, y);
      fx_int(&f, "axis", axis);
      fx_int(&f, "log", log_flag);
      fill(f.buf[x], 24, 5u);
      f.buf[x][0] = 1000.0f; /* stability: no inf/nan */
      fx_prepare_run(&f, pnn_op_softmax_prepare, pnn_op_softmax_run);
      int64_t idx[3];
      float want[24];
      for (size_t i = 0; i < 24; ++i) {
        unravel(i, 3, dims, idx);
        double mx = -INFINITY, sum = 0;
        int64_t j[3] = {idx[0], idx[1], idx[2]};
        for (j[axis] = 0; j[axis] < dims[axis]; ++j[axis]) mx = fmax(mx, f.buf[x][ravel(3, dims, j)]);
        for (j[axis] = 0; j[axis] < dims[axis]; ++j[axis]) sum += exp(f.buf[x][ravel(3, dims, j)] - mx);
        double v = f.buf[x][i] - mx;
        want[i] = (float)(log_flag ? v - log(sum) : exp(v) / sum);
      }
      CHECK(all_close(f.buf[y], want, 24, 2e-6f));
      if (!log_flag) { /* every slice sums to 1 */
        for (size_t i = 0; i < 24; ++i) {
          unravel(i, 3, dims, idx);
          if (idx[axis] != 0) continue;
          double s = 0;
          for (idx[axis] = 0; idx[axis] < dims[axis]; ++idx[axis]) s += f.buf[y][ravel(3, dims, idx)];
          CHECK(fabs(s - 1.0) < 1e-5);
        }
      }
      fx_free(&f);
    }
  }
  fixture f;
  fx_init(&f, 57);
  int x = fx_tensor(&f, 2, D(2, 3)), y = fx_tensor(&f, 2, D(2, 3));
  fx_in(&f, x);
  fx_out(&f, y);
  fx_int(&f, "axis", 2);
  CHECK(fx_prepare(&f, pnn_op_softmax_prepare) == PNN_ERR_UNSUPPORTED);
  fx_free(&f);
}

/* ---- reduce ----------------------------------------------------------------------- */
static void check_reduce(int code, int rank, const int64_t *dims, int n_axes, const int64_t *axes,
                         int keepdims) {
  int reduced[PNN_MAX_RANK] = {0};
  for (int i = 0; i < n_axes; ++i) reduced[axes[i]] = 1;
  int64_t out[PNN_MAX_RANK], full[PNN_MAX_RANK];
  int ro = 0;
  for (int d = 0; d < rank; ++d) {
    full[d] = reduced[d] ? 1 : dims[d];
    if (!reduced[d] || keepdims) out[ro++] = full[d];
  }
  fixture f;
  fx_init(&f, (uint16_t)code);
  int x = fx_tensor(&f, rank, dims), y = fx_tensor(&f, ro, out);
  fx_in(&f, x);
  fx_out(&f, y);
  fx_ints(&f, "axes", n_axes, axes);
  fx_int(&f, "keepdims", keepdims);
  fill(f.buf[x], f.tensors[x].numel, 11u);
  fx_prepare_run(&f, pnn_op_reduce_prepare, pnn_op_reduce_run);
  size_t n_out = f.tensors[y].numel;
  double *acc = malloc(n_out * sizeof(double));
  size_t *count = calloc(n_out, sizeof(size_t));
  int64_t idx[PNN_MAX_RANK];
  for (size_t i = 0; i < n_out; ++i) acc[i] = code == 60 ? -INFINITY : (code == 61 ? INFINITY : 0.0);
  for (size_t i = 0; i < f.tensors[x].numel; ++i) {
    unravel(i, rank, dims, idx);
    for (int d = 0; d < rank; ++d) if (reduced[d]) idx[d] = 0;
    size_t o = ravel(rank, full, idx);
    double v = f.buf[x][i];
    acc[o] = code == 60 ? fmax(acc[o], v) : (code == 61 ? fmin(acc[o], v) : acc[o] + v);
    count[o]++;
  }
  float *want = malloc(n_out * sizeof(float));
  for (size_t i = 0; i < n_out; ++i) want[i] = (float)(code == 58 ? acc[i] / (double)count[i] : acc[i]);
  int ok = all_close(f.buf[y], want, n_out, 2e-6f);
  if (!ok) fprintf(stderr, "  reduce op %d\n", code);
  CHECK(ok);
  free(acc);
  free(count);
  free(want);
  fx_free(&f);
}

static void test_reduce(void) {
  for (int code = 58; code <= 61; ++code) {
    for (int keep = 0; keep <= 1; ++keep) {
      check_reduce(code, 4, D(2, 3, 4, 5), 2, D(1, 3), keep);
      check_reduce(code, 4, D(2, 3, 4, 5), 2, D(2, 3), keep);
      check_reduce(code, 4, D(2, 3, 4, 5), 1, D(0), keep);
      check_reduce(code, 4, D(2, 3, 4, 5), 4, D(0, 1, 2, 3), keep);
      check_reduce(code, 5, D(2, 1, 3, 1, 4), 2, D(1, 2), keep);
      check_reduce(code, 3, D(3, 1, 7), 1, D(1), keep);
    }
  }
  fixture f;
  fx_init(&f, 58);
  int x = fx_tensor(&f, 3, D(2, 3, 4)), y = fx_tensor(&f, 3, D(2, 1, 1));
  fx_in(&f, x);
  fx_out(&f, y);
  fx_ints(&f, "axes", 2, D(2, 1));
  CHECK(fx_prepare(&f, pnn_op_reduce_prepare) == PNN_ERR_FORMAT); /* unsorted */
  f.ints[0][0] = 1;
  f.ints[0][1] = 2;
  CHECK(fx_prepare(&f, pnn_op_reduce_prepare) == PNN_OK);
  f.ints[0][1] = 3;
  CHECK(fx_prepare(&f, pnn_op_reduce_prepare) == PNN_ERR_FORMAT); /* out of range */
  f.ints[0][1] = 2;
  fx_int(&f, "keepdims", 0);
  CHECK(fx_prepare(&f, pnn_op_reduce_prepare) == PNN_ERR_SHAPE);
  fx_free(&f);
}

/* ---- layernorm -------------------------------------------------------------------- */
static void test_layernorm(void) {
  /* X [2,3,4], axis 1 (normalize over 12), scale [3,4] full, bias [4] broadcast
   * constant; then axis 2 with scale [1,4] (size-equal) and no bias. */
  for (int variant = 0; variant < 2; ++variant) {
    fixture f;
    fx_init(&f, 62);
    int x = fx_tensor(&f, 3, D(2, 3, 4));
    int scale = variant == 0 ? fx_tensor(&f, 2, D(3, 4)) : fx_tensor(&f, 2, D(1, 4));
    int bias = variant == 0 ? fx_tensor(&f, 1, D(4)) : -1;
    int y = fx_tensor(&f, 3, D(2, 3, 4));
    fx_in(&f, x);
    fx_in(&f, scale);
    if (bias >= 0) {
      fx_in(&f, bias);
      fx_const(&f, bias);
    }
    fx_out(&f, y);
    const int axis = variant == 0 ? 1 : 2;
    fx_int(&f, "axis", axis);
    fx_float(&f, "epsilon", 1e-3f);
    fill(f.buf[x], 24, 3u);
    fill(f.buf[scale], f.tensors[scale].numel, 4u);
    if (bias >= 0) fill(f.buf[bias], 4, 8u);
    fx_prepare_run(&f, pnn_op_layernorm_prepare, pnn_op_layernorm_run);
    const size_t n = variant == 0 ? 12 : 4;
    float want[24];
    for (size_t r = 0; r < 24 / n; ++r) {
      const float *row = f.buf[x] + r * n;
      double mean = 0, var = 0;
      for (size_t i = 0; i < n; ++i) mean += row[i];
      mean /= (double)n;
      for (size_t i = 0; i < n; ++i) var += (row[i] - mean) * (row[i] - mean);
      var /= (double)n;
      for (size_t i = 0; i < n; ++i) {
        double s = f.buf[scale][variant == 0 ? i : i % 4];
        double b = bias >= 0 ? f.buf[bias][i % 4] : 0.0;
        want[r * n + i] = (float)((row[i] - mean) / sqrt(var + 1e-3) * s + b);
      }
    }
    CHECK(all_close(f.buf[y], want, 24, 2e-6f));
    /* Rejections: a scale that does not broadcast; a non-constant broadcast bias. */
    if (variant == 0) {
      f.tensors[bias].kind = PNN_TENSOR_ACTIVATION;
      CHECK(fx_prepare(&f, pnn_op_layernorm_prepare) == PNN_ERR_UNSUPPORTED);
      f.tensors[bias].kind = PNN_TENSOR_CONSTANT;
      f.tensors[scale].dims[1] = 3;
      CHECK(fx_prepare(&f, pnn_op_layernorm_prepare) == PNN_ERR_SHAPE);
      f.tensors[scale].dims[1] = 4;
      f.attrs[0].i = 3;
      CHECK(fx_prepare(&f, pnn_op_layernorm_prepare) == PNN_ERR_UNSUPPORTED);
    }
    fx_free(&f);
  }
}

/* ---- gather ----------------------------------------------------------------------- */
static void test_gather(void) {
  fixture f;
  fx_init(&f, 63);
  int data = fx_tensor(&f, 3, D(3, 4, 2));
  int idx = fx_tensor(&f, 2, D(2, 2));
  int y = fx_tensor(&f, 4, D(3, 2, 2, 2));
  f.tensors[idx].dtype = PNN_DTYPE_S32;
  fx_const(&f, idx);
  fx_in(&f, data);
  fx_in(&f, idx);
  fx_out(&f, y);
  fx_int(&f, "axis", 1);
  int32_t *iv = (int32_t *)f.buf[idx];
  iv[0] = 3, iv[1] = 0, iv[2] = 1, iv[3] = 1;
  for (int i = 0; i < 24; ++i) f.buf[data][i] = (float)i;
  fx_prepare_run(&f, pnn_op_gather_prepare, pnn_op_gather_run);
  int ok = 1;
  for (int a = 0; a < 3; ++a)
    for (int j = 0; j < 4; ++j)
      for (int c = 0; c < 2; ++c) ok &= f.buf[y][(a * 4 + j) * 2 + c] == (float)(a * 8 + iv[j] * 2 + c);
  CHECK(ok);
  iv[2] = 4;
  CHECK(fx_prepare(&f, pnn_op_gather_prepare) == PNN_ERR_SHAPE);
  iv[2] = -1;
  CHECK(fx_prepare(&f, pnn_op_gather_prepare) == PNN_ERR_SHAPE);
  iv[2] = 1;
  f.tensors[idx].dtype = PNN_DTYPE_F32;
  CHECK(fx_prepare(&f, pnn_op_gather_prepare) == PNN_ERR_UNSUPPORTED);
  fx_free(&f);
  /* Scalar index along axis 0: rank r - 1. */
  fx_init(&f, 63);
  data = fx_tensor(&f, 2, D(3, 2));
  idx = fx_tensor(&f, 0, D(0));
  y = fx_tensor(&f, 1, D(2));
  f.tensors[idx].dtype = PNN_DTYPE_S32;
  fx_const(&f, idx);
  fx_in(&f, data);
  fx_in(&f, idx);
  fx_out(&f, y);
  ((int32_t *)f.buf[idx])[0] = 2;
  for (int i = 0; i < 6; ++i) f.buf[data][i] = (float)i;
  fx_prepare_run(&f, pnn_op_gather_prepare, pnn_op_gather_run);
  CHECK(f.buf[y][0] == 4.0f && f.buf[y][1] == 5.0f);
  fx_free(&f);
}

/* ---- concat, split, slice, reshape -------------------------------------------------- */
static void test_data_movement(void) {
  /* Concat [2,1,3] and [2,2,3] on axis 1, then Split it back. */
  fixture f;
  fx_init(&f, 50);
  int a = fx_tensor(&f, 3, D(2, 1, 3)), b = fx_tensor(&f, 3, D(2, 2, 3)), y = fx_tensor(&f, 3, D(2, 3, 3));
  fx_in(&f, a);
  fx_in(&f, b);
  fx_out(&f, y);
  fx_int(&f, "axis", 1);
  for (int i = 0; i < 6; ++i) f.buf[a][i] = (float)(100 + i);
  for (int i = 0; i < 12; ++i) f.buf[b][i] = (float)(200 + i);
  fx_prepare_run(&f, pnn_op_concat_prepare, pnn_op_concat_run);
  const float want[] = {100, 101, 102, 200, 201, 202, 203, 204, 205,
                        103, 104, 105, 206, 207, 208, 209, 210, 211};
  CHECK(all_close(f.buf[y], want, 18, 0.0f));
  f.tensors[b].dims[2] = 4;
  CHECK(fx_prepare(&f, pnn_op_concat_prepare) == PNN_ERR_SHAPE);
  fx_free(&f);

  fx_init(&f, 51);
  int x = fx_tensor(&f, 3, D(2, 3, 3));
  a = fx_tensor(&f, 3, D(2, 1, 3));
  b = fx_tensor(&f, 3, D(2, 2, 3));
  fx_in(&f, x);
  fx_out(&f, a);
  fx_out(&f, b);
  fx_int(&f, "axis", 1);
  memcpy(f.buf[x], want, sizeof(want));
  fx_prepare_run(&f, pnn_op_split_prepare, pnn_op_split_run);
  CHECK(f.buf[a][0] == 100 && f.buf[a][3] == 103 && f.buf[a][5] == 105);
  CHECK(f.buf[b][0] == 200 && f.buf[b][6] == 206 && f.buf[b][11] == 211);
  f.tensors[b].dims[1] = 1;
  CHECK(fx_prepare(&f, pnn_op_split_prepare) == PNN_ERR_SHAPE);
  fx_free(&f);

  /* Slice [3,5]: rows 2,0 (step -2), cols 1,4 (step 3); and a rank-4 slice. */
  fx_init(&f, 52);
  x = fx_tensor(&f, 2, D(3, 5));
  y = fx_tensor(&f, 2, D(2, 2));
  fx_in(&f, x);
  fx_out(&f, y);
  fx_ints(&f, "starts", 2, D(2, 1));
  fx_ints(&f, "steps", 2, D(-2, 3));
  for (int i = 0; i < 15; ++i) f.buf[x][i] = (float)i;
  fx_prepare_run(&f, pnn_op_slice_prepare, pnn_op_slice_run);
  CHECK(all_close(f.buf[y], (const float[]){11, 14, 1, 4}, 4, 0.0f));
  f.ints[1][1] = 4; /* 1 + 4 = 5 leaves the input */
  CHECK(fx_prepare(&f, pnn_op_slice_prepare) == PNN_ERR_SHAPE);
  f.ints[1][1] = 0;
  CHECK(fx_prepare(&f, pnn_op_slice_prepare) == PNN_ERR_UNSUPPORTED);
  f.ints[1][1] = 3;
  f.ints[0][0] = 3;
  CHECK(fx_prepare(&f, pnn_op_slice_prepare) == PNN_ERR_SHAPE);
  fx_free(&f);

  fx_init(&f, 52);
  x = fx_tensor(&f, 4, D(2, 3, 4, 5));
  y = fx_tensor(&f, 4, D(1, 2, 4, 2));
  fx_in(&f, x);
  fx_out(&f, y);
  fx_ints(&f, "starts", 4, D(1, 0, 3, 1));
  fx_ints(&f, "steps", 4, D(1, 2, -1, 2));
  for (int i = 0; i < 120; ++i) f.buf[x][i] = (float)i;
  fx_prepare_run(&f, pnn_op_slice_prepare, pnn_op_slice_run);
  int ok = 1;
  for (int j = 0; j < 2; ++j)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < 2; ++l)
        ok &= f.buf[y][(j * 4 + k) * 2 + l] == (float)(60 + (2 * j) * 20 + (3 - k) * 5 + 1 + 2 * l);
  CHECK(ok);
  fx_free(&f);

  fx_init(&f, 53);
  x = fx_tensor(&f, 3, D(2, 3, 4));
  y = fx_tensor(&f, 2, D(6, 4));
  fx_in(&f, x);
  fx_out(&f, y);
  for (int i = 0; i < 24; ++i) f.buf[x][i] = (float)i * 0.5f;
  fx_prepare_run(&f, pnn_op_reshape_prepare, pnn_op_reshape_run);
  CHECK(all_close(f.buf[y], f.buf[x], 24, 0.0f));
  f.tensors[y].dims[0] = 5;
  f.tensors[y].numel = 20;
  CHECK(fx_prepare(&f, pnn_op_reshape_prepare) == PNN_ERR_SHAPE);
  fx_free(&f);
}

int main(void) {
  test_unary();
  test_binary();
  test_transpose();
  test_pad();
  test_resize();
  test_softmax();
  test_reduce();
  test_layernorm();
  test_gather();
  test_data_movement();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("test_elementwise_ops: all passed\n");
  return 0;
}
