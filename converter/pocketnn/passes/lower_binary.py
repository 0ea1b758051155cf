"""Lowers binary layers of the canonical form (docs/BINARY.md) to BConv2d / BGemm.

A binary layer is a Conv, Gemm or MatMul whose input is binarized, by ONNX `Sign(x)` or
by `Where(Less(x, 0), -1, 1)`, optionally through a constant `Pad` of value 1 (one
padding) or 0 (zero padding), and whose weight is a constant holding +a_c or -a_c in each
output channel (relative tolerance WEIGHT_TOLERANCE). It becomes one BConv2d / BGemm
reading x itself (the runtime packs its sign bits) with 1-bit weights, multiplier a_c
(times Gemm's alpha) and the layer's bias: output = a_c * dot + bias, the fused Relu /
Clip as a clamp (docs/OPS.md "Binary operators").

Between two binary layers (binary layer -> sign -> binary layer, with no activation
between) the first one writes bit-packed b1 output by a per-channel threshold instead of
floats, and the second reads it as is.

The kernels binarize 0 to +1: exact for the Where form, while ONNX Sign(0) = 0, so on a
Sign model the outputs differ where an activation is exactly 0 (docs/BINARY.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pocketnn.binary.simulate import WORD_BITS, thresholds, words
from pocketnn.format.opcodes import ACTIVATIONS
from pocketnn.ir import AttrValue, DType, Graph, Node, Tensor
from pocketnn.passes.graph_utils import consumer_map, copy_graph, producer_map
from pocketnn.passes.remove_dead import remove_dead_nodes

# Weights count as +-a_c when every |w| is within this relative distance of their mean
# (Larq Compute Engine's converter uses the same 0.5%).
WEIGHT_TOLERANCE = 0.005
_CLAMPS = (ACTIVATIONS["none"], ACTIVATIONS["relu"], ACTIVATIONS["clip"])
_PAD_VALUES = {0.0: 0, 1.0: 1}  # Pad value -> BConv2d attribute padding (0 zero, 1 one)
BINARY_OPS = ("BConv2d", "BGemm")


@dataclass(frozen=True)
class BinaryInput:
    """A layer input traced back through its binarizer: the float tensor binarized, the
    padding kind and the spatial pads of an explicit Pad (top, left, bottom, right)."""

    source: str
    padding: int = 0
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)


def binary_scales(weights: np.ndarray) -> np.ndarray | None:
    """a_c of each output channel (axis 0) when all its weights are +a_c or -a_c, a_c > 0,
    within WEIGHT_TOLERANCE; None otherwise."""
    flat = np.abs(weights.reshape(weights.shape[0], -1).astype(np.float64))
    if flat.size == 0 or not np.all(np.isfinite(flat)):
        return None
    scale = flat.mean(axis=1)
    if not np.all(scale > 0) or np.any(np.abs(flat - scale[:, None]) > WEIGHT_TOLERANCE * scale[:, None]):
        return None
    return scale


def _all_equal(graph: Graph, name: str, value: float) -> bool:
    data = graph.constant(name)
    return data is not None and data.size > 0 and bool(np.all(data == value))


def _binarizer_source(graph: Graph, name: str, producers: dict[str, Node]) -> str | None:
    """x when `name` is Sign(x) or Where(Less(x, 0), -1, 1) of x's own shape."""
    node = producers.get(name)
    if node is None:
        return None
    if node.op == "Sign":
        return node.inputs[0]
    if node.op != "Where" or len(node.inputs) != 3:
        return None
    condition, negative, positive = node.inputs
    less = producers.get(condition)
    if (less is None or less.op != "Less" or not _all_equal(graph, less.inputs[1], 0.0)
            or not _all_equal(graph, negative, -1.0) or not _all_equal(graph, positive, 1.0)):
        return None
    source = less.inputs[0]
    if graph.tensors[source].dtype != DType.F32 or graph.tensors[source].shape != graph.tensors[name].shape:
        return None
    return source


