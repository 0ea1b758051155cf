"""The canonical binary layers of a graph (docs/BINARY.md "Canonical form").

A binary layer is a Conv, Gemm or MatMul that reads a binarizer's output, directly or
through one constant Pad of value 0 or 1, and whose constant weight holds two values
+a_c and -a_c per output channel (a_c > 0, every |w| within ALPHA_RTOL of a_c). The
binarizer is ONNX ``Sign`` (0 -> 0) or the zero-positive sign
``Where(Less(x, 0), -1, 1)`` (0 -> +1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from pocketnn.ir import Graph, Node

# Relative tolerance of |w| around a_c, as Larq Compute Engine's converter uses.
ALPHA_RTOL = 0.005

Binarizer = Literal["sign", "zero_positive"]
Padding = Literal["zero", "one"]
_PAD_CONSTANT = 0  # Pad's "mode" attribute for constant padding (frontend/lowering_tensor.py)
_LAYER_OPS = ("Conv", "Gemm", "MatMul")


@dataclass(frozen=True)
class BinaryLayer:
    node: str                 # the Conv / Gemm / MatMul
    op: str
    binarizer: Binarizer      # Sign(0) = 0, or zero-positive: 0 -> +1
    binarizer_node: str       # the Sign, or the Where of the zero-positive sign
    padding: Padding          # what the out-of-bounds taps read: 0 (Conv pads, or Pad 0.0) or +1 (Pad 1.0)
    pad_node: str | None      # the explicit Pad between binarizer and layer, if any
    alpha: np.ndarray         # a_c per output channel (float64)


def constant_scalar(g: Graph, name: str) -> float | None:
    """The value of a constant whose elements are all equal, else None."""
    value = g.constant(name)
    if value is None or value.size == 0:
        return None
    flat = np.asarray(value, dtype=np.float64).reshape(-1)
    return float(flat[0]) if np.all(flat == flat[0]) else None


def binarizer_kind(g: Graph, node: Node, producers: dict[str, Node]) -> Binarizer | None:
    """"sign" for Sign, "zero_positive" for Where(Less(x, 0), -1, 1), else None."""
    if node.op == "Sign":
        return "sign"
    if node.op != "Where" or len(node.inputs) != 3:
        return None
    less = producers.get(node.inputs[0])
    if less is None or less.op != "Less" or constant_scalar(g, less.inputs[1]) != 0.0:
        return None
    if constant_scalar(g, node.inputs[1]) == -1.0 and constant_scalar(g, node.inputs[2]) == 1.0:
        return "zero_positive"
    return None


def channel_rows(g: Graph, layer: Node) -> np.ndarray | None:
    """The constant weight as [output channel, everything else] (a view), or None."""
    w = g.constant(layer.inputs[1]) if len(layer.inputs) > 1 else None
    if w is None or w.ndim < 2:
        return None
    if layer.op == "Conv":
        return w.reshape(w.shape[0], -1)
    if layer.op == "Gemm":
        if layer.attrs.get("trans_a", 0) or w.ndim != 2:
            return None
        return w if layer.attrs.get("trans_b", 0) else w.T
    return w.T if w.ndim == 2 else None  # MatMul: [K, N]


def two_valued_alpha(rows: np.ndarray) -> np.ndarray | None:
    """a_c = mean |w| of each row when every |w| of the row is within ALPHA_RTOL of it."""
    magnitude = np.abs(rows.astype(np.float64))
    alpha = magnitude.mean(axis=1)
    if not np.all(alpha > 0) or not np.all(np.isfinite(alpha)):
        return None
    if np.any(np.abs(magnitude - alpha[:, None]) > ALPHA_RTOL * alpha[:, None]):
        return None
    return alpha


def _binary_input(g: Graph, layer: Node, producers: dict[str, Node]
                  ) -> tuple[Node, Binarizer, Padding, Node | None] | None:
    source = producers.get(layer.inputs[0])
    pad = None
    padding: Padding = "zero"
    if source is not None and source.op == "Pad":
        value = float(source.attrs.get("value", 0.0))  # type: ignore[arg-type]
        if source.attrs.get("mode", _PAD_CONSTANT) != _PAD_CONSTANT or value not in (0.0, 1.0):
            return None
        pad, padding = source, ("one" if value == 1.0 else "zero")
        if padding == "one" and any(int(p) for p in layer.attrs.get("pads", ())):  # type: ignore[union-attr]
            return None  # ones inside, zeros outside: neither padding
        source = producers.get(source.inputs[0])
    if source is None:
        return None
    kind = binarizer_kind(g, source, producers)
    return None if kind is None else (source, kind, padding, pad)


def find_binary_layers(graph: Graph) -> list[BinaryLayer]:
    """Every canonical binary layer of `graph`, in graph order."""
    producers = {out: n for n in graph.nodes for out in n.outputs}
    found = []
    for layer in graph.nodes:
        if layer.op not in _LAYER_OPS:
            continue
        source = _binary_input(graph, layer, producers)
        rows = channel_rows(graph, layer)
        alpha = None if rows is None else two_valued_alpha(rows)
        if source is None or alpha is None:
            continue
        binarizer, kind, padding, pad = source
        found.append(BinaryLayer(layer.name, layer.op, kind, binarizer.name, padding,
                                 None if pad is None else pad.name, alpha))
    return found
