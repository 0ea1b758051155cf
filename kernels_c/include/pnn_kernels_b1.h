/* Binary (1-bit) kernels, the Larq Compute Engine contract (ARCHITECTURE.md, "Binary"):
 *  - a bit is 1 where the value is negative; 0 and -0 count as +1 (ONNX Sign(0) = 0 is
 *    the converter's business, not the kernels');
 *  - activations and weights are packed along input channels in 64-bit words, channel c
 *    in bit c % 64 of word c / 64; padding bits are 0 in both, so they never count;
 *  - m = popcount(x xor w) over a row; dot = K_eff - 2m, where K_eff is the number of
 *    real (not padding) bits: for a convolution with zero padding only the in-bounds taps
 *    count (exact, PyTorch's default), with one padding every tap counts (Larq's);
 *  - output = multiplier[c] * dot + bias[c] clamped to [lo, hi] (float out), or bit-packed
 *    out: bit c = 1 (negative) where (dot < threshold[c]) xor negate bit c.
 * Every variant matches the scalar reference exactly, in every output mode: the float
 * output is (float)((double)multiplier * dot + (double)bias), whose product is exact in
 * double (|dot| < 2^29), so an FMA contraction cannot change it and every compiler and
 * ISA gives the same bits (pocketnn.binary.simulate models it).
 *
 * Bit-packed activations are pixel-major (NHWC-friendly): x[p * ldx + c / 64] holds the
 * channels of pixel p (p = y * width + x); ldx >= pnn_b1_words(channels), the words in
 * between are 0. Packed weights are row-major, one row per output channel: for a
 * convolution the taps in (i, j) order, each tap pnn_b1_words(channels) words.
 * Kernels allocate nothing; scratch is the caller's, 64-byte aligned. */
#ifndef PNN_KERNELS_B1_H
#define PNN_KERNELS_B1_H

#include <stddef.h>
#include <stdint.h>

struct pnn_conv2d_geometry;
struct pnn_cpu_features;

/* 64-bit words that hold `bits` packed bits. */
static inline size_t pnn_b1_words(size_t bits) { return (bits + 63) / 64; }

/* ---- b1 pack (kernels_c/b1-pack/) -----------------------------------------------
 * out[p * ldo + w] for p < pixels, w < ldo: bit c % 64 of word c / 64 is x[c * cs + p * ps]
 * < 0 (NaN and -0 give 0); bits past `channels` and words past pnn_b1_words(channels)
 * are 0. NCHW float input: cs = pixels, ps = 1; NHWC: cs = 1, ps = channels. */
void pnn_b1_pack_scalar(size_t channels, size_t pixels, const float *x, size_t cs, size_t ps,
                        uint64_t *out, size_t ldo);
typedef void (*pnn_b1_pack_fn)(size_t channels, size_t pixels, const float *x, size_t cs, size_t ps,
                               uint64_t *out, size_t ldo);
#if defined(__x86_64__) || defined(_M_X64)
/* The same result; vectorized where ps = 1 (NCHW), the reference otherwise. */
void pnn_b1_pack_avx2(size_t channels, size_t pixels, const float *x, size_t cs, size_t ps,
                      uint64_t *out, size_t ldo);
#endif
pnn_b1_pack_fn pnn_b1_pack_select(const struct pnn_cpu_features *cpu);

/* Weights of a convolution (OIHW floats, M x C x kh x kw; a dense layer is kh = kw = 1)
 * packed as rows of taps * pnn_b1_words(C) words (the layout above), and tap_pop[m *
 * taps + t] = the number of 1 bits (negative weights) of row m at tap t, which the zero
 * padding correction needs. */
void pnn_b1_pack_conv_weights(size_t M, size_t C, size_t kh, size_t kw, const float *w,
                              uint64_t *packed, int32_t *tap_pop);

/* ---- output transform --------------------------------------------------------------
 * Exactly one of y and bits is set.
 * Float: y[m * y_stride_m + n * y_stride_n] = clamp(multiplier[m] * dot + bias[m], lo, hi)
 * (the affine part in double as above, rounded once to float)
 * (NCHW conv output: stride_m = pixels, stride_n = 1; a dense [N, M] output: 1 and M).
 * Bit-packed: bits[n * ld_bits + m / 64] bit m % 64 = (dot < threshold[m]) ^ (negate[m / 64]
 * bit m % 64); bits of channels past M are 0. For output = a * dot + b thresholded at 0:
 * a > 0 gives threshold ceil(-b / a) and negate 0, a < 0 threshold floor(-b / a) + 1 and
 * negate 1 (the bit is then dot >= threshold, i.e. a * dot + b < 0); a = 0 a constant. */
typedef struct pnn_b1_output {
  float *y;
  size_t y_stride_m, y_stride_n;
  const float *multiplier;
  const float *bias;
  float lo, hi;
  uint64_t *bits;
  size_t ld_bits; /* >= pnn_b1_words(M) */
  const int32_t *threshold;
  const uint64_t *negate; /* pnn_b1_words(M) words, bits past M 0 */
} pnn_b1_output;

enum pnn_b1_padding { PNN_B1_PAD_ZERO = 0, PNN_B1_PAD_ONE = 1 };