def _binary_input(graph: Graph, name: str, producers: dict[str, Node]) -> BinaryInput | None:
    """The binarized source of a layer input, through an optional constant Pad of the
    spatial axes of an NCHW tensor."""
    pad = producers.get(name)
    if pad is None or pad.op != "Pad":
        source = _binarizer_source(graph, name, producers)
        return None if source is None else BinaryInput(source)
    pads = [int(p) for p in pad.attrs.get("pads", [])]  # type: ignore[union-attr]
    value = float(pad.attrs.get("value", 0.0))  # type: ignore[arg-type]
    if (int(pad.attrs.get("mode", 0)) != 0 or len(pads) != 8 or value not in _PAD_VALUES  # type: ignore[arg-type]
            or any(pads[i] != 0 for i in (0, 1, 4, 5)) or any(p < 0 for p in pads)):
        return None
    source = _binarizer_source(graph, pad.inputs[0], producers)
    if source is None:
        return None
    return BinaryInput(source, _PAD_VALUES[value], (pads[2], pads[3], pads[6], pads[7]))


def _bit_rows(signs_negative: np.ndarray) -> np.ndarray:
    """Bits (True = -1) [M, ..., C] padded with False to whole 64-bit words along C."""
    channels = signs_negative.shape[-1]
    width = words(channels) * WORD_BITS
    pad = [(0, 0)] * (signs_negative.ndim - 1) + [(0, width - channels)]
    return np.pad(signs_negative, pad, constant_values=False)


def _add_constant(graph: Graph, name: str, dtype: DType, data: np.ndarray) -> str:
    unique, i = name, 1
    while unique in graph.tensors:
        unique, i = f"{name}_{i}", i + 1
    graph.tensors[unique] = Tensor(unique, dtype, tuple(int(d) for d in data.shape), data)
    return unique


def _clamp_attrs(node: Node) -> dict[str, AttrValue] | None:
    act = int(node.attrs.get("act", 0))  # type: ignore[arg-type]
    if act not in _CLAMPS:
        return None
    return {key: node.attrs[key] for key in ("act", "act_alpha", "act_beta") if key in node.attrs}


def _binary_node(graph: Graph, node: Node, op: str, source: str, bits: np.ndarray, multiplier: np.ndarray,
                 bias: np.ndarray, attrs: dict[str, AttrValue]) -> Node:
    w = _add_constant(graph, f"{node.name or node.outputs[0]}_b1_weights", DType.B1, bits)
    a = _add_constant(graph, f"{node.name or node.outputs[0]}_b1_multiplier", DType.F32,
                      np.asarray(multiplier, np.float32))
    b = _add_constant(graph, f"{node.name or node.outputs[0]}_b1_bias", DType.F32, np.asarray(bias, np.float32))
    return Node(op, node.name, [source, w, a, b], list(node.outputs), attrs)


