"""Folds per-channel scaling and shifting of a convolution's input into its weights.

Exported models often normalize their input in the graph (`(x - mean) * scale`, in NHWC
before the first Transpose for TensorFlow exports). For a Conv with constant weights
whose input is `Mul(a, k)` with k constant per input channel, the weights absorb k
(exact: scaling commutes with zero padding). `Add(a, k)` / `Sub(a, k)` fold into the bias
only when the Conv has no padding (padding reads zeros of the shifted input, not of
`a`). One Transpose between the op and the Conv is looked through (k is permuted like
the data). The tensors passed over must have no other reader.
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


def _channel_vector(value: np.ndarray, rank: int, perm: list[int] | None, channels: int) -> np.ndarray | None:
    """`value` as one number per channel of the Conv's input (axis 1 after `perm`), or
    None when it varies along another axis."""
    if value.ndim > rank:
        return None
    aligned = value.reshape((1,) * (rank - value.ndim) + value.shape)
    if perm is not None:
        aligned = aligned.transpose(perm)
    if any(d != 1 for axis, d in enumerate(aligned.shape) if axis != 1) or aligned.shape[1] not in (1, channels):
        return None
    return np.broadcast_to(aligned.reshape(-1), (channels,)).astype(np.float64)


def _affine_operands(g: Graph, op: Node) -> tuple[str, np.ndarray] | None:
    """(runtime operand, constant) of a Mul/Add (either order) or Sub (constant second)."""
    if op.op not in ("Mul", "Add", "Sub") or op.attrs.get("act", 0) or len(op.inputs) != 2:
        return None
    a, b = op.inputs
    if g.constant(b) is not None and g.constant(a) is None:
        runtime, value = a, g.constant(b)
    elif op.op != "Sub" and g.constant(a) is not None and g.constant(b) is None:
        runtime, value = b, g.constant(a)
    else:
        return None
    if g.tensors[runtime].shape != g.tensors[op.outputs[0]].shape:  # the constant must not broadcast a up
        return None
    return runtime, value  # type: ignore[return-value]


class _Folder:
    def __init__(self, graph: Graph) -> None:
        self.g = graph

    def constant(self, base: str, value: np.ndarray) -> str:
        name = base
        while name in self.g.tensors:
            name += "_"
        self.g.tensors[name] = Tensor(name, self.g.tensors[self.conv_w].dtype, tuple(value.shape),
                                      np.ascontiguousarray(value.astype(np.float32)))
        return name

    def fold_one(self, conv: Node) -> bool:
        """Folds the nearest affine op into `conv`; False when there is none to fold."""
        g = self.g
        consumers, producers = consumer_map(g), producer_map(g)
        x = conv.inputs[0]
        if not is_single_use_intermediate(g, x, consumers) or x not in producers:
            return False
        near = producers[x]
        transpose, perm = None, None
        if near.op == "Transpose":
            transpose, perm = near, [int(p) for p in near.attrs["perm"]]  # type: ignore[union-attr]
            source = near.inputs[0]
            if not is_single_use_intermediate(g, source, consumers) or source not in producers:
                return False
            near = producers[source]
        operands = _affine_operands(g, near)
        if operands is None:
            return False
        runtime, value = operands
        w = g.constant(conv.inputs[1])
        channels = g.tensors[x].shape[1]
        k = _channel_vector(value, len(g.tensors[x].shape), perm, channels)
        if w is None or k is None:
            return False
        groups = int(conv.attrs.get("group", 1))  # type: ignore[arg-type]
        per_group_out, per_group_in = w.shape[0] // groups, w.shape[1]
        # k for every weight's input channel: [M, C/group] (output o reads group o // (M/group)).
        channel_of = ((np.arange(w.shape[0])[:, None] // per_group_out) * per_group_in
                      + np.arange(per_group_in)[None, :])
        k_w = k[channel_of].reshape(w.shape[0], per_group_in, *([1] * (w.ndim - 2)))
        self.conv_w = conv.inputs[1]
        if near.op == "Mul":
            conv.inputs[1] = self.constant(f"{conv.name}_w_scaled", w.astype(np.float64) * k_w)
        else:
            if any(int(p) for p in conv.attrs.get("pads", [])):  # type: ignore[union-attr]
                return False
            sign = -1.0 if near.op == "Sub" else 1.0
            shift = sign * (w.astype(np.float64) * k_w).reshape(w.shape[0], -1).sum(axis=1)
            has_bias = len(conv.inputs) > 2 and conv.inputs[2]
            old = g.constant(conv.inputs[2]) if has_bias else np.zeros(w.shape[0], np.float32)
            if old is None:
                return False
            bias = self.constant(f"{conv.name}_b_shifted", old.astype(np.float64) + shift)
            conv.inputs = conv.inputs[:2] + [bias]
        if transpose is not None:
            transpose.inputs = [runtime]
        else:
            conv.inputs[0] = runtime
        g.nodes.remove(near)  # its output had this one reader
        return True


def fold_input_affine(graph: Graph) -> Graph:
    g = copy_graph(graph)
    folder = _Folder(g)
    for conv in g.nodes:
        if conv.op != "Conv" or g.tensors[conv.inputs[1]].sparse_group:
            continue
        while folder.fold_one(conv):
            pass
    drop_unreferenced_tensors(g)
    return g
