"""Python wrapper over the native runtime (the cffi extension pocketnn._native)."""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass
from typing import Any, Mapping, Union

import numpy as np

from pocketnn.errors import PocketnnError

try:
    from pocketnn._native import ffi, lib
except ImportError as exc:  # pragma: no cover - only without a compiled build
    raise ImportError(
        "pocketnn's native runtime is not built; install the package with `pip install .`"
    ) from exc

def runtime_version() -> str:
    """The native runtime's release (PNN_RUNTIME_VERSION of the library loaded)."""
    return ffi.string(lib.pnn_runtime_version()).decode()


def runtime_isa() -> str:
    """The kernel path the runtime takes on this CPU when nothing caps it."""
    return ffi.string(lib.pnn_runtime_isa()).decode()


_NUMPY_DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.float32),
    2: np.dtype(np.float16),
    3: np.dtype(np.int8),
    4: np.dtype(np.uint8),
    7: np.dtype(np.int32),
    8: np.dtype(np.int64),
    9: np.dtype(np.bool_),
}


class NativeError(PocketnnError):
    """The native runtime refused a model or a run. ``status`` is the C status name
    (e.g. ``"PNN_ERR_LIMIT"``), ``message`` the runtime's explanation."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class InputError(PocketnnError, ValueError):
    """``Model.run`` got feeds that do not match the model's inputs (names, dtype,
    shape); nothing ran."""


class ModelPathError(PocketnnError, ValueError):
    """``Model(path)`` was given a path that is not a readable regular file."""


# pnn_status code -> its enum name, from the extension's own declaration of the enum.
_STATUS_NAMES: dict[int, str] = ffi.typeof("pnn_status").elements
_SIZE_MAX = int(ffi.cast("size_t", -1))


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


def _status_name(status: int) -> str:
    return _STATUS_NAMES.get(status, f"status {status}")


def _raise_on_error(status: int, error: "ffi.CData") -> None:
    if status != lib.PNN_OK:
        raise NativeError(_status_name(status), ffi.string(error.message).decode(errors="replace"))


def _regular_file_path(source: Union[str, os.PathLike]) -> bytes:
    """The path as bytes for C, after checking it names a regular file; never opens it
    (opening a FIFO blocks until a writer comes)."""
    path = os.fspath(source)
    shown = repr(path)
    encoded = os.fsencode(path)
    if b"\0" in encoded:
        raise ModelPathError(f"model path {shown} contains a NUL byte")
    try:
        info = os.stat(encoded)
    except FileNotFoundError:
        raise ModelPathError(f"model file {shown} does not exist") from None
    except OSError as exc:
        raise ModelPathError(f"model file {shown} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = ("a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                else "a character device" if stat.S_ISCHR(info.st_mode)
                else "a block device" if stat.S_ISBLK(info.st_mode)
                else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
        raise ModelPathError(f"model path {shown} is {kind}; a model is loaded from a regular .pnn file")
    return encoded


def _load_options(max_memory: int | None, isa: str | None) -> tuple["ffi.CData", list[Any]]:
    """pnn_load_options and the buffers it points into (keep them alive for the call)."""
    keep: list[Any] = []
    options = ffi.new("pnn_load_options *")
    if max_memory is not None:
        if isinstance(max_memory, bool) or not isinstance(max_memory, int) or max_memory < 1:
            raise ValueError(f"max_memory must be a positive number of bytes or None (1 GiB), got {max_memory!r}")
        options.max_memory = min(max_memory, _SIZE_MAX)
    if isa is not None:
        if not isinstance(isa, str) or "\0" in isa:
            raise ValueError(f"isa must be a name such as 'scalar' or 'avx2', got {isa!r}")
        name = ffi.new("char[]", isa.encode())
        keep.append(name)
        options.isa = name
    return options, keep


class _Session:
    """One native session (an arena and its threads) over the shared model. Holds the
    model pointer so the model outlives every session."""

    def __init__(self, model: "ffi.CData", threads: int, profile: bool) -> None:
        error = ffi.new("pnn_error *")
        session_pp = ffi.new("pnn_session **")
        options = ffi.new("pnn_session_options *", {"num_threads": threads, "profile": int(profile)})
        _raise_on_error(lib.pnn_session_create_with_options(model, options, session_pp, error), error)
        self.model = model
        self.pointer = ffi.gc(session_pp[0], lib.pnn_session_free)


def _tensor_info(info: "ffi.CData") -> TensorInfo:
    dtype = _NUMPY_DTYPES.get(int(info.dtype))
    if dtype is None:
        raise NativeError("PNN_ERR_UNSUPPORTED", f"tensor dtype code {int(info.dtype)}")
    return TensorInfo(
        name=ffi.string(info.name).decode(),
        shape=tuple(int(info.dims[i]) for i in range(info.rank)),
        dtype=dtype,
    )


def _session_view(pointer: Any, info: TensorInfo) -> np.ndarray:
    """The tensor `info` at `pointer` in a session's memory, as an array (no copy)."""
    nbytes = int(np.prod(info.shape, dtype=np.int64)) * info.dtype.itemsize
    return np.frombuffer(ffi.buffer(pointer, nbytes), dtype=info.dtype).reshape(info.shape)


