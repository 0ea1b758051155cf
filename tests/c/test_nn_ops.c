/* Tests of the nn operators (Conv, ConvTranspose, Gemm, MatMul, BatchNormalization,
 * MaxPool/AveragePool, GlobalAveragePool/GlobalMaxPool) through their prepare and run
 * entry points, on hand-built model structs. Every result is compared with a naive
 * direct loop written here, once with the scalar kernels and once with the kernels
 * picked for this CPU. Prepare must also refuse malformed nodes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ops/ops.h"

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond, ...)                            \
  do {                                              \
    ++g_checks;                                     \
    if (!(cond)) {                                  \
      ++g_failures;                                 \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                 \
      fprintf(stderr, "\n");                        \
    }                                               \
  } while (0)

/* ---- deterministic data -------------------------------------------------------- */

static uint32_t g_rng = 12345u;
static float rnd(void) {
  g_rng = g_rng * 1664525u + 1013904223u;
  return (float)((g_rng >> 8) & 0xFFFF) / 32768.0f - 1.0f; /* [-1, 1) */
}
static float *rnd_buf(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; ++i) p[i] = rnd();
  return p;
}

/* ---- a one-node model built by hand --------------------------------------------- */

#define MAX_T 8
#define MAX_A 12

typedef struct test_graph {
  pnn_model model;
  pnn_tensor tensors[MAX_T];
  char tensor_names[MAX_T][8];
  pnn_node node;
  char node_name[32];
  int32_t inputs[MAX_T];
  int32_t outputs[1];
  pnn_attr attrs[MAX_A];
  char attr_names[MAX_A][32];
  int64_t attr_ints[MAX_A][8];
  float *data[MAX_T]; /* values of every tensor (inputs and the output buffer) */
} test_graph;

static void tg_init(test_graph *tg, uint16_t op, const char *name) {
  memset(tg, 0, sizeof(*tg));
  tg->model.tensors = tg->tensors;
  tg->model.nodes = &tg->node;
  tg->model.n_nodes = 1;
  snprintf(tg->node_name, sizeof(tg->node_name), "%s", name);
  tg->node.op = op;
  tg->node.name = tg->node_name;
  tg->node.inputs = tg->inputs;
  tg->node.outputs = tg->outputs;
  tg->node.attrs = tg->attrs;
}

/* Adds a tensor of the given shape filled with random data (the output gets a zeroed
 * buffer instead). `constant` marks it as a file constant. Returns its id. */
static int32_t tg_tensor(test_graph *tg, bool constant, int rank, const int64_t *dims) {
  int32_t id = (int32_t)tg->model.n_tensors++;
  pnn_tensor *t = &tg->tensors[id];
  snprintf(tg->tensor_names[id], sizeof(tg->tensor_names[id]), "t%d", (int)id);
  t->name = tg->tensor_names[id];
  t->dtype = PNN_DTYPE_F32;
  t->kind = constant ? PNN_TENSOR_CONSTANT : PNN_TENSOR_ACTIVATION;
  t->rank = rank;
  t->numel = 1;
  for (int d = 0; d < rank; ++d) {
    t->dims[d] = dims[d];
    t->numel *= (size_t)(dims[d] > 0 ? dims[d] : 0);
  }
  t->nbytes = t->numel * sizeof(float);
  t->producer = -1;
  tg->data[id] = rnd_buf(t->numel);
  if (constant) t->data = tg->data[id];
  return id;
}

static void tg_input(test_graph *tg, bool constant, int rank, const int64_t *dims) {
  tg->inputs[tg->node.n_inputs++] = tg_tensor(tg, constant, rank, dims);
}
static void tg_absent_input(test_graph *tg) { tg->inputs[tg->node.n_inputs++] = -1; }
static void tg_output(test_graph *tg, int rank, const int64_t *dims) {
  int32_t id = tg_tensor(tg, false, rank, dims);
  memset(tg->data[id], 0, tg->tensors[id].numel * sizeof(float));
  tg->outputs[tg->node.n_outputs++] = id;
}

static pnn_attr *tg_attr(test_graph *tg, const char *name, uint8_t type) {
  uint32_t i = tg->node.n_attrs++;
  snprintf(tg->attr_names[i], sizeof(tg->attr_names[i]), "%s", name);
  tg->attrs[i].name = tg->attr_names[i];
  tg->attrs[i].type = type;
  tg->attrs[i].count = 1;
  return &tg->attrs[i];
}
static void tg_int(test_graph *tg, const char *name, int64_t v) { tg_attr(tg, name, PNN_ATTR_INT)->i = v; }
static void tg_float(test_graph *tg, const char *name, float v) { tg_attr(tg, name, PNN_ATTR_FLOAT)->f = v; }
static void tg_ints(test_graph *tg, const char *name, uint32_t count, const int64_t *v) {
  uint32_t i = tg->node.n_attrs;
  pnn_attr *a = tg_attr(tg, name, PNN_ATTR_INTS);
  memcpy(tg->attr_ints[i], v, count * sizeof(int64_t));
  a->ints = tg->attr_ints[i];
  a->count = count;
}
static void tg_set_int(test_graph *tg, const char *name, int64_t v) {
  for (uint32_t i = 0; i < tg->node.n_attrs; ++i) {
    if (strcmp(tg->attrs[i].name, name) == 0) tg->attrs[i].i = v;
  }
}
static void tg_act(test_graph *tg, int kind, float alpha, float beta) {
  tg_int(tg, "act", kind);
  tg_float(tg, "act_alpha", alpha);
  tg_float(tg, "act_beta", beta);
}

static const pnn_op_def *op_def(uint16_t code) {
  const pnn_op_def *def = pnn_op_lookup(code);
  if (!def) {
    fprintf(stderr, "op %u missing from the table\n", (unsigned)code);
    exit(1);
  }
  return def;
}

static pnn_status tg_prepare(test_graph *tg, pnn_error *error) {
  return op_def(tg->node.op)->prepare(&tg->model, &tg->node, error);
}

/* Prepares (must succeed) and runs the node. */
static bool tg_run(test_graph *tg) {
  pnn_error error;
  memset(&error, 0, sizeof(error));
  pnn_status st = tg_prepare(tg, &error);
  CHECK(st == PNN_OK, "node %s: prepare failed: %s", tg->node_name, error.message);
  if (st != PNN_OK) return false;
  CHECK(tg->node.kernel != NULL, "node %s: no kernel name", tg->node_name);
  const void *in[MAX_T];
  void *out[1];
  for (uint32_t i = 0; i < tg->node.n_inputs; ++i) {
    in[i] = tg->inputs[i] >= 0 ? (const void *)tg->data[tg->inputs[i]] : NULL;
  }
  out[0] = tg->data[tg->outputs[0]];
  size_t scratch_bytes = (tg->node.scratch_bytes + 63) / 64 * 64;
  void *scratch = scratch_bytes ? aligned_alloc(64, scratch_bytes) : NULL;
  if (scratch) memset(scratch, 0xFF, scratch_bytes); /* NaN garbage: run must not read it unwritten */
  const pnn_run_context ctx = {scratch, scratch_bytes, NULL};
  op_def(tg->node.op)->run(&tg->model, &tg->node, in, out, &ctx);
  free(scratch);
  return true;
}

static void tg_free(test_graph *tg) {
  free(tg->node.params);
  tg->node.params = NULL;
  for (uint32_t i = 0; i < tg->model.n_tensors; ++i) free(tg->data[i]);
}

static float *tg_in(test_graph *tg, uint32_t i) {
  return tg->inputs[i] >= 0 ? tg->data[tg->inputs[i]] : NULL;
}
static float *tg_out(test_graph *tg) { return tg->data[tg->outputs[0]]; }

