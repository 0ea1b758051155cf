"""Folds `DequantizeLinear -> Add(constant bias along the last axis)` into DequantizeLinear's
optional bias input (docs/OPS.md, op code 81): a QDQ MatMul's bias is added in float after
the dequantization, and the runtime then writes the sum in the same pass. Exact: the
kernel rounds the product to float32 before adding, as the two ONNX operators do."""

from __future__ import annotations

import numpy as np

from pocketnn.ir import DType, Graph, Node, Tensor
from pocketnn.passes.graph_utils import (
    consumer_map,
    copy_graph,
    drop_unreferenced_tensors,
    fresh_tensor_name,
    is_single_use_intermediate,
    producer_map,
)


def _last_axis_bias(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """`value` as a float32 [N] bias of an output of `shape` (N its last dimension), or
    None when it varies along another axis or would change the output's shape."""
    if not shape or shape[-1] < 1 or value.dtype != np.float32 or value.ndim > len(shape):
        return None
    if any(d != 1 for d in value.shape[:-1]) or (value.ndim and value.shape[-1] not in (1, shape[-1])):
        return None
    return np.ascontiguousarray(np.broadcast_to(value.reshape(-1) if value.ndim else value, (shape[-1],)))


def _foldable_dequantize(g: Graph, add: Node, x: str, producers: dict[str, Node],
                         consumers: dict[str, list[Node]]) -> Node | None:
    dequantize = producers.get(x)
    if dequantize is None or dequantize.op != "DequantizeLinear" or len(dequantize.inputs) != 1:
        return None
    if not is_single_use_intermediate(g, x, consumers) or g.tensors[add.outputs[0]].shape != g.tensors[x].shape:
        return None
    return dequantize


def fold_dequantize_bias(graph: Graph) -> Graph:
    g = copy_graph(graph)
    producers = producer_map(g)
    consumers = consumer_map(g)
    removed: set[int] = set()
    for add in g.nodes:
        if add.op != "Add" or add.attrs.get("act", 0) or len(add.inputs) != 2 or add.inputs[0] == add.inputs[1]:
            continue
        for x, other in (add.inputs, add.inputs[::-1]):
            dequantize = _foldable_dequantize(g, add, x, producers, consumers)
            value = g.constant(other)
            bias = None if dequantize is None or value is None else _last_axis_bias(value, g.tensors[x].shape)
            if dequantize is None or bias is None:
                continue
            name = fresh_tensor_name(g, f"{dequantize.name}_bias")
            g.tensors[name] = Tensor(name, DType.F32, bias.shape, bias)
            dequantize.inputs = [dequantize.inputs[0], name]
            dequantize.outputs = [add.outputs[0]]
            producers[add.outputs[0]] = dequantize
            removed.add(id(add))
            break
    g.nodes = [n for n in g.nodes if id(n) not in removed]
    drop_unreferenced_tensors(g)
    return g
