"""pocketnn vs onnxruntime, dense float32, single thread, in one process.

The two engines run interleaved (A, B, A, B, ...) on the same input so that machine
noise hits both alike; the table shows medians and the ratio pocketnn / onnxruntime
(below 1 means pocketnn is faster).

    python bench/bench_dense.py [--models mobilenet_v1,resnet18] [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import onnxruntime as ort
from rich.console import Console
from rich.table import Table

import pocketnn
from pocketnn.reference_models import MODELS


def bench_model(name: str, runs: int, warmup: int) -> tuple[float, float]:
    onnx_model = MODELS[name]()
    runtime = pocketnn.Model(pocketnn.convert(onnx_model))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    feeds = {"input": x}

    def ours() -> None:
        runtime.run(feeds)

    def theirs() -> None:
        session.run(None, feeds)

    for _ in range(warmup):
        ours()
        theirs()
    times: dict[str, list[float]] = {"pocketnn": [], "onnxruntime": []}
    for _ in range(runs):
        for label, fn in (("pocketnn", ours), ("onnxruntime", theirs)):
            start = time.perf_counter()
            fn()
            times[label].append((time.perf_counter() - start) * 1e3)
    return statistics.median(times["pocketnn"]), statistics.median(times["onnxruntime"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    table = Table(title=f"dense float32, 1 thread, 224x224, median of {args.runs} interleaved runs")
    for column in ("model", "pocketnn ms", "onnxruntime ms", "ratio pocketnn/ort"):
        table.add_column(column)
    for name in args.models.split(","):
        ours, theirs = bench_model(name, args.runs, args.warmup)
        table.add_row(name, f"{ours:.2f}", f"{theirs:.2f}", f"{ours / theirs:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
