"""Writes the seed corpus of the libFuzzer harnesses (tests/fuzz/fuzz_load_run.c): small
ONNX models converted by the installed `pocketnn` package into .pnn files that cover the
format's encodings (f32, s8, s4, group-sparse f32 and s8 with bitmasks and with 16-bit
indices, kxk seeds with column blocks), runtime int and bool values
and most operator codes.

    python3 tests/fuzz/make_corpus.py OUT_DIR

Every seed is a few KB at most, so each fuzzer execution (load, plan, run under
ASan) stays in the milliseconds. The files are deterministic: fixed seeds, fixed
sparsity patterns (no kernel timing), min-max calibration.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
import pocketnn
from pocketnn.conversion import convert_graph, sparsity_options
from pocketnn.format.writer import write_pnn
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
RNG_SEED = 20261206


def _model(nodes: Sequence[onnx.NodeProto], inputs: dict[str, Sequence[int]], outputs: Sequence[str],
           inits: dict[str, np.ndarray] | None = None, opset: int = OPSET) -> onnx.ModelProto:
    """A float32 model of `nodes`: graph inputs by shape, constants in `inits`."""
    graph = helper.make_graph(
        list(nodes), "seed",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _weights(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return (rng.standard_normal(shape) * 0.5).astype(np.float32)


def small_cnn(rng: np.random.Generator) -> onnx.ModelProto:
    """Conv+Relu, MaxPool, AveragePool, GlobalAveragePool, Gemm, Softmax: the packed
    im2col conv path, pools with padding and ceil mode, the GEMV path."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], strides=[2, 2], dilations=[2, 2], pads=[2, 1, 2, 1]),
        helper.make_node("AveragePool", ["c2"], ["p2"], kernel_shape=[2, 2], ceil_mode=1, pads=[1, 0, 0, 1]),
        helper.make_node("GlobalAveragePool", ["p2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1),
    ]
    inits = {"w1": _weights(rng, 6, 3, 3, 3), "b1": _weights(rng, 6), "w2": _weights(rng, 8, 6, 3, 3),
             "w3": _weights(rng, 5, 8), "b3": _weights(rng, 5)}
    return _model(nodes, {"x": [1, 3, 11, 9]}, ["y"], inits)


def conv_variants(rng: np.random.Generator) -> onnx.ModelProto:
    """Depthwise, grouped, 1x1 with fused HardSwish, and a ConvTranspose."""
    nodes = [
        helper.make_node("Conv", ["x", "dw"], ["d"], group=4, pads=[1, 1, 1, 1], strides=[2, 1]),
        helper.make_node("Conv", ["d", "pw", "pb"], ["p"]),
        helper.make_node("HardSwish", ["p"], ["h"]),
        helper.make_node("Conv", ["h", "gw"], ["gconv"], group=2, kernel_shape=[1, 3], pads=[0, 1, 0, 1]),
        helper.make_node("ConvTranspose", ["gconv", "tw", "tb"], ["t"], strides=[2, 2], pads=[1, 1, 0, 0],
                         output_padding=[1, 0]),
        helper.make_node("Sigmoid", ["t"], ["y"]),
    ]
    inits = {"dw": _weights(rng, 4, 1, 3, 3), "pw": _weights(rng, 6, 4, 1, 1), "pb": _weights(rng, 6),
             "gw": _weights(rng, 6, 3, 1, 3), "tw": _weights(rng, 6, 3, 3, 3), "tb": _weights(rng, 3)}
    return _model(nodes, {"x": [1, 4, 9, 7]}, ["y"], inits)


def elementwise(rng: np.random.Generator) -> onnx.ModelProto:
    """Binary ops with broadcasting against constants and a second input, and the
    unary activations."""
    c = lambda *shape: _weights(rng, *shape)  # noqa: E731
    chain = [("Add", "k_add"), ("Mul", "k_mul"), ("Sub", "k_sub"), ("Max", "k_max"), ("Min", "k_min"),
             ("PRelu", "k_prelu")]
    nodes, previous = [], "x"
    for i, (op, constant) in enumerate(chain):
        nodes.append(helper.make_node(op, [previous, constant], [f"b{i}"]))
        previous = f"b{i}"
    unary = [("LeakyRelu", {"alpha": 0.1}), ("Tanh", {}), ("Erf", {}), ("Abs", {}), ("Sqrt", {}), ("Neg", {}),
             ("Exp", {}), ("Softplus", {}), ("Log", {}), ("Elu", {"alpha": 0.7}), ("Floor", {}), ("Ceil", {}),
             ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}), ("Reciprocal", {})]
    for i, (op, attrs) in enumerate(unary):
        nodes.append(helper.make_node(op, [previous], [f"u{i}"], **attrs))
        previous = f"u{i}"
    nodes += [
        helper.make_node("Div", [previous, "z"], ["q"]),
        helper.make_node("Pow", ["q", "k_pow"], ["w"]),
        helper.make_node("Clip", ["w", "lo", "hi"], ["y"]),
    ]
    inits = {"k_add": c(1, 3, 1, 1), "k_mul": c(5), "k_sub": c(1, 1, 4, 5), "k_max": c(4, 1), "k_min": c(1),
             "k_prelu": c(3, 1, 1), "k_pow": np.array([2.0], np.float32),
             "lo": np.array(-1.5, np.float32), "hi": np.array(2.5, np.float32)}
    return _model(nodes, {"x": [1, 3, 4, 5], "z": [1, 3, 1, 5]}, ["y"], inits)