static void check_close(const char *what, const float *got, const float *want, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    float tol = 1e-5f + 1e-4f * fabsf(want[i]);
    if (got[i] != want[i] && !(fabsf(got[i] - want[i]) <= tol) && !(isnan(got[i]) && isnan(want[i]))) {
      if (bad < 5) fprintf(stderr, "  %s[%zu]: got %g want %g\n", what, i, got[i], want[i]);
      ++bad;
    }
  }
  CHECK(bad == 0, "%s: %zu of %zu values differ", what, bad, n);
}

/* Prepare must fail with `expect`; frees the graph. */
static void expect_refused(test_graph *tg, pnn_status expect, const char *what) {
  pnn_error error;
  memset(&error, 0, sizeof(error));
  pnn_status st = tg_prepare(tg, &error);
  CHECK(st == expect, "%s: prepare returned %d (%s), expected %d", what, (int)st, error.message,
        (int)expect);
  CHECK(st == PNN_OK || error.message[0] != '\0', "%s: refused without a message", what);
  tg_free(tg);
}

/* ---- Conv -------------------------------------------------------------------- */

typedef struct conv_case {
  const char *name;
  int64_t n, c, h, w, m, kh, kw, group;
  int64_t sh, sw, dh, dw, pads[4];
  bool bias, one_d, w_const;
  int act;
  float alpha, beta;
  const char *path; /* expected kernel path prefix */
} conv_case;

static int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1) {
  return (in + p0 + p1 - (d * (k - 1) + 1)) / s + 1;
}

static void ref_conv(const conv_case *cc, int64_t oh, int64_t ow, const float *x, const float *w,
                     const float *b, float *y) {
  const int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
  pnn_activation act = {cc->act, cc->alpha, cc->beta};
  for (int64_t n = 0; n < cc->n; ++n)
    for (int64_t m = 0; m < cc->m; ++m)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t g = m / mg;
          double acc = b ? b[m] : 0.0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t i = 0; i < cc->kh; ++i)
              for (int64_t j = 0; j < cc->kw; ++j) {
                int64_t iy = oy * cc->sh - cc->pads[0] + i * cc->dh;
                int64_t ix = ox * cc->sw - cc->pads[1] + j * cc->dw;
                if (iy < 0 || iy >= cc->h || ix < 0 || ix >= cc->w) continue;
                acc += (double)w[((m * cg + ci) * cc->kh + i) * cc->kw + j] *
                       x[((n * cc->c + g * cg + ci) * cc->h + iy) * cc->w + ix];
              }
          y[((n * cc->m + m) * oh + oy) * ow + ox] = pnn_activate((float)acc, act);
        }
}

/* Builds the Conv node of a case (X, W, B?, attrs, output of the computed shape). */
static void build_conv(test_graph *tg, const conv_case *cc, int64_t oh, int64_t ow) {
  tg_init(tg, 1, cc->name);
  if (cc->one_d) {
    int64_t xd[3] = {cc->n, cc->c, cc->w}, wd[3] = {cc->m, cc->c / cc->group, cc->kw};
    tg_input(tg, false, 3, xd);
    tg_input(tg, cc->w_const, 3, wd);
  } else {
    int64_t xd[4] = {cc->n, cc->c, cc->h, cc->w}, wd[4] = {cc->m, cc->c / cc->group, cc->kh, cc->kw};
    tg_input(tg, false, 4, xd);
    tg_input(tg, cc->w_const, 4, wd);
  }
  if (cc->bias) {
    int64_t bd[1] = {cc->m};
    tg_input(tg, true, 1, bd);
  }
  if (cc->one_d) {
    int64_t yd[3] = {cc->n, cc->m, ow};
    tg_output(tg, 3, yd);
    /* the 1-D attribute form */
    int64_t s[1] = {cc->sw}, d[1] = {cc->dw}, p[2] = {cc->pads[1], cc->pads[3]};
    tg_ints(tg, "strides", 1, s);
    tg_ints(tg, "dilations", 1, d);
    tg_ints(tg, "pads", 2, p);
  } else {
    int64_t yd[4] = {cc->n, cc->m, oh, ow};
    tg_output(tg, 4, yd);
    int64_t s[2] = {cc->sh, cc->sw}, d[2] = {cc->dh, cc->dw};
    tg_ints(tg, "strides", 2, s);
    tg_ints(tg, "dilations", 2, d);
    tg_ints(tg, "pads", 4, cc->pads);
  }
  tg_int(tg, "group", cc->group);
  if (cc->act) tg_act(tg, cc->act, cc->alpha, cc->beta);
}

/* Runs one case against ref_conv; `specials` (NULL-terminated flat indices of X with
 * +inf, -inf alternating) go into the input first. */
static void test_conv_case_with(const conv_case *cc, const pnn_cpu_features *cpu, const size_t *specials) {
  const int64_t oh = cc->one_d ? 1 : conv_out(cc->h, cc->kh, cc->sh, cc->dh, cc->pads[0], cc->pads[2]);
  const int64_t ow = conv_out(cc->w, cc->kw, cc->sw, cc->dw, cc->pads[1], cc->pads[3]);
  test_graph tg;
  build_conv(&tg, cc, oh, ow);
  tg.model.cpu = *cpu;
  /* cc->path is the portable choice; x86 SIMD runs every non-depthwise conv on packed
   * panels, stride-1 3x3 ones with constant weights and 16+ 2x2 tiles as Winograd
   * F(2x2, 3x3), and (AVX-512) 3x3 to 7x7 ones of at most 4 input channels direct. */
  const char *path = cc->path;
#if defined(__x86_64__)
  if ((cpu->avx2_fma || cpu->avx512f) && strcmp(path, "dwconv") != 0) {
    const int64_t tiles = ((oh + 1) / 2) * ((ow + 1) / 2);
    const bool wino = !cc->one_d && cc->kh == 3 && cc->kw == 3 && cc->sh == 1 && cc->sw == 1 &&
                      cc->dh == 1 && cc->dw == 1 && cc->group == 1 && cc->c >= 8 && cc->m >= 8 &&
                      tiles >= 16 && cc->w_const;
    const bool direct = cpu->avx512f && cc->group == 1 && cc->c <= 4 && cc->w_const &&
                        (cc->kw == 3 || cc->kw == 5 || cc->kw == 7) && cc->kh <= 7 && cc->dh == 1 &&
                        cc->dw == 1 && (cc->sw == 1 || cc->sw == 2) && cc->sh == cc->sw && cc->pads[1] < 16;
    /* Fewer pixels than a 32-column panel over a depth past 10240 (one panel > 1.25 MiB). */
    const bool deep_few = oh * ow < 32 && cc->c / cc->group * cc->kh * cc->kw > 10240;
    path = direct ? "direct" : (wino ? "winograd" : (deep_few ? "im2col+gemm" : "packed"));
  }
#endif
  for (size_t i = 0; specials && specials[i]; ++i) tg_in(&tg, 0)[specials[i]] = i % 2 ? -INFINITY : INFINITY;
  if (tg_run(&tg)) {
    CHECK(strncmp(tg.node.kernel, path, strlen(path)) == 0, "%s: kernel %s, expected %s...",
          cc->name, tg.node.kernel, path);
    size_t n = (size_t)(cc->n * cc->m * oh * ow);
    float *want = malloc(n * sizeof(float));
    ref_conv(cc, oh, ow, tg_in(&tg, 0), tg_in(&tg, 1), cc->bias ? tg_in(&tg, 2) : NULL, want);
    check_close(cc->name, tg_out(&tg), want, n);
    free(want);
  }
  tg_free(&tg);
}

static void test_conv_case(const conv_case *cc, const pnn_cpu_features *cpu) {
  test_conv_case_with(cc, cpu, NULL);
}

