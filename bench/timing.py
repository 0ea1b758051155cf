"""Interleaved timing shared by the benchmarks: engines run in turn (A, B, A, B, ...)
so that noise on a shared machine hits them alike; medians in milliseconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved(fns: dict[str, Callable[[], object]], runs: int, warmup: int) -> dict[str, float]:
    """Median milliseconds of each function. A function may return its own time in ms
    as a float (a child process that times itself, without the pipe's round trip)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {label: [] for label in fns}
    for _ in range(runs):
        for label, fn in fns.items():
            start = time.perf_counter()
            own = fn()
            elapsed = (time.perf_counter() - start) * 1e3
            times[label].append(own if isinstance(own, float) else elapsed)
    return {label: statistics.median(t) for label, t in times.items()}
