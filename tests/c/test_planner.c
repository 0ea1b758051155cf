/* Memory planner: on random liveness intervals, tensors live at the same time never
 * share bytes, every offset is 64-aligned, and the arena is no larger than the sum
 * of the tensors (and no smaller than the largest set live at one node). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner.h"

static uint32_t next_random(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  return *state >> 8;
}

/* The interval the planner must honour (graph inputs: the whole run). */
static int64_t live_end(const pnn_tensor *t, uint32_t n_nodes) {
  if (t->producer < 0) return (int64_t)n_nodes;
  return t->last_use > t->producer ? t->last_use : t->producer;
}

static int check_case(uint32_t seed, uint32_t n_tensors, uint32_t n_nodes) {
  pnn_tensor tensors[64];
  pnn_model m;
  memset(&m, 0, sizeof(m));
  memset(tensors, 0, sizeof(tensors));
  m.tensors = tensors;
  m.n_tensors = n_tensors;
  m.n_nodes = n_nodes;
  uint32_t state = seed;
  for (uint32_t i = 0; i < n_tensors; ++i) {
    pnn_tensor *t = &tensors[i];
    t->kind = next_random(&state) % 5 == 0 ? PNN_TENSOR_CONSTANT : PNN_TENSOR_ACTIVATION;
    t->nbytes = 1 + next_random(&state) % 5000;
    t->producer = (int32_t)(next_random(&state) % (n_nodes + 1)) - 1; /* -1: graph input */
    t->last_use = t->producer + (int32_t)(next_random(&state) % 4);
    if (next_random(&state) % 7 == 0) t->last_use = (int32_t)n_nodes; /* graph output */
    if (t->last_use > (int32_t)n_nodes) t->last_use = (int32_t)n_nodes;
  }
  pnn_error error;
  if (pnn_plan_memory(&m, &error) != PNN_OK) {
    printf("seed %u: planner failed: %s\n", seed, error.message);
    return 1;
  }
  size_t total = 0;
  for (uint32_t i = 0; i < n_tensors; ++i) {
    const pnn_tensor *a = &tensors[i];
    if (a->kind != PNN_TENSOR_ACTIVATION) continue;
    total += (a->nbytes + 63) / 64 * 64;
    int64_t a_end = live_end(a, n_nodes);
    if (a->arena_offset % 64 != 0 || a->arena_offset + a->nbytes > m.arena_bytes) {
      printf("seed %u: tensor %u misplaced\n", seed, i);
      return 1;
    }
    for (uint32_t j = i + 1; j < n_tensors; ++j) {
      const pnn_tensor *b = &tensors[j];
      if (b->kind != PNN_TENSOR_ACTIVATION) continue;
      int64_t b_end = live_end(b, n_nodes);
      bool live_together = a->producer <= b_end && b->producer <= a_end;
      bool share_bytes = a->arena_offset < b->arena_offset + b->nbytes && b->arena_offset < a->arena_offset + a->nbytes;
      if (live_together && share_bytes) {
        printf("seed %u: tensors %u and %u overlap in time and memory\n", seed, i, j);
        return 1;
      }
    }
  }
  if (m.arena_bytes > total) {
    printf("seed %u: arena %zu larger than all tensors together %zu\n", seed, m.arena_bytes, total);
    return 1;
  }
  for (int64_t node = -1; node <= (int64_t)n_nodes; ++node) {
    size_t live = 0;
    for (uint32_t i = 0; i < n_tensors; ++i) {
      const pnn_tensor *a = &tensors[i];
      int64_t a_end = live_end(a, n_nodes);
      if (a->kind == PNN_TENSOR_ACTIVATION && a->producer <= node && node <= a_end) live += a->nbytes;
    }
    if (live > m.arena_bytes) {
      printf("seed %u: %zu bytes live at node %lld but arena is %zu\n", seed, live, (long long)node, m.arena_bytes);
      return 1;
    }
  }
  return 0;
}

int main(void) {
  int failures = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) failures += check_case(seed, 1 + seed % 64, 1 + seed % 23);
  /* No activations at all: an empty arena. */
  failures += check_case(0, 0, 3);
  printf("%s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
