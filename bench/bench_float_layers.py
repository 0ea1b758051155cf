"""Per-node fp32 profile of a whole reference model: pocketnn's node profiler against
onnxruntime's session profiler, single thread, run in turn on one input (the float
counterpart of bench_int8_layers.py). Each node's time is the median (or --stat min)
over the runs; convolutions are paired in graph order, with their GFLOP/s; the other
nodes are summed per op. Under `bench/avx2_host/run.sh` both engines take their AVX2
paths.

    python bench/bench_float_layers.py [--model mobilenet_v1] [--runs 30] [--stat min]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import pocketnn
from bench_int8_layers import ORT_CONV_OPS, STATS, ort_profiled, print_report, profiled_runs
from bench_layers import conv_layers
from pocketnn.reference_models import MODELS
from rich.table import Table
from timing import host_banner


def conv_macs(layer: dict[str, object], out_hw: int) -> int:
    """Multiply-accumulates of one Conv: out channels x out pixels x (in channels / group) x taps."""
    w = layer["w"]
    assert isinstance(w, list)
    return int(np.prod(w)) * out_hw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mobilenet_v1")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--stat", choices=sorted(STATS), default="median",
                        help="per-node statistic over the runs (min resists a busy machine)")
    args = parser.parse_args()
    print(host_banner())
    model = MODELS[args.model]()
    feeds = {"input": np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)}
    with tempfile.TemporaryDirectory() as workdir:
        onnx_path = os.path.join(workdir, f"{args.model}.onnx")
        with open(onnx_path, "wb") as f:
            f.write(model.SerializeToString())
        ours = pocketnn.Model(pocketnn.convert(model), profile=True)
        session = ort_profiled(onnx_path, os.path.join(workdir, "ort"))
        ours_ms, theirs = profiled_runs(ours, session, feeds, args.runs, args.warmup, STATS[args.stat])

    layers = conv_layers(model)
    our_convs = [(node, ms) for node, ms in zip(ours.nodes, ours_ms) if node.op == "Conv"]
    their_convs = [ms for _, op, ms in theirs if op in ORT_CONV_OPS]
    table = Table(title=f"{args.model} fp32 convolutions, 1 thread (ms, {args.stat} of {args.runs} runs)")
    for column in ("#", "x", "w", "stride", "kernel", "pnn ms", "ort ms", "ratio", "pnn - ort", "pnn GF/s"):
        table.add_column(column, justify="left" if column in ("x", "w", "kernel") else "right")
    for i, (node, ms) in enumerate(our_convs):
        layer = layers[i]
        x = layer["x"]
        assert isinstance(x, list)
        stride = layer.get("strides", [1, 1])
        assert isinstance(stride, list)
        out_hw = (x[2] // stride[0]) * (x[3] // stride[1])
        ort_ms = their_convs[i] if i < len(their_convs) else float("nan")
        gflops = 2.0 * conv_macs(layer, out_hw) / (ms * 1e6)
        table.add_row(str(i), "x".join(map(str, x[1:])), "x".join(map(str, layer["w"])), str(stride[0]),
                      node.kernel, f"{ms:.3f}", f"{ort_ms:.3f}", f"{ms / ort_ms:.2f}", f"{ms - ort_ms:+.3f}",
                      f"{gflops:.0f}")
    print_report(table, ours.nodes, ours_ms, theirs, "Conv")

if __name__ == "__main__":
    main()
