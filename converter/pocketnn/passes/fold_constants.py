"""Evaluates nodes whose inputs are all constants (after lowering) with numpy."""

from __future__ import annotations

import numpy as np

from pocketnn.ir import DType, Graph
from pocketnn.passes.graph_utils import copy_graph, drop_unreferenced_tensors
from pocketnn.passes.numpy_ops import evaluate


def fold_constants(graph: Graph) -> Graph:
    g = copy_graph(graph)
    kept = []
    for node in g.nodes:
        values = [g.constant(name) for name in node.inputs if name]
        foldable = (bool(values) and all(v is not None for v in values)
                    and not any(out in g.outputs for out in node.outputs))
        results = None
        if foldable:
            out_shapes = [g.tensors[o].shape for o in node.outputs]
            with np.errstate(all="ignore"):
                results = evaluate(node, values, out_shapes)  # type: ignore[arg-type]
        if results is None:
            kept.append(node)
            continue
        for name, value in zip(node.outputs, results):
            tensor = g.tensors[name]
            dtype = np.float32 if tensor.dtype == DType.F32 else tensor.dtype.to_numpy()
            # np.array, not ascontiguousarray: the latter turns a 0-d value into shape (1,).
            tensor.data = np.array(np.asarray(value).reshape(tensor.shape), dtype=dtype, order="C")
    g.nodes = kept
    drop_unreferenced_tensors(g)
    return g