def shapes(rng: np.random.Generator) -> onnx.ModelProto:
    """Concat, Split, Slice, Reshape, Transpose, Pad (three modes), Resize, Gather."""
    nodes = [
        helper.make_node("Concat", ["x", "x2"], ["cat"], axis=1),
        helper.make_node("Split", ["cat", "split"], ["s0", "s1"], axis=1),
        helper.make_node("Slice", ["s1", "starts", "ends", "axes", "steps"], ["sl"]),
        helper.make_node("Transpose", ["sl"], ["tr"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["tr", "shape"], ["rs"]),
        helper.make_node("Pad", ["s0", "pads"], ["pc"], mode="constant"),
        helper.make_node("Pad", ["pc", "pads"], ["pr"], mode="reflect"),
        helper.make_node("Pad", ["pr", "pads_neg"], ["pe"], mode="edge"),
        helper.make_node("Resize", ["pe", "", "scales"], ["rz"], mode="linear"),
        helper.make_node("Resize", ["rz", "", "scales_down"], ["rn"], mode="nearest"),
        helper.make_node("Gather", ["rs", "indices"], ["ga"], axis=1),
    ]
    inits = {"split": np.array([2, 3], np.int64), "starts": np.array([0, -1], np.int64),
             "ends": np.array([3, -100], np.int64), "axes": np.array([1, 3], np.int64),
             "steps": np.array([2, -2], np.int64), "shape": np.array([1, -1, 2], np.int64),
             "pads": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64),
             "pads_neg": np.array([0, 0, -1, 1, 0, 0, 1, -2], np.int64),
             "scales": np.array([1, 1, 2, 1.5], np.float32), "scales_down": np.array([1, 1, 0.5, 0.5], np.float32),
             "indices": np.array([[0, 2], [1, 1]], np.int64)}
    return _model(nodes, {"x": [1, 2, 5, 6], "x2": [1, 3, 5, 6]}, ["ga", "rn"], inits)


def reductions(rng: np.random.Generator) -> onnx.ModelProto:
    """Batch/layer normalization, LRN, the reductions, LogSoftmax, GlobalMaxPool,
    batched MatMul."""
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["bn"], epsilon=1e-3),
        helper.make_node("LRN", ["bn"], ["lrn"], size=3, alpha=1e-3, beta=0.75, bias=1.0),
        helper.make_node("LayerNormalization", ["lrn", "ln_s", "ln_b"], ["ln"], axis=-1),
        helper.make_node("ReduceMean", ["ln"], ["rm"], axes=[3], keepdims=1),
        helper.make_node("ReduceSum", ["ln", "sum_axes"], ["rs"], keepdims=0),
        helper.make_node("ReduceMax", ["ln"], ["rx"], axes=[1, 2], keepdims=1),
        helper.make_node("ReduceMin", ["ln"], ["rn"], axes=[2], keepdims=0),
        helper.make_node("LogSoftmax", ["rn"], ["ls"], axis=-1),
        helper.make_node("GlobalMaxPool", ["ln"], ["gm"]),
        helper.make_node("MatMul", ["ln", "mm"], ["mmo"]),
    ]
    inits = {"s": _weights(rng, 3), "b": _weights(rng, 3), "m": _weights(rng, 3),
             "v": np.abs(_weights(rng, 3)) + 0.5, "ln_s": _weights(rng, 6), "ln_b": _weights(rng, 6),
             "sum_axes": np.array([1], np.int64), "mm": _weights(rng, 2, 1, 6, 4)}
    return _model(nodes, {"x": [1, 3, 5, 6]}, ["rm", "rs", "rx", "ls", "gm", "mmo"], inits)


