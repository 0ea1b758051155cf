"""Sparse + integer: which pruned layers keep group-sparse storage once quantized.

The sparsity stage (pocketnn.sparsity) prunes float weights in groups of G output
channels and marks them group-sparse (Tensor.sparse_group, rows = output channels).
Quantization keeps every exact zero (round(0 / scale) = 0; a small weight may round to
zero too), so a pruned layer's s8 weights have the same group mask or a sparser one and
can be stored group-sparse with s8 values (format 1.3), run by the u8 x s8 SpMM
(kernels_c/s8-spmm). Whether that pays depends on the integer kernels, not on the float
ones the sparsity stage timed: the dense s8 GEMM gains more over f32 than the SpMM does.
So each marked layer is quantized to int8 and timed alone in pocketnn's runtime, dense
against group-sparse with its G (quantization.mixed.time_layer, interleaved medians), and
keeps sparse storage when that is faster, or within timing noise and smaller.

The pruning itself (its zeros, and the accuracy they cost) stays either way; only the
storage and the kernel change. Group-sparse storage holds s8 values, so a layer that
keeps it is 8-bit; int4 layers are stored dense.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from pocketnn.format import spec
from pocketnn.format.writer import smallest_group_sparse
from pocketnn.ir import Graph, Node, Tensor
from pocketnn.passes.graph_utils import copy_graph
from pocketnn.progress import step
from pocketnn.quantization.quantize_graph import (QParams, integer_weighted_nodes, quantize_graph, sparse_weight_group,
                                                   weighted_nodes)

# Sparse storage no more than this much slower than dense still counts as a tie.
TIMING_TOLERANCE = 0.05


@dataclass(frozen=True)
class SparseStorage:
    """The storage chosen for one pruned weighted layer at int8."""

    node: str
    group: int
    dense_bytes: int
    sparse_bytes: int
    dense_seconds: float
    sparse_seconds: float

    @property
    def keep_sparse(self) -> bool:
        if self.sparse_seconds < self.dense_seconds:
            return True
        return (self.sparse_seconds <= self.dense_seconds * (1 + TIMING_TOLERANCE)
                and self.sparse_bytes < self.dense_bytes)


def stored_bytes(tensor: Tensor) -> int:
    """Bytes of a constant in a .pnn: its group-sparse blob, or dense (S4 packed)."""
    if tensor.sparse_group:
        return len(smallest_group_sparse(tensor, tensor.sparse_group)[1])
    return spec.dense_nbytes(tensor.dtype, int(np.prod(tensor.shape)))


def marked_layers(graph: Graph) -> list[int]:
    """Indices (weighted_nodes order) of the layers whose float weights are marked sparse."""
    return [index for index, node in enumerate(weighted_nodes(graph)) if sparse_weight_group(graph, node)]


def settle_sparse_storage(graph: Graph, qparams: Mapping[str, QParams]
                          ) -> tuple[Graph, list[SparseStorage]]:
    """`graph` with the sparse mark kept only on the layers whose int8 form is worth
    storing group-sparse (module doc), and the measurements behind each choice."""
    marked = marked_layers(graph)
    if not marked:
        return graph, []
    weighted = weighted_nodes(graph)
    all8 = quantize_graph(graph, qparams, layer_bits=[8] * len(weighted))
    qnodes = integer_weighted_nodes(all8)
    choices: list[SparseStorage] = []
    settled = copy_graph(graph)
    with step("kernel timing (sparse vs dense int8)", total=len(marked)) as advance:
        for index in marked:
            choices.append(_measure_storage(all8, qnodes[index]))
            advance()
    for index, choice in zip(marked, choices):
        if not choice.keep_sparse:
            weight = weighted[index].inputs[1]
            settled.tensors[weight] = replace(settled.tensors[weight], sparse_group=0)
    return settled, choices


def _measure_storage(all8: Graph, qnode: Node) -> SparseStorage:
    """Sizes and timings of one sparse-marked int8 layer stored sparse and dense."""
    from pocketnn.quantization.mixed import single_layer, time_layer

    sparse_w = all8.tensors[qnode.inputs[1]]
    dense_w = replace(sparse_w, sparse_group=0)
    sparse_layer = single_layer(all8, qnode)
    dense_layer = single_layer(all8, qnode)
    dense_layer.tensors[dense_w.name] = dense_w
    dense_s, sparse_s = time_layer([dense_layer, sparse_layer])
    return SparseStorage(qnode.name, sparse_w.sparse_group, stored_bytes(dense_w), stored_bytes(sparse_w),
                         dense_s, sparse_s)