static const conv_case CONV_CASES[] = {
    {"conv 1x1", 1, 5, 3, 4, 7, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false, true, 0, 0, 0, "gemm-1x1"},
    {"conv 1x1 dilated", 1, 5, 3, 4, 7, 1, 1, 1, 1, 1, 3, 2, {0, 0, 0, 0}, false, false, false, 1, 0, 0, "gemm-1x1"},
    {"conv 3x3 pad", 1, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, false, true, 0, 0, 0, "im2col+gemm"},
    {"conv stride 2 asym pads", 1, 3, 5, 7, 4, 3, 2, 1, 2, 2, 1, 1, {0, 1, 1, 0}, true, false, true, 0, 0, 0, "im2col+gemm"},
    {"conv dilation 2", 1, 2, 7, 8, 3, 3, 3, 1, 1, 1, 2, 2, {2, 2, 2, 2}, false, false, false, 0, 0, 0, "im2col+gemm"},
    {"conv groups", 1, 6, 5, 5, 4, 3, 3, 2, 1, 1, 1, 1, {1, 1, 1, 1}, true, false, true, 6, 0, 0, "im2col+gemm"},
    {"conv grouped 1x1", 1, 6, 4, 3, 9, 1, 1, 3, 1, 1, 1, 1, {0, 0, 0, 0}, true, false, true, 1, 0, 0, "gemm-1x1"},
    {"conv 1x1 stride 2", 1, 4, 5, 5, 3, 1, 1, 1, 2, 2, 1, 1, {0, 0, 0, 0}, true, false, true, 0, 0, 0, "im2col+gemm"},
    {"conv depthwise", 1, 5, 7, 6, 5, 3, 3, 5, 2, 2, 1, 1, {1, 1, 1, 1}, true, false, true, 1, 0, 0, "dwconv"},
    {"conv depthwise 5x5 dil", 1, 19, 9, 11, 19, 5, 5, 19, 1, 1, 2, 2, {4, 3, 4, 5}, true, false, true, 2, -0.5f, 0.5f, "dwconv"},
    {"conv depthwise no bias", 2, 17, 3, 21, 17, 3, 3, 17, 1, 2, 1, 1, {1, 1, 1, 1}, false, false, false, 0, 0, 0, "dwconv"},
    {"conv multiplier 2", 1, 3, 5, 4, 6, 3, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, false, true, 0, 0, 0, "im2col+gemm"},
    {"conv batch 2", 2, 3, 6, 6, 5, 3, 3, 1, 2, 1, 1, 1, {1, 0, 1, 2}, true, false, false, 3, 0.1f, 0, "im2col+gemm"},
    {"conv batch 2 1x1", 2, 7, 3, 3, 5, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false, true, 7, 0, 0, "gemm-1x1"},
    {"conv rank 3", 2, 3, 1, 9, 4, 1, 3, 1, 1, 2, 1, 1, {0, 1, 0, 1}, true, true, true, 0, 0, 0, "im2col+gemm"},
    {"conv rank 3 depthwise", 1, 4, 1, 10, 4, 1, 3, 4, 1, 1, 1, 2, {0, 2, 0, 2}, true, true, true, 4, 0, 0, "dwconv"},
    {"conv odd 17 ch", 1, 17, 9, 13, 33, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, false, true, 5, 0.2f, 0.5f, "im2col+gemm"},
    {"conv kernel = input", 1, 2, 3, 4, 3, 3, 4, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false, true, 0, 0, 0, "im2col+gemm"},
    /* Winograd on x86: several tile blocks with a partial last panel, odd sizes,
     * asymmetric and no padding, batches, activations, runtime weights (packed). */
    {"conv 3x3 many tiles", 1, 9, 31, 30, 20, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, false, true, 1, 0, 0, "im2col+gemm"},
    {"conv 3x3 asym pads", 2, 16, 12, 17, 15, 3, 3, 1, 1, 1, 1, 1, {0, 2, 1, 0}, true, false, true, 2, -0.25f, 0.75f, "im2col+gemm"},
    {"conv 3x3 no pad", 1, 8, 14, 15, 29, 3, 3, 1, 1, 1, 1, 1, {0, 0, 0, 0}, false, false, true, 6, 0, 0, "im2col+gemm"},
    {"conv 3x3 sigmoid", 1, 12, 13, 11, 8, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, false, true, 4, 0, 0, "im2col+gemm"},
    {"conv 3x3 runtime W", 1, 9, 16, 16, 10, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, false, false, 1, 0, 0, "im2col+gemm"},
    {"conv 3x3 big K", 1, 70, 9, 8, 45, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, false, true, 1, 0, 0, "im2col+gemm"},
    {"conv 1x1 many panels", 1, 300, 17, 19, 31, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false, true, 1, 0, 0, "gemm-1x1"},
    {"conv 7x7 stride 2 stem", 1, 3, 23, 21, 16, 7, 7, 1, 2, 2, 1, 1, {3, 3, 3, 3}, true, false, true, 1, 0, 0, "im2col+gemm"},
    {"conv 3x3 stride 2 wide", 1, 5, 9, 75, 18, 3, 3, 1, 2, 2, 1, 1, {1, 1, 1, 1}, true, false, true, 2, 0, 6, "im2col+gemm"},
    /* Weights over 512 KiB: packed at prepare on x86. */
    {"conv 1x1 packed weights", 1, 600, 5, 5, 230, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false, true, 1, 0, 0, "gemm-1x1"},
    {"conv 3x3 s2 packed weights", 1, 64, 7, 9, 250, 3, 3, 1, 2, 2, 1, 1, {1, 1, 1, 1}, true, false, true, 2, 0, 6, "im2col+gemm"},
    {"conv depthwise s1 wide", 1, 3, 5, 70, 3, 3, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, false, true, 1, 0, 0, "dwconv"},
    {"conv depthwise s2 wide", 1, 4, 6, 67, 4, 3, 3, 4, 2, 2, 1, 1, {1, 1, 1, 1}, true, false, true, 2, 0, 6, "dwconv"},
    {"conv depthwise s2 pad 2", 1, 2, 9, 9, 2, 3, 3, 2, 2, 2, 1, 1, {2, 2, 0, 1}, true, false, true, 0, 0, 0, "dwconv"},
    /* Kernels whose outer taps read only padding: cropped to the taps that reach the
     * image (constant W; grouped; strided and dilated), or used whole (runtime W). */
    {"conv cropped kernel", 1, 3, 4, 5, 6, 9, 11, 1, 1, 1, 1, 1, {4, 5, 4, 5}, true, false, true, 1, 0, 0, "im2col+gemm"},
    {"conv cropped s2 d2", 1, 2, 5, 4, 5, 7, 7, 1, 2, 2, 2, 2, {6, 7, 5, 6}, true, false, true, 0, 0, 0, "im2col+gemm"},
    {"conv cropped groups", 2, 4, 2, 2, 6, 7, 7, 2, 1, 1, 1, 1, {3, 3, 3, 3}, false, false, true, 0, 0, 0, "im2col+gemm"},
    {"conv cropped 1x1 out", 1, 1, 1, 1, 2, 65, 65, 1, 1, 1, 1, 1, {32, 32, 32, 32}, true, false, true, 0, 0, 0, "im2col+gemm"},
    {"conv uncropped runtime W", 1, 3, 4, 5, 6, 9, 11, 1, 1, 1, 1, 1, {4, 5, 4, 5}, true, false, false, 0, 0, 0, "im2col+gemm"},
    /* Three output pixels over 12480 taps: unfolded as such, not in 32-column panels. */
    {"conv deep few pixels", 1, 2, 80, 80, 3, 80, 78, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false, true, 0, 0, 0, "im2col+gemm"},
};

/* Infinities in X of Winograd-sized convs (x86): the transform's inf - inf must not
 * show; +inf and -inf meeting in one window give NaN as in the reference. */
