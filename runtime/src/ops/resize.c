/* Resize (code 56): nearest or (multi-)linear, with the ONNX coordinate transforms
 * (docs/OPS.md "Resize"). Prepare turns every dim into tables: for each output
 * coordinate, the input offset(s) already multiplied by the input stride and the
 * linear weight. Run then only sums table entries.
 *
 * The coordinate arithmetic is done in float in the same order as onnxruntime, so
 * that nearest-mode ties round the same way. */
#include <math.h>
#include <stdlib.h>

#include "ew_common.h"

enum resize_mode { RESIZE_NEAREST = 0, RESIZE_LINEAR = 1 };
enum coord_mode {
  COORD_HALF_PIXEL = 0,
  COORD_ASYMMETRIC = 1,
  COORD_ALIGN_CORNERS = 2,
  COORD_PYTORCH_HALF_PIXEL = 3,
  COORD_HALF_PIXEL_SYMMETRIC = 4
};
enum nearest_mode {
  NEAREST_ROUND_PREFER_FLOOR = 0,
  NEAREST_ROUND_PREFER_CEIL = 1,
  NEAREST_FLOOR = 2,
  NEAREST_CEIL = 3
};
#define MAX_LINEAR_DIMS 3

typedef struct resize_plan {
  int mode;
  int rank;
  size_t rows;                   /* output elements / out_dims[rank-1] */
  size_t out_dims[PNN_MAX_RANK];
  int interp[PNN_MAX_RANK];      /* linear: 1 where this dim is interpolated */
  size_t *off0[PNN_MAX_RANK];    /* per dim, out_dims[d] input offsets (x stride) */
  size_t *off1[PNN_MAX_RANK];    /* linear: the upper neighbour's offsets */
  float *weight[PNN_MAX_RANK];   /* linear: weight of off1 (off0 gets 1 - weight) */
  /* The tables follow in the same allocation. */
} resize_plan;

/* Input coordinate of output coordinate o (the ONNX Resize coordinate transforms). */
static float source_coordinate(int coord_mode, float o, float scale, float in_len, float out_len) {
  switch (coord_mode) {
    case COORD_ASYMMETRIC: return o / scale;
    case COORD_ALIGN_CORNERS: return out_len == 1.0f ? 0.0f : o * (in_len - 1.0f) / (out_len - 1.0f);
    case COORD_PYTORCH_HALF_PIXEL: return out_len > 1.0f ? (o + 0.5f) / scale - 0.5f : 0.0f;
    case COORD_HALF_PIXEL_SYMMETRIC: {
      const float adjustment = out_len / (scale * in_len);
      const float center = in_len / 2.0f;
      const float offset = center * (1.0f - adjustment);
      return offset + (o + 0.5f) / scale - 0.5f;
    }
    default: return (o + 0.5f) / scale - 0.5f; /* half_pixel */
  }
}

static float round_nearest(int nearest_mode, float x) {
  switch (nearest_mode) {
    case NEAREST_FLOOR: return floorf(x);
    case NEAREST_CEIL: return ceilf(x);
    case NEAREST_ROUND_PREFER_CEIL: return x - floorf(x) == 0.5f ? ceilf(x) : roundf(x);
    default: return x - floorf(x) == 0.5f ? floorf(x) : roundf(x);
  }
}

/* Clamps to [0, n-1] in float first so that huge or NaN coordinates stay defined. */
static size_t clamp_index(float x, size_t n) {
  const float top = (float)(n - 1);
  if (!(x > 0.0f)) return 0;
  if (x >= top) return n - 1;
  return (size_t)x;
}

