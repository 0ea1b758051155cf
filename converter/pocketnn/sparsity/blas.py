"""Run numpy's BLAS on one thread for the reconstruction's matrix products.

The products are mid-sized (a few hundred rows); OpenBLAS spreads them over every core
and, on a machine shared with other work, its spinning threads make them 10x slower
than one thread. numpy has no API for this, so we look up OpenBLAS's own setter in the
loaded library (best effort: without it, nothing changes) and restore the old value.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
            "openblas_set_num_threads")


def _openblas() -> tuple[ctypes.CDLL, str, str] | None:
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            paths = {part for line in f for part in line.split() if "openblas" in part and ".so" in part}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter in _SETTERS:
            getter = setter.replace("set_", "get_")
            if hasattr(lib, setter) and hasattr(lib, getter):
                return lib, setter, getter
    return None


@contextmanager
def single_thread_blas() -> Iterator[None]:
    found = _openblas()
    if found is None:
        yield
        return
    lib, setter, getter = found
    before = int(getattr(lib, getter)())
    getattr(lib, setter)(1)
    try:
        yield
    finally:
        getattr(lib, setter)(before)
