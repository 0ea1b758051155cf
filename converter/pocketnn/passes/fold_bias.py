"""Folds `MatMul -> Add(constant [N])` into MatMul's bias input and `Gemm -> Add(constant)`
into Gemm's C, when the Add does not change the output shape."""

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


def _constant_operand(g: Graph, add: Node, x: str) -> np.ndarray | None:
    other = add.inputs[1] if add.inputs[0] == x else add.inputs[0]
    if add.inputs[0] == add.inputs[1]:
        return None
    return g.constant(other)


def _matmul_bias(g: Graph, mm: Node, value: np.ndarray) -> np.ndarray | None:
    out_shape = g.tensors[mm.outputs[0]].shape
    b_shape = g.tensors[mm.inputs[1]].shape
    if len(b_shape) < 2 or not out_shape or (len(mm.inputs) > 2 and mm.inputs[2]):
        return None
    n = out_shape[-1]
    # Only a value that varies along the last axis alone is a bias.
    if value.ndim > len(out_shape) or any(d != 1 for d in value.shape[:-1]):
        return None
    if value.ndim and value.shape[-1] not in (1, n):
        return None
    return np.broadcast_to(value.reshape(-1) if value.ndim else value, (n,)).astype(np.float32)


def _gemm_c(g: Graph, gemm: Node, value: np.ndarray) -> np.ndarray | None:
    out_shape = g.tensors[gemm.outputs[0]].shape
    if value.ndim > 2:
        return None
    beta = float(gemm.attrs.get("beta", 1.0))  # type: ignore[arg-type]
    old = g.constant(gemm.inputs[2]) if len(gemm.inputs) > 2 and gemm.inputs[2] else None
    if len(gemm.inputs) > 2 and gemm.inputs[2] and old is None:
        return None
    total = value.astype(np.float64) if old is None else old.astype(np.float64) * beta + value
    if np.broadcast_shapes(total.shape, out_shape) != tuple(out_shape):
        return None
    return total.astype(np.float32)


def fold_bias(graph: Graph) -> Graph:
    g = copy_graph(graph)
    producers = producer_map(g)
    consumers = consumer_map(g)
    removed: set[int] = set()
    for add in g.nodes:
        if add.op != "Add" or add.attrs.get("act", 0):
            continue
        for x in add.inputs:
            producer = producers.get(x)
            if producer is None or producer.op not in ("MatMul", "Gemm") or producer.attrs.get("act", 0):
                continue
            if not is_single_use_intermediate(g, x, consumers) or x in g.rounding_points:
                continue
            if g.tensors[add.outputs[0]].shape != g.tensors[x].shape:
                continue
            value = _constant_operand(g, add, x)
            if value is None:
                continue
            new = _matmul_bias(g, producer, value) if producer.op == "MatMul" else \
                _gemm_c(g, producer, value)
            if new is None:
                continue
            name = f"{producer.name}_bias"
            while name in g.tensors:
                name += "_"
            g.tensors[name] = Tensor(name, g.tensors[x].dtype, tuple(new.shape), np.array(new, order="C"))
            producer.inputs = producer.inputs[:2] + [name]
            if producer.op == "Gemm":
                producer.attrs["beta"] = 1.0
            producer.outputs = [add.outputs[0]]
            producers[add.outputs[0]] = producer
            removed.add(id(add))
            break
    g.nodes = [n for n in g.nodes if id(n) not in removed]
    drop_unreferenced_tensors(g)
    return g
