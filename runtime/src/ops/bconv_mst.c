/* The tree-delta plan built at load (bconv_mst.h): Prim's algorithm on the complete graph
 * (O(M^2 kw) word comparisons, capped by the caller), the centre as the middle of a
 * longest path (two breadth-first searches), a third search from it for the order. */
#include "bconv_mst.h"

#include <stdlib.h>
#include <string.h>

#include "pnn_b1_popcount.h"

static uint32_t row_distance(const uint64_t *a, const uint64_t *b, size_t kw) {
  uint32_t n = 0;
  for (size_t k = 0; k < kw; ++k) n += a[k] != b[k];
  return n;
}

int bconv_mst_affordable(size_t M, size_t kw, size_t max_compares) {
  if (M < 2 || kw == 0 || M > UINT32_MAX / 2 || kw > UINT32_MAX) return 0;
  return M <= max_compares / M && M * M <= max_compares / kw;
}

double bconv_mst_estimated_touched(size_t M, size_t kw, const uint64_t *W, size_t samples) {
  if (samples > M) samples = M;
  double sum = 0.0;
  for (size_t i = 0; i < samples; ++i) {
    const size_t v = i * M / samples;
    uint32_t nearest = (uint32_t)kw;
    for (size_t u = 0; u < M && nearest > 0; ++u) {
      if (u == v) continue;
      const uint32_t d = row_distance(W + v * kw, W + u * kw, kw);
      if (d < nearest) nearest = d;
    }
    sum += nearest;
  }
  return samples ? sum / (double)samples : (double)kw;
}

/* Prim from row 0: from[v] its tree neighbour, cost[v] the edge's words (row 0: itself, 0). */
static void prim(size_t M, size_t kw, const uint64_t *W, uint32_t *from, uint32_t *cost, uint32_t *key) {
  const uint32_t done = UINT32_MAX;
  for (size_t v = 0; v < M; ++v) from[v] = 0, key[v] = row_distance(W, W + v * kw, kw), cost[v] = key[v];
  key[0] = done, cost[0] = 0;
  for (size_t step = 1; step < M; ++step) {
    size_t u = 0;
    uint32_t best = done;
    for (size_t v = 0; v < M; ++v) {
      if (key[v] < best) best = key[v], u = v;
    }
    cost[u] = best;
    key[u] = done;
    for (size_t v = 0; v < M; ++v) {
      if (key[v] == done) continue;
      const uint32_t d = row_distance(W + u * kw, W + v * kw, kw);
      if (d < key[v]) key[v] = d, from[v] = (uint32_t)u;
    }
  }
}

/* Breadth first from `start` over the tree's adjacency (CSR: offs, adj): order, pred
 * (start: itself) and hops; returns the last node reached (a farthest one). */
static uint32_t bfs(size_t M, const uint32_t *offs, const uint32_t *adj, uint32_t start, uint32_t *order,
                    uint32_t *pred, uint32_t *hops) {
  for (size_t v = 0; v < M; ++v) hops[v] = UINT32_MAX;
  size_t head = 0, tail = 0;
  order[tail++] = start, pred[start] = start, hops[start] = 0;
  while (head < tail) {
    const uint32_t u = order[head++];
    for (uint32_t e = offs[u]; e < offs[u + 1]; ++e) {
      const uint32_t v = adj[e];
      if (hops[v] != UINT32_MAX) continue;
      hops[v] = hops[u] + 1, pred[v] = u, order[tail++] = v;
    }
  }
  return order[tail - 1];
}

