"""Brings every export form of a binary layer to the canonical form (docs/BINARY.md).

- Larq's binarizer ``Sign(Add(Sign(x), c))`` with 0 < c < 1 is the zero-positive sign:
  it becomes ``Where(Less(x, 0), -1, 1)``.
- An older quantizer's ``Where(GreaterOrEqual(x, 0), 1, -1)`` becomes the same.
- A per-output-channel constant ``Mul`` after a binary layer (``+-1`` weights, then
  ``* a_c``) is folded into its weights and bias.
- Binary weights two-valued within binary.layers.ALPHA_RTOL are snapped to exactly
  ``+-a_c`` (a_c = mean |w| of the channel).

QONNX's BipolarQuant is rewritten at import (frontend/binary_import.py); latent-weight
subgraphs (Sign(W) * ReduceMean(Abs(W))) are constants and fold before this pass. Runs
after sink_transposes, so tf2onnx's Transposes are gone from between the ops it matches.
"""

from __future__ import annotations

import numpy as np

from pocketnn.binary.layers import channel_rows, constant_scalar, find_binary_layers
from pocketnn.ir import DType, Graph, Node, Tensor
from pocketnn.passes.graph_utils import (
    consumer_map,
    copy_graph,
    drop_unreferenced_tensors,
    is_single_use_intermediate,
    producer_map,
)


def _constant(g: Graph, base: str, value: float) -> str:
    name = base
    while name in g.tensors:
        name += "_"
    g.tensors[name] = Tensor(name, DType.F32, (), np.array(value, np.float32))
    return name


def _other_scalar(g: Graph, node: Node, x: str) -> float | None:
    """The constant operand of a two-input node beside `x` when all its elements are equal."""
    if len(node.inputs) != 2 or node.inputs[0] == node.inputs[1] or x not in node.inputs:
        return None
    return constant_scalar(g, node.inputs[1] if node.inputs[0] == x else node.inputs[0])


def _zero_positive_sign(g: Graph, compare: Node, where: Node, x: str) -> None:
    """Rewrites the two nodes in place as Less(x, 0) -> Where(-1, 1), unless a constant
    operand broadcast the output beyond x's shape."""
    if g.tensors[where.outputs[0]].shape != g.tensors[x].shape:
        return
    compare.op, compare.inputs, compare.attrs = "Less", [x, _constant(g, f"{compare.name}_zero", 0.0)], {}
    g.tensors[compare.outputs[0]].dtype = DType.BOOL
    where.op, where.attrs = "Where", {}
    where.inputs = [compare.outputs[0], _constant(g, f"{where.name}_minus_one", -1.0),
                    _constant(g, f"{where.name}_one", 1.0)]


def _rewrite_binarizers(g: Graph) -> None:
    producers, consumers = producer_map(g), consumer_map(g)
    for node in list(g.nodes):
        src = producers.get(node.inputs[0]) if node.inputs else None
        if src is None or not is_single_use_intermediate(g, src.outputs[0], consumers):
            continue
        if node.op == "Sign" and src.op == "Add" and not src.attrs.get("act", 0):
            inner = next((producers.get(i) for i in src.inputs if producers.get(i) is not None
                          and producers[i].op == "Sign"), None)
            c = None if inner is None else _other_scalar(g, src, inner.outputs[0])
            if inner is not None and c is not None and 0.0 < c < 1.0:
                _zero_positive_sign(g, src, node, inner.inputs[0])  # Sign(x) + c -> Less(x, 0)
        elif node.op == "Where" and src.op == "GreaterOrEqual" and _other_scalar(g, src, src.inputs[0]) == 0.0 \
                and src.inputs[1] != src.inputs[0] and g.constant(src.inputs[1]) is not None:
            ones = [constant_scalar(g, i) for i in node.inputs[1:]]
            if ones == [1.0, -1.0]:
                _zero_positive_sign(g, src, node, src.inputs[0])


