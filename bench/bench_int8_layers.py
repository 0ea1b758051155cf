"""Per-layer int8 profile of a whole model: pocketnn's int8 .pnn against onnxruntime's QDQ
model (u8 activations, s8 per-channel weights), both quantized from the same float model
and calibration images as in bench_int8.py, single thread, run in turn on one input.

pocketnn's times come from its own node profiler, onnxruntime's from its session
profiler: the median (or --stat min) over the runs of each node's time. The convolutions of both are
paired in graph order (QConv nodes against onnxruntime's conv kernels: QLinearConv or
its fused forms); the other nodes are summed per op. With --save DIR the converted
models are kept in DIR and reused by the next call (conversion takes a minute).

    python bench/bench_int8_layers.py [--model resnet18] [--runs 20] [--save /tmp/int8_models]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from collections import defaultdict
from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
import pocketnn
from bench_int8 import CALIB_PHOTOS, EVAL_PHOTOS, _Reader, photo_crops
from bench_layers import conv_layers
from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
from pocketnn.reference_models import MODELS
from pocketnn.runtime import NodeInfo
from rich.console import Console
from rich.table import Table
from timing import host_banner

STATS: dict[str, Callable[[list[float]], float]] = {"median": statistics.median, "min": min}
ORT_CONV_OPS = ("QLinearConv", "Conv", "FusedConv", "NhwcQLinearConv", "QLinearConvTranspose")


def converted(name: str, directory: str, calib: np.ndarray) -> tuple[onnx.ModelProto, bytes, str]:
    """The float model, its int8 .pnn and the path of its QDQ ONNX file (made once per directory)."""
    model = MODELS[name]()
    float_path, pnn_path = os.path.join(directory, f"{name}.onnx"), os.path.join(directory, f"{name}.int8.pnn")
    qdq_path = os.path.join(directory, f"{name}.qdq.onnx")
    if not os.path.exists(pnn_path):
        onnx.save(model, float_path)
        packed = pocketnn.convert(model, quantize="int8", calib={"input": calib}, calib_method="minmax")
        quantize_static(float_path, qdq_path, _Reader(calib), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        with open(pnn_path, "wb") as f:
            f.write(packed)
    with open(pnn_path, "rb") as f:
        return model, f.read(), qdq_path


def ort_profiled(qdq_path: str, prefix: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_profiling = True
    options.profile_file_prefix = prefix
    return ort.InferenceSession(qdq_path, options, providers=["CPUExecutionProvider"])


def ort_node_times(profile_path: str, runs: int, stat: Callable[[list[float]], float]) -> list[tuple[str, str, float]]:
    """(node name, op, stat of its ms) of each kernel in execution order over the last `runs` runs."""
    with open(profile_path, encoding="utf-8") as f:
        events = json.load(f)
    per_node: dict[str, list[float]] = defaultdict(list)
    ops: dict[str, str] = {}
    order: list[str] = []
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
            continue
        node = event["name"][: -len("_kernel_time")]
        if node not in ops:
            order.append(node)
        ops[node] = event.get("args", {}).get("op_name", "?")
        per_node[node].append(event["dur"] * 1e-3)
    return [(node, ops[node], stat(per_node[node][-runs:])) for node in order]


def profiled_runs(ours: pocketnn.Model, session: ort.InferenceSession, feeds: dict[str, np.ndarray], runs: int,
                  warmup: int, stat: Callable[[list[float]], float]) -> tuple[list[float], list[tuple[str, str, float]]]:
    """Both engines in turn: pocketnn's per-node stat of ms (a Model made with profile=True)
    and onnxruntime's (ort_node_times of a session from ort_profiled)."""
    for _ in range(warmup):
        ours.run(feeds)
        session.run(None, feeds)
    per_run: list[list[float]] = []
    before, _ = ours.profile()
    for _ in range(runs):
        ours.run(feeds)
        session.run(None, feeds)
        after, _ = ours.profile()
        per_run.append([a - b for a, b in zip(after, before)])
        before = after
    return [stat(times) for times in zip(*per_run)], ort_node_times(session.end_profiling(), runs, stat)


