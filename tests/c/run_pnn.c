/* pnn_run: runs a .pnn model on inputs read from files and writes its outputs.
 *
 *   pnn_run [-v] model.pnn in0.bin [in1.bin ...] -o out_prefix
 *
 * Each input file holds the raw little-endian bytes of one input tensor, in order;
 * its size must equal the tensor's. Output i is written to <out_prefix><i>.bin.
 * -v lists each node's op and the kernel variant chosen at load.
 * Used by .ci/cross_aarch64.sh to run a model under qemu and compare the outputs
 * with the x86 run. Any failure prints the status and exits non-zero. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pocketnn.h"

static int fail(const char *what, pnn_status status, const pnn_error *error) {
  fprintf(stderr, "pnn_run: %s: %s: %s\n", what, pnn_status_string(status), error->message);
  return 1;
}

/* Reads exactly `size` bytes from `path` into dst; the file must be that long. */
static int read_exact(const char *path, void *dst, size_t size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "pnn_run: cannot open %s\n", path);
    return 1;
  }
  int ok = 0;
  if (fseek(f, 0, SEEK_END) == 0) {
    long length = ftell(f);
    if (length >= 0 && (unsigned long)length == size) {
      rewind(f);
      ok = fread(dst, 1, size, f) == size;
    } else {
      fprintf(stderr, "pnn_run: %s has %ld bytes, the input needs %zu\n", path, length, size);
      fclose(f);
      return 1;
    }
  }
  fclose(f);
  if (!ok) fprintf(stderr, "pnn_run: cannot read %s\n", path);
  return !ok;
}

static int write_all(const char *path, const void *src, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "pnn_run: cannot create %s\n", path);
    return 1;
  }
  int ok = fwrite(src, 1, size, f) == size;
  ok &= fclose(f) == 0;
  if (!ok) fprintf(stderr, "pnn_run: cannot write %s\n", path);
  return !ok;
}

int main(int argc, char **argv) {
  const char *model_path = NULL, *prefix = NULL;
  const char **inputs = (const char **)calloc((size_t)argc, sizeof(char *));
  if (!inputs) return 1;
  int num_inputs = 0, verbose = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) prefix = argv[++i];
    else if (strcmp(argv[i], "-v") == 0) verbose = 1;
    else if (!model_path) model_path = argv[i];
    else inputs[num_inputs++] = argv[i];
  }
  if (!model_path || !prefix) {
    fprintf(stderr, "usage: %s [-v] model.pnn in0.bin [in1.bin ...] -o out_prefix\n", argv[0]);
    free(inputs);
    return 2;
  }
  int rc = 1;
  pnn_error error;
  memset(&error, 0, sizeof error);
  pnn_model *model = NULL;
  pnn_session *session = NULL;
  pnn_status status = pnn_model_load_file(model_path, &model, &error);
  if (status != PNN_OK) {
    rc = fail(model_path, status, &error);
    goto done;
  }
  for (uint32_t i = 0; verbose && i < pnn_model_num_nodes(model); ++i) {
    pnn_node_info node;
    if (pnn_model_node_info(model, i, &node) == PNN_OK)
      printf("node %u %s %s: %s\n", i, node.op, node.name, node.kernel ? node.kernel : "-");
  }
  if ((uint32_t)num_inputs != pnn_model_num_inputs(model)) {
    fprintf(stderr, "pnn_run: the model has %u inputs, %d files given\n",
            pnn_model_num_inputs(model), num_inputs);
    goto done;
  }
  status = pnn_session_create(model, &session, &error);
  if (status != PNN_OK) {
    rc = fail("session", status, &error);
    goto done;
  }
  for (uint32_t i = 0; i < (uint32_t)num_inputs; ++i) {
    pnn_tensor_info info;
    status = pnn_model_input_info(model, i, &info);
    if (status != PNN_OK) {
      rc = fail("input info", status, &error);
      goto done;
    }
    if (read_exact(inputs[i], pnn_session_input(session, i), info.size_bytes)) goto done;
  }
  status = pnn_session_run(session, &error);
  if (status != PNN_OK) {
    rc = fail("run", status, &error);
    goto done;
  }
  const size_t path_size = strlen(prefix) + 16;
  char *path = (char *)malloc(path_size);
  if (!path) goto done;
  rc = 0;
  for (uint32_t i = 0; i < pnn_model_num_outputs(model) && rc == 0; ++i) {
    pnn_tensor_info info;
    status = pnn_model_output_info(model, i, &info);
    if (status != PNN_OK) {
      rc = fail("output info", status, &error);
      break;
    }
    snprintf(path, path_size, "%s%u.bin", prefix, i);
    rc = write_all(path, pnn_session_output(session, i), info.size_bytes);
  }
  free(path);
done:
  pnn_session_free(session);
  pnn_model_free(model);
  free(inputs);
  return rc;
}