pnn_status pnn_op_resize_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  const pnn_tensor *y = pnn_output_tensor(model, node, 0);
  if ((st = pnn_ew_check_dims(node, x, error)) != PNN_OK) return st;
  if ((st = pnn_ew_check_dims(node, y, error)) != PNN_OK) return st;
  const int rank = x->rank;
  if (rank < 1 || y->rank != rank) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Resize of rank %d to rank %d",
                         node->name, rank, y->rank);
  }
  int64_t mode = 0, coord_mode = 0, nearest_mode = 0;
  if ((st = pnn_ew_attr_int(node, "mode", 0, 0, 1, &mode, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_int(node, "coord_mode", 0, 0, 4, &coord_mode, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_int(node, "nearest_mode", 0, 0, 3, &nearest_mode, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_type(node, "scales", PNN_ATTR_FLOATS, error)) != PNN_OK) return st;
  uint32_t n_scales = 0;
  const float *scales = pnn_attr_floats(node, "scales", &n_scales);
  if (!scales || n_scales != (uint32_t)rank) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node '%s': attribute 'scales' needs %d entries",
                         node->name, rank);
  }

  int changing = 0;
  size_t table_entries = 0;
  for (int d = 0; d < rank; ++d) {
    const double in_len = (double)x->dims[d], out_len = (double)y->dims[d];
    const float s = scales[d];
    if (!(s > 0.0f) || !isfinite(s)) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': scale %g of dim %d", node->name,
                           (double)s, d);
    }
    if (x->dims[d] == 0 || y->dims[d] == 0) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Resize of an empty dim %d",
                           node->name, d);
    }
    /* The output is floor(in * scale), or exactly the size the scale was derived from. */
    if (!(in_len * s > out_len - 1.0 && in_len * s < out_len + 1.0)) {
      return pnn_set_error(error, PNN_ERR_SHAPE,
                           "node '%s': output dim %d is %lld, input %lld times scale %g", node->name,
                           d, (long long)y->dims[d], (long long)x->dims[d], (double)s);
    }
    if (y->dims[d] != x->dims[d] || s != 1.0f) ++changing;
    table_entries += (size_t)y->dims[d];
  }
  if (mode == RESIZE_LINEAR && changing > MAX_LINEAR_DIMS) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                         "node '%s': linear Resize of %d dims (at most %d are supported)",
                         node->name, changing, MAX_LINEAR_DIMS);
  }

  const size_t bytes = sizeof(resize_plan) + table_entries * (2 * sizeof(size_t) + sizeof(float));
  resize_plan *plan = calloc(1, bytes);
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->mode = (int)mode;
  plan->rank = rank;
  plan->rows = pnn_ew_prod(y->dims, 0, rank - 1);
  size_t *offsets = (size_t *)(plan + 1);
  float *weights = (float *)(offsets + 2 * table_entries);
  size_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    const size_t in_n = (size_t)x->dims[d], out_n = (size_t)y->dims[d];
    const float in_len = (float)in_n, out_len = (float)out_n;
    plan->out_dims[d] = out_n;
    plan->off0[d] = offsets;
    plan->off1[d] = offsets + out_n;
    plan->weight[d] = weights;
    offsets += 2 * out_n;
    weights += out_n;
    const bool interp = mode == RESIZE_LINEAR && (out_n != in_n || scales[d] != 1.0f);
    plan->interp[d] = interp;
    for (size_t o = 0; o < out_n; ++o) {
      const float c = source_coordinate((int)coord_mode, (float)o, scales[d], in_len, out_len);
      if (mode == RESIZE_NEAREST) {
        plan->off0[d][o] = clamp_index(round_nearest((int)nearest_mode, c), in_n) * stride;
      } else if (!interp) {
        plan->off0[d][o] = plan->off1[d][o] = o * stride;
      } else {
        const float top = in_len - 1.0f;
        const float cc = !(c > 0.0f) ? 0.0f : (c > top ? top : c);
        const size_t i0 = clamp_index(cc, in_n);
        const size_t i1 = i0 + 1 < in_n ? i0 + 1 : in_n - 1;
        plan->off0[d][o] = i0 * stride;
        plan->off1[d][o] = i1 * stride;
        plan->weight[d][o] = cc - (float)i0;
      }
    }
    stride *= in_n;
  }
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = "scalar";
  return PNN_OK;
}

void pnn_op_resize_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                       void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const resize_plan *p = node->params;
  const float *x = in[0];
  float *y = out[0];
  const int last = p->rank - 1;
  const size_t width = p->out_dims[last];
  const size_t *col0 = p->off0[last], *col1 = p->off1[last];
  const float *colw = p->weight[last];
  size_t index[PNN_MAX_RANK] = {0};
  for (size_t r = 0; r < p->rows; ++r, y += width) {
    if (p->mode == RESIZE_NEAREST) {
      size_t base = 0;
      for (int d = 0; d < last; ++d) base += p->off0[d][index[d]];
      const float *src = x + base;
      for (size_t o = 0; o < width; ++o) y[o] = src[col0[o]];
    } else {
      /* The 2^k corners of the k interpolated outer dims, each an input row. */
      size_t base = 0;
      int lin[MAX_LINEAR_DIMS], k = 0;
      for (int d = 0; d < last; ++d) {
        if (p->interp[d]) {
          lin[k++] = d;
        } else {
          base += p->off0[d][index[d]];
        }
      }
      for (int corner = 0; corner < (1 << k); ++corner) {
        size_t offset = base;
        float wc = 1.0f;
        for (int j = 0; j < k; ++j) {
          const int d = lin[j];
          const float w = p->weight[d][index[d]];
          if (corner & (1 << j)) {
            offset += p->off1[d][index[d]];
            wc *= w;
          } else {
            offset += p->off0[d][index[d]];
            wc *= 1.0f - w;
          }
        }
        const float *src = x + offset;
        if (p->interp[last]) {
          if (corner == 0) {
            for (size_t o = 0; o < width; ++o)
              y[o] = wc * ((1.0f - colw[o]) * src[col0[o]] + colw[o] * src[col1[o]]);
          } else {
            for (size_t o = 0; o < width; ++o)
              y[o] += wc * ((1.0f - colw[o]) * src[col0[o]] + colw[o] * src[col1[o]]);
          }
        } else {
          if (corner == 0) {
            for (size_t o = 0; o < width; ++o) y[o] = wc * src[o];
          } else {
            for (size_t o = 0; o < width; ++o) y[o] += wc * src[o];
          }
        }
      }
    }
    for (int d = last - 1; d >= 0; --d) {
      if (++index[d] < p->out_dims[d]) break;
      index[d] = 0;
    }
  }
}
