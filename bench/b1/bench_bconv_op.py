"""The binary 3x3 convolution as a whole .pnn op (issue 13's anchor: 256 -> 256 channels
at 56x56, stride 1, zero padding 1, 1 thread): a canonical-form ONNX model (the
Where(Less(x, 0), -1, 1) binarizer, +-a_c weights) converted by pocketnn to one BConv2d,
float NCHW in (packed by the op) and float out, against onnxruntime's fp32 Conv of the
same shape, interleaved in one process, medians. Also two such layers in a row (the
first writes bit-packed output for the second) against two fp32 Convs. Prints the
layer's bytes in the .pnn against its fp32 weights.

    python bench/b1/bench_bconv_op.py [--runs 20] [--size 56] [--channels 256] [--clock cpu|wall]
    bench/avx2_host/run.sh python bench/b1/bench_bconv_op.py    # the AVX2 path
"""

from __future__ import annotations

import os
import sys

import numpy as np
import onnx
import pocketnn
from pocketnn.conversion import convert_graph
from onnx import TensorProto, helper, numpy_helper
from pocketnn.format import spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "bench", "b1"))
from bench_bconv import anchor_arguments, clock_of  # noqa: E402
from timing import interleaved, ort_session  # noqa: E402


def conv_model(channels: int, size: int, layers: int, binarized: bool) -> onnx.ModelProto:
    """`layers` 3x3 convs; with `binarized` each reads Where(Less(x, 0), -1, 1) of its input."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = "x"
    for i in range(layers):
        scale = rng.uniform(0.5, 1.5, channels).astype(np.float32)
        w = rng.choice(np.array([-1.0, 1.0], np.float32), (channels, channels, 3, 3)) * scale[:, None, None, None]
        inits += [numpy_helper.from_array(w.astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(rng.normal(0, 1, channels).astype(np.float32), f"b{i}")]
        if binarized:
            for name, value in (("zero", 0.0), ("neg", -1.0), ("pos", 1.0)):
                inits.append(numpy_helper.from_array(np.array(value, np.float32), f"{name}{i}"))
            nodes += [helper.make_node("Less", [x, f"zero{i}"], [f"less{i}"]),
                      helper.make_node("Where", [f"less{i}", f"neg{i}", f"pos{i}"], [f"sign{i}"])]
            x = f"sign{i}"
        y = "y" if i == layers - 1 else f"y{i}"
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [y], pads=[1, 1, 1, 1]))
        x = y
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                             [1, channels, size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def main() -> None:
    args = anchor_arguments(__doc__, runs=20)
    c, s = args.channels, args.size
    x = np.random.default_rng(1).standard_normal((1, c, s, s)).astype(np.float32)
    fns = {}
    for layers in (1, 2):
        data = pocketnn.convert(conv_model(c, s, layers, True), quiet=True)
        runtime = pocketnn.Model(data)
        kernels = sorted({n.kernel for n in runtime.nodes})
        ops = [n.op for n in runtime.nodes]
        print(f"{layers} layer(s): pocketnn nodes {ops}, kernels {kernels}")
        session = ort_session(conv_model(c, s, layers, False).SerializeToString(), threads=1)
        fns[f"onnxruntime fp32, {layers} conv"] = lambda session=session: session.run(None, {"x": x})
        fns[f"pocketnn BConv2d, {layers} conv"] = lambda runtime=runtime: runtime.run({"x": x})
        # What a C API user gets: the input written where the session reads it
        # (input_buffer), the output read where the session wrote it (copy=False).
        buffer = runtime.input_buffer("x")
        buffer[...] = x
        fns[f"pocketnn BConv2d in place, {layers} conv"] = (
            lambda runtime=runtime, buffer=buffer: runtime.run({"x": buffer}, copy=False))
    medians = interleaved(fns, runs=args.runs, warmup=2, clock=clock_of(args))
    for layers in (1, 2):
        ort_ms = medians[f"onnxruntime fp32, {layers} conv"]
        pnn_ms, view_ms = medians[f"pocketnn BConv2d, {layers} conv"], medians[f"pocketnn BConv2d in place, {layers} conv"]
        print(f"{layers} conv: onnxruntime fp32 {ort_ms:8.2f} ms   pocketnn BConv2d {pnn_ms:8.2f} ms   "
              f"{ort_ms / pnn_ms:5.2f}x   in place {view_ms:8.2f} ms   {ort_ms / view_ms:5.2f}x")
    graph = convert_graph(conv_model(c, s, 1, True), quiet=True)[0]
    node = graph.nodes[0]
    binary = sum(spec.dense_nbytes(graph.tensors[n].dtype, int(np.prod(graph.tensors[n].shape)))
                 for n in node.inputs[1:])
    fp32 = (c * c * 9 + c) * 4
    print(f"layer bytes: binary {binary:,} (weights, multiplier, bias) vs fp32 {fp32:,}: 1/{fp32 / binary:.1f}")


if __name__ == "__main__":
    main()
