/* Binary GEMM and convolution for AArch64 NEON (contract in pnn_kernels_b1.h): cnt
 * counts each byte, uadalp (vpadalq_u8) adds byte pairs into 16-bit lanes (16 a word:
 * 4095 words fit before a 16-bit lane could overflow), and two pairwise widenings make
 * the 64-bit pixel totals. Micro-tile 4 rows x 4 pixels (two q registers of two 64-bit
 * pixel words). Driver: bgemm_driver.h. NEON is part of the AArch64 baseline. */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#define B1_ROWS 4
#define B1_PIXELS 4
enum { CHUNK = 4095 }; /* words whose counts fit a 16-bit lane */

static void b1_tile(size_t kw, const uint64_t *const *w, const uint64_t *panel, uint32_t *counts) {
  uint64x2_t total[B1_ROWS][2];
  for (size_t r = 0; r < B1_ROWS; ++r) total[r][0] = total[r][1] = vdupq_n_u64(0);
  for (size_t k0 = 0; k0 < kw; k0 += CHUNK) {
    const size_t k1 = kw - k0 < CHUNK ? kw : k0 + CHUNK;
    uint16x8_t acc[B1_ROWS][2];
    for (size_t r = 0; r < B1_ROWS; ++r) acc[r][0] = acc[r][1] = vdupq_n_u16(0);
    for (size_t k = k0; k < k1; ++k) {
      const uint64x2_t x0 = vld1q_u64(panel + k * B1_PIXELS);
      const uint64x2_t x1 = vld1q_u64(panel + k * B1_PIXELS + 2);
      for (size_t r = 0; r < B1_ROWS; ++r) {
        const uint64x2_t wv = vdupq_n_u64(w[r][k]);
        acc[r][0] = vpadalq_u8(acc[r][0], vcntq_u8(vreinterpretq_u8_u64(veorq_u64(x0, wv))));
        acc[r][1] = vpadalq_u8(acc[r][1], vcntq_u8(vreinterpretq_u8_u64(veorq_u64(x1, wv))));
      }
    }
    for (size_t r = 0; r < B1_ROWS; ++r) {
      total[r][0] = vaddq_u64(total[r][0], vpaddlq_u32(vpaddlq_u16(acc[r][0])));
      total[r][1] = vaddq_u64(total[r][1], vpaddlq_u32(vpaddlq_u16(acc[r][1])));
    }
  }
  for (size_t r = 0; r < B1_ROWS; ++r) {
    vst1q_u32(counts + r * B1_PIXELS, vcombine_u32(vmovn_u64(total[r][0]), vmovn_u64(total[r][1])));
  }
}

#include "bgemm_driver.h"

PNN_B1_GEMM_KERNEL(pnn_b1_gemm_neon, "neon");

#endif