def _lower_conv(graph: Graph, node: Node, producers: dict[str, Node]) -> Node | None:
    weights = graph.constant(node.inputs[1])
    x_shape = graph.tensors[node.inputs[0]].shape
    clamp = _clamp_attrs(node)
    if weights is None or weights.ndim != 4 or len(x_shape) != 4 or clamp is None:
        return None
    binary = _binary_input(graph, node.inputs[0], producers)
    scale = binary_scales(weights)
    if binary is None or scale is None:
        return None
    conv_pads = [int(p) for p in node.attrs.get("pads", [0, 0, 0, 0])]  # type: ignore[union-attr]
    if binary.padding == 1 and any(conv_pads):
        return None  # zero padding around one padding: not one kind of padding
    pads = [p + q for p, q in zip(conv_pads, binary.pads)]
    bias = graph.constant(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    channels = graph.tensors[binary.source].shape[1]
    bits = _bit_rows(np.transpose(weights < 0, (0, 2, 3, 1)))
    attrs: dict[str, AttrValue] = {
        "group": int(node.attrs.get("group", 1)),  # type: ignore[arg-type]
        "strides": list(node.attrs.get("strides", [1, 1])),  # type: ignore[arg-type]
        "dilations": list(node.attrs.get("dilations", [1, 1])),  # type: ignore[arg-type]
        "pads": pads, "padding": binary.padding, "channels": int(channels), **clamp,
    }
    return _binary_node(graph, node, "BConv2d", binary.source, bits, scale,
                        np.zeros(len(scale)) if bias is None else bias.reshape(-1), attrs)


def _dense_weights(graph: Graph, node: Node) -> tuple[np.ndarray, float, np.ndarray | None] | None:
    """W [M, K], alpha and the bias vector [M] (or None) of a Gemm / MatMul with a
    constant weight, when it is a plain dense layer on a 2-D input."""
    b = graph.constant(node.inputs[1])
    if b is None or b.ndim != 2 or len(graph.tensors[node.inputs[0]].shape) != 2:
        return None
    bias_name = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    bias = graph.constant(bias_name) if bias_name else None
    if bias_name and bias is None:
        return None
    if node.op == "MatMul":
        return b.T, 1.0, None if bias is None else bias.reshape(-1)
    if int(node.attrs.get("trans_a", 0)):  # type: ignore[arg-type]
        return None
    w = b if int(node.attrs.get("trans_b", 0)) else b.T  # type: ignore[arg-type]
    if bias is not None:
        if bias.ndim == 2 and bias.shape[0] != 1:
            return None  # C varies along the rows: not a bias
        bias = float(node.attrs.get("beta", 1.0)) * np.broadcast_to(bias.reshape(-1), (w.shape[0],))  # type: ignore[arg-type]
    return w, float(node.attrs.get("alpha", 1.0)), bias  # type: ignore[arg-type]


def _lower_dense(graph: Graph, node: Node, producers: dict[str, Node]) -> Node | None:
    dense = _dense_weights(graph, node)
    clamp = _clamp_attrs(node)
    if dense is None or clamp is None:
        return None
    w, alpha, bias = dense
    binary = _binary_input(graph, node.inputs[0], producers)
    scale = binary_scales(w)
    if binary is None or binary.pads != (0, 0, 0, 0) or scale is None or alpha <= 0:
        return None
    attrs: dict[str, AttrValue] = {"channels": int(w.shape[1]), **clamp}
    return _binary_node(graph, node, "BGemm", binary.source, _bit_rows(w < 0), alpha * scale,
                        np.zeros(len(scale)) if bias is None else bias, attrs)


def _chain_bits(graph: Graph) -> None:
    """A binary layer whose float output only feeds other binary layers (through their
    binarizers, now dead) writes b1 by threshold instead, read by them as is."""
    consumers = consumer_map(graph)
    for node in graph.nodes:
        y = graph.tensors[node.outputs[0]]
        readers = consumers.get(y.name, [])
        if (node.op not in BINARY_OPS or int(node.attrs.get("act", 0)) or y.dtype != DType.F32  # type: ignore[arg-type]
                or y.name in graph.outputs or not readers):
            continue
        out_c = int(y.shape[1])
        group = int(node.attrs.get("group", 1))  # type: ignore[arg-type]
        if group > 1 and (out_c // group) % WORD_BITS:
            continue
        if not all(r.op in BINARY_OPS and r.inputs.count(y.name) == 1 and r.inputs[0] == y.name
                   and (int(r.attrs.get("group", 1)) == 1  # type: ignore[arg-type]
                        or (out_c // int(r.attrs["group"])) % WORD_BITS == 0)  # type: ignore[arg-type]
                   for r in readers):
            continue
        threshold, negate = thresholds(graph.tensors[node.inputs[2]].data, graph.tensors[node.inputs[3]].data)
        node.inputs[2] = _add_constant(graph, f"{node.inputs[2]}_threshold", DType.S32, threshold)
        node.inputs[3] = _add_constant(graph, f"{node.inputs[3]}_negate", DType.BOOL, negate)
        bits = words(out_c) * WORD_BITS
        shape = (y.shape[0], *y.shape[2:], bits)
        graph.tensors[y.name] = Tensor(y.name, DType.B1, tuple(int(d) for d in shape))


def lower_binary(graph: Graph) -> Graph:
    """Canonical binary layers -> BConv2d / BGemm, bit-packed between consecutive ones."""
    g = copy_graph(graph)
    producers = producer_map(g)
    lowered = False
    for i, node in enumerate(g.nodes):
        if node.op == "Conv":
            replacement = _lower_conv(g, node, producers)
        elif node.op in ("Gemm", "MatMul"):
            replacement = _lower_dense(g, node, producers)
        else:
            continue
        if replacement is not None:
            g.nodes[i] = replacement
            lowered = True
    if not lowered:
        return graph
    g = remove_dead_nodes(g)
    _chain_bits(g)
    return g
