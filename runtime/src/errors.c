/* Error reporting: status codes with a formatted message in a caller-owned pnn_error. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

pnn_status pnn_set_error(pnn_error *error, pnn_status status, const char *fmt, ...) {
  if (error != NULL) {
    error->status = status;
    va_list args;
    va_start(args, fmt);
    vsnprintf(error->message, sizeof(error->message), fmt, args);
    va_end(args);
  }
  return status;
}

const char *pnn_status_string(pnn_status status) {
  switch (status) {
    case PNN_OK: return "ok";
    case PNN_ERR_INVALID_ARGUMENT: return "invalid argument";
    case PNN_ERR_IO: return "i/o error";
    case PNN_ERR_FORMAT: return "malformed file";
    case PNN_ERR_VERSION: return "unsupported format version";
    case PNN_ERR_CHECKSUM: return "checksum mismatch";
    case PNN_ERR_UNSUPPORTED: return "unsupported";
    case PNN_ERR_SHAPE: return "shape mismatch";
    case PNN_ERR_OUT_OF_MEMORY: return "out of memory";
    case PNN_ERR_BUSY: return "session busy";
    case PNN_ERR_LIMIT: return "over the memory limit";
  }
  return "unknown status";
}