def _channel_scale(g: Graph, layer: Node, mul: Node) -> np.ndarray | None:
    """The Mul's constant as one factor per output channel of `layer`, or None."""
    out = layer.outputs[0]
    value = g.constant(mul.inputs[1] if mul.inputs[0] == out else mul.inputs[0])
    out_shape = g.tensors[out].shape
    if value is None or mul.inputs[0] == mul.inputs[1] or value.ndim > len(out_shape):
        return None
    axis = 1 if layer.op == "Conv" else len(out_shape) - 1
    aligned = (1,) * (len(out_shape) - value.ndim) + tuple(value.shape)
    if any(d != 1 for i, d in enumerate(aligned) if i != axis):
        return None
    channels = out_shape[axis]
    return np.broadcast_to(value.astype(np.float64).reshape(-1), (channels,)).copy()


def _set_rows(g: Graph, layer: Node, rows: np.ndarray) -> None:
    """Writes [output channel, ...] `rows` back as `layer`'s weight, in its layout."""
    w = g.tensors[layer.inputs[1]]
    if layer.op == "Conv":
        new_w = rows.reshape(w.shape)
    else:
        new_w = rows if layer.op == "Gemm" and layer.attrs.get("trans_b", 0) else rows.T
    g.tensors[w.name] = Tensor(w.name, w.dtype, w.shape, np.ascontiguousarray(new_w, dtype=np.float32))


def _scale_layer(g: Graph, layer: Node, scale: np.ndarray) -> None:
    """Multiplies `layer`'s output channels by `scale`: its weight rows and its bias."""
    rows = channel_rows(g, layer)
    assert rows is not None
    _set_rows(g, layer, rows.astype(np.float64) * scale[:, None])
    if len(layer.inputs) > 2 and layer.inputs[2]:
        b = g.tensors[layer.inputs[2]]
        assert b.data is not None
        beta = float(layer.attrs.get("beta", 1.0)) if layer.op == "Gemm" else 1.0  # type: ignore[arg-type]
        new_b = b.data.astype(np.float64) * beta * scale.reshape((1,) * (b.data.ndim - 1) + (-1,)) \
            if b.data.ndim else b.data * beta * scale
        g.tensors[b.name] = Tensor(b.name, b.dtype, tuple(new_b.shape), np.ascontiguousarray(new_b, dtype=np.float32))
        if layer.op == "Gemm":
            layer.attrs["beta"] = 1.0


def _fold_channel_muls(g: Graph) -> None:
    for found in find_binary_layers(g):
        consumers = consumer_map(g)
        layer = next(n for n in g.nodes if n.name == found.node)
        out = layer.outputs[0]
        readers = consumers.get(out, [])
        if layer.attrs.get("act", 0) or not is_single_use_intermediate(g, out, consumers) \
                or readers[0].op != "Mul" or readers[0].attrs.get("act", 0) or out in g.rounding_points:
            continue
        mul = readers[0]
        scale = _channel_scale(g, layer, mul)
        if scale is None or g.tensors[mul.outputs[0]].shape != g.tensors[out].shape:
            continue
        for tensor_name in layer.inputs[1:]:  # shared weights must not change for another reader
            if tensor_name and len(consumers.get(tensor_name, [])) > 1:
                break
        else:
            _scale_layer(g, layer, scale)
            layer.outputs = [mul.outputs[0]]
            g.nodes = [n for n in g.nodes if n is not mul]


def _snap_weights(g: Graph) -> None:
    consumers = consumer_map(g)
    for found in find_binary_layers(g):
        layer = next(n for n in g.nodes if n.name == found.node)
        rows = channel_rows(g, layer)
        assert rows is not None
        snapped = (np.where(rows < 0, -1.0, 1.0) * found.alpha[:, None]).astype(np.float32)
        if not np.array_equal(snapped, rows) and len(consumers.get(layer.inputs[1], [])) == 1:
            _set_rows(g, layer, snapped)


def normalize_binary(graph: Graph) -> Graph:
    g = copy_graph(graph)
    _rewrite_binarizers(g)
    _fold_channel_muls(g)
    _snap_weights(g)
    drop_unreferenced_tensors(g)
    return g


__all__ = ["normalize_binary"]