static void test_conv_infinities(const pnn_cpu_features *cpu) {
  static const conv_case cases[] = {
      {"conv 3x3 inf", 1, 9, 31, 30, 20, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, false, true, 1, 0, 0, "im2col+gemm"},
      {"conv 3x3 inf batch 2", 2, 16, 12, 17, 15, 3, 3, 1, 1, 1, 1, 1, {0, 2, 1, 0}, true, false, true, 0, 0, 0, "im2col+gemm"},
  };
  /* A lone +inf, a lone -inf (first and last element), and +inf / -inf two pixels apart. */
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    const conv_case *cc = &cases[i];
    const size_t plane = (size_t)(cc->h * cc->w), last = (size_t)(cc->n * cc->c) * plane - 1;
    const size_t mid = plane + (size_t)(cc->h / 2 * cc->w + cc->w / 2);
    const size_t specials[] = {7, last, mid, mid + 2, 0};
    test_conv_case_with(cc, cpu, specials);
  }
}

static void test_conv_refusals(void) {
  const conv_case base = {"bad", 1, 4, 5, 5, 6, 3, 3, 2, 1, 1, 1, 1, {1, 1, 1, 1}, true, false, true, 0, 0, 0, ""};
  test_graph tg;

  /* wrong output shape */
  build_conv(&tg, &base, 5, 4);
  expect_refused(&tg, PNN_ERR_SHAPE, "conv wrong output shape");
  /* C not divisible by group */
  {
    tg_init(&tg, 1, "bad group");
    int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {6, 1, 3, 3}, yd[4] = {1, 6, 5, 5};
    tg_input(&tg, false, 4, xd);
    tg_input(&tg, true, 4, wd);
    tg_output(&tg, 4, yd);
    tg_int(&tg, "group", 3);
    int64_t pads[4] = {1, 1, 1, 1};
    tg_ints(&tg, "pads", 4, pads);
    expect_refused(&tg, PNN_ERR_SHAPE, "conv C % group");
  }
  /* M not divisible by group */
  {
    tg_init(&tg, 1, "bad m group");
    int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {5, 2, 3, 3}, yd[4] = {1, 5, 3, 3};
    tg_input(&tg, false, 4, xd);
    tg_input(&tg, true, 4, wd);
    tg_output(&tg, 4, yd);
    tg_int(&tg, "group", 2);
    expect_refused(&tg, PNN_ERR_SHAPE, "conv M % group");
  }
  /* W's second dim is not C/group */
  {
    tg_init(&tg, 1, "bad w");
    int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {6, 4, 3, 3}, yd[4] = {1, 6, 3, 3};
    tg_input(&tg, false, 4, xd);
    tg_input(&tg, true, 4, wd);
    tg_output(&tg, 4, yd);
    tg_int(&tg, "group", 2);
    expect_refused(&tg, PNN_ERR_SHAPE, "conv W dim 1");
  }
  /* zero stride, negative pad, zero dilation, zero group */
  {
    conv_case cc = base;
    cc.sh = 0;
    build_conv(&tg, &cc, 5, 5);
    expect_refused(&tg, PNN_ERR_UNSUPPORTED, "conv stride 0");
    cc = base;
    cc.pads[2] = -1;
    build_conv(&tg, &cc, 4, 5);
    expect_refused(&tg, PNN_ERR_UNSUPPORTED, "conv negative pad");
    cc = base;
    cc.dw = 0;
    build_conv(&tg, &cc, 5, 5);
    expect_refused(&tg, PNN_ERR_UNSUPPORTED, "conv dilation 0");
    build_conv(&tg, &base, 5, 5);
    tg_set_int(&tg, "group", 0);
    expect_refused(&tg, PNN_ERR_UNSUPPORTED, "conv group 0");
    cc = base;
    cc.sw = (int64_t)1 << 40;
    build_conv(&tg, &cc, 5, 1);
    expect_refused(&tg, PNN_ERR_UNSUPPORTED, "conv huge stride");
  }
  /* kernel larger than the padded input */
  {
    tg_init(&tg, 1, "bad kernel");
    int64_t xd[4] = {1, 2, 2, 2}, wd[4] = {3, 2, 3, 3}, yd[4] = {1, 3, 0, 0};
    tg_input(&tg, false, 4, xd);
    tg_input(&tg, true, 4, wd);
    tg_output(&tg, 4, yd);
    expect_refused(&tg, PNN_ERR_SHAPE, "conv kernel > input");
  }
  /* bias of the wrong length */
  {
    tg_init(&tg, 1, "bad bias");
    int64_t xd[4] = {1, 2, 4, 4}, wd[4] = {3, 2, 3, 3}, bd[1] = {2}, yd[4] = {1, 3, 2, 2};
    tg_input(&tg, false, 4, xd);
    tg_input(&tg, true, 4, wd);
    tg_input(&tg, true, 1, bd);
    tg_output(&tg, 4, yd);
    expect_refused(&tg, PNN_ERR_SHAPE, "conv bias length");
  }
  /* rank mismatch, bad act, wrong attribute count, wrong attribute type, bad input count */
  {
    tg_init(&tg, 1, "bad rank");
    int64_t xd[4] = {1, 2, 4, 4}, wd[3] = {3, 2, 3}, yd[4] = {1, 3, 2, 2};
    tg_input(&tg, false, 4, xd);
    tg_input(&tg, true, 3, wd);
    tg_output(&tg, 4, yd);
    expect_refused(&tg, PNN_ERR_SHAPE, "conv W rank");

    conv_case cc = base;
    cc.act = 99;
    build_conv(&tg, &cc, 5, 5);
    expect_refused(&tg, PNN_ERR_UNSUPPORTED, "conv act 99");

    tg_init(&tg, 1, "bad strides count");
    int64_t xd2[4] = {1, 2, 4, 4}, wd2[4] = {3, 2, 3, 3}, yd2[4] = {1, 3, 2, 2}, s[3] = {1, 1, 1};
    tg_input(&tg, false, 4, xd2);
    tg_input(&tg, true, 4, wd2);
    tg_output(&tg, 4, yd2);
    tg_ints(&tg, "strides", 3, s);
    expect_refused(&tg, PNN_ERR_FORMAT, "conv strides count");

    tg_init(&tg, 1, "bad group type");
    tg_input(&tg, false, 4, xd2);
    tg_input(&tg, true, 4, wd2);
    tg_output(&tg, 4, yd2);
    tg_float(&tg, "group", 1.0f);
    expect_refused(&tg, PNN_ERR_FORMAT, "conv group type");

    tg_init(&tg, 1, "one input");
    tg_input(&tg, false, 4, xd2);
    tg_output(&tg, 4, yd2);
    expect_refused(&tg, PNN_ERR_FORMAT, "conv one input");
  }
  /* rank 3 with top/bottom padding would change H */
  {
    tg_init(&tg, 1, "bad 1d pads");
    int64_t xd[3] = {1, 2, 6}, wd[3] = {3, 2, 3}, yd[3] = {1, 3, 4}, pads[4] = {1, 0, 1, 0};
    tg_input(&tg, false, 3, xd);
    tg_input(&tg, true, 3, wd);
    tg_output(&tg, 3, yd);
    tg_ints(&tg, "pads", 4, pads);
    expect_refused(&tg, PNN_ERR_SHAPE, "conv rank-3 H padding");
  }
}

/* ---- ConvTranspose -------------------------------------------------------------- */

typedef struct convt_case {
  const char *name;
  int64_t n, c, h, w, m, kh, kw, group;
  int64_t sh, sw, dh, dw, pads[4], oph, opw;
  bool bias, one_d, w_const;
  int act;
} convt_case;

