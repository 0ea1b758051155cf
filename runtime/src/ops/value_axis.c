/* Operators along one axis of a runtime value of any numeric dtype (docs/OPS.md):
 * ArgMax/ArgMin (codes 101, 102; s64 indices), CumSum (103) and TopK (107; values and
 * s64 indices, largest or smallest, always sorted, ties by lower index first). The
 * tensor is seen as [outer, axis, inner]; one loop per C type from PNN_NUMERIC_TYPES. */
#include <stdlib.h>

#include "values.h"

typedef struct axis_plan {
  uint8_t dtype;
  size_t outer, axis_len, inner;
  int64_t flag_a, flag_b; /* ArgMax/Min: select_last_index; CumSum: exclusive, reverse;
                             TopK: largest, k */
} axis_plan;

/* Validates a one-input op along attribute `axis` and fills the plan's shape part. */
static pnn_status axis_prepare(pnn_model *model, pnn_node *node, uint32_t n_outputs, axis_plan *plan,
                               int64_t *axis, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 1, 1, n_outputs, n_outputs, true, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if ((st = pnn_value_tensor(node, x, "input", NULL, error)) != PNN_OK) return st;
  if ((st = pnn_ew_check_dims(node, x, error)) != PNN_OK) return st;
  if (x->dtype == PNN_DTYPE_F16 || x->dtype == PNN_DTYPE_BOOL) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': input '%s' is %s, expected a numeric dtype",
                         node->name, x->name, pnn_dtype_name(x->dtype));
  }
  if (x->rank < 1) return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': input is a scalar", node->name);
  if ((st = pnn_ew_attr_int(node, "axis", 0, 0, x->rank - 1, axis, error)) != PNN_OK) return st;
  plan->dtype = x->dtype;
  plan->outer = pnn_ew_prod(x->dims, 0, (int)*axis);
  plan->axis_len = (size_t)x->dims[*axis];
  plan->inner = pnn_ew_prod(x->dims, (int)*axis + 1, x->rank);
  return PNN_OK;
}

static pnn_status finish(pnn_node *node, const axis_plan *p, size_t scratch, const char *kernel, pnn_error *error) {
  axis_plan *plan = malloc(sizeof(*plan));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  *plan = *p;
  node->params = plan;
  node->scratch_bytes = scratch;
  node->kernel = kernel;
  return PNN_OK;
}

/* ---- ArgMax / ArgMin ---------------------------------------------------------------- */
pnn_status pnn_op_arg_reduce_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  axis_plan p;
  int64_t axis = 0, keepdims = 1;
  pnn_status st = axis_prepare(model, node, 1, &p, &axis, error);
  if (st != PNN_OK) return st;
  if ((st = pnn_ew_attr_int(node, "keepdims", 1, 0, 1, &keepdims, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_int(node, "select_last_index", 0, 0, 1, &p.flag_a, error)) != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if ((st = pnn_want_dtype(node, pnn_output_tensor(model, node, 0), PNN_DTYPE_S64, error)) != PNN_OK) return st;
  int64_t dims[PNN_MAX_RANK];
  int rank = 0;
  for (int d = 0; d < x->rank; ++d) {
    if (d != axis) dims[rank++] = x->dims[d];
    else if (keepdims) dims[rank++] = 1;
  }
  if ((st = pnn_check_output_shape(model, node, 0, rank, dims, error)) != PNN_OK) return st;
  return finish(node, &p, 0, "value-arg/scalar", error);
}

#define PNN_DEFINE_ARG(S, T, IS_FLOAT)                                                          \
  static void arg_##S(const axis_plan *p, bool is_max, const void *vx, int64_t *y) {            \
    const T *x = vx;                                                                            \
    const bool last = p->flag_a != 0;                                                           \
    for (size_t o = 0; o < p->outer; ++o) {                                                     \
      for (size_t i = 0; i < p->inner; ++i) {                                                   \
        const T *col = x + o * p->axis_len * p->inner + i;                                      \
        size_t best = 0;                                                                        \
        for (size_t j = 1; j < p->axis_len; ++j) {                                              \
          const T v = col[j * p->inner], b = col[best * p->inner];                              \
          const bool better = is_max ? (v > b || (last && v == b)) : (v < b || (last && v == b)); \
          if (better) best = j;                                                                 \
        }                                                                                       \
        y[o * p->inner + i] = (int64_t)best;                                                    \
      }                                                                                         \
    }                                                                                           \
  }
PNN_NUMERIC_TYPES(PNN_DEFINE_ARG)
#undef PNN_DEFINE_ARG

void pnn_op_arg_reduce_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                           void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const axis_plan *p = node->params;
  const bool is_max = node->op == PNN_OP_ARG_MAX;
  switch (p->dtype) {
#define PNN_CASE(S, T, IS_FLOAT) case PNN_DTYPE_##S: arg_##S(p, is_max, in[0], out[0]); break;
    PNN_NUMERIC_TYPES(PNN_CASE)
#undef PNN_CASE
    default: break;
  }
}

/* ---- CumSum --------------------------------------------------------------------------
 * Integer sums wrap (computed unsigned). */
