/* pocketnn public C API: load a .pnn model, create sessions, run them.
 *
 * Stable C ABI. No global mutable state. Threads: a model is read-only after load and
 * may be shared by any number of sessions in any threads (each session has its own
 * arena; the weights are shared). A session runs in one thread at a time: a second
 * thread calling pnn_session_run while it runs gets PNN_ERR_BUSY instead of a race.
 * Errors are returned as status codes; the message goes into a caller-owned
 * pnn_error.
 *
 *   pnn_model *model; pnn_session *session; pnn_error error;
 *   if (pnn_model_load_file("model.pnn", &model, &error) != PNN_OK ||
 *       pnn_session_create(model, &session, &error) != PNN_OK) fail(error.message);
 *   float *x = pnn_session_input(session, 0);         (pnn_model_input_info: shape, bytes)
 *   ... fill x ...
 *   if (pnn_session_run(session, &error) != PNN_OK) fail(error.message);
 *   const float *y = pnn_session_output(session, 0);  (valid until the next run)
 *   pnn_session_free(session); pnn_model_free(model);
 *
 * Build: find_package(pocketnn) + pocketnn::pocketnn, or pkg-config pocketnn
 * (docs/MOBILE.md). */
#ifndef POCKETNN_H
#define POCKETNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* PNN_API marks the functions a shared libpocketnn exports (it is built with hidden
 * visibility, so nothing else leaves it); CMake defines PNN_SHARED for the library and
 * its users when BUILD_SHARED_LIBS is on. A no-op for static builds. */
#if defined(PNN_SHARED) && defined(_WIN32)
#ifdef PNN_BUILDING_LIBRARY
#define PNN_API __declspec(dllexport)
#else
#define PNN_API __declspec(dllimport)
#endif
#elif defined(PNN_SHARED) && defined(__GNUC__)
#define PNN_API __attribute__((visibility("default")))
#else
#define PNN_API
#endif

/* The newest .pnn format version this runtime reads. */
#define PNN_VERSION_MAJOR 1
#define PNN_VERSION_MINOR 14
/* The runtime's own release (the Python package's version; a test keeps them equal). */
#define PNN_RUNTIME_VERSION "0.1.0"
#define PNN_MAX_RANK 8

typedef enum pnn_status {
  PNN_OK = 0,
  PNN_ERR_INVALID_ARGUMENT = 1, /* a NULL pointer, an index out of range */
  PNN_ERR_IO = 2,               /* the file could not be read */
  PNN_ERR_FORMAT = 3,           /* malformed or truncated .pnn */
  PNN_ERR_VERSION = 4,          /* unknown major version */
  PNN_ERR_CHECKSUM = 5,         /* checksum mismatch */
  PNN_ERR_UNSUPPORTED = 6,      /* op code, dtype or attribute this runtime lacks */
  PNN_ERR_SHAPE = 7,            /* shapes that disagree with the op's rules */
  PNN_ERR_OUT_OF_MEMORY = 8,
  PNN_ERR_BUSY = 9,             /* the session is running in another thread */
  PNN_ERR_LIMIT = 10            /* the model needs more memory than the caller's limit */
} pnn_status;

/* The default of pnn_load_options.max_memory: activation arena plus scratch of one
 * session, and the size of any one activation tensor. */
#define PNN_DEFAULT_MAX_MEMORY ((size_t)1 << 30)

typedef enum pnn_dtype {
  PNN_DTYPE_F32 = 1,
  PNN_DTYPE_F16 = 2,
  PNN_DTYPE_S8 = 3,
  PNN_DTYPE_U8 = 4,
  PNN_DTYPE_S4 = 5,
  PNN_DTYPE_B1 = 6,
  PNN_DTYPE_S32 = 7,
  PNN_DTYPE_S64 = 8,
  PNN_DTYPE_BOOL = 9 /* one byte, 0 false, anything else true (format 1.4) */
} pnn_dtype;

typedef struct pnn_error {
  pnn_status status;
  char message[512];
} pnn_error;

typedef struct pnn_tensor_info {
  const char *name;   /* valid while the model lives */
  pnn_dtype dtype;
  int rank;
  int64_t dims[PNN_MAX_RANK];
  size_t size_bytes;
} pnn_tensor_info;

typedef struct pnn_node_info {
  const char *name;    /* valid while the model lives */
  const char *op;      /* operator name, e.g. "Conv" */
  uint32_t num_inputs;
  uint32_t num_outputs;
  const char *kernel;  /* the kernel variant chosen at load, e.g. "avx2" or "scalar" */
  size_t scratch_bytes;
} pnn_node_info;

typedef struct pnn_model pnn_model;
typedef struct pnn_session pnn_session;

/* Loads from a buffer the caller owns and keeps alive and unchanged until
 * pnn_model_free: constant tensors are used in place (no copy). The buffer must be
 * 64-byte aligned for the in-place use; an unaligned buffer is copied once. */
