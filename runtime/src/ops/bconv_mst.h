/* The tree-delta (MST) plan of a binary layer, built at load from its packed weights
 * (docs/BINARY.md, "MST output-channel reordering"; pocketnn.binary.mst is the same
 * algorithm in numpy). */
#ifndef PNN_BCONV_MST_H
#define PNN_BCONV_MST_H

#include <stddef.h>
#include <stdint.h>

#include "pnn_kernels.h"

/* The forest of a layer: the minimum spanning tree over its M rows (edge cost = words in
 * which two rows differ), rooted at its centre, with every edge that differs in all kw
 * words cut (that child runs as a plain row). */
typedef struct bconv_mst_forest {
  size_t roots;       /* order[0 .. roots) */
  size_t touched;     /* words read per pixel: kw per root + the differing words per edge */
  uint32_t *order;    /* M: roots first, then breadth first from the centre */
  uint32_t *parent;   /* M: a root is its own parent */
  uint32_t *cost;     /* M: differing words to the parent (0 for a root) */
} bconv_mst_forest;

/* Word comparisons the build costs (M * M * kw / 2); callers cap it. */
int bconv_mst_affordable(size_t M, size_t kw, size_t max_compares);
/* Words the tree must touch per row at least, estimated from the nearest neighbours of up
 * to `samples` rows spread over the layer (every edge costs at least its child's nearest
 * neighbour distance): a cheap O(samples M kw) test before the O(M^2 kw) build. */
double bconv_mst_estimated_touched(size_t M, size_t kw, const uint64_t *W, size_t samples);
/* 0, or -1 when out of memory. W: M rows of kw words, 8-byte aligned. */
int bconv_mst_forest_build(size_t M, size_t kw, const uint64_t *W, bconv_mst_forest *forest);
void bconv_mst_forest_free(bconv_mst_forest *forest);
/* Fills the plan's arrays (M each for order, parent, bits; M + 1 begin; touched - roots *
 * kw delta words and masks) and points `plan` at them. */
void bconv_mst_plan_fill(size_t M, size_t kw, const uint64_t *W, const bconv_mst_forest *forest, uint32_t *order,
                         uint32_t *parent, int32_t *bits, uint32_t *begin, uint32_t *word, uint64_t *mask,
                         pnn_b1_mst_plan *plan);

#endif /* PNN_BCONV_MST_H */