static void ref_convt(const convt_case *cc, int64_t oh, int64_t ow, const float *x, const float *w,
                      const float *b, float *y) {
  const int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
  const int64_t total = cc->n * cc->m * oh * ow;
  double *acc = calloc((size_t)total, sizeof(double));
  for (int64_t n = 0; n < cc->n; ++n)
    for (int64_t ci = 0; ci < cc->c; ++ci)
      for (int64_t iy = 0; iy < cc->h; ++iy)
        for (int64_t ix = 0; ix < cc->w; ++ix)
          for (int64_t mo = 0; mo < mg; ++mo)
            for (int64_t i = 0; i < cc->kh; ++i)
              for (int64_t j = 0; j < cc->kw; ++j) {
                int64_t oy = iy * cc->sh + i * cc->dh - cc->pads[0];
                int64_t ox = ix * cc->sw + j * cc->dw - cc->pads[1];
                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                int64_t m = (ci / cg) * mg + mo;
                acc[((n * cc->m + m) * oh + oy) * ow + ox] +=
                    (double)x[((n * cc->c + ci) * cc->h + iy) * cc->w + ix] *
                    w[((ci * mg + mo) * cc->kh + i) * cc->kw + j];
              }
  pnn_activation act = {cc->act, 0.0f, 0.0f};
  for (int64_t idx = 0; idx < total; ++idx) {
    int64_t m = (idx / (oh * ow)) % cc->m;
    y[idx] = pnn_activate((float)(acc[idx] + (b ? b[m] : 0.0)), act);
  }
  free(acc);
}

static void build_convt(test_graph *tg, const convt_case *cc, int64_t oh, int64_t ow) {
  tg_init(tg, 2, cc->name);
  const int64_t mg = cc->m / cc->group;
  if (cc->one_d) {
    int64_t xd[3] = {cc->n, cc->c, cc->w}, wd[3] = {cc->c, mg, cc->kw};
    tg_input(tg, false, 3, xd);
    tg_input(tg, cc->w_const, 3, wd);
  } else {
    int64_t xd[4] = {cc->n, cc->c, cc->h, cc->w}, wd[4] = {cc->c, mg, cc->kh, cc->kw};
    tg_input(tg, false, 4, xd);
    tg_input(tg, cc->w_const, 4, wd);
  }
  if (cc->bias) {
    int64_t bd[1] = {cc->m};
    tg_input(tg, false, 1, bd);
  } else {
    tg_absent_input(tg);
  }
  if (cc->one_d) {
    int64_t yd[3] = {cc->n, cc->m, ow};
    tg_output(tg, 3, yd);
  } else {
    int64_t yd[4] = {cc->n, cc->m, oh, ow};
    tg_output(tg, 4, yd);
  }
  int64_t s[2] = {cc->sh, cc->sw}, d[2] = {cc->dh, cc->dw}, op[2] = {cc->oph, cc->opw};
  tg_ints(tg, "strides", 2, s);
  tg_ints(tg, "dilations", 2, d);
  tg_ints(tg, "pads", 4, cc->pads);
  tg_ints(tg, "output_padding", 2, op);
  tg_int(tg, "group", cc->group);
  if (cc->act) tg_act(tg, cc->act, 0.0f, 0.0f);
}

static void test_convt_case(const convt_case *cc, const pnn_cpu_features *cpu) {
  const int64_t oh = cc->sh * (cc->h - 1) + cc->oph + cc->dh * (cc->kh - 1) + 1 - cc->pads[0] - cc->pads[2];
  const int64_t ow = cc->sw * (cc->w - 1) + cc->opw + cc->dw * (cc->kw - 1) + 1 - cc->pads[1] - cc->pads[3];
  test_graph tg;
  build_convt(&tg, cc, oh, ow);
  tg.model.cpu = *cpu;
  if (tg_run(&tg)) {
    size_t n = (size_t)(cc->n * cc->m * oh * ow);
    float *want = malloc(n * sizeof(float));
    ref_convt(cc, oh, ow, tg_in(&tg, 0), tg_in(&tg, 1), tg_in(&tg, 2), want);
    check_close(cc->name, tg_out(&tg), want, n);
    free(want);
  }
  tg_free(&tg);
}

static const convt_case CONVT_CASES[] = {
    {"convT 3x3", 1, 2, 3, 4, 3, 3, 3, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 0, 0, true, false, true, 0},
    {"convT stride 2 pads outpad", 1, 4, 3, 3, 6, 3, 3, 2, 2, 2, 1, 1, {1, 1, 1, 1}, 1, 1, true, false, true, 1},
    {"convT runtime W dilation", 2, 3, 4, 3, 2, 2, 3, 1, 2, 3, 2, 1, {0, 1, 2, 0}, 1, 0, false, false, false, 0},
    {"convT group runtime W", 1, 6, 2, 5, 9, 2, 2, 3, 1, 2, 1, 1, {0, 0, 0, 0}, 0, 1, true, false, false, 4},
    {"convT rank 3", 2, 3, 1, 5, 2, 1, 4, 1, 1, 3, 1, 1, {0, 1, 0, 2}, 0, 2, true, true, true, 0},
};

/* ---- Gemm ------------------------------------------------------------------------ */

typedef struct gemm_case {
  const char *name;
  int64_t m, n, k;
  int trans_a, trans_b;
  float alpha, beta;
  int c_rank;           /* -1 absent */
  int64_t c_dims[2];
  bool b_const, c_const;
  int act;
} gemm_case;

static void test_gemm_case(const gemm_case *gc, const pnn_cpu_features *cpu) {
  test_graph tg;
  tg_init(&tg, 3, gc->name);
  tg.model.cpu = *cpu;
  int64_t ad[2] = {gc->trans_a ? gc->k : gc->m, gc->trans_a ? gc->m : gc->k};
  int64_t bd[2] = {gc->trans_b ? gc->n : gc->k, gc->trans_b ? gc->k : gc->n};
  int64_t yd[2] = {gc->m, gc->n};
  tg_input(&tg, false, 2, ad);
  tg_input(&tg, gc->b_const, 2, bd);
  if (gc->c_rank >= 0) tg_input(&tg, gc->c_const, gc->c_rank, gc->c_dims);
  tg_output(&tg, 2, yd);
  tg_int(&tg, "trans_a", gc->trans_a);
  tg_int(&tg, "trans_b", gc->trans_b);
  tg_float(&tg, "alpha", gc->alpha);
  tg_float(&tg, "beta", gc->beta);
  if (gc->act) tg_act(&tg, gc->act, 0.0f, 0.0f);
  if (tg_run(&tg)) {
    const float *a = tg_in(&tg, 0), *b = tg_in(&tg, 1), *c = gc->c_rank >= 0 ? tg_in(&tg, 2) : NULL;
    float *want = malloc((size_t)(gc->m * gc->n) * sizeof(float));
    pnn_activation act = {gc->act, 0.0f, 0.0f};
    int64_t cr = gc->c_rank == 2 ? gc->c_dims[0] : 1;
    int64_t ccols = gc->c_rank >= 1 ? gc->c_dims[gc->c_rank - 1] : 1;
    for (int64_t i = 0; i < gc->m; ++i)
      for (int64_t j = 0; j < gc->n; ++j) {
        double acc = 0.0;
        for (int64_t p = 0; p < gc->k; ++p) {
          float av = gc->trans_a ? a[p * gc->m + i] : a[i * gc->k + p];
          float bv = gc->trans_b ? b[j * gc->k + p] : b[p * gc->n + j];
          acc += (double)av * bv;
        }
        acc *= gc->alpha;
        if (c) acc += (double)gc->beta * c[(cr == 1 ? 0 : i) * ccols + (ccols == 1 ? 0 : j)];
        want[i * gc->n + j] = pnn_activate((float)acc, act);
      }
    check_close(gc->name, tg_out(&tg), want, (size_t)(gc->m * gc->n));
    free(want);
  }
  tg_free(&tg);
}

