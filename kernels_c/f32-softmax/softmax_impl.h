/* ISA-neutral driver of the f32 softmax kernels over pnn_vmath.h's exp: rows along a
 * contiguous axis (inner == 1) in vectors, the last n % PV_N elements of a row through
 * a vector padded with -inf (e^-inf adds 0); a strided axis (inner > 1) takes the
 * scalar reference. Same contract and NaN behaviour as f32-softmax/scalar.c (a NaN,
 * or +inf, in a row makes the whole row NaN). An ISA file includes its
 * pnn_vhooks_<isa>.h, defines PNN_SOFTMAX_FN, then includes this file. */
#include <math.h>
#include <string.h>

static PNN_ALWAYS_INLINE float PNN_VM(lanes_max)(PV_F v) {
  float lanes[PV_N];
  PV_store(lanes, v);
  float m = lanes[0];
  for (int i = 1; i < PV_N; ++i) m = lanes[i] > m || lanes[i] != lanes[i] ? lanes[i] : m;
  return m;
}

static PNN_ALWAYS_INLINE float PNN_VM(lanes_sum)(PV_F v) {
  float lanes[PV_N];
  PV_store(lanes, v);
  float s = 0.0f;
  for (int i = 0; i < PV_N; ++i) s += lanes[i];
  return s;
}

/* The row's tail (count < PV_N elements) as a vector padded with `pad`. */
static PNN_ALWAYS_INLINE PV_F PNN_VM(load_tail)(const float *x, size_t count, float pad) {
  float lanes[PV_N];
  for (int i = 0; i < PV_N; ++i) lanes[i] = pad;
  memcpy(lanes, x, count * sizeof(float));
  return PV_load(lanes);
}

static void PNN_VM(softmax_row)(size_t n, const float *x, float *y, int log_softmax) {
  const size_t full = n - n % PV_N, tail = n - full;
  /* The maximum, NaN winning (as the reference's loop keeps a leading NaN, and any
   * later NaN makes the sum NaN anyway). */
  PV_F vmax = PV_splat(-INFINITY);
  for (size_t i = 0; i < full; i += PV_N) {
    const PV_F v = PV_load(x + i);
    vmax = PV_blend(PV_isnan(v), v, PV_blend(PV_gt(v, vmax), v, vmax));
  }
  float max = PNN_VM(lanes_max)(vmax);
  for (size_t i = full; i < n; ++i) max = x[i] > max || x[i] != x[i] ? x[i] : max;
  const PV_F shift = PV_splat(max);
  PV_F vsum = PV_splat(0.0f);
  for (size_t i = 0; i < full; i += PV_N) {
    const PV_F e = PNN_VM(exp)(PV_sub(PV_load(x + i), shift));
    if (!log_softmax) PV_store(y + i, e);
    vsum = PV_add(vsum, e);
  }
  PV_F e_tail = PV_splat(0.0f);
  if (tail) {
    e_tail = PNN_VM(exp)(PV_sub(PNN_VM(load_tail)(x + full, tail, -INFINITY), shift));
    vsum = PV_add(vsum, e_tail);
  }
  const float sum = PNN_VM(lanes_sum)(vsum);
  if (log_softmax) {
    const PV_F total = PV_splat(max + logf(sum));
    for (size_t i = 0; i < full; i += PV_N) PV_store(y + i, PV_sub(PV_load(x + i), total));
    for (size_t i = full; i < n; ++i) y[i] = x[i] - (max + logf(sum));
    return;
  }
  const PV_F inv = PV_splat(1.0f / sum);
  for (size_t i = 0; i < full; i += PV_N) PV_store(y + i, PV_mul(PV_load(y + i), inv));
  if (tail) {
    float lanes[PV_N];
    PV_store(lanes, PV_mul(e_tail, inv));
    memcpy(y + full, lanes, tail * sizeof(float));
  }
}

void PNN_SOFTMAX_FN(size_t outer, size_t axis_len, size_t inner, const float *x, float *y,
                    int log_softmax, float *scratch) {
  if (inner != 1 || axis_len == 0) {
    pnn_f32_softmax_scalar(outer, axis_len, inner, x, y, log_softmax, scratch);
    return;
  }
  for (size_t r = 0; r < outer; ++r) PNN_VM(softmax_row)(axis_len, x + r * axis_len, y + r * axis_len, log_softmax);
}
