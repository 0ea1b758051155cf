/* Expand (code 104): the input broadcast to the output's shape; Tile (code 105): the
 * input repeated `repeats[d]` times along each dim. Both generic over the dtype: rows
 * move with memcpy, broadcast elements as 1, 2, 4 or 8-byte words. The target shape and
 * the repeats are fixed at convert time (the output shape in the table; Tile's
 * `repeats` attribute). */
#include <stdlib.h>

#include "values.h"

typedef struct expand_plan {
  pnn_bcast bcast;
  size_t size; /* bytes per element */
} expand_plan;

typedef struct expand_job {
  const uint8_t *x;
  uint8_t *y;
  size_t size;
} expand_job;

static void expand_row(const void *context, size_t n, const size_t *off, const size_t *step, size_t y_off) {
  const expand_job *job = context;
  const size_t size = job->size;
  const uint8_t *x = job->x + off[0] * size;
  uint8_t *y = job->y + y_off * size;
  if (step[0] == 1) {
    memcpy(y, x, n * size);
    return;
  }
  for (size_t i = 0; i < n; ++i) memcpy(y + i * size, x, size);
}

pnn_status pnn_op_expand_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, true, error);
  if (st != PNN_OK) return st;
  size_t size = 0;
  if ((st = pnn_same_value_io(model, node, &size, error)) != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  const pnn_tensor *y = pnn_output_tensor(model, node, 0);
  if (y->rank < x->rank) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Expand to rank %d from rank %d", node->name, y->rank,
                         x->rank);
  }
  /* The output's own shape broadcast with x must give the output again. */
  const pnn_tensor *in[2] = {x, y};
  expand_plan *plan = calloc(1, sizeof(*plan));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->size = size;
  if ((st = pnn_bcast_prepare(model, node, in, 2, 0, &plan->bcast, error)) != PNN_OK) {
    free(plan);
    return st;
  }
  plan->bcast.n_inputs = 1;
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = "copy";
  return PNN_OK;
}

void pnn_op_expand_run(const pnn_model *model, const pnn_node *node, const void *const *in, void *const *out,
                       const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const expand_plan *plan = node->params;
  const expand_job job = {in[0], out[0], plan->size};
  pnn_bcast_for_each_row(&plan->bcast, expand_row, &job);
}

typedef struct tile_plan {
  int rank;
  size_t size;                    /* bytes per element */
  size_t in_dims[PNN_MAX_RANK];
  size_t repeats[PNN_MAX_RANK];
} tile_plan;

pnn_status pnn_op_tile_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, true, error);
  if (st != PNN_OK) return st;
  size_t size = 0;
  if ((st = pnn_same_value_io(model, node, &size, error)) != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if ((st = pnn_ew_check_dims(node, x, error)) != PNN_OK) return st;
  if (x->rank < 1) return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Tile of a scalar", node->name);
  const int64_t *repeats = NULL;
  if ((st = pnn_ew_attr_ints(node, "repeats", (uint32_t)x->rank, &repeats, error)) != PNN_OK) return st;
  int64_t dims[PNN_MAX_RANK];
  for (int d = 0; d < x->rank; ++d) {
    if (repeats[d] < 1 || repeats[d] > INT32_MAX) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': repeats[%d] = %lld outside [1, 2^31)",
                           node->name, d, (long long)repeats[d]);
    }
    dims[d] = x->dims[d] * repeats[d]; /* both < 2^31: no overflow */
  }
  if ((st = pnn_check_output_shape(model, node, 0, x->rank, dims, error)) != PNN_OK) return st;
  tile_plan *plan = calloc(1, sizeof(*plan));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->rank = x->rank;
  plan->size = size;
  for (int d = 0; d < x->rank; ++d) {
    plan->in_dims[d] = (size_t)x->dims[d];
    plan->repeats[d] = (size_t)repeats[d];
  }
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = "copy";
  return PNN_OK;
}

/* Fills the output block of dims d.. from the input block of dims d..: the input's
 * sub-blocks tiled along d, then the whole row of them repeated. Returns the bytes written. */
static size_t tile_block(const tile_plan *p, int d, const uint8_t *x, uint8_t *y) {
  size_t in_block = p->size, written = 0;
  for (int k = d + 1; k < p->rank; ++k) in_block *= p->in_dims[k];
  if (d == p->rank - 1) {
    written = p->in_dims[d] * p->size;
    memcpy(y, x, written);
  } else {
    for (size_t i = 0; i < p->in_dims[d]; ++i) written += tile_block(p, d + 1, x + i * in_block, y + written);
  }
  for (size_t r = 1; r < p->repeats[d]; ++r) memcpy(y + r * written, y, written);
  return written * p->repeats[d];
}

void pnn_op_tile_run(const pnn_model *model, const pnn_node *node, const void *const *in, void *const *out,
                     const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  tile_block(node->params, 0, in[0], out[0]);
}