static const gemm_case GEMM_CASES[] = {
    {"gemm plain", 3, 5, 7, 0, 0, 1.0f, 1.0f, -1, {0, 0}, true, true, 0},
    {"gemm transB const C[N]", 4, 9, 6, 0, 1, 1.0f, 1.0f, 1, {9, 0}, true, true, 1},
    {"gemm transA transB alpha beta", 5, 3, 4, 1, 1, 0.5f, 2.0f, 2, {1, 3}, false, false, 0},
    {"gemm C[M,1]", 6, 4, 3, 0, 0, 1.5f, -1.0f, 2, {6, 1}, true, false, 4},
    {"gemm C[M,N] runtime", 5, 17, 8, 1, 0, 1.0f, 0.75f, 2, {5, 17}, false, false, 1},
    {"gemm C[M,N] const", 2, 3, 33, 0, 1, 1.0f, 1.0f, 2, {2, 3}, true, true, 7},
    {"gemm C scalar rank0", 3, 4, 5, 0, 0, 1.0f, 1.0f, 0, {0, 0}, false, true, 0},
    {"gemm C [1] runtime", 3, 4, 5, 0, 0, 1.0f, 3.0f, 1, {1, 0}, false, false, 0},
    {"gemm beta 0", 3, 4, 5, 0, 0, 1.0f, 0.0f, 1, {4, 0}, true, true, 0},
    {"gemm K 1", 7, 31, 1, 1, 1, 2.0f, 1.0f, 1, {31, 0}, false, true, 1},
    {"gemm M 1 classifier", 1, 37, 64, 0, 1, 1.0f, 1.0f, 1, {37, 0}, true, true, 0},
    /* Batch-1 recurrent step (the unrolled LSTM's h R^T): the matrix-vector path. */
    {"gemm M 1 transB odd N", 1, 67, 17, 0, 1, 1.0f, 1.0f, -1, {0, 0}, true, true, 0},
};

static void test_gemm_refusals(void) {
  test_graph tg;
  int64_t a[2] = {3, 4}, b[2] = {5, 6}, y[2] = {3, 6};
  tg_init(&tg, 3, "gemm k mismatch");
  tg_input(&tg, false, 2, a);
  tg_input(&tg, true, 2, b);
  tg_output(&tg, 2, y);
  expect_refused(&tg, PNN_ERR_SHAPE, "gemm K mismatch");

  int64_t b2[2] = {4, 6}, c[2] = {2, 6};
  tg_init(&tg, 3, "gemm bad C");
  tg_input(&tg, false, 2, a);
  tg_input(&tg, true, 2, b2);
  tg_input(&tg, true, 2, c);
  tg_output(&tg, 2, y);
  expect_refused(&tg, PNN_ERR_SHAPE, "gemm C does not broadcast");

  int64_t y2[2] = {6, 3};
  tg_init(&tg, 3, "gemm bad out");
  tg_input(&tg, false, 2, a);
  tg_input(&tg, true, 2, b2);
  tg_output(&tg, 2, y2);
  expect_refused(&tg, PNN_ERR_SHAPE, "gemm output shape");

  tg_init(&tg, 3, "gemm trans 2");
  tg_input(&tg, false, 2, a);
  tg_input(&tg, true, 2, b2);
  tg_output(&tg, 2, y);
  tg_int(&tg, "trans_a", 2);
  expect_refused(&tg, PNN_ERR_UNSUPPORTED, "gemm trans_a 2");

  int64_t a3[3] = {1, 3, 4};
  tg_init(&tg, 3, "gemm rank 3");
  tg_input(&tg, false, 3, a3);
  tg_input(&tg, true, 2, b2);
  tg_output(&tg, 2, y);
  expect_refused(&tg, PNN_ERR_SHAPE, "gemm A rank 3");
}

/* ---- MatMul ---------------------------------------------------------------------- */

typedef struct matmul_case {
  const char *name;
  int ra, rb;
  int64_t a[4], b[4];
  int ry;
  int64_t y[4];
  bool bias;
  int act;
} matmul_case;

static void test_matmul_case(const matmul_case *mc, const pnn_cpu_features *cpu) {
  test_graph tg;
  tg_init(&tg, 4, mc->name);
  tg.model.cpu = *cpu;
  tg_input(&tg, false, mc->ra, mc->a);
  tg_input(&tg, true, mc->rb, mc->b);
  const int64_t n = mc->rb == 1 ? 1 : mc->b[mc->rb - 1];
  const int64_t k = mc->a[mc->ra - 1];
  const int64_t m = mc->ra == 1 ? 1 : mc->a[mc->ra - 2];
  if (mc->bias) {
    int64_t bd[1] = {n};
    tg_input(&tg, true, 1, bd);
  }
  tg_output(&tg, mc->ry, mc->y);
  if (mc->act) tg_act(&tg, mc->act, 0.0f, 0.0f);
  if (tg_run(&tg)) {
    /* Reference: broadcast the batch dims explicitly (4-D padded shapes). */
    int64_t ab[4] = {1, 1, 1, 1}, bb[4] = {1, 1, 1, 1}, ob[4] = {1, 1, 1, 1};
    const int a_batch = mc->ra > 2 ? mc->ra - 2 : 0, b_batch = mc->rb > 2 ? mc->rb - 2 : 0;
    for (int d = 0; d < a_batch; ++d) ab[4 - a_batch + d] = mc->a[d];
    for (int d = 0; d < b_batch; ++d) bb[4 - b_batch + d] = mc->b[d];
    size_t total = 1;
    for (int d = 0; d < 4; ++d) {
      ob[d] = ab[d] > bb[d] ? ab[d] : bb[d];
      total *= (size_t)ob[d];
    }
    const float *A = tg_in(&tg, 0), *B = tg_in(&tg, 1), *bias = mc->bias ? tg_in(&tg, 2) : NULL;
    float *want = malloc(total * (size_t)(m * n) * sizeof(float));
    pnn_activation act = {mc->act, 0.0f, 0.0f};
    size_t t = 0;
    for (int64_t i0 = 0; i0 < ob[0]; ++i0)
      for (int64_t i1 = 0; i1 < ob[1]; ++i1)
        for (int64_t i2 = 0; i2 < ob[2]; ++i2)
          for (int64_t i3 = 0; i3 < ob[3]; ++i3, ++t) {
            int64_t ai = (((ab[0] > 1 ? i0 : 0) * ab[1] + (ab[1] > 1 ? i1 : 0)) * ab[2] +
                          (ab[2] > 1 ? i2 : 0)) * ab[3] + (ab[3] > 1 ? i3 : 0);
            int64_t bi = (((bb[0] > 1 ? i0 : 0) * bb[1] + (bb[1] > 1 ? i1 : 0)) * bb[2] +
                          (bb[2] > 1 ? i2 : 0)) * bb[3] + (bb[3] > 1 ? i3 : 0);
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < n; ++j) {
                double acc = bias ? bias[j] : 0.0;
                for (int64_t p = 0; p < k; ++p) {
                  acc += (double)A[ai * m * k + i * k + p] * B[bi * k * n + p * n + j];
                }
                want[t * (size_t)(m * n) + (size_t)(i * n + j)] = pnn_activate((float)acc, act);
              }
          }
    check_close(mc->name, tg_out(&tg), want, total * (size_t)(m * n));
    free(want);
  }
  tg_free(&tg);
}

static const matmul_case MATMUL_CASES[] = {
    {"matmul 2d", 2, 2, {3, 5}, {5, 4}, 2, {3, 4}, false, 0},
    {"matmul 1d x 2d", 1, 2, {5}, {5, 4}, 1, {4}, true, 1},
    {"matmul 2d x 1d", 2, 1, {3, 5}, {5}, 1, {3}, false, 0},
    {"matmul 1d x 1d", 1, 1, {7}, {7}, 0, {0}, false, 0},
    {"matmul batch fold", 4, 2, {2, 3, 4, 5}, {5, 6}, 4, {2, 3, 4, 6}, true, 4},
    {"matmul batch broadcast", 4, 3, {2, 1, 4, 5}, {3, 5, 6}, 4, {2, 3, 4, 6}, false, 0},
    {"matmul batch both", 3, 3, {3, 2, 9}, {3, 9, 17}, 3, {3, 2, 17}, true, 0},
    {"matmul B batch A 2d", 2, 3, {4, 3}, {2, 3, 5}, 3, {2, 4, 5}, false, 7},
    {"matmul 1d x batch", 1, 3, {3}, {2, 3, 5}, 2, {2, 5}, false, 0},
    {"matmul batch x 1d", 3, 1, {2, 4, 3}, {3}, 2, {2, 4}, false, 0},
    {"matmul B batch ones", 2, 4, {4, 3}, {1, 1, 3, 5}, 4, {1, 1, 4, 5}, false, 0},
    /* One row times a constant B: B^T stored at prepare (odd sizes, B with unit batch dims). */
    {"matmul one row B^T", 2, 2, {1, 70}, {70, 67}, 2, {1, 67}, true, 4},
    {"matmul one row B^T K 1", 2, 2, {1, 1}, {1, 3}, 2, {1, 3}, false, 0},
    {"matmul one row B^T batch ones", 3, 3, {1, 1, 19}, {1, 19, 33}, 3, {1, 1, 33}, true, 7},
};

