/* Runs a .pnn model in a pool of N threads built with -DPNN_POOL_TRACE (every section's
 * task CPU times go to $PNN_POOL_TRACE), and in a session of 1 thread, interleaved;
 * prints the median thread CPU time of the 1-thread runs. See model.py.
 *
 *   trace_run model.pnn threads runs */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pocketnn.h"

static uint64_t thread_cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int compare_u64(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Fills every input with the same pseudo-random values in [-1, 1) (float inputs only;
 * others are zeroed). */
static int fill_inputs(const pnn_model *model, pnn_session *session) {
  uint32_t state = 12345u;
  for (uint32_t i = 0; i < pnn_model_num_inputs(model); ++i) {
    pnn_tensor_info info;
    if (pnn_model_input_info(model, i, &info) != PNN_OK) return 1;
    void *data = pnn_session_input(session, i);
    memset(data, 0, info.size_bytes);
    if (info.dtype != PNN_DTYPE_F32) continue;
    float *x = data;
    for (size_t k = 0; k < info.size_bytes / sizeof(float); ++k) {
      state = state * 1664525u + 1013904223u;
      x[k] = (float)(state >> 8) / (float)(1u << 23) - 1.0f;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s model.pnn threads runs\n", argv[0]);
    return 2;
  }
  const uint32_t threads = (uint32_t)atoi(argv[2]);
  const int runs = atoi(argv[3]);
  pnn_error error;
  pnn_model *model = NULL;
  pnn_session *one = NULL, *pool = NULL;
  if (pnn_model_load_file(argv[1], &model, &error) != PNN_OK) goto fail;
  for (uint32_t i = 0; i < pnn_model_num_nodes(model); ++i) {
    pnn_node_info node;
    if (pnn_model_node_info(model, i, &node) == PNN_OK)
      printf("node %u %s %s\n", i, node.op, node.kernel ? node.kernel : "-");
  }
  const pnn_session_options one_options = {1, 0}, pool_options = {threads, 0};
  if (pnn_session_create_with_options(model, &one_options, &one, &error) != PNN_OK) goto fail;
  if (pnn_session_create_with_options(model, &pool_options, &pool, &error) != PNN_OK) goto fail;
  if (fill_inputs(model, one) || fill_inputs(model, pool)) return 1;
  uint64_t *one_ns = calloc((size_t)runs, sizeof(*one_ns));
  if (one_ns == NULL) return 1;
  for (int r = -3; r < runs; ++r) {
    const uint64_t start = thread_cpu_ns();
    if (pnn_session_run(one, &error) != PNN_OK) goto fail;
    if (r >= 0) one_ns[r] = thread_cpu_ns() - start;
    if (pnn_session_run(pool, &error) != PNN_OK) goto fail;
  }
  qsort(one_ns, (size_t)runs, sizeof(*one_ns), compare_u64);
  printf("one_thread_cpu_ns %llu\n", (unsigned long long)one_ns[runs / 2]);
  free(one_ns);
  pnn_session_free(pool);
  pnn_session_free(one);
  pnn_model_free(model);
  return 0;
fail:
  fprintf(stderr, "trace_run: %s\n", error.message);
  return 1;
}
