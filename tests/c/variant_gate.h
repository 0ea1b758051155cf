/* Kernel tests run every variant the CPU can run and name each one they cannot, so a
 * variant is never skipped silently (.ci/run lists these lines at the end). */
#ifndef PNN_TEST_VARIANT_GATE_H
#define PNN_TEST_VARIANT_GATE_H

#include <stdio.h>

static inline int variant_usable(const char *family, const char *variant, int usable) {
  if (!usable) printf("SKIPPED %s/%s: this CPU cannot run it\n", family, variant);
  return usable;
}

#endif