/* ---- b1 GEMM and convolution (kernels_c/b1-bgemm/) ------------------------------------
 * GEMM: for n < N, m in [m_begin, m_end): m = popcount over k < kw words of X[n * ldx + k]
 * xor W[m * kw + k]; dot = K - 2m (K = the real bits of a row, <= 64 kw; padding bits 0).
 * Conv (geometry g, g->channels input channels, x pixel-major with ldx words a pixel, W
 * and tap_pop from pnn_b1_pack_conv_weights): output pixel n = oy * out_w + ox reads the
 * taps x[(oy*sh - pt + i*dh) * in_w + ox*sw - pl + j*dw]; a tap outside the image is
 * skipped (zero padding: K_eff = in-bounds taps * channels) or is +1 (one padding: K_eff =
 * all taps * channels). Groups: one call per group (their channels packed apart).
 * Threads split output channels: m_begin and m_end multiples of 64 (or m_end = M).
 * Scratch: gemm_scratch_size(kw) / conv_scratch_size(g) bytes, 64-byte aligned.
 * The variants differ only in their micro-tile (rows x pixels, pixels in vector lanes);
 * blocking, the bit-packed im2col panel and the output transform are shared
 * (kernels_c/b1-bgemm/bgemm_driver.h). */
/* ---- tree-delta plan (MST output-channel reordering; pocketnn.binary.mst) ------------
 * A child channel c with parent p computes its popcount from the parent's over only the
 * words where their rows differ (D = W[p] xor W[c] on those words, d = popcount of D):
 *   m_c = m_p + d - 2 * popcount((x xor W[p]) and D)
 * (a bit set in D flips x xor w: +1 where it was 0, -1 where it was 1). Roots run as plain
 * rows. The kernels trust the plan; pnn_b1_mst_plan_check validates one against W. */
typedef struct pnn_b1_mst_plan {
  size_t roots;                /* order[0 .. roots) are the roots */
  const uint32_t *order;       /* the M channels once each, roots first, parents before children */
  const uint32_t *parent;      /* per channel (read for children only) */
  const int32_t *delta_bits;   /* per channel: d (read for children only) */
  const uint32_t *delta_begin; /* M + 1 offsets: channel c's words are [delta_begin[c], delta_begin[c + 1]) */
  const uint32_t *delta_word;  /* word index k < kw, of the row */
  const uint64_t *delta_mask;  /* W[parent][k] xor W[c][k] */
} pnn_b1_mst_plan;

/* 0 when the plan is consistent with W ([M, kw] rows): order a permutation with roots
 * first, every child's parent earlier in it, delta offsets increasing and within
 * `delta_count`, words < kw and increasing, masks and d equal to the rows' differences
 * (a word the plan leaves out must be equal in both rows); else -1. */
int pnn_b1_mst_plan_check(size_t M, size_t kw, const uint64_t *W, const pnn_b1_mst_plan *plan,
                          size_t delta_count);

typedef struct pnn_b1_gemm_kernel {
  const char *name; /* "scalar", "avx2", "avx512bw", "avx512vpopcnt", "neon", "wasmsimd" */
  size_t (*gemm_scratch_size)(size_t kw);
  void (*gemm)(size_t M, size_t N, size_t kw, size_t K, size_t m_begin, size_t m_end,
               const uint64_t *W, const uint64_t *X, size_t ldx, const pnn_b1_output *out,
               void *scratch);
  size_t (*conv_scratch_size)(const struct pnn_conv2d_geometry *g);
  void (*conv)(const struct pnn_conv2d_geometry *g, enum pnn_b1_padding padding, size_t M,
               size_t m_begin, size_t m_end, const uint64_t *W, const int32_t *tap_pop,
               const uint64_t *x, size_t ldx, const pnn_b1_output *out, void *scratch);
  /* The same results through a tree-delta plan, every channel [0, M) in one call (the
   * tree crosses any row split). Scratch: mst_*_scratch_size(..., M) bytes, 64-byte
   * aligned. mst_name: name + "+mst". */
  const char *mst_name;
  size_t (*mst_gemm_scratch_size)(size_t kw, size_t M);
  void (*mst_gemm)(size_t M, size_t N, size_t kw, size_t K, const uint64_t *W,
                   const pnn_b1_mst_plan *plan, const uint64_t *X, size_t ldx,
                   const pnn_b1_output *out, void *scratch);
  size_t (*mst_conv_scratch_size)(const struct pnn_conv2d_geometry *g, size_t M);
  void (*mst_conv)(const struct pnn_conv2d_geometry *g, enum pnn_b1_padding padding, size_t M,
                   const uint64_t *W, const int32_t *tap_pop, const pnn_b1_mst_plan *plan,
                   const uint64_t *x, size_t ldx, const pnn_b1_output *out, void *scratch);
} pnn_b1_gemm_kernel;

extern const pnn_b1_gemm_kernel pnn_b1_gemm_scalar;
extern const pnn_b1_gemm_kernel pnn_b1_gemm_avx2;          /* x86-64 only */
extern const pnn_b1_gemm_kernel pnn_b1_gemm_avx512bw;      /* x86-64 only */
extern const pnn_b1_gemm_kernel pnn_b1_gemm_avx512vpopcnt; /* x86-64 only */
extern const pnn_b1_gemm_kernel pnn_b1_gemm_neon;          /* aarch64 only */
extern const pnn_b1_gemm_kernel pnn_b1_gemm_wasmsimd;      /* wasm32 + SIMD128 only */
/* Best variant compiled in and usable on this CPU. */
const pnn_b1_gemm_kernel *pnn_b1_gemm_select(const struct pnn_cpu_features *cpu);

#endif /* PNN_KERNELS_B1_H */
