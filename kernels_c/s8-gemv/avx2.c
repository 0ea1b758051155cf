/* u8 x s8 -> int32 GEMV for AVX2 (contract in pnn_kernels_s8.h, layout in pack.h: 8 rows
 * per panel, k in quads), exact with vpmaddubsw. vpmaddubsw adds two u8 x s8 products
 * into a saturating i16: with x up to 255 and weights to -128 a pair reaches -65280, so
 * the products are taken on x shifted to s8, xs = x - 128 (sum W x = sum W xs + 128 sum W,
 * the second term a per-row int32 stored at pack time). The u8 side is |xs| <= 128; where
 * xs < 0 the weight is complemented (w ^ 0xff = -w - 1) by a vpxor with the byte mask of
 * x's sign, so each product is xs * w minus |xs| where xs < 0: that per-row-of-x sum C is
 * added back once per row of x. A product lies in [-16384, 16256] (xs < 0, ~w in
 * [-128, 127]) or [-16256, 16129] (xs >= 0), so a pair stays in [-32768, 32512]: no
 * saturation for any s8 weight, -128 included. vpmaddwd by ones then adds a row's two
 * pairs into its int32 lane. vpxor runs on every vector pipe where vpsignb shared the
 * multiplier's two. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#include "pack.h"
#include "pnn_inline.h"

enum { LANES = 8, GROUP = 4, BLOCK_ROWS = LANES * GEMV_BLOCK_PANELS };

/* Packed: the weights (pack.h), then 128 * sum_k W[n][k] per row (rounded up to panels). */
static size_t avx2_pack_size(size_t N, size_t K) {
  return gemv_pack_size(N, K, LANES, GROUP) + gemv_round_up(N, LANES) * sizeof(int32_t);
}

static const int32_t *shift_of(size_t N, size_t K, const void *packed) {
  return (const int32_t *)(const void *)((const int8_t *)packed + gemv_pack_size(N, K, LANES, GROUP));
}

static void avx2_pack(size_t N, size_t K, const int8_t *W, void *packed) {
  gemv_pack(N, K, W, LANES, GROUP, (int8_t *)packed);
  int32_t *shift = (int32_t *)(uintptr_t)shift_of(N, K, packed);
  memset(shift, 0, gemv_round_up(N, LANES) * sizeof(int32_t));
  for (size_t n = 0; n < N; ++n) {
    int32_t sum = 0;
    for (size_t k = 0; k < K; ++k) sum += W[n * K + k];
    shift[n] = 128 * sum; /* |sum| <= 128 K, within the contract's K */
  }
}

/* |xs| where xs = x - 128 < 0, summed over the `quads` quads (x 0 past K, as the loops
 * read it): what the complemented weights take off a row of x's products. */
static int32_t negative_sum(const uint8_t *x, size_t K, size_t quads) {
  int32_t sum = 0;
  for (size_t k = 0; k < 4 * quads; ++k) {
    const int32_t v = k < K ? x[k] : 0;
    sum += v < 128 ? 128 - v : 0;
  }
  return sum;
}

/* A broadcast quad of x in the loops' form: the byte mask of xs < 0 and |xs|. */
typedef struct shifted {
  __m256i negative, magnitude;
} shifted;

/* x is a row of u8 x, or with `prepared` a row made by prepare_row: the masks for the
 * `quads` quads, then |xs|, then C (negative_sum), so a quad is two broadcast loads. */
static PNN_ALWAYS_INLINE shifted x_shifted(const uint8_t *x, size_t q, size_t K, size_t quads, int prepared) {
  if (prepared) {
    uint32_t negative, magnitude;
    memcpy(&negative, x + 4 * q, 4);
    memcpy(&magnitude, x + 4 * (quads + q), 4);
    return (shifted){_mm256_set1_epi32((int32_t)negative), _mm256_set1_epi32((int32_t)magnitude)};
  }
  const __m256i xs = _mm256_xor_si256(_mm256_set1_epi32((int32_t)gemv_x_quad(x, q, K)), _mm256_set1_epi8((char)0x80));
  return (shifted){_mm256_cmpgt_epi8(_mm256_setzero_si256(), xs), _mm256_abs_epi8(xs)};
}

static PNN_ALWAYS_INLINE int32_t x_correction(const uint8_t *x, size_t K, size_t quads, int prepared) {
  if (!prepared) return negative_sum(x, K, quads);
  int32_t sum;
  memcpy(&sum, x + 8 * quads, sizeof(sum));
  return sum;
}

enum { PREPARED_BYTES = 32768 }; /* stack for prepared rows of x */

static size_t prepared_row_bytes(size_t quads) { return 8 * quads + sizeof(int32_t); }

static void prepare_row(const uint8_t *x, size_t K, size_t quads, uint8_t *row) {
  for (size_t k = 0; k < 4 * quads; ++k) {
    const int v = k < K ? x[k] : 0;
    row[k] = v < 128 ? 0xff : 0;
    row[4 * quads + k] = (uint8_t)(v < 128 ? 128 - v : v - 128);
  }
  const int32_t sum = negative_sum(x, K, quads);
  memcpy(row + 8 * quads, &sum, sizeof(sum));
}

