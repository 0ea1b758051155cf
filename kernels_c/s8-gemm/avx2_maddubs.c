/* s8 GEMM for AVX2 on vpmaddubsw (contract in pnn_kernels_s8.h), for the weight
 * matrices where that is exact almost everywhere. vpmaddubsw adds two u8 x s8 products
 * into a saturating i16: exact for every u8 pair when the pair's positive weights sum to
 * at most 128 and its negative ones to at least -128 (255 * 128 fits in i16, 255 * 129
 * does not). A pair that breaks this (same sign, |w0| + |w1| > 128) keeps w0 and
 * +-(128 - |w0|) in the main product; the excess goes into a fix-up entry, itself an exact
 * quad (one weight per pair). The main products then run as u8 x s8 quads (vpmaddubsw,
 * vpmaddwd by ones into int32): 3 vector ops per 32 products where avx2.c's i16 pairs take
 * 4, and half its weight and panel bytes. Each tile adds its rows' entries through
 * x86_ymm_gemm.h's fix-up hooks before it requantizes, so the sums are exact.
 *
 * A packed row block (8 rows) is pack.h's layout with quads, then its tail:
 *   32 * groups    the main weights
 *   32             per row a u32: the distance from this word to the row's first entry
 *                  in 4-byte units (low 16 bits) and its number of entries (high 16 bits)
 *   8 * capacity   entries: one quad's 4 fix-up weights, then the quad's index (u32)
 * capacity is groups rounded up to 4 (a multiple of 32 bytes keeps blocks aligned): one
 * eighth of the block's row quads. The kernel takes only W whose blocks fit
 * (pnn_s8_gemm_avx2_maddubs_fits; pnn_s8_gemm_select_weights checks it): the pack drops
 * the entries past a block's capacity (the sums are then not W's). With K <= 66311
 * (the contract), both halves of a header word fit in 16 bits.
 *
 * ISA flags are set per file; the kernel is only selected with cpu->avx2_fma. */
#include <stdbool.h>
#include <string.h>

#include "pnn_kernels.h"

#include "pack.h"

enum { MADDUBS_ROWS = 8, MADDUBS_GROUP_K = 4, ENTRY_BYTES = 8, HEADER_BYTES = 4 * MADDUBS_ROWS };

static size_t fix_capacity(size_t groups) { return pnn_s8_round_up(groups, 4); }

/* Whether vpmaddubsw can saturate on the pair (w0, w1): |w0 + w1| > 128 (a sum beyond
 * 128 in magnitude needs both weights of its sign, as |w| <= 128). */
static bool pair_saturates(int w0, int w1) { return w0 + w1 > 128 || w0 + w1 < -128; }

/* Quad g of row m (k = 4g..4g+3), zero past M and K. */
static void load_quad(size_t M, size_t K, const int8_t *W, size_t m, size_t g, int8_t quad[4]) {
  if (m < M && 4 * g + 4 <= K) {
    memcpy(quad, W + m * K + 4 * g, 4);
    return;
  }
  for (size_t j = 0; j < 4; ++j) quad[j] = pnn_s8_weight_or_zero(M, K, W, m, 4 * g + j);
}

static bool quad_saturates(const int8_t quad[4]) {
  return pair_saturates(quad[0], quad[1]) || pair_saturates(quad[2], quad[3]);
}

bool pnn_s8_gemm_avx2_maddubs_fits(size_t M, size_t K, const int8_t *W) {
  const size_t groups = (K + MADDUBS_GROUP_K - 1) / MADDUBS_GROUP_K;
  for (size_t m0 = 0; m0 < M; m0 += MADDUBS_ROWS) {
    size_t entries = 0;
    for (size_t m = m0; m < m0 + MADDUBS_ROWS && m < M; ++m)
      for (size_t g = 0; g < groups; ++g) {
        int8_t quad[4];
        load_quad(M, K, W, m, g, quad);
        entries += quad_saturates(quad);
      }
    if (entries > fix_capacity(groups)) return false;
  }
  return true;
}

#if defined(__x86_64__) || defined(_M_X64)

/* A quad split into an exact one for vpmaddubsw (each saturating pair (w0, w1) keeps w0
 * and +-(128 - |w0|)) and its fix-up, the excess of each such w1. */
static void split_quad(const int8_t quad[4], int8_t kept[4], int8_t fix[4]) {
  for (size_t j = 0; j < 4; j += 2) {
    const int w0 = quad[j], w1 = quad[j + 1];
    const int w1_kept = !pair_saturates(w0, w1) ? w1 : w1 > 0 ? 128 - w0 : -128 - w0;
    kept[j] = (int8_t)w0;
    kept[j + 1] = (int8_t)w1_kept;
    fix[j] = 0;
    fix[j + 1] = (int8_t)(w1 - w1_kept);
  }
}

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#define PNN_S8_X86_YMM
#include "x86_impl.h"

enum { GROUP_K = MADDUBS_GROUP_K };
/* 4 rows x 16 pixels: 8 accumulators, 2 panel vectors, the broadcast, a product and the
 * ones of vpmaddwd. A third vector (avx2.c's 24 pixels) would need 17 ymm: vpmaddubsw
 * takes its unsigned operand (the panel) only from a register. */
