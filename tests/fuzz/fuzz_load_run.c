/* libFuzzer harness: a .pnn file from the fuzzer is loaded under a memory limit and,
 * when it loads, described through the whole query API, given a session (one thread),
 * run once on deterministic inputs and freed. Any sanitizer report, leak, crash,
 * timeout or broken error report (a failure without a message, or with a model) is a
 * finding.
 *
 * Built twice (tests/fuzz/README.md, .ci/fuzz.sh):
 *   fuzz_load_run       the bytes as given: mutations mostly meet the checksum check
 *   fuzz_load_run_crc   -DPNN_FUZZ_FIX_CHECKSUM: the header's file_size, data_size and
 *                       CRC-32 are rewritten to match the mutated bytes first, so
 *                       mutations reach the section parsers, validators, planner, op
 *                       prepare functions and kernels. Inputs with an even CRC load
 *                       with the kernels capped to "scalar" (the reference kernels
 *                       and their prepare paths), the others with the host's best:
 *                       deterministic per input, both fuzzed in one run. */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "pocketnn.h"

/* Small enough that the biggest model the limit admits still runs in milliseconds
 * under ASan (each execution must stay far below libFuzzer's -timeout), large enough
 * for every seed of tests/fuzz/make_corpus.py. */
#ifndef PNN_FUZZ_MAX_MEMORY
#define PNN_FUZZ_MAX_MEMORY ((size_t)16 << 20)
#endif

/* docs/FORMAT.md, header. */
enum { HEADER_SIZE = 64, CHECKSUM_AT = 8, FILE_SIZE_AT = 16, DATA_OFFSET_AT = 48, DATA_SIZE_AT = 56 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef PNN_FUZZ_FIX_CHECKSUM
static uint64_t read_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

static void write_le(uint8_t *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

/* Makes the header's sizes and checksum agree with the buffer: a mutation that
 * changed the length would otherwise stop at the file_size check, any other at the
 * checksum. */
static uint32_t fix_header(uint8_t *file, size_t size) {
  if (size < HEADER_SIZE) return 0;
  write_le(file + FILE_SIZE_AT, size, 8);
  uint64_t data_offset = read_u64(file + DATA_OFFSET_AT);
  if (data_offset <= size) write_le(file + DATA_SIZE_AT, size - data_offset, 8);
  memset(file + CHECKSUM_AT, 0, 4); /* the checksum covers the file with these bytes zero */
  uint32_t crc = pnn_crc32(0, file, size);
  write_le(file + CHECKSUM_AT, crc, 4);
  return crc;
}
#endif

/* A failed call must say what failed: its status in the error, a NUL-terminated
 * non-empty message. Anything else aborts, which libFuzzer reports as a crash. */
static void check_error_report(pnn_status status, const pnn_error *error) {
  if (status == PNN_OK) return;
  int terminated = memchr(error->message, '\0', sizeof(error->message)) != NULL;
  if (error->status != status || !terminated || error->message[0] == '\0') abort();
}

/* Deterministic, varied values: small floats for f32 inputs (so activations, pools
 * and quantizers see signs and magnitudes), a byte ramp for integer inputs. */
static void fill_input(void *buffer, const pnn_tensor_info *info) {
  if (info->dtype == PNN_DTYPE_F32) {
    float *values = buffer;
    size_t count = info->size_bytes / sizeof(float);
    for (size_t i = 0; i < count; ++i) values[i] = (float)((int)(i * 7u % 17u) - 8) * 0.25f;
  } else {
    uint8_t *bytes = buffer;
    for (size_t i = 0; i < info->size_bytes; ++i) bytes[i] = (uint8_t)(i * 31u);
  }
}

/* Reads every byte of every output: ASan sees an output that lies outside the arena.
 * The sum is volatile so the reads are not optimized away. */
static unsigned touch_outputs(const pnn_model *model, const pnn_session *session) {
  volatile unsigned sum = 0;
  for (uint32_t i = 0; i < pnn_model_num_outputs(model); ++i) {
    pnn_tensor_info info;
    if (pnn_model_output_info(model, i, &info) != PNN_OK) abort();
    const uint8_t *bytes = pnn_session_output(session, i);
    if (bytes == NULL && info.size_bytes > 0) abort();
    for (size_t j = 0; j < info.size_bytes; ++j) sum += bytes[j];
  }
  return sum;
}

static void describe(const pnn_model *model) {
  pnn_tensor_info tensor;
  for (uint32_t i = 0; i < pnn_model_num_inputs(model); ++i) {
    if (pnn_model_input_info(model, i, &tensor) != PNN_OK || tensor.name == NULL) abort();
  }
  pnn_node_info node;
  for (uint32_t i = 0; i < pnn_model_num_nodes(model); ++i) {
    if (pnn_model_node_info(model, i, &node) != PNN_OK || node.op == NULL || node.kernel == NULL) abort();
  }
  (void)pnn_model_metadata(model, "producer");
  (void)pnn_model_arena_bytes(model);
}

static void run_once(const pnn_model *model) {
  pnn_error error;
  memset(&error, 0, sizeof(error));
  pnn_session_options options = {.num_threads = 1, .profile = 0};
  pnn_session *session = NULL;
  pnn_status status = pnn_session_create_with_options(model, &options, &session, &error);
  check_error_report(status, &error);
  if (status != PNN_OK) {
    if (session != NULL) abort();
    return;
  }
  for (uint32_t i = 0; i < pnn_model_num_inputs(model); ++i) {
    pnn_tensor_info info;
    if (pnn_model_input_info(model, i, &info) != PNN_OK) abort();
    void *input = pnn_session_input(session, i);
    if (input == NULL && info.size_bytes > 0) abort();
    fill_input(input, &info);
  }
  status = pnn_session_run(session, &error);
  check_error_report(status, &error);
  if (status == PNN_OK) (void)touch_outputs(model, session);
  pnn_session_free(session);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A 64-byte aligned copy of exactly `size` bytes: the loader uses it in place, and
   * ASan sees a read one byte past the end of the file. */
  uint8_t *file = NULL;
  if (posix_memalign((void **)&file, 64, size > 0 ? size : 1) != 0) return 0;
  if (size > 0) memcpy(file, data, size);
  pnn_load_options options = {.max_memory = PNN_FUZZ_MAX_MEMORY, .isa = NULL};
#ifdef PNN_FUZZ_FIX_CHECKSUM
  if (fix_header(file, size) % 2 == 0) options.isa = "scalar";
#endif
  pnn_model *model = NULL;
  pnn_error error;
  memset(&error, 0, sizeof(error));
  pnn_status status = pnn_model_load_with_options(file, size, &options, &model, &error);
  if (status == PNN_ERR_INVALID_ARGUMENT && options.isa != NULL) {
    /* No scalar-only path in this build (aarch64, wasm): the default kernels. */
    options.isa = NULL;
    status = pnn_model_load_with_options(file, size, &options, &model, &error);
  }
  check_error_report(status, &error);
  if (status != PNN_OK) {
    if (model != NULL) abort();
  } else {
    describe(model);
    run_once(model);
    pnn_model_free(model);
  }
  free(file);
  return 0;
}
