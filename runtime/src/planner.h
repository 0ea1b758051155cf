/* Memory planner (planner.c): places every activation tensor in one arena. */
#ifndef PNN_PLANNER_H
#define PNN_PLANNER_H

#include "internal.h"

/* Needs tensors[].producer/last_use/nbytes and the graph inputs/outputs; sets
 * tensors[].arena_offset of every activation and model->arena_bytes. Allocates only
 * temporary memory, freed before it returns. */
pnn_status pnn_plan_memory(pnn_model *model, pnn_error *error);

#endif /* PNN_PLANNER_H */
