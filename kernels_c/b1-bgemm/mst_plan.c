/* Validation of a tree-delta (MST) plan against its weights (contract in
 * pnn_kernels_b1.h): the kernels trust the plan, so anything that reaches them from a file
 * or a caller passes here first. O(M + delta words + M * kw); allocates nothing. */
#include "pnn_b1_popcount.h"
#include "pnn_kernels.h"

/* 0 when every channel appears once in order[0, M) with roots first and each child after
 * its parent. Quadratic scans, no scratch: M is at most a few thousand channels. */
static int b1_mst_order_check(size_t M, const pnn_b1_mst_plan *plan) {
  if (plan->roots == 0 && M > 0) return -1;
  if (plan->roots > M) return -1;
  for (size_t i = 0; i < M; ++i) {
    const uint32_t m = plan->order[i];
    if (m >= M) return -1;
    for (size_t j = 0; j < i; ++j) {
      if (plan->order[j] == m) return -1; /* twice */
    }
    if (i < plan->roots) continue;
    const uint32_t parent = plan->parent[m];
    if (parent >= M) return -1;
    int before = 0;
    for (size_t j = 0; j < i && !before; ++j) before = plan->order[j] == parent;
    if (!before) return -1;
  }
  return 0;
}

/* 0 when channel m's delta words are exactly where its row differs from its parent's. */
static int b1_mst_delta_check(size_t kw, const uint64_t *W, const pnn_b1_mst_plan *plan, size_t m) {
  const uint64_t *row = W + m * kw, *parent = W + (size_t)plan->parent[m] * kw;
  const uint32_t begin = plan->delta_begin[m], end = plan->delta_begin[m + 1];
  uint32_t j = begin;
  uint64_t bits = 0;
  for (size_t k = 0; k < kw; ++k) {
    const uint64_t diff = row[k] ^ parent[k];
    const int listed = j < end && plan->delta_word[j] == k;
    if (!listed) {
      if (diff) return -1;
      continue;
    }
    if (plan->delta_mask[j] != diff) return -1;
    bits += pnn_b1_popcount64(diff);
    ++j;
  }
  if (j != end) return -1; /* words past kw, repeated or out of order */
  return bits == (uint64_t)(int64_t)plan->delta_bits[m] && plan->delta_bits[m] >= 0 ? 0 : -1;
}

int pnn_b1_mst_plan_check(size_t M, size_t kw, const uint64_t *W, const pnn_b1_mst_plan *plan,
                          size_t delta_count) {
  if (!plan || !plan->order || !plan->parent || !plan->delta_bits || !plan->delta_begin) return -1;
  if (M > UINT32_MAX || kw > UINT32_MAX) return -1;
  if (delta_count > 0 && (!plan->delta_word || !plan->delta_mask)) return -1;
  if (b1_mst_order_check(M, plan) != 0) return -1;
  for (size_t m = 0; m < M; ++m) {
    if (plan->delta_begin[m] > plan->delta_begin[m + 1]) return -1;
  }
  if (M > 0 && (plan->delta_begin[0] != 0 || plan->delta_begin[M] > delta_count)) return -1;
  for (size_t i = plan->roots; i < M; ++i) {
    if (b1_mst_delta_check(kw, W, plan, plan->order[i]) != 0) return -1;
  }
  return 0;
}
