/* Greedy-by-size memory planner over liveness intervals, O(N log N).
 *
 * Every activation lives from the node that writes it (graph inputs: from before node
 * 0) to the last node that reads it (graph inputs and outputs: to after the last node,
 * so inputs survive a run and outputs stay readable). Intervals are inclusive at both
 * ends, so a node's outputs never share memory with its inputs. Tensors are placed
 * largest first, each in the smallest gap between already placed tensors whose
 * intervals overlap its own (best fit), else above them.
 *
 * Two structures keep this from scanning everything placed for every tensor:
 * - a segment tree over node time holding the highest byte ("top") any placed tensor
 *   uses at each time: the lowest offset above every time-overlapping tensor is one
 *   range-max query, and placing a tensor one range-chmax update;
 * - an index of the placed intervals (Fenwick counts by start and by end, and a max-end
 *   tree over the intervals sorted by start) that counts the time-overlapping placed
 *   tensors in O(log N) and enumerates them in O(log N) each. The exact best-fit gap
 *   search runs only when at most PLAN_GAP_SEARCH_MAX of them overlap and the budget
 *   of PLAN_GAP_SEARCH_BUDGET enumerated tensors per planned tensor (spent largest
 *   first) is not used up; otherwise the tensor goes on top of its neighbours.
 * So planning N tensors costs O(N log N) with at most PLAN_GAP_SEARCH_BUDGET * N
 * enumerations (each O(log N), sorted by offset in batches). */
#include <stdlib.h>
#include <string.h>

#include "planner.h"

#define ARENA_ALIGNMENT 64u

enum {
  /* Most time-overlapping placed tensors one exact gap search looks at. */
  PLAN_GAP_SEARCH_MAX = 1024,
  /* Tensors looked at by all gap searches together, per tensor planned: spent largest
   * tensor first, so it bounds hostile graphs without hurting real ones (whose tensors
   * overlap a handful of others). */
  PLAN_GAP_SEARCH_BUDGET = 64
};

typedef struct live_tensor {
  int32_t id;
  int64_t start, end; /* times: node index + 1 (0: before node 0), inclusive */
  size_t size;        /* nbytes rounded up to ARENA_ALIGNMENT */
  size_t offset;
  size_t slot;        /* rank in the start-ordered interval index */
} live_tensor;

/* Max of the placed tops over time ranges: range chmax update, range max query.
 * `tag[n]`: every time in n's range is at least this; `max[n]`: the max over n's range. */
typedef struct top_tree {
  size_t leaves;
  size_t *max, *tag;
} top_tree;

/* Placed intervals: counts by start and by end time (Fenwick), and the max end over
 * runs of start-ordered slots (a segment tree; -1: no placed interval there). */
typedef struct interval_index {
  size_t times, slots, leaves, placed;
  size_t *by_start, *by_end; /* Fenwick trees over times, 1-based */
  int64_t *max_end;          /* segment tree over slots */
  live_tensor **slot_tensor; /* slot -> tensor */
  int64_t *slot_start;       /* slot -> its start, ascending */
} interval_index;