class Model:
    """A loaded .pnn model.

    ``Model(path)`` or ``Model(data)`` with the file's bytes. A path must name a regular
    file (a directory, FIFO, device, missing file or a path with a NUL byte is refused
    with ``ModelPathError`` before anything is opened).

    - ``threads``: native threads running each call (1 by default; outputs are the same
      for any number).
    - ``profile``: time every node of every run (see ``profile()``).
    - ``max_memory``: bytes one session may use for activations and scratch, and the
      largest one activation may be; a file asking for more is refused with
      ``NativeError`` status ``PNN_ERR_LIMIT`` naming what asked for how much. None:
      the runtime's default, 1 GiB.
    - ``isa``: cap the kernels chosen at load to an instruction set ("scalar", "avx2",
      "avx512", "neon"); None: the best the CPU has, or the environment variable
      ``PNN_ISA``.

    Threads: one Model may be called from any number of Python threads at once (the
    GIL is released while the native code runs). The weights are loaded once and
    shared read-only; each calling thread gets its own native session (activation
    arena, scratch and ``threads`` native threads), created on its first ``run`` (the
    constructing thread's at construction, so a session over the memory limit fails
    there) and freed when the thread ends or the Model is freed. Memory therefore grows by one
    arena per calling thread (``arena_bytes``). ``profile()`` reports the calling
    thread's session.
    """

    def __init__(self, source: Union[str, os.PathLike, bytes, bytearray, memoryview],
                 threads: int = 1, profile: bool = False, max_memory: int | None = None,
                 isa: str | None = None) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        options, keep = _load_options(max_memory, isa)
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
            status = lib.pnn_model_load_with_options(ffi.from_buffer(self._buffer), size, options, model_pp, error)
        elif isinstance(source, (str, os.PathLike)):
            self._buffer = None
            status = lib.pnn_model_load_file_with_options(_regular_file_path(source), options, model_pp, error)
        else:
            raise TypeError(f"Model wants a path or the file's bytes, got {type(source).__name__}")
        del keep
        _raise_on_error(status, error)
        self._model = ffi.gc(model_pp[0], lib.pnn_model_free)
        self.threads = threads
        self._profile = profile
        self._local = threading.local()
        # The constructing thread's session now, so that a session the limit refuses
        # fails here rather than at the first run.
        self._thread_session()
        self.inputs = [self._info(lib.pnn_model_input_info, i) for i in range(lib.pnn_model_num_inputs(self._model))]
        self.outputs = [self._info(lib.pnn_model_output_info, i) for i in range(lib.pnn_model_num_outputs(self._model))]

    def _thread_session(self) -> "ffi.CData":
        """The calling thread's native session, created on first use."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = _Session(self._model, self.threads, self._profile)
            self._local.session = session
        return session.pointer

    @property
    def _session(self) -> "ffi.CData":
        return self._thread_session()

    def _info(self, getter: "ffi.CData", index: int) -> TensorInfo:
        info = ffi.new("pnn_tensor_info *")
        status = getter(self._model, index, info)
        if status != lib.PNN_OK:
            raise NativeError(_status_name(status), f"tensor info {index}")
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
        far of the calling thread's session, and the number of those runs. Needs
        ``Model(..., profile=True)``."""
        count = int(lib.pnn_model_num_nodes(self._model))
        node_ns = ffi.new("uint64_t[]", max(count, 1))
        runs = ffi.new("uint64_t *")
        error = ffi.new("pnn_error *")
        _raise_on_error(lib.pnn_session_profile(self._thread_session(), node_ns, count, runs, error), error)
        return [node_ns[i] * 1e-6 for i in range(count)], int(runs[0])

    def metadata(self, key: str) -> str | None:
        value = lib.pnn_model_metadata(self._model, key.encode())
        return None if value == ffi.NULL else ffi.string(value).decode()

    def input_buffer(self, name: str) -> np.ndarray:
        """A writable view of input `name` in the calling thread's session memory, as the
        C API's ``pnn_session_input`` gives it: fill it in place and pass it to ``run``,
        which then copies nothing in. The runtime never writes graph inputs, so it keeps
        its values between runs; it lives no longer than the Model."""
        for index, info in enumerate(self.inputs):
            if info.name == name:
                return _session_view(lib.pnn_session_input(self._thread_session(), index), info)
        raise InputError(f"unknown input {name!r}; the model's inputs are {[t.name for t in self.inputs]}")

    def _checked_input(self, info: TensorInfo, value: Any, cast: bool) -> np.ndarray:
        """The feed as a C-contiguous array of exactly the input's dtype and shape."""
        array = np.asarray(value)
        if array.dtype != info.dtype:
            if not cast:
                raise InputError(f"input {info.name!r} is {array.dtype}, the model expects {info.dtype} "
                                 f"(convert it, or run(..., cast=True))")
            if not np.can_cast(array.dtype, info.dtype, casting="same_kind"):
                raise InputError(f"input {info.name!r} is {array.dtype}, which does not convert to "
                                 f"{info.dtype} (numpy 'same_kind' casting)")
            array = array.astype(info.dtype, casting="same_kind")
        if array.shape != info.shape:
            expected = int(np.prod(info.shape, dtype=np.int64))
            if not cast or array.size != expected:
                hint = " (same size: run(..., cast=True) reshapes it)" if array.size == expected else ""
                raise InputError(f"input {info.name!r} has shape {array.shape}, the model expects "
                                 f"{info.shape}{hint}")
            array = array.reshape(info.shape)
        return np.ascontiguousarray(array)

    def run(self, feeds: Mapping[str, np.ndarray], cast: bool = False,
            copy: bool = True) -> dict[str, np.ndarray]:
        """Runs the model; returns {output name: array} (fresh arrays, owned by the caller).

        Every input must be given with exactly the model's dtype and shape
        (``inputs``), else ``InputError`` (a ValueError) says what was given and what
        is expected. ``cast=True`` converts dtypes numpy casts within a kind or up
        (e.g. float64 or int32 to float32) and reshapes an array of the same size.
        Non-contiguous arrays are copied. Safe to call from several threads at once.
        A feed that is this thread's ``input_buffer`` is used in place.

        ``copy=False`` returns read-only views of the calling thread's session memory
        instead of fresh arrays, as the C API's ``pnn_session_output`` does: no copy of
        the outputs, but the next ``run`` of the same thread overwrites them (and they live no
        longer than the Model)."""
        unknown = set(feeds) - {t.name for t in self.inputs}
        if unknown:
            raise InputError(f"unknown input(s) {sorted(unknown)}; the model's inputs are "
                             f"{[t.name for t in self.inputs]}")
        missing = [f"{t.name!r} {t.dtype} {t.shape}" for t in self.inputs if t.name not in feeds]
        if missing:
            raise InputError(f"missing input(s) {', '.join(missing)}")
        values = [self._checked_input(info, feeds[info.name], cast) for info in self.inputs]
        session = self._thread_session()
        for index, value in enumerate(values):
            target = lib.pnn_session_input(session, index)
            if value.ctypes.data != int(ffi.cast("uintptr_t", target)):  # else filled in place (input_buffer)
                ffi.memmove(target, value, value.nbytes)
        error = ffi.new("pnn_error *")
        _raise_on_error(lib.pnn_session_run(session, error), error)
        results: dict[str, np.ndarray] = {}
        for index, info in enumerate(self.outputs):
            array = _session_view(lib.pnn_session_output(session, index), info)
            if copy:
                array = array.copy()
            else:
                array.flags.writeable = False
            results[info.name] = array
        return results
