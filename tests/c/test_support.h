/* What the C kernel tests share: a seeded generator (a 64-bit LCG, so every platform
 * draws the same cases) and allocation that stops the test when memory runs out. Buffers
 * are exactly the size asked for (at least one byte), so sanitizers see over-reads. */
#ifndef PNN_TEST_SUPPORT_H
#define PNN_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct rng {
  uint64_t state;
} rng;

static inline uint32_t rng_next(rng *r) {
  r->state = r->state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(r->state >> 33);
}

/* Uniform in [0, n) (0 when n is 0). */
static inline size_t rng_below(rng *r, size_t n) { return n ? (size_t)(rng_next(r) % (uint32_t)n) : 0; }

/* Uniform in [lo, hi) with 24 bits of resolution. */
static inline float rng_uniform(rng *r, float lo, float hi) {
  return lo + (hi - lo) * (float)(rng_next(r) & 0xFFFFFF) / (float)0x1000000;
}

/* Uniform enough in [lo, hi] (hi - lo < 2^62). */
static inline int64_t rng_range(rng *r, int64_t lo, int64_t hi) {
  const uint64_t span = (uint64_t)(hi - lo) + 1;
  const uint64_t draw = ((uint64_t)rng_next(r) << 31) ^ rng_next(r);
  return lo + (int64_t)(draw % span);
}

static inline void *xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

#endif
