"""Run numpy's and scipy's BLAS on one thread for the reconstruction's matrix products.

The products are mid-sized (a few hundred rows); OpenBLAS spreads them over every core
and, on a machine shared with other work, its spinning threads make them 10x slower
than one thread. numpy has no API for this, so we look up OpenBLAS's own setter in each
loaded copy (numpy's and scipy's wheels each bring one; best effort: without it, nothing
changes) and restore the old values.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
            "openblas_set_num_threads")


def _openblas() -> list[tuple[ctypes.CDLL, str, str]]:
    """(library, setter, getter) of every loaded OpenBLAS (scipy's is loaded here first)."""
    import scipy.linalg  # noqa: F401  (its OpenBLAS must be loaded to be limited)

    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            paths = {part for line in f for part in line.split() if "openblas" in part and ".so" in part}
    except OSError:
        return []
    found = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter in _SETTERS:
            getter = setter.replace("set_", "get_")
            if hasattr(lib, setter) and hasattr(lib, getter):
                found.append((lib, setter, getter))
                break
    return found


@contextmanager
def single_thread_blas() -> Iterator[None]:
    found = _openblas()
    before = [int(getattr(lib, getter)()) for lib, _, getter in found]
    for lib, setter, _ in found:
        getattr(lib, setter)(1)
    try:
        yield
    finally:
        for (lib, setter, _), threads in zip(found, before):
            getattr(lib, setter)(threads)
