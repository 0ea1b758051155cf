/* ISA-neutral vector math (exp, expm1, log, sigmoid, tanh, erf, erfc), written once
 * over a small set of vector hooks and instantiated per ISA: a hooks header
 * (pnn_vhooks_avx512.h, _avx2.h, _neon.h, _wasm.h) defines PV_F (the float vector),
 * PV_M (its lane mask), the PV_* operations and PNN_VM(name), the instantiated
 * functions' names, then includes this file. No include guard on purpose.
 *
 * Hook contract: PV_lt/le/gt/ge are ordered compares (false when either side is NaN);
 * PV_blend(m, t, f) is m ? t : f per lane; PV_min/PV_max are used only on values that
 * cannot be NaN or whose NaN is restored afterwards; PV_exp2i(n) is 2^n for an
 * integral n in [-126, 127]; PV_mantissa(x) / PV_exponent(x) split a positive normal
 * x into m in [0.5, 1) and e (as a float) with x = m * 2^e.
 *
 * Accuracy (measured by tests/c/test_kernels_unary.c against glibc on a dense sweep):
 * exp, expm1, log, sigmoid, tanh within a few ulp; erf within 2e-7 absolute. Each
 * function returns NaN for NaN and follows IEEE for +-0 and +-inf (see each below). */

/* The shared core of exp and expm1: for x in [-104, 89], n = round(x / ln2) and
 * q = e^r - 1 where r = x - n ln2 (Cody-Waite, two parts), so that e^x = 2^n (1 + q).
 * q = r + r^2 P(r), P of degree 5 (Cephes' expf minimax coefficients). */
static PNN_ALWAYS_INLINE PV_F PNN_VM(exp_core)(PV_F x, PV_F *n) {
  *n = PV_round(PV_mul(x, PV_splat(1.44269504088896341f)));
  PV_F r = PV_fma(*n, PV_splat(-0.693359375f), x);
  r = PV_fma(*n, PV_splat(2.12194440e-4f), r);
  PV_F p = PV_splat(1.9875691500e-4f);
  p = PV_fma(p, r, PV_splat(1.3981999507e-3f));
  p = PV_fma(p, r, PV_splat(8.3334519073e-3f));
  p = PV_fma(p, r, PV_splat(4.1665795894e-2f));
  p = PV_fma(p, r, PV_splat(1.6666665459e-1f));
  p = PV_fma(p, r, PV_splat(5.0000001201e-1f));
  return PV_fma(PV_mul(p, r), r, r);
}

/* e^x. x is clamped to [-104, 89] (e^-104 is below the smallest denormal, e^89 above
 * FLT_MAX) and 2^n applied as two factors 2^(n/2) so that the result overflows to inf
 * and underflows through the denormals gradually. */
static PNN_ALWAYS_INLINE PV_F PNN_VM(exp)(PV_F x) {
  const PV_F clamped = PV_min(PV_max(x, PV_splat(-104.0f)), PV_splat(89.0f));
  PV_F n;
  const PV_F p = PV_add(PNN_VM(exp_core)(clamped, &n), PV_splat(1.0f));
  const PV_F half = PV_floor(PV_mul(n, PV_splat(0.5f)));
  const PV_F y = PV_mul(PV_mul(p, PV_exp2i(half)), PV_exp2i(PV_sub(n, half)));
  return PV_blend(PV_isnan(x), x, y);
}

/* e^x - 1 for x <= 0 (Elu's negative side) without the cancellation near 0:
 * (2^n - 1) + 2^n q, where 2^n - 1 is exact. x is clamped to [-25, 0] (e^-25 - 1
 * rounds to -1). */
static PNN_ALWAYS_INLINE PV_F PNN_VM(expm1)(PV_F x) {
  const PV_F clamped = PV_min(PV_max(x, PV_splat(-25.0f)), PV_splat(0.0f));
  PV_F n;
  const PV_F q = PNN_VM(exp_core)(clamped, &n);
  const PV_F scale = PV_exp2i(n);
  const PV_F y = PV_fma(scale, q, PV_sub(scale, PV_splat(1.0f)));
  return PV_blend(PV_isnan(x), x, y);
}

/* Natural log: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log x = e ln2 + log(1 + f),
 * f = m - 1, log(1 + f) = f - f^2/2 + f^3 P(f) (Cephes' logf minimax coefficients).
 * Denormals are scaled by 2^23 first. log(+-0) = -inf, log(x < 0) = NaN, log(+inf) =
 * +inf, NaN stays NaN. */
