"""Stores each distinct constant once: constants equal in dtype, shape, storage
(dense or group-sparse with the same G) and bytes are merged into the first of them.

Lowering and quantization make a constant per node (an integer weight, its scales and
zero points), so a weight that several ONNX nodes share (quantize_dynamic's shared
MatMulInteger weights, tied embeddings) would otherwise be written once per reader."""

from __future__ import annotations

import hashlib

from pocketnn.ir import Graph, Tensor
from pocketnn.passes.graph_utils import copy_graph, drop_unreferenced_tensors


def _identity(tensor: Tensor) -> tuple[object, ...]:
    assert tensor.data is not None
    data = tensor.data
    return (tensor.dtype, tensor.shape, tensor.sparse_group, data.dtype.str, data.shape,
            hashlib.blake2b(data.tobytes(), digest_size=16).digest())


def _same_bytes(a: Tensor, b: Tensor) -> bool:
    assert a.data is not None and b.data is not None
    return a.data.tobytes() == b.data.tobytes()


def share_constants(graph: Graph) -> Graph:
    g = copy_graph(graph)
    interface = set(g.inputs) | set(g.outputs)
    first: dict[tuple[object, ...], str] = {}
    replacement: dict[str, str] = {}
    for name, tensor in g.tensors.items():
        if not tensor.is_constant or name in interface:
            continue
        kept = first.setdefault(_identity(tensor), name)
        if kept != name and _same_bytes(g.tensors[kept], tensor):
            replacement[name] = kept
    if not replacement:
        return g
    for node in g.nodes:
        node.inputs = [replacement.get(n, n) for n in node.inputs]
    drop_unreferenced_tensors(g)
    return g
