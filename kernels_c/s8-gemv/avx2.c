/* u8 x s8 -> int32 GEMV for AVX2 (contract in pnn_kernels_s8.h, layout in pack.h: 8 rows
 * per panel, k in quads), exact with vpmaddubsw. vpmaddubsw adds two u8 x s8 products
 * into a saturating i16: with x up to 255 and weights to -128 a pair reaches -65280, so
 * the products are taken on x shifted to s8, xs = x - 128 (sum W x = sum W xs + 128 sum W,
 * the second term a per-row int32 stored at pack time): vpsignb moves the sign of xs onto
 * the weight and vpabsb leaves |xs| <= 128 as the u8 side, so a pair is at most
 * 2 * 128 * 127 = 32512 in magnitude and never saturates, as long as no weight is -128
 * (vpsignb cannot negate it). vpmaddwd by ones then adds the two pairs of a row's quad
 * into its int32 lane: 4 instructions per 32 weights where widening to i16 took 6.
 * A block of 4 panels that holds a -128 is flagged at pack time and runs the widening
 * form instead (vpmovsxbw + vpmaddwd on x as i16, exact on all of s8). */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#include "pack.h"
#include "pnn_inline.h"

enum { LANES = 8, GROUP = 4, BLOCK_ROWS = LANES * GEMV_BLOCK_PANELS };

static size_t blocks_of(size_t N) { return (N + BLOCK_ROWS - 1) / BLOCK_ROWS; }

/* Packed: the weights (pack.h), then 128 * sum_k W[n][k] per row (rounded up to panels),
 * then a byte per block, 1 where it holds a -128. */
static size_t avx2_pack_size(size_t N, size_t K) {
  return gemv_pack_size(N, K, LANES, GROUP) + gemv_round_up(N, LANES) * sizeof(int32_t) + blocks_of(N);
}

static gemv_extra avx2_extra(size_t N, size_t K, const void *packed);

static void avx2_pack(size_t N, size_t K, const int8_t *W, void *packed) {
  gemv_pack(N, K, W, LANES, GROUP, (int8_t *)packed);
  const gemv_extra extra = avx2_extra(N, K, packed);
  int32_t *shift = (int32_t *)(uintptr_t)extra.shift;
  uint8_t *exact = (uint8_t *)(uintptr_t)extra.exact;
  memset(exact, 0, blocks_of(N));
  memset(shift, 0, gemv_round_up(N, LANES) * sizeof(int32_t));
  for (size_t n = 0; n < N; ++n) {
    int32_t sum = 0;
    for (size_t k = 0; k < K; ++k) {
      sum += W[n * K + k];
      if (W[n * K + k] == -128) exact[n / BLOCK_ROWS] = 1;
    }
    shift[n] = 128 * sum; /* |sum| <= 128 K, within the contract's K */
  }
}

static inline __m256i x_quad(const uint8_t *x, size_t q, size_t K) {
  return _mm256_set1_epi32((int32_t)gemv_x_quad(x, q, K));
}

/* The sign-shifted form of a broadcast quad of x: xs = x - 128 and |xs|. */
typedef struct shifted {
  __m256i sign, magnitude;
} shifted;

/* x is a row of u8 x, or with `prepared` a row made by prepare_row: xs for the
 * `quads` quads, then |xs|, so a quad is two broadcast loads. */
static PNN_ALWAYS_INLINE shifted x_shifted(const uint8_t *x, size_t q, size_t K, size_t quads, int prepared) {
  if (prepared) {
    uint32_t xs, magnitude;
    memcpy(&xs, x + 4 * q, 4);
    memcpy(&magnitude, x + 4 * (quads + q), 4);
    return (shifted){_mm256_set1_epi32((int32_t)xs), _mm256_set1_epi32((int32_t)magnitude)};
  }
  const __m256i xs = _mm256_xor_si256(x_quad(x, q, K), _mm256_set1_epi8((char)0x80));
  return (shifted){xs, _mm256_abs_epi8(xs)};
}

/* The raw u8 quad of x (zeros past K) from either form. */
static PNN_ALWAYS_INLINE uint32_t x_raw(const uint8_t *x, size_t q, size_t K, int prepared) {
  if (!prepared) return gemv_x_quad(x, q, K);
  uint32_t xs;
  memcpy(&xs, x + 4 * q, 4);
  return xs ^ 0x80808080u; /* past K xs is 0x80: x 0 */
}

enum { PREPARED_BYTES = 32768 }; /* stack for prepared rows of x: 2 x 4 * quads bytes each */

