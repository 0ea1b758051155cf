"""Interleaved timing shared by the benchmarks: engines run in turn (A, B, A, B, ...)
so that noise on a shared machine hits them alike; medians in milliseconds. Also the
onnxruntime session every benchmark compares against, configured for such runs."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

import onnxruntime as ort


def interleaved(fns: dict[str, Callable[[], object]], runs: int, warmup: int,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median milliseconds of each function. A function may return its own time in ms
    as a float (a child process that times itself, without the pipe's round trip).
    `clock=time.thread_time` counts this thread's CPU time instead of wall time: steadier
    on an overloaded machine for engines that compute in the calling thread (1 thread)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {label: [] for label in fns}
    for _ in range(runs):
        for label, fn in fns.items():
            start = clock()
            own = fn()
            elapsed = (clock() - start) * 1e3
            times[label].append(own if isinstance(own, float) else elapsed)
    return {label: statistics.median(t) for label, t in times.items()}


def ort_session(model: bytes | str, threads: int) -> ort.InferenceSession:
    """onnxruntime on the CPU with `threads` intra-op threads and every graph optimization.
    Its idle workers do not spin: interleaved with pocketnn they would take the other
    core from pocketnn's threads (measured: pocketnn at 2 threads slower than at 1)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def host_banner() -> str:
    """The CPU and the ISA paths being measured. `PNN_ISA=avx2` caps pocketnn's kernels
    only (onnxruntime still uses all the host has); `bench/avx2_host/run.sh` hides
    AVX-512 from CPUID so that every engine in the process takes its AVX2 path."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() in ("flags", "Features"):
                    flags = set(value.split())
    except OSError:
        pass
    shown = sorted(flags & {"avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "asimd", "asimddp"})
    if os.environ.get("POCKETNN_AVX2_HOST"):
        return f"{model} [{' '.join(shown)}] posing as AVX2-only (CPUID masked): every engine on its AVX2 path"
    return f"{model} [{' '.join(shown)}]; pocketnn ISA: {os.environ.get('PNN_ISA') or 'best available'}"
