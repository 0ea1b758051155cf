"""QONNX / Brevitas binarizers written as standard ONNX ops (docs/BINARY.md).

``BipolarQuant(X, scale)`` (domain qonnx.custom_op.general, or finn.custom_op.general in
older FINN exports) is ``(X >= 0 ? 1 : -1) * scale``: 0 maps to +1. It is rewritten, before
folding, as the canonical zero-positive sign ``Where(Less(X, 0), -1, 1)``, then ``Mul`` by
``scale`` unless the scale is a constant 1. On a constant (latent) weight the whole
rewrite folds to the +-scale constant the binary layer reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import onnx

from pocketnn.errors import UnsupportedOpError
from pocketnn.frontend.node_writer import NodeWriter

if TYPE_CHECKING:  # folding imports this module
    from pocketnn.frontend.folding import OnnxState

QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general")


def _zero_positive_sign(w: NodeWriter, x: str, out: str | None = None) -> str:
    negative = w.emit("Less", [x, w.scalar(0.0)], "negative")
    return w.emit("Where", [negative, w.scalar(-1.0), w.scalar(1.0)], "signs", out=out)


def _expand_bipolar_quant(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> list[onnx.NodeProto]:
    if len(node.input) != 2 or len(node.output) != 1 or not node.input[1]:
        raise UnsupportedOpError(f"node '{node.name}' (BipolarQuant): expects inputs (X, scale) and one output")
    w = NodeWriter(node, constants)
    scale = constants.get(node.input[1])
    if scale is not None and np.all(scale == 1.0):
        _zero_positive_sign(w, node.input[0], out=node.output[0])
    else:
        w.emit("Mul", [_zero_positive_sign(w, node.input[0]), node.input[1]], out=node.output[0])
    return w.nodes


def expand_qonnx_ops(state: "OnnxState") -> bool:
    """Rewrites every BipolarQuant in place; whether any was."""
    if not any(n.op_type == "BipolarQuant" and n.domain in QONNX_DOMAINS for n in state.nodes):
        return False
    result: list[onnx.NodeProto] = []
    for node in state.nodes:
        if node.op_type == "BipolarQuant" and node.domain in QONNX_DOMAINS:
            result.extend(_expand_bipolar_quant(node, state.constants))
        else:
            result.append(node)
    state.nodes = result
    return True
