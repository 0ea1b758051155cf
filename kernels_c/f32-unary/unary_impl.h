/* ISA-neutral driver of the f32 unary kernels: one loop per kind (the switch stays
 * outside the loops), full vectors from x, and the last n % PV_N elements through a
 * zero-padded vector on the stack, so no variant reads or writes past n. An ISA file
 * includes its pnn_vhooks_<isa>.h, defines PNN_UNARY_FN and PNN_ACTIVATE_FN, then
 * includes this file. Semantics as the scalar reference (f32-unary/scalar.c), NaN
 * propagating: each compare is ordered and chosen so that a NaN lane keeps (or
 * produces) NaN. */
#include <string.h>

/* Runs `expr` (a PV_F expression of v) over x into y. */
#define PNN_UNARY_LOOP(expr)                                 \
  do {                                                       \
    size_t i_ = 0;                                           \
    for (; i_ + PV_N <= n; i_ += PV_N) {                     \
      const PV_F v = PV_load(x + i_);                        \
      PV_store(y + i_, (expr));                              \
    }                                                        \
    if (i_ < n) {                                            \
      float tail_[PV_N] = {0};                               \
      memcpy(tail_, x + i_, (n - i_) * sizeof(float));       \
      const PV_F v = PV_load(tail_);                         \
      PV_store(tail_, (expr));                               \
      memcpy(y + i_, tail_, (n - i_) * sizeof(float));       \
    }                                                        \
  } while (0)

/* max(0, min(1, v)) keeping NaN: each compare is false for NaN, so v passes through. */
#define PNN_UNARY_CLAMP01(v) \
  PV_blend(PV_lt(v, zero), zero, PV_blend(PV_gt(v, one), one, v))

static PNN_ALWAYS_INLINE PV_F PNN_VM(softplus)(PV_F v) {
  /* max(v, 0) + log1p(e^-|v|), log1p(u) = log(w) u / (w - 1) with w = 1 + u (exact
   * for tiny u, where w rounds to 1 and the result is u). */
  const PV_F zero = PV_splat(0.0f), one = PV_splat(1.0f);
  const PV_F u = PNN_VM(exp)(PV_neg(PV_abs(v)));
  const PV_F w = PV_add(one, u);
  const PV_F wm1 = PV_sub(w, one);
  const PV_F log1p = PV_blend(PV_eq(wm1, zero), u, PV_mul(PNN_VM(log)(w), PV_div(u, wm1)));
  return PV_add(PV_blend(PV_gt(v, zero), v, zero), log1p);
}