static void test_matmul_refusals(void) {
  test_graph tg;
  int64_t a[2] = {3, 4}, b[2] = {5, 6}, y[2] = {3, 6};
  tg_init(&tg, 4, "matmul k");
  tg_input(&tg, false, 2, a);
  tg_input(&tg, true, 2, b);
  tg_output(&tg, 2, y);
  expect_refused(&tg, PNN_ERR_SHAPE, "matmul K mismatch");

  int64_t a3[3] = {2, 3, 4}, b3[3] = {3, 4, 6}, y3[3] = {3, 3, 6};
  tg_init(&tg, 4, "matmul batch");
  tg_input(&tg, false, 3, a3);
  tg_input(&tg, true, 3, b3);
  tg_output(&tg, 3, y3);
  expect_refused(&tg, PNN_ERR_SHAPE, "matmul batch mismatch");

  int64_t b2[2] = {4, 6}, bias[1] = {5};
  tg_init(&tg, 4, "matmul bias");
  tg_input(&tg, false, 2, a);
  tg_input(&tg, true, 2, b2);
  tg_input(&tg, true, 1, bias);
  tg_output(&tg, 2, y);
  expect_refused(&tg, PNN_ERR_SHAPE, "matmul bias length");

  int64_t y1[1] = {3};
  tg_init(&tg, 4, "matmul out");
  tg_input(&tg, false, 2, a);
  tg_input(&tg, true, 2, b2);
  tg_output(&tg, 1, y1);
  expect_refused(&tg, PNN_ERR_SHAPE, "matmul output rank");
}

/* ---- BatchNormalization ------------------------------------------------------------ */

static void test_batchnorm(int rank, const int64_t *dims) {
  test_graph tg;
  tg_init(&tg, 5, "bn");
  tg_input(&tg, false, rank, dims);
  int64_t cd[1] = {dims[1]};
  for (int i = 0; i < 4; ++i) tg_input(&tg, i != 1, 1, cd);
  float *var = tg_in(&tg, 4);
  for (int64_t c = 0; c < dims[1]; ++c) var[c] = fabsf(var[c]) + 0.1f;
  tg_output(&tg, rank, dims);
  tg_float(&tg, "epsilon", 1e-3f);
  if (tg_run(&tg)) {
    size_t total = tg.tensors[tg.inputs[0]].numel, inner = total / (size_t)(dims[0] * dims[1]);
    float *want = malloc(total * sizeof(float));
    const float *x = tg_in(&tg, 0), *s = tg_in(&tg, 1), *b = tg_in(&tg, 2), *mu = tg_in(&tg, 3);
    for (size_t i = 0; i < total; ++i) {
      size_t c = (i / inner) % (size_t)dims[1];
      want[i] = (float)((x[i] - mu[c]) / sqrt((double)var[c] + 1e-3) * s[c] + b[c]);
    }
    check_close("batchnorm", tg_out(&tg), want, total);
    free(want);
  }
  tg_free(&tg);

  /* a [C] parameter of the wrong length */
  tg_init(&tg, 5, "bn bad");
  tg_input(&tg, false, rank, dims);
  int64_t bad[1] = {dims[1] + 1};
  for (int i = 0; i < 4; ++i) tg_input(&tg, true, 1, i == 2 ? bad : cd);
  tg_output(&tg, rank, dims);
  expect_refused(&tg, PNN_ERR_SHAPE, "batchnorm mean length");
}

/* ---- pools ------------------------------------------------------------------------ */

typedef struct pool_case {
  const char *name;
  uint16_t op;
  int64_t n, c, h, w;
  int64_t kh, kw, sh, sw, dh, dw, pads[4];
  int ceil_mode, count_include_pad;
  int64_t oh, ow; /* expected output size, worked out by hand from the ONNX rules */
  bool one_d;
} pool_case;

static void ref_pool(const pool_case *pc, const float *x, float *y) {
  for (int64_t n = 0; n < pc->n; ++n)
    for (int64_t c = 0; c < pc->c; ++c)
      for (int64_t oy = 0; oy < pc->oh; ++oy)
        for (int64_t ox = 0; ox < pc->ow; ++ox) {
          double sum = 0.0;
          float best = -INFINITY;
          int valid = 0, padded = 0;
          for (int64_t i = 0; i < pc->kh; ++i)
            for (int64_t j = 0; j < pc->kw; ++j) {
              int64_t iy = oy * pc->sh - pc->pads[0] + i * pc->dh;
              int64_t ix = ox * pc->sw - pc->pads[1] + j * pc->dw;
              if (iy < pc->h + pc->pads[2] && ix < pc->w + pc->pads[3]) ++padded;
              if (iy < 0 || iy >= pc->h || ix < 0 || ix >= pc->w) continue;
              float v = x[((n * pc->c + c) * pc->h + iy) * pc->w + ix];
              sum += v;
              if (v > best) best = v;
              ++valid;
            }
          float *out = &y[((n * pc->c + c) * pc->oh + oy) * pc->ow + ox];
          if (pc->op == 40) {
            *out = best;
          } else {
            *out = (float)(sum / (pc->count_include_pad ? padded : valid));
          }
        }
}

static void build_pool(test_graph *tg, const pool_case *pc) {
  tg_init(tg, pc->op, pc->name);
  if (pc->one_d) {
    int64_t xd[3] = {pc->n, pc->c, pc->w}, yd[3] = {pc->n, pc->c, pc->ow};
    tg_input(tg, false, 3, xd);
    tg_output(tg, 3, yd);
    int64_t k[1] = {pc->kw}, s[1] = {pc->sw}, d[1] = {pc->dw}, p[2] = {pc->pads[1], pc->pads[3]};
    tg_ints(tg, "kernel", 1, k);
    tg_ints(tg, "strides", 1, s);
    tg_ints(tg, "dilations", 1, d);
    tg_ints(tg, "pads", 2, p);
  } else {
    int64_t xd[4] = {pc->n, pc->c, pc->h, pc->w}, yd[4] = {pc->n, pc->c, pc->oh, pc->ow};
    tg_input(tg, false, 4, xd);
    tg_output(tg, 4, yd);
    int64_t k[2] = {pc->kh, pc->kw}, s[2] = {pc->sh, pc->sw}, d[2] = {pc->dh, pc->dw};
    tg_ints(tg, "kernel", 2, k);
    tg_ints(tg, "strides", 2, s);
    tg_ints(tg, "dilations", 2, d);
    tg_ints(tg, "pads", 4, pc->pads);
  }
  tg_int(tg, "ceil_mode", pc->ceil_mode);
  if (pc->op == 41) tg_int(tg, "count_include_pad", pc->count_include_pad);
}

static void test_pool_case(const pool_case *pc) {
  test_graph tg;
  build_pool(&tg, pc);
  if (tg_run(&tg)) {
    size_t n = (size_t)(pc->n * pc->c * pc->oh * pc->ow);
    float *want = malloc(n * sizeof(float));
    ref_pool(pc, tg_in(&tg, 0), want);
    check_close(pc->name, tg_out(&tg), want, n);
    free(want);
  }
  tg_free(&tg);
}

