/* Greedy-by-size memory planner over liveness intervals.
 *
 * Every activation lives from the node that writes it (graph inputs: from before node
 * 0) to the last node that reads it (graph inputs and outputs: to after the last node,
 * so inputs survive a run and outputs stay readable). Intervals are inclusive at both
 * ends, so a node's outputs never share memory with its inputs. Tensors are placed
 * largest first, each in the smallest gap between already placed tensors whose
 * intervals overlap its own (best fit), else above them. */
#include <stdlib.h>
#include <string.h>

#include "planner.h"

#define ARENA_ALIGNMENT 64u

typedef struct live_tensor {
  int32_t id;
  int64_t start, end; /* node indices, inclusive */
  size_t size;        /* nbytes rounded up to ARENA_ALIGNMENT */
  size_t offset;
} live_tensor;

static int by_size_desc(const void *pa, const void *pb) {
  const live_tensor *a = pa, *b = pb;
  if (a->size != b->size) return a->size > b->size ? -1 : 1;
  if (a->start != b->start) return a->start < b->start ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

static bool overlaps(const live_tensor *a, const live_tensor *b) {
  return a->start <= b->end && b->start <= a->end;
}

static pnn_status too_big(pnn_error *error) {
  return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY,
                       "the activations need more memory than this platform can address");
}

/* Offset for `t` given `placed` (sorted by offset); SIZE_MAX when it would overflow. */
static size_t best_offset(const live_tensor *t, live_tensor *const *placed, size_t n_placed) {
  size_t cursor = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
  for (size_t i = 0; i < n_placed; ++i) {
    const live_tensor *p = placed[i];
    if (!overlaps(t, p)) continue;
    if (p->offset >= cursor && p->offset - cursor >= t->size && p->offset - cursor < best_gap) {
      best = cursor;
      best_gap = p->offset - cursor;
    }
    if (p->offset + p->size > cursor) cursor = p->offset + p->size;
  }
  if (best != SIZE_MAX) return best;
  return cursor <= SIZE_MAX - t->size ? cursor : SIZE_MAX;
}

pnn_status pnn_plan_memory(pnn_model *m, pnn_error *error) {
  size_t n_live = 0;
  for (uint32_t i = 0; i < m->n_tensors; ++i) n_live += m->tensors[i].kind == PNN_TENSOR_ACTIVATION;
  m->arena_bytes = 0;
  if (n_live == 0) return PNN_OK;

  live_tensor *live = calloc(n_live, sizeof(*live));
  live_tensor **placed = calloc(n_live, sizeof(*placed));
  if (live == NULL || placed == NULL) {
    free(live);
    free(placed);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "out of memory planning activations");
  }
  const int64_t after_last = (int64_t)m->n_nodes;
  size_t k = 0;
  for (uint32_t i = 0; i < m->n_tensors; ++i) {
    const pnn_tensor *t = &m->tensors[i];
    if (t->kind != PNN_TENSOR_ACTIVATION) continue;
    live_tensor *l = &live[k++];
    l->id = (int32_t)i;
    l->start = t->producer;
    l->end = t->last_use > t->producer ? t->last_use : t->producer;
    if (t->producer < 0) l->end = after_last; /* graph input: kept for the whole run */
    l->size = (t->nbytes + (ARENA_ALIGNMENT - 1)) & ~(size_t)(ARENA_ALIGNMENT - 1);
    if (l->size < t->nbytes) goto overflow;
  }
  qsort(live, n_live, sizeof(*live), by_size_desc);

  size_t arena = 0;
  for (size_t i = 0; i < n_live; ++i) {
    live_tensor *t = &live[i];
    size_t offset = best_offset(t, placed, i);
    if (offset == SIZE_MAX) goto overflow;
    t->offset = offset;
    /* Keep `placed` sorted by offset: insert after every entry with a lower offset. */
    size_t at = i;
    while (at > 0 && placed[at - 1]->offset > offset) --at;
    memmove(&placed[at + 1], &placed[at], (i - at) * sizeof(*placed));
    placed[at] = t;
    if (offset + t->size > arena) arena = offset + t->size;
  }
  for (size_t i = 0; i < n_live; ++i) m->tensors[live[i].id].arena_offset = live[i].offset;
  m->arena_bytes = arena;
  free(live);
  free(placed);
  return PNN_OK;

overflow:
  free(live);
  free(placed);
  return too_big(error);
}