static PNN_ALWAYS_INLINE PV_F PNN_VM(log)(PV_F x) {
  const PV_M tiny = PV_lt(x, PV_splat(1.17549435e-38f));
  const PV_F scaled = PV_blend(tiny, PV_mul(x, PV_splat(8388608.0f)), x);
  PV_F m = PV_mantissa(scaled);
  PV_F e = PV_sub(PV_exponent(scaled), PV_blend(tiny, PV_splat(23.0f), PV_splat(0.0f)));
  const PV_M small = PV_lt(m, PV_splat(0.707106781186547524f));
  m = PV_blend(small, PV_add(m, m), m);
  e = PV_blend(small, PV_sub(e, PV_splat(1.0f)), e);
  const PV_F f = PV_sub(m, PV_splat(1.0f));
  const PV_F f2 = PV_mul(f, f);
  PV_F p = PV_splat(7.0376836292e-2f);
  p = PV_fma(p, f, PV_splat(-1.1514610310e-1f));
  p = PV_fma(p, f, PV_splat(1.1676998740e-1f));
  p = PV_fma(p, f, PV_splat(-1.2420140846e-1f));
  p = PV_fma(p, f, PV_splat(1.4249322787e-1f));
  p = PV_fma(p, f, PV_splat(-1.6668057665e-1f));
  p = PV_fma(p, f, PV_splat(2.0000714765e-1f));
  p = PV_fma(p, f, PV_splat(-2.4999993993e-1f));
  p = PV_fma(p, f, PV_splat(3.3333331174e-1f));
  PV_F y = PV_mul(PV_mul(p, f), f2);
  y = PV_fma(e, PV_splat(-2.12194440e-4f), y);
  y = PV_fma(f2, PV_splat(-0.5f), y);
  y = PV_add(f, y);
  y = PV_fma(e, PV_splat(0.693359375f), y);
  y = PV_blend(PV_eq(x, PV_splat(0.0f)), PV_splat(-INFINITY), y);
  y = PV_blend(PV_eq(x, PV_splat(INFINITY)), x, y);
  return PV_blend(PV_lt(x, PV_splat(0.0f)), PV_splat(NAN), PV_blend(PV_isnan(x), x, y));
}

/* 1 / (1 + e^-x) from e = e^-|x| <= 1 (no overflow): 1/(1+e) for x >= 0, e/(1+e) below,
 * so tiny results keep their relative accuracy. */
static PNN_ALWAYS_INLINE PV_F PNN_VM(sigmoid)(PV_F x) {
  const PV_F e = PNN_VM(exp)(PV_neg(PV_abs(x)));
  const PV_F d = PV_div(PV_splat(1.0f), PV_add(PV_splat(1.0f), e));
  return PV_blend(PV_lt(x, PV_splat(0.0f)), PV_mul(e, d), d);
}

/* tanh: an odd polynomial below |x| = 0.625 (Cephes' tanhf coefficients), else
 * (1 - e) / (1 + e) with e = e^-2|x| and the sign of x; -0 stays -0. */
static PNN_ALWAYS_INLINE PV_F PNN_VM(tanh)(PV_F x) {
  const PV_F ax = PV_abs(x);
  const PV_F z = PV_mul(x, x);
  PV_F p = PV_splat(-5.70498872745e-3f);
  p = PV_fma(p, z, PV_splat(2.06390887954e-2f));
  p = PV_fma(p, z, PV_splat(-5.37397155531e-2f));
  p = PV_fma(p, z, PV_splat(1.33314422036e-1f));
  p = PV_fma(p, z, PV_splat(-3.33332819422e-1f));
  const PV_F near_zero = PV_fma(PV_mul(p, z), x, x);
  const PV_F e = PNN_VM(exp)(PV_mul(ax, PV_splat(-2.0f)));
  const PV_F far = PV_div(PV_sub(PV_splat(1.0f), e), PV_add(PV_splat(1.0f), e));
  return PV_blend(PV_lt(ax, PV_splat(0.625f)), near_zero, PV_copysign(far, x));
}

/* erfc(z) for z >= 1 as e^-z^2 erfcx(z), erfcx a degree-10 polynomial in 1/z fitted on
 * [1, 9] (Lawson's weighted least squares, relative error 9e-9 before rounding); z^2
 * is split exactly (FMA) so that e^-z^2 keeps its accuracy. 0 above z = 9. */