/* Per row lane: sum over the quad of W * xs, less |xs| where xs < 0. */
static inline __m256i quad_products(__m256i w, shifted xs) {
  const __m256i pairs = _mm256_maddubs_epi16(xs.magnitude, _mm256_xor_si256(w, xs.negative));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

static inline __m256i load_w(const int8_t *w) { return _mm256_loadu_si256((const __m256i *)w); }

static inline __m256i start_sum(const int32_t *shift, int32_t correction) {
  return _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)shift), _mm256_set1_epi32(correction));
}

static inline void store_rows(int32_t *y, size_t left, __m256i sum) {
  if (left >= LANES) {
    _mm256_storeu_si256((__m256i *)y, sum);
  } else {
    int32_t lanes[LANES];
    _mm256_storeu_si256((__m256i *)lanes, sum);
    memcpy(y, lanes, left * sizeof(int32_t));
  }
}

/* Rows of one block of `panels` (1-4) panels; `outputs` of its rows are stored. */
static PNN_ALWAYS_INLINE void block_run(size_t panels, size_t quads, size_t K, const int8_t *w, const uint8_t *x,
                                        size_t outputs, int32_t *y, const int32_t *shift, int prepared) {
  __m256i acc[GEMV_BLOCK_PANELS];
  const int32_t correction = x_correction(x, K, quads, prepared);
  for (size_t p = 0; p < panels; ++p) acc[p] = start_sum(shift + p * LANES, correction);
  const size_t stride = panels * 32;
  for (size_t q = 0; q < quads; ++q) {
    const shifted xs = x_shifted(x, q, K, quads, prepared);
    for (size_t p = 0; p < panels; ++p) acc[p] = _mm256_add_epi32(acc[p], quad_products(load_w(w + q * stride + 32 * p), xs));
  }
  for (size_t p = 0; p < panels && p * LANES < outputs; ++p) store_rows(y + p * LANES, outputs - p * LANES, acc[p]);
}

enum { ROW_TILE = 2 }; /* x rows per pass: 8 accumulators share each weight load */

/* ROW_TILE rows of x against one full block of 4 panels (all 32 rows stored). */
static PNN_ALWAYS_INLINE void block_run_rows(size_t quads, size_t K, const int8_t *w, const uint8_t *x, size_t ldx,
                                             int32_t *y, size_t ldy, const int32_t *shift, int prepared) {
  __m256i acc[ROW_TILE][GEMV_BLOCK_PANELS];
  for (size_t r = 0; r < ROW_TILE; ++r) {
    const int32_t correction = x_correction(x + r * ldx, K, quads, prepared);
    for (size_t p = 0; p < GEMV_BLOCK_PANELS; ++p) acc[r][p] = start_sum(shift + p * LANES, correction);
  }
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
  static void block_rows_##SUFFIX(size_t quads, size_t K, const int8_t *w, const uint8_t *x, size_t ldx,           \
                                  int32_t *y, size_t ldy, const int32_t *shift) {                                 \
    block_run_rows(quads, K, w, x, ldx, y, ldy, shift, PREPARED);                                                  \
  }
PNN_S8_GEMV_AVX2_HOOKS(raw, 0)
PNN_S8_GEMV_AVX2_HOOKS(prep, 1)

/* Rows of x are prepared (masks, |xs|, C) once per run on the stack, as many as fit, so
 * the blocks' loops broadcast two words per quad instead of shifting x again for every
 * block; rows too long for the stack buffer are shifted in the loops. */
static void avx2_run(size_t N, size_t K, const void *packed, size_t rows, const uint8_t *x, size_t ldx, int32_t *y,
                     size_t ldy) {
  const int32_t *shift = shift_of(N, K, packed);
  const size_t quads = gemv_round_up(K, GROUP) / GROUP, row_bytes = prepared_row_bytes(quads);
  if (quads == 0 || row_bytes > PREPARED_BYTES) {
    gemv_drive(N, K, packed, rows, x, ldx, y, ldy, LANES, GROUP, ROW_TILE, block_full_raw, block_part_raw,
               block_rows_raw, shift);
    return;
  }
  uint8_t prepared[PREPARED_BYTES];
  const size_t per_pass = PREPARED_BYTES / row_bytes;
  for (size_t r0 = 0; r0 < rows; r0 += per_pass) {
    const size_t count = rows - r0 < per_pass ? rows - r0 : per_pass;
    for (size_t r = 0; r < count; ++r) prepare_row(x + (r0 + r) * ldx, K, quads, prepared + r * row_bytes);
    gemv_drive(N, K, packed, count, prepared, row_bytes, y + r0 * ldy, ldy, LANES, GROUP, ROW_TILE, block_full_prep,
               block_part_prep, block_rows_prep, shift);
  }
}

const pnn_s8_gemv_kernel pnn_s8_gemv_avx2 = {"avx2", avx2_pack_size, avx2_pack, avx2_run};

PNN_TARGET_END()

#endif /* x86-64 */
