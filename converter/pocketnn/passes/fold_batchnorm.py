"""Folds inference BatchNormalization into the Conv/ConvTranspose/Gemm/MatMul before it.

y = s * (x - mean) + bias with s = scale / sqrt(var + eps) is per output channel, so it
scales the producer's weights along the output channel and becomes its bias. A BN whose
producer is of another kind, shared or already activated stays a BatchNormalization op.
"""

from __future__ import annotations

import numpy as np

from pocketnn.ir import Graph, Node, Tensor
from pocketnn.passes.graph_utils import (
    consumer_map,
    copy_graph,
    drop_unreferenced_tensors,
    is_single_use_intermediate,
    producer_map,
)

_FOLDABLE = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def _bn_affine(g: Graph, bn: Node) -> tuple[np.ndarray, np.ndarray] | None:
    """(s, t) with y = s*x + t per channel, in float64, or None if not constant."""
    values = [g.constant(name) for name in bn.inputs[1:5]]
    if any(v is None for v in values):
        return None
    scale, bias, mean, var = (np.asarray(v, dtype=np.float64).reshape(-1) for v in values)  # type: ignore[arg-type]
    eps = float(bn.attrs.get("epsilon", 1e-5))  # type: ignore[arg-type]
    s = scale / np.sqrt(var + eps)
    return s, bias - mean * s


def _weight_scale_shape(producer: Node, g: Graph, channels: int) -> tuple[int, ...] | None:
    """The shape that broadcasts s over the weight's output channels, or None."""
    w = g.tensors[producer.inputs[1]]
    if producer.op == "Conv":
        return (channels,) + (1,) * (len(w.shape) - 1) if w.shape[0] == channels else None
    if producer.op == "Gemm":
        if len(w.shape) != 2:
            return None
        return (channels, 1) if producer.attrs.get("trans_b", 0) else (1, channels)
    if producer.op == "MatMul":
        return (1, channels) if len(w.shape) == 2 and w.shape[1] == channels else None
    return None


def _scaled_weight(producer: Node, g: Graph, s: np.ndarray) -> np.ndarray | None:
    w = g.constant(producer.inputs[1])
    if w is None:
        return None
    w64 = w.astype(np.float64)
    if producer.op == "ConvTranspose":
        # W is [C, M/group, k...]; output channel m = g*(M/group) + j.
        group = int(producer.attrs.get("group", 1))  # type: ignore[arg-type]
        c, m_per_group = w.shape[0], w.shape[1]
        if s.size != group * m_per_group:
            return None
        grouped = w64.reshape((group, c // group, m_per_group) + w.shape[2:])
        factor = s.reshape((group, 1, m_per_group) + (1,) * (w.ndim - 2))
        return (grouped * factor).reshape(w.shape).astype(np.float32)
    shape = _weight_scale_shape(producer, g, s.size)
    if shape is None:
        return None
    return (w64 * s.reshape(shape)).astype(np.float32)


def _new_bias(producer: Node, g: Graph, s: np.ndarray, t: np.ndarray) -> np.ndarray | None:
    has_bias = len(producer.inputs) > 2 and producer.inputs[2]
    old = g.constant(producer.inputs[2]) if has_bias else np.zeros(1, dtype=np.float32)
    if old is None:
        return None
    old64 = old.astype(np.float64)
    if producer.op == "Gemm":
        old64 = old64 * float(producer.attrs.get("beta", 1.0))  # type: ignore[arg-type]
    # Broadcasting keeps a Gemm C of shape [M, N] or [M, 1] two-dimensional.
    return (old64 * s + t).astype(np.float32)


def _producer_output_ok(producer: Node, g: Graph, channels: int) -> bool:
    out = g.tensors[producer.outputs[0]]
    if producer.attrs.get("act", 0):
        return False
    if producer.op in ("Gemm", "MatMul"):
        return len(out.shape) == 2 and out.shape[1] == channels
    return len(out.shape) >= 2 and out.shape[1] == channels


def _try_fold(g: Graph, bn: Node, producer: Node) -> bool:
    affine = _bn_affine(g, bn)
    if affine is None:
        return False
    s, t = affine
    if not _producer_output_ok(producer, g, s.size):
        return False
    weight = _scaled_weight(producer, g, s)
    bias = _new_bias(producer, g, s, t)
    if weight is None or bias is None:
        return False
    w_name = f"{producer.inputs[1]}_bnfold"
    b_name = f"{producer.name}_bias_bnfold"
    while w_name in g.tensors or b_name in g.tensors:
        w_name, b_name = w_name + "_", b_name + "_"
    g.tensors[w_name] = Tensor(w_name, g.tensors[producer.inputs[1]].dtype, weight.shape, weight)
    g.tensors[b_name] = Tensor(b_name, g.tensors[producer.inputs[1]].dtype, bias.shape, bias)
    producer.inputs = [producer.inputs[0], w_name, b_name]
    if producer.op == "Gemm":
        producer.attrs["beta"] = 1.0
    producer.outputs = [bn.outputs[0]]
    return True


def fold_batchnorm(graph: Graph) -> Graph:
    g = copy_graph(graph)
    producers = producer_map(g)
    consumers = consumer_map(g)
    removed: set[int] = set()
    for bn in g.nodes:
        if bn.op != "BatchNormalization":
            continue
        x = bn.inputs[0]
        producer = producers.get(x)
        if producer is None or producer.op not in _FOLDABLE:
            continue
        if not is_single_use_intermediate(g, x, consumers):
            continue
        if _try_fold(g, bn, producer):
            removed.add(id(bn))
            producers[bn.outputs[0]] = producer
    g.nodes = [n for n in g.nodes if id(n) not in removed]
    drop_unreferenced_tensors(g)
    return g