static void prepare_row(const uint8_t *x, size_t K, size_t quads, uint8_t *row) {
  for (size_t k = 0; k < 4 * quads; ++k) {
    const uint8_t xs = (uint8_t)((k < K ? x[k] : 0) ^ 0x80);
    row[k] = xs;
    row[4 * quads + k] = (uint8_t)(xs < 0x80 ? xs : 256 - xs); /* |xs - 256| for negative s8 */
  }
}

/* Per row lane: sum over the quad of W * xs (weights in [-127, 127]). */
static inline __m256i quad_products(__m256i w, shifted xs) {
  const __m256i pairs = _mm256_maddubs_epi16(xs.magnitude, _mm256_sign_epi8(w, xs.sign));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

static inline __m256i load_w(const int8_t *w) { return _mm256_loadu_si256((const __m256i *)w); }

static inline void store_rows(int32_t *y, size_t left, __m256i sum) {
  if (left >= LANES) {
    _mm256_storeu_si256((__m256i *)y, sum);
  } else {
    int32_t lanes[LANES];
    _mm256_storeu_si256((__m256i *)lanes, sum);
    memcpy(y, lanes, left * sizeof(int32_t));
  }
}

/* Rows of one block of `panels` (1-4) panels without -128; `outputs` of its rows are stored. */
static PNN_ALWAYS_INLINE void block_run(size_t panels, size_t quads, size_t K, const int8_t *w, const uint8_t *x,
                                        size_t outputs, int32_t *y, const int32_t *shift, int prepared) {
  __m256i acc[GEMV_BLOCK_PANELS];
  for (size_t p = 0; p < panels; ++p) acc[p] = _mm256_loadu_si256((const __m256i *)(shift + p * LANES));
  const size_t stride = panels * 32;
  for (size_t q = 0; q < quads; ++q) {
    const shifted xs = x_shifted(x, q, K, quads, prepared);
    for (size_t p = 0; p < panels; ++p) acc[p] = _mm256_add_epi32(acc[p], quad_products(load_w(w + q * stride + 32 * p), xs));
  }
  for (size_t p = 0; p < panels && p * LANES < outputs; ++p) store_rows(y + p * LANES, outputs - p * LANES, acc[p]);
}

/* The same rows for a block that holds a -128: each 16 weight bytes (4 rows x 4 k)
 * widened to i16 and multiplied by the quad of x as i16, a row's two half sums adjacent;
 * one vphaddd at the end joins them (rows 0, 1, 4, 5 | 2, 3, 6, 7, put in order). */
static PNN_ALWAYS_INLINE void block_exact(size_t panels, size_t quads, size_t K, const int8_t *w, const uint8_t *x,
                                          size_t outputs, int32_t *y, int prepared) {
  __m256i lo[GEMV_BLOCK_PANELS], hi[GEMV_BLOCK_PANELS];
  for (size_t p = 0; p < panels; ++p) lo[p] = hi[p] = _mm256_setzero_si256();
  const size_t stride = panels * 32;
  for (size_t q = 0; q < quads; ++q) {
    const __m256i xw = _mm256_cvtepu8_epi16(_mm_set1_epi32((int32_t)x_raw(x, q, K, prepared)));
    for (size_t p = 0; p < panels; ++p) {
      const int8_t *wp = w + q * stride + 32 * p;
      lo[p] = _mm256_add_epi32(lo[p], _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wp)), xw));
      hi[p] = _mm256_add_epi32(hi[p],
                               _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wp + 16))), xw));
    }
  }
  for (size_t p = 0; p < panels && p * LANES < outputs; ++p) {
    const __m256i sum = _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo[p], hi[p]), _MM_SHUFFLE(3, 1, 2, 0));
    store_rows(y + p * LANES, outputs - p * LANES, sum);
  }
}

enum { ROW_TILE = 2 }; /* x rows per pass: 8 accumulators share each weight load */

/* ROW_TILE rows of x against one full block of 4 panels without -128 (all 32 rows stored). */
static PNN_ALWAYS_INLINE void block_run_rows(size_t quads, size_t K, const int8_t *w, const uint8_t *x, size_t ldx,
                                             int32_t *y, size_t ldy, const int32_t *shift, int prepared) {
  __m256i acc[ROW_TILE][GEMV_BLOCK_PANELS];
  for (size_t r = 0; r < ROW_TILE; ++r)
    for (size_t p = 0; p < GEMV_BLOCK_PANELS; ++p) acc[r][p] = _mm256_loadu_si256((const __m256i *)(shift + p * LANES));
  for (size_t q = 0; q < quads; ++q) {
    const int8_t *wq = w + q * BLOCK_ROWS * GROUP;
    shifted xs[ROW_TILE];
    for (size_t r = 0; r < ROW_TILE; ++r) xs[r] = x_shifted(x + r * ldx, q, K, quads, prepared);
    for (size_t p = 0; p < GEMV_BLOCK_PANELS; ++p) {
      const __m256i wv = load_w(wq + 32 * p);
      for (size_t r = 0; r < ROW_TILE; ++r) acc[r][p] = _mm256_add_epi32(acc[r][p], quad_products(wv, xs[r]));
    }
  }
  for (size_t r = 0; r < ROW_TILE; ++r)
    for (size_t p = 0; p < GEMV_BLOCK_PANELS; ++p) _mm256_storeu_si256((__m256i *)(y + r * ldy + p * LANES), acc[r][p]);
}

