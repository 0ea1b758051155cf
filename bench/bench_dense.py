"""pocketnn vs onnxruntime, dense float32, in one process.

The two engines run interleaved (A, B, A, B, ...) on the same input so that machine
noise hits both alike; the table shows medians, the ratio pocketnn / onnxruntime
(below 1 means pocketnn is faster) and pocketnn's fraction of one core's AVX-512 FMA
peak (--peak GFLOP/s per thread). Then pocketnn's own speedup with 2 threads over 1
on ResNet-18, interleaved the same way.

    python bench/bench_dense.py [--models mobilenet_v1,resnet18] [--runs 30] [--threads 2] [--clock cpu]

--clock cpu times the engines by the calling thread's CPU time (steadier on a shared
machine; only meaningful at 1 thread); the 2-thread speedup is always wall time.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pocketnn
from pocketnn.reference_models import MODELS
from rich.console import Console
from rich.table import Table
from timing import host_banner, interleaved, ort_session

# Multiply-accumulates per inference at 224x224 (each is 2 FLOPs).
MACS = {"mobilenet_v1": 569e6, "mobilenet_v2": 300e6, "resnet18": 1.82e9}


def bench_threads(name: str, threads: int, runs: int, warmup: int) -> tuple[float, float]:
    packed = pocketnn.convert(MODELS[name]())
    one, many = pocketnn.Model(packed, threads=1), pocketnn.Model(packed, threads=threads)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    feeds = {"input": x}
    t = interleaved({"1": lambda: one.run(feeds), "n": lambda: many.run(feeds)}, runs, warmup)
    return t["1"], t["n"]


def bench_model(name: str, runs: int, warmup: int, threads: int = 1,
                clock: Callable[[], float] = time.perf_counter) -> tuple[float, float]:
    onnx_model = MODELS[name]()
    runtime = pocketnn.Model(pocketnn.convert(onnx_model), threads=threads)
    session = ort_session(onnx_model.SerializeToString(), threads)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    feeds = {"input": x}

    t = interleaved({"pocketnn": lambda: runtime.run(feeds), "onnxruntime": lambda: session.run(None, feeds)},
                    runs, warmup, clock)
    return t["pocketnn"], t["onnxruntime"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="threads for both engines")
    parser.add_argument("--peak", type=float, default=140.0, help="GFLOP/s of one core at peak")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall time, or the calling thread's CPU time (1 thread)")
    args = parser.parse_args()
    print(host_banner())
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    table = Table(title=f"dense float32, {args.threads} thread(s), 224x224, median of {args.runs} interleaved runs "
                        f"({args.clock} time)")
    for column in ("model", "pocketnn ms", "onnxruntime ms", "ratio pocketnn/ort", "pocketnn % of peak"):
        table.add_column(column)
    for name in args.models.split(","):
        ours, theirs = bench_model(name, args.runs, args.warmup, args.threads, clock)
        peak = 100.0 * 2.0 * MACS.get(name, 0.0) / (ours * 1e-3) / (args.peak * 1e9 * args.threads)
        table.add_row(name, f"{ours:.2f}", f"{theirs:.2f}", f"{ours / theirs:.2f}", f"{peak:.0f}%")
    Console().print(table)
    one, two = bench_threads("resnet18", 2, args.runs, args.warmup)
    Console().print(f"resnet18 pocketnn: 1 thread {one:.2f} ms, 2 threads {two:.2f} ms, speedup {one / two:.2f}x")


if __name__ == "__main__":
    main()
