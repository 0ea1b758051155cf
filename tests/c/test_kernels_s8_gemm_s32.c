/* The u8 x s8 -> int32 GEMM (kernels_c/s8-gemm-s32, ConvInteger / MatMulInteger):
 *   1. the scalar reference equals a naive int64 triple loop on awkward sizes (M, N, K of
 *      1, tails of the row blocks, pixel tiles and k quads), weights over all of s8
 *      (-128 included) and X over all of u8, with X and Y strides wider than N;
 *   2. every SIMD variant this CPU can run equals the reference exactly, also on row
 *      ranges that start inside the matrix (threads split rows), and leaves the rows
 *      outside its range untouched;
 *   3. pnn_s8_gemm_s32_select picks the best usable variant.
 * A variant this CPU cannot run is reported SKIPPED (variant_gate.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"
#include "variant_gate.h"

typedef struct variant {
  const pnn_s8_gemm_s32_kernel *kernel;
  int usable;
} variant;

static uint32_t rng_state = 12345u;
static uint32_t next_random(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}

static void *aligned_buffer(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) abort();
  return p;
}

/* Runs `kernel` on rows [m_begin, m_end) into a Y prefilled with a marker; returns Y. */
static int32_t *run_kernel(const pnn_s8_gemm_s32_kernel *kernel, size_t M, size_t N, size_t K, const int8_t *W,
                           const uint8_t *X, size_t ldx, size_t ldy, size_t m_begin, size_t m_end) {
  void *packed = aligned_buffer(kernel->pack_size(M, K));
  void *scratch = aligned_buffer(kernel->scratch_size(N, K));
  int32_t *Y = malloc(M * ldy * sizeof(int32_t));
  if (!Y) abort();
  for (size_t i = 0; i < M * ldy; ++i) Y[i] = -777;
  kernel->pack(M, K, W, packed);
  kernel->run(M, N, K, m_begin, m_end, packed, X, ldx, Y, ldy, scratch);
  free(packed);
  free(scratch);
  return Y;
}

static size_t check_case(const variant *variants, size_t count, size_t M, size_t N, size_t K, size_t *cases) {
  const size_t ldx = N + 3, ldy = N + 5;
  int8_t *W = malloc(M * K + 1);
  uint8_t *X = malloc(K * ldx);
  if (!W || !X) abort();
  for (size_t i = 0; i < M * K; ++i) W[i] = (int8_t)(int32_t)(next_random() % 256 - 128);
  for (size_t i = 0; i < K * ldx; ++i) X[i] = (uint8_t)next_random();
  if (M * K > 0) W[0] = -128; /* the corner a saturating multiply would get wrong */
  if (K > 0) X[0] = 255;
  size_t failures = 0;
  int32_t *ref = run_kernel(&pnn_s8_gemm_s32_scalar, M, N, K, W, X, ldx, ldy, 0, M);
  for (size_t m = 0; m < M; ++m) {
    for (size_t n = 0; n < N; ++n) {
      int64_t acc = 0;
      for (size_t k = 0; k < K; ++k) acc += (int64_t)W[m * K + k] * X[k * ldx + n];
      if (ref[m * ldy + n] != (int32_t)acc) {
        if (failures++ < 3) fprintf(stderr, "scalar M=%zu N=%zu K=%zu: (%zu, %zu) gives %d, expected %lld\n", M, N,
                                    K, m, n, ref[m * ldy + n], (long long)acc);
      }
    }
  }
  ++*cases;
  for (size_t v = 0; v < count; ++v) {
    const pnn_s8_gemm_s32_kernel *kernel = variants[v].kernel;
    if (!variants[v].usable || kernel == &pnn_s8_gemm_s32_scalar) continue;
    const size_t block = kernel->row_block;
    const size_t m_begin = M > block ? block : 0; /* a range starting inside the matrix */
    for (size_t pass = 0; pass < 2; ++pass) {
      const size_t lo = pass ? m_begin : 0;
      int32_t *got = run_kernel(kernel, M, N, K, W, X, ldx, ldy, lo, M);
      for (size_t m = 0; m < M; ++m) {
        for (size_t n = 0; n < ldy; ++n) {
          const int32_t want = (m >= lo && n < N) ? ref[m * ldy + n] : -777;
          if (got[m * ldy + n] != want && failures++ < 3) {
            fprintf(stderr, "%s M=%zu N=%zu K=%zu rows [%zu, %zu): (%zu, %zu) gives %d, expected %d\n",
                    kernel->name, M, N, K, lo, M, m, n, got[m * ldy + n], want);
          }
        }
      }
      free(got);
      ++*cases;
    }
  }
  free(ref);
  free(W);
  free(X);
  return failures;
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  variant variants[4];
  size_t count = 0;
#if defined(__x86_64__) || defined(_M_X64)
  variants[count++] = (variant){&pnn_s8_gemm_s32_avx512vnni,
                                variant_usable("s8gemm_s32", "avx512vnni", cpu.avx512vnni)};
  variants[count++] = (variant){&pnn_s8_gemm_s32_avx2, variant_usable("s8gemm_s32", "avx2", cpu.avx2_fma)};
#endif
  variants[count++] = (variant){&pnn_s8_gemm_s32_scalar, 1};
  static const size_t Ms[] = {1, 3, 8, 9, 17, 24};
  static const size_t Ns[] = {1, 2, 15, 16, 17, 47, 48, 49, 100};
  static const size_t Ks[] = {1, 3, 4, 5, 27, 64, 129};
  size_t cases = 0, failures = 0;
  for (size_t a = 0; a < sizeof(Ms) / sizeof(Ms[0]); ++a)
    for (size_t b = 0; b < sizeof(Ns) / sizeof(Ns[0]); ++b)
      for (size_t c = 0; c < sizeof(Ks) / sizeof(Ks[0]); ++c) failures += check_case(variants, count, Ms[a], Ns[b], Ks[c], &cases);
  const pnn_s8_gemm_s32_kernel *best = NULL;
  for (size_t v = 0; v < count && !best; ++v)
    if (variants[v].usable) best = variants[v].kernel;
  const pnn_s8_gemm_s32_kernel *selected = pnn_s8_gemm_s32_select(&cpu);
  printf("s8 gemm s32: %zu cases, %zu failed; select: %s\n", cases, failures, selected->name);
  if (selected != best) {
    fprintf(stderr, "s8 gemm s32 select picked %s, expected %s\n", selected->name, best->name);
    ++failures;
  }
  if (failures) printf("FAILED: %zu\n", failures);
  return failures ? 1 : 0;
}
