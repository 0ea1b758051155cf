/* ISA-neutral driver of the f32 layer normalization kernels (contract in
 * pnn_kernels_elementwise.h) over a pnn_vhooks_<isa>.h: per row, the mean and then the
 * variance of the centred values (two passes, as the reference, which avoids the
 * cancellation of E[x^2] - E[x]^2) summed in vectors of float32 with two accumulators,
 * the reciprocal standard deviation in double, then y = (x - mean) * inv_std * scale +
 * bias in vectors. The last n % PV_N values of each pass take scalar steps. Results
 * differ from the reference's double sums by float32 rounding only (a few ulp of the
 * normalized value); NaN and infinities propagate as there. An ISA file includes its
 * pnn_vhooks_<isa>.h, defines PNN_LAYERNORM_FN, then includes this file. */
#include <math.h>

static PNN_ALWAYS_INLINE float PNN_VM(layernorm_lanes_sum)(PV_F v) {
  float lanes[PV_N];
  PV_store(lanes, v);
  float s = 0.0f;
  for (int i = 0; i < PV_N; ++i) s += lanes[i];
  return s;
}

/* sum_i (x[i] - centre)^2 when square, else sum_i x[i] - centre. */
static PNN_ALWAYS_INLINE float PNN_VM(layernorm_sum)(size_t n, const float *x, float centre, int square) {
  const PV_F c = PV_splat(centre);
  PV_F s0 = PV_splat(0.0f), s1 = PV_splat(0.0f);
  size_t i = 0;
  for (; i + 2 * PV_N <= n; i += 2 * PV_N) {
    const PV_F d0 = PV_sub(PV_load(x + i), c), d1 = PV_sub(PV_load(x + i + PV_N), c);
    s0 = square ? PV_fma(d0, d0, s0) : PV_add(s0, d0);
    s1 = square ? PV_fma(d1, d1, s1) : PV_add(s1, d1);
  }
  float s = PNN_VM(layernorm_lanes_sum)(PV_add(s0, s1));
  for (; i < n; ++i) {
    const float d = x[i] - centre;
    s += square ? d * d : d;
  }
  return s;
}

void PNN_LAYERNORM_FN(size_t rows, size_t n, const float *x, const float *scale, const float *bias, float epsilon,
                      float *y) {
  if (n == 0) return;
  for (size_t r = 0; r < rows; ++r, x += n, y += n) {
    /* Summed around x[0], so that a row far from 0 keeps its digits in float32. */
    const float mean = (float)((double)x[0] + (double)PNN_VM(layernorm_sum)(n, x, x[0], 0) / (double)n);
    const double sq = PNN_VM(layernorm_sum)(n, x, mean, 1);
    const float inv_std = (float)(1.0 / sqrt(sq / (double)n + (double)epsilon));
    const PV_F m = PV_splat(mean), k = PV_splat(inv_std);
    size_t i = 0;
    for (; i + PV_N <= n; i += PV_N) {
      const PV_F t = PV_mul(PV_mul(PV_sub(PV_load(x + i), m), k), PV_load(scale + i));
      PV_store(y + i, bias ? PV_add(t, PV_load(bias + i)) : t);
    }
    for (; i < n; ++i) {
      const float t = (x[i] - mean) * inv_std * scale[i];
      y[i] = bias ? t + bias[i] : t;
    }
  }
}