def print_report(conv_table: Table, nodes: list[NodeInfo], ours_ms: list[float],
                 theirs: list[tuple[str, str, float]], conv_op: str) -> None:
    """The convolutions' table, the other nodes per op and the totals of both engines."""
    console = Console(width=max(Console().width, 140))
    console.print(conv_table)
    console.print(other_ops_table(nodes, ours_ms, theirs, conv_op))
    console.print(f"convolutions: pocketnn {sum(ms for node, ms in zip(nodes, ours_ms) if node.op == conv_op):.2f} "
                  f"ms, onnxruntime {sum(ms for _, op, ms in theirs if op in ORT_CONV_OPS):.2f} ms; whole model: "
                  f"pocketnn {sum(ours_ms):.2f} ms, onnxruntime {sum(ms for _, _, ms in theirs):.2f} ms "
                  "(sum of nodes)")


def other_ops_table(nodes: list[NodeInfo], ours_ms: list[float], theirs: list[tuple[str, str, float]],
                    conv_op: str) -> Table:
    """The nodes that are not convolutions, summed per op and kernel, of both engines."""
    other = Table(title="everything else, per op (ms per run)")
    for column in ("engine", "op", "nodes", "ms"):
        other.add_column(column)
    ours_by_op: dict[str, list[float]] = defaultdict(list)
    for node, ms in zip(nodes, ours_ms):
        if node.op != conv_op:
            ours_by_op[f"{node.op} {node.kernel}"].append(ms)
    theirs_by_op: dict[str, list[float]] = defaultdict(list)
    for _, op, ms in theirs:
        if op not in ORT_CONV_OPS:
            theirs_by_op[op].append(ms)
    for engine, by_op in (("pocketnn", ours_by_op), ("onnxruntime", theirs_by_op)):
        for op, times in sorted(by_op.items(), key=lambda kv: -sum(kv[1])):
            other.add_row(engine, op, str(len(times)), f"{sum(times):.3f}")
    return other


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--calib", type=int, default=16, help="calibration images")
    parser.add_argument("--stat", choices=sorted(STATS), default="median",
                        help="per-node statistic over the runs (min resists a busy machine)")
    parser.add_argument("--save", default=None, help="directory that keeps the converted models")
    args = parser.parse_args()
    print(host_banner())
    with tempfile.TemporaryDirectory() as workdir:
        directory = args.save or workdir
        os.makedirs(directory, exist_ok=True)
        model, packed, qdq_path = converted(args.model, directory, photo_crops(CALIB_PHOTOS, args.calib, seed=0))
        feeds = {"input": photo_crops(EVAL_PHOTOS, 1, seed=1)}
        ours = pocketnn.Model(packed, profile=True)
        session = ort_profiled(qdq_path, os.path.join(workdir, "ort"))
        ours_ms, theirs = profiled_runs(ours, session, feeds, args.runs, args.warmup, STATS[args.stat])

    layers = conv_layers(model)
    our_convs = [(node, ms) for node, ms in zip(ours.nodes, ours_ms) if node.op == "QConv"]
    their_convs = [(name, ms) for name, op, ms in theirs if op in ORT_CONV_OPS]
    table = Table(title=f"{args.model} int8 convolutions, 1 thread (ms, {args.stat} of {args.runs} runs)")
    for column in ("#", "x", "w", "stride", "kernel", "pnn ms", "ort ms", "ratio"):
        table.add_column(column, justify="right" if column in ("#", "pnn ms", "ort ms", "ratio") else "left")
    for i, (node, ms) in enumerate(our_convs):
        layer = layers[i] if i < len(layers) else {}
        ort_ms = their_convs[i][1] if i < len(their_convs) else float("nan")
        table.add_row(str(i), "x".join(map(str, layer.get("x", [])[1:])), "x".join(map(str, layer.get("w", []))),
                      str(layer.get("strides", [1])[0]), node.kernel, f"{ms:.3f}", f"{ort_ms:.3f}",
                      f"{ms / ort_ms:.2f}")
    print_report(table, ours.nodes, ours_ms, theirs, "QConv")


if __name__ == "__main__":
    main()
