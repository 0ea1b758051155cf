/* What runtime this is: its release and the kernel path it takes on this CPU. */
#include "internal.h"

const char *pnn_runtime_version(void) { return PNN_RUNTIME_VERSION; }

const char *pnn_runtime_isa(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  return pnn_cpu_best_isa(&cpu);
}