static PNN_ALWAYS_INLINE PV_F PNN_VM(erfc_tail)(PV_F z) {
  const PV_F zc = PV_min(z, PV_splat(9.0f));
  const PV_F u = PV_div(PV_splat(1.0f), zc);
  PV_F q = PV_splat(-0.05180598050355911f);
  q = PV_fma(q, u, PV_splat(0.3476490378379822f));
  q = PV_fma(q, u, PV_splat(-1.0335530042648315f));
  q = PV_fma(q, u, PV_splat(1.770463466644287f));
  q = PV_fma(q, u, PV_splat(-1.8684046268463135f));
  q = PV_fma(q, u, PV_splat(1.127882480621338f));
  q = PV_fma(q, u, PV_splat(-0.17150919139385223f));
  q = PV_fma(q, u, PV_splat(-0.2547203600406647f));
  q = PV_fma(q, u, PV_splat(-0.0027632503770291805f));
  q = PV_fma(q, u, PV_splat(0.5643489956855774f));
  q = PV_fma(q, u, PV_splat(-3.988190201198449e-06f));
  const PV_F hi = PV_mul(zc, zc);
  const PV_F lo = PV_fma(zc, zc, PV_neg(hi)); /* z^2 = hi + lo exactly */
  const PV_F e = PNN_VM(exp)(PV_neg(hi));
  const PV_F y = PV_mul(PV_fnma(e, lo, e), q); /* e^-(hi+lo) ~ e^-hi (1 - lo) */
  return PV_blend(PV_gt(z, PV_splat(9.0f)), PV_splat(0.0f), y);
}

/* erf(z) for |z| < 1: z P(z^2), degree 6 in z^2, fitted like erfc_tail (relative 2e-9). */
static PNN_ALWAYS_INLINE PV_F PNN_VM(erf_near_zero)(PV_F z) {
  const PV_F z2 = PV_mul(z, z);
  PV_F p = PV_splat(7.81663620728068e-05f);
  p = PV_fma(p, z2, PV_splat(-0.0007998267537914217f));
  p = PV_fma(p, z2, PV_splat(0.00518686743453145f));
  p = PV_fma(p, z2, PV_splat(-0.026852963492274284f));
  p = PV_fma(p, z2, PV_splat(0.11283561587333679f));
  p = PV_fma(p, z2, PV_splat(-0.376126229763031f));
  p = PV_fma(p, z2, PV_splat(1.1283791065216064f));
  return PV_mul(p, z);
}

static PNN_ALWAYS_INLINE PV_F PNN_VM(erf)(PV_F x) {
  const PV_F ax = PV_abs(x);
  const PV_F far = PV_copysign(PV_sub(PV_splat(1.0f), PNN_VM(erfc_tail)(ax)), x);
  return PV_blend(PV_lt(ax, PV_splat(1.0f)), PNN_VM(erf_near_zero)(x), PV_blend(PV_isnan(x), x, far));
}

/* x Phi(x) = 0.5 x (1 + erf(x / sqrt2)); below -sqrt2 as 0.5 x erfc(|x| / sqrt2), which
 * keeps the relative accuracy that 1 + erf loses there. */
static PNN_ALWAYS_INLINE PV_F PNN_VM(gelu)(PV_F x) {
  const PV_F z = PV_mul(x, PV_splat(0.70710678118654752f));
  const PV_F az = PV_abs(z);
  const PV_F half_x = PV_mul(x, PV_splat(0.5f));
  const PV_F near_zero = PV_fma(half_x, PNN_VM(erf_near_zero)(z), half_x);
  const PV_F c = PNN_VM(erfc_tail)(az);
  /* half_x (2 - c) rather than x - half_x c: +inf stays +inf when c is 0. */
  const PV_F far = PV_mul(half_x, PV_blend(PV_lt(z, PV_splat(0.0f)), c, PV_sub(PV_splat(2.0f), c)));
  return PV_blend(PV_lt(az, PV_splat(1.0f)), near_zero, PV_blend(PV_isnan(x), x, far));
}

/* 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi)(x + 0.044715 x^3). */
static PNN_ALWAYS_INLINE PV_F PNN_VM(gelu_tanh)(PV_F x) {
  const PV_F x3 = PV_mul(PV_mul(x, x), x);
  const PV_F u = PV_mul(PV_fma(x3, PV_splat(0.044715f), x), PV_splat(2.0f * 0.79788456080286536f));
  return PV_mul(x, PNN_VM(sigmoid)(u));
}

/* x sigmoid(x) (Swish / SiLU). */
static PNN_ALWAYS_INLINE PV_F PNN_VM(swish)(PV_F x) { return PV_mul(x, PNN_VM(sigmoid)(x)); }
