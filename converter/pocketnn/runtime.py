"""Python wrapper over the native runtime (the cffi extension pocketnn._native)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Union

import numpy as np

from pocketnn.errors import PocketnnError

try:
    from pocketnn._native import ffi, lib
except ImportError as exc:  # pragma: no cover - only without a compiled build
    raise ImportError(
        "pocketnn's native runtime is not built; install the package with `pip install .`"
    ) from exc

_NUMPY_DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.float32),
    2: np.dtype(np.float16),
    3: np.dtype(np.int8),
    4: np.dtype(np.uint8),
    7: np.dtype(np.int32),
    8: np.dtype(np.int64),
}


class NativeError(PocketnnError):
    """The native runtime refused a model or a run; ``status`` is the C status name."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype


@dataclass(frozen=True)
class NodeInfo:
    name: str
    op: str
    kernel: str
    scratch_bytes: int


def _raise_on_error(status: int, error: "ffi.CData") -> None:
    if status != lib.PNN_OK:
        name = ffi.string(lib.pnn_status_string(status)).decode()
        raise NativeError(name, ffi.string(error.message).decode(errors="replace"))


def _tensor_info(info: "ffi.CData") -> TensorInfo:
    dtype = _NUMPY_DTYPES.get(int(info.dtype))
    if dtype is None:
        raise NativeError("PNN_ERR_UNSUPPORTED", f"tensor dtype code {int(info.dtype)}")
    return TensorInfo(
        name=ffi.string(info.name).decode(),
        shape=tuple(int(info.dims[i]) for i in range(info.rank)),
        dtype=dtype,
    )


class Model:
    """A loaded .pnn model with one session.

    ``Model(path)`` or ``Model(data)`` with the file's bytes. ``threads`` native
    threads run each call (1 by default; results are the same for any number).
    With ``profile=True`` every node of every run is timed (see ``profile()``).
    ``run`` is not re-entrant; create one Model per Python thread.
    """

    def __init__(self, source: Union[str, os.PathLike, bytes, bytearray, memoryview],
                 threads: int = 1, profile: bool = False) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        error = ffi.new("pnn_error *")
        model_pp = ffi.new("pnn_model **")
        if isinstance(source, (bytes, bytearray, memoryview)):
            # The runtime uses the bytes in place (no copy when 64-byte aligned): keep an
            # aligned copy of our own alive as long as the model.
            size = len(source)
            storage = np.empty(size + 64, dtype=np.uint8)
            start = (-storage.ctypes.data) % 64
            self._buffer = storage[start:start + size]
            self._buffer[:] = np.frombuffer(source, dtype=np.uint8)
            status = lib.pnn_model_load(ffi.from_buffer(self._buffer), size, model_pp, error)
        else:
            self._buffer = None
            status = lib.pnn_model_load_file(os.fsencode(os.fspath(source)), model_pp, error)
        _raise_on_error(status, error)
        self._model = ffi.gc(model_pp[0], lib.pnn_model_free)
        session_pp = ffi.new("pnn_session **")
        options = ffi.new("pnn_session_options *", {"num_threads": threads, "profile": int(profile)})
        _raise_on_error(lib.pnn_session_create_with_options(self._model, options, session_pp, error), error)
        self.threads = threads
        self._session = ffi.gc(session_pp[0], lib.pnn_session_free)
        self.inputs = [self._info(lib.pnn_model_input_info, i) for i in range(lib.pnn_model_num_inputs(self._model))]
        self.outputs = [self._info(lib.pnn_model_output_info, i) for i in range(lib.pnn_model_num_outputs(self._model))]

    def _info(self, getter: "ffi.CData", index: int) -> TensorInfo:
        info = ffi.new("pnn_tensor_info *")
        status = getter(self._model, index, info)
        if status != lib.PNN_OK:
            raise NativeError(ffi.string(lib.pnn_status_string(status)).decode(), f"tensor info {index}")
        return _tensor_info(info)

    @property
    def arena_bytes(self) -> int:
        return int(lib.pnn_model_arena_bytes(self._model))

    @property
    def nodes(self) -> list[NodeInfo]:
        result = []
        info = ffi.new("pnn_node_info *")
        for i in range(lib.pnn_model_num_nodes(self._model)):
            if lib.pnn_model_node_info(self._model, i, info) != lib.PNN_OK:
                raise NativeError("PNN_ERR_INVALID_ARGUMENT", f"node info {i}")
            result.append(
                NodeInfo(
                    name=ffi.string(info.name).decode(),
                    op=ffi.string(info.op).decode(),
                    kernel=ffi.string(info.kernel).decode() if info.kernel != ffi.NULL else "",
                    scratch_bytes=int(info.scratch_bytes),
                )
            )
        return result

    def profile(self) -> tuple[list[float], int]:
        """Milliseconds spent in each node (in ``nodes`` order), summed over all runs so
        far, and the number of runs. Needs ``Model(..., profile=True)``."""
        count = int(lib.pnn_model_num_nodes(self._model))
        node_ns = ffi.new("uint64_t[]", max(count, 1))
        runs = ffi.new("uint64_t *")
        error = ffi.new("pnn_error *")
        _raise_on_error(lib.pnn_session_profile(self._session, node_ns, count, runs, error), error)
        return [node_ns[i] * 1e-6 for i in range(count)], int(runs[0])

    def metadata(self, key: str) -> str | None:
        value = lib.pnn_model_metadata(self._model, key.encode())
        return None if value == ffi.NULL else ffi.string(value).decode()

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs the model; returns {output name: array} (fresh arrays, owned by the caller)."""
        unknown = set(feeds) - {t.name for t in self.inputs}
        if unknown:
            raise ValueError(f"unknown input(s) {sorted(unknown)}; the model's inputs are "
                             f"{[t.name for t in self.inputs]}")
        for index, info in enumerate(self.inputs):
            if info.name not in feeds:
                raise ValueError(f"missing input {info.name!r} (shape {info.shape})")
            value = np.ascontiguousarray(feeds[info.name], dtype=info.dtype)
            if value.shape != info.shape:
                if value.size != int(np.prod(info.shape)):
                    raise ValueError(f"input {info.name!r} has shape {value.shape}, the model "
                                     f"expects {info.shape}")
                value = value.reshape(info.shape)
            target = lib.pnn_session_input(self._session, index)
            ffi.memmove(target, value, value.nbytes)
        error = ffi.new("pnn_error *")
        _raise_on_error(lib.pnn_session_run(self._session, error), error)
        results: dict[str, np.ndarray] = {}
        for index, info in enumerate(self.outputs):
            nbytes = int(np.prod(info.shape, dtype=np.int64)) * info.dtype.itemsize
            source = lib.pnn_session_output(self._session, index)
            array = np.frombuffer(ffi.buffer(source, nbytes), dtype=info.dtype).reshape(info.shape)
            results[info.name] = array.copy()
        return results