void PNN_UNARY_FN(const pnn_unary_params *p, size_t n, const float *x, float *y) {
  const PV_F zero = PV_splat(0.0f), one = PV_splat(1.0f);
  const PV_F alpha = PV_splat(p->alpha), beta = PV_splat(p->beta);
  switch (p->kind) {
    case PNN_UNARY_RELU: PNN_UNARY_LOOP(PV_blend(PV_le(v, zero), zero, v)); break;
    case PNN_UNARY_CLIP: { /* onnxruntime's order: the low bound first */
      PNN_UNARY_LOOP(PV_blend(PV_gt(PV_blend(PV_lt(v, alpha), alpha, v), beta), beta,
                              PV_blend(PV_lt(v, alpha), alpha, v)));
      break;
    }
    case PNN_UNARY_LEAKY_RELU: PNN_UNARY_LOOP(PV_blend(PV_ge(v, zero), v, PV_mul(v, alpha))); break;
    case PNN_UNARY_SIGMOID: PNN_UNARY_LOOP(PNN_VM(sigmoid)(v)); break;
    case PNN_UNARY_HARD_SIGMOID: PNN_UNARY_LOOP(PNN_UNARY_CLAMP01(PV_fma(alpha, v, beta))); break;
    case PNN_UNARY_HARD_SWISH: {
      const PV_F sixth = PV_splat(1.0f / 6.0f), half = PV_splat(0.5f);
      PNN_UNARY_LOOP(PV_mul(v, PNN_UNARY_CLAMP01(PV_fma(v, sixth, half))));
      break;
    }
    case PNN_UNARY_TANH: PNN_UNARY_LOOP(PNN_VM(tanh)(v)); break;
    case PNN_UNARY_ERF: PNN_UNARY_LOOP(PNN_VM(erf)(v)); break;
    case PNN_UNARY_GELU: PNN_UNARY_LOOP(PNN_VM(gelu)(v)); break;
    case PNN_UNARY_GELU_TANH: PNN_UNARY_LOOP(PNN_VM(gelu_tanh)(v)); break;
    case PNN_UNARY_EXP: PNN_UNARY_LOOP(PNN_VM(exp)(v)); break;
    case PNN_UNARY_SQRT: PNN_UNARY_LOOP(PV_sqrt(v)); break;
    case PNN_UNARY_ABS: PNN_UNARY_LOOP(PV_abs(v)); break;
    case PNN_UNARY_NEG: PNN_UNARY_LOOP(PV_neg(v)); break;
    case PNN_UNARY_LOG: PNN_UNARY_LOOP(PNN_VM(log)(v)); break;
    case PNN_UNARY_RECIPROCAL: PNN_UNARY_LOOP(PV_div(one, v)); break;
    case PNN_UNARY_SOFTPLUS: PNN_UNARY_LOOP(PNN_VM(softplus)(v)); break;
    case PNN_UNARY_ELU: PNN_UNARY_LOOP(PV_blend(PV_gt(v, zero), v, PV_mul(alpha, PNN_VM(expm1)(v)))); break;
    case PNN_UNARY_FLOOR: PNN_UNARY_LOOP(PV_floor(v)); break;
    case PNN_UNARY_CEIL: PNN_UNARY_LOOP(PV_ceil(v)); break;
    case PNN_UNARY_SIGN: {
      const PV_F minus_one = PV_splat(-1.0f);
      PNN_UNARY_LOOP(PV_blend(PV_gt(v, zero), one, PV_blend(PV_lt(v, zero), minus_one, PV_add(v, zero))));
      break;
    }
    default: /* PNN_UNARY_COPY */
      if (x != y) memmove(y, x, n * sizeof(float));
      break;
  }
}

/* In place, every fused activation kind (pnn_activate's semantics) in vectors: what
 * the GEMM/conv kernels can call instead of their scalar pass for sigmoid, tanh and
 * swish. */
void PNN_ACTIVATE_FN(float *x, size_t n, pnn_activation act) {
  pnn_unary_params p = {PNN_UNARY_COPY, act.alpha, act.beta};
  switch (act.kind) {
    case PNN_ACT_RELU: p.kind = PNN_UNARY_RELU; break;
    case PNN_ACT_CLIP: p.kind = PNN_UNARY_CLIP; break;
    case PNN_ACT_LEAKY_RELU: p.kind = PNN_UNARY_LEAKY_RELU; break;
    case PNN_ACT_SIGMOID: p.kind = PNN_UNARY_SIGMOID; break;
    case PNN_ACT_HARD_SIGMOID: p.kind = PNN_UNARY_HARD_SIGMOID; break;
    case PNN_ACT_HARD_SWISH: p.kind = PNN_UNARY_HARD_SWISH; break;
    case PNN_ACT_TANH: p.kind = PNN_UNARY_TANH; break;
    case PNN_ACT_SWISH: {
      float *const y = x; /* PNN_UNARY_LOOP reads x and writes y */
      PNN_UNARY_LOOP(PNN_VM(swish)(v));
      return;
    }
    default: return;
  }
  PNN_UNARY_FN(&p, n, x, x);
}

#undef PNN_UNARY_LOOP
#undef PNN_UNARY_CLAMP01
