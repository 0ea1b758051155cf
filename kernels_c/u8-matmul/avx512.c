/* u8 x u8 matrix product for AVX-512 BW (contract in pnn_kernels_s8.h; loops in
 * x86_impl.h): 6 x 32 int32 sums in 12 zmm registers, vpmaddwd on int16 pairs.
 *
 * ISA flags are set per file; pnn_u8_matmul_select only picks this with cpu->avx512bw. */
#include <stdbool.h>

#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx2,fma")

#include <immintrin.h>

#include "pnn_inline.h"

typedef __m512i VEC;
enum { LANES = 16 };
static PNN_ALWAYS_INLINE VEC vec_zero(void) { return _mm512_setzero_si512(); }
static PNN_ALWAYS_INLINE VEC vec_set1(int32_t v) { return _mm512_set1_epi32(v); }
static PNN_ALWAYS_INLINE VEC vec_load(const void *p) { return _mm512_loadu_si512(p); }
static PNN_ALWAYS_INLINE void vec_store(void *p, VEC v) { _mm512_storeu_si512(p, v); }
static PNN_ALWAYS_INLINE VEC vec_mac(VEC acc, VEC a, VEC b) { return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b)); }

#include "x86_impl.h"

const pnn_u8_matmul_kernel pnn_u8_matmul_avx512 = {"avx512", x86_scratch_size, x86_run};

PNN_TARGET_END()

#endif /* x86-64 */