PNN_API pnn_status pnn_model_load(const void *data, size_t size, pnn_model **model, pnn_error *error);
/* Reads the file into a buffer owned by the model. The path must name a regular file. */
PNN_API pnn_status pnn_model_load_file(const char *path, pnn_model **model, pnn_error *error);

typedef struct pnn_load_options {
  /* Bytes a session of this model may use for activations and scratch (the arena
   * plus every thread's scratch), and the largest one activation tensor may be.
   * A file that asks for more is refused with PNN_ERR_LIMIT naming what asked for how
   * much. 0 means PNN_DEFAULT_MAX_MEMORY (1 GiB); SIZE_MAX means no limit. */
  size_t max_memory;
  /* Caps the kernels chosen at load to an instruction set, for testing and
   * benchmarking one path on a more capable host: "scalar", "avx2", "avx512" (x86),
   * "neon" (aarch64 without dotprod), or "" / NULL for the best the CPU has. NULL also
   * reads the environment variable PNN_ISA. A name this build does not know, or one
   * the CPU cannot run, is PNN_ERR_INVALID_ARGUMENT. */
  const char *isa;
} pnn_load_options;

/* pnn_model_load / pnn_model_load_file with options (NULL: the defaults). */
PNN_API pnn_status pnn_model_load_with_options(const void *data, size_t size, const pnn_load_options *options,
                                       pnn_model **model, pnn_error *error);
PNN_API pnn_status pnn_model_load_file_with_options(const char *path, const pnn_load_options *options,
                                            pnn_model **model, pnn_error *error);
PNN_API void pnn_model_free(pnn_model *model);

PNN_API uint32_t pnn_model_num_inputs(const pnn_model *model);
PNN_API uint32_t pnn_model_num_outputs(const pnn_model *model);
PNN_API uint32_t pnn_model_num_nodes(const pnn_model *model);
PNN_API pnn_status pnn_model_input_info(const pnn_model *model, uint32_t index, pnn_tensor_info *info);
PNN_API pnn_status pnn_model_output_info(const pnn_model *model, uint32_t index, pnn_tensor_info *info);
PNN_API pnn_status pnn_model_node_info(const pnn_model *model, uint32_t index, pnn_node_info *info);
/* Bytes of the activation arena (planned at load) plus the largest scratch. */
PNN_API size_t pnn_model_arena_bytes(const pnn_model *model);
/* String metadata by key, or NULL. */
PNN_API const char *pnn_model_metadata(const pnn_model *model, const char *key);

typedef struct pnn_session_options {
  /* Threads that run the session, the caller's included; 0 or 1 means one thread.
   * Results are the same for any number of threads. */
  uint32_t num_threads;
  /* Nonzero: time every node of every run (pnn_session_profile). Costs two clock
   * reads per node. */
  int profile;
} pnn_session_options;

/* A session owns the arena (and its threads). Creating it allocates; running it
 * never does. PNN_ERR_LIMIT when the arena plus num_threads scratch regions exceed the
 * model's max_memory. */
PNN_API pnn_status pnn_session_create(const pnn_model *model, pnn_session **session, pnn_error *error);
/* options may be NULL (the defaults: one thread). */
PNN_API pnn_status pnn_session_create_with_options(const pnn_model *model, const pnn_session_options *options,
                                           pnn_session **session, pnn_error *error);
PNN_API void pnn_session_free(pnn_session *session);
/* Where to write input `index` before run (size_bytes from pnn_model_input_info). */
PNN_API void *pnn_session_input(pnn_session *session, uint32_t index);
/* Where output `index` is after run; valid until the next run. */
PNN_API const void *pnn_session_output(const pnn_session *session, uint32_t index);
/* PNN_ERR_BUSY (and nothing run) when another thread is running this session. */
PNN_API pnn_status pnn_session_run(pnn_session *session, pnn_error *error);
/* With options.profile: wall-clock nanoseconds spent in each node, summed over all
 * runs so far (node_ns has `count` >= pnn_model_num_nodes entries), and the number of
 * runs. PNN_ERR_INVALID_ARGUMENT when the session was created without profiling. */
PNN_API pnn_status pnn_session_profile(const pnn_session *session, uint64_t *node_ns, uint32_t count,
                               uint64_t *runs, pnn_error *error);

PNN_API const char *pnn_status_string(pnn_status status);

/* PNN_RUNTIME_VERSION of the library actually linked (a static string). */
PNN_API const char *pnn_runtime_version(void);
/* The instruction set the kernels use on this CPU when nothing caps it: "avx512",
 * "avx2", "scalar" (x86-64), "neondot", "neon" (aarch64) or "wasmsimd" (a static string). */
PNN_API const char *pnn_runtime_isa(void);

#ifdef __cplusplus
}
#endif
#endif /* POCKETNN_H */