static int by_size_desc(const void *pa, const void *pb) {
  const live_tensor *a = pa, *b = pb;
  if (a->size != b->size) return a->size > b->size ? -1 : 1;
  if (a->start != b->start) return a->start < b->start ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

static int by_start(const void *pa, const void *pb) {
  const live_tensor *a = *(live_tensor *const *)pa, *b = *(live_tensor *const *)pb;
  if (a->start != b->start) return a->start < b->start ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

static int by_offset(const void *pa, const void *pb) {
  const live_tensor *a = *(live_tensor *const *)pa, *b = *(live_tensor *const *)pb;
  if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static size_t leaves_for(size_t n) {
  size_t leaves = 1;
  while (leaves < n) leaves *= 2;
  return leaves;
}

static void top_update(top_tree *t, size_t node, size_t lo, size_t hi, size_t l, size_t r, size_t value) {
  if (r < lo || hi < l) return;
  t->max[node] = max_size(t->max[node], value);
  if (l <= lo && hi <= r) {
    t->tag[node] = max_size(t->tag[node], value);
    return;
  }
  const size_t mid = lo + (hi - lo) / 2;
  top_update(t, 2 * node, lo, mid, l, r, value);
  top_update(t, 2 * node + 1, mid + 1, hi, l, r, value);
}

static size_t top_query(const top_tree *t, size_t node, size_t lo, size_t hi, size_t l, size_t r) {
  if (r < lo || hi < l) return 0;
  if (l <= lo && hi <= r) return t->max[node];
  const size_t mid = lo + (hi - lo) / 2;
  return max_size(t->tag[node], max_size(top_query(t, 2 * node, lo, mid, l, r),
                                         top_query(t, 2 * node + 1, mid + 1, hi, l, r)));
}

static void fenwick_add(size_t *tree, size_t n, size_t at) {
  for (size_t i = at + 1; i <= n; i += i & (~i + 1)) ++tree[i];
}

/* Entries at positions [0, end). */
static size_t fenwick_prefix(const size_t *tree, size_t end) {
  size_t sum = 0;
  for (size_t i = end; i > 0; i -= i & (~i + 1)) sum += tree[i];
  return sum;
}

static size_t count_overlapping(const interval_index *ix, const live_tensor *t) {
  const size_t ends_before = fenwick_prefix(ix->by_end, (size_t)t->start);
  const size_t starts_after = ix->placed - fenwick_prefix(ix->by_start, (size_t)t->end + 1);
  return ix->placed - ends_before - starts_after; /* disjoint sets: start <= end */
}

static void index_insert(interval_index *ix, live_tensor *t) {
  fenwick_add(ix->by_start, ix->times, (size_t)t->start);
  fenwick_add(ix->by_end, ix->times, (size_t)t->end);
  ++ix->placed;
  size_t node = ix->leaves + t->slot;
  ix->max_end[node] = t->end;
  for (node /= 2; node > 0; node /= 2) {
    const int64_t a = ix->max_end[2 * node], b = ix->max_end[2 * node + 1];
    ix->max_end[node] = a > b ? a : b;
  }
}

/* Appends the placed slots in [lo, hi] of `node` with slot < slot_end and end >= from
 * (at most PLAN_GAP_SEARCH_MAX in all: the caller counted them first; each visited
 * node off the slot_end boundary path holds at least one: O(log N) per slot appended). */
static void index_collect(const interval_index *ix, size_t node, size_t lo, size_t hi, size_t slot_end,
                          int64_t from, live_tensor **out, size_t *n_out) {
  if (lo >= slot_end || ix->max_end[node] < from) return;
  if (lo == hi) {
    if (*n_out < PLAN_GAP_SEARCH_MAX) out[(*n_out)++] = ix->slot_tensor[lo];
    return;
  }
  const size_t mid = lo + (hi - lo) / 2;
  index_collect(ix, 2 * node, lo, mid, slot_end, from, out, n_out);
  index_collect(ix, 2 * node + 1, mid + 1, hi, slot_end, from, out, n_out);
}

/* Slots whose start is <= time (slot_start is ascending). */
static size_t slots_starting_by(const interval_index *ix, int64_t time) {
  size_t lo = 0, hi = ix->slots;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (ix->slot_start[mid] <= time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Smallest gap between `near` (its time-overlapping placed tensors) that fits `t`;
 * SIZE_MAX when none does (the caller then places it above them all). */
static size_t best_gap(const live_tensor *t, live_tensor **near, size_t n_near) {
  qsort(near, n_near, sizeof(*near), by_offset);
  size_t cursor = 0, best = SIZE_MAX, best_size = SIZE_MAX;
  for (size_t i = 0; i < n_near; ++i) {
    const live_tensor *p = near[i];
    if (p->offset >= cursor && p->offset - cursor >= t->size && p->offset - cursor < best_size) {
      best = cursor;
      best_size = p->offset - cursor;
    }
    cursor = max_size(cursor, p->offset + p->size);
  }
  return best;
}

static pnn_status too_big(pnn_error *error) {
  return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY,
                       "the activations need more memory than this platform can address");
}

typedef struct plan_buffers {
  live_tensor *live;
  live_tensor **by_start;
  live_tensor **near; /* PLAN_GAP_SEARCH_MAX entries */
  top_tree top;
  interval_index index;
} plan_buffers;

static void free_buffers(plan_buffers *b) {
  free(b->live);
  free(b->by_start);
  free(b->near);
  free(b->top.max);
  free(b->top.tag);
  free(b->index.by_start);
  free(b->index.by_end);
  free(b->index.max_end);
  free(b->index.slot_start);
}

static bool alloc_buffers(plan_buffers *b, size_t n_live, size_t times) {
  memset(b, 0, sizeof(*b));
  /* Trees of 2 * leaves entries, leaves < 2 * n: far below SIZE_MAX / 4 for any real n. */
  if (n_live > SIZE_MAX / 8 || times > SIZE_MAX / 8) return false;
  b->top.leaves = leaves_for(times);
  b->index.times = times;
  b->index.slots = n_live;
  b->index.leaves = leaves_for(n_live);
  b->live = calloc(n_live, sizeof(*b->live));
  b->by_start = calloc(n_live, sizeof(*b->by_start));
  b->near = calloc(PLAN_GAP_SEARCH_MAX, sizeof(*b->near));
  b->top.max = calloc(2 * b->top.leaves, sizeof(size_t));
  b->top.tag = calloc(2 * b->top.leaves, sizeof(size_t));
  b->index.by_start = calloc(times + 1, sizeof(size_t));
  b->index.by_end = calloc(times + 1, sizeof(size_t));
  b->index.max_end = malloc(2 * b->index.leaves * sizeof(int64_t));
  b->index.slot_start = calloc(n_live, sizeof(int64_t));
  b->index.slot_tensor = b->by_start;
  if (!b->live || !b->by_start || !b->near || !b->top.max || !b->top.tag || !b->index.by_start || !b->index.by_end ||
      !b->index.max_end || !b->index.slot_start) {
    return false;
  }
  for (size_t i = 0; i < 2 * b->index.leaves; ++i) b->index.max_end[i] = -1;
  return true;
}

pnn_status pnn_plan_memory(pnn_model *m, pnn_error *error) {
  size_t n_live = 0;
  for (uint32_t i = 0; i < m->n_tensors; ++i) n_live += m->tensors[i].kind == PNN_TENSOR_ACTIVATION;
  m->arena_bytes = 0;
  if (n_live == 0) return PNN_OK;

  /* Times 0 .. n_nodes + 1: before node 0 (graph inputs), the nodes, after the last. */
  const size_t times = (size_t)m->n_nodes + 2;
  plan_buffers b;
  if (!alloc_buffers(&b, n_live, times)) {
    free_buffers(&b);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "out of memory planning %zu activations", n_live);
  }
  const int64_t after_last = (int64_t)m->n_nodes + 1;
  size_t k = 0;
  for (uint32_t i = 0; i < m->n_tensors; ++i) {
    const pnn_tensor *t = &m->tensors[i];
    if (t->kind != PNN_TENSOR_ACTIVATION) continue;
    live_tensor *l = &b.live[k++];
    l->id = (int32_t)i;
    l->start = (int64_t)t->producer + 1;
    l->end = (int64_t)(t->last_use > t->producer ? t->last_use : t->producer) + 1;
    if (t->producer < 0) l->end = after_last; /* graph input: kept for the whole run */
    /* The loader keeps producer < last_use <= n_nodes; clamping keeps the trees in range. */
    if (l->start > after_last) l->start = after_last;
    if (l->end > after_last) l->end = after_last;
    l->size = (t->nbytes + (ARENA_ALIGNMENT - 1)) & ~(size_t)(ARENA_ALIGNMENT - 1);
    if (l->size < t->nbytes) {
      free_buffers(&b);
      return too_big(error);
    }
  }
  qsort(b.live, n_live, sizeof(*b.live), by_size_desc);
  for (size_t i = 0; i < n_live; ++i) b.by_start[i] = &b.live[i];
  qsort(b.by_start, n_live, sizeof(*b.by_start), by_start);
  for (size_t i = 0; i < n_live; ++i) {
    b.by_start[i]->slot = i;
    b.index.slot_start[i] = b.by_start[i]->start;
  }

  size_t arena = 0;
  size_t budget = n_live <= SIZE_MAX / PLAN_GAP_SEARCH_BUDGET ? n_live * PLAN_GAP_SEARCH_BUDGET : SIZE_MAX;
  for (size_t i = 0; i < n_live; ++i) {
    live_tensor *t = &b.live[i];
    const size_t s = (size_t)t->start, e = (size_t)t->end;
    size_t offset = SIZE_MAX;
    const size_t n_overlapping = count_overlapping(&b.index, t);
    if (n_overlapping <= PLAN_GAP_SEARCH_MAX && n_overlapping <= budget) {
      budget -= n_overlapping;
      size_t n_near = 0;
      index_collect(&b.index, 1, 0, b.index.leaves - 1, slots_starting_by(&b.index, t->end), t->start,
                    b.near, &n_near);
      offset = best_gap(t, b.near, n_near);
    }
    if (offset == SIZE_MAX) offset = top_query(&b.top, 1, 0, b.top.leaves - 1, s, e);
    if (offset > SIZE_MAX - t->size) {
      free_buffers(&b);
      return too_big(error);
    }
    t->offset = offset;
    top_update(&b.top, 1, 0, b.top.leaves - 1, s, e, offset + t->size);
    index_insert(&b.index, t);
    arena = max_size(arena, offset + t->size);
  }
  for (size_t i = 0; i < n_live; ++i) m->tensors[b.live[i].id].arena_offset = b.live[i].offset;
  m->arena_bytes = arena;
  free_buffers(&b);
  return PNN_OK;
}