def conv_paths(rng: np.random.Generator) -> onnx.ModelProto:
    """A 3x3 conv with enough channels and tiles for x86's Winograd path, and a kernel
    larger than its padded-out image whose outer taps read only padding (cropped)."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["y1"]),
        helper.make_node("Conv", ["x2", "w2", "b2"], ["y2"], pads=[4, 4, 4, 4]),
    ]
    inits = {"w1": _weights(rng, 8, 8, 3, 3), "b1": _weights(rng, 8), "w2": _weights(rng, 4, 2, 9, 9),
             "b2": _weights(rng, 4)}
    return _model(nodes, {"x": [1, 8, 9, 9], "x2": [1, 2, 3, 3]}, ["y1", "y2"], inits)


def conv_residual(rng: np.random.Generator) -> onnx.ModelProto:
    """Residual Adds (+Relu) folded into the Convs before them (format 1.13): a 3x3 conv
    with Winograd's tile count, a depthwise conv and a 1x1 conv, each adding a tensor of
    its output's shape."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c1", "x"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["r1"]),
        helper.make_node("Conv", ["r1", "dw"], ["c2"], group=8, pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["r1", "c2"], ["a2"]),
        helper.make_node("Conv", ["a2", "pw", "pb"], ["c3"]),
        helper.make_node("Add", ["c3", "a1"], ["a3"]),
        helper.make_node("Relu", ["a3"], ["y"]),
    ]
    inits = {"w1": _weights(rng, 8, 8, 3, 3), "b1": _weights(rng, 8), "dw": _weights(rng, 8, 1, 3, 3),
             "pw": _weights(rng, 8, 8, 1, 1), "pb": _weights(rng, 8)}
    return _model(nodes, {"x": [1, 8, 9, 9]}, ["y"], inits)


def gemm_matmul(rng: np.random.Generator) -> onnx.ModelProto:
    """Gemm with transposes, alpha/beta and a broadcast C; MatMul with a 1-D operand."""
    nodes = [
        helper.make_node("Gemm", ["x", "w", "c"], ["g"], transA=1, alpha=0.5, beta=2.0),
        helper.make_node("Relu", ["g"], ["r"]),
        helper.make_node("MatMul", ["r", "v"], ["y"]),
    ]
    return _model(nodes, {"x": [7, 3]}, ["y"], {"w": _weights(rng, 7, 9), "c": _weights(rng, 9), "v": _weights(rng, 9)})


def quantizable(rng: np.random.Generator) -> onnx.ModelProto:
    """The integer operators once quantized: QConv (with padding, grouped), QMaxPool,
    QAveragePool, QLookup (Sigmoid, Tanh), QAdd (a residual), QGlobalAveragePool,
    QGemm, Quantize/DequantizeLinear."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["p1"], ["s"]),
        helper.make_node("Conv", ["s", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=4),
        helper.make_node("Add", ["c2", "s"], ["a"]),
        helper.make_node("AveragePool", ["a"], ["ap"], kernel_shape=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0),
        helper.make_node("Conv", ["ap", "w3"], ["c3"]),
        helper.make_node("GlobalAveragePool", ["c3"], ["g"]),
        helper.make_node("Tanh", ["g"], ["t"]),
        helper.make_node("Flatten", ["t"], ["f"]),
        helper.make_node("Gemm", ["f", "w4", "b4"], ["y"], transB=1),
    ]
    inits = {"w1": _weights(rng, 8, 3, 3, 3), "b1": _weights(rng, 8), "w2": _weights(rng, 8, 2, 3, 3),
             "b2": _weights(rng, 8), "w3": _weights(rng, 12, 8, 1, 1), "w4": _weights(rng, 5, 12),
             "b4": _weights(rng, 5)}
    return _model(nodes, {"x": [1, 3, 10, 10]}, ["y"], inits)


def _two_convs_and_gemm(inits: dict[str, np.ndarray], x_shape: list[int], pads: list[int]) -> onnx.ModelProto:
    """Conv w1 -> Relu -> Conv w2 -> Relu -> GlobalAveragePool -> Gemm w3 (transB)."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=pads),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=pads),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1),
    ]
    return _model(nodes, {"x": x_shape}, ["y"], inits)


