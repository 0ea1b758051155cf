/* Portable 64-bit popcount for the binary kernels' scalar paths. */
#ifndef PNN_B1_POPCOUNT_H
#define PNN_B1_POPCOUNT_H

#include <stdint.h>

static inline uint32_t pnn_b1_popcount64(uint64_t v) {
#if defined(__GNUC__) || defined(__clang__)
  return (uint32_t)__builtin_popcountll(v);
#else
  v = v - ((v >> 1) & 0x5555555555555555ull);
  v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
  v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return (uint32_t)((v * 0x0101010101010101ull) >> 56);
#endif
}

#endif /* PNN_B1_POPCOUNT_H */
