/* pnn_load_files: loads each .pnn named on the command line, creates a session, runs
 * it on zeroed inputs and frees everything, printing one status line per file.
 *
 * Not a pass/fail test by itself: tests/test_format.py builds it with sanitizers and
 * feeds it truncated, bit-flipped and hostile files; a clean exit with no sanitizer
 * report means the loader never read out of bounds or leaked, whatever the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pocketnn.h"

/* Models whose planned memory is larger are loaded but not run (a hostile file may
 * describe a huge but self-consistent graph). */
#define MAX_RUN_BYTES ((size_t)256 << 20)

static int load_and_run(const char *path) {
  pnn_error error;
  memset(&error, 0, sizeof(error));
  pnn_model *model = NULL;
  pnn_status status = pnn_model_load_file(path, &model, &error);
  if (status != PNN_OK) {
    if (model != NULL || error.message[0] == '\0' || error.status != status) {
      printf("%s: BAD ERROR REPORT status=%d\n", path, (int)status);
      return 1;
    }
    printf("%s: load %s: %s\n", path, pnn_status_string(status), error.message);
    return 0;
  }
  if (pnn_model_arena_bytes(model) > MAX_RUN_BYTES) {
    printf("%s: loaded, not run (%zu bytes of activations)\n", path, pnn_model_arena_bytes(model));
    pnn_model_free(model);
    return 0;
  }
  pnn_session *session = NULL;
  status = pnn_session_create(model, &session, &error);
  if (status == PNN_OK) {
    for (uint32_t i = 0; i < pnn_model_num_inputs(model); ++i) {
      pnn_tensor_info info;
      if (pnn_model_input_info(model, i, &info) == PNN_OK) memset(pnn_session_input(session, i), 0, info.size_bytes);
    }
    status = pnn_session_run(session, &error);
  }
  printf("%s: run %s%s%s\n", path, pnn_status_string(status), status == PNN_OK ? "" : ": ",
         status == PNN_OK ? "" : error.message);
  pnn_session_free(session);
  pnn_model_free(model);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s file.pnn...\n", argv[0]);
    return 2;
  }
  int bad = 0;
  for (int i = 1; i < argc; ++i) bad |= load_and_run(argv[i]);
  return bad;
}
