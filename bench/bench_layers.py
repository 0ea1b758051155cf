"""Per-layer profile: every Conv of a reference model as a one-node model, pocketnn vs
onnxruntime, interleaved, medians of the calling thread's CPU time (less disturbed by
other processes than wall time; with --threads > 1 it only counts the caller's share).
Shows where the time of a whole model goes.

    python bench/bench_layers.py [--model resnet18] [--runs 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import numpy as np
import onnx
import pocketnn
from onnx import TensorProto, helper, numpy_helper
from pocketnn.reference_models import MODELS
from timing import host_banner, ort_session


def conv_layers(model: onnx.ModelProto) -> list[dict[str, object]]:
    """Shapes and attributes of every Conv in the model."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes: dict[str, list[int]] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    layers = []
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        layers.append({"x": shapes[node.input[0]], "w": list(inits[node.input[1]].shape), **attrs})
    return layers


def one_conv(layer: dict[str, object]) -> onnx.ModelProto:
    x_shape = layer["x"]
    w_shape = layer["w"]
    rng = np.random.default_rng(1)
    w = rng.standard_normal(w_shape).astype(np.float32) * 0.1
    b = rng.standard_normal(w_shape[0]).astype(np.float32) * 0.1
    attrs = {k: v for k, v in layer.items() if k not in ("x", "w")}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], **attrs), helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "one", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)


def clock() -> float:
    """CPU time of this thread: less disturbed by other processes on a shared machine."""
    return time.thread_time()


def time_pair(model: onnx.ModelProto, x: np.ndarray, runs: int, threads: int) -> tuple[float, float]:
    ours = pocketnn.Model(pocketnn.convert(model), threads=threads)
    sess = ort_session(model.SerializeToString(), threads)
    feeds = {"x": x}
    a, b = [], []
    for i in range(runs + 2):
        t0 = clock()
        ours.run(feeds)
        t1 = clock()
        sess.run(None, feeds)
        t2 = clock()
        if i >= 2:
            a.append((t1 - t0) * 1e3)
            b.append((t2 - t1) * 1e3)
    return statistics.median(a), statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(host_banner())
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    seen: dict[str, tuple[float, float]] = {}
    print(f"{'layer':44s} {'GMAC':>6s} {'pnn ms':>7s} {'ort ms':>7s} {'ratio':>6s} {'pnn GF/s':>8s}")
    for layer in conv_layers(MODELS[args.model]()):
        x_shape, w_shape = layer["x"], layer["w"]
        k = w_shape[2]
        s = layer.get("strides", [1, 1])[0]
        g = layer.get("group", 1)
        key = f"x{x_shape[1:]} w{w_shape} s{s} g{g}"
        model = one_conv(layer)
        out = model.graph.output[0].type.tensor_type.shape.dim
        oh, ow = out[2].dim_value, out[3].dim_value
        macs = w_shape[0] * w_shape[1] * k * k * oh * ow / 1e9
        if key not in seen:
            x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32)
            seen[key] = time_pair(model, x, args.runs, args.threads)
        ours, theirs = seen[key]
        kind = "dw" if g > 1 else f"{k}x{k}s{s}"
        totals[kind][0] += ours
        totals[kind][1] += theirs
        totals[kind][2] += macs
        print(f"{key:44s} {macs:6.3f} {ours:7.3f} {theirs:7.3f} {ours / theirs:6.2f} {2 * macs / ours * 1e3:8.1f}")
    print()
    for kind, (a, b, macs) in sorted(totals.items()):
        print(f"{kind:8s} GMAC {macs:6.3f} pnn {a:7.2f} ms  ort {b:7.2f} ms  ratio {a / b:5.2f}  pnn {2 * macs / a * 1e3:6.1f} GF/s")
    print(f"{'all':8s} pnn {sum(v[0] for v in totals.values()):7.2f} ms  ort {sum(v[1] for v in totals.values()):7.2f} ms")


if __name__ == "__main__":
    main()
