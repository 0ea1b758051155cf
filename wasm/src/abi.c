/* Layout facts the JavaScript wrapper needs about the public structs, taken from
 * the compiler so pocketnn.mjs never hard-codes an offset or a size. */
#include <stddef.h>

#include "pocketnn.h"

/* Keys of pnn_wasm_layout; the order is part of the contract with pocketnn.mjs. */
enum {
  LAYOUT_ERROR_SIZE = 0,
  LAYOUT_ERROR_STATUS,
  LAYOUT_ERROR_MESSAGE,
  LAYOUT_INFO_SIZE,
  LAYOUT_INFO_NAME,
  LAYOUT_INFO_DTYPE,
  LAYOUT_INFO_RANK,
  LAYOUT_INFO_DIMS,
  LAYOUT_INFO_SIZE_BYTES,
  LAYOUT_MAX_RANK,
  LAYOUT_ERROR_MESSAGE_BYTES,
  LAYOUT_NODE_SIZE,
  LAYOUT_NODE_NAME,
  LAYOUT_NODE_OP,
  LAYOUT_NODE_KERNEL,
  LAYOUT_SESSION_OPTIONS_SIZE,
  LAYOUT_SESSION_OPTIONS_THREADS,
  LAYOUT_LOAD_OPTIONS_SIZE,
  LAYOUT_LOAD_OPTIONS_MAX_MEMORY,
  LAYOUT_COUNT
};

/* The value for `key`, or -1 for an unknown key. */
int pnn_wasm_layout(int key) {
  switch (key) {
    case LAYOUT_ERROR_SIZE: return (int)sizeof(pnn_error);
    case LAYOUT_ERROR_STATUS: return (int)offsetof(pnn_error, status);
    case LAYOUT_ERROR_MESSAGE: return (int)offsetof(pnn_error, message);
    case LAYOUT_INFO_SIZE: return (int)sizeof(pnn_tensor_info);
    case LAYOUT_INFO_NAME: return (int)offsetof(pnn_tensor_info, name);
    case LAYOUT_INFO_DTYPE: return (int)offsetof(pnn_tensor_info, dtype);
    case LAYOUT_INFO_RANK: return (int)offsetof(pnn_tensor_info, rank);
    case LAYOUT_INFO_DIMS: return (int)offsetof(pnn_tensor_info, dims);
    case LAYOUT_INFO_SIZE_BYTES: return (int)offsetof(pnn_tensor_info, size_bytes);
    case LAYOUT_MAX_RANK: return PNN_MAX_RANK;
    case LAYOUT_ERROR_MESSAGE_BYTES: return (int)sizeof(((pnn_error *)0)->message);
    case LAYOUT_NODE_SIZE: return (int)sizeof(pnn_node_info);
    case LAYOUT_NODE_NAME: return (int)offsetof(pnn_node_info, name);
    case LAYOUT_NODE_OP: return (int)offsetof(pnn_node_info, op);
    case LAYOUT_NODE_KERNEL: return (int)offsetof(pnn_node_info, kernel);
    case LAYOUT_SESSION_OPTIONS_SIZE: return (int)sizeof(pnn_session_options);
    case LAYOUT_SESSION_OPTIONS_THREADS: return (int)offsetof(pnn_session_options, num_threads);
    case LAYOUT_LOAD_OPTIONS_SIZE: return (int)sizeof(pnn_load_options);
    case LAYOUT_LOAD_OPTIONS_MAX_MEMORY: return (int)offsetof(pnn_load_options, max_memory);
    default: return -1;
  }
}