#define TILE_VECTORS 2
#define BLOCK_TAIL_BYTES(groups) (HEADER_BYTES + ENTRY_BYTES * fix_capacity(groups))
#define PNN_S8_GEMM_FIXUP

static PNN_ALWAYS_INLINE __m256i ymm_mac(__m256i acc, __m256i x, __m256i w) {
  const __m256i pairs = _mm256_maddubs_epi16(x, w); /* exact: the pack split W */
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

static uint32_t load_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* The fix-up entries of the block row whose header word is at `word`. */
static PNN_ALWAYS_INLINE const uint8_t *row_entries(const uint8_t *word, size_t *count) {
  const uint32_t v = load_u32(word);
  *count = v >> 16;
  return word + 4 * (v & 0xFFFF);
}

static PNN_ALWAYS_INLINE void tile_fixup(size_t nv, size_t groups, const uint8_t *w,
                                         const uint8_t *panel, __m256i acc[][TILE_VECTORS]);
static PNN_ALWAYS_INLINE void gemv_fixup(size_t blocks, size_t groups, const uint8_t *w,
                                         const uint8_t *x_groups, int32_t *sums);

static void pack_panel(const uint8_t *X, size_t ldx, size_t K, size_t groups, size_t width,
                       uint8_t *panel) {
  pnn_s8_pack_x_quads(X, ldx, K, groups, width, 1, panel);
}

static void gemv_column(const uint8_t *X, size_t ldx, size_t K, size_t groups, uint8_t *x) {
  pnn_s8_gather_column(X, ldx, K, 4 * groups, x);
}

#include "x86_ymm_gemm.h"

/* w: the tile's first row in its block (x86_ymm_gemm.h), so the tile's header words
 * follow the block's main weights at the same row offset. */
static PNN_ALWAYS_INLINE void tile_fixup(size_t nv, size_t groups, const uint8_t *w,
                                         const uint8_t *panel, __m256i acc[][TILE_VECTORS]) {
  const uint8_t *header = w + ROWS * GROUP_BYTES * groups;
#pragma GCC unroll 4
  for (size_t r = 0; r < TILE_ROWS; ++r) {
    size_t count;
    const uint8_t *entry = row_entries(header + 4 * r, &count);
    for (size_t i = 0; i < count; ++i, entry += ENTRY_BYTES) {
      const __m256i fix = _mm256_set1_epi32(pnn_s8_load_i32(entry));
      const uint8_t *x = panel + PANEL_GROUP_BYTES * load_u32(entry + 4);
      acc[r][0] = ymm_mac(acc[r][0], _mm256_load_si256((const __m256i *)x), fix);
      if (nv > 1) acc[r][1] = ymm_mac(acc[r][1], _mm256_load_si256((const __m256i *)(x + 32)), fix);
    }
  }
}

static PNN_ALWAYS_INLINE void gemv_fixup(size_t blocks, size_t groups, const uint8_t *w,
                                         const uint8_t *x_groups, int32_t *sums) {
  for (size_t b = 0; b < blocks; ++b) {
    const uint8_t *header = w + b * s8_block_bytes(groups) + ROWS * GROUP_BYTES * groups;
    for (size_t r = 0; r < ROWS; ++r) {
      size_t count;
      const uint8_t *entry = row_entries(header + 4 * r, &count);
      for (size_t i = 0; i < count; ++i, entry += ENTRY_BYTES) {
        const uint8_t *x = x_groups + GROUP_BYTES * load_u32(entry + 4);
        int8_t fix[4];
        memcpy(fix, entry, 4);
        for (size_t j = 0; j < 4; ++j) sums[ROWS * b + r] += fix[j] * x[j];
      }
    }
  }
}

static void maddubs_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  const size_t groups = k_groups(K), main_bytes = ROWS * GROUP_BYTES * groups;
  const size_t capacity = fix_capacity(groups);
  uint8_t *block = packed;
  for (size_t m0 = 0; m0 < M; m0 += ROWS, block += s8_block_bytes(groups)) {
    uint8_t *header = block + main_bytes, *entries = header + HEADER_BYTES;
    size_t used = 0;
    for (size_t r = 0; r < ROWS; ++r) {
      const size_t first = used;
      for (size_t g = 0; g < groups; ++g) {
        int8_t quad[4], kept[4], fix[4];
        load_quad(M, K, W, m0 + r, g, quad);
        split_quad(quad, kept, fix);
        memcpy(block + GROUP_BYTES * (ROWS * g + r), kept, 4);
        if (!quad_saturates(quad) || used == capacity) continue;
        uint8_t *entry = entries + ENTRY_BYTES * used++;
        const uint32_t index = (uint32_t)g;
        memcpy(entry, fix, 4);
        memcpy(entry + 4, &index, 4);
      }
      const uint32_t word = (uint32_t)((entries + ENTRY_BYTES * first - (header + 4 * r)) / 4) |
                            (uint32_t)(used - first) << 16;
      memcpy(header + 4 * r, &word, 4);
    }
  }
}

const pnn_s8_gemm_kernel pnn_s8_gemm_avx2_maddubs = {
    "avx2maddubs", ROWS, gemm_pack_size, maddubs_pack, gemm_scratch_size, gemm_run,
};

PNN_TARGET_END()

#endif /* x86-64 */
