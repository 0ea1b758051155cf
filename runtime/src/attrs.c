/* Node attribute getters (declared in internal.h). The loader guarantees unique,
 * NUL-terminated names and list arrays of exactly `count` entries. */
#include <string.h>

#include "internal.h"

static const char *op_name(const pnn_node *node) {
  const pnn_op_def *op = pnn_op_lookup(node->op);
  return op != NULL ? op->name : "?";
}

const pnn_attr *pnn_node_attr(const pnn_node *node, const char *name) {
  for (uint32_t i = 0; i < node->n_attrs; ++i) {
    if (strcmp(node->attrs[i].name, name) == 0) return &node->attrs[i];
  }
  return NULL;
}

int64_t pnn_attr_int(const pnn_node *node, const char *name, int64_t dflt) {
  const pnn_attr *a = pnn_node_attr(node, name);
  return (a != NULL && a->type == PNN_ATTR_INT) ? a->i : dflt;
}

float pnn_attr_float(const pnn_node *node, const char *name, float dflt) {
  const pnn_attr *a = pnn_node_attr(node, name);
  return (a != NULL && a->type == PNN_ATTR_FLOAT) ? a->f : dflt;
}

const int64_t *pnn_attr_ints(const pnn_node *node, const char *name, uint32_t *count) {
  const pnn_attr *a = pnn_node_attr(node, name);
  if (a == NULL || a->type != PNN_ATTR_INTS) {
    *count = 0;
    return NULL;
  }
  *count = a->count;
  return a->ints;
}

const float *pnn_attr_floats(const pnn_node *node, const char *name, uint32_t *count) {
  const pnn_attr *a = pnn_node_attr(node, name);
  if (a == NULL || a->type != PNN_ATTR_FLOATS) {
    *count = 0;
    return NULL;
  }
  *count = a->count;
  return a->floats;
}

pnn_status pnn_attr_ints_exact(const pnn_node *node, const char *name, uint32_t count,
                               const int64_t *dflt, int64_t *out, pnn_error *error) {
  const pnn_attr *a = pnn_node_attr(node, name);
  if (a == NULL) {
    if (dflt == NULL) {
      return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (%s): missing attribute \"%s\"",
                           node->name, op_name(node), name);
    }
    if (count > 0) memcpy(out, dflt, count * sizeof(*out));
    return PNN_OK;
  }
  if (a->type != PNN_ATTR_INTS) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (%s): attribute \"%s\" must be an int list",
                         node->name, op_name(node), name);
  }
  if (a->count != count) {
    return pnn_set_error(error, PNN_ERR_FORMAT,
                         "node \"%s\" (%s): attribute \"%s\" has %u entries, expected %u", node->name,
                         op_name(node), name, (unsigned)a->count, (unsigned)count);
  }
  if (count > 0) memcpy(out, a->ints, count * sizeof(*out));
  return PNN_OK;
}