def sparse_candidate(rng: np.random.Generator) -> onnx.ModelProto:
    """1x1 convolutions and a Gemm wide enough for group-sparse weights (G up to 8)."""
    inits = {"w1": _weights(rng, 16, 8, 1, 1), "b1": _weights(rng, 16), "w2": _weights(rng, 16, 16, 1, 1),
             "b2": _weights(rng, 16), "w3": _weights(rng, 16, 16), "b3": _weights(rng, 16)}
    return _two_convs_and_gemm(inits, [1, 8, 5, 6], [0, 0, 0, 0])


def sparse_kxk_candidate(rng: np.random.Generator) -> onnx.ModelProto:
    """A 3x3 convolution pruned in whole kernel windows: 16-bit group-sparse indices with
    a column block of 9 (format 1.7). The first conv reads the input and stays dense."""
    inits = {"w1": _weights(rng, 16, 4, 3, 3), "b1": _weights(rng, 16), "w2": _weights(rng, 16, 16, 3, 3),
             "b2": _weights(rng, 16), "w3": _weights(rng, 8, 16), "b3": _weights(rng, 8)}
    return _two_convs_and_gemm(inits, [1, 4, 6, 6], [1, 1, 1, 1])


def value_types(rng: np.random.Generator) -> onnx.ModelProto:
    """Runtime int32/int64/bool values (format 1.4): Gather with runtime ids (some out of
    range), comparisons, logic, Where, Cast, ArgMax, CumSum, Expand, Tile, TopK, integer
    Div, and an int64 output."""
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["emb"], axis=0),
        helper.make_node("Cast", ["ids"], ["ids64"], to=TensorProto.INT64),
        helper.make_node("Greater", ["ids64", "three"], ["big"]),
        helper.make_node("Not", ["big"], ["small"]),
        helper.make_node("Xor", ["big", "small"], ["all"]),
        helper.make_node("Where", ["big", "ids64", "three"], ["clipped"]),
        helper.make_node("Div", ["clipped", "ids64"], ["ratio"]),
        helper.make_node("CumSum", ["ratio", "axis1"], ["cum"], exclusive=1),
        helper.make_node("Tile", ["cum", "reps"], ["tiled"]),
        helper.make_node("Reshape", ["all", "column"], ["all3"]),
        helper.make_node("Expand", ["all3", "wide"], ["mask"]),
        helper.make_node("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["emb", "maskf"], ["masked"]),
        helper.make_node("ArgMax", ["masked"], ["best"], axis=2, keepdims=0),
        helper.make_node("TopK", ["masked", "k"], ["top", "top_i"], axis=-1),
        helper.make_node("Equal", ["best", "tiled"], ["y_bool"]),
        helper.make_node("Cast", ["y_bool"], ["y"], to=TensorProto.INT64),
    ]
    inits = {"table": _weights(rng, 9, 4), "three": np.array(3, np.int64), "axis1": np.array(1, np.int64),
             "reps": np.array([1, 1], np.int64), "wide": np.array([2, 5, 4], np.int64),
             "column": np.array([2, 5, 1], np.int64),
             "k": np.array([2], np.int64)}
    graph = helper.make_graph(
        nodes, "seed", [helper.make_tensor_value_info("ids", TensorProto.INT32, [2, 5])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, None),
         helper.make_tensor_value_info("top", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


def _clustered_signs(rng: np.random.Generator, out_channels: int, channels: int) -> np.ndarray:
    """+-a_c 3x3 weights where each channel copies an earlier one with one tap redrawn."""
    w = rng.choice(np.array([-1.0, 1.0], np.float32), (out_channels, channels, 3, 3))
    for m in range(1, out_channels):
        tap, fresh = divmod(int(rng.integers(9)), 3), w[m].copy()
        w[m] = w[rng.integers(m)]
        w[m, :, tap[0], tap[1]] = fresh[:, tap[0], tap[1]]
    return w * rng.uniform(0.5, 2.0, (out_channels, 1, 1, 1)).astype(np.float32)


def binary_mst(rng: np.random.Generator) -> onnx.ModelProto:
    """Two binary 3x3 convs (zero-positive sign, bits between them) whose channels are
    near-copies: BConv2d with a tree-delta (MST) plan built at load."""
    nodes, inits = [], {"zero": np.array(0.0, np.float32), "neg": np.array(-1.0, np.float32),
                        "pos": np.array(1.0, np.float32)}
    for i, (c, m) in enumerate(((16, 64), (64, 12))):
        x, y = ("x" if i == 0 else "y0"), ("y" if i == 1 else "y0")
        nodes += [helper.make_node("Less", [x, "zero"], [f"l{i}"]),
                  helper.make_node("Where", [f"l{i}", "neg", "pos"], [f"s{i}"]),
                  helper.make_node("Conv", [f"s{i}", f"w{i}", f"b{i}"], [y], pads=[1, 1, 1, 1])]
        inits[f"w{i}"] = _clustered_signs(rng, m, c).astype(np.float32)
        inits[f"b{i}"] = _weights(rng, m)
    return _model(nodes, {"x": [1, 16, 6, 5]}, ["y"], inits)


def recurrent(rng: np.random.Generator) -> onnx.ModelProto:
    """The whole-layer LSTM (bidirectional, initial states, clip, all three outputs) and
    GRU (reverse, linear_before_reset, no bias) operators."""
    hidden, size = 3, 4
    nodes = [
        helper.make_node("LSTM", ["x", "lw", "lr", "lb", "", "h0", "c0"], ["y", "y_h", "y_c"], hidden_size=hidden,
                         direction="bidirectional", clip=2.0),
        helper.make_node("GRU", ["x", "gw", "gr"], ["", "g_h"], hidden_size=hidden, direction="reverse",
                         linear_before_reset=1),
    ]
    inits = {"lw": _weights(rng, 2, 4 * hidden, size), "lr": _weights(rng, 2, 4 * hidden, hidden),
             "lb": _weights(rng, 2, 8 * hidden), "gw": _weights(rng, 1, 3 * hidden, size),
             "gr": _weights(rng, 1, 3 * hidden, hidden)}
    return _model(nodes, {"x": [5, 2, size], "h0": [2, 2, hidden], "c0": [2, 2, hidden]},
                  ["y", "y_h", "y_c", "g_h"], inits)


def dynamic_lstm(rng: np.random.Generator) -> onnx.ModelProto:
    """com.microsoft DynamicQuantizeLSTM: the LSTM with s8 W and R (format 1.12), u8 weights
    with per-direction zero points, a bidirectional layer, batch 2."""
    hidden, size, dirs = 3, 5, 2
    node = helper.make_node("DynamicQuantizeLSTM", ["x", "w", "r", "b", "", "", "", "", "ws", "wz", "rs", "rz"],
                            ["y"], domain="com.microsoft", hidden_size=hidden, direction="bidirectional")
    inits = {"w": rng.integers(0, 256, (dirs, size, 4 * hidden)).astype(np.uint8),
             "r": rng.integers(0, 256, (dirs, hidden, 4 * hidden)).astype(np.uint8),
             "b": _weights(rng, dirs, 8 * hidden), "ws": np.full(dirs, 0.01, np.float32),
             "wz": np.array([120, 131], np.uint8), "rs": np.full(dirs, 0.02, np.float32),
             "rz": np.array([128, 125], np.uint8)}
    model = _model([node], {"x": [4, 2, size]}, ["y"], inits)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model


def _calib(model: onnx.ModelProto, rng: np.random.Generator, samples: int = 16) -> dict[str, np.ndarray]:
    value = model.graph.input[0]
    shape = [d.dim_value for d in value.type.tensor_type.shape.dim]
    return {value.name: rng.standard_normal((samples, *shape[1:])).astype(np.float32)}


def _quantized(make: Callable[[np.random.Generator], onnx.ModelProto], scheme: str,
               **options: object) -> Callable[[np.random.Generator], bytes]:
    def build(rng: np.random.Generator) -> bytes:
        model = make(rng)
        return pocketnn.convert(model, quantize=scheme, calib=_calib(model, rng), calib_method="minmax", **options)
    return build


def _plain(make: Callable[[np.random.Generator], onnx.ModelProto], **options: object) -> Callable[[np.random.Generator], bytes]:
    return lambda rng: pocketnn.convert(make(rng), **options)


def _indices16(make: Callable[[np.random.Generator], onnx.ModelProto], quantize: str | None = None,
               sparsity: float = 0.75, group: int = 4) -> Callable[[np.random.Generator], bytes]:
    """Pruned as pocketnn.convert does, written with 16-bit indices (encoding 2, format
    1.7): at these densities the writer would take bitmasks (encoding 4, 1.9)."""
    def build(rng: np.random.Generator) -> bytes:
        model = make(rng)
        calib = _calib(model, rng) if quantize else None
        graph, _ = convert_graph(model, options=sparsity_options(sparsity, group), quantize=quantize, calib=calib,
                                 calib_method="minmax", quiet=True)
        return write_pnn(graph, sparse_bitmask=False)
    return build


SEEDS: dict[str, Callable[[np.random.Generator], bytes]] = {
    "f32_small_cnn": _plain(small_cnn),
    "f32_conv_variants": _plain(conv_variants),
    "f32_elementwise": _plain(elementwise),
    "f32_shapes": _plain(shapes),
    "f32_reductions": _plain(reductions),
    "f32_gemm_matmul": _plain(gemm_matmul),
    "int_value_types": _plain(value_types),
    "f32_conv_paths": _plain(conv_paths),
    "f32_conv_residual": _plain(conv_residual),  # format 1.13: Conv input 3 is the residual
    "s8_quantized": _quantized(quantizable, "int8"),
    "s4_quantized": _quantized(quantizable, "int4"),
    **{f"f32_sparse_g{g}": _plain(sparse_candidate, sparsity=0.75, sparsity_pattern=g) for g in (1, 2, 4, 8)},
    **{f"s8_sparse_g{g}": _quantized(sparse_candidate, "int8", sparsity=0.75, sparsity_pattern=g) for g in (2, 4)},
    # Format 1.10: these near-copy weights are stored as tree deltas (encoding 5); the
    # third keeps the plain rows.
    "b1_mst_convs": _plain(binary_mst),
    "b1_mst_choice": _plain(binary_mst, mst="on"),  # the optional attribute mst on BConv2d
    "b1_mst_convs_plain_rows": lambda rng: write_pnn(convert_graph(binary_mst(rng), quiet=True)[0], b1_deltas=False),
    "f32_recurrent": _plain(recurrent),
    # Format 1.12: the LSTM with s8 W and R, their scales and zero points.
    "s8_dynamic_lstm": _plain(dynamic_lstm),
    # Format 1.9: the pruned layers above and these two are stored as bitmasks (encoding 4).
    "f32_sparse_bitmask_kxk_g4": _plain(sparse_kxk_candidate, sparsity=0.75, sparsity_pattern=4),
    "s8_sparse_bitmask_kxk_g4": _quantized(sparse_kxk_candidate, "int8", sparsity=0.75, sparsity_pattern=4),
    # Format 1.7: 16-bit indices (encoding 2), columns and kernel windows.
    "f32_sparse16_g2": _indices16(sparse_candidate, group=2),
    "f32_sparse16_kxk_g4": _indices16(sparse_kxk_candidate),
    "s8_sparse16_kxk_g4": _indices16(sparse_kxk_candidate, "int8"),
    # Format 1.8: QGemm / QConv tables narrowed to s8 / s16 (encoding 3), packed unaligned.
    "s8_narrow_tables": _quantized(sparse_candidate, "int8"),
}


def write_corpus(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index, (name, build) in enumerate(SEEDS.items()):
        data = build(np.random.default_rng(RNG_SEED + index))
        pocketnn.Model(data)  # a seed the runtime refuses would teach the fuzzer nothing
        path = out_dir / f"{name}.pnn"
        path.write_bytes(data)
        written.append(path)
    return written


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus.py OUT_DIR")
    paths = write_corpus(Path(sys.argv[1]))
    sizes = ", ".join(f"{p.stem} {p.stat().st_size}" for p in paths)
    print(f"wrote {len(paths)} seeds to {sys.argv[1]} (bytes: {sizes})")


if __name__ == "__main__":
    main()