int bconv_mst_forest_build(size_t M, size_t kw, const uint64_t *W, bconv_mst_forest *f) {
  memset(f, 0, sizeof *f);
  f->order = malloc(M * sizeof(uint32_t));
  f->parent = malloc(M * sizeof(uint32_t));
  f->cost = malloc(M * sizeof(uint32_t));
  uint32_t *work = malloc((6 * M + 1) * sizeof(uint32_t));
  if (!f->order || !f->parent || !f->cost || !work) {
    free(work);
    bconv_mst_forest_free(f);
    return -1;
  }
  uint32_t *from = work, *edge_cost = work + M, *hops = work + 2 * M, *adj = work + 3 * M; /* adj: 2M - 2 */
  uint32_t *offs = work + 5 * M;                                                             /* M + 1 */
  prim(M, kw, W, from, edge_cost, hops);
  /* The tree's adjacency: the edge (v, from[v]) for every v > 0. */
  memset(offs, 0, (M + 1) * sizeof(uint32_t));
  for (size_t v = 1; v < M; ++v) ++offs[v + 1], ++offs[from[v] + 1];
  for (size_t v = 0; v < M; ++v) offs[v + 1] += offs[v];
  uint32_t *fill = f->cost; /* a cursor per node, before cost holds its result */
  memcpy(fill, offs, M * sizeof(uint32_t));
  for (size_t v = 1; v < M; ++v) adj[fill[v]++] = from[v], adj[fill[from[v]]++] = (uint32_t)v;
  /* The centre: the middle of the path between the two ends of a longest path. */
  const uint32_t a = bfs(M, offs, adj, 0, f->order, f->parent, hops);
  uint32_t centre = bfs(M, offs, adj, a, f->order, f->parent, hops);
  for (uint32_t walk = hops[centre] / 2; walk > 0; --walk) centre = f->parent[centre];
  bfs(M, offs, adj, centre, f->order, f->parent, hops);
  /* Edge costs toward the new parents, then cut the edges that differ in every word. */
  for (size_t v = 0; v < M; ++v) {
    const uint32_t p = f->parent[v];
    f->cost[v] = p == v ? 0 : (from[v] == p ? edge_cost[v] : edge_cost[p]);
    if (f->cost[v] >= kw) f->parent[v] = (uint32_t)v, f->cost[v] = 0;
  }
  /* Roots first (stable), then the rest in breadth-first order. */
  size_t roots = 0, rest = 0;
  for (size_t i = 0; i < M; ++i) roots += f->parent[f->order[i]] == f->order[i];
  uint32_t *sorted = hops;
  for (size_t i = 0, r = 0; i < M; ++i) {
    const uint32_t v = f->order[i];
    if (f->parent[v] == v) sorted[r++] = v;
    else sorted[roots + rest++] = v;
  }
  memcpy(f->order, sorted, M * sizeof(uint32_t));
  f->roots = roots;
  f->touched = roots * kw;
  for (size_t v = 0; v < M; ++v) f->touched += f->cost[v];
  free(work);
  return 0;
}

void bconv_mst_forest_free(bconv_mst_forest *f) {
  free(f->order), free(f->parent), free(f->cost);
  memset(f, 0, sizeof *f);
}

void bconv_mst_plan_fill(size_t M, size_t kw, const uint64_t *W, const bconv_mst_forest *f, uint32_t *order,
                         uint32_t *parent, int32_t *bits, uint32_t *begin, uint32_t *word, uint64_t *mask,
                         pnn_b1_mst_plan *plan) {
  memcpy(order, f->order, M * sizeof(uint32_t));
  memcpy(parent, f->parent, M * sizeof(uint32_t));
  uint32_t count = 0;
  for (size_t m = 0; m < M; ++m) {
    begin[m] = count;
    bits[m] = 0;
    if (parent[m] == m) continue;
    for (size_t k = 0; k < kw; ++k) {
      const uint64_t diff = W[m * kw + k] ^ W[(size_t)parent[m] * kw + k];
      if (!diff) continue;
      word[count] = (uint32_t)k, mask[count++] = diff;
      bits[m] += (int32_t)pnn_b1_popcount64(diff);
    }
  }
  begin[M] = count;
  *plan = (pnn_b1_mst_plan){f->roots, order, parent, bits, begin, word, mask};
}
