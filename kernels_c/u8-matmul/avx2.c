/* u8 x u8 matrix product for AVX2 (contract in pnn_kernels_s8.h; loops in x86_impl.h):
 * 6 x 16 int32 sums in 12 ymm registers, vpmaddwd on int16 pairs.
 *
 * ISA flags are set per file; pnn_u8_matmul_select only picks this with cpu->avx2_fma. */
#include <stdbool.h>

#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#include "pnn_inline.h"

typedef __m256i VEC;
enum { LANES = 8 };
static PNN_ALWAYS_INLINE VEC vec_zero(void) { return _mm256_setzero_si256(); }
static PNN_ALWAYS_INLINE VEC vec_set1(int32_t v) { return _mm256_set1_epi32(v); }
static PNN_ALWAYS_INLINE VEC vec_load(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static PNN_ALWAYS_INLINE void vec_store(void *p, VEC v) { _mm256_storeu_si256((__m256i *)p, v); }
static PNN_ALWAYS_INLINE VEC vec_mac(VEC acc, VEC a, VEC b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }

#include "x86_impl.h"

const pnn_u8_matmul_kernel pnn_u8_matmul_avx2 = {"avx2", x86_scratch_size, x86_run};

PNN_TARGET_END()

#endif /* x86-64 */
