/* Large long-lived blocks on transparent huge pages. Where the kernel grants huge pages
 * only on request (THP "madvise", the default of many distributions), a session's arena
 * and a model's weights sat on 4 KiB pages: MobileNet V1 on AVX2 ran 1.3x slower in some
 * processes than in others (dTLB misses over its 17 MB of weights, both engines). */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE, posix_memalign */
#include <stdlib.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "internal.h"

void *pnn_alloc_large(size_t size) {
#if defined(MADV_HUGEPAGE)
  enum { HUGE_PAGE = 2u << 20 };
  if (size >= HUGE_PAGE && size <= SIZE_MAX - HUGE_PAGE) {
    /* Whole huge pages: a block's partial first or last 2 MiB could not be one. */
    const size_t rounded = (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    void *block = NULL;
    if (posix_memalign(&block, HUGE_PAGE, rounded) != 0) return NULL;
    (void)madvise(block, rounded, MADV_HUGEPAGE); /* refused (no THP): only slower */
    return block;
  }
#endif
  return malloc(size);
}
