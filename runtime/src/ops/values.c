/* Broadcasting plan and float16 conversion shared by the value-type operators
 * (values.h). */
#include <math.h>

#include "values.h"

pnn_status pnn_bcast_prepare(const pnn_model *model, const pnn_node *node, const pnn_tensor *const *inputs,
                             int n_inputs, uint32_t output, pnn_bcast *plan, pnn_error *error) {
  memset(plan, 0, sizeof(*plan));
  plan->n_inputs = n_inputs;
  int rank = 0;
  for (int k = 0; k < n_inputs; ++k) {
    pnn_status st = pnn_ew_check_dims(node, inputs[k], error);
    if (st != PNN_OK) return st;
    if (inputs[k]->rank > rank) rank = inputs[k]->rank;
  }
  int64_t out[PNN_MAX_RANK];
  for (int d = 0; d < rank; ++d) {
    int64_t extent = 1;
    for (int k = 0; k < n_inputs; ++k) {
      const int dk = d - (rank - inputs[k]->rank);
      const int64_t e = dk >= 0 ? inputs[k]->dims[dk] : 1;
      if (e == 1) continue;
      if (extent != 1 && extent != e) {
        return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': input shapes do not broadcast (dim %d: %lld vs %lld)",
                             node->name, d, (long long)extent, (long long)e);
      }
      extent = e;
    }
    out[d] = extent;
  }
  pnn_status st = pnn_check_output_shape(model, node, output, rank, out, error);
  if (st != PNN_OK) return st;

  /* Merge the dims where every input either spans or broadcasts alike; size-1 output
   * dims move no pointer and are dropped. */
  bool full[PNN_BCAST_MAX_INPUTS][PNN_MAX_RANK];
  int m = 0;
  plan->total = 1;
  for (int d = 0; d < rank; ++d) {
    plan->total *= (size_t)out[d];
    if (out[d] == 1) continue;
    bool f[PNN_BCAST_MAX_INPUTS];
    bool same = m > 0;
    for (int k = 0; k < n_inputs; ++k) {
      const int dk = d - (rank - inputs[k]->rank);
      f[k] = dk >= 0 && inputs[k]->dims[dk] == out[d];
      if (same && full[k][m - 1] != f[k]) same = false;
    }
    if (same) {
      plan->dims[m - 1] *= (size_t)out[d];
    } else {
      plan->dims[m] = (size_t)out[d];
      for (int k = 0; k < n_inputs; ++k) full[k][m] = f[k];
      ++m;
    }
  }
  if (m == 0) {
    plan->dims[0] = 1;
    for (int k = 0; k < n_inputs; ++k) full[k][0] = true;
    m = 1;
  }
  plan->rank = m;
  for (int k = 0; k < n_inputs; ++k) {
    size_t step = 1;
    for (int d = m - 1; d >= 0; --d) {
      plan->stride[k][d] = full[k][d] ? step : 0;
      if (full[k][d]) step *= plan->dims[d];
    }
  }
  return PNN_OK;
}

void pnn_bcast_for_each_row(const pnn_bcast *plan, pnn_bcast_row_fn row, const void *context) {
  if (plan->total == 0) return;
  const int last = plan->rank - 1;
  const size_t len = plan->dims[last];
  const size_t rows = plan->total / len;
  size_t index[PNN_MAX_RANK] = {0};
  size_t off[PNN_BCAST_MAX_INPUTS] = {0};
  size_t step[PNN_BCAST_MAX_INPUTS];
  for (int k = 0; k < plan->n_inputs; ++k) step[k] = plan->stride[k][last];
  for (size_t r = 0; r < rows; ++r) {
    row(context, len, off, step, r * len);
    for (int d = last - 1; d >= 0; --d) {
      for (int k = 0; k < plan->n_inputs; ++k) off[k] += plan->stride[k][d];
      if (++index[d] < plan->dims[d]) break;
      for (int k = 0; k < plan->n_inputs; ++k) off[k] -= plan->stride[k][d] * plan->dims[d];
      index[d] = 0;
    }
  }
}

float pnn_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h >> 15) << 31;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  float magnitude;
  if (exponent == 0x1f) {
    magnitude = mantissa ? NAN : INFINITY;
  } else if (exponent == 0) {
    magnitude = ldexpf((float)mantissa, -24); /* subnormal (or zero) */
  } else {
    magnitude = ldexpf((float)(mantissa | 0x400u), (int)exponent - 25);
  }
  uint32_t bits;
  memcpy(&bits, &magnitude, sizeof(bits));
  bits |= sign;
  float f;
  memcpy(&f, &bits, sizeof(f));
  return f;
}

uint16_t pnn_f32_to_f16(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof(bits));
  const uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return (uint16_t)(sign | 0x7e00u); /* NaN stays NaN */
  if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past 65504: inf */
  if (abs < 0x38800000u) {
    /* Below the smallest normal half: a multiple of 2^-24, rounded to nearest even by
     * the float addition (exact in float32 for these magnitudes). */
    float m;
    const uint32_t a = abs;
    memcpy(&m, &a, sizeof(m));
    const float scaled = m * 16777216.0f; /* 2^24: the subnormal half step */
    const float rounded = nearbyintf(scaled);
    return (uint16_t)(sign | (uint16_t)rounded);
  }
  /* Normal: drop 13 mantissa bits with round-to-nearest-even; a carry into the exponent
   * is the right result. */
  const uint32_t rebased = abs - (112u << 23);
  const uint32_t half = 0x00000fffu + ((rebased >> 13) & 1u);
  return (uint16_t)(sign | (uint16_t)((rebased + half) >> 13));
}
