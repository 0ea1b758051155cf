/* The op table: op code -> name, prepare, run, from the one list in ops/ops.def. */
#include "ops/ops.h"

static const pnn_op_def OP_TABLE[] = {
#define PNN_OP(code, id, name, family) {PNN_OP_##id, name, pnn_op_##family##_prepare, pnn_op_##family##_run},
#include "ops/ops.def"
#undef PNN_OP
};

const pnn_op_def *pnn_op_lookup(uint16_t code) {
  for (size_t i = 0; i < sizeof(OP_TABLE) / sizeof(OP_TABLE[0]); ++i) {
    if (OP_TABLE[i].code == code) return &OP_TABLE[i];
  }
  return NULL;
}
