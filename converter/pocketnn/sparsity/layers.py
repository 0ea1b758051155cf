"""Which nodes carry a prunable weight, and their weights as an [outputs, inputs] matrix.

A layer's matrix has one row per output channel and one column per input value (for a
Conv ``W [M, C, kh, kw]``: ``C*kh*kw`` columns, channel-major, as in the group-sparse
encoding of docs/FORMAT.md). Pruning works on *units*: one input channel of a group,
i.e. ``kh*kw`` consecutive columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from pocketnn.ir import DType, Graph, Node, Tensor

Kind = Literal["conv1x1", "convkxk", "gemm", "matmul"]


@dataclass(frozen=True)
class Layer:
    node: str          # node name
    kind: Kind
    weight: str        # constant tensor name
    bias: str | None   # constant bias tensor name (Conv B, Gemm C, MatMul bias) or None
    rows: int          # output channels
    channels: int      # input channels
    kernel: int        # columns per input channel (kh*kw; 1 for Gemm/MatMul)
    first_conv: bool   # reads a graph input directly

    @property
    def cols(self) -> int:
        return self.channels * self.kernel

    @property
    def size(self) -> int:
        return self.rows * self.cols


def node_by_name(graph: Graph, name: str) -> Node:
    for node in graph.nodes:
        if node.name == name:
            return node
    raise KeyError(name)


def is_depthwise(graph: Graph, node: Node) -> bool:
    return node.op == "Conv" and int(node.attrs.get("group", 1)) > 1  # type: ignore[arg-type]


def _f32_constant(graph: Graph, name: str) -> Tensor | None:
    t = graph.tensors.get(name) if name else None
    if t is None or t.data is None or t.dtype != DType.F32:
        return None
    return t


def _bias(graph: Graph, node: Node, index: int) -> str | None:
    if len(node.inputs) > index and node.inputs[index] and _f32_constant(graph, node.inputs[index]):
        return node.inputs[index]
    return None


def as_layer(graph: Graph, node: Node) -> Layer | None:
    """The node as a prunable layer, or None (depthwise/grouped convs, non-constant or
    non-f32 weights, batched MatMul...)."""
    first = bool(node.inputs) and node.inputs[0] in graph.inputs
    if node.op == "Conv":
        w = _f32_constant(graph, node.inputs[1])
        if w is None or len(w.shape) != 4 or int(node.attrs.get("group", 1)) != 1:  # type: ignore[arg-type]
            return None
        k = w.shape[2] * w.shape[3]
        return Layer(node.name, "conv1x1" if k == 1 else "convkxk", w.name, _bias(graph, node, 2),
                     w.shape[0], w.shape[1], k, first)
    if node.op == "Gemm":
        w = _f32_constant(graph, node.inputs[1])
        if w is None or len(w.shape) != 2 or int(node.attrs.get("trans_a", 0)):  # type: ignore[arg-type]
            return None
        trans_b = int(node.attrs.get("trans_b", 0))  # type: ignore[arg-type]
        rows, channels = (w.shape[0], w.shape[1]) if trans_b else (w.shape[1], w.shape[0])
        return Layer(node.name, "gemm", w.name, _bias(graph, node, 2), rows, channels, 1, first)
    if node.op == "MatMul":
        w = _f32_constant(graph, node.inputs[1])
        a = graph.tensors.get(node.inputs[0])
        if w is None or len(w.shape) != 2 or a is None or len(a.shape) != 2 or a.is_constant:
            return None
        return Layer(node.name, "matmul", w.name, _bias(graph, node, 2), w.shape[1], w.shape[0], 1, first)
    return None


def find_layers(graph: Graph) -> list[Layer]:
    """Every prunable layer, in graph order."""
    return [layer for node in graph.nodes if (layer := as_layer(graph, node)) is not None]


def weight_matrix(graph: Graph, layer: Layer) -> np.ndarray:
    """[rows, cols] float32 view of the layer's weight (a copy for transposed layouts)."""
    w = graph.tensors[layer.weight].data
    assert w is not None
    if layer.kind in ("conv1x1", "convkxk"):
        return w.reshape(layer.rows, layer.cols)
    node = node_by_name(graph, layer.node)
    if layer.kind == "gemm" and int(node.attrs.get("trans_b", 0)):  # type: ignore[arg-type]
        return w
    return np.ascontiguousarray(w.T)


def set_weight_matrix(graph: Graph, layer: Layer, matrix: np.ndarray) -> None:
    """Stores `matrix` [rows, cols] back in the layer's layout (a new array)."""
    t = graph.tensors[layer.weight]
    m = np.asarray(matrix, dtype=np.float32)
    if layer.kind in ("conv1x1", "convkxk"):
        t.data = np.ascontiguousarray(m.reshape(t.shape))
        return
    node = node_by_name(graph, layer.node)
    trans = layer.kind == "gemm" and int(node.attrs.get("trans_b", 0))  # type: ignore[arg-type]
    t.data = np.ascontiguousarray(m if trans else m.T)


def canonicalize_for_sparse(graph: Graph, layer: Layer) -> Layer:
    """Group-sparse rows are dims[0] of the stored tensor: a Gemm with trans_b=0 or a 2-D
    MatMul is rewritten in place as Gemm(trans_b=1) with its weight stored [N, K], so the
    rows are output features. Returns the layer as it is now."""
    if layer.kind in ("conv1x1", "convkxk"):
        return layer
    node = node_by_name(graph, layer.node)
    if layer.kind == "gemm" and int(node.attrs.get("trans_b", 0)):  # type: ignore[arg-type]
        return layer
    t = graph.tensors[layer.weight]
    assert t.data is not None
    readers = [n for n in graph.nodes if layer.weight in n.inputs]
    name = layer.weight if len(readers) == 1 else f"{layer.weight}_T_{layer.node}"
    graph.tensors[name] = Tensor(name, DType.F32, (t.shape[1], t.shape[0]), np.ascontiguousarray(t.data.T))
    node.inputs[1] = name
    if layer.kind == "matmul":
        act = {k: v for k, v in node.attrs.items() if k.startswith("act")}
        node.op = "Gemm"
        node.attrs = {"trans_a": 0, "trans_b": 1, "alpha": 1.0, "beta": 1.0, **act}
    else:
        node.attrs["trans_b"] = 1
    result = as_layer(graph, node)
    assert result is not None
    return result


def unit_scores(matrix: np.ndarray, layer: Layer) -> np.ndarray:
    """[rows, channels]: L2 norm of each row's weights of one input channel."""
    w = matrix.reshape(layer.rows, layer.channels, layer.kernel).astype(np.float64)
    return np.sqrt(np.sum(w * w, axis=2))


def zero_fraction(data: np.ndarray) -> float:
    return float(np.count_nonzero(data == 0)) / max(1, math.prod(data.shape))
