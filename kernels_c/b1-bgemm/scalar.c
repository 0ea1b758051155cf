/* Binary GEMM and convolution, the plain C reference (contract in pnn_kernels_b1.h).
 * Micro-tile 4 rows x 4 pixels, one popcount a word; driver: bgemm_driver.h. */
#include "pnn_b1_popcount.h"
#include "pnn_kernels.h"

#define B1_ROWS 4
#define B1_PIXELS 4

static void b1_tile(size_t kw, const uint64_t *const *w, const uint64_t *panel, uint32_t *counts) {
  for (size_t r = 0; r < B1_ROWS; ++r) {
    uint32_t acc[B1_PIXELS] = {0};
    for (size_t k = 0; k < kw; ++k) {
      for (size_t p = 0; p < B1_PIXELS; ++p) acc[p] += pnn_b1_popcount64(w[r][k] ^ panel[k * B1_PIXELS + p]);
    }
    for (size_t p = 0; p < B1_PIXELS; ++p) counts[r * B1_PIXELS + p] = acc[p];
  }
}

#include "bgemm_driver.h"

PNN_B1_GEMM_KERNEL(pnn_b1_gemm_scalar, "scalar");
