"""Evaluates nodes whose inputs are all constants (after lowering) with numpy.

A node whose outputs would exceed DEFAULT_MAX_CONSTANT_ELEMENTS elements stays: every
lowered op is one the runtime computes, so not folding it is always correct, while
folding a broadcast (Add of [N, 1] and [1, N] constants) could allocate N^2 elements."""

from __future__ import annotations

import numpy as np

from pocketnn.frontend.folding import DEFAULT_MAX_CONSTANT_ELEMENTS
from pocketnn.ir import DType, Graph
from pocketnn.passes.graph_utils import copy_graph, drop_unreferenced_tensors
from pocketnn.passes.numpy_ops import evaluate


def _element_count(shape: tuple[int, ...]) -> int:
    count = 1
    for d in shape:
        count *= int(d)
    return count


def fold_constants(graph: Graph, max_elements: int = DEFAULT_MAX_CONSTANT_ELEMENTS) -> Graph:
    g = copy_graph(graph)
    kept = []
    for node in g.nodes:
        values = [g.constant(name) for name in node.inputs if name]
        foldable = (bool(values) and all(v is not None for v in values)
                    and not any(out in g.outputs for out in node.outputs))
        results = None
        out_shapes = [g.tensors[o].shape for o in node.outputs]
        if foldable and all(_element_count(shape) <= max_elements for shape in out_shapes):
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