static const pool_case POOL_CASES[] = {
    /* 2x2 stride 2 on 5x5: floor -> 2, ceil -> 3 (last window starts at 4 < 5). */
    {"maxpool 2x2 s2", 40, 1, 3, 5, 5, 2, 2, 2, 2, 1, 1, {0, 0, 0, 0}, 0, 0, 2, 2, false},
    {"maxpool 2x2 s2 ceil", 40, 1, 3, 5, 5, 2, 2, 2, 2, 1, 1, {0, 0, 0, 0}, 1, 0, 3, 3, false},
    /* ONNX test maxpool_2d_ceil_output_size_reduce_by_one: 2x2, k1 s2 ceil -> 1x1. */
    {"maxpool ceil reduce by one", 40, 1, 1, 2, 2, 1, 1, 2, 2, 1, 1, {0, 0, 0, 0}, 1, 0, 1, 1, false},
    /* 3x3 s2 pad 1 on 6x7: (6+2-3)/2+1 = 3 (floor), ceil 4 but (4-1)*2=6 >= 6+1? no -> 4;
     * width (7+2-3)/2+1 = 4, ceil 4. */
    {"maxpool 3x3 s2 p1 ceil", 40, 2, 2, 6, 7, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, 0, 4, 4, false},
    {"maxpool dilation", 40, 1, 2, 7, 8, 2, 3, 1, 2, 2, 2, {1, 0, 0, 1}, 0, 0, 6, 3, false},
    {"avgpool exclude pad", 41, 1, 3, 5, 6, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 0, 0, 5, 6, false},
    {"avgpool include pad", 41, 2, 3, 5, 6, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 0, 1, 3, 3, false},
    /* ceil region beyond the padding is never counted: 5x5, k3 s2 p(0,0,1,1) ceil:
     * (5+1-3)/2 = 1.5 -> ceil 2 + 1 = 3; (3-1)*2 = 4 < 5 keeps 3. */
    {"avgpool include pad ceil", 41, 1, 2, 5, 5, 3, 3, 2, 2, 1, 1, {0, 0, 1, 1}, 1, 1, 3, 3, false},
    {"avgpool exclude pad ceil", 41, 1, 2, 6, 6, 3, 3, 2, 2, 1, 1, {0, 0, 0, 0}, 1, 0, 3, 3, false},
    {"avgpool dilation include pad", 41, 1, 2, 7, 7, 2, 2, 2, 2, 2, 2, {1, 1, 1, 1}, 0, 1, 4, 4, false},
    {"avgpool dilation ceil", 41, 1, 2, 7, 7, 2, 2, 2, 2, 2, 2, {1, 0, 1, 1}, 1, 1, 4, 4, false},
    {"maxpool dilation 3 ceil", 40, 1, 2, 7, 7, 2, 2, 2, 2, 3, 3, {1, 0, 1, 1}, 1, 0, 4, 3, false},
    /* the last window reaches past the bottom/right padding: those taps never count */
    {"avgpool ceil include pad", 41, 1, 2, 7, 7, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, 1, 4, 4, false},
    {"avgpool ceil 4x4", 41, 1, 1, 4, 4, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, 1, 0, 3, 3, false},
    {"maxpool rank 3", 40, 2, 3, 1, 9, 1, 3, 1, 2, 1, 1, {0, 1, 0, 1}, 1, 0, 1, 5, true},
    {"avgpool rank 3", 41, 1, 3, 1, 8, 1, 2, 1, 2, 1, 1, {0, 0, 0, 1}, 0, 1, 1, 4, true},
};

static void test_pool_refusals(void) {
  test_graph tg;
  pool_case pc = POOL_CASES[1];
  pc.oh = 2; /* ceil_mode gives 3 */
  build_pool(&tg, &pc);
  expect_refused(&tg, PNN_ERR_SHAPE, "pool wrong ceil output");

  pc = POOL_CASES[0];
  pc.kh = 7;
  build_pool(&tg, &pc);
  expect_refused(&tg, PNN_ERR_SHAPE, "pool window > input");

  pc = POOL_CASES[0];
  pc.sw = 0;
  build_pool(&tg, &pc);
  expect_refused(&tg, PNN_ERR_UNSUPPORTED, "pool stride 0");

  pc = POOL_CASES[0];
  pc.pads[2] = 2;
  pc.oh = 3;
  build_pool(&tg, &pc);
  expect_refused(&tg, PNN_ERR_UNSUPPORTED, "pool pad >= kernel");

  tg_init(&tg, 40, "pool no kernel");
  int64_t xd[4] = {1, 1, 4, 4};
  tg_input(&tg, false, 4, xd);
  tg_output(&tg, 4, xd);
  expect_refused(&tg, PNN_ERR_FORMAT, "pool without kernel");
}

static void test_global_pool(uint16_t op, int rank, const int64_t *dims) {
  test_graph tg;
  tg_init(&tg, op, "global pool");
  tg_input(&tg, false, rank, dims);
  int64_t yd[PNN_MAX_RANK];
  size_t spatial = 1;
  for (int d = 0; d < rank; ++d) {
    yd[d] = d < 2 ? dims[d] : 1;
    if (d >= 2) spatial *= (size_t)dims[d];
  }
  tg_output(&tg, rank, yd);
  if (tg_run(&tg)) {
    size_t planes = (size_t)(dims[0] * dims[1]);
    float *want = malloc(planes * sizeof(float));
    const float *x = tg_in(&tg, 0);
    for (size_t p = 0; p < planes; ++p) {
      double sum = 0.0;
      float best = -INFINITY;
      for (size_t i = 0; i < spatial; ++i) {
        sum += x[p * spatial + i];
        if (x[p * spatial + i] > best) best = x[p * spatial + i];
      }
      want[p] = op == 43 ? best : (float)(sum / (double)spatial);
    }
    check_close(op == 43 ? "global max pool" : "global average pool", tg_out(&tg), want, planes);
    free(want);
  }
  tg_free(&tg);

  tg_init(&tg, op, "global pool bad");
  tg_input(&tg, false, rank, dims);
  tg_output(&tg, rank, dims);
  expect_refused(&tg, PNN_ERR_SHAPE, "global pool keeps spatial dims");
}

/* ---- driver ----------------------------------------------------------------------- */

int main(void) {
  pnn_cpu_features variants[2];
  memset(variants, 0, sizeof(variants));
  pnn_cpu_detect(&variants[1]);
  for (int v = 0; v < 2; ++v) {
    for (size_t i = 0; i < sizeof(CONV_CASES) / sizeof(CONV_CASES[0]); ++i)
      test_conv_case(&CONV_CASES[i], &variants[v]);
    test_conv_infinities(&variants[v]);
    for (size_t i = 0; i < sizeof(CONVT_CASES) / sizeof(CONVT_CASES[0]); ++i)
      test_convt_case(&CONVT_CASES[i], &variants[v]);
    for (size_t i = 0; i < sizeof(GEMM_CASES) / sizeof(GEMM_CASES[0]); ++i)
      test_gemm_case(&GEMM_CASES[i], &variants[v]);
    for (size_t i = 0; i < sizeof(MATMUL_CASES) / sizeof(MATMUL_CASES[0]); ++i)
      test_matmul_case(&MATMUL_CASES[i], &variants[v]);
  }
  test_conv_refusals();
  test_gemm_refusals();
  test_matmul_refusals();
  {
    const int64_t d2[2] = {3, 4}, d4[4] = {2, 3, 5, 7};
    test_batchnorm(2, d2);
    test_batchnorm(4, d4);
  }
  for (size_t i = 0; i < sizeof(POOL_CASES) / sizeof(POOL_CASES[0]); ++i) test_pool_case(&POOL_CASES[i]);
  test_pool_refusals();
  {
    const int64_t d3[3] = {2, 3, 5}, d4[4] = {1, 4, 7, 9}, d5[5] = {2, 2, 3, 2, 4};
    test_global_pool(42, 3, d3);
    test_global_pool(42, 4, d4);
    test_global_pool(43, 4, d4);
    test_global_pool(43, 5, d5);
  }
  printf("test_nn_ops: %d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