/* The hooks of gemv_drive for raw rows of x (RAW) and prepared ones (PREP). */
#define PNN_S8_GEMV_AVX2_HOOKS(SUFFIX, PREPARED)                                                                   \
  static void block_full_##SUFFIX(size_t panels, size_t quads, size_t K, const int8_t *w, const uint8_t *x,        \
                                  size_t outputs, int32_t *y, const int32_t *shift) {                             \
    (void)panels;                                                                                                  \
    block_run(GEMV_BLOCK_PANELS, quads, K, w, x, outputs, y, shift, PREPARED);                                     \
  }                                                                                                                \
  static void block_part_##SUFFIX(size_t panels, size_t quads, size_t K, const int8_t *w, const uint8_t *x,        \
                                  size_t outputs, int32_t *y, const int32_t *shift) {                             \
    block_run(panels, quads, K, w, x, outputs, y, shift, PREPARED);                                                \
  }                                                                                                                \
  static void block_exact_##SUFFIX(size_t panels, size_t quads, size_t K, const int8_t *w, const uint8_t *x,       \
                                   size_t outputs, int32_t *y, const int32_t *shift) {                            \
    (void)shift;                                                                                                   \
    block_exact(panels, quads, K, w, x, outputs, y, PREPARED);                                                     \
  }                                                                                                                \
  static void block_rows_##SUFFIX(size_t quads, size_t K, const int8_t *w, const uint8_t *x, size_t ldx,           \
                                  int32_t *y, size_t ldy, const int32_t *shift) {                                 \
    block_run_rows(quads, K, w, x, ldx, y, ldy, shift, PREPARED);                                                  \
  }
PNN_S8_GEMV_AVX2_HOOKS(raw, 0)
PNN_S8_GEMV_AVX2_HOOKS(prep, 1)

static gemv_extra avx2_extra(size_t N, size_t K, const void *packed) {
  const int32_t *shift = (const int32_t *)(const void *)((const int8_t *)packed + gemv_pack_size(N, K, LANES, GROUP));
  return (gemv_extra){shift, (const uint8_t *)(shift + gemv_round_up(N, LANES)), block_exact_raw};
}

/* Rows of x are prepared (xs, |xs|) once per run on the stack, as many as fit, so the
 * blocks' loops broadcast two words per quad instead of shifting x again for every block;
 * rows too long for the stack buffer are shifted in the loops. */
static void avx2_run(size_t N, size_t K, const void *packed, size_t rows, const uint8_t *x, size_t ldx, int32_t *y,
                     size_t ldy) {
  gemv_extra extra = avx2_extra(N, K, packed);
  const size_t quads = gemv_round_up(K, GROUP) / GROUP, row_bytes = 8 * quads;
  if (row_bytes == 0 || row_bytes > PREPARED_BYTES) {
    gemv_drive(N, K, packed, rows, x, ldx, y, ldy, LANES, GROUP, ROW_TILE, block_full_raw, block_part_raw,
               block_rows_raw, &extra);
    return;
  }
  uint8_t prepared[PREPARED_BYTES];
  const size_t per_pass = PREPARED_BYTES / row_bytes;
  extra.exact_block = block_exact_prep;
  for (size_t r0 = 0; r0 < rows; r0 += per_pass) {
    const size_t count = rows - r0 < per_pass ? rows - r0 : per_pass;
    for (size_t r = 0; r < count; ++r) prepare_row(x + (r0 + r) * ldx, K, quads, prepared + r * row_bytes);
    gemv_drive(N, K, packed, count, prepared, row_bytes, y + r0 * ldy, ldy, LANES, GROUP, ROW_TILE, block_full_prep,
               block_part_prep, block_rows_prep, &extra);
  }
}

const pnn_s8_gemv_kernel pnn_s8_gemv_avx2 = {"avx2", avx2_pack_size, avx2_pack, avx2_run};

PNN_TARGET_END()

#endif /* x86-64 */