pnn_status pnn_op_cumsum_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  axis_plan p;
  int64_t axis = 0;
  pnn_status st = axis_prepare(model, node, 1, &p, &axis, error);
  if (st != PNN_OK) return st;
  if ((st = pnn_ew_attr_int(node, "exclusive", 0, 0, 1, &p.flag_a, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_int(node, "reverse", 0, 0, 1, &p.flag_b, error)) != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if ((st = pnn_same_dtype(node, x, pnn_output_tensor(model, node, 0), error)) != PNN_OK) return st;
  if ((st = pnn_check_output_shape(model, node, 0, x->rank, x->dims, error)) != PNN_OK) return st;
  return finish(node, &p, 0, "value-cumsum/scalar", error);
}

#define PNN_DEFINE_CUMSUM(S, T, IS_FLOAT)                                                       \
  static void cumsum_##S(const axis_plan *p, const void *vx, void *vy) {                        \
    const T *x = vx;                                                                            \
    T *y = vy;                                                                                  \
    for (size_t o = 0; o < p->outer; ++o) {                                                     \
      for (size_t i = 0; i < p->inner; ++i) {                                                   \
        const size_t base = o * p->axis_len * p->inner + i;                                     \
        T acc = 0;                                                                              \
        for (size_t step = 0; step < p->axis_len; ++step) {                                     \
          const size_t j = p->flag_b ? p->axis_len - 1 - step : step;                           \
          const T v = x[base + j * p->inner];                                                   \
          if (!p->flag_a) acc = IS_FLOAT ? (T)(acc + v) : (T)((uint64_t)acc + (uint64_t)v);     \
          y[base + j * p->inner] = acc;                                                         \
          if (p->flag_a) acc = IS_FLOAT ? (T)(acc + v) : (T)((uint64_t)acc + (uint64_t)v);      \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  }
PNN_NUMERIC_TYPES(PNN_DEFINE_CUMSUM)
#undef PNN_DEFINE_CUMSUM

void pnn_op_cumsum_run(const pnn_model *model, const pnn_node *node, const void *const *in, void *const *out,
                       const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const axis_plan *p = node->params;
  switch (p->dtype) {
#define PNN_CASE(S, T, IS_FLOAT) case PNN_DTYPE_##S: cumsum_##S(p, in[0], out[0]); break;
    PNN_NUMERIC_TYPES(PNN_CASE)
#undef PNN_CASE
    default: break;
  }
}

/* ---- TopK ----------------------------------------------------------------------------
 * K is the `k` attribute (a constant input, folded by the converter). Each slice keeps
 * a sorted list of its best k indices in scratch: O(axis * k) per slice. */
pnn_status pnn_op_topk_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  axis_plan p;
  int64_t axis = 0, sorted = 1;
  pnn_status st = axis_prepare(model, node, 2, &p, &axis, error);
  if (st != PNN_OK) return st;
  if ((st = pnn_ew_attr_int(node, "largest", 1, 0, 1, &p.flag_a, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_int(node, "sorted", 1, 0, 1, &sorted, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_int(node, "k", 1, 1, (int64_t)p.axis_len, &p.flag_b, error)) != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if ((st = pnn_same_dtype(node, x, pnn_output_tensor(model, node, 0), error)) != PNN_OK) return st;
  if ((st = pnn_want_dtype(node, pnn_output_tensor(model, node, 1), PNN_DTYPE_S64, error)) != PNN_OK) return st;
  int64_t dims[PNN_MAX_RANK];
  memcpy(dims, x->dims, sizeof(dims));
  dims[axis] = p.flag_b;
  if ((st = pnn_check_output_shape(model, node, 0, x->rank, dims, error)) != PNN_OK) return st;
  if ((st = pnn_check_output_shape(model, node, 1, x->rank, dims, error)) != PNN_OK) return st;
  return finish(node, &p, (size_t)p.flag_b * sizeof(size_t), "value-topk/scalar", error);
}

#define PNN_DEFINE_TOPK(S, T, IS_FLOAT)                                                           \
  static void topk_##S(const axis_plan *p, const void *vx, void *vy, int64_t *indices, size_t *best) { \
    const T *x = vx;                                                                              \
    T *y = vy;                                                                                    \
    const size_t k = (size_t)p->flag_b;                                                           \
    const bool largest = p->flag_a != 0;                                                          \
    for (size_t o = 0; o < p->outer; ++o) {                                                       \
      for (size_t i = 0; i < p->inner; ++i) {                                                     \
        const T *col = x + o * p->axis_len * p->inner + i;                                        \
        size_t count = 0;                                                                         \
        for (size_t j = 0; j < p->axis_len; ++j) {                                                \
          const T v = col[j * p->inner];                                                          \
          /* Later indices lose ties, so j goes after every equal value already kept. */         \
          size_t pos = count;                                                                     \
          while (pos > 0) {                                                                       \
            const T w = col[best[pos - 1] * p->inner];                                            \
            if (largest ? !(v > w) : !(v < w)) break;                                             \
            --pos;                                                                                \
          }                                                                                       \
          if (pos >= k) continue;                                                                 \
          const size_t end = count < k ? count : k - 1;                                           \
          memmove(best + pos + 1, best + pos, (end - pos) * sizeof(size_t));                      \
          best[pos] = j;                                                                          \
          if (count < k) ++count;                                                                 \
        }                                                                                         \
        const size_t out_base = o * k * p->inner + i;                                             \
        for (size_t r = 0; r < k; ++r) {                                                          \
          y[out_base + r * p->inner] = col[best[r] * p->inner];                                   \
          indices[out_base + r * p->inner] = (int64_t)best[r];                                    \
        }                                                                                         \
      }                                                                                           \
    }                                                                                             \
  }
PNN_NUMERIC_TYPES(PNN_DEFINE_TOPK)
#undef PNN_DEFINE_TOPK

void pnn_op_topk_run(const pnn_model *model, const pnn_node *node, const void *const *in, void *const *out,
                     const pnn_run_context *ctx) {
  (void)model;
  const axis_plan *p = node->params;
  size_t *best = ctx->scratch;
  switch (p->dtype) {
#define PNN_CASE(S, T, IS_FLOAT) case PNN_DTYPE_##S: topk_##S(p, in[0], out[0], out[1], best); break;
    PNN_NUMERIC_TYPES(PNN_CASE)
#undef PNN_CASE
    default: break;
  }
}
