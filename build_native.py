"""cffi builder for pocketnn._native: the C runtime and kernels as one extension.

Used by setup.py (``cffi_modules``). Kernel files that need an ISA enable it for
themselves (``#pragma GCC target``) and are only called after run-time CPU detection,
so the extension runs on any x86-64 (and builds unchanged on other architectures).
"""

from __future__ import annotations

import glob
import os
import sys

from cffi import FFI

ROOT = os.path.dirname(os.path.abspath(__file__))

CDEF = """
typedef enum pnn_status {
  PNN_OK = 0, PNN_ERR_INVALID_ARGUMENT = 1, PNN_ERR_IO = 2, PNN_ERR_FORMAT = 3,
  PNN_ERR_VERSION = 4, PNN_ERR_CHECKSUM = 5, PNN_ERR_UNSUPPORTED = 6, PNN_ERR_SHAPE = 7,
  PNN_ERR_OUT_OF_MEMORY = 8, PNN_ERR_BUSY = 9, PNN_ERR_LIMIT = 10
} pnn_status;
typedef enum pnn_dtype {
  PNN_DTYPE_F32 = 1, PNN_DTYPE_F16 = 2, PNN_DTYPE_S8 = 3, PNN_DTYPE_U8 = 4,
  PNN_DTYPE_S4 = 5, PNN_DTYPE_B1 = 6, PNN_DTYPE_S32 = 7, PNN_DTYPE_S64 = 8
} pnn_dtype;
typedef struct pnn_error { pnn_status status; char message[512]; } pnn_error;
typedef struct pnn_tensor_info {
  const char *name; pnn_dtype dtype; int rank; int64_t dims[8]; size_t size_bytes;
} pnn_tensor_info;
typedef struct pnn_node_info {
  const char *name; const char *op; uint32_t num_inputs; uint32_t num_outputs;
  const char *kernel; size_t scratch_bytes;
} pnn_node_info;
typedef struct pnn_model pnn_model;
typedef struct pnn_session pnn_session;
pnn_status pnn_model_load(const void *data, size_t size, pnn_model **model, pnn_error *error);
pnn_status pnn_model_load_file(const char *path, pnn_model **model, pnn_error *error);
typedef struct pnn_load_options { size_t max_memory; const char *isa; } pnn_load_options;
pnn_status pnn_model_load_with_options(const void *data, size_t size, const pnn_load_options *options,
                                       pnn_model **model, pnn_error *error);
pnn_status pnn_model_load_file_with_options(const char *path, const pnn_load_options *options,
                                            pnn_model **model, pnn_error *error);
void pnn_model_free(pnn_model *model);
uint32_t pnn_model_num_inputs(const pnn_model *model);
uint32_t pnn_model_num_outputs(const pnn_model *model);
uint32_t pnn_model_num_nodes(const pnn_model *model);
pnn_status pnn_model_input_info(const pnn_model *model, uint32_t index, pnn_tensor_info *info);
pnn_status pnn_model_output_info(const pnn_model *model, uint32_t index, pnn_tensor_info *info);
pnn_status pnn_model_node_info(const pnn_model *model, uint32_t index, pnn_node_info *info);
size_t pnn_model_arena_bytes(const pnn_model *model);
const char *pnn_model_metadata(const pnn_model *model, const char *key);
typedef struct pnn_session_options { uint32_t num_threads; int profile; } pnn_session_options;
pnn_status pnn_session_create(const pnn_model *model, pnn_session **session, pnn_error *error);
pnn_status pnn_session_create_with_options(const pnn_model *model, const pnn_session_options *options,
                                           pnn_session **session, pnn_error *error);
void pnn_session_free(pnn_session *session);
void *pnn_session_input(pnn_session *session, uint32_t index);
const void *pnn_session_output(const pnn_session *session, uint32_t index);
pnn_status pnn_session_run(pnn_session *session, pnn_error *error);
pnn_status pnn_session_profile(const pnn_session *session, uint64_t *node_ns, uint32_t count,
                               uint64_t *runs, pnn_error *error);
const char *pnn_status_string(pnn_status status);
const char *pnn_runtime_version(void);
const char *pnn_runtime_isa(void);
"""


def _path(relative: str) -> str:
    # setuptools wants paths relative to setup.py; a direct build from elsewhere
    # (python build_native.py in another folder) needs them absolute.
    return relative if os.getcwd() == ROOT else os.path.join(ROOT, relative)


def c_sources() -> list[str]:
    """Every C file of the runtime and the kernels (sorted)."""
    patterns = ["runtime/src/*.c", "runtime/src/ops/*.c", "kernels_c/*.c", "kernels_c/*/*.c"]
    files: list[str] = []
    for pattern in patterns:
        files += glob.glob(os.path.join(ROOT, pattern))
    return sorted(_path(os.path.relpath(f, ROOT)) for f in files)


ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "pocketnn._native",
    '#include "pocketnn.h"\n',
    sources=c_sources(),
    include_dirs=[_path(d) for d in ("runtime/include", "runtime/src", "kernels_c/include")],
    extra_compile_args=["-std=c11", "-O3", "-Wall", "-Wextra", "-fno-math-errno", "-pthread"],
    # -s: Python's own CFLAGS carry -g, which makes the extension ~10x its stripped size;
    # debugging uses the CMake build. PNN_KEEP_SYMBOLS=1 keeps them.
    extra_link_args=["-pthread"] + (["-s"] if sys.platform.startswith("linux")
                                    and not os.environ.get("PNN_KEEP_SYMBOLS") else []),
    libraries=["m"],
)

if __name__ == "__main__":
    # Development build into a folder: python build_native.py /tmp/out -> /tmp/out/pocketnn/_native*.so
    ffibuilder.compile(tmpdir=sys.argv[1] if len(sys.argv) > 1 else ".", verbose=False)
