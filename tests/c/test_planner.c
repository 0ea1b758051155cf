/* Memory planner: on random liveness intervals, tensors live at the same time never
 * share bytes, every offset is 64-aligned, and the arena is no larger than the sum
 * of the tensors (and no smaller than the largest set live at one node), checked by a
 * brute-force validator. The arena is also compared with the plain quadratic
 * greedy-by-size best-fit planner (kept here as the reference): over all cases it may be
 * at most 3% larger in total. */
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

static size_t aligned(size_t nbytes) { return (nbytes + 63) / 64 * 64; }

/* The reference: tensors by size (descending, then start, then id), each in the smallest
 * gap among the placed tensors live with it, else above them; every placed tensor is
 * scanned for every tensor. Returns the arena size. */
typedef struct ref_tensor {
  uint32_t id;
  int64_t start, end;
  size_t size, offset;
} ref_tensor;

static int ref_by_size(const void *pa, const void *pb) {
  const ref_tensor *a = pa, *b = pb;
  if (a->size != b->size) return a->size > b->size ? -1 : 1;
  if (a->start != b->start) return a->start < b->start ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

static size_t reference_arena(const pnn_tensor *tensors, uint32_t n_tensors, uint32_t n_nodes) {
  ref_tensor *r = calloc(n_tensors + 1u, sizeof(*r));
  ref_tensor **placed = calloc(n_tensors + 1u, sizeof(*placed));
  size_t n = 0, arena = 0;
  for (uint32_t i = 0; i < n_tensors; ++i) {
    if (tensors[i].kind != PNN_TENSOR_ACTIVATION) continue;
    r[n].id = i;
    r[n].start = tensors[i].producer;
    r[n].end = live_end(&tensors[i], n_nodes);
    r[n].size = aligned(tensors[i].nbytes);
    ++n;
  }
  qsort(r, n, sizeof(*r), ref_by_size);
  for (size_t i = 0; i < n; ++i) {
    ref_tensor *t = &r[i];
    size_t cursor = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
    for (size_t j = 0; j < i; ++j) {
      const ref_tensor *p = placed[j];
      if (!(t->start <= p->end && p->start <= t->end)) continue;
      if (p->offset >= cursor && p->offset - cursor >= t->size && p->offset - cursor < best_gap) {
        best = cursor;
        best_gap = p->offset - cursor;
      }
      if (p->offset + p->size > cursor) cursor = p->offset + p->size;
    }
    t->offset = best != SIZE_MAX ? best : cursor;
    size_t at = i;
    while (at > 0 && placed[at - 1]->offset > t->offset) --at;
    memmove(&placed[at + 1], &placed[at], (i - at) * sizeof(*placed));
    placed[at] = t;
    if (t->offset + t->size > arena) arena = t->offset + t->size;
  }
  free(r);
  free(placed);
  return arena;
}

typedef struct case_shape {
  uint32_t n_tensors, n_nodes;
  uint32_t max_span;   /* last_use - producer < max_span */
  uint32_t max_bytes;
} case_shape;

/* Checks one random case; adds the planner's and the reference's arena to the totals. */
static int check_case(uint32_t seed, case_shape shape, size_t *arena_total, size_t *reference_total) {
  const uint32_t n_tensors = shape.n_tensors, n_nodes = shape.n_nodes;
  pnn_tensor *tensors = calloc(n_tensors + 1u, sizeof(*tensors));
  pnn_model m;
  memset(&m, 0, sizeof(m));
  m.tensors = tensors;
  m.n_tensors = n_tensors;
  m.n_nodes = n_nodes;
  uint32_t state = seed;
  for (uint32_t i = 0; i < n_tensors; ++i) {
    pnn_tensor *t = &tensors[i];
    t->kind = next_random(&state) % 5 == 0 ? PNN_TENSOR_CONSTANT : PNN_TENSOR_ACTIVATION;
    /* Mostly a few common sizes (as in real networks), some arbitrary. */
    const uint32_t pick = next_random(&state) % 4;
    t->nbytes = pick == 0 ? 1 + next_random(&state) % shape.max_bytes : (size_t)(64u << (next_random(&state) % 8));
    t->producer = (int32_t)(next_random(&state) % (n_nodes + 1)) - 1; /* -1: graph input */
    t->last_use = t->producer + (int32_t)(next_random(&state) % shape.max_span);
    if (next_random(&state) % 7 == 0) t->last_use = (int32_t)n_nodes; /* graph output */
    if (t->last_use > (int32_t)n_nodes) t->last_use = (int32_t)n_nodes;
  }
  int failed = 0;
  pnn_error error;
  if (pnn_plan_memory(&m, &error) != PNN_OK) {
    printf("seed %u: planner failed: %s\n", seed, error.message);
    free(tensors);
    return 1;
  }
  size_t total = 0;
  for (uint32_t i = 0; i < n_tensors && !failed; ++i) {
    const pnn_tensor *a = &tensors[i];
    if (a->kind != PNN_TENSOR_ACTIVATION) continue;
    total += aligned(a->nbytes);
    int64_t a_end = live_end(a, n_nodes);
    if (a->arena_offset % 64 != 0 || a->arena_offset + a->nbytes > m.arena_bytes) {
      printf("seed %u: tensor %u misplaced\n", seed, i);
      failed = 1;
    }
    for (uint32_t j = i + 1; j < n_tensors && !failed; ++j) {
      const pnn_tensor *b = &tensors[j];
      if (b->kind != PNN_TENSOR_ACTIVATION) continue;
      int64_t b_end = live_end(b, n_nodes);
      bool live_together = a->producer <= b_end && b->producer <= a_end;
      bool share_bytes = a->arena_offset < b->arena_offset + b->nbytes && b->arena_offset < a->arena_offset + a->nbytes;
      if (live_together && share_bytes) {
        printf("seed %u: tensors %u and %u overlap in time and memory\n", seed, i, j);
        failed = 1;
      }
    }
  }
  if (!failed && m.arena_bytes > total) {
    printf("seed %u: arena %zu larger than all tensors together %zu\n", seed, m.arena_bytes, total);
    failed = 1;
  }
  for (int64_t node = -1; node <= (int64_t)n_nodes && !failed; ++node) {
    size_t live = 0;
    for (uint32_t i = 0; i < n_tensors; ++i) {
      const pnn_tensor *a = &tensors[i];
      int64_t a_end = live_end(a, n_nodes);
      if (a->kind == PNN_TENSOR_ACTIVATION && a->producer <= node && node <= a_end) live += a->nbytes;
    }
    if (live > m.arena_bytes) {
      printf("seed %u: %zu bytes live at node %lld but arena is %zu\n", seed, live, (long long)node, m.arena_bytes);
      failed = 1;
    }
  }
  *arena_total += m.arena_bytes;
  *reference_total += reference_arena(tensors, n_tensors, n_nodes);
  free(tensors);
  return failed;
}

/* A chain of n_nodes unary nodes (tensor i written by node i - 1, read by node i): two
 * tensors and the graph input suffice (the output reuses an earlier tensor's bytes). */
static int check_chain(uint32_t n_nodes) {
  const uint32_t n_tensors = n_nodes + 1;
  pnn_tensor *tensors = calloc(n_tensors, sizeof(*tensors));
  pnn_model m;
  memset(&m, 0, sizeof(m));
  m.tensors = tensors;
  m.n_tensors = n_tensors;
  m.n_nodes = n_nodes;
  for (uint32_t i = 0; i < n_tensors; ++i) {
    tensors[i].kind = PNN_TENSOR_ACTIVATION;
    tensors[i].nbytes = 4096;
    tensors[i].producer = (int32_t)i - 1;
    tensors[i].last_use = (int32_t)i;
  }
  pnn_error error;
  int failed = pnn_plan_memory(&m, &error) != PNN_OK;
  if (!failed && m.arena_bytes != 3 * 4096) {
    printf("chain of %u: arena %zu, expected %d\n", n_nodes, m.arena_bytes, 3 * 4096);
    failed = 1;
  }
  for (uint32_t i = 1; i + 1 < n_tensors && !failed; ++i) {
    if (tensors[i].arena_offset == tensors[i + 1].arena_offset || tensors[i].arena_offset == tensors[0].arena_offset) {
      printf("chain of %u: tensor %u shares bytes with a neighbour or the input\n", n_nodes, i);
      failed = 1;
    }
  }
  free(tensors);
  return failed;
}

int main(void) {
  int failures = 0;
  size_t arena_total = 0, reference_total = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    const case_shape small = {1 + seed % 64, 1 + seed % 23, 4, 5000};
    failures += check_case(seed, small, &arena_total, &reference_total);
  }
  /* Many tensors live together (more than the exact gap search handles). */
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    const case_shape wide = {200 + seed * 20, 50 + seed % 37, 2 + seed * 3, 100000};
    failures += check_case(seed, wide, &arena_total, &reference_total);
  }
  /* No activations at all: an empty arena. */
  const case_shape empty = {0, 3, 4, 5000};
  failures += check_case(0, empty, &arena_total, &reference_total);
  printf("arena over all cases: %zu bytes, reference %zu (%.2f%%)\n", arena_total, reference_total,
         100.0 * (double)arena_total / (double)reference_total);
  if ((double)arena_total > 1.03 * (double)reference_total) {
    printf("arena more than 3%% larger than the reference planner's\n");
    ++failures;
  }
  failures += check_chain(100000);
  printf("%s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
